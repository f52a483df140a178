# tests/cli/info.sh -- "info" on raw images: human and JSON output, the
# backing-chain list, and the errors for bad arguments and files.
. "$SRCDIR/common.sh"

# Host space in use depends on the file system: shown as SIZE (the cross
# checks compare it with qemu-img's exactly).
hide_disk_size()
{
    sed -e 's/^disk size: .*/disk size: SIZE/' \
        -e 's/"actual-size": [0-9]*/"actual-size": SIZE/'
}

qemu-img create -q -f raw data.img 1M
qemu-io -f raw -c 'write -P 0xab 64k 4k' -c 'write -P 1 512k 128k' \
    data.img >/dev/null
qemu-img create -q -f raw empty.img 0
qemu-img create -q -f raw odd.img 1049088
truncate -s 5G sparse.img
mkdir sub
qemu-img create -q -f raw 'sub/we"ird\name.img' 64k

run vdisk info data.img | hide_disk_size
run vdisk info --output=json data.img | hide_disk_size
run vdisk info --output=human -f raw data.img | hide_disk_size
run vdisk info -U --output=json -f raw data.img | hide_disk_size
run vdisk info --backing-chain data.img | hide_disk_size
# --object is accepted and ignored, as by qemu-img.
run vdisk info --object secret,id=s0,data=x data.img | hide_disk_size
run vdisk info --backing-chain --output=json data.img | hide_disk_size
run vdisk info empty.img | hide_disk_size
run vdisk info --output=json empty.img | hide_disk_size
run vdisk info odd.img | hide_disk_size
run vdisk info --output=json sparse.img | hide_disk_size
run vdisk info sparse.img | hide_disk_size
# Names are printed as given, JSON-escaped in JSON.
run vdisk info --output=json ./sub/'we"ird\name.img' | hide_disk_size
run vdisk info sub/'we"ird\name.img' | hide_disk_size
# Options may follow the file name.
run vdisk info data.img --output json -f raw | hide_disk_size

# Errors.
run vdisk info
run vdisk info data.img empty.img
run vdisk info missing.img
run vdisk info -f nosuchformat data.img
run vdisk info --output=xml data.img
run vdisk info --output
run vdisk info -f
run vdisk info --no-such-option data.img
run vdisk info -Ux data.img
run vdisk info --image-opts data.img
