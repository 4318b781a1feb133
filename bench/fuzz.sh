#!/usr/bin/env bash
# Coverage-guided fuzzing (Jazzer) of one parser for real, as opposed to mvn verify, which only
# replays the committed corpus (regression mode).
#
#   bench/fuzz.sh TARGET DURATION      e.g.  bench/fuzz.sh target-responder 10m
#   bench/fuzz.sh --list
#
# TARGET is one of the names --list prints; DURATION is Jazzer's (30s, 10m, 1h). It runs under
# nice -n 19, one target at a time (Jazzer fuzzes a single @FuzzTest per JVM). New inputs that
# reach new code are copied into the test's committed corpus directory
# (src/test/resources/.../<Class>Inputs/<method>/), so the next mvn verify replays them; an input
# that fails the test is written there as crash-<sha1> and the run fails: make it pass (fix the
# code), keep the file as the regression test. The log goes to bench/out/fuzz-TARGET-<time>.log;
# the last lines (executions, coverage) are printed. The test JVM gets a 1 GiB heap (the default,
# a quarter of the machine, lets libFuzzer's RSS grow to gigabytes) and no Netty paranoid leak
# detection (the NBD fuzz tests check every buffer with their own allocator). Environment:
# MVN_ARGS (e.g. -o).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"

# name  module  package/Class  method
targets="
parser-frames        multipath   org/aoemp/protocol/ProtocolParsersFuzzTest     frameHeaders
parser-identify      multipath   org/aoemp/protocol/ProtocolParsersFuzzTest     identify
initiator-receive    multipath   org/aoemp/initiator/ReceivePathFuzzTest        receive
target-responder     tools       org/aoemp/target/TargetResponderFuzzTest       handle
nbd-handshake        nbd-bridge  org/aoemp/nbd/NbdDecodersFuzzTest              handshake
nbd-transmission     nbd-bridge  org/aoemp/nbd/NbdDecodersFuzzTest              transmission
serve-config         tools       org/aoemp/tools/serve/ServeConfigFuzzTest      load
"

usage() { echo "usage: $0 TARGET DURATION   (targets: $(echo "$targets" | awk 'NF {printf "%s ", $1}'))" >&2; exit 2; }
if [ "${1:-}" = "--list" ]; then echo "$targets" | awk 'NF {print $1}'; exit 0; fi
[ $# -eq 2 ] || usage
line=$(echo "$targets" | awk -v t="$1" '$1 == t')
[ -n "$line" ] || usage
read -r name module class method <<<"$line"
duration=$2

. "$root/.ci/jdk.sh"
aoe_find_jdk
mkdir -p "$root/bench/out"
log="$root/bench/out/fuzz-$name-$(date -u +%Y%m%dT%H%M%SZ).log"
inputs="$root/$module/src/test/resources/${class}Inputs/$method"
mkdir -p "$inputs"
fqcn=${class//\//.}
corpus="$root/$module/.cifuzz-corpus/$fqcn/$method"

echo "fuzzing $name ($fqcn#$method) for $duration, log $log" >&2
cd "$root"
set +e
JAZZER_FUZZ=1 JAZZER_MAX_DURATION="$duration" JAZZER_INSTRUMENTATION_INCLUDES='org.aoemp.**' \
    nice -n 19 mvn -B -ntp ${MVN_ARGS:-} -pl "$module" -am verify \
    -Dtest="${fqcn##*.}#$method" -Dsurefire.failIfNoSpecifiedTests=false -DfailIfNoTests=false \
    -Dit.test=none -Dfailsafe.failIfNoSpecifiedTests=false \
    -Dsurefire.argLine="--enable-native-access=ALL-UNNAMED -XX:+EnableDynamicAgentLoading -Xmx1g" >"$log" 2>&1
rc=$?
set -e

# Keep what the run learnt: libFuzzer's corpus holds only inputs that reached new code.
if [ -d "$corpus" ]; then
    before=$(ls "$inputs" | wc -l)
    cp -n "$corpus"/* "$inputs"/ 2>/dev/null || true
    echo "corpus: $(ls "$inputs" | wc -l) inputs in ${inputs#$root/} (was $before)" >&2
fi
grep -E '^#[0-9]+ +(DONE|pulse|NEW)' "$log" | tail -1 >&2 || true
grep -E '^Done [0-9]+ runs' "$log" >&2 || true
# Jazzer leaves a crash in the module's directory when it cannot place it in the corpus.
for f in "$root/$module"/crash-* "$root"/crash-*; do
    [ -e "$f" ] && mv "$f" "$inputs"/
done
crashes=$(ls "$inputs" | grep -c '^crash-' || true)
if [ "$rc" -ne 0 ]; then
    echo "FAILED (exit $rc): see $log; crash inputs in ${inputs#$root/}: $crashes" >&2
    grep -E '^== Java Exception|^java\.|^\s+at org\.aoemp' "$log" | head -20 >&2 || true
    exit "$rc"
fi
echo "no finding" >&2
