# tests/cli/usage_errors.sh -- the top-level command line rejects what it
# cannot dispatch: no command, unknown commands and unknown options, with
# exit status 1; through a "qemu-img" symlink messages name "qemu-img";
# --help prints the general help.
# shellcheck shell=bash source=tests/cli/common.sh
. "$SRCDIR/common.sh"

run vdisk
run vdisk --untrusted
run vdisk no-such-command
run vdisk --no-such-option info
run vdisk -x
# The general help: every command's syntax, then what the parameters mean.
run vdisk --help
# An unknown option is printed whole, however long (as qemu-img does).
run vdisk compare "--$(printf 'x%.0s' {1..1500})" a b

# The same binary invoked under qemu-img's name.
ln -s "$VDISK" qemu-img
run ./qemu-img
run ./qemu-img frobnicate disk.img
