/* tests/verify/test_verify.c -- the content and structure checks of
 * verify/verify.h (issue 7).
 *
 * Content: raw memory images with zero holes and one differing byte at
 * offsets that stress the walk (first byte, block and window boundaries,
 * inside a hole, the last byte); qcow2 memory images whose unallocated
 * clusters must be skipped without being read; size mismatches.
 * Structure: a qcow2 file whose data cluster's refcount was cleared
 * fails the check, a clean one passes, raw is skipped.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/tmpdir.h"
#include "verify/verify.h"

#define MIB     (1u << 20)
#define CHUNK   VERIFY_CONTENT_CHUNK
/* Two full windows and a short third one, not a multiple of 4 KiB
 * (but of 512: raw sizes are rounded up to sectors). */
#define RAW_SIZE (2 * (size_t)CHUNK + 3 * 4096 + 1024)

/* Content with holes: data in some 64 KiB blocks, zeros elsewhere. */
static uint8_t *pattern_new(size_t size)
{
    uint8_t *buf = calloc(1, size);

    cr_assert_not_null(buf);
    for (size_t i = 0; i < size; i++) {
        if ((i >> 16) % 3 != 1) {
            buf[i] = (uint8_t)(i * 7 + (i >> 12) + 1);
        }
    }
    return buf;
}

/* A raw image in memory holding a copy of data. */
static img *raw_new(const uint8_t *data, size_t len)
{
    img_file *f = img_mem_file_new(data, len, 1);
    img_err err = { 0 };
    img *im = NULL;

    cr_assert_not_null(f);
    cr_assert_eq(img_open_file(f, "raw", IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK,
                               &im, &err), 0, "%s", err.msg);
    return im;
}

/* An empty qcow2 image of size bytes in memory (64 KiB clusters). */
static img *qcow2_new(uint64_t size)
{
    img_file *f = img_mem_file_new(NULL, 0, 1);
    img_create_opts o = { .size = size };
    img_err err = { 0 };
    img *im = NULL;

    cr_assert_not_null(f);
    cr_assert_eq(img_create_file(f, "qcow2", &o, &err), 0, "%s", err.msg);
    cr_assert_eq(img_open_file(f, "qcow2", IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK,
                               &im, &err), 0, "%s", err.msg);
    return im;
}

static void put(img *im, uint64_t off, const void *buf, uint64_t len)
{
    img_err err = { 0 };

    cr_assert_eq(img_pwrite(im, buf, len, off, 0, &err), 0, "%s", err.msg);
}

static verify_content_result compare(img *a, img *b)
{
    verify_content_result res;
    img_err err = { 0 };

    cr_assert_eq(verify_content(a, b, &res, &err), 0, "%s", err.msg);
    return res;
}

Test(verify_content, identical_raw_images_pass)
{
    uint8_t *data = pattern_new(RAW_SIZE);
    img *a = raw_new(data, RAW_SIZE), *b = raw_new(data, RAW_SIZE);
    verify_content_result res = compare(a, b);

    cr_assert_eq(res.status, VERIFY_PASSED);
    cr_assert_eq(res.compared + res.skipped, RAW_SIZE, "%llu + %llu",
                 (unsigned long long)res.compared,
                 (unsigned long long)res.skipped);
    cr_assert_eq(res.src_size, RAW_SIZE);
    img_close(a);
    img_close(b);
    free(data);
}

/* One byte of the target changed at off: the report names exactly it. */
static void assert_diff_found(const uint8_t *data, uint64_t off)
{
    uint8_t *copy = malloc(RAW_SIZE);

    cr_assert_not_null(copy);
    memcpy(copy, data, RAW_SIZE);
    copy[off] ^= 0x5a;
    img *a = raw_new(data, RAW_SIZE), *b = raw_new(copy, RAW_SIZE);
    verify_content_result res = compare(a, b);

    cr_assert_eq(res.status, VERIFY_FAILED, "offset %llu",
                 (unsigned long long)off);
    cr_assert_eq(res.diff_offset, off, "found %llu, changed %llu",
                 (unsigned long long)res.diff_offset,
                 (unsigned long long)off);
    cr_assert_eq(res.src_byte, data[off]);
    cr_assert_eq(res.dst_byte, copy[off]);
    cr_assert_eq(res.size_mismatch, 0);
    img_close(a);
    img_close(b);
    free(copy);
}

Test(verify_content, single_differing_byte_found_anywhere)
{
    static const uint64_t offsets[] = {
        0, 1, 4095, 4096, 65535,
        65536 + 100,            /* inside a hole (block 1 is zeros) */
        CHUNK - 1, CHUNK, CHUNK + 1, 2 * (uint64_t)CHUNK - 1,
        RAW_SIZE - 1000, RAW_SIZE - 2,
        RAW_SIZE - 1,           /* the last byte */
    };
    uint8_t *data = pattern_new(RAW_SIZE);

    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        assert_diff_found(data, offsets[i]);
    }
    free(data);
}

/* qcow2 on both sides: unallocated clusters are skipped, not read. */
Test(verify_content, qcow2_holes_are_skipped)
{
    img *a = qcow2_new(4 * MIB), *b = qcow2_new(4 * MIB);
    uint8_t buf[65536];

    memset(buf, 0xab, sizeof(buf));
    put(a, 0, buf, sizeof(buf));
    put(b, 0, buf, sizeof(buf));
    put(a, 3 * MIB, buf, sizeof(buf));
    put(b, 3 * MIB, buf, sizeof(buf));
    verify_content_result res = compare(a, b);

    cr_assert_eq(res.status, VERIFY_PASSED);
    cr_assert_eq(res.compared, 2 * sizeof(buf), "compared %llu",
                 (unsigned long long)res.compared);
    cr_assert_eq(res.skipped, 4 * MIB - 2 * sizeof(buf));
    img_close(a);
    img_close(b);
}

/* A byte written into a cluster the source never allocated. */
Test(verify_content, data_in_a_source_hole_is_found)
{
    img *a = qcow2_new(4 * MIB), *b = qcow2_new(4 * MIB);
    uint8_t one = 1;

    put(b, 2 * MIB + 777, &one, 1);
    verify_content_result res = compare(a, b);

    cr_assert_eq(res.status, VERIFY_FAILED);
    cr_assert_eq(res.diff_offset, 2 * MIB + 777);
    cr_assert_eq(res.src_byte, 0);
    cr_assert_eq(res.dst_byte, 1);
    img_close(a);
    img_close(b);
}

/* raw against qcow2 (the usual conversion), last byte differing. */
Test(verify_content, raw_against_qcow2_last_byte)
{
    uint8_t *data = pattern_new(2 * MIB);
    img *a = raw_new(data, 2 * MIB), *b = qcow2_new(2 * MIB);

    put(b, 0, data, 2 * MIB);
    cr_assert_eq(compare(a, b).status, VERIFY_PASSED);
    data[2 * MIB - 1] ^= 1;
    put(b, 2 * MIB - 1, &data[2 * MIB - 1], 1);
    verify_content_result res = compare(a, b);
    cr_assert_eq(res.status, VERIFY_FAILED);
    cr_assert_eq(res.diff_offset, 2 * MIB - 1);
    img_close(a);
    img_close(b);
    free(data);
}

Test(verify_content, smaller_target_fails_at_its_end)
{
    uint8_t *data = pattern_new(MIB);
    img *a = raw_new(data, MIB), *b = raw_new(data, MIB - 512);
    verify_content_result res = compare(a, b);

    cr_assert_eq(res.status, VERIFY_FAILED);
    cr_assert_eq(res.size_mismatch, 1);
    cr_assert_eq(res.diff_offset, MIB - 512);
    img_close(a);
    img_close(b);
    free(data);
}

/* A target rounded up with zeros passes; with data in the tail it fails
 * at the first non-zero byte. */
Test(verify_content, larger_target_needs_a_zero_tail)
{
    uint8_t *data = pattern_new(MIB + 4096);

    memset(data + MIB, 0, 4096);
    img *a = raw_new(data, MIB), *b = raw_new(data, MIB + 4096);
    cr_assert_eq(compare(a, b).status, VERIFY_PASSED);
    img_close(b);
    data[MIB + 100] = 9;
    b = raw_new(data, MIB + 4096);
    verify_content_result res = compare(a, b);
    cr_assert_eq(res.status, VERIFY_FAILED);
    cr_assert_eq(res.size_mismatch, 1);
    cr_assert_eq(res.diff_offset, MIB + 100);
    img_close(a);
    img_close(b);
    free(data);
}

/* ---- structure ---- */

static uint64_t get_be64(int fd, uint64_t off)
{
    uint8_t b[8];
    uint64_t v = 0;

    cr_assert_eq(pread(fd, b, 8, (off_t)off), 8);
    for (int i = 0; i < 8; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

/* A 1 MiB qcow2 file with one data cluster at guest offset 0. */
static void make_qcow2_file(const char *path)
{
    img_create_opts o = { .size = MIB };
    img_err err = { 0 };
    img *im = NULL;
    uint8_t buf[4096];

    memset(buf, 0xcd, sizeof(buf));
    cr_assert_eq(img_create(path, "qcow2", &o, &err), 0, "%s", err.msg);
    cr_assert_eq(img_open(path, "qcow2", IMG_OPEN_RDWR, &im, &err), 0,
                 "%s", err.msg);
    put(im, 0, buf, sizeof(buf));
    img_close(im);
}

/* Sets the 16-bit refcount of the cluster holding guest cluster 0 to 0. */
static void clear_data_refcount(const char *path)
{
    int fd = open(path, O_RDWR);
    uint8_t zero[2] = { 0, 0 };

    cr_assert(fd >= 0);
    uint64_t l2 = get_be64(fd, get_be64(fd, 40)) & 0x00fffffffffffe00ull;
    uint64_t host = get_be64(fd, l2) & 0x00fffffffffffe00ull;
    uint64_t refblock = get_be64(fd, get_be64(fd, 48));
    cr_assert_neq(host, 0);
    cr_assert_eq(pwrite(fd, zero, 2, (off_t)(refblock + 2 * (host >> 16))),
                 2);
    close(fd);
}

static verify_structure_result check_file(const char *path, const char *fmt)
{
    verify_structure_result res;
    img_err err = { 0 };
    img *im = NULL;

    cr_assert_eq(img_open(path, fmt, IMG_OPEN_QUIET, &im, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(verify_structure(im, &res, &err), 0, "%s", err.msg);
    img_close(im);
    return res;
}

Test(verify_structure, corrupted_qcow2_refcount_fails)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "t.qcow2");

    make_qcow2_file(path);
    cr_assert_eq(check_file(path, "qcow2").status, VERIFY_PASSED);
    clear_data_refcount(path);
    verify_structure_result res = check_file(path, "qcow2");
    cr_assert_eq(res.status, VERIFY_FAILED);
    cr_assert_gt(res.check.corruptions, 0);
    free(path);
    test_tmpdir_free(dir);
}

Test(verify_structure, raw_is_skipped_not_passed)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "t.raw");
    uint8_t buf[4096] = { 1 };

    cr_assert_eq(test_write_file(path, buf, sizeof(buf)), 0);
    cr_assert_eq(check_file(path, "raw").status, VERIFY_SKIPPED);
    free(path);
    test_tmpdir_free(dir);
}
