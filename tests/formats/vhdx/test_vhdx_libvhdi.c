/* tests/formats/vhdx/test_vhdx_libvhdi.c -- a second, independent reader
 * of the images we write: libyal's vhdiinfo must accept them, and libvhdi
 * must read back the bytes we wrote (dynamic, fixed, 4 KiB sectors,
 * differencing).  Without libvhdi-utils / libvhdi-dev the tests fail. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBVHDI
#include <libvhdi.h>
#endif

#include "support/tmpdir.h"
#include "vhdx_testlib.h"

#define MIB (1u << 20)

/* Our image at path with a workload of writes; returns its content. */
static uint8_t *write_image(const char *path, size_t size, const char *opts)
{
    uint8_t *exp = calloc(1, size), buf[70000];
    tl_create(path, size, opts);
    img *im = tl_open(path, IMG_OPEN_RDWR);
    uint32_t st = (uint32_t)size;
    for (int i = 0; i < 12; i++) {
        size_t len = 4096 * (1 + tl_rand(&st) % 16);
        size_t off = (tl_rand(&st) % ((size - len) / 4096)) * 4096;
        tl_pattern(buf, len, st);
        cr_assert_eq(img_pwrite(im, buf, len, off, 0, NULL), 0);
        memcpy(exp + off, buf, len);
    }
    cr_assert_eq(img_pwrite_zeroes(im, MIB, MIB, 0, NULL), 0);
    memset(exp + MIB, 0, MIB);
    img_close(im);
    return exp;
}

/* vhdiinfo accepts path and prints its size and sector size. */
static void expect_vhdiinfo(const char *path, size_t size, int sector,
                            const char *type)
{
    tl_require_vhdiinfo();
    tl_sh("vhdiinfo '%s' >'%s.info' 2>&1", path, path);
    tl_sh("grep -q '(%zu bytes)' '%s.info'", size, path);
    tl_sh("grep -q 'Bytes per sector.*: %d bytes' '%s.info'", sector, path);
    tl_sh("grep -q 'Disk type.*: %s' '%s.info'", type, path);
}

#ifdef HAVE_LIBVHDI
/* Reads all of path (with its parent, if any) through libvhdi. */
static void expect_libvhdi_reads(const char *path, const char *parent,
                                 const uint8_t *exp, size_t size)
{
    libvhdi_file_t *f = NULL, *p = NULL;
    libvhdi_error_t *e = NULL;
    cr_assert_eq(libvhdi_file_initialize(&f, &e), 1);
    cr_assert_eq(libvhdi_file_open(f, path, LIBVHDI_OPEN_READ, &e), 1,
                 "libvhdi cannot open %s", path);
    if (parent) {
        cr_assert_eq(libvhdi_file_initialize(&p, &e), 1);
        cr_assert_eq(libvhdi_file_open(p, parent, LIBVHDI_OPEN_READ, &e), 1);
        cr_assert_eq(libvhdi_file_set_parent_file(f, p, &e), 1,
                     "libvhdi refuses the parent of %s", path);
    }
    size64_t media = 0;
    cr_assert_eq(libvhdi_file_get_media_size(f, &media, &e), 1);
    cr_assert_eq(media, size);
    uint8_t *buf = malloc(MIB);
    for (size_t off = 0; off < size; off += MIB) {
        size_t n = size - off < MIB ? size - off : MIB;
        cr_assert_eq(libvhdi_file_read_buffer_at_offset(f, buf, n,
                                                        (off64_t)off, &e),
                     (ssize_t)n);
        cr_assert(memcmp(buf, exp + off, n) == 0, "libvhdi reads other "
                  "bytes in the MiB at %zu", off);
    }
    free(buf);
    libvhdi_file_close(f, &e);
    libvhdi_file_free(&f, &e);
    if (p) {
        libvhdi_file_close(p, &e);
        libvhdi_file_free(&p, &e);
    }
}
#else
static void expect_libvhdi_reads(const char *path, const char *parent,
                                 const uint8_t *exp, size_t size)
{
    (void)path;
    (void)parent;
    (void)exp;
    (void)size;
    cr_assert_fail("libvhdi was not found when building: install "
                   "libvhdi-dev (scripts/deps.sh) and reconfigure");
}
#endif

static void check_config(const char *opts, size_t size, int sector,
                         const char *type)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "l.vhdx");
    uint8_t *exp = write_image(path, size, opts);
    expect_vhdiinfo(path, size, sector, type);
    expect_libvhdi_reads(path, NULL, exp, size);
    free(exp);
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_libvhdi, dynamic_image_reads_the_same)
{
    check_config("block_size=1M", 24 * MIB, 512, "Dynamic");
}

Test(vhdx_libvhdi, dynamic_8m_blocks_reads_the_same)
{
    check_config(NULL, 20 * MIB, 512, "Dynamic");
}

Test(vhdx_libvhdi, fixed_image_reads_the_same)
{
    check_config("subformat=fixed,block_size=2M", 12 * MIB, 512, "Fixed");
}

Test(vhdx_libvhdi, logical_sector_4096_reads_the_same)
{
    check_config("block_size=1M,logical_sector_size=4096,"
                 "physical_sector_size=4096", 12 * MIB, 4096, "Dynamic");
}

Test(vhdx_libvhdi, differencing_image_reads_the_same)
{
    char *dir = test_tmpdir_new();
    char *base = test_path(dir, "base.vhdx");
    char *child = test_path(dir, "child.vhdx");
    size_t size = 16 * MIB;
    uint8_t *exp = write_image(base, size, "block_size=1M");
    tl_create(child, size, "block_size=1M,backing_file=base.vhdx");
    img *im = tl_open(child, IMG_OPEN_RDWR);
    uint8_t buf[12345];
    tl_pattern(buf, sizeof(buf), 4);
    cr_assert_eq(img_pwrite(im, buf, sizeof(buf), 5 * MIB + 512, 0, NULL),
                 0);
    memcpy(exp + 5 * MIB + 512, buf, sizeof(buf));
    img_close(im);
    expect_vhdiinfo(child, size, 512, "Differential");
    expect_libvhdi_reads(child, base, exp, size);
    free(exp);
    free(base);
    free(child);
    test_tmpdir_free(dir);
}
