#!/usr/bin/env bash
# bench/boot_linux.sh -- wall time from power-on to the Linux test guest's
# marker, "vdisk boot" against "qemu-system-i386 -accel tcg" on the same
# disk in the same run (issue 7).  Prints both times and the ratio
# qemu / vdisk (above 1: vdisk is faster).
#
#   bench/boot_linux.sh [GUEST] [RUNS]   (default: syslinux, 1 run each)
#
# The guest disk comes from tests/guests/build.sh (built once and cached;
# see tests/guests/README).  Both machines are the ISA PC with 128 MiB of
# RAM and SeaBIOS's bios.bin, the disk on the primary IDE channel as raw.
# vdisk exits by itself when the marker appears; QEMU does not (the guest
# halts with acpi=off), so its serial log is polled every 0.1 s and QEMU
# is killed at the marker: its figure may be up to 0.1 s late.
#
# Environment: VDISK (default <repo>/build/vdisk; use a release build:
# meson setup build-rel --buildtype=release -Db_lto=true), QEMU
# (qemu-system-i386), VDISK_BIOS (/usr/share/seabios/bios.bin),
# TIMEOUT (wall seconds per boot, default 600).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
GUEST=${1:-syslinux}
RUNS=${2:-1}
VDISK=${VDISK:-$top/build/vdisk}
QEMU=${QEMU:-qemu-system-i386}
BIOS=${VDISK_BIOS:-/usr/share/seabios/bios.bin}
TIMEOUT=${TIMEOUT:-600}
MARKER=VDISK-GUEST-OK

for tool in "$VDISK" "$(command -v "$QEMU")"; do
    if [[ ! -x $tool ]]; then
        echo "bench/boot_linux.sh: ${tool:-$QEMU} not found" >&2
        exit 1
    fi
done
disk=$(sh "$top/tests/guests/build.sh" "$GUEST") || exit 1
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

now() {
    date +%s.%N
}

# Prints the wall seconds vdisk takes to reach the marker.
time_vdisk() {
    local t0 t1
    t0=$(now)
    if ! VDISK_BIOS=$BIOS "$VDISK" boot -f raw "$disk" --expect "$MARKER" \
            --serial "$tmp/vdisk.log" --timeout-wall "$TIMEOUT" \
            2>"$tmp/vdisk.err"; then
        echo "vdisk did not reach $MARKER:" >&2
        tail -n 5 "$tmp/vdisk.err" >&2
        return 1
    fi
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

# Prints the wall seconds QEMU TCG takes to print the marker.
time_qemu() {
    local t0 t1 pid end
    : >"$tmp/qemu.log"
    t0=$(now)
    "$QEMU" -M isapc -cpu pentium2 -accel tcg -m 128 -bios "$BIOS" \
        -display none -monitor none -serial "file:$tmp/qemu.log" \
        -drive "file=$disk,format=raw,if=ide,snapshot=on" &
    pid=$!
    end=$(( $(date +%s) + TIMEOUT ))
    while ! grep -q "$MARKER" "$tmp/qemu.log" 2>/dev/null; do
        if (( $(date +%s) > end )) || ! kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            echo "QEMU did not reach $MARKER" >&2
            return 1
        fi
        sleep 0.1
    done
    t1=$(now)
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

echo "guest: $GUEST ($disk), $RUNS run(s) each, $(nproc) CPUs," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %10s %10s %8s\n' run vdisk_s qemu_tcg_s q/v
for ((i = 1; i <= RUNS; i++)); do
    v=$(time_vdisk) || exit 1
    q=$(time_qemu) || exit 1
    awk -v i="$i" -v v="$v" -v q="$q" \
        'BEGIN { printf "%-6s %10.1f %10.1f %8.2f\n", i, v, q, q / v }'
done
