# tests/cross/verify.sh -- "vdisk verify" and "convert --verify" (issue 7).
#
# A 4 MiB raw disk (the boot sector of tests/emu/machine/boot/mbr.S, data
# at 1 MiB and in its last bytes, zeros elsewhere) is converted to qcow2,
# vhdx and vmdk with vdisk convert: every copy must verify (exit 0, one
# line per check).  A copy with one byte flipped must fail (exit 1)
# naming the offset (in the sector "qemu-img compare" names); a raw
# target's check is "skipped".  --boot must pass on the good copies, with
# the MBR's marker, and fail on a copy whose boot signature was damaged,
# naming where the serial transcripts diverge.  convert --verify[=boot]
# passes on a good conversion and, on a bad one, exits 1 keeping the
# output.  Usage and open errors exit 2.  Needs as, ld (binutils) and
# SeaBIOS; the --boot part is left out when vdisk has no emulator.
set -u
mbr_src=$SRCDIR/../emu/machine/boot/mbr.S
bios=${VDISK_BIOS:-/usr/share/seabios/bios.bin}
marker="COM1 MARKER-B"

fail() {
    echo "FAIL: $*"
    exit 1
}

# expect_status WANT CMD...: runs CMD (output to out.txt) and checks the
# exit status.
expect_status() {
    local want=$1 st
    shift
    "$@" >out.txt 2>err.txt
    st=$?
    cat out.txt err.txt
    [[ $st -eq $want ]] || fail "$* exited $st, not $want"
}

for tool in as ld; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (binutils)"
done
[[ -r $bios ]] || fail "no SeaBIOS at $bios (Debian: seabios)"
export VDISK_BIOS=$bios

as --32 -o mbr.o "$mbr_src" &&
    ld -m elf_i386 -Ttext=0x7c00 -e _start --oformat binary -o mbr.bin \
        mbr.o || fail "cannot build the MBR"
truncate -s 4M disk.raw
dd if=mbr.bin of=disk.raw conv=notrunc status=none
printf 'some data at 1 MiB' |
    dd of=disk.raw bs=1 seek=1048576 conv=notrunc status=none
printf 'last' | dd of=disk.raw bs=1 seek=$((4194304 - 4)) conv=notrunc \
    status=none

# Good conversions verify.
for fmt in qcow2 vhdx vmdk; do
    "$VDISK" convert -f raw -O $fmt disk.raw disk.$fmt ||
        fail "convert to $fmt"
    expect_status 0 "$VDISK" verify -f raw -F $fmt disk.raw disk.$fmt
    grep -q '^content: identical (.* bytes compared, .* skipped as zero)$' \
        out.txt || fail "$fmt: no content line"
    grep -qx 'check: no errors' out.txt || fail "$fmt: no check line"
done
expect_status 0 "$VDISK" verify disk.raw disk.raw
grep -q '^check: skipped' out.txt || fail "raw target: check not skipped"

# One flipped byte (in the last 4 bytes): named like qemu-img compare.
cp disk.raw flip.raw
printf 'X' | dd of=flip.raw bs=1 seek=$((4194304 - 2)) conv=notrunc \
    status=none
"$VDISK" convert -f raw -O vmdk flip.raw flip.vmdk || fail "convert flip"
expect_status 1 "$VDISK" verify -f raw -F vmdk disk.raw flip.vmdk
grep -qx 'content: differ at offset 4194302 (source 0x73, target 0x58)' \
    out.txt || fail "flipped byte: offset not named"
"$QEMU_IMG" compare -f raw -F vmdk disk.raw flip.vmdk | tee cmp.txt
# (qemu-img names the start of the 512-byte sector holding it)
grep -q "Content mismatch at offset $((4194302 / 512 * 512))!" cmp.txt ||
    fail "qemu-img compare disagrees on the offset"
expect_status 1 "$VDISK" verify --output=json -F vmdk disk.raw flip.vmdk
grep -q '"offset": 4194302' out.txt || fail "json: no offset"
grep -q '"passed": false' out.txt || fail "json: not failed"

# Usage and open errors: exit 2.
expect_status 2 "$VDISK" verify disk.raw
expect_status 2 "$VDISK" verify --output=xml disk.raw disk.raw
expect_status 2 "$VDISK" verify disk.raw missing.qcow2
grep -q 'missing.qcow2' err.txt || fail "open error does not name the file"

# convert --verify.
expect_status 0 "$VDISK" convert --verify -f raw -O qcow2 disk.raw c1.qcow2
grep -qx 'check: no errors' out.txt || fail "convert --verify: no report"
# -n into a larger target whose tail holds data: the copy is not
# faithful, convert exits 1 and keeps the output.
head -c 5242880 /dev/zero | tr '\0' 'z' >big.raw
expect_status 1 "$VDISK" convert -n --verify -f raw -O raw disk.raw big.raw
grep -q 'content: differ at offset 4194304' out.txt ||
    fail "convert --verify: the tail is not named"
grep -q 'big.raw: verification failed; the output is kept' err.txt ||
    fail "convert --verify: failure not said"
[[ -s big.raw ]] || fail "convert --verify: output removed"

# --boot: the same serial transcript, with the marker, from every copy.
"$VDISK" verify --boot disk.raw disk.raw >boot.txt 2>&1
if [[ $? -eq 2 ]] && grep -q 'needs the emulator' boot.txt; then
    echo "verify: vdisk has no emulator, --boot not tested"
    echo PASS
    exit 0
fi
for fmt in qcow2 vhdx vmdk; do
    expect_status 0 "$VDISK" verify -F $fmt --expect "$marker" \
        disk.raw disk.$fmt
    grep -q "^boot: identical transcripts ([0-9]* bytes), '$marker' seen$" \
        out.txt || fail "$fmt: no boot line"
done
# A copy whose boot signature (55 AA) is gone does not boot.
cp disk.raw nosig.raw
printf '\0\0' | dd of=nosig.raw bs=1 seek=510 conv=notrunc status=none
"$VDISK" convert -f raw -O qcow2 nosig.raw nosig.qcow2 || fail "convert"
expect_status 1 "$VDISK" verify -F qcow2 --expect "$marker" --timeout 2 \
    disk.raw nosig.qcow2
grep -qx 'content: differ at offset 510 (source 0x55, target 0x00)' \
    out.txt || fail "damaged boot sector: content offset not named"
grep -q '^boot: transcripts differ at byte [0-9]* (line [0-9]*): ' \
    out.txt || fail "damaged boot sector: divergence not named"
grep -q 'target "Boot failed: not a bootable disk"' out.txt ||
    fail "damaged boot sector: target's line not shown"
expect_status 1 "$VDISK" verify -F qcow2 --expect "$marker" --timeout 2 \
    --output=json disk.raw nosig.qcow2
grep -q '"target-line": "Boot failed: not a bootable disk"' out.txt ||
    fail "damaged boot sector: json has no target-line"

# convert --verify=boot.
expect_status 0 "$VDISK" convert --verify=boot -f raw -O vmdk disk.raw \
    c2.vmdk
grep -q '^boot: identical transcripts' out.txt ||
    fail "convert --verify=boot: no boot line"
echo PASS
