# tests/cli/convert_errors.sh -- "convert" argument errors, in qemu-img's
# order and words, and "-o help".  Nothing here creates an output file.
. "$SRCDIR/common.sh"

qemu-img create -q -f raw a.raw 1M

run vdisk convert
run vdisk convert a.raw
run vdisk convert -Z a.raw b.raw
run vdisk convert a.raw b.raw -f
run vdisk convert --bogus a.raw b.raw

# Option values.
run vdisk convert -S 100 a.raw b.raw
run vdisk convert -S 1x a.raw b.raw
run vdisk convert -S 32M a.raw b.raw
run vdisk convert -m 0 a.raw b.raw
run vdisk convert -m 17 a.raw b.raw
run vdisk convert -m 4x a.raw b.raw
run vdisk convert -r fast a.raw b.raw
run vdisk convert -o '' a.raw b.raw
run vdisk convert -o ,x a.raw b.raw
run vdisk convert -l snapshot.foo=1 a.raw b.raw

# Combinations refused before anything is opened.
run vdisk convert --skip-broken-bitmaps a.raw b.raw
run vdisk convert -c -C a.raw b.raw
run vdisk convert -S 4k -C a.raw b.raw
run vdisk convert -C --salvage a.raw b.raw
run vdisk convert --target-image-opts a.raw b.raw
run vdisk convert -n -o size=1M a.raw b.raw
run vdisk convert --target-is-zero a.raw b.raw
run vdisk convert -T bogus a.raw b.raw

# -o help lists the target format's options (protocol ones with a file).
run vdisk convert -O raw -o help
run vdisk convert -o help a.raw b.raw
run vdisk convert -O raw -o size=1M,help a.raw b.raw
run vdisk convert -O nosuchfmt -o help

# Refused once the sources are open.
run vdisk convert missing.raw b.raw
run vdisk convert -f nosuchfmt a.raw b.raw
run vdisk convert -O nosuchfmt a.raw b.raw
run vdisk convert -O raw -o bogus=1 a.raw b.raw
run vdisk convert -O raw -B a.raw a.raw b.raw
run vdisk convert -O raw -F raw a.raw b.raw
run vdisk convert -O raw -c a.raw b.raw
run vdisk convert -O raw -c -o preallocation=full a.raw b.raw
run vdisk convert -l snap a.raw b.raw
run vdisk convert -l snap a.raw a.raw b.raw
run vdisk convert --bitmaps a.raw b.raw
run vdisk convert --bitmaps a.raw a.raw b.raw
run vdisk convert -n a.raw b.raw
run vdisk convert -p missing.raw b.raw | tr '\r' '\n'
echo "leftover outputs: $(ls b.raw 2>/dev/null | wc -l)"
