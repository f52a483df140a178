# tests/cross/raw_unaligned_size.sh -- raw files whose length is not a
# multiple of 512 look like qemu-img shows them.
#
# QEMU counts a raw image in whole 512-byte sectors: a 12-byte file has a
# virtual size of 512, and map shows the bytes past the end of the file as
# a zero run.  "info", "map" and "measure" must print the same as qemu-img
# (stdout and exit status).  Run through run_cross.sh.
set -u

failures=0

# same ARGS...: compares stdout and exit status of vdisk and qemu-img.
same()
{
    local ours theirs
    ours=$("$VDISK" "$@" 2>/dev/null; echo "[exit $?]")
    theirs=$("$QEMU_IMG" "$@" 2>/dev/null; echo "[exit $?]")
    if [[ $ours != "$theirs" ]]; then
        echo "DIFFERS: $*"
        diff <(printf '%s\n' "$theirs") <(printf '%s\n' "$ours") |
            sed 's/^/    /'
        failures=$((failures + 1))
    fi
}

printf 'not a header' >text.img || exit 1
head -c 1000 /dev/zero | tr '\0' 'x' >kilo.img || exit 1
truncate -s 1048676 tailhole.img || exit 1
printf 'end' | dd of=tailhole.img bs=1 seek=1048673 conv=notrunc \
    status=none || exit 1

for img in text.img kilo.img tailhole.img; do
    same info --output=json -f raw "$img"
    same info "$img"
    same map --output=json "$img"
    same map "$img"
    same map --output=json --start-offset=13 "$img"
    same measure --output=json -O raw "$img"
done
# --size is rounded up to whole sectors for raw.
same measure --output=json --size 1000
same measure -O raw --size 1

if ((failures > 0)); then
    echo "$failures comparisons differ"
    exit 1
fi
