# tests/cross/create_raw.sh -- "create" of raw images against qemu-img:
# same stdout ("Formatting ..." and "-o help"), same exit status, and the
# same file, content and allocation, for sizes, -o options and errors.
# (Sizes are multiples of 512: qemu rounds others up, see the report on
# formats/raw.)
. "$SRCDIR/same_lib.sh"

# -o help, with and without a target file name.
same create -f raw -o help
same create -f raw -o help x.raw
same create -o '?'
same create -o size=1M,help
same create -o help -o size=1M x.raw
same create -f nosuchfmt -o help

# Sizes from the argument or from -o size.
same create a.raw 1M
same create -f raw b.raw 1.5M
same create -o size=2M c.raw
same create -o size=2M -o size=3M d.raw
same create -o size=0x1000 e.raw
same create f.raw 0
same create -q g.raw 64k
same create h.raw 0.5k
same create -- i.raw 1k
same_files a.raw b.raw c.raw d.raw e.raw f.raw g.raw h.raw i.raw
same_map a.raw b.raw c.raw g.raw

# Protocol options: shown in the Formatting line in table order.
same create -o preallocation=full j.raw 100K
same create -o preallocation=off,nocow=on k.raw 100K
same create -o size=4k,nocow=yes,preallocation=off,extent_size_hint=0 l.raw
same create -o extent_size_hint=1.5k m.raw 1k
same create -o preallocation=falloc n.raw 100K
same_files j.raw k.raw l.raw m.raw n.raw
same_map j.raw k.raw l.raw m.raw

# Errors: exit status 1 and nothing on stdout.
same create
same create o.raw
same create -o size=2M o.raw 1M
same create -f nosuchfmt o.raw 1M
same create -f raw -b a.raw o.raw 1M
same create -f raw -F raw o.raw 1M
same create -o foo=bar o.raw 1M
same create -o nocow=maybe o.raw 1M
same create -o size=1x o.raw
same create -o size=18446744073709551615 o.raw
same create -o ,size=1k o.raw
same create -o size=1k, o.raw
same create -o '' o.raw 1k
same create o.raw 1x
same create o.raw 1e3
same create o.raw 8E
same create o.raw -1
same create o.raw -- -1
same create o.raw 1M extra
same create -f
same create --no-such-option o.raw 1M
same_files o.raw

finish
