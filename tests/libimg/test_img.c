/* tests/libimg/test_img.c -- image handles: open, probing, range and
 * read-only checks, the probed-raw sector 0 guard, block status. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>

#include "libimg/img.h"
#include "support/tmpdir.h"

static img *open_mem(const void *data, size_t len, const char *fmt,
                     unsigned flags)
{
    img_file *f = img_mem_file_new(data, len, flags & IMG_OPEN_RDWR);
    cr_assert_not_null(f);
    img *im = NULL;
    img_err err = { 0 };
    int r = img_open_file(f, fmt, flags | IMG_OPEN_NO_LOCK | IMG_OPEN_QUIET,
                          &im, &err);
    cr_assert_eq(r, 0, "open failed: %s", err.msg);
    return im;
}

Test(img, open_memory_raw_reports_size_and_format)
{
    uint8_t data[8192] = { 1, 2, 3 };
    img *im = open_mem(data, sizeof(data), "raw", 0);
    cr_assert_eq(img_size(im), 8192);
    cr_assert_str_eq(img_format(im), "raw");
    cr_assert_eq(img_probed_raw(im), 0);
    img_close(im);
}

Test(img, probing_unknown_content_gives_raw_and_marks_it)
{
    uint8_t data[4096];
    memset(data, 0x5a, sizeof(data));
    img *im = open_mem(data, sizeof(data), NULL, 0);
    cr_assert_str_eq(img_format(im), "raw");
    cr_assert_eq(img_probed_raw(im), 1);
    img_close(im);
}

Test(img, pread_returns_content)
{
    uint8_t data[4096];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 7);
    }
    img *im = open_mem(data, sizeof(data), "raw", 0);
    uint8_t buf[100];
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 1000, NULL), 0);
    cr_assert_arr_eq(buf, data + 1000, sizeof(buf));
    img_close(im);
}

Test(img, read_beyond_end_is_refused)
{
    uint8_t data[4096] = { 0 };
    img *im = open_mem(data, sizeof(data), "raw", 0);
    uint8_t buf[16];
    img_err err = { 0 };
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 4090, &err), -EINVAL);
    cr_assert(strstr(err.msg, "beyond the end") != NULL, "%s", err.msg);
    /* An offset so large that off + len wraps around is refused too. */
    cr_assert_eq(img_pread(im, buf, sizeof(buf), UINT64_MAX - 4, NULL),
                 -EINVAL);
    img_close(im);
}

Test(img, write_to_read_only_image_is_refused)
{
    uint8_t data[4096] = { 0 };
    img *im = open_mem(data, sizeof(data), "raw", 0);
    img_err err = { 0 };
    cr_assert_eq(img_pwrite(im, data, 512, 0, 0, &err), -EPERM);
    cr_assert_eq(img_pwrite_zeroes(im, 0, 512, 0, NULL), -EPERM);
    cr_assert_eq(img_truncate(im, 8192, IMG_PREALLOC_OFF, NULL), -EPERM);
    img_close(im);
}

Test(img, written_data_reads_back)
{
    uint8_t data[8192] = { 0 };
    img *im = open_mem(data, sizeof(data), "raw", IMG_OPEN_RDWR);
    uint8_t pattern[1000];
    memset(pattern, 0xab, sizeof(pattern));
    cr_assert_eq(img_pwrite(im, pattern, sizeof(pattern), 3000, 0, NULL), 0);
    uint8_t back[1000];
    cr_assert_eq(img_pread(im, back, sizeof(back), 3000, NULL), 0);
    cr_assert_arr_eq(back, pattern, sizeof(back));
    cr_assert_eq(img_pwrite_zeroes(im, 3500, 100, 0, NULL), 0);
    cr_assert_eq(img_pread(im, back, sizeof(back), 3000, NULL), 0);
    cr_assert_eq(back[499], 0xab);
    cr_assert_eq(back[500], 0);
    cr_assert_eq(back[599], 0);
    cr_assert_eq(back[600], 0xab);
    img_close(im);
}

Test(img, probed_raw_refuses_header_of_another_format)
{
    uint8_t data[4096] = { 0 };
    img *im = open_mem(data, sizeof(data), NULL, IMG_OPEN_RDWR);
    cr_assert_eq(img_probed_raw(im), 1);
    uint8_t sector[512] = { 0 };
    /* A plain boot sector keeps probing as raw: allowed. */
    sector[510] = 0x55;
    sector[511] = 0xaa;
    cr_assert_eq(img_pwrite(im, sector, 512, 0, 0, NULL), 0);
    /* A partial write of sector 0 is refused. */
    cr_assert_eq(img_pwrite(im, sector, 100, 0, 0, NULL), -EINVAL);
    /* Writes after sector 0 are not restricted. */
    cr_assert_eq(img_pwrite(im, sector, 100, 600, 0, NULL), 0);
    img_close(im);
}

Test(img, explicit_raw_format_has_no_sector0_guard)
{
    uint8_t data[4096] = { 0 };
    img *im = open_mem(data, sizeof(data), "raw", IMG_OPEN_RDWR);
    uint8_t small[10] = { 'Q', 'F', 'I', 0xfb };
    cr_assert_eq(img_pwrite(im, small, sizeof(small), 0, 0, NULL), 0);
    img_close(im);
}

Test(img, unknown_format_name_is_an_error)
{
    img_file *f = img_mem_file_new("x", 1, 0);
    img *im = NULL;
    img_err err = { 0 };
    int r = img_open_file(f, "nosuchfmt", IMG_OPEN_NO_LOCK, &im, &err);
    cr_assert_eq(r, -EINVAL);
    cr_assert_null(im);
    cr_assert(strstr(err.msg, "nosuchfmt") != NULL, "%s", err.msg);
}

Test(img, force_share_with_write_is_refused)
{
    img_file *f = img_mem_file_new("x", 1, 1);
    img *im = NULL;
    int r = img_open_file(f, "raw", IMG_OPEN_RDWR | IMG_OPEN_FORCE_SHARE,
                          &im, NULL);
    cr_assert_eq(r, -EINVAL);
    cr_assert_null(im);
}

Test(img, missing_file_gives_enoent_and_names_it)
{
    img *im = NULL;
    img_err err = { 0 };
    int r = img_open("/nonexistent/dir/x.img", NULL, 0, &im, &err);
    cr_assert_eq(r, -ENOENT);
    cr_assert_null(im);
    cr_assert(strstr(err.msg, "No such file") != NULL, "%s", err.msg);
}

Test(img, block_status_length_is_bounded_by_request)
{
    uint8_t data[65536] = { 0 };
    img *im = open_mem(data, sizeof(data), "raw", 0);
    uint64_t pnum = 0, host = 0;
    int r = img_block_status(im, 4096, 8192, &pnum, &host, NULL);
    cr_assert(r >= 0);
    cr_assert(r & IMG_BS_ALLOCATED);
    cr_assert(pnum >= 1 && pnum <= 8192);
    cr_assert_eq(img_block_status(im, 65536, 1, &pnum, &host, NULL),
                 -EINVAL);
    img_close(im);
}

Test(img, block_status_above_without_backing_is_this_layer)
{
    uint8_t data[4096] = { 0 };
    img *im = open_mem(data, sizeof(data), "raw", 0);
    uint64_t pnum = 0, host = 0;
    int depth = -1;
    img *file_img = NULL;
    int r = img_block_status_above(im, NULL, 0, 4096, &pnum, &host, &depth,
                                   &file_img, NULL);
    cr_assert(r & IMG_BS_ALLOCATED);
    cr_assert_eq(depth, 0);
    cr_assert_eq(file_img, im);
    img_close(im);
}

Test(img, create_then_open_host_raw)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "a.raw");
    img_create_opts o = { .size = 1 << 20 };
    img_err err = { 0 };
    cr_assert_eq(img_create(path, "raw", &o, &err), 0, "%s", err.msg);
    img *im = NULL;
    cr_assert_eq(img_open(path, "raw", 0, &im, &err), 0, "%s", err.msg);
    cr_assert_eq(img_size(im), 1 << 20);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

Test(img, create_with_unknown_format_leaves_no_file)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "a.img");
    img_create_opts o = { .size = 1 << 20 };
    cr_assert_eq(img_create(path, "bogus", &o, NULL), -EINVAL);
    cr_assert_neq(access(path, F_OK), 0);
    free(path);
    test_tmpdir_free(dir);
}

Test(img, prealloc_names_parse)
{
    int mode = -1;
    cr_assert_eq(img_prealloc_parse("full", &mode, NULL), 0);
    cr_assert_eq(mode, IMG_PREALLOC_FULL);
    img_err err = { 0 };
    cr_assert_eq(img_prealloc_parse("sometimes", &mode, &err), -EINVAL);
    cr_assert(strstr(err.msg, "sometimes") != NULL);
}
