#!/bin/sh
# Instructions the hypervisor's NIC data path executes per frame, counted by
# callgrind: figures that do not depend on the machine, to go beside
# bench/net_bench's timings. `make bench-callgrind` runs it.
#
# What is counted: every instruction executed inside hv_notify() and
# hv_timer() (bench/driver.c), the only ways the benchmark enters net/ once
# the NICs are up (a guest's trapped notify write, the retry timer). That is
# the transmit pass, the switch, the shim, the copy, the receive side's
# refill notify and the MSI-X messages, with the benchmark's few-instruction
# stand-ins for the hypervisor's clock and MSI delivery; nothing of the
# benchmark's guest drivers. callgrind collects only inside those two
# (--collect-atstart=no, --toggle-collect); they never nest. net_bench runs
# --single: one thread, a fixed number of frames, nothing that depends on
# timing, so the counts repeat from run to run.
#
# A run with --frames 0 (bring-up and the one frame that teaches the switch
# where the receiver is) is subtracted:
#     Ir per frame = (Ir with N frames - Ir with 0 frames) / N
#
# usage: bench/callgrind.sh [path to net_bench]     (default build/bench/net_bench)
# FRAMES_64, FRAMES_1500 and FRAMES_65536 override how many frames each size sends.
set -eu

bin=${1:-build/bench/net_bench}
if ! command -v valgrind >/dev/null 2>&1; then
    echo "bench/callgrind.sh: valgrind is not installed (Debian: apt-get install valgrind); nothing counted"
    exit 0
fi
if [ ! -x "$bin" ]; then
    echo "bench/callgrind.sh: no $bin (make build/bench/net_bench builds it)" >&2
    exit 1
fi
out=$(dirname "$bin")/callgrind
mkdir -p "$out"

# count SIZE FRAMES FILE: Ir collected in a --single run, its data left in FILE.
count() {
    if ! valgrind --tool=callgrind --collect-atstart=no --toggle-collect=hv_notify --toggle-collect=hv_timer \
            --callgrind-out-file="$3" "$bin" --single --size "$1" --frames "$2" >"$3.log" 2>&1; then
        cat "$3.log" >&2
        echo "bench/callgrind.sh: net_bench failed under valgrind (log above)" >&2
        exit 1
    fi
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$3"
}

echo "Instructions (callgrind Ir) in the hypervisor's data path per frame: $bin --single, valgrind $(valgrind --version | sed 's/valgrind-//')"
echo
printf '%7s %9s %15s %11s\n' "frame B" frames "Ir (N - 0)" "Ir/frame"
for size in 64 1500 65536; do
    case $size in
    64)    frames=${FRAMES_64:-100000} ;;
    1500)  frames=${FRAMES_1500:-20000} ;;
    65536) frames=${FRAMES_65536:-2000} ;;
    esac
    full=$(count "$size" "$frames" "$out/$size.out")
    base=$(count "$size" 0 "$out/$size.base.out")
    awk -v s="$size" -v n="$frames" -v f="$full" -v b="$base" \
        'BEGIN { printf "%7d %9d %15d %11.1f\n", s, n, f - b, (f - b) / n }'
done

# Where the instructions go, per frame: each function's own instructions
# (not those of what it calls). From the full runs; the set-up in them is
# less than a frame's worth in a thousand.
for size in 64 65536; do
    case $size in
    64)    frames=${FRAMES_64:-100000} ;;
    65536) frames=${FRAMES_65536:-2000} ;;
    esac
    echo
    echo "$size-byte frames, instructions per frame by function (self), the top 16:"
    callgrind_annotate --threshold=100 "$out/$size.out" 2>/dev/null |
        awk -v n="$frames" '
            /^-+$/ { rule++; next }
            rule >= 5 && /%\) / {
                ir = $1; gsub(",", "", ir)
                fn = $0; sub(/.*%\) +/, "", fn); sub(/ .*/, "", fn); sub(/.*\//, "", fn)
                printf "%11.1f  %s\n", ir / n, fn
            }' | head -16
done
echo
echo "callgrind data: $out/ (callgrind_annotate --inclusive=yes $out/64.out for the call tree's totals)"
