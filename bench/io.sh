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

. "$here/lib.sh"
bench_need_tools bench/io.sh
bench_setup_dir vdisk-bench-io

if [[ ! -f $dir/dense.qcow2 || ! -f $dir/dense.raw ]]; then
    head -c 1G /dev/urandom >"$dir/dense.raw"
    "$QEMU_IMG" convert -O qcow2 "$dir/dense.raw" "$dir/dense.qcow2"
fi
cat "$dir/dense.raw" "$dir/dense.qcow2" >/dev/null # warm

# One row: the same bench arguments for both tools.
io_case() {
    local label=$1 args=$2 file=$3
    bench_row "$label" true "$VDISK bench $args $dir/$file" \
        "$QEMU_IMG bench $args $dir/$file"
}

echo "images in $dir (warm in the page cache)"
echo "$("$VDISK" --version | head -1); $("$QEMU_IMG" --version | head -1)"
echo "$(nproc) CPUs, $RUNS runs per case"
echo
bench_print_header
io_case "qcow2 read 4k" "-c 262144 -s 4k" dense.qcow2
io_case "qcow2 read 64k" "-c 16384 -s 64k" dense.qcow2
io_case "qcow2 read 4k/1M" "-c 100000 -s 4k -S 1M" dense.qcow2
io_case "qcow2 write 4k" "-w -c 100000 -s 4k" dense.qcow2
io_case "raw read 4k" "-c 262144 -s 4k -f raw" dense.raw
io_case "raw write 4k" "-w -c 100000 -s 4k -f raw" dense.raw
