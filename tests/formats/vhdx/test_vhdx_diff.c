/* tests/formats/vhdx/test_vhdx_diff.c -- differencing VHDX files: the
 * parent locator (relative_path, parent_linkage), reads falling back to
 * the parent, copy-on-write, PARTIALLY_PRESENT blocks read sector by
 * sector through the sector bitmap, the DataWriteGuid linkage check and
 * the untrusted-mode rules of the core. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/vhdx/vhdx.h"
#include "support/tmpdir.h"
#include "vhdx_testlib.h"

#define MIB (1u << 20)
#define SIZE (16 * MIB)

/* A parent at dir/base.vhdx whose every byte is a pattern; returns its
 * content (SIZE bytes). */
static uint8_t *make_parent(const char *path)
{
    uint8_t *data = malloc(SIZE);
    tl_pattern(data, SIZE, 77);
    tl_create(path, SIZE, "block_size=1M");
    img *im = tl_open(path, IMG_OPEN_RDWR);
    cr_assert_eq(img_pwrite(im, data, SIZE, 0, 0, NULL), 0);
    img_close(im);
    return data;
}

/* Creates child with a backing file name as given. */
static void make_child(const char *child, const char *backing)
{
    char opts[1024];
    snprintf(opts, sizeof(opts), "block_size=1M,backing_file=%s", backing);
    tl_create(child, SIZE, opts);
}

Test(vhdx_diff, child_reads_parent_and_copies_on_write)
{
    char *dir = test_tmpdir_new();
    char *base = test_path(dir, "base.vhdx");
    char *child = test_path(dir, "child.vhdx");
    uint8_t *expected = make_parent(base);
    size_t blen0, blen1;
    make_child(child, "base.vhdx");
    uint8_t *before = tl_slurp(base, &blen0);
    img *im = tl_open(child, 0);
    cr_assert_str_eq(img_backing_name(im), "base.vhdx");
    cr_assert_str_eq(img_backing_format(im), "vhdx");
    cr_assert_not_null(img_backing(im));
    tl_expect_content(im, expected, SIZE);
    img_close(im);
    im = tl_open(child, IMG_OPEN_RDWR);
    uint8_t buf[10000];
    tl_pattern(buf, sizeof(buf), 3);
    cr_assert_eq(img_pwrite(im, buf, sizeof(buf), 3 * MIB - 77, 0, NULL), 0);
    memcpy(expected + 3 * MIB - 77, buf, sizeof(buf));
    cr_assert_eq(img_pwrite_zeroes(im, 8 * MIB, MIB, 0, NULL), 0);
    memset(expected + 8 * MIB, 0, MIB);
    /* Discard frees a present block (it reads zeros) but leaves the
     * parent's blocks alone. */
    cr_assert_eq(img_pwrite(im, buf, sizeof(buf), 10 * MIB, 0, NULL), 0);
    cr_assert_eq(img_discard(im, 10 * MIB, 2 * MIB, NULL), 0);
    memset(expected + 10 * MIB, 0, MIB);
    cr_assert_eq(img_pwrite_zeroes(im, 12 * MIB + 4096, 4096, 0, NULL), 0);
    memset(expected + 12 * MIB + 4096, 0, 4096);
    tl_expect_content(im, expected, SIZE);
    img_close(im);
    im = tl_open(child, 0);
    tl_expect_content(im, expected, SIZE);
    /* Unwritten blocks are the parent's: not allocated in the child. */
    uint64_t pnum, host;
    int r = img_block_status(im, 0, MIB, &pnum, &host, NULL);
    cr_assert_eq(r & IMG_BS_ALLOCATED, 0);
    /* A zeroed block hides the parent: a present block of zeros (no ZERO
     * state in differencing files, see vhdx_write.c). */
    r = img_block_status(im, 8 * MIB, MIB, &pnum, &host, NULL);
    cr_assert(r & IMG_BS_ALLOCATED);
    img_close(im);
    cr_assert_eq(tl_bat_entry(child, 0), VHDX_PAYLOAD_NOT_PRESENT);
    cr_assert_eq(tl_bat_entry(child, 8) & 7, VHDX_PAYLOAD_FULLY_PRESENT);
    cr_assert_eq(tl_bat_entry(child, 4096) & 7, VHDX_SB_PRESENT,
                 "every chunk has its sector bitmap");
    uint8_t *after = tl_slurp(base, &blen1);
    cr_assert(blen0 == blen1 && !memcmp(before, after, blen0),
              "the parent changed");
    free(before);
    free(after);
    free(expected);
    free(base);
    free(child);
    test_tmpdir_free(dir);
}

Test(vhdx_diff, absolute_backing_name_is_stored_relative)
{
    char *dir = test_tmpdir_new();
    char *bdir = test_path(dir, "b");
    char *cdir = test_path(dir, "c");
    cr_assert_eq(mkdir(bdir, 0755), 0);
    cr_assert_eq(mkdir(cdir, 0755), 0);
    char *base = test_path(bdir, "base.vhdx");
    char *child = test_path(cdir, "child.vhdx");
    uint8_t *expected = make_parent(base);
    make_child(child, base);
    img *im = tl_open(child, 0);
    cr_assert_str_eq(img_backing_name(im), "../b/base.vhdx");
    tl_expect_content(im, expected, SIZE);
    img_close(im);
    /* Untrusted mode keeps references inside the image's directory. */
    img *u = NULL;
    img_err err = { 0 };
    cr_assert_lt(tl_open_err(child, IMG_OPEN_UNTRUSTED, &u, &err), 0);
    cr_assert(strstr(err.msg, "outside"), "%s", err.msg);
    free(expected);
    free(base);
    free(child);
    free(bdir);
    free(cdir);
    test_tmpdir_free(dir);
}

Test(vhdx_diff, changed_parent_breaks_the_linkage)
{
    char *dir = test_tmpdir_new();
    char *base = test_path(dir, "base.vhdx");
    char *child = test_path(dir, "child.vhdx");
    uint8_t *expected = make_parent(base);
    make_child(child, "base.vhdx");
    img *im = tl_open(base, IMG_OPEN_RDWR);
    cr_assert_eq(img_pwrite(im, "x", 1, 0, 0, NULL), 0);
    img_close(im);
    im = tl_open(child, 0);
    uint8_t buf[512];
    img_err err = { 0 };
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 0, &err), -EIO);
    cr_assert(strstr(err.msg, "parent_linkage"), "%s", err.msg);
    img_check_result res;
    cr_assert_eq(img_check(im, &res, 0, NULL), 0);
    cr_assert_eq(res.corruptions, 1);
    img_close(im);
    free(expected);
    free(base);
    free(child);
    test_tmpdir_free(dir);
}

Test(vhdx_diff, create_needs_a_matching_vhdx_parent)
{
    char *dir = test_tmpdir_new();
    char *base = test_path(dir, "base.vhdx");
    char *child = test_path(dir, "child.vhdx");
    tl_create(base, SIZE, "logical_sector_size=4096");
    img_err err = { 0 };
    cr_assert_lt(tl_create_err(child, SIZE, "backing_file=base.vhdx", &err),
                 0);
    cr_assert(strstr(err.msg, "logical sector size"), "%s", err.msg);
    cr_assert_lt(tl_create_err(child, 2 * SIZE, "backing_file=base.vhdx,"
                               "logical_sector_size=4096", &err), 0);
    cr_assert(strstr(err.msg, "size of its parent"), "%s", err.msg);
    cr_assert_lt(tl_create_err(child, SIZE, "backing_file=base.vhdx,"
                               "backing_fmt=qcow2", &err), 0);
    cr_assert_lt(tl_create_err(child, SIZE, "backing_file=base.vhdx,"
                               "subformat=fixed", &err), 0);
    free(base);
    free(child);
    test_tmpdir_free(dir);
}

Test(vhdx_diff, partially_present_block_reads_through_the_sector_bitmap)
{
    char *dir = test_tmpdir_new();
    char *base = test_path(dir, "base.vhdx");
    char *child = test_path(dir, "child.vhdx");
    uint8_t *expected = make_parent(base);
    make_child(child, "base.vhdx");
    /* Block 3 is PARTIALLY_PRESENT at 8 MiB; chunk 0's sector bitmap
     * (BAT index = chunk ratio 4096) is at 9 MiB.  Sectors of block 3
     * present: 0-7, 16-23, 2047. */
    uint8_t *blk = malloc(MIB), *bits = calloc(1, 256);
    tl_pattern(blk, MIB, 5);
    bits[0] = 0xff;
    bits[2] = 0xff;
    bits[255] = 0x80;
    tl_patch(child, 8 * MIB, blk, MIB);
    tl_patch(child, 9 * MIB + 3 * 2048 / 8, bits, 256);
    uint8_t z = 0;
    tl_patch(child, 10 * MIB - 1, &z, 1);
    uint8_t e[8];
    uint64_t bat = 2 * MIB; /* as create lays out a 1 MiB log */
    vhdx_put64(e, 8 * MIB | VHDX_PAYLOAD_PARTIALLY_PRESENT);
    tl_patch(child, bat + 3 * 8, e, 8);
    vhdx_put64(e, 9 * MIB | VHDX_SB_PRESENT);
    tl_patch(child, bat + 4096 * 8, e, 8);
    uint8_t *b3 = expected + 3 * MIB;
    memcpy(b3, blk, 8 * 512);
    memcpy(b3 + 16 * 512, blk + 16 * 512, 8 * 512);
    memcpy(b3 + 2047 * 512, blk + 2047 * 512, 512);
    img *im = tl_open(child, 0);
    tl_expect_content(im, expected, SIZE);
    uint64_t pnum, host;
    int r = img_block_status(im, 3 * MIB, MIB, &pnum, &host, NULL);
    cr_assert(r & IMG_BS_DATA);
    cr_assert_eq(pnum, 8 * 512);
    cr_assert_eq(host, 8 * MIB);
    r = img_block_status(im, 3 * MIB + 4096, MIB - 4096, &pnum, &host, NULL);
    cr_assert_eq(r & IMG_BS_ALLOCATED, 0);
    cr_assert_eq(pnum, 8 * 512);
    img_check_result res;
    cr_assert_eq(img_check(im, &res, 0, NULL), 0);
    cr_assert_eq(res.corruptions, 0);
    img_close(im);
    /* A write to it turns it into a FULLY_PRESENT block with the same
     * content around the write. */
    im = tl_open(child, IMG_OPEN_RDWR);
    cr_assert_eq(img_pwrite(im, "abc", 3, 3 * MIB + 9000, 0, NULL), 0);
    memcpy(b3 + 9000, "abc", 3);
    img_close(im);
    cr_assert_eq(tl_bat_entry(child, 3) & 7, VHDX_PAYLOAD_FULLY_PRESENT);
    im = tl_open(child, 0);
    tl_expect_content(im, expected, SIZE);
    img_close(im);
    free(blk);
    free(bits);
    free(expected);
    free(base);
    free(child);
    test_tmpdir_free(dir);
}
