/* tests/formats/vhdx/test_vhdx_read.c -- reading images made by qemu-img
 * and written by qemu-io (QEMU writes its BAT updates through the VHDX
 * log): dynamic and fixed files, block sizes 1, 8 and 32 MiB, a 2 MiB log,
 * virtual sizes that are not a multiple of the block size.  Our reads must
 * equal "qemu-img convert -O raw", and block status must never call data
 * zero. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/tmpdir.h"
#include "vhdx_testlib.h"

/* qemu-io commands: patterns at block edges, unaligned spans, a span
 * across blocks, zero writes. */
static const char io_cmds[] =
    "-c 'write -P 0xab 0 4k' "
    "-c 'write -P 0x5c 1000k 100k' "
    "-c 'write -P 0x3e 7m 2m' "
    "-c 'write -P 0x77 12345k 8k' "
    "-c 'write -z 7680k 64k' "
    "-c 'write -P 0x19 15872k 512'";

/* Makes dir/name with qemu-img and qemu-io, and dir/name.raw from it. */
static char *make_qemu_image(const char *dir, const char *name,
                             const char *opts, const char *size)
{
    char *path = test_path(dir, name);
    tl_sh("qemu-img create -q -f vhdx -o '%s' '%s' %s", opts, path, size);
    tl_sh("qemu-io -f vhdx %s '%s' >/dev/null", io_cmds, path);
    tl_sh("qemu-img convert -f vhdx -O raw '%s' '%s.raw'", path, path);
    return path;
}

/* Block status over the whole image: every range called zero reads as
 * zero in the reference. */
static void expect_status_honest(img *im, const char *raw_path)
{
    size_t len;
    uint8_t *raw = tl_slurp(raw_path, &len);
    uint64_t off = 0;
    while (off < img_size(im)) {
        uint64_t pnum = 0, host = 0;
        img_err err = { 0 };
        int r = img_block_status(im, off, img_size(im) - off, &pnum, &host,
                                 &err);
        cr_assert(r >= 0, "block status at %" PRIu64 ": %s", off, err.msg);
        cr_assert(pnum > 0);
        if ((r & IMG_BS_ZERO) && !(r & IMG_BS_DATA)) {
            for (uint64_t i = off; i < off + pnum; i++) {
                if (raw[i]) {
                    cr_assert_fail("byte %" PRIu64 " called zero", i);
                }
            }
        }
        off += pnum;
    }
    free(raw);
}

static void check_config(const char *opts, const char *size)
{
    tl_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = make_qemu_image(dir, "q.vhdx", opts, size);
    char raw[4096];
    snprintf(raw, sizeof(raw), "%s.raw", path);
    img *im = tl_open(path, 0);
    tl_expect_raw_file(im, raw);
    expect_status_honest(im, raw);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_read, dynamic_1m_blocks_equals_qemu)
{
    check_config("block_size=1M", "16M");
}

Test(vhdx_read, dynamic_8m_blocks_equals_qemu)
{
    check_config("block_size=8M", "20M");
}

Test(vhdx_read, dynamic_32m_blocks_equals_qemu)
{
    check_config("block_size=32M", "48M");
}

Test(vhdx_read, dynamic_default_blocks_no_zero_state_equals_qemu)
{
    check_config("block_state_zero=off", "16M");
}

Test(vhdx_read, dynamic_2m_log_equals_qemu)
{
    check_config("log_size=2M,block_size=2M", "17M");
}

Test(vhdx_read, fixed_1m_blocks_equals_qemu)
{
    check_config("subformat=fixed,block_size=1M", "16M");
}

Test(vhdx_read, fixed_8m_blocks_odd_size_equals_qemu)
{
    check_config("subformat=fixed,block_size=8M", "17000k");
}

Test(vhdx_read, info_reports_block_size_as_cluster_size)
{
    tl_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "h.vhdx");
    tl_sh("qemu-img create -q -f vhdx '%s' 8M", path);
    img *im = tl_open(path, 0);
    img_info info;
    cr_assert_eq(img_get_info(im, &info, NULL), 0);
    cr_assert_eq(info.cluster_size, 8u << 20, "qemu-img's cluster_size is "
                 "the block size");
    cr_assert_null(info.format_specific);
    img_info_clear(&info);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_read, probe_finds_vhdx_by_signature)
{
    tl_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "p.vhdx");
    tl_sh("qemu-img create -q -f vhdx '%s' 8M", path);
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open(path, NULL, IMG_OPEN_QUIET, &im, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(img_format(im), "vhdx");
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}
