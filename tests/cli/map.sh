# tests/cli/map.sh -- "map" on raw images: JSON and human output, merging
# of runs, --start-offset/--max-length windows and argument errors.
. "$SRCDIR/common.sh"

qemu-img create -q -f raw data.img 1M
qemu-io -f raw -c 'write -P 0xab 64k 4k' -c 'write -P 1 512k 128k' \
    -c 'write -P 2 656k 4k' data.img >/dev/null
qemu-img create -q -f raw empty.img 0
truncate -s 2M hole.img
qemu-img create -q -f raw -o preallocation=full full.img 192k
qemu-img create -q -f raw zeroed.img 1M
qemu-io -f raw -c 'write -P 5 0 64k' -c 'write -z 64k 64k' \
    -c 'write -P 5 128k 64k' zeroed.img >/dev/null

run vdisk map data.img
run vdisk map --output=json data.img
run vdisk map --output=human -f raw -U data.img
run vdisk map --object secret,id=s0,data=x --output=json data.img
run vdisk map --image-opts data.img
run vdisk map --output=json empty.img
run vdisk map empty.img
run vdisk map --output=json hole.img
run vdisk map hole.img
run vdisk map --output=json full.img
run vdisk map full.img
run vdisk map --output=json zeroed.img
run vdisk map zeroed.img

# Windows: unaligned start, lengths, past the end, size suffixes.
run vdisk map --output=json --start-offset=1000 data.img
run vdisk map --output=json --start-offset=65537 --max-length=70000 data.img
run vdisk map --output=json -s 1k -l 5k data.img
run vdisk map -s 64k -l 600k data.img
run vdisk map --output=json --start-offset=1M data.img
run vdisk map --output=json --start-offset=2M data.img
run vdisk map --start-offset=2M data.img
run vdisk map --output=json --max-length=0 data.img
run vdisk map --output=json --start-offset=100 \
    --max-length=9223372036854775807 data.img

# Errors.
run vdisk map
run vdisk map data.img hole.img
run vdisk map missing.img
run vdisk map -f nosuchformat data.img
run vdisk map --output=xml data.img
run vdisk map --start-offset=-1 data.img
run vdisk map --start-offset=1x data.img
run vdisk map --max-length=9E data.img
run vdisk map --max-length
run vdisk map -q data.img
