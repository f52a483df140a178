# tests/cli/resize_raw.sh -- "resize" of raw images: absolute and relative
# sizes (a negative size needs no "--"), --shrink, preallocation, -q, the
# warning for a probed raw image, and the errors.
. "$SRCDIR/common.sh"

size() { stat -c "%n %s" "$@"; }

qemu-img create -q -f raw a.raw 1M
qemu-io -f raw -c 'write -P 0xab 0 64k' a.raw >/dev/null
run vdisk resize a.raw 2M
run vdisk resize -f raw a.raw +1M
run vdisk resize -f raw a.raw -- +0
run vdisk resize -q -f raw a.raw 4M
size a.raw
run vdisk resize -f raw a.raw 1M
run vdisk resize -f raw a.raw -512K
run vdisk resize --shrink -f raw a.raw -- -1M
run vdisk resize --shrink -f raw a.raw 64k
size a.raw
run vdisk resize -f raw --preallocation=full a.raw 128k
run vdisk resize -f raw --preallocation=falloc a.raw 192k
run vdisk resize -f raw --preallocation=off a.raw 256k
size a.raw
echo "pattern mismatches: $(qemu-io -f raw -c 'read -P 0xab 0 64k' \
    -c 'read -P 0 64k 192k' a.raw | grep -c 'Pattern verification')"

# Errors leave the image alone.
run vdisk resize -f raw a.raw 0
run vdisk resize -f raw a.raw -- -100M
run vdisk resize -f raw --preallocation=full a.raw 64k
run vdisk resize -f raw --preallocation=bogus a.raw 1M
run vdisk resize -f raw --preallocation=metadata a.raw 1M
run vdisk resize -f raw a.raw 1x
run vdisk resize -f raw a.raw 16E
run vdisk resize -f raw a.raw 9E
run vdisk resize -f raw a.raw -- +8E
run vdisk resize -f raw a.raw 2M 3M
run vdisk resize a.raw
run vdisk resize
run vdisk resize -f nosuchfmt a.raw 1M
run vdisk resize nosuchfile 1M
run vdisk resize --no-such-option a.raw 1M
run vdisk resize --preallocation
size a.raw
