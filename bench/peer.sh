#!/bin/bash
# Isthmus's data path beside its production peer, in one run on the same two
# cores: DPDK's vhost-user <-> virtio-user pair (two dpdk-testpmd processes,
# what OVS-DPDK and VPP move frames between VMs with) against bench/net_bench.
# `make bench-peer` runs it; ../shared/PEER-BENCH.md says how the pair was set
# up and how the two paths differ.
#
# For each repetition (PEER_REPS, default 3) and each frame size (64, 1500,
# 9000, 65536), one DPDK measurement and then one Isthmus measurement, so
# that the load of a shared machine falls on both alike. A DPDK figure is the
# mean of PEER_SECONDS (default 5) one-second Rx-pps samples of the receiving
# testpmd after PEER_WARMUP (3) samples; an Isthmus figure is net_bench's over
# PEER_SECONDS. The table shows the median of the repetitions.
#
# Isthmus is measured twice per size: with net_bench's whole rings of
# buffers (256 transmit slots and 256 receive buffers a side, so that frames
# are copied between memory that left the caches: the worst case), and with
# PEER_HOT (default 128, half the ring) buffers a side, nearer the working set
# of DPDK's pair, whose mempool caches hand back the mbufs just freed
# (net_bench --buffers). Fewer than half the ring is slower again: a batch of
# 64 frames then leaves the receiver short, and the sender waits for its
# refills (measured at 64: 0.3-0.8x the 256 figure).
#
# DPDK: installed from Debian's packages with apt-get when dpdk-testpmd is
# missing; exits 2 when that fails. What it changes on the machine (the
# hugepage count, a hugetlbfs mount, the vhost socket, DPDK's run-time files)
# is put back as found on every exit, Ctrl-C included.
#
# usage: bench/peer.sh [path to net_bench]        (default build/bench/net_bench)
set -u

bin=${1:-build/bench/net_bench}
reps=${PEER_REPS:-3}
seconds=${PEER_SECONDS:-5}
warmup=${PEER_WARMUP:-3}
sizes=${PEER_SIZES:-64 1500 9000 65536}
hot=${PEER_HOT:-128}
hugepages_wanted=1056 # 2 MiB pages: the 64 KiB runs' two mempools and more
cpus=0,1

die() {
    echo "bench/peer.sh: $*" >&2
    exit 1
}

[ -x "$bin" ] || die "no $bin (make build/bench/net_bench builds it)"
[ "$(id -u)" = 0 ] || die "needs root (hugepages, DPDK's run-time directory)"
[ "$(nproc)" -ge 2 ] || die "needs two CPUs"

# ---------------------------------------------------------------- DPDK

# Debian 12's DPDK 22.11: testpmd, and the PMDs it loads from its plugin
# directory (virtio-user, vhost, the ring mempool).
dpdk_packages="dpdk-dev librte-net-vhost23 librte-net-virtio23 librte-mempool-ring23"

dpdk_installed() {
    command -v dpdk-testpmd >/dev/null 2>&1 || return 1
    for p in $dpdk_packages; do
        dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
    done
}

if ! dpdk_installed; then
    echo "Installing DPDK ($dpdk_packages) with apt-get..."
    # shellcheck disable=SC2086 # a list of package names
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $dpdk_packages; } \
        >/tmp/bench-peer-apt.$$ 2>&1 || ! dpdk_installed; then
        cat /tmp/bench-peer-apt.$$ >&2
        rm -f /tmp/bench-peer-apt.$$
        echo "bench/peer.sh: DPDK could not be installed (apt-get output above): no peer to measure against" >&2
        exit 2
    fi
    rm -f /tmp/bench-peer-apt.$$
fi
testpmd=$(command -v dpdk-testpmd)

# ---------------------------------------------------------------- the machine, put back on exit

work=$(mktemp -d /tmp/bench-peer.XXXXXX)
sock=$work/vhost.sock
prefix=isthmus-peer-$$ # DPDK's --file-prefix: names its files under /var/run/dpdk and hugetlbfs
hp_file=/proc/sys/vm/nr_hugepages
hp_before=$(cat $hp_file)
huge_mnt=/dev/hugepages
mounted_here=
made_mnt=
dpdk_run_existed=
[ -d /var/run/dpdk ] && dpdk_run_existed=1
pids=()

stop_pids() {
    for p in "${pids[@]}"; do
        kill -INT "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        for _ in $(seq 20); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    pids=()
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pids
    rm -f "$huge_mnt"/"$prefix"* 2>/dev/null # hugepage files a killed process left
    rm -rf /var/run/dpdk/"$prefix"*
    [ -n "$dpdk_run_existed" ] || rmdir /var/run/dpdk 2>/dev/null
    [ -n "$mounted_here" ] && umount "$huge_mnt"
    [ -n "$made_mnt" ] && rmdir "$huge_mnt"
    [ "$(cat $hp_file)" = "$hp_before" ] || echo "$hp_before" >$hp_file
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! mountpoint -q "$huge_mnt"; then
    if [ ! -d "$huge_mnt" ]; then
        mkdir "$huge_mnt" || die "cannot create $huge_mnt"
        made_mnt=1
    fi
    mount -t hugetlbfs nodev "$huge_mnt" || die "cannot mount hugetlbfs on $huge_mnt"
    mounted_here=1
fi
if [ "$hp_before" -lt "$hugepages_wanted" ]; then
    echo "$hugepages_wanted" >$hp_file
    got=$(cat $hp_file)
    [ "$got" -ge "$hugepages_wanted" ] || die "only $got of $hugepages_wanted hugepages (memory too fragmented?)"
fi

# ---------------------------------------------------------------- one DPDK measurement

# testpmd options for a frame size: mbufs large enough, and the segments of
# the frame txonly builds (its lengths are 16-bit: 64 KiB is two segments).
# --txpkts is checked against the mbuf size given before it: it goes last.
size_args() {
    case $1 in
    9000) echo "--mbuf-size=9408 --total-num-mbufs=16384" ;;
    65536) echo "--mbuf-size=33152 --total-num-mbufs=16194" ;;
    *) echo "" ;;
    esac
}
txpkts() {
    case $1 in
    65536) echo "32768,32767" ;;
    *) echo "$1" ;;
    esac
}

# The Rx-pps (and Rx-bps) samples a testpmd log holds, non-zero ones only.
samples() {
    tr -d '\033' <"$1" | sed -n 's/.*Rx-pps: *\([0-9]*\) *Rx-bps: *\([0-9]*\).*/\1 \2/p' | awk '$1 > 0'
}

# dpdk SIZE: sets res="pps bps" (means of the samples), or "" on failure. It
# runs in this shell, not a subshell, so that cleanup() knows its processes.
# The receiver's forwarding lcore is CPU 1 and its main lcore sleeps on CPU
# 0; the sender's the other way round.
dpdk() {
    local size=$1 rx_log=$work/rx.$1.log tx_log=$work/tx.$1.log
    res=
    rm -f "$sock"
    # shellcheck disable=SC2046
    stdbuf -oL "$testpmd" -l $cpus --main-lcore 0 --no-pci --file-prefix "$prefix-rx" \
        --vdev "net_vhost0,iface=$sock,queues=1" -- --nb-cores=1 --rxq=1 --txq=1 --burst=32 --stats-period 1 \
        --forward-mode=rxonly $(size_args "$size") </dev/null >"$rx_log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        [ -S "$sock" ] && break
        sleep 0.1
    done
    if [ ! -S "$sock" ]; then
        stop_pids
        echo "bench/peer.sh: the vhost-user testpmd made no socket; its log:" >&2
        tail -20 "$rx_log" >&2
        return
    fi
    # shellcheck disable=SC2046
    "$testpmd" -l $cpus --main-lcore 1 --no-pci --file-prefix "$prefix-tx" --single-file-segments \
        --vdev "net_virtio_user0,path=$sock,queues=1" -- --nb-cores=1 --rxq=1 --txq=1 --burst=32 \
        --stats-period 1 --forward-mode=txonly $(size_args "$size") --txpkts="$(txpkts "$size")" \
        </dev/null >"$tx_log" 2>&1 &
    pids+=($!)
    local want=$((warmup + seconds)) n=0
    for _ in $(seq $((want * 4 + 120))); do
        n=$(samples "$rx_log" | wc -l)
        [ "$n" -ge "$want" ] && break
        kill -0 "${pids[1]}" 2>/dev/null || break
        sleep 0.5
    done
    stop_pids
    if [ "$n" -lt "$want" ]; then
        echo "bench/peer.sh: DPDK at $size B: $n samples of $want; the logs' ends:" >&2
        tail -8 "$rx_log" "$tx_log" >&2
        return
    fi
    res=$(samples "$rx_log" | sed -n "$((warmup + 1)),${want}p" |
        awk '{ p += $1; b += $2; n++ } END { printf "%.0f %.0f\n", p / n, b / n }')
}

# isthmus SIZE [BUFFERS]: sets res="frames/s bit/s" over PEER_SECONDS, or "".
isthmus() {
    local log=$work/isthmus.$1.${2:-all}.log
    if ! "$bin" --seconds "$seconds" --copy-seconds 0 --size "$1" --cpus $cpus ${2:+--buffers "$2"} >"$log" 2>&1; then
        echo "bench/peer.sh: net_bench failed at $1 B (it lost frames or logged); its output:" >&2
        cat "$log" >&2
    fi
    # The throughput row: frame B, frames/s, Gbit/s, ...
    res=$(awk -v s="$1" '$1 == s && NF >= 4 && $2 ~ /^[0-9]+$/ { printf "%s %.0f\n", $2, $3 * 1e9; exit }' "$log")
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# ---------------------------------------------------------------- the run

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "Isthmus ($bin) against DPDK $(dpkg-query -W -f '${Version}' dpdk-dev) vhost-user <-> virtio-user"
echo "(two testpmd, rxonly <- txonly, burst 32), on CPUs $cpus; $reps repetitions, alternating;"
echo "per measurement $seconds s (DPDK: after $warmup s of warm-up). Load average at the start: $(load)."
echo

declare -A d_pps d_bps i_fps i_bps h_fps h_bps i_ratio h_ratio
for r in $(seq "$reps"); do
    for s in $sizes; do
        dpdk "$s"
        read -r pps bps <<<"$res"
        isthmus "$s"
        read -r fps ibps <<<"$res"
        isthmus "$s" "$hot"
        read -r hfps hbps <<<"$res"
        printf '  rep %d, %5d B: DPDK %12s pps  Isthmus %12s frames/s, %d buffers %12s  (load %s)\n' "$r" "$s" \
            "${pps:--}" "${fps:--}" "$hot" "${hfps:--}" "$(load)"
        d_pps[$s]+="${pps:-} "
        d_bps[$s]+="${bps:-} "
        i_fps[$s]+="${fps:-} "
        i_bps[$s]+="${ibps:-} "
        h_fps[$s]+="${hfps:-} "
        h_bps[$s]+="${hbps:-} "
        # The ratios of one repetition, whose measurements follow each other
        # within half a minute: this machine's speed changes between phases
        # of minutes (2.5x at 64 B for either side), which a ratio of medians
        # taken in different phases would mix.
        if [ -n "${bps:-}" ] && [ -n "${ibps:-}" ]; then
            i_ratio[$s]+="$(awk -v a="$ibps" -v b="$bps" 'BEGIN { print a / b }') "
        fi
        if [ -n "${bps:-}" ] && [ -n "${hbps:-}" ]; then
            h_ratio[$s]+="$(awk -v a="$hbps" -v b="$bps" 'BEGIN { print a / b }') "
        fi
    done
done

echo
echo "Median of $reps; Gbit/s counts frame bytes (Ethernet header on, no virtio-net header, no FCS)."
echo "DPDK's 64 KiB frame is 65535 B (txonly's 16-bit lengths). A ratio (/ DPDK) is of bytes per"
echo "second: the median of the repetitions' own ratios, each of measurements taken one after the other."
echo
echo "Isthmus: 256 buffers a side (cold: every frame copied between memory out of the caches), and"
echo "$hot a side (warm: nearer DPDK's working set, whose mempool caches reuse the mbufs just freed)."
echo
printf '%7s | %10s %9s | %24s %8s | %24s %8s\n' "frame B" "DPDK Mpps" "Gbit/s" "Isthmus 256: M/s, Gbit/s" "/ DPDK" \
    "Isthmus $hot: M/s, Gbit/s" "/ DPDK"
status=0
of() { echo "$1" | tr ' ' '\n' | grep . | median; }
for s in $sizes; do
    dp=$(of "${d_pps[$s]}")
    db=$(of "${d_bps[$s]}")
    ip=$(of "${i_fps[$s]}")
    ib=$(of "${i_bps[$s]}")
    hp=$(of "${h_fps[$s]}")
    hb=$(of "${h_bps[$s]}")
    ir=$(of "${i_ratio[$s]:-}")
    hr=$(of "${h_ratio[$s]:-}")
    if [ -z "$dp" ] || [ -z "$ip" ] || [ -z "$hp" ] || [ -z "$ir" ] || [ -z "$hr" ]; then
        printf '%7d | %s\n' "$s" "no figure (see the messages above)"
        status=1
        continue
    fi
    awk -v s="$s" -v dp="$dp" -v db="$db" -v ip="$ip" -v ib="$ib" -v hp="$hp" -v hb="$hb" -v ir="$ir" -v hr="$hr" 'BEGIN {
        printf "%7d | %10.2f %9.2f | %13.2f %10.2f %8.3f | %13.2f %10.2f %8.3f\n", s, dp / 1e6, db / 1e9,
            ip / 1e6, ib / 1e9, ir, hp / 1e6, hb / 1e9, hr }'
done
echo
echo "Load average at the end: $(load) (other work on these two CPUs lowers both sides, not always alike)."
exit $status
