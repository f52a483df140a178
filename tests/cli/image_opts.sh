# tests/cli/image_opts.sh -- --image-opts: every command that opens an
# existing image takes a QEMU option string instead of its file name.
# Where qemu-img answers, "same" runs both and prints "same" when their
# output and exit status match (qemu-img is the reference each run).
. "$SRCDIR/common.sh"

same()
{
    diff <("$VDISK" "$@" 2>&1; echo "[exit $?]") \
         <(command "$QEMU_IMG" "$@" 2>&1; echo "[exit $?]") && echo same
}

qemu-img create -q -f qcow2 a.qcow2 4M
qemu-io -f qcow2 -c 'write -P 7 1M 64k' a.qcow2 >/dev/null
qemu-img create -q -f raw b.raw 4M
qemu-io -f raw -c 'write -P 7 1M 64k' b.raw >/dev/null
q=driver=qcow2,file.filename=a.qcow2

run same info --image-opts "$q"
run same info --output=json --image-opts "$q"
run same info --output=json --image-opts file.driver=file,file.filename=a.qcow2
# The file itself, read as raw (qemu-img names that format "file").
run vdisk info --image-opts driver=file,filename=b.raw
run same map --output=json --image-opts "$q"
run same check --output=json --image-opts "$q"
run same compare --image-opts "$q" driver=raw,file.filename=b.raw
run same measure -O qcow2 --output=json --image-opts "$q"

# Reading: convert (every source) and dd.
run vdisk convert --image-opts -O raw "$q" out.raw
run qemu-img compare out.raw b.raw
run vdisk dd --image-opts if="$q" of=dd.raw -O raw bs=64k
run qemu-img compare dd.raw b.raw

# Writing: snapshot, resize, amend, rebase, commit.
cp a.qcow2 c.qcow2
c=driver=qcow2,file.filename=c.qcow2
run vdisk snapshot -c s1 --image-opts "$c"
run vdisk resize --image-opts "$c" 8M
run vdisk amend --image-opts -o lazy_refcounts=on "$c"
qemu-img info c.qcow2 | grep -E 'virtual size|lazy refcounts'
qemu-img snapshot -l c.qcow2 | awk 'NR > 2 { print "snapshot:", $2 }'
qemu-img create -q -f qcow2 -b c.qcow2 -F qcow2 top.qcow2
qemu-io -f qcow2 -c 'write -P 9 0 64k' top.qcow2 >/dev/null
run vdisk rebase -u -b c.qcow2 -F qcow2 --image-opts \
    driver=qcow2,file.filename=top.qcow2
run vdisk commit --image-opts driver=qcow2,file.filename=top.qcow2
qemu-io -f qcow2 -c 'read -P 9 0 64k' -c 'read -P 7 1M 64k' c.qcow2 |
    grep '^read'
run qemu-img check c.qcow2

# Errors: what QEMU refuses (in its words, as "vdisk: SPEC: what"), and
# what vdisk does not do (other protocols).
run vdisk info -f qcow2 --image-opts "$q"
run vdisk info --image-opts "$q,foo=1"
run vdisk info --image-opts "$q,file.aio=native"
run vdisk info --image-opts driver=qcow2,filename=a.qcow2
run vdisk measure --image-opts
run vdisk convert --image-opts -f raw -O raw "$q" x.raw
run ls x.raw
run vdisk info --image-opts a.qcow2
run vdisk info --image-opts driver=qcow2,file.driver=nbd,file.filename=x
run vdisk info --image-opts "$q,read-only=yes"
run vdisk resize --image-opts "$q,read-only=on" 16M
run vdisk info --image-opts driver=qcow2,file.filename=missing.qcow2
run vdisk convert --target-image-opts -n -O raw a.qcow2 "$q"
