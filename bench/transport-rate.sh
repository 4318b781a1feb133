#!/usr/bin/env bash
# Frame rate and CPU per frame of each FrameTransport next to a plain C AF_PACKET program, side by
# side in one run over one veth pair, so the ratios to C are taken under the same conditions.
#
#   bench/transport-rate.sh            # 5 s per measurement, 3 rounds (needs root: veth + netns)
#   bench/transport-rate.sh --quick    # 1 s, 1 round: a smoke check
#   SECONDS_PER_RUN=2 RUNS=1 bench/transport-rate.sh
#
# Sender in the root namespace on CPU $TX_CPU, receiver in a private netns on CPU $RX_CPU (taskset),
# so that neither side competes with the other for a core. Rounds interleave the pairs, so drifting load from other work on the
# machine spreads over all of them instead of biasing one. Prints the docs/results.md section
# (bench:transport-rate markers, rewritten by bench/compare) on stdout: the headline ratios to C,
# a line with date, load and machine, and the full table (median and min–max over the rounds);
# progress goes to stderr.
set -euo pipefail

SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
RUNS=${RUNS:-3}
for arg in "$@"; do
    case "$arg" in
        --quick) SECONDS_PER_RUN=1; RUNS=1 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "transport-rate: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done
TX_CPU=${TX_CPU:-0}
RX_CPU=${RX_CPU:-1}

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$repo/.ci/jdk.sh"
aoe_find_jdk
java="$JAVA_HOME/bin/java"
jar="$repo/tools/target/aoe.jar"

[ "$(id -u)" -eq 0 ] || { echo "transport-rate: needs root (veth, netns, AF_PACKET)" >&2; exit 1; }
command -v gcc >/dev/null || { echo "transport-rate: needs gcc" >&2; exit 1; }

# The shaded tools jar holds bench (tools depends on it); rebuild when any main source is newer.
if [ ! -f "$jar" ] || [ -n "$(find "$repo" -path '*/src/main/*' -newer "$jar" -print -quit)" ] \
        || [ -n "$(find "$repo" -name pom.xml -newer "$jar" -print -quit)" ]; then
    echo "transport-rate: building $jar" >&2
    (cd "$repo" && mvn -B -q -DskipTests package >&2)
fi

tag=$$
ns="aoerate$tag"
tx="arT$tag"          # root namespace end (sender); names must stay within 15 characters
rx="arR$tag"          # end inside $ns (receiver)
tx_mac=02:ae:52:00:00:01
rx_mac=02:ae:52:00:00:02
tmp=$(mktemp -d /tmp/transport-rate.XXXXXX)

cleanup() {
    ip link del "$tx" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -Wall -o "$tmp/afpacket_rate" "$repo/bench/c/afpacket_rate.c"

ip netns add "$ns"
ip link add "$tx" type veth peer name "$rx"
ip link set "$rx" netns "$ns"
ip link set "$tx" address "$tx_mac"
ip -n "$ns" link set "$rx" address "$rx_mac"
# IPv6 stays on: java.net.NetworkInterface (behind NetInterfaces) lists only interfaces that carry
# an address, and the link-local one is all these have.
ip link set "$tx" up
ip -n "$ns" link set lo up
ip -n "$ns" link set "$rx" up

jvm=("$java" --enable-native-access=ALL-UNNAMED -Xms256m -Xmx256m -cp "$jar" org.aoemp.bench.TransportRate)

# run_sender IMPL / run_receiver IMPL, IMPL one of c | afpacket | pcap
run_sender() {
    if [ "$1" = c ]; then
        taskset -c "$TX_CPU" "$tmp/afpacket_rate" send "$tx" "$SECONDS_PER_RUN" "$rx_mac"
    else
        taskset -c "$TX_CPU" "${jvm[@]}" "$1" send "$tx" "$SECONDS_PER_RUN" "$rx_mac"
    fi
}
run_receiver() {
    if [ "$1" = c ]; then
        ip netns exec "$ns" taskset -c "$RX_CPU" "$tmp/afpacket_rate" receive "$rx" "$SECONDS_PER_RUN"
    else
        ip netns exec "$ns" taskset -c "$RX_CPU" "${jvm[@]}" "$1" receive "$rx" "$SECONDS_PER_RUN"
    fi
}

results="$tmp/results"
: >"$results"

# run_pair ROUND SENDER RECEIVER: the receiver starts first and waits for the first frame; the
# one-second head start covers JVM start-up, the sender's 1 s warm-up covers the rest.
run_pair() {
    local round=$1 s=$2 r=$3 pair="$2>$3" rpid
    echo "transport-rate: round $round: $s -> $r" >&2
    run_receiver "$r" >"$tmp/rx.out" 2>"$tmp/rx.err" &
    rpid=$!
    sleep 1
    run_sender "$s" >"$tmp/tx.out" 2>"$tmp/tx.err" || { cat "$tmp/tx.err" >&2; }
    wait "$rpid" || { cat "$tmp/rx.err" >&2; }
    sed -n "s/^RESULT /$pair $round /p" "$tmp/tx.out" "$tmp/rx.out" >>"$results"
}

run_memory() {
    echo "transport-rate: round $1: memory hub" >&2
    taskset -c "$TX_CPU,$RX_CPU" "${jvm[@]}" memory both - "$SECONDS_PER_RUN" >"$tmp/mem.out" 2>"$tmp/mem.err" \
        || cat "$tmp/mem.err" >&2
    sed -n "s/^RESULT /memory>memory $1 /p" "$tmp/mem.out" >>"$results"
}

started=$(date -u +%Y-%m-%d\ %H:%M)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$RUNS"); do
    run_pair "$round" c c
    run_pair "$round" afpacket c
    run_pair "$round" pcap c
    run_pair "$round" c afpacket
    run_pair "$round" c pcap
    run_memory "$round"
done

cp "$results" "${RESULTS_RAW:-/dev/null}" 2>/dev/null || true

[ -s "$results" ] || { echo "transport-rate: no measurement produced a result" >&2; exit 1; }
export TR_INFO="\`bench/transport-rate.sh\` (${RUNS} round(s) of ${SECONDS_PER_RUN} s), ${started}–$(date -u +%H:%M) UTC, \
load average ${load_before} before and $(cut -d' ' -f1-3 /proc/loadavg) after; $(nproc) CPUs \
($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), kernel $(uname -r), \
$("$java" -version 2>&1 | head -n 1 | tr -d '"'). Reproduce as root: \`bench/transport-rate.sh\` (or \`bench/compare transport-rate\`)."
python3 - "$results" <<'EOF'
import os
import re, statistics, sys

rows = {}
rounds = {}  # (pair, round) -> {role: fps}, for the loss of each round
for line in open(sys.argv[1]):
    f = line.split()
    pair, kv = f[0], dict(x.split("=", 1) for x in f[2:] if "=" in x)
    side = kv["role"]
    rows.setdefault(pair, {}).setdefault(side, []).append((float(kv["fps"]), float(kv["cpu_us_per_frame"])))
    rounds.setdefault((pair, f[1]), {})[side] = float(kv["fps"])

def stat(values, fmt):
    if not values:
        return "–", None
    med = statistics.median(values)
    return f"{fmt(med)} ({fmt(min(values))}–{fmt(max(values))})", med

kfps = lambda v: f"{v / 1000:.0f}k"
us = lambda v: f"{v:.2f}"

def side(pair, role):
    v = rows.get(pair, {}).get(role, [])
    fps, fps_med = stat([x[0] for x in v], kfps)
    cpu, cpu_med = stat([x[1] for x in v], us)
    return fps, fps_med, cpu, cpu_med

_, c_tx_fps, _, c_tx_cpu = side("c>c", "send")
_, c_rx_fps, _, c_rx_cpu = side("c>c", "receive")

def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "–"

def loss(pair):
    # Sender and receiver windows are equally long but not aligned to the microsecond; at a steady
    # rate 1 - rx/tx is still the share of frames lost on the way (socket or backlog full).
    v = [100 * (1 - r["receive"] / r["send"]) for (p, _), r in rounds.items()
         if p == pair and r.get("send") and "receive" in r]
    return stat(v, lambda x: f"{max(x, 0):.0f}%")[0]

print("**Headline: ratio to C** (on the side being measured; 1.00 = C; for CPU per frame, lower is better)")
print()
print("| transport | CPU/frame vs C | fps vs C |")
print("|---|---|---|")
for pair, role, label in [("afpacket>c", "send", "afpacket send"), ("c>afpacket", "receive", "afpacket receive"),
                          ("pcap>c", "send", "pcap send"), ("c>pcap", "receive", "pcap receive")]:
    if pair not in rows:
        continue
    _, fps_med, _, cpu_med = side(pair, role)
    base_fps = c_tx_fps if role == "send" else c_rx_fps
    base_cpu = c_tx_cpu if role == "send" else c_rx_cpu
    print(f"| {label} | **{ratio(cpu_med, base_cpu)}** | {ratio(fps_med, base_fps)} |")
print()
print(os.environ.get("TR_INFO", ""))
print()
print("| sender → receiver | measured side | fps vs C | CPU/frame vs C | sender fps | sender CPU µs/frame | receiver fps | receiver CPU µs/frame | lost |")
print("|---|---|---|---|---|---|---|---|---|")
for pair, measured in [("c>c", "—"), ("afpacket>c", "send"), ("pcap>c", "send"),
                       ("c>afpacket", "receive"), ("c>pcap", "receive"), ("memory>memory", "both")]:
    if pair not in rows:
        continue
    tf, tfm, tc, tcm = side(pair, "send")
    rf, rfm, rc, rcm = side(pair, "receive")
    if measured == "send":
        fr, cr = ratio(tfm, c_tx_fps), ratio(tcm, c_tx_cpu)
    elif measured == "receive":
        fr, cr = ratio(rfm, c_rx_fps), ratio(rcm, c_rx_cpu)
    elif measured == "both":
        # One process does both ends: compare with C's sender + receiver CPU per frame.
        fr, cr = ratio(rfm, c_rx_fps), ratio(rcm, (c_tx_cpu or 0) + (c_rx_cpu or 0))
    else:
        fr, cr = "1", "1"
    name = pair.replace(">", " → ").replace("c ", "C ").replace("→ c", "→ C")
    print(f"| {name} | {measured} | **{fr}** | **{cr}** | {tf} | {tc} | {rf} | {rc} | {loss(pair)} |")
EOF
