#!/usr/bin/env bash
# bench/io.sh -- times "vdisk bench" against "qemu-img bench" on the same
# images in the same run: the cost of a request through each tool's block
# layer (qcow2 cluster lookup and allocation, raw), with the images warm in
# the page cache so that the device does not hide it.  Prints the mean
# times and the ratio qemu-img / vdisk (above 1: vdisk is faster).
#
#   bench/io.sh [RUNS]        (default 5 timed runs per case)
#
# Environment: VDISK (default <repo>/build/vdisk), QEMU_IMG (qemu-img),
# BENCH_DIR (where the 1 GiB images go; default a fresh directory, removed
# at the end).  Inputs: dense.qcow2 (every cluster allocated, made by
# qemu-img from random bytes) and dense.raw.  Cases: 4 KiB and 64 KiB
# reads in order, 4 KiB reads 1 MiB apart (one per L2 entry group), and
# 4 KiB overwrites, each with qemu-img's default depth of 64.  Timing:
# paired_time.py (runs alternate; the wall time of the whole command).
# Builds nothing: build vdisk first (meson setup build && ninja -C build).
set -u

here=$(cd "$(dirname "$0")" && pwd)
VDISK=${VDISK:-$here/../build/vdisk}
QEMU_IMG=${QEMU_IMG:-qemu-img}
RUNS=${1:-5}

if [[ ! -x $VDISK ]]; then
    echo "bench/io.sh: $VDISK not found; build it first:" >&2
    echo "  meson setup build && ninja -C build   (or set VDISK=...)" >&2
    exit 1
fi
if ! command -v "$QEMU_IMG" >/dev/null; then
    echo "bench/io.sh: $QEMU_IMG not found (apt-get install qemu-utils)" >&2
    exit 1
fi

dir=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/vdisk-bench-io.XXXXXX")}
mkdir -p "$dir"
if [[ -z ${BENCH_DIR:-} ]]; then
    trap 'rm -rf -- "$dir"' EXIT
fi

if [[ ! -f $dir/dense.qcow2 || ! -f $dir/dense.raw ]]; then
    head -c 1G /dev/urandom >"$dir/dense.raw"
    "$QEMU_IMG" convert -O qcow2 "$dir/dense.raw" "$dir/dense.qcow2"
fi
cat "$dir/dense.raw" "$dir/dense.qcow2" >/dev/null # warm

# One row: the same bench arguments for both tools.
io_case() {
    local label=$1 args=$2 file=$3 row
    row=$(python3 "$here/paired_time.py" "$RUNS" "true" \
          "$VDISK bench $args $dir/$file" "$QEMU_IMG bench $args $dir/$file")
    if [[ $row == failed ]]; then
        printf "%-22s %s\n" "$label" "failed"
        return
    fi
    local v vsd vcpu vmin q qsd qcpu qmin ratio med rmin
    read -r v vsd vcpu vmin q qsd qcpu qmin ratio med rmin <<<"$row"
    printf "%-22s %6s %6s %6s %7s %6s %6s %5s %5s %5s\n" "$label" "$v" \
        "$vsd" "$vcpu" "$q" "$qsd" "$qcpu" "$ratio" "$med" "$rmin"
}

echo "images in $dir (warm in the page cache)"
echo "$("$VDISK" --version | head -1); $("$QEMU_IMG" --version | head -1)"
echo "$(nproc) CPUs, $RUNS runs per case"
echo
echo "seconds: mean wall time, its standard deviation, mean CPU time;"
echo "q/v = qemu-img wall / vdisk wall (means), med = median of the pairs'"
echo "ratios, min = ratio of the fastest runs"
printf "%-22s %6s %6s %6s %7s %6s %6s %5s %5s %5s\n" "case" "vdisk" "sd" \
    "cpu" "qemu" "sd" "cpu" "q/v" "med" "min"
io_case "qcow2 read 4k" "-c 262144 -s 4k" dense.qcow2
io_case "qcow2 read 64k" "-c 16384 -s 64k" dense.qcow2
io_case "qcow2 read 4k/1M" "-c 100000 -s 4k -S 1M" dense.qcow2
io_case "qcow2 write 4k" "-w -c 100000 -s 4k" dense.qcow2
io_case "raw read 4k" "-c 262144 -s 4k -f raw" dense.raw
io_case "raw write 4k" "-w -c 100000 -s 4k -f raw" dense.raw
