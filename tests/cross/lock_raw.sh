# tests/cross/lock_raw.sh -- vdisk honours QEMU's image locks: while a QEMU
# process (qemu-io) has an image open for writing, vdisk refuses to convert
# it or write it, and -U (force-share) still allows read-only use; while
# vdisk holds an image for writing, qemu-img refuses it too.
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }

$QEMU_IMG create -q -f raw a.raw 4M || fail "qemu-img create"
qemu-io -f raw -c 'write -P 0x5a 0 64k' a.raw >/dev/null || fail "qemu-io"

# A QEMU writer holds a.raw until it is killed.
qemu-io -f raw -c 'sleep 20000' a.raw >/dev/null 2>&1 &
holder=$!
trap 'kill $holder 2>/dev/null; wait $holder 2>/dev/null' EXIT

# Wait (bounded) until its locks show in /proc/locks.  Polling with vdisk
# itself would race: our short-lived locks can make qemu-io's open fail.
ino=$(stat -c %i a.raw)
locked=0
for _ in $(seq 1 300); do
    if grep -q "OFDLCK.*:$ino " /proc/locks; then
        locked=1
        break
    fi
    kill -0 $holder 2>/dev/null || fail "qemu-io exited early"
    sleep 0.1
done
[ $locked = 1 ] || fail "qemu-io never took its lock"
"$VDISK" convert -f raw -O raw a.raw b.raw 2>err.txt &&
    fail "convert of an image in use succeeded"
grep -q 'Failed to get shared "write" lock' err.txt ||
    fail "unexpected message: $(cat err.txt)"
[ ! -e b.raw ] || fail "a failed convert left its output behind"

# (qemu-img itself lets this resize through, since qemu-io shares resize;
# vdisk never writes an image another process is writing.)
"$VDISK" resize -f raw a.raw 8M 2>err.txt &&
    fail "resize of an image in use succeeded"
grep -q 'Failed to get .*"write" lock' err.txt ||
    fail "unexpected resize message: $(cat err.txt)"

# Force-share: read-only use works and reads the data.
"$VDISK" convert -U -f raw -O raw a.raw c.raw || fail "convert -U failed"
$QEMU_IMG compare -f raw -F raw a.raw c.raw >/dev/null ||
    fail "convert -U output differs"
kill $holder; wait $holder 2>/dev/null
trap - EXIT

# Released: the image is usable again.
"$VDISK" convert -f raw -O raw a.raw d.raw || fail "convert after unlock"
echo "ok"
