# tests/cross/emu_guests.sh -- the protected-mode CPU test guests
# (tests/emu/guests) booted from a disk image on QEMU's TCG
# (qemu-system-i386 -M isapc with SeaBIOS) and on "vdisk boot": both must
# print the same result after SeaBIOS hands over to the boot sector, and
# that result must be the guest's success output.  The guests are built
# here with --defsym QEMU_TCG=1, which skips the checks where QEMU is
# laxer than the SDM (see pmode.S).  Needs as, ld, qemu-system-i386 and
# SeaBIOS (Debian: binutils, qemu-system-x86, seabios).
set -u
guests=$SRCDIR/../emu/guests
bios=${VDISK_BIOS:-/usr/share/seabios/bios.bin}
qemu=${QEMU_SYSTEM:-qemu-system-i386}
fail=0

for tool in as ld "$qemu"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "emu_guests: $tool not found" >&2
        exit 1
    fi
done
[[ -r $bios ]] || { echo "emu_guests: no SeaBIOS at $bios" >&2; exit 1; }

# build NAME [AS_FLAGS...]: assembles and links guests/NAME.S to NAME.bin.
build() {
    local name=$1
    shift
    as --32 "$@" -I "$guests" -o "$name.o" "$guests/$name.S" &&
        ld -m elf_i386 -Ttext=0x7c00 -e _start --oformat binary \
            -o "$name.bin" "$name.o"
}

# after_boot FILE: what the guest printed (everything after SeaBIOS's
# "Booting from 0000:7c00" line on the debug console).
after_boot() {
    sed -n '/^Booting from 0000:7c00$/,$p' "$1" | tail -n +2
}

# run_qemu IMAGE OUT: boots IMAGE until the guest reports or QEMU exits
# (a triple fault with -no-reboot), at most 60 s.
run_qemu() {
    "$qemu" -M isapc -bios "$bios" -display none -nodefaults -no-reboot \
        -drive "file=$1,format=raw,if=ide" \
        -chardev "file,id=dbg,path=$2" \
        -device isa-debugcon,iobase=0x402,chardev=dbg >/dev/null 2>&1 &
    local pid=$! i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        if [[ -f $2 ]] && after_boot "$2" | grep -q 'PASS\|FAIL'; then
            break
        fi
        sleep 0.2
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

build loader || exit 1
for g in pmode:PASS ring3:PASS legacy:PASS triple:PM; do
    name=${g%%:*} want=${g#*:}
    build "$name" --defsym QEMU_TCG=1 || exit 1
    cat loader.bin "$name.bin" >"$name.img"
    truncate -s 1M "$name.img"
    run_qemu "$name.img" "$name.qemu"
    "$VDISK" boot -f raw "$name.img" --debugcon "$name.vdisk" \
        --timeout 10 >/dev/null 2>&1
    q=$(after_boot "$name.qemu") v=$(after_boot "$name.vdisk")
    if [[ $q != "$want" || $v != "$want" ]]; then
        echo "$name: QEMU printed '$q', vdisk '$v', expected '$want'" >&2
        fail=1
    fi
done
exit "$fail"
