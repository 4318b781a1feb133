#!/usr/bin/env bash
# What a server costs at rest: CPU time over DURATION seconds with connections open and no I/O.
#
#   nbdkit     nbdkit's memory plugin, one idle client connected (the reference: 0 ms expected)
#   bridge     aoe nbd eX.Y over one veth path (MTU 9000) to `aoe target` in a private netns,
#              one idle client connected
#   target     that `aoe target` (its own line: it runs on the storage host, not the client)
#   base-*     the same bridge and target from BASELINE_JAR, when given (before/after a change)
#
# The target of issue 14: the bridge at rest costs at most 0.1 % of a core. Prints a markdown
# table (stdout) with CPU ms over the window, % of one core and the busiest threads (from
# /proc/PID/task). Progress goes to stderr.
#
#   bench/idle-cpu.sh                 # 30 s window after 5 s of settling
#   DURATION=60 bench/idle-cpu.sh
#   BASELINE_JAR=/path/aoe-before.jar bench/idle-cpu.sh
set -euo pipefail

DURATION=${DURATION:-30}
SETTLE=${SETTLE:-5}
BASELINE_JAR=${BASELINE_JAR:-}
case "${1:-}" in
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "idle-cpu: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

log() { echo "idle-cpu: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (veth, netns, raw AoE frames)"
for tool in nbdkit python3 ip nbdsh; do
    command -v "$tool" >/dev/null || die "needs $tool (apt-get install nbdkit python3 iproute2 python3-libnbd)"
done
[ -z "$BASELINE_JAR" ] || [ -f "$BASELINE_JAR" ] || die "BASELINE_JAR $BASELINE_JAR is not a file"

repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/aoe" --version >/dev/null || die "could not build tools/target/aoe.jar"
# shellcheck source=/dev/null
. "$repo/.ci/jdk.sh"
aoe_find_jdk
java="$JAVA_HOME/bin/java"
jar="$repo/tools/target/aoe.jar"

tag=$$
ns="idlecpu$tag"
host_if="icH$tag"
target_if="icT$tag"
shelf=$((tag % 65000)); slot=1
tmp=$(mktemp -d /tmp/idle-cpu.XXXXXX)
pids=()

cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    ip link del "$host_if" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/nbd-servers.bash
. "$repo/bench/nbd-servers.bash"

ip netns add "$ns"
ip link add "$host_if" type veth peer name "$target_if"
ip link set "$target_if" netns "$ns"
ip link set "$host_if" mtu 9000 up
ip -n "$ns" link set "$target_if" mtu 9000 up
truncate -s 64M "$tmp/disk.img" "$tmp/base.img"

declare -A pid_of
names=()

# start_pair NAME JAR SHELF FILE: our target in the netns and a bridge over one path to it.
start_pair() {
    local name=$1 jarfile=$2 sh=$3 file=$4 port
    ip netns exec "$ns" "$java" --enable-native-access=ALL-UNNAMED -jar "$jarfile" \
        target "$sh" "$slot" "$file" -i "$target_if" -q >"$tmp/$name-target.log" 2>&1 &
    pids+=($!)
    pid_of[$name-target]=$!
    port=$(free_port)
    "$java" --enable-native-access=ALL-UNNAMED -jar "$jarfile" nbd "e$sh.$slot" -i "$host_if" -t 30s \
        --listen "127.0.0.1:$port" >"$tmp/$name.log" 2>&1 &
    pids+=($!)
    pid_of[$name]=$!
    wait_nbd "$port" $! "$name"
    connect_idle "$name" "$port"
    names+=("$name" "$name-target")
}

# connect_idle NAME PORT: an NBD client that completes the handshake and then sits idle.
connect_idle() {
    nbdsh -u "nbd://127.0.0.1:$2" -c 'import time
h.pread(512, 0)
time.sleep(100000)' >"$tmp/$1-client.log" 2>&1 &
    pids+=($!)
}

port=$(free_port)
nbdkit -f -i 127.0.0.1 -p "$port" memory 64M >"$tmp/nbdkit.log" 2>&1 &
pids+=($!)
pid_of[nbdkit]=$!
wait_nbd "$port" $! nbdkit
connect_idle nbdkit "$port"
names+=(nbdkit)

start_pair bridge "$jar" "$shelf" "$tmp/disk.img"
[ -z "$BASELINE_JAR" ] || start_pair base "$BASELINE_JAR" $(( (shelf + 1) % 65000 )) "$tmp/base.img"

# thread_ns PID: "tid:name ns" per thread, the time each has run on a CPU from
# /proc/PID/task/TID/schedstat (nanoseconds; the tick counts of /proc/PID/stat are 10 ms samples,
# too coarse for a few ms in a minute). A thread that ends within the window is not counted.
thread_ns() {
    local t
    for t in /proc/"$1"/task/*; do
        { read -r name <"$t/comm" && read -r ns _ <"$t/schedstat" && echo "${t##*/}:${name// /_} $ns"; } 2>/dev/null || true
    done
}

log "settling for ${SETTLE}s, then measuring ${DURATION}s of rest"
sleep "$SETTLE"
for n in "${names[@]}"; do
    thread_ns "${pid_of[$n]}" | sort >"$tmp/$n.threads.0"
done
sleep "$DURATION"
echo "| server at rest (${DURATION} s, one idle client) | CPU ms | % of a core | busiest threads (ms) |"
echo "|---|---:|---:|---|"
for n in "${names[@]}"; do
    thread_ns "${pid_of[$n]}" | sort >"$tmp/$n.threads.1"
    # threads born within the window count from 0
    join -a 2 -e 0 -o 0,1.2,2.2 "$tmp/$n.threads.0" "$tmp/$n.threads.1" | awk '{ print $1, $3 - $2 }' >"$tmp/$n.delta"
    ms=$(awk '{ s += $2 } END { printf "%.1f", s / 1e6 }' "$tmp/$n.delta")
    busiest=$(awk '$2 >= 1e5 { name = $1; sub(/^[0-9]+:/, "", name); printf "%.1f %s\n", $2 / 1e6, name }' "$tmp/$n.delta" \
        | sort -rn | head -4 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')
    pct=$(python3 -c "print(f'{$ms / ($DURATION * 10):.3f}')")
    echo "| $n | $ms | $pct | ${busiest:-none} |"
done
