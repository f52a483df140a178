# tests/cross/convert_read_once.sh -- convert reads its sources once: a
# dense source that was not in the page cache leaves it again once copied
# (IMG_OPEN_READ_ONCE, libimg/file_host.c), and so does a backing file;
# a source that was in the cache stays there.  "Leaves" allows a quarter
# of the file: the kernel's read-ahead for one worker may bring back pages
# another worker has just dropped.  Where the kernel cannot
# tell what is cached (no cachestat(2), before Linux 6.5) nothing may be
# dropped, and that is what is checked there.  "Stays" allows a
# sixteenth to go: on a busy machine a few pages of a cached file leave
# the cache on their own (seen: 2 to 15 of 8192 with eight copies of
# this test and the qcow2 suite running), while dropping leaves at most
# a quarter.  qemu-img compare checks every output against its source.
set -u

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

pages_cached() { fincore --noheadings --raw --output PAGES "$1"; }
# Writes the file back, then drops it from the page cache (GNU dd).
evict() {
    sync "$1"
    dd if="$1" iflag=nocache count=0 status=none
}
have_cachestat() {
    python3 - "$1" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
rng = (ctypes.c_uint64 * 2)(0, 0)
stat = (ctypes.c_uint64 * 5)()
sys.exit(0 if libc.syscall(451, fd, rng, stat, 0) == 0 else 1)
EOF
}

# Converts src to raw, notes how many pages of base.raw are cached right
# after (in $after: compare reads it again), then checks the copy with
# qemu-img compare.
convert_checked() {
    local src=$1 out=$2
    rm -f "$out"
    "$VDISK" convert -O raw "$src" "$out" || fail "vdisk convert $src"
    after=$(pages_cached base.raw)
    "$QEMU_IMG" compare -q "$src" "$out" || fail "$out differs from $src"
}

head -c 32M /dev/urandom >base.raw
"$QEMU_IMG" create -q -f qcow2 -b base.raw -F raw top.qcow2 32M
qemu-io -c 'write -q -P 0x11 0 1M' top.qcow2 >/dev/null
all=$((32 * 1024 * 1024 / $(getconf PAGESIZE)))

evict base.raw
if [[ $(pages_cached base.raw) != 0 ]]; then
    fail "cannot evict base.raw here: $(pages_cached base.raw) pages stay"
fi
# Pages of a cold source that may stay cached after the copy.
if have_cachestat base.raw; then
    cold_max=$((all / 4))
else
    echo "no cachestat(2) here: a cold source must stay cached"
    cold_max=$all
fi
# Checks that at most max (and, without cachestat, all) pages stayed.
# check_cached WHAT MAX: at most MAX pages of base.raw were cached after
# the convert; MAX = all means the file had to stay (all but 1/16).
check_cached() {
    local what=$1 max=$2 n=$after
    if ((n > max)) || ((max == all && n < all - all / 16)); then
        fail "$what: $n of $all pages cached, want" \
             "$( ((max == all)) && echo "nearly all" || echo "at most $max")"
    fi
}

convert_checked base.raw out.raw
check_cached "cold raw source" "$cold_max"

evict base.raw
evict top.qcow2
convert_checked top.qcow2 out2.raw
check_cached "cold backing file" "$cold_max"

cat base.raw >/dev/null
convert_checked base.raw out3.raw
check_cached "cached source" "$all"

if ((failures > 0)); then
    echo "$failures failure(s)"
    exit 1
fi
echo "convert_read_once: all checks passed"
