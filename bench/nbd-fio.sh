#!/usr/bin/env bash
# The NBD bridge next to nbdkit, measured with fio's nbd engine (libnbd) in one run:
#
#   nbdkit   nbdkit's memory plugin (the reference)
#   bridge   aoe nbd --backend memory:SIZE (the bridge alone)
#   aoe      aoe nbd eX.Y over a veth pair with MTU 9000 to an AoE target in a private netns,
#            serving a file on a private tmpfs (AOE_TARGET=aoe: `aoe target`, the default;
#            AOE_TARGET=vblade: vblade)
#
# Workloads: 4k randread QD1 and QD32, 4k randwrite QD32, 1M sequential read QD8. Each server is
# first filled with 1M writes (every server keeps unwritten space sparse; reads must hit data).
# Rounds interleave servers and workloads (the server order rotates per round), so drifting load
# from other work on the machine spreads over all of them. Prints the docs/results.md section
# (markdown) on stdout, progress on stderr.
#
#   bench/nbd-fio.sh              # 3 rounds, 10 s + 2 s ramp per measurement (about 8 minutes)
#   bench/nbd-fio.sh --quick      # 1 round, 2 s + 1 s ramp (smoke check)
#   ROUNDS=5 RUNTIME=20 SIZE=1G AOE_TARGET=vblade bench/nbd-fio.sh
#   BRIDGE_JVM_OPTS='-XX:StartFlightRecording=filename=/tmp/b.jfr' bench/nbd-fio.sh   # profile the bridges
#   RAW_DIR=dir keeps the fio JSON of every measurement.
#   BASELINE_JAR=/path/aoe-before.jar adds a fourth server, the bridge over AoE built from that jar
#   (its own target from the same jar, or vblade, on the same veth), measured in the same rounds,
#   and a table of this build against it: before/after of a change, side by side.
#   ONLY="randread 4k 32" measures that one workload (RW BS QD), e.g. with more ROUNDS.
#   TARGET_OPTS='-b 64' and BASELINE_TARGET_OPTS='-b 16' are added to the command line of the
#   target and of the baseline's target (ours or vblade): with BASELINE_JAR=tools/target/aoe.jar
#   they compare two settings of one build side by side.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
RUNTIME=${RUNTIME:-10}
RAMP=${RAMP:-2}
SIZE=${SIZE:-512M}
AOE_TARGET=${AOE_TARGET:-aoe}
BASELINE_JAR=${BASELINE_JAR:-}
ONLY=${ONLY:-}
TARGET_OPTS=${TARGET_OPTS:-}
BASELINE_TARGET_OPTS=${BASELINE_TARGET_OPTS:-}
BRIDGE_JVM_OPTS=${BRIDGE_JVM_OPTS:-}
for arg in "$@"; do
    case "$arg" in
        --quick) ROUNDS=1; RUNTIME=2; RAMP=1; SIZE=128M ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "nbd-fio: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

log() { echo "nbd-fio: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (veth, netns, tmpfs mount, raw AoE frames)"
for tool in fio nbdkit python3 ip; do
    command -v "$tool" >/dev/null || die "needs $tool (apt-get install fio nbdkit python3 iproute2)"
done
[ "$AOE_TARGET" = aoe ] || [ "$AOE_TARGET" = vblade ] || die "AOE_TARGET is aoe or vblade, not '$AOE_TARGET'"
[ "$AOE_TARGET" = aoe ] || command -v vblade >/dev/null || die "AOE_TARGET=vblade needs vblade"
[ -z "$BASELINE_JAR" ] || [ -f "$BASELINE_JAR" ] || die "BASELINE_JAR $BASELINE_JAR is not a file"
fio --enghelp=nbd >/dev/null 2>&1 || die "this fio has no nbd engine (Debian's fio has it)"

repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/aoe" --version >/dev/null || die "could not build tools/target/aoe.jar"
# shellcheck source=/dev/null
. "$repo/.ci/jdk.sh"
aoe_find_jdk
java="$JAVA_HOME/bin/java"
jar="$repo/tools/target/aoe.jar"

tag=$$
ns="nbdfio$tag"
host_if="nfH$tag"       # the bridge's end, root netns (15 characters at most)
target_if="nfT$tag"     # the target's end, inside $ns
shelf=$((tag % 65000)); slot=1
tmp=$(mktemp -d /tmp/nbd-fio.XXXXXX)
pids=()

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    ip link del "$host_if" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    umount "$tmp/disk" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/nbd-servers.bash
. "$repo/bench/nbd-servers.bash"

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)
started=$(date -u +%Y-%m-%dT%H:%MZ)

# --- the AoE rig: veth pair, MTU 9000, target end in a netns, disk file on a private tmpfs ---
ip netns add "$ns"
ip link add "$host_if" type veth peer name "$target_if"
ip link set "$target_if" netns "$ns"
ip link set "$host_if" mtu 9000 up
ip -n "$ns" link set "$target_if" mtu 9000 up
ip -n "$ns" link set lo up
mkdir "$tmp/disk"
disks=1; [ -z "$BASELINE_JAR" ] || disks=2
mount -t tmpfs -o "size=$(( disks * ($(numfmt --from=iec "$SIZE") / 1048576) + 16 ))m" "nbdfio$tag" "$tmp/disk"
truncate -s "$SIZE" "$tmp/disk/disk.img"
[ -z "$BASELINE_JAR" ] || truncate -s "$SIZE" "$tmp/disk/base.img"

declare -A port
port[nbdkit]=$(free_port)
port[bridge]=$(free_port)
port[aoe]=$(free_port)
port[aoe-base]=$(free_port)
bridge_jvm=("$java" --enable-native-access=ALL-UNNAMED)
# shellcheck disable=SC2206
[ -z "$BRIDGE_JVM_OPTS" ] || bridge_jvm+=($BRIDGE_JVM_OPTS)

# start_target JAR SHELF FILE LOG [OPTION...]: our target from JAR (or vblade) in the netns, with
# the options after LOG (vblade takes -b N too); sets target_pid.
start_target() {
    if [ "$AOE_TARGET" = aoe ]; then
        ip netns exec "$ns" "$java" --enable-native-access=ALL-UNNAMED -jar "$1" \
            target "$2" "$slot" "$3" -i "$target_if" "${@:5}" >"$4" 2>&1 &
    else
        ip netns exec "$ns" vblade "${@:5}" "$2" "$slot" "$target_if" "$3" >"$4" 2>&1 &
    fi
    pids+=($!)
    target_pid=$!
}
# shellcheck disable=SC2086
start_target "$jar" "$shelf" "$tmp/disk/disk.img" "$tmp/target.log" $TARGET_OPTS

nbdkit -f -i 127.0.0.1 -p "${port[nbdkit]}" memory "$SIZE" >"$tmp/nbdkit.log" 2>&1 &
pids+=($!)
declare -A server_pids
server_pids[nbdkit]=$!
wait_nbd "${port[nbdkit]}" $! nbdkit

"${bridge_jvm[@]}" -jar "$jar" nbd --backend "memory:$SIZE" --listen "127.0.0.1:${port[bridge]}" >"$tmp/bridge.log" 2>&1 &
pids+=($!)
server_pids[bridge]=$!
wait_nbd "${port[bridge]}" $! bridge

# -t: the bridge waits this long for the target (its JVM may still be starting) to answer.
"${bridge_jvm[@]}" -jar "$jar" nbd "e$shelf.$slot" -i "$host_if" -t 30s \
    --listen "127.0.0.1:${port[aoe]}" >"$tmp/aoe.log" 2>&1 &
pids+=($!)
server_pids[aoe]="$! $target_pid"   # the server side of the AoE case is the bridge and the target
wait_nbd "${port[aoe]}" $! aoe

servers=(nbdkit bridge aoe)
if [ -n "$BASELINE_JAR" ]; then
    base_shelf=$(( (shelf + 1) % 65000 ))
    # shellcheck disable=SC2086
    start_target "$BASELINE_JAR" "$base_shelf" "$tmp/disk/base.img" "$tmp/target-base.log" $BASELINE_TARGET_OPTS
    base_target_pid=$target_pid
    "${bridge_jvm[@]}" -jar "$BASELINE_JAR" nbd "e$base_shelf.$slot" -i "$host_if" -t 30s \
        --listen "127.0.0.1:${port[aoe-base]}" >"$tmp/aoe-base.log" 2>&1 &
    pids+=($!)
    server_pids[aoe-base]="$! $base_target_pid"
    wait_nbd "${port[aoe-base]}" $! aoe-base
    servers+=(aoe-base)
fi
workloads=("randread 4k 1" "randread 4k 32" "randwrite 4k 32" "read 1M 8")
if [ -n "$ONLY" ]; then
    # ONLY="randread 4k 32": measure one workload (e.g. to repeat a doubtful cell with more rounds)
    workloads=("$ONLY")
fi
raw=${RAW_DIR:-$tmp/raw}
mkdir -p "$raw"

# run_fio OUT URI RW BS QD [more fio options]
run_fio() {
    local out=$1 uri=$2 rw=$3 bs=$4 qd=$5
    shift 5
    # fio prints "connected to NBD server" on stdout; the JSON goes to --output.
    fio --name=nbd --ioengine=nbd --uri="$uri" --rw="$rw" --bs="$bs" --iodepth="$qd" --size="$SIZE" \
        --lat_percentiles=1 --output-format=json --output="$out" "$@" >"$tmp/fio.out" 2>&1 \
        || { cat "$tmp/fio.out" >&2; die "fio $rw $bs QD$qd against $uri failed"; }
}

# cpu_ticks PID...: user + system clock ticks of these processes so far
cpu_ticks() {
    local pid total=0
    for pid in "$@"; do
        total=$(( total + $(awk '{print $14 + $15}' "/proc/$pid/stat") ))
    done
    echo "$total"
}

for s in "${servers[@]}"; do
    log "filling $s ($SIZE of 1M writes)"
    run_fio "$tmp/fill-$s.json" "nbd://127.0.0.1:${port[$s]}" write 1M 8
done

for round in $(seq 1 "$ROUNDS"); do
    # Rotate the server order each round: whichever runs first after a workload change is not always the same.
    k=$(( (round - 1) % ${#servers[@]} ))
    order=("${servers[@]:$k}" "${servers[@]:0:$k}")
    for w in "${workloads[@]}"; do
        read -r rw bs qd <<<"$w"
        for s in "${order[@]}"; do
            log "round $round/$ROUNDS: $s $rw $bs QD$qd (load $(loadavg))"
            # Server CPU (user + system, all threads) from the end of the ramp to fio's exit.
            run_fio "$raw/$s.$rw.$bs.$qd.$round.json" "nbd://127.0.0.1:${port[$s]}" "$rw" "$bs" "$qd" \
                --time_based --runtime="$RUNTIME" --ramp_time="$RAMP" &
            fio_pid=$!
            sleep "$RAMP"
            cpu0=$(cpu_ticks ${server_pids[$s]})
            wait "$fio_pid"
            echo "$(( $(cpu_ticks ${server_pids[$s]}) - cpu0 ))" >"$raw/$s.$rw.$bs.$qd.$round.cpu"
        done
    done
done
load_end=$(loadavg)

for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "a server died during the run (logs: $tmp)"
done

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "$started, $(nproc) vCPUs ($cpu_model), kernel $(uname -r), $(fio --version), $(nbdkit --version | head -n 1)," \
     "$("$java" -version 2>&1 | head -n 1 | tr -d '"'). Load average $load_start at the start, $load_end at the end" \
     "(other work shared the machine). $ROUNDS round(s) of ${RUNTIME} s + ${RAMP} s ramp per cell, servers interleaved;" \
     "cells are the median over the rounds (IOPS min–max in parentheses)."
echo
python3 - "$raw" "$ROUNDS" "$AOE_TARGET" "$(getconf CLK_TCK)" "$(basename "${BASELINE_JAR:-none}")" "$TARGET_OPTS" \
    "$BASELINE_TARGET_OPTS" <<'EOF'
import glob, json, os, statistics, sys

raw, rounds, aoe_target, hz, baseline = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
target_opts, baseline_target_opts = sys.argv[6], sys.argv[7]
workloads = [("randread", "4k", "1"), ("randread", "4k", "32"), ("randwrite", "4k", "32"), ("read", "1M", "8")]
names = {"nbdkit": "nbdkit memory",
         "bridge": "bridge, `--backend memory`",
         "aoe": "bridge over AoE (" + ("`aoe target`" if aoe_target == "aoe" else "vblade")
                + (" `" + target_opts + "`" if target_opts else "") + ", veth MTU 9000)",
         "aoe-base": "the same from `" + baseline + "`" + (" with target `" + baseline_target_opts + "`" if baseline_target_opts else "")
                     + " (baseline)"}

def load(server, w):
    out = {}
    for path in sorted(glob.glob(os.path.join(raw, f"{server}.{w[0]}.{w[1]}.{w[2]}.*.json"))):
        job = json.load(open(path))["jobs"][0]
        d = job["read"] if job["read"]["io_bytes"] > 0 else job["write"]
        ticks = int(open(path[:-len("json")] + "cpu").read())
        out[path.split(".")[-2]] = {  # by round
            "iops": d["iops"], "mbs": d["bw_bytes"] / 1e6, "cpu": ticks / hz * 1e6 / d["total_ios"] if d["total_ios"] else 0,
            "mean": d["lat_ns"]["mean"] / 1e3, "p99": d["lat_ns"]["percentile"]["99.000000"] / 1e3}
    return out

def med(rows, key):
    return statistics.median(r[key] for r in rows.values()) if rows else None

def ratio(rows, ref, key):
    """Median over the rounds of this round's value / nbdkit's in the same round."""
    v = [rows[r][key] / ref[r][key] for r in rows if r in ref and ref[r][key]]
    return (statistics.median(v), min(v), max(v)) if v else (None, None, None)

def fmt_ratio(r, bold):
    if r[0] is None:
        return "–"
    text = f"**{r[0]:.2f}**" if bold else f"{r[0]:.2f}"
    return text + (f" ({r[1]:.2f}–{r[2]:.2f})" if r[1] != r[2] else "")

def us(v):
    return "–" if v is None else (f"{v:.1f} µs" if v < 100 else f"{v:.0f} µs" if v < 10000 else f"{v / 1000:.1f} ms")

def iops(v):
    return f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}"

# target(server, w) -> list of (what, ratio, wanted, higher_is_better)
def targets(server, w, r_iops, r_lat):
    qd1 = w == ("randread", "4k", "1")
    if server == "bridge":
        t = [("IOPS", r_iops, 1.0, True)]
        if qd1:
            t.append(("mean latency", r_lat, 1.0, False))
        return t
    if server == "aoe" and w[1] == "4k" and w[2] == "32":
        return [("IOPS", r_iops, 0.5, True)]
    return []

print("| workload | server | IOPS | MB/s | mean lat | p99 lat | server CPU/IO | IOPS vs nbdkit | mean lat vs nbdkit "
      "| CPU/IO vs nbdkit | target | met |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
missed = 0
for w in workloads:
    ref = load("nbdkit", w)
    for s in ("nbdkit", "bridge", "aoe", "aoe-base"):
        rows = load(s, w)
        if not rows:
            continue
        m_iops, m_mean = med(rows, "iops"), med(rows, "mean")
        ri, rl, rc = ratio(rows, ref, "iops"), ratio(rows, ref, "mean"), ratio(rows, ref, "cpu")
        r_iops, r_lat = ri[0], rl[0]
        spread = f" ({iops(min(r['iops'] for r in rows.values()))}–{iops(max(r['iops'] for r in rows.values()))})" if len(rows) > 1 else ""
        goals, met = [], []
        for what, got, wanted, higher in targets(s, w, r_iops, r_lat):
            goals.append(f"{what} {'≥' if higher else '≤'} {wanted:.1f}×")
            ok = got is not None and (got >= wanted if higher else got <= wanted)
            met.append("yes" if ok else "**no**")
            missed += 0 if ok else 1
        label = f"{w[0]} {w[1]} QD{w[2]}"
        ref_row = s == "nbdkit"
        print(f"| {label} | {names[s]} | {iops(m_iops)}{spread} | {med(rows, 'mbs'):.0f} | {us(m_mean)} | {us(med(rows, 'p99'))} "
              f"| {us(med(rows, 'cpu'))} | {'1' if ref_row else fmt_ratio(ri, True)} | {'1' if ref_row else fmt_ratio(rl, False)} "
              f"| {'1' if ref_row else fmt_ratio(rc, False)} | {'; '.join(goals) or '–'} | {'; '.join(met) or '–'} |")
print()
print(f"Targets missed: {missed}." if missed else "Every target met.")
print()
if any(load("aoe-base", w) for w in workloads):
    print("This build against the baseline jar (bridge over AoE), each round's figure divided by the baseline's in the "
          "same round, median (min–max):")
    print()
    print("| workload | IOPS after/before | mean lat after/before | CPU/IO after/before |")
    print("|---|---|---|---|")
    for w in workloads:
        after, before = load("aoe", w), load("aoe-base", w)
        if not after or not before:
            continue
        print(f"| {w[0]} {w[1]} QD{w[2]} | {fmt_ratio(ratio(after, before, 'iops'), True)} "
              f"| {fmt_ratio(ratio(after, before, 'mean'), False)} | {fmt_ratio(ratio(after, before, 'cpu'), False)} |")
    print()
print("Ratios are the median over the rounds of each round's figure divided by nbdkit's in the same round (min–max "
      "in parentheses). Server CPU/IO: user + system CPU of the server processes (for AoE: bridge + target) over the "
      "measured window, per I/O; it is steadier than IOPS when other work competes for the two vCPUs.")
EOF
echo
echo "Reproduce: \`bench/nbd-fio.sh\` as root from the repository root (needs fio, nbdkit, python3; builds" \
     "\`tools/target/aoe.jar\` if needed; \`--quick\` for a smoke run; ROUNDS, RUNTIME, RAMP, SIZE, AOE_TARGET=aoe|vblade; BASELINE_JAR=old.jar adds the same build before a change, side by side; TARGET_OPTS and BASELINE_TARGET_OPTS add target options such as `-b 16`)."
