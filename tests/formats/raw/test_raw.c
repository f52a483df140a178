/* tests/formats/raw/test_raw.c -- the raw driver: create, preallocation,
 * resize, discard and block status over host files with holes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "libimg/img.h"
#include "support/tmpdir.h"

static img *open_path(const char *path, unsigned flags)
{
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open(path, "raw", flags, &im, &err), 0, "%s", err.msg);
    return im;
}

static char *create_raw(const char *dir, uint64_t size, const char *prealloc)
{
    char *path = test_path(dir, "disk.raw");
    img_opts *opts = img_opts_new(img_driver_create_opts(
        img_driver_find("raw")));
    img_err err = { 0 };
    if (prealloc) {
        cr_assert_eq(img_opts_set(opts, "preallocation", prealloc, &err), 0,
                     "%s", err.msg);
    }
    img_create_opts o = { .size = size, .opts = opts };
    cr_assert_eq(img_create(path, "raw", &o, &err), 0, "%s", err.msg);
    img_opts_free(opts);
    return path;
}

static uint64_t host_blocks(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    return (uint64_t)st.st_blocks * 512;
}

Test(raw, create_makes_file_of_virtual_size)
{
    char *dir = test_tmpdir_new();
    char *path = create_raw(dir, 3 << 20, NULL);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 3 << 20);
    /* Sparse: only the first block is written, as qemu-img does. */
    cr_assert(host_blocks(path) < (1 << 20));
    free(path);
    test_tmpdir_free(dir);
}

Test(raw, create_with_full_preallocation_allocates_everything)
{
    char *dir = test_tmpdir_new();
    char *path = create_raw(dir, 2 << 20, "full");
    cr_assert(host_blocks(path) >= (2 << 20));
    free(path);
    test_tmpdir_free(dir);
}

Test(raw, create_rejects_unknown_preallocation)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "disk.raw");
    img_opts *opts = img_opts_new(img_driver_create_opts(
        img_driver_find("raw")));
    cr_assert_eq(img_opts_set(opts, "preallocation", "maybe", NULL), 0);
    img_create_opts o = { .size = 1 << 20, .opts = opts };
    img_err err = { 0 };
    cr_assert_eq(img_create(path, "raw", &o, &err), -EINVAL);
    cr_assert(strstr(err.msg, "maybe") != NULL, "%s", err.msg);
    img_opts_free(opts);
    free(path);
    test_tmpdir_free(dir);
}

Test(raw, holes_report_zero_and_data_reports_data)
{
    char *dir = test_tmpdir_new();
    char *path = create_raw(dir, 4 << 20, NULL);
    img *im = open_path(path, IMG_OPEN_RDWR);
    uint8_t buf[65536];
    memset(buf, 0x11, sizeof(buf));
    cr_assert_eq(img_pwrite(im, buf, sizeof(buf), 2 << 20, 0, NULL), 0);
    cr_assert_eq(img_flush(im, NULL), 0);
    uint64_t pnum, host;
    int r = img_block_status(im, 2 << 20, 65536, &pnum, &host, NULL);
    cr_assert(r & IMG_BS_DATA);
    cr_assert(r & IMG_BS_OFFSET_VALID);
    cr_assert_eq(host, 2 << 20);
    r = img_block_status(im, 1 << 20, 1 << 20, &pnum, &host, NULL);
    cr_assert(r >= 0);
    if (r & IMG_BS_ZERO) {
        /* The filesystem reports holes: the whole run is a hole. */
        cr_assert_eq(pnum, 1 << 20);
        cr_assert_not(r & IMG_BS_DATA);
    }
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

Test(raw, discard_reads_back_zeros)
{
    char *dir = test_tmpdir_new();
    char *path = create_raw(dir, 1 << 20, NULL);
    img *im = open_path(path, IMG_OPEN_RDWR);
    uint8_t buf[65536];
    memset(buf, 0x77, sizeof(buf));
    cr_assert_eq(img_pwrite(im, buf, sizeof(buf), 65536, 0, NULL), 0);
    cr_assert_eq(img_discard(im, 65536, 65536, NULL), 0);
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 65536, NULL), 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        cr_assert_eq(buf[i], 0, "byte %zu not zero after discard", i);
    }
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

Test(raw, resize_grows_and_shrinks)
{
    char *dir = test_tmpdir_new();
    char *path = create_raw(dir, 1 << 20, NULL);
    img *im = open_path(path, IMG_OPEN_RDWR);
    cr_assert_eq(img_truncate(im, 3 << 20, IMG_PREALLOC_FALLOC, NULL), 0);
    cr_assert_eq(img_size(im), 3 << 20);
    cr_assert_eq(img_truncate(im, 512 << 10, IMG_PREALLOC_OFF, NULL), 0);
    img_close(im);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 512 << 10);
    free(path);
    test_tmpdir_free(dir);
}

Test(raw, measure_is_virtual_size_rounded_to_sectors)
{
    img_measure m = { 0 };
    cr_assert_eq(img_driver_measure(img_driver_find("raw"), NULL, 12345,
                                    NULL, &m, NULL), 0);
    cr_assert_eq(m.required, 12800);
    cr_assert_eq(m.fully_allocated, 12800);
}

Test(raw, unaligned_file_size_rounds_up_and_tail_reads_zero)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "odd.raw");
    uint8_t data[1000];
    memset(data, 0x42, sizeof(data));
    cr_assert_eq(test_write_file(path, data, sizeof(data)), 0);
    img *im = open_path(path, 0);
    cr_assert_eq(img_size(im), 1024);
    uint8_t buf[1024];
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 0, NULL), 0);
    cr_assert_eq(buf[999], 0x42);
    cr_assert_eq(buf[1000], 0);
    cr_assert_eq(buf[1023], 0);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}
