# tests/cli/create_errors.sh -- "create" refuses bad input with qemu-img's
# exit status 1 and creates nothing: usage errors, sizes, unknown formats
# and options, backing files for raw, malformed -o lists.
. "$SRCDIR/common.sh"

run vdisk create
run vdisk create -f
run vdisk create --no-such-option o.raw 1M
run vdisk create -x o.raw 1M
run vdisk create o.raw 1M extra
run vdisk create o.raw
run vdisk create -o size=2M o.raw 1M
run vdisk create o.raw 1x
run vdisk create o.raw 1e3
run vdisk create o.raw 1.5
run vdisk create o.raw 8E
run vdisk create o.raw 18446744073709551616
run vdisk create o.raw -1
run vdisk create o.raw -- -1
run vdisk create -o size=1x o.raw
run vdisk create -o size=18446744073709551615 o.raw
run vdisk create -f nosuchfmt o.raw 1M
run vdisk create -f nosuchfmt -o help
run vdisk create -f raw -b base.raw o.raw 1M
run vdisk create -f raw -F raw o.raw 1M
run vdisk create -o foo=bar o.raw 1M
run vdisk create -o nocow=maybe o.raw 1M
run vdisk create -o nocow o.raw 1M
run vdisk create -o ,size=1k o.raw
run vdisk create -o size=1k, o.raw
run vdisk create -o 'size=1k,,' o.raw
run vdisk create -o '' o.raw 1k
run vdisk create -o helpx o.raw 1k
run vdisk create --image-opts o.raw 1k
run vdisk create nosuchdir/o.raw 1M
ls
