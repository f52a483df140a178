# tests/cross/resize_raw.sh -- "resize" of raw images against qemu-img:
# same stdout and exit status, and the same resulting file, for absolute
# and relative sizes, shrinking, preallocation and the error cases.
. "$SRCDIR/same_lib.sh"

both 'head -c 65536 /dev/zero | tr "\0" "\252" > a.raw && truncate -s 1M a.raw'

same resize a.raw 2M              # probed raw: a warning, then resized
same resize -f raw a.raw +1M
same resize -f raw a.raw -- +0
same resize -q -f raw a.raw 4M
same_files a.raw

same resize -f raw a.raw 1M       # shrinking needs --shrink
same resize -f raw a.raw -- -512K
same resize -f raw a.raw -512K
same resize --shrink -f raw a.raw -- -1M
same resize --shrink a.raw 1536K
same_files a.raw

same resize -f raw --preallocation=full a.raw 2M
same resize -f raw --preallocation=falloc a.raw 3M
same resize -f raw --preallocation=off a.raw 4M
same_files a.raw
same_map a.raw

# Errors.
same resize -f raw a.raw 0
same resize -f raw a.raw -- -100M
same resize -f raw --preallocation=full a.raw 1M
same resize -f raw --preallocation=bogus a.raw 5M
same resize -f raw --preallocation=metadata a.raw 5M
same resize -f raw a.raw 1x
same resize -f raw a.raw 9E
same resize -f raw a.raw -- +8E
same resize -f raw a.raw 16E
same resize -f raw a.raw 2M 3M
same resize a.raw
same resize
same resize -f nosuchfmt a.raw 1M
same resize nosuchfile 1M
same resize --no-such-option a.raw 1M
same_files a.raw

finish
