#!/bin/sh
# tests/guests/boot_guests.sh -- boots a Linux test guest of build.sh
# from raw, qcow2, vhdx and vmdk copies made by "vdisk convert" (issue 7).
#
#   boot_guests.sh VDISK BUILD_SH [GUEST]
#
# GUEST is a build.sh guest: syslinux (the default; meson test
# boot_guests) or grub (GRUB 2 on ext4; meson test boot_guests_grub).
# Builds the guest disk (or reuses the cached one), converts it to each
# format and boots every copy with "vdisk boot" until the guest prints
# the marker VDISK-GUEST-OK.  Before the marker, the guest's /init prints
# "VDISK-SHA256 <hash>" for the whole of /dev/sda: that hash must equal
# the host's sha256 of the source raw disk, so the guest saw through the
# emulated IDE disk exactly the bytes of the source, whatever the format.
# The four boots run two at a time (each is one host thread).  A boot
# takes minutes (about 46 s of guest time with SYSLINUX, 47 s with
# GRUB, see tests/guests/README), so the test runs only when
# VDISK_GUEST_TESTS=1; it exits 77 (skip) otherwise, and when SeaBIOS is
# missing or the guest cannot be built here (no Debian packages, no
# network for apt-get download).
set -u
VDISK=$1
BUILD=$2
GUEST=${3:-syslinux}
BIOS=${VDISK_BIOS:-/usr/share/seabios/bios.bin}
TIMEOUT=${VDISK_GUEST_TIMEOUT:-120}      # virtual seconds per boot
MARKER=VDISK-GUEST-OK

if [ "${VDISK_GUEST_TESTS:-0}" != 1 ]; then
    echo "SKIP: set VDISK_GUEST_TESTS=1 to boot the Linux guests (slow)"
    exit 77
fi
if [ ! -r "$BIOS" ]; then
    echo "SKIP: $BIOS not found (install Debian's seabios package)"
    exit 77
fi
export VDISK_BIOS="$BIOS"
if ! src=$(sh "$BUILD" "$GUEST"); then
    echo "SKIP: cannot build guest '$GUEST' (see build.sh's messages)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

# Boots $1 (format $2) in the background, output in $tmp/$2.*.
boot_bg() {
    "$VDISK" boot -f "$2" "$1" --serial "$tmp/$2.log" --expect "$MARKER" \
        --timeout "$TIMEOUT" 2> "$tmp/$2.err" &
}

# Waits for the boot of format $1 (pid $2) and checks its hash.
check_boot() {
    if ! wait "$2"; then
        tail -n 20 "$tmp/$1.log"
        cat "$tmp/$1.err"
        fail "$1: no $MARKER"
    fi
    got=$(sed -n 's/.*VDISK-SHA256 \([0-9a-f]\{64\}\).*/\1/p' \
        "$tmp/$1.log" | head -n 1)
    [ "$got" = "$want" ] ||
        fail "$1: guest hashed /dev/sda as '$got', host $want"
    echo "ok $1: marker, sha256 matches"
}

want=$(sha256sum "$src" | cut -d' ' -f1)
echo "source $src sha256 $want"
for fmt in qcow2 vhdx vmdk; do
    "$VDISK" convert -f raw -O $fmt "$src" "$tmp/guest.$fmt" ||
        fail "convert to $fmt"
done
cp "$src" "$tmp/guest.raw" || fail "copy the source"
for pair in "raw qcow2" "vhdx vmdk"; do
    set -- $pair
    boot_bg "$tmp/guest.$1" "$1"
    pid1=$!
    boot_bg "$tmp/guest.$2" "$2"
    pid2=$!
    check_boot "$1" "$pid1"
    check_boot "$2" "$pid2"
done
