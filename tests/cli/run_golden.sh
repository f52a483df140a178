#!/usr/bin/env bash
# tests/cli/run_golden.sh -- runs one golden CLI test (qemu-iotests style).
#
#   run_golden.sh VDISK_BINARY TEST.sh
#
# Runs TEST.sh with bash in a fresh temporary directory (also its TMPDIR's
# parent) with VDISK, QEMU_IMG, SRCDIR and DATADIR set, captures stdout and
# stderr together, replaces the directory's path by "TEST_DIR" and the
# binary's path by "vdisk", and compares the result with TEST.out.  Exits 0
# when they match; otherwise prints the diff and exits 1.  A test script
# that itself exits non-zero gets a "[test script exited N]" line, so it
# fails unless TEST.out expects that.
#
# VDISK_GOLDEN_UPDATE=1 writes the actual output to TEST.out instead (then
# review it with git diff before committing).
set -u

if (($# != 2)); then
    echo "usage: run_golden.sh VDISK_BINARY TEST.sh" >&2
    exit 2
fi
vdisk=$(realpath -- "$1") || exit 1
test_sh=$(realpath -- "$2") || exit 1
expected=${test_sh%.sh}.out
srcdir=$(dirname -- "$test_sh")

if [[ ! -x $vdisk ]]; then
    echo "run_golden: $vdisk is not an executable" >&2
    exit 1
fi

base=$(mktemp -d "${TMPDIR:-/tmp}/vdisk-golden.XXXXXX") || exit 1
base=$(realpath -- "$base")
trap 'rm -rf -- "$base"' EXIT
work=$base/work
mkdir -p "$work/.tmp" || exit 1

# The test, in its own directory, with a stable locale and time zone.
(
    cd "$work" || exit 1
    export VDISK=$vdisk QEMU_IMG=${QEMU_IMG:-qemu-img} SRCDIR=$srcdir
    export DATADIR=$srcdir/../data TMPDIR=$work/.tmp LC_ALL=C TZ=UTC
    exec bash "$test_sh"
) </dev/null >"$base/raw" 2>&1
status=$?
if ((status != 0)); then
    echo "[test script exited $status]" >>"$base/raw"
fi

# Normalise paths: literal replacement, no regular expressions involved.
while IFS= read -r line || [[ -n $line ]]; do
    line=${line//"$work"/TEST_DIR}
    line=${line//"$vdisk"/vdisk}
    printf '%s\n' "$line"
done <"$base/raw" >"$base/actual"

if [[ ${VDISK_GOLDEN_UPDATE:-0} == 1 ]]; then
    cp -- "$base/actual" "$expected" || exit 1
    echo "run_golden: wrote $expected"
    exit 0
fi
if [[ ! -f $expected ]]; then
    echo "run_golden: $expected is missing; actual output:" >&2
    cat "$base/actual"
    exit 1
fi
if ! diff -u --label "$expected" --label "actual output" \
        "$expected" "$base/actual"; then
    echo "run_golden: $(basename -- "$test_sh"): output differs" >&2
    exit 1
fi
exit 0
