# shellcheck shell=bash
# tests/cli/common.sh -- helpers for golden CLI tests; source it first:
#
#   . "$SRCDIR/common.sh"
#   run vdisk create -f raw a.img 1M
#
# run_golden.sh starts each test in a fresh directory with VDISK (our
# binary), QEMU_IMG (the reference qemu-img), SRCDIR (tests/cli), DATADIR
# (tests/data) and TMPDIR set, and compares everything printed with TEST.out
# after replacing the test directory by "TEST_DIR".

# "vdisk" and "qemu-img" as commands, so scripts read like a shell session.
vdisk()
{
    "$VDISK" "$@"
}

qemu-img()
{
    command "$QEMU_IMG" "$@"
}

# run CMD [ARGS...]: prints "$ CMD ARGS", then the command's stdout and
# stderr (merged), then "[exit N]" with its exit status.  The binaries'
# paths are shown as "vdisk" and "qemu-img".
run()
{
    local shown=() arg status
    for arg in "$@"; do
        if [[ $arg == "$VDISK" ]]; then
            arg=vdisk
        elif [[ $arg == "$QEMU_IMG" ]]; then
            arg=qemu-img
        fi
        shown+=("$arg")
    done
    printf '$ %s\n' "${shown[*]}"
    "$@" </dev/null 2>&1
    status=$?
    printf '[exit %d]\n' "$status"
}
