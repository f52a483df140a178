#!/usr/bin/env bash
# bench/convert.sh -- times "vdisk convert" against "qemu-img convert" on
# the same inputs in the same run, and prints the mean times and the ratio
# qemu-img / vdisk (above 1: vdisk is faster).
#
#   bench/convert.sh [RUNS]        (default 5 timed runs per case)
#
# Environment: VDISK (default <repo>/build/vdisk), QEMU_IMG (qemu-img),
# READ_DATA (default: bench/read_data in VDISK's build directory),
# BENCH_DIR (where the 2 GiB inputs go; default a fresh dir under
# $TMPDIR or /tmp, removed at the end), BENCH_SIZE_MB (default 2048),
# BENCH_CACHE=warm (keep the page cache even when it could be dropped),
# BENCH_FORMATS (default "qcow2 vhdx vmdk"; "" times raw output only),
# BENCH_CASES (an extended regex: only the cases whose name matches are
# timed, e.g. BENCH_CASES='qcow2 (sparse|full) -O raw|sparse -O qcow2$'),
# BENCH_REUSE=1 (with BENCH_DIR: keep the inputs a previous run left
# there instead of making new ones).
#
# Inputs: sparse.raw, ~40% data in scattered 1..8 MiB runs of random bytes
# with holes between them, full.raw, every byte written, text.raw (a
# quarter of the size: compressible words, for -c); made by qemu-img:
# qcow2 copies of sparse.raw and full.raw, and a compressed qcow2 and a
# streamOptimized VMDK of text.raw.  Cases: raw output with and without
# -W, then qcow2, vhdx and vmdk output for each format "vdisk create -f
# FMT" supports, qcow2 input to raw and vhdx, the compressed inputs to
# raw, compressed qcow2 output (zlib and zstd) and streamOptimized VMDK
# output.  "read:" rows: in vdisk's place, bench/read_data (READ_DATA;
# default: bench/read_data in VDISK's build directory) reads the input's
# data plainly and writes nothing, beside qemu-img's conversion of the
# same input: the storage's share of the time (vdisk's read-ahead can
# beat it a little).
# Timing: paired_time.py runs each tool once untimed, then
# RUNS pairs alternating which goes first (python3, CPU time from
# wait4).  Page cache:
# dropped before each run when /proc/sys/vm/drop_caches is writable (as
# root), otherwise the inputs are warm in the cache (said in the output).
# Builds nothing: build vdisk first (meson setup build && ninja -C build).
set -u

here=$(cd "$(dirname "$0")" && pwd)
VDISK=${VDISK:-$here/../build/vdisk}
QEMU_IMG=${QEMU_IMG:-qemu-img}
RUNS=${1:-5}
READ_DATA=${READ_DATA:-$(dirname "$VDISK")/bench/read_data}
SIZE_MB=${BENCH_SIZE_MB:-2048}

. "$here/lib.sh"
bench_need_tools bench/convert.sh
bench_setup_dir vdisk-bench

# ---- inputs ----

# 64 MiB of random bytes, sliced into the inputs.
make_seed() {
    head -c 64M /dev/urandom >"$dir/seed"
}

# Copies count MiB of random bytes to MiB offset seek of file.
put_random() {
    local file=$1 seek=$2 count=$3
    local skip=$((RANDOM % (64 - count)))
    dd if="$dir/seed" of="$file" bs=1M skip="$skip" seek="$seek" \
       count="$count" conv=notrunc status=none
}

# Data runs of 1..8 MiB separated by holes of 1..12 MiB: about 40% data.
make_sparse() {
    local f=$dir/sparse.raw mb=0 data=0 run gap
    truncate -s "${SIZE_MB}M" "$f"
    RANDOM=42
    while :; do
        gap=$((RANDOM % 12 + 1))
        run=$((RANDOM % 8 + 1))
        ((mb + gap + run <= SIZE_MB)) || break
        mb=$((mb + gap))
        put_random "$f" "$mb" "$run"
        mb=$((mb + run))
        data=$((data + run))
    done
    echo "sparse.raw: ${SIZE_MB} MiB, ${data} MiB data" \
         "($((100 * data / SIZE_MB))%)"
}

# Words of 2..9 letters separated by spaces: compresses about 3:1.
make_text() {
    local f=$dir/text.raw
    python3 -c 'import random, sys
random.seed(7)
w = ["".join(random.choice("abcdefghij") for _ in range(random.randint(2, 9)))
     for _ in range(5000)]
out, n, want = sys.stdout.buffer, 0, int(sys.argv[1]) << 20
while n < want:
    s = (" ".join(random.choice(w) for _ in range(2000)) + "\n").encode()
    out.write(s[:want - n]); n += len(s)' "$((SIZE_MB / 4))" >"$f"
    echo "text.raw: $((SIZE_MB / 4)) MiB of words (compressible)"
}

# qcow2 copies of the raw inputs, written by qemu-img; text.raw's is
# compressed (as cloud images are).
make_qcow2_inputs() {
    "$QEMU_IMG" convert -O qcow2 "$dir/sparse.raw" "$dir/sparse.qcow2"
    "$QEMU_IMG" convert -O qcow2 "$dir/full.raw" "$dir/full.qcow2"
    echo "sparse.qcow2, full.qcow2: the same, converted by qemu-img"
    "$QEMU_IMG" convert -c -O qcow2 "$dir/text.raw" "$dir/text-c.qcow2"
    echo "text-c.qcow2: text.raw, compressed by qemu-img (zlib)"
    "$QEMU_IMG" convert -O vmdk -o subformat=streamOptimized \
        "$dir/text.raw" "$dir/text-s.vmdk"
    echo "text-s.vmdk: text.raw, streamOptimized by qemu-img"
}

make_full() {
    local f=$dir/full.raw mb
    : >"$f"
    for ((mb = 0; mb < SIZE_MB; mb += 32)); do
        put_random "$f" "$mb" 32
    done
    echo "full.raw: ${SIZE_MB} MiB, all data"
}

# ---- timing ----

can_drop_caches() {
    [[ -w /proc/sys/vm/drop_caches ]] &&
        (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null
}

if [[ ${BENCH_CACHE:-cold} != warm ]] && can_drop_caches; then
    cache_note="cold cache (page cache dropped before each run)"
    prepare="rm -f $dir/out; sync; echo 3 > /proc/sys/vm/drop_caches"
else
    cache_note="warm cache (inputs in the page cache, not dropped)"
    prepare="rm -f $dir/out; sync"
fi

# One table row: the same conversion by both tools, timed in alternating
# pairs (paired_time.py).  Each run starts with the previous output
# removed and synced, so neither tool pays for the other's write-back.
bench_case() {
    local label=$1 opts=$2 input=$3
    if [[ -n ${BENCH_CASES:-} ]] && ! [[ $label =~ $BENCH_CASES ]]; then
        return
    fi
    bench_row "$label" "$prepare" "$VDISK convert $opts $dir/$input $dir/out" \
        "$QEMU_IMG convert $opts $dir/$input $dir/out"
}

# A "read:" row: bench/read_data (the input's data read plainly, nothing
# written; built beside vdisk) in place of vdisk, beside the qemu-img
# conversion of the case it stands next to: how much of each tool's time
# on a cold cache is the storage's.
bench_read_row() {
    local label=$1 input=$2 opts=$3
    if [[ -n ${BENCH_CASES:-} ]] && ! [[ $label =~ $BENCH_CASES ]]; then
        return
    fi
    if [[ ! -x $READ_DATA ]]; then
        printf "%-${BENCH_LABEL_WIDTH}s %s\n" "$label" \
            "(skipped: no $READ_DATA)"
        return
    fi
    bench_row "$label" "$prepare" "$READ_DATA $dir/$input" \
        "$QEMU_IMG convert $opts $dir/$input $dir/out"
}

vdisk_creates() {
    "$VDISK" create -q -f "$1" "$dir/probe.$1" 1M >/dev/null 2>&1
    local ok=$?
    rm -f "$dir/probe.$1"
    return $ok
}

# ---- run ----

echo "inputs in $dir"
if [[ -n ${BENCH_REUSE:-} && -f $dir/sparse.qcow2 && -f $dir/full.qcow2 &&
      -f $dir/text.raw && -f $dir/text-c.qcow2 && -f $dir/text-s.vmdk ]]; then
    echo "reusing the inputs already there (BENCH_REUSE)"
else
    make_seed
    make_sparse
    make_full
    make_text
    make_qcow2_inputs
    rm -f "$dir/seed"
fi
sync
echo "$("$VDISK" --version | head -1); $("$QEMU_IMG" --version | head -1)"
echo "$(nproc) CPUs, $RUNS runs per case, $cache_note"
echo "timing: bench/paired_time.py (vdisk and qemu-img runs alternate)"
echo "\"read:\" rows: bench/read_data, the input's data read plainly, in the"
echo "vdisk columns"
echo
bench_print_header
bench_case "sparse -O raw" "-O raw" sparse.raw
bench_case "sparse -O raw -W" "-O raw -W" sparse.raw
bench_case "full -O raw" "-O raw" full.raw
bench_case "full -O raw -W" "-O raw -W" full.raw
for fmt in ${BENCH_FORMATS-qcow2 vhdx vmdk}; do
    if vdisk_creates "$fmt"; then
        bench_case "sparse -O $fmt" "-O $fmt" sparse.raw
        bench_case "full -O $fmt" "-O $fmt" full.raw
        bench_case "full -O $fmt -W" "-O $fmt -W" full.raw
    else
        printf "%-20s %s\n" "-O $fmt" "(skipped: vdisk cannot create $fmt)"
    fi
done
bench_case "qcow2 sparse -O raw" "-O raw" sparse.qcow2
bench_read_row "read: sparse (qcow2)" sparse.raw "-O qcow2"
bench_read_row "read: qcow2 sparse" sparse.qcow2 "-O raw"
bench_case "qcow2 full -O raw" "-O raw" full.qcow2
bench_case "qcow2 text -c -O raw" "-O raw" text-c.qcow2
bench_case "vmdk stream -O raw" "-O raw" text-s.vmdk
if [[ " ${BENCH_FORMATS-vhdx} " == *" vhdx "* ]] && vdisk_creates vhdx; then
    bench_case "qcow2 full -O vhdx" "-O vhdx" full.qcow2
fi
if [[ " ${BENCH_FORMATS-qcow2} " == *" qcow2 "* ]] && vdisk_creates qcow2; then
    bench_case "sparse -O qcow2 -c" "-O qcow2 -c" sparse.raw
    bench_case "text -c zlib" "-O qcow2 -c -o compression_type=zlib" \
        text.raw
    bench_case "text -c zstd" "-O qcow2 -c -o compression_type=zstd" \
        text.raw
fi
if [[ " ${BENCH_FORMATS-vmdk} " == *" vmdk "* ]] && vdisk_creates vmdk; then
    # streamOptimized: every grain deflate-compressed (what vSphere imports).
    bench_case "sparse -O vmdk stream" \
        "-O vmdk -o subformat=streamOptimized" sparse.raw
fi
