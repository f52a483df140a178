#!/usr/bin/env bash
# bench/emu_mips.sh -- the x86 interpreter's speed in MIPS (millions of
# guest instructions retired per second of process CPU time) on two guest
# programs: (a) tests/emu/guests/bench_loop.S, a tight ADD/XOR/DEC/JNZ
# loop, and (b) tests/emu/guests/bench_mixed.S, REP MOVSB / REP STOSD,
# CALL/RET, PUSH/POP, loads, stores and LOOP (a REP instruction counts as
# one instruction, as the TSC sees it).
#
#   bench/emu_mips.sh [REPEAT]      (default 5 runs each; the best counts)
#
# Environment: BUILD (default /tmp/vdisk-bench-emu), a build directory that
# is configured here as a release build with LTO when it does not exist.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
BUILD=${BUILD:-/tmp/vdisk-bench-emu}
REPEAT=${1:-5}

if [[ ! -f $BUILD/build.ninja ]]; then
    meson setup "$BUILD" "$top" --buildtype=release -Db_lto=true >/dev/null
fi
ninja -C "$BUILD" tests/emu/emu_mips tests/emu/bench_loop.bin \
    tests/emu/bench_mixed.bin >/dev/null
for g in bench_loop bench_mixed; do
    "$BUILD/tests/emu/emu_mips" "$BUILD/tests/emu/$g.bin" "$REPEAT"
done
