#!/usr/bin/env bash
# A soak of the whole stack: verified mixed I/O through the NBD bridge (aoe nbd) over 2-3 veth
# paths to our AoE target (or vblade), while paths flap at random and every path loses 1-3 % of
# its frames; it checks that the bridge's heap after GC, open file descriptors and thread count
# stay flat (and the target's descriptors and threads), and prints a one-line verdict.
#
#   bench/soak.sh DURATION          # e.g. 60, 90s, 30m, 1h
#
# The I/O: bench/soak-io.py (python3-libnbd), WORKERS connections, each checking every block it
# reads against what it last wrote there (reads, writes, FUA writes, write-zeroes, flushes,
# 4 MiB write + read back). The faults: one path at a time is taken down (ip link set down) for
# a few seconds, every few seconds; nftables drops LOSS_MIN..LOSS_MAX % (a random share per path
# and direction) of the AoE frames. The samples: every INTERVAL seconds a full GC (jcmd GC.run),
# then heap used, /proc/PID/fd, Threads and VmRSS of the bridge; fds and threads of the target.
#
# Flat means: the median of the last quarter of the samples is at most the median of the first
# quarter (after the first sample) plus max(4 MiB, 10 %) for heap after GC, and the largest fd
# and thread count of the last quarter at most that of the first quarter plus 2. The soak also
# fails on any data mismatch or I/O error, or when no I/O completed for 30 s.
#
# Environment: PATHS (2 or 3, default 3), WORKERS (4), SIZE (disk, 256M), LOSS_MIN/LOSS_MAX
# (percent, 1/3), TARGET=aoe|vblade (aoe), INTERVAL (seconds between samples, default
# DURATION/40 within 2..30), FLAP_MIN/FLAP_MAX (seconds between flaps), DOWN_MIN/DOWN_MAX
# (seconds down), KEEP=dir (keep logs and samples there), AOE_CLASSPATH (run the aoe classes
# from this class path instead of building tools/target/aoe.jar; the CI test uses it).
# Needs root, iproute2, nftables, python3-libnbd, a JDK 25 with jcmd; vblade for TARGET=vblade.
# Exit status 0 on PASS, 1 on FAIL, 2 on bad usage. Progress goes to stderr, the verdict to stdout.
set -euo pipefail

usage() { echo "usage: $0 DURATION (seconds, or with s/m/h: 60, 90s, 30m, 1h)" >&2; exit 2; }
[ $# -eq 1 ] || usage
case "$1" in
    *[!0-9smh]* | "") usage ;;
    *h) duration=$(( ${1%h} * 3600 )) ;;
    *m) duration=$(( ${1%m} * 60 )) ;;
    *s) duration=${1%s} ;;
    *) duration=$1 ;;
esac
[ "$duration" -ge 20 ] || { echo "soak: DURATION must be at least 20 s" >&2; exit 2; }

PATHS=${PATHS:-3}
WORKERS=${WORKERS:-4}
SIZE=${SIZE:-256M}
LOSS_MIN=${LOSS_MIN:-1}
LOSS_MAX=${LOSS_MAX:-3}
TARGET=${TARGET:-aoe}
interval_default=$(( duration / 40 )); [ "$interval_default" -ge 2 ] || interval_default=2
[ "$interval_default" -le 30 ] || interval_default=30
INTERVAL=${INTERVAL:-$interval_default}
if [ "$duration" -lt 300 ]; then
    FLAP_MIN=${FLAP_MIN:-3}; FLAP_MAX=${FLAP_MAX:-8}; DOWN_MIN=${DOWN_MIN:-1}; DOWN_MAX=${DOWN_MAX:-3}
else
    FLAP_MIN=${FLAP_MIN:-5}; FLAP_MAX=${FLAP_MAX:-30}; DOWN_MIN=${DOWN_MIN:-1}; DOWN_MAX=${DOWN_MAX:-8}
fi

log() { echo "soak: $*" >&2; }
die() { log "$*"; echo "soak: FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (veth, netns, nftables, raw AoE frames)"
[ "$PATHS" -ge 2 ] && [ "$PATHS" -le 3 ] || die "PATHS is 2 or 3, not $PATHS"
for tool in ip nft; do
    command -v "$tool" >/dev/null || die "needs $tool (apt-get install iproute2 nftables)"
done
/usr/bin/python3 -c 'import nbd' 2>/dev/null || die "needs python3-libnbd (apt-get install python3-libnbd)"
case "$TARGET" in
    aoe) ;;
    vblade) command -v vblade >/dev/null || die "TARGET=vblade needs vblade" ;;
    *) die "TARGET is aoe or vblade, not '$TARGET'" ;;
esac

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$repo/.ci/jdk.sh"
aoe_find_jdk
java="$JAVA_HOME/bin/java"
jcmd="$JAVA_HOME/bin/jcmd"
[ -x "$jcmd" ] || die "needs jcmd in $JAVA_HOME/bin (a full JDK)"
if [ -n "${AOE_CLASSPATH:-}" ]; then
    aoe=("$java" --enable-native-access=ALL-UNNAMED -cp "$AOE_CLASSPATH" org.aoemp.tools.AoeCommand)
else
    "$repo/aoe" --version >/dev/null || die "could not build tools/target/aoe.jar"
    aoe=("$java" --enable-native-access=ALL-UNNAMED -jar "$repo/tools/target/aoe.jar")
fi

tag=$$
ns="soak$tag"
table="soak$tag"
shelf=$((tag % 65000)); slot=1
tmp=$(mktemp -d /tmp/soak.XXXXXX)
pids=()
ini=(); tgt=()
for i in $(seq 0 $((PATHS - 1))); do
    ini+=("sk${tag}i$i")    # 15 characters at most
    tgt+=("sk${tag}t$i")
done

cleanup() {
    local i
    # Newest first: the I/O and the flapper, then the bridge (its clean stop FLUSHes through the
    # target), then the target.
    for (( i = ${#pids[@]} - 1; i >= 0; i-- )); do
        kill "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
    nft delete table netdev "$table" 2>/dev/null || true
    for i in "${ini[@]}"; do
        ip link del "$i" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
    umount "$tmp/disk" 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then
        mkdir -p "$KEEP" && cp "$tmp"/*.log "$tmp"/samples "$tmp"/flaps "$KEEP"/ 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# rand LO HI: a whole number in [LO, HI]
rand() { echo $(( $1 + RANDOM % ($2 - $1 + 1) )); }

started=$(date -u +%Y-%m-%dT%H:%MZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the rig: PATHS veth pairs, the target ends in a netns, the disk on a private tmpfs ---
ip netns add "$ns"
ip -n "$ns" link set lo up
for i in $(seq 0 $((PATHS - 1))); do
    ip link add "${ini[$i]}" type veth peer name "${tgt[$i]}"
    ip link set "${tgt[$i]}" netns "$ns"
    ip link set "${ini[$i]}" mtu 9000 up
    ip -n "$ns" link set "${tgt[$i]}" mtu 9000 up
done
mkdir "$tmp/disk"
mount -t tmpfs -o "size=$(( $(numfmt --from=iec "$SIZE") / 1048576 + 16 ))m" "soak$tag" "$tmp/disk"
truncate -s "$SIZE" "$tmp/disk/disk.img"

# --- loss: nftables drops a random share of the AoE frames arriving at either end of each path ---
loss_desc=()
nft add table netdev "$table"
ip netns exec "$ns" nft add table netdev "$table"
for i in $(seq 0 $((PATHS - 1))); do
    a=$(rand "$LOSS_MIN" "$LOSS_MAX"); b=$(rand "$LOSS_MIN" "$LOSS_MAX")
    nft add chain netdev "$table" "in$i" "{ type filter hook ingress device ${ini[$i]} priority 0; }"
    nft add rule netdev "$table" "in$i" ether type 0x88a2 numgen random mod 100 '<' "$a" drop
    ip netns exec "$ns" nft add chain netdev "$table" "in$i" "{ type filter hook ingress device ${tgt[$i]} priority 0; }"
    ip netns exec "$ns" nft add rule netdev "$table" "in$i" ether type 0x88a2 numgen random mod 100 '<' "$b" drop
    loss_desc+=("path $i: $a % to the initiator, $b % to the target")
done
log "loss: $(IFS=';'; echo "${loss_desc[*]}")"

# --- the target and the bridge ---
tgt_args=()
for t in "${tgt[@]}"; do tgt_args+=(-i "$t"); done
if [ "$TARGET" = aoe ]; then
    ip netns exec "$ns" "${aoe[@]}" target "$shelf" "$slot" "$tmp/disk/disk.img" "${tgt_args[@]}" >"$tmp/target.log" 2>&1 &
    pids+=($!); target_pid=$!
else
    # vblade serves one interface per process: one per path, all on the same file.
    target_pid=""
    for t in "${tgt[@]}"; do
        ip netns exec "$ns" vblade "$shelf" "$slot" "$t" "$tmp/disk/disk.img" >>"$tmp/target.log" 2>&1 &
        pids+=($!); target_pid="$target_pid $!"
    done
fi
port=$(free_port)
ini_args=()
for i in "${ini[@]}"; do ini_args+=(-i "$i"); done
"${aoe[@]}" nbd "e$shelf.$slot" "${ini_args[@]}" -t 30s --listen "127.0.0.1:$port" >"$tmp/bridge.log" 2>&1 &
pids+=($!); bridge_pid=$!
for _ in $(seq 1 600); do
    kill -0 "$bridge_pid" 2>/dev/null || { tail -n 30 "$tmp/bridge.log" >&2; die "the bridge exited during start-up"; }
    grep -q "ready: serving" "$tmp/bridge.log" && break
    sleep 0.1
done
grep -q "ready: serving" "$tmp/bridge.log" || { tail -n 30 "$tmp/bridge.log" >&2; die "the bridge was not ready within 60 s"; }
log "bridge pid $bridge_pid on 127.0.0.1:$port, target e$shelf.$slot ($TARGET) over $PATHS paths; $duration s, samples every $INTERVAL s"

# --- the I/O ---
/usr/bin/python3 "$repo/bench/soak-io.py" "nbd://127.0.0.1:$port" "$duration" "$WORKERS" "$tmp/status" 2>"$tmp/io.log" &
pids+=($!); io_pid=$!

# --- the flaps: one path at a time goes down for a while ---
: >"$tmp/flaps"
(
    while true; do
        sleep "$(rand "$FLAP_MIN" "$FLAP_MAX")"
        i=$((RANDOM % PATHS))
        ip link set "${ini[$i]}" down
        echo "$(date +%s) down $i" >>"$tmp/flaps"
        sleep "$(rand "$DOWN_MIN" "$DOWN_MAX")"
        ip link set "${ini[$i]}" up
        echo "$(date +%s) up $i" >>"$tmp/flaps"
    done
) &
pids+=($!); flapper_pid=$!

# --- the samples ---
# sample: seconds heap_kib fds threads rss_kib target_fds target_threads ops
count_fds() { local n=0 p; for p in "$@"; do n=$(( n + $(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) )); done; echo "$n"; }
count_threads() { local n=0 p; for p in "$@"; do n=$(( n + $(awk '/^Threads:/ {print $2}' "/proc/$p/status") )); done; echo "$n"; }
ops_now() { [ -f "$tmp/status" ] && /usr/bin/python3 -c 'import sys; d = dict(kv.split("=") for kv in open(sys.argv[1]).read().split()); print(int(d["reads"]) + int(d["writes"]) + int(d["zeroes"]) + int(d["flushes"]))' "$tmp/status" || echo 0; }
sample() {
    local heap
    "$jcmd" "$bridge_pid" GC.run >/dev/null 2>&1 || true
    heap=$("$jcmd" "$bridge_pid" GC.heap_info 2>/dev/null | sed -n 's/.* used \([0-9]*\)K.*/\1/p' | head -n 1)
    # shellcheck disable=SC2086
    echo "$(( $(date +%s) - t0 )) ${heap:-0} $(count_fds "$bridge_pid") $(count_threads "$bridge_pid") \
$(awk '/^VmRSS:/ {print $2}' "/proc/$bridge_pid/status") $(count_fds $target_pid) $(count_threads $target_pid) $(ops_now)" >>"$tmp/samples"
}
t0=$(date +%s)
: >"$tmp/samples"
while kill -0 "$io_pid" 2>/dev/null; do
    kill -0 "$bridge_pid" 2>/dev/null || die "the bridge died: $(tail -n 5 "$tmp/bridge.log")"
    sample
    sleep "$INTERVAL" &
    wait $! || true
done
io_rc=0
wait "$io_pid" || io_rc=$?
kill "$flapper_pid" 2>/dev/null || true
wait "$flapper_pid" 2>/dev/null || true
sample

warnings=$(grep -c " WARN " "$tmp/bridge.log" || true)
errors=$(grep -c " ERROR " "$tmp/bridge.log" || true)
flaps=$(grep -c " down " "$tmp/flaps" || true)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
rc=0
/usr/bin/python3 - "$tmp/samples" "$tmp/status" "$io_rc" "$duration" "$PATHS" "$LOSS_MIN-$LOSS_MAX" "$flaps" \
    "$warnings" "$errors" "$INTERVAL" "$TARGET" <<'EOF' || rc=$?
import statistics, sys

samples_path, status_path, io_rc, duration, paths, loss, flaps, warnings, errors, interval, target = sys.argv[1:]
rows = [list(map(int, l.split())) for l in open(samples_path) if l.strip()]
status = dict(kv.split("=") for kv in open(status_path).read().split())
problems = []
if len(rows) < 8:
    problems.append(f"only {len(rows)} samples")
body = rows[1:] if len(rows) > 8 else rows
q = max(1, len(body) // 4)
first, last = body[:q], body[-q:]

def col(rs, i):
    return [r[i] for r in rs]

def mib(kib):
    return f"{kib / 1024:.1f}"

heap_a, heap_b = statistics.median(col(first, 1)), statistics.median(col(last, 1))
if heap_b > heap_a + max(4096, 0.10 * heap_a):
    problems.append(f"heap after GC grew {mib(heap_a)} -> {mib(heap_b)} MiB")
checks = [("bridge fds", 2), ("bridge threads", 3), ("target fds", 5), ("target threads", 6)]
flat = {}
for name, i in checks:
    a, b = max(col(first, i)), max(col(last, i))
    flat[name] = (a, b)
    if b > a + 2:
        problems.append(f"{name} grew {a} -> {b}")
rss_a, rss_b = statistics.median(col(first, 4)), statistics.median(col(last, 4))
# Longest stretch of samples without a completed operation (the last sample is taken after the I/O ended).
longest, run = 0, 0
during = rows[:-1]
for prev, cur in zip(during, during[1:]):
    run = run + (cur[0] - prev[0]) if cur[7] == prev[7] else 0
    longest = max(longest, run)
if longest >= 30:
    problems.append(f"no I/O completed for {longest} s")
mism, errs = int(status["mismatches"]), int(status["errors"])
if mism or errs or io_rc != "0":
    problems.append(f"{mism} mismatches, {errs} I/O errors")
ops = int(status["reads"]) + int(status["writes"]) + int(status["zeroes"]) + int(status["flushes"])
if ops == 0:
    problems.append("no I/O at all")
verdict = "PASS" if not problems else "FAIL (" + "; ".join(problems) + ")"
print(f"soak: {verdict}: {duration} s, {paths} paths to {target}, loss {loss} %, {flaps} flaps; "
      f"{ops} ops ({status['reads']} reads, {status['writes']} writes, {status['zeroes']} zeroes, {status['flushes']} flushes), "
      f"{int(status['bytes']) / 2**30:.2f} GiB, {mism} mismatches, {errs} errors, longest I/O pause {longest} s; "
      f"bridge heap after GC {mib(heap_a)} -> {mib(heap_b)} MiB, fds {flat['bridge fds'][0]} -> {flat['bridge fds'][1]}, "
      f"threads {flat['bridge threads'][0]} -> {flat['bridge threads'][1]}, RSS {mib(rss_a)} -> {mib(rss_b)} MiB; "
      f"target fds {flat['target fds'][0]} -> {flat['target fds'][1]}, threads {flat['target threads'][0]} -> {flat['target threads'][1]}; "
      f"bridge log {warnings} WARN, {errors} ERROR; {len(rows)} samples every {interval} s")
sys.exit(0 if not problems else 1)
EOF
log "started $started (load $load_start), ended $(date -u +%Y-%m-%dT%H:%MZ) (load $load_end)"
exit $rc
