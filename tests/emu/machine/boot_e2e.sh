#!/bin/sh
# tests/emu/machine/boot_e2e.sh -- boots a test disk under SeaBIOS from
# raw, qcow2, vhdx and vmdk copies with "vdisk boot" (issue 6).
#
#   boot_e2e.sh VDISK MBR_BIN REBOOT_BIN
#
# The disk is 4 MiB of zeros with boot/mbr.S in its first sector; the
# other formats are made from it with "vdisk convert".  Every boot must
# find the COM1 marker, show the INT 10h marker (SeaBIOS's serial
# console) and the boot-sector stage, and produce the very same serial
# bytes as the raw boot; booting raw twice must too (determinism).  A
# guest that halts without the text, and firmware of a bad size, must
# give exit status 1 with a one-line reason, and so must a bad --memory.
# A disk whose boot sector resets the PC through the 8042 must boot again
# and again.  Exits 77 (skip) when SeaBIOS is not installed.
set -u
VDISK=$1
MBR=$2
REBOOT=$3
BIOS=${VDISK_BIOS:-/usr/share/seabios/bios.bin}
if [ ! -r "$BIOS" ]; then
    echo "SKIP: $BIOS not found (install Debian's seabios package)"
    exit 77
fi
export VDISK_BIOS="$BIOS"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

truncate -s 4M "$tmp/disk.raw"
dd if="$MBR" of="$tmp/disk.raw" conv=notrunc status=none ||
    fail "cannot write the MBR"
for fmt in qcow2 vhdx vmdk; do
    "$VDISK" convert -f raw -O $fmt "$tmp/disk.raw" "$tmp/disk.$fmt" ||
        fail "convert to $fmt"
done

# boot NAME IMAGE FMT: boots and checks the markers and stages.
boot() {
    "$VDISK" boot -f "$3" "$2" --timeout 10 --expect "COM1 MARKER-B" \
        --serial "$tmp/$1.out" 2>"$tmp/$1.err"
    st=$?
    cat "$tmp/$1.err"
    [ $st -eq 0 ] || fail "$1: exit status $st"
    grep -q "INT10 MARKER-A" "$tmp/$1.out" || fail "$1: no INT 10h marker"
    grep -q "Booting from Hard Disk" "$tmp/$1.out" ||
        fail "$1: SeaBIOS did not boot from the disk"
    grep -q "boot sector running: at 0000:7c00" "$tmp/$1.err" ||
        fail "$1: no boot-sector stage"
}

boot raw "$tmp/disk.raw" raw
boot raw2 "$tmp/disk.raw" raw
cmp "$tmp/raw.out" "$tmp/raw2.out" || fail "two raw boots differ"
for fmt in qcow2 vhdx vmdk; do
    boot $fmt "$tmp/disk.$fmt" $fmt
    cmp "$tmp/raw.out" "$tmp/$fmt.out" || fail "$fmt boot differs from raw"
done

# Without the text: the MBR halts with IF=0, exit 1 and say why.
"$VDISK" boot "$tmp/disk.raw" -f raw --timeout 10 --expect "NEVER-SEEN" \
    --serial /dev/null 2>"$tmp/stop.err"
st=$?
cat "$tmp/stop.err"
[ $st -eq 1 ] || fail "halted guest: exit status $st"
grep -q "guest halted with interrupts disabled.*without 'NEVER-SEEN'" \
    "$tmp/stop.err" || fail "halted guest: no reason given"

# Firmware that is not a multiple of 64 KiB is refused.
head -c 1000 "$BIOS" >"$tmp/bad.bin"
"$VDISK" boot "$tmp/disk.raw" -f raw --bios "$tmp/bad.bin" \
    --serial /dev/null 2>"$tmp/bad.err"
st=$?
cat "$tmp/bad.err"
[ $st -eq 1 ] || fail "bad firmware: exit status $st"
grep -q "not a multiple of 64 KiB" "$tmp/bad.err" ||
    fail "bad firmware: no reason given"
# Warm reset: SeaBIOS runs its POST again and boots the disk again.
truncate -s 1M "$tmp/reboot.raw"
dd if="$REBOOT" of="$tmp/reboot.raw" conv=notrunc status=none ||
    fail "cannot write the reboot MBR"
"$VDISK" boot -f raw "$tmp/reboot.raw" --timeout 0.2 \
    --serial "$tmp/reboot.out" 2>"$tmp/reboot.err"
st=$?
cat "$tmp/reboot.err"
[ $st -eq 0 ] || fail "reboot: exit status $st"
n=$(grep -c "Booting from Hard Disk" "$tmp/reboot.out")
[ "$n" -ge 2 ] || fail "reboot: booted $n times in 0.2 s"
echo "reboot: booted $n times"

# A memory size the machine cannot have is refused before booting.
"$VDISK" boot "$tmp/disk.raw" -f raw --memory 1 --serial /dev/null \
    2>"$tmp/mem.err"
st=$?
cat "$tmp/mem.err"
[ $st -eq 1 ] || fail "1 MiB of RAM: exit status $st"
grep -q "outside 2 MiB..3.5 GiB" "$tmp/mem.err" ||
    fail "1 MiB of RAM: no reason given"
echo "PASS"
