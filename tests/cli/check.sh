# tests/cli/check.sh -- "check": raw has no consistency check (exit 63),
# and the argument errors qemu-img reports before opening anything.
. "$SRCDIR/common.sh"

qemu-img create -q -f raw data.img 1M

run vdisk check data.img
run vdisk check -f raw data.img
run vdisk check --output=json data.img
run vdisk check -q -U data.img
run vdisk check -T none data.img
# Repairing opens read-write: an unnamed raw format is warned about.
run vdisk check -r leaks data.img
run vdisk check -r all -f raw data.img
run vdisk check --repair=leaks -f raw data.img
# --object is accepted and ignored (nothing here needs secrets), as by
# qemu-img; with --image-opts a bare file name is not an option string.
run vdisk check --object secret,id=s0,data=x data.img
run vdisk check --image-opts data.img

# Errors.
run vdisk check
run vdisk check data.img data.img
run vdisk check missing.img
run vdisk check -f nosuchformat data.img
run vdisk check --output=xml data.img
run vdisk check -r foo data.img
run vdisk check -r all -U data.img
run vdisk check -T foo data.img
run vdisk check -r
run vdisk check --bogus data.img
