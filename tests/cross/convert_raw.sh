# tests/cross/convert_raw.sh -- "convert" against qemu-img: for the same
# inputs and options, vdisk's output must be identical to qemu-img's, in
# content and in allocation (qemu-img map), and qemu-img compare must find
# it identical to the source; images qemu-img writes (raw, and qcow2 with
# a backing chain) must read back identically through vdisk convert.
# Formats vdisk can create (qcow2, vhdx, vmdk) are checked the same way as
# soon as "vdisk create -f FMT" works.
set -u

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

qimg() { "$QEMU_IMG" "$@"; }
qio() { qemu-io "$@" >/dev/null; }
rawmap() { qimg map --output=json -f raw "$1"; }
# Both tools convert with OPTS; outputs must match each other and SRC.
both() {
    local opts=$1 out=$2
    shift 2
    rm -f "v-$out" "q-$out"
    # shellcheck disable=SC2086
    "$VDISK" convert $opts "$@" "v-$out" || fail "vdisk convert $opts $*"
    # shellcheck disable=SC2086
    qimg convert $opts "$@" "q-$out" || fail "qemu-img convert $opts $*"
    cmp -s "v-$out" "q-$out" || fail "content differs: $opts $*"
    [[ $(rawmap "v-$out") == "$(rawmap "q-$out")" ]] ||
        fail "allocation differs: $opts $*"
}

# ---- inputs ----
qimg create -q -f raw src.raw 24M
qio -f raw -c 'write -P 0x11 0 64k' -c 'write -P 0x22 1M 3M' \
    -c 'write -z 4M 1M' -c 'write -P 0 5M 1M' -c 'write -P 0x33 7M 4k' \
    src.raw
# Random data with zero runs of many sizes and alignments inside it.
head -c 4M /dev/urandom | dd of=src.raw bs=1M seek=10 conv=notrunc \
    status=none
zeros=()
for spec in 10485760+512 10490000+3000 10600000+4096 10700800+12288 \
            11000000+65536 12000000+1048576 14680064+8192; do
    zeros+=(-c "write -P 0 ${spec%%+*} ${spec##*+}")
done
qio -f raw "${zeros[@]}" src.raw
head -c 1000 /dev/urandom > odd.raw
qimg create -q -f raw small.raw 1M
qio -f raw -c 'write -P 0x44 4k 4k' small.raw

# ---- vdisk writes, qemu-img agrees ----
both "" out.raw src.raw
qimg compare -q -f raw -F raw src.raw v-out.raw ||
    fail "qemu-img compare src.raw v-out.raw"
for opts in "-S 0" "-S 512" "-S 12k" "-m 1 -f raw" "-m 16 -W -O raw" "-C"; do
    both "$opts" out.raw src.raw
done
both "" cat.raw odd.raw small.raw odd.raw src.raw

# -n into an image full of garbage, with and without --target-is-zero.
for opts in "-n" "-n -W"; do
    head -c 25M /dev/urandom > v-n.raw
    cp v-n.raw q-n.raw
    # shellcheck disable=SC2086
    "$VDISK" convert $opts src.raw v-n.raw || fail "vdisk convert $opts"
    # shellcheck disable=SC2086
    qimg convert $opts src.raw q-n.raw
    cmp -s v-n.raw q-n.raw || fail "-n content differs ($opts)"
    [[ $(rawmap v-n.raw) == "$(rawmap q-n.raw)" ]] ||
        fail "-n allocation differs ($opts)"
done
truncate -s 24M v-z.raw q-z.raw
"$VDISK" convert -n --target-is-zero src.raw v-z.raw ||
    fail "vdisk --target-is-zero"
qimg convert -n --target-is-zero src.raw q-z.raw
cmp -s v-z.raw q-z.raw || fail "--target-is-zero content differs"

# ---- qemu-img writes, vdisk reads back ----
qimg convert -O raw src.raw qsrc.raw
"$VDISK" convert qsrc.raw back.raw || fail "vdisk convert qsrc.raw"
cmp -s src.raw back.raw || fail "raw written by qemu-img reads differently"

qimg convert -O qcow2 src.raw q.qcow2
qimg convert -c -O qcow2 src.raw qc.qcow2
qimg create -q -f qcow2 -b q.qcow2 -F qcow2 top.qcow2
qio -c 'write -P 0x77 2M 1M' -c 'write -z 1M 64k' -c 'discard 7M 64k' \
    top.qcow2
for img in q.qcow2 qc.qcow2 top.qcow2; do
    both "" "$img.raw" "$img"
done
# With the target on the same backing, only the top layer is copied.
head -c 24M /dev/urandom > v-top.raw
cp v-top.raw q-top.raw
"$VDISK" convert -n -B q.qcow2 top.qcow2 v-top.raw || fail "vdisk -n -B"
qimg convert -n -B q.qcow2 top.qcow2 q-top.raw
cmp -s v-top.raw q-top.raw || fail "-n -B content differs"

# ---- formats vdisk can create ----
for fmt in qcow2 vhdx vmdk; do
    if ! "$VDISK" create -q -f "$fmt" probe."$fmt" 1M >/dev/null 2>&1; then
        echo "skipping -O $fmt: vdisk cannot create it yet"
        continue
    fi
    for opts in "" "-W"; do
        rm -f v."$fmt"
        # shellcheck disable=SC2086
        "$VDISK" convert $opts -O "$fmt" src.raw v."$fmt" ||
            fail "vdisk convert $opts -O $fmt"
        qimg compare -q -F raw -f "$fmt" v."$fmt" src.raw ||
            fail "qemu-img compare v.$fmt src.raw ($opts)"
        qimg check -q -f "$fmt" v."$fmt" || fail "qemu-img check v.$fmt"
    done
    qimg convert -O "$fmt" src.raw q."$fmt"
    "$VDISK" convert -f "$fmt" q."$fmt" back-"$fmt".raw ||
        fail "vdisk convert q.$fmt"
    cmp -s src.raw back-"$fmt".raw || fail "$fmt by qemu-img reads differently"
done
if "$VDISK" create -q -f qcow2 probe2.qcow2 1M >/dev/null 2>&1; then
    "$VDISK" convert -c -O qcow2 src.raw vc.qcow2 || fail "vdisk -c qcow2"
    qimg compare -q -F raw vc.qcow2 src.raw || fail "compressed qcow2 differs"
    qimg check -q vc.qcow2 || fail "qemu-img check vc.qcow2"
    "$VDISK" convert -O qcow2 -B q.qcow2 -F qcow2 top.qcow2 vb.qcow2 ||
        fail "vdisk -B qcow2"
    qimg compare -q vb.qcow2 top.qcow2 || fail "-B qcow2 content differs"
fi

if ((failures)); then
    echo "$failures failure(s)"
    exit 1
fi
echo "convert_raw: all checks passed"
