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
# Then "vdisk verify --boot --expect VDISK-GUEST-OK" (each boots both
# images, one after the other) runs on one copy (vmdk for syslinux,
# qcow2 for grub): on the good copy it must pass every check; on a
# damaged copy (a few bytes written into free space of the guest's
# partition, then converted to the same format) it must fail, naming
# the damaged offset (content check) and the diverging transcript line
# (the guest prints a different VDISK-SHA256).
# The boots run two at a time (each is one host thread): the four plain
# boots in two pairs, then both verifies (two boots each) side by side,
# so about four boot times in all.  A boot takes about 46 s of guest
# time with SYSLINUX, 47 s with GRUB (see tests/guests/README), so the
# test runs only when VDISK_GUEST_TESTS=1; it exits 77 (skip) otherwise,
# and when SeaBIOS is missing or the guest cannot be built here (no
# Debian packages, no network for apt-get download).
set -u
VDISK=$1
BUILD=$2
GUEST=${3:-syslinux}
BIOS=${VDISK_BIOS:-/usr/share/seabios/bios.bin}
TIMEOUT=${VDISK_GUEST_TIMEOUT:-120}      # virtual seconds per boot
MARKER="VDISK-GUEST-OK"
# Where the damaged copy differs: 15.5 MiB + 0x123, inside the guest's
# partition (1 MiB to 16 MiB) in space its file system leaves free
# (FAT16 data area, ext4 block 14848, both unused), so only the guest's
# hash of /dev/sda changes, not how it boots.
DAMAGE_OFF=16253219
DAMAGE="VDISK-DAMAGED"

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
    # shellcheck disable=SC2086 # split into the two formats
    set -- $pair
    boot_bg "$tmp/guest.$1" "$1"
    pid1=$!
    boot_bg "$tmp/guest.$2" "$2"
    pid2=$!
    check_boot "$1" "$pid1"
    check_boot "$2" "$pid2"
done

# ---- vdisk verify --boot on a good and on a damaged copy ----

# The format verify checks: one per guest, so both tests cover two.
case $GUEST in
    grub) vfmt=qcow2 ;;
    *) vfmt=vmdk ;;
esac

# Runs "vdisk verify --boot" of $tmp/guest.raw against $1 in the
# background, report in $tmp/verify-$2.out (--output=$3).
verify_bg() {
    "$VDISK" verify -f raw -F "$vfmt" --boot --expect "$MARKER" \
        --timeout "$TIMEOUT" --output="$3" "$tmp/guest.raw" "$1" \
        > "$tmp/verify-$2.out" 2> "$tmp/verify-$2.err" &
}

# Prints the JSON value at the dotted path $2 of the report file $1
# (booleans as true/false).
json_get() {
    python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(json.dumps(v).strip("\""))' "$1" "$2"
}

# Waits for verify $1 (pid $2); fails unless it exited with $3.
wait_verify() {
    wait "$2"
    rc=$?
    cat "$tmp/verify-$1.out" "$tmp/verify-$1.err"
    [ "$rc" = "$3" ] || fail "verify $1 copy: exit $rc, expected $3"
}

# Expects the JSON field $2 of report $1 to be $3.
expect_json() {
    got=$(json_get "$tmp/verify-$1.out" "$2") ||
        fail "verify $1 copy: no $2 in the JSON report"
    [ "$got" = "$3" ] || fail "verify $1 copy: $2 is '$got', expected '$3'"
}

# Expects the report of verify $1 to hold the line $2.
expect_line() {
    grep -qxF "$2" "$tmp/verify-$1.out" ||
        fail "verify $1 copy: no line '$2'"
}

cp "$src" "$tmp/bad.raw" || fail "copy the source"
printf %s "$DAMAGE" |
    dd of="$tmp/bad.raw" bs=1 seek="$DAMAGE_OFF" conv=notrunc status=none ||
    fail "damage the copy"
bad=$(sha256sum "$tmp/bad.raw" | cut -d' ' -f1)
"$VDISK" convert -f raw -O "$vfmt" "$tmp/bad.raw" "$tmp/bad.$vfmt" ||
    fail "convert the damaged copy to $vfmt"
src_byte=$(od -An -tx1 -j "$DAMAGE_OFF" -N 1 "$src" | tr -d ' ')
dst_byte=$(printf %s "$DAMAGE" | od -An -tx1 -N 1 | tr -d ' ')

verify_bg "$tmp/guest.$vfmt" good json
pid1=$!
verify_bg "$tmp/bad.$vfmt" bad human
pid2=$!

wait_verify good "$pid1" 0
for kv in content.result=passed check.result=passed boot.result=passed \
          boot.source.expect-seen=true boot.target.expect-seen=true \
          passed=true; do
    expect_json good "${kv%%=*}" "${kv#*=}"
done
echo "ok verify $vfmt: content, check and boot passed"

wait_verify bad "$pid2" 1
expect_line bad "content: differ at offset $DAMAGE_OFF (source 0x$src_byte, target 0x$dst_byte)"
expect_line bad "check: no errors"
grep -q "^boot: transcripts differ at byte [0-9]* (line [0-9]*): source \"VDISK-SHA256 $want\", target \"VDISK-SHA256 $bad\"\$" \
    "$tmp/verify-bad.out" ||
    fail "verify bad copy: no transcript divergence at the VDISK-SHA256 line"
expect_line bad "boot: source saw the text; target saw the text"
echo "ok verify damaged $vfmt: offset $DAMAGE_OFF and the guest's hash named"
