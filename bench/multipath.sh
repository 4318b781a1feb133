#!/usr/bin/env bash
# Multipath benchmarks (issue 3) over veth pairs to vblade, printing docs/results.md fragments.
#
#   bench/multipath.sh scaling [--quick]   # sequential 1 MiB reads over 1, 2, 3 tbf-limited paths
#   bench/multipath.sh failover [--quick]  # longest read stall when a path dies (link down, silent drop)
#   bench/multipath.sh loss [--quick]      # throughput at 0, 1, 5 % random loss on every path
#
# Needs root, vblade, tc (iproute2) and nft. Drives the test-scope measurement classes
# org.aoemp.measure.{MultipathMeasurement,FailoverStallMeasurement} through Maven (-Daoe.measure=true);
# they build their own uniquely named netns/veth rigs (VethRig) and remove them, also on failure.
# The markdown goes to stdout, progress and Maven's output to stderr. --quick: one short run each.
# Environment: RUNS, SECONDS_PER_RUN, RATE (tbf rate per path, default 200mbit), MVN_ARGS (e.g. -o).
set -euo pipefail

usage() { echo "usage: $0 scaling|failover|loss [--quick]" >&2; exit 2; }
[ $# -ge 1 ] || usage
what=$1; shift
quick=false
for arg in "$@"; do
    case "$arg" in
        --quick) quick=true ;;
        *) usage ;;
    esac
done
case "$what" in scaling|failover|loss) ;; *) usage ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$repo/.ci/jdk.sh"
aoe_find_jdk

[ "$(id -u)" -eq 0 ] || { echo "multipath: needs root (veth, netns, AF_PACKET)" >&2; exit 1; }
for tool in vblade tc nft ip python3 mvn; do
    command -v "$tool" >/dev/null || { echo "multipath: needs $tool" >&2; exit 1; }
done

if $quick; then
    RUNS=${RUNS:-1}; SECONDS_PER_RUN=${SECONDS_PER_RUN:-2}
else
    RUNS=${RUNS:-3}; SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
fi
RATE=${RATE:-200mbit}

tmp=$(mktemp -d /tmp/multipath-bench.XXXXXX)
mvn_pid=""
cleanup() {
    # Maven and its forked test JVM run in their own process group; the JVM closes its rigs on
    # the way out (and VethRig sweeps leftovers of dead runs the next time it starts).
    if [ -n "$mvn_pid" ] && kill -0 "$mvn_pid" 2>/dev/null; then
        kill -TERM -- "-$mvn_pid" 2>/dev/null || true
        wait "$mvn_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

case "$what" in
    scaling) test='MultipathMeasurement#measureScaling' ;;
    loss) test='MultipathMeasurement#measureLoss' ;;
    failover) test='FailoverStallMeasurement' ;;
esac

echo "multipath: $what ($RUNS run(s) of ${SECONDS_PER_RUN} s) via mvn -Dtest=$test" >&2
started=$(date -u +%Y-%m-%dT%H:%MZ)
# shellcheck disable=SC2086
set -m
(cd "$repo" && exec mvn -B -ntp ${MVN_ARGS:-} -pl multipath -am verify -Daoe.measure=true \
    -Daoe.measure.runs="$RUNS" -Daoe.measure.seconds="$SECONDS_PER_RUN" -Daoe.measure.rate="$RATE" \
    -Dtest="$test" -DfailIfNoTests=false -Dsurefire.failIfNoSpecifiedTests=false) >"$tmp/mvn.out" 2>&1 &
mvn_pid=$!
set +m
rc=0
wait "$mvn_pid" || rc=$?
mvn_pid=""
grep -v '^RESULT ' "$tmp/mvn.out" | grep -E 'Tests run|ERROR|FAIL|paths:' >&2 || true
if [ "$rc" -ne 0 ] || ! grep -q '^RESULT ' "$tmp/mvn.out"; then
    echo "multipath: the measurement failed (exit $rc); Maven's output:" >&2
    tail -n 60 "$tmp/mvn.out" >&2
    exit 1
fi
grep '^RESULT ' "$tmp/mvn.out" >"$tmp/results"

load=$(cut -d' ' -f1-3 /proc/loadavg)
machine="$(nproc) vCPUs, kernel $(uname -r), $("$JAVA_HOME/bin/java" -version 2>&1 | head -n 1 | tr -d '"')"

python3 - "$what" "$tmp/results" "$started" "$load" "$machine" "$quick" "$RUNS" "$SECONDS_PER_RUN" "$RATE" <<'EOF'
import re, statistics, sys

what, path, started, load, machine, quick, runs, seconds, rate = sys.argv[1:]
lines = [l.split(None, 1)[1].strip() for l in open(path)]
quick = quick == "true"
reproduce = f"sudo bench/multipath-{what}.sh" + (" --quick" if quick else "")
footer = (f"{started}, load average {load} at the end, {machine}; "
          f"{'quick run, ' if quick else ''}reproduce: `{reproduce}`.")

def rate_mbs(r):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg]?)bit", r)
    scale = {"": 1e-6, "k": 1e-3, "m": 1.0, "g": 1e3}[m.group(2)]
    return float(m.group(1)) * scale / 8

def fmt_runs(values):
    return ", ".join(f"{v:.1f}" for v in values)

def table(kind, key):
    groups = {}
    for l in lines:
        if l.startswith(kind + " "):
            f = dict(kv.split("=") for kv in l.split()[1:])
            groups.setdefault(int(f[key]), []).append(float(f["mbs"]))
    return {k: (statistics.median(v), v) for k, v in sorted(groups.items())}

if what == "scaling":
    link = rate_mbs(rate)
    rows = table("scaling", "paths")
    one = rows[1][0]
    print(f"**Scaling** — sequential 1 MiB reads (8 in flight) over 1–3 veth paths, each limited to {rate} "
          f"({link:.0f} MB/s) by tbf on the target end, MTU 9000, one vblade per path serving one file; "
          f"median of {runs} run(s) of {seconds} s, paths interleaved within each run.")
    print()
    print("| paths | MB/s (median) | runs | vs 1 path | / link sum | target |")
    print("|---|---|---|---|---|---|")
    for n, (med, vals) in rows.items():
        ratio = med / one
        share = med / (n * link)
        if n == 1:
            target = "—"
        else:
            want = 0.95 * n
            target = (f"≥ {want:.2f}×: {'met' if ratio >= want else 'missed'}; "
                      f"≥ 0.9 of link sum: {'met' if share >= 0.9 else 'missed'}")
        print(f"| {n} | **{med:.1f}** | {fmt_runs(vals)} | {ratio:.2f}× | {share:.2f} | {target} |")
elif what == "loss":
    link = rate_mbs(rate)
    rows = table("loss", "percent")
    base = rows[0][0]
    print(f"**Loss** — the same sequential 1 MiB reads over 2 paths ({rate} each, MTU 9000), with that "
          f"share of the AoE frames arriving at every initiator end dropped at random (nftables "
          f"`numgen random`); default RTO settings; median of {runs} run(s) of {seconds} s.")
    print()
    print("| loss per path | MB/s (median) | runs | vs no loss | / link sum |")
    print("|---|---|---|---|---|")
    for p, (med, vals) in rows.items():
        print(f"| {p} % | **{med:.1f}** | {fmt_runs(vals)} | {med / base:.2f}× | {med / (2 * link):.2f} |")
else:
    print("**Failover stall** — the longest gap between two completions of 4 KiB random reads at queue "
          "depth 16 over two vblade paths on one file (veth, MTU 1500) when one path dies under load. "
          "Target ≤ 0.5 s.")
    print()
    print("| fault | runs | median | vs target |")
    print("|---|---|---|---|")
    names = {"link-down": "`ip link set down` on one initiator end",
             "silent-drop": "silent 100 % drop (nftables) on one path"}
    for l in lines:
        m = re.match(r"failover (\S+): longest stall median ([\d.]+) ms \(runs \[(.*)\]\)", l)
        if m:
            runs_ms = ", ".join(f"{float(v):.0f}" for v in m.group(3).split(","))
            med = float(m.group(2))
            print(f"| {names.get(m.group(1), m.group(1))} | {runs_ms} ms | **{med:.0f} ms** | {med / 500:.2f}× |")
print()
print(footer)
EOF
