/* tests/formats/qcow2/qcow2_shadow.c -- see qcow2_shadow.h. */
#include "qcow2_shadow.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2_oracle.h"
#include "support/tmpdir.h"

/* Parses opts against the qcow2 create options. */
static img_opts *parse_opts(const char *opts)
{
    const img_driver *drv = img_driver_find("qcow2");
    cr_assert_not_null(drv);
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    img_err err = { 0 };
    cr_assert_not_null(o);
    if (opts && *opts) {
        cr_assert_eq(img_opts_parse(o, opts, &err), 0, "options %s: %s", opts,
                     err.msg);
    }
    return o;
}

static void open_rw(const char *path, shadow_img *sh)
{
    img_err err = { 0 };
    int r =
        img_open(path, "qcow2", IMG_OPEN_RDWR | IMG_OPEN_QUIET, &sh->im, &err);
    cr_assert_eq(r, 0, "open %s: %s", path, err.msg);
    img_info info;
    cr_assert_eq(img_get_info(sh->im, &info, &err), 0, "%s", err.msg);
    sh->cluster = info.cluster_size;
    img_info_clear(&info);
    sh->size = img_size(sh->im);
}

void shadow_create(const char *path, const char *opts, uint64_t size,
                   shadow_img *sh)
{
    memset(sh, 0, sizeof(*sh));
    img_opts *o = parse_opts(opts);
    img_create_opts co = { .size = size, .opts = o };
    img_err err = { 0 };
    cr_assert_eq(img_create(path, "qcow2", &co, &err), 0, "create: %s",
                 err.msg);
    img_opts_free(o);
    open_rw(path, sh);
    sh->data = calloc(1, sh->size ? sh->size : 1);
    cr_assert_not_null(sh->data);
    sh->zero_discard = 1;
}

void shadow_open(const char *path, shadow_img *sh)
{
    memset(sh, 0, sizeof(*sh));
    open_rw(path, sh);
    sh->data = malloc(sh->size ? sh->size : 1);
    cr_assert_not_null(sh->data);
    img_err err = { 0 };
    cr_assert_eq(img_pread(sh->im, sh->data, sh->size, 0, &err), 0, "%s",
                 err.msg);
    sh->zero_discard = 1;
}

/* Data that compresses somewhat: runs of the seed with noise. */
static void fill(uint8_t *p, uint64_t len, uint8_t seed, uint64_t off)
{
    for (uint64_t i = 0; i < len; i++) {
        uint64_t x = (off + i) * 2654435761u;
        p[i] = (x >> 13) % 5 == 0 ? (uint8_t)(x >> 7) : seed;
    }
}

void shadow_write(shadow_img *sh, uint64_t off, uint64_t len, uint8_t seed,
                  unsigned flags)
{
    uint8_t *buf = malloc(len ? len : 1);
    cr_assert_not_null(buf);
    fill(buf, len, seed, off);
    img_err err = { 0 };
    int r = img_pwrite(sh->im, buf, len, off, flags, &err);
    cr_assert_eq(r, 0, "write %" PRIu64 "+%" PRIu64 " (flags %u): %s", off, len,
                 flags, err.msg);
    memcpy(sh->data + off, buf, len);
    free(buf);
}

void shadow_zero(shadow_img *sh, uint64_t off, uint64_t len, unsigned flags)
{
    img_err err = { 0 };
    int r = img_pwrite_zeroes(sh->im, off, len, flags, &err);
    cr_assert_eq(r, 0, "zero %" PRIu64 "+%" PRIu64 ": %s", off, len, err.msg);
    memset(sh->data + off, 0, len);
}

void shadow_discard(shadow_img *sh, uint64_t off, uint64_t len)
{
    img_err err = { 0 };
    int r = img_discard(sh->im, off, len, &err);
    cr_assert_eq(r, 0, "discard %" PRIu64 "+%" PRIu64 ": %s", off, len,
                 err.msg);
    /* whole clusters only, and the image's last cluster */
    uint64_t c = sh->cluster;
    uint64_t start = (off + c - 1) / c * c, end = off + len;
    if (end != sh->size) {
        end = end / c * c;
    }
    if (start < end && sh->zero_discard) {
        memset(sh->data + start, 0, end - start);
    }
}

void shadow_flush(shadow_img *sh)
{
    img_err err = { 0 };
    cr_assert_eq(img_flush(sh->im, &err), 0, "flush: %s", err.msg);
}

void shadow_verify(const shadow_img *sh)
{
    uint8_t *buf = malloc(sh->size ? sh->size : 1);
    cr_assert_not_null(buf);
    img_err err = { 0 };
    cr_assert_eq(img_pread(sh->im, buf, sh->size, 0, &err), 0, "read: %s",
                 err.msg);
    for (uint64_t i = 0; i < sh->size; i++) {
        if (buf[i] != sh->data[i]) {
            cr_assert_fail("byte %" PRIu64 " reads %#x, expected %#x", i,
                           buf[i], sh->data[i]);
        }
    }
    free(buf);
}

static uint64_t rnd(unsigned *state, uint64_t n)
{
    *state = *state * 1103515245u + 12345u;
    uint64_t hi = *state >> 8;
    *state = *state * 1103515245u + 12345u;
    return n ? ((hi << 16) ^ (*state >> 8)) % n : 0;
}

/* A compressed write: whole clusters (the image's last may be short). */
static void random_compressed(shadow_img *sh, unsigned *st, uint8_t seed)
{
    uint64_t c = sh->cluster, n = (sh->size + c - 1) / c;
    uint64_t first = rnd(st, n), count = 1 + rnd(st, 3);
    if (first + count > n) {
        count = n - first;
    }
    uint64_t off = first * c, len = count * c;
    if (off + len > sh->size) {
        len = sh->size - off;
    }
    shadow_write(sh, off, len, seed, IMG_WRITE_COMPRESSED);
}

void shadow_random(shadow_img *sh, unsigned seed, int ops, int compressed)
{
    /* SHADOW_SEED replays another workload (for debugging) */
    const char *env = getenv("SHADOW_SEED");
    unsigned st = env ? (unsigned)strtoul(env, NULL, 10) : seed;
    for (int i = 0; i < ops; i++) {
        uint64_t op = rnd(&st, 10);
        uint64_t off = rnd(&st, sh->size);
        uint64_t max =
            sh->size - off < 3 * sh->cluster ? sh->size - off : 3 * sh->cluster;
        uint64_t len = 1 + rnd(&st, max);
        if (getenv("SHADOW_DEBUG")) {
            fprintf(stderr, "op %d: %d %lu+%lu\n", i, (int)op,
                    (unsigned long)off, (unsigned long)len);
        }
        if (op < 5) {
            shadow_write(sh, off, len, (uint8_t)(i + 1), 0);
        } else if (op == 5) {
            shadow_zero(sh, off, len, rnd(&st, 2) ? IMG_WRITE_MAY_UNMAP : 0);
        } else if (op == 6) {
            shadow_discard(sh, off, len);
        } else if (op == 7 && compressed) {
            random_compressed(sh, &st, (uint8_t)(i + 1));
        } else if (op == 8) {
            shadow_flush(sh);
        } else {
            shadow_verify(sh);
        }
    }
    shadow_verify(sh);
}

void shadow_close(shadow_img *sh)
{
    img_close(sh->im);
    sh->im = NULL;
}

void shadow_free(shadow_img *sh)
{
    img_close(sh->im);
    free(sh->data);
    memset(sh, 0, sizeof(*sh));
}

void shadow_dump(const shadow_img *sh, const char *path)
{
    cr_assert_eq(test_write_file(path, sh->data, sh->size), 0);
}

void oracle_qemu_check_clean(const char *path)
{
    oracle_sh("qemu-img check -q '%s'", path);
}

void oracle_qemu_compare(const char *path, const char *raw)
{
    oracle_sh("qemu-img compare -q -f qcow2 -F raw '%s' '%s'", path, raw);
}

void oracle_qcowinfo(const char *path)
{
    cr_assert_eq(test_sh("command -v qcowinfo >/dev/null"), 0,
                 "qcowinfo (libqcow-utils) is needed");
    oracle_sh("qcowinfo '%s' >/dev/null", path);
}

void oracle_vdisk_check_clean(const char *path)
{
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open(path, "qcow2", IMG_OPEN_QUIET, &im, &err), 0, "%s",
                 err.msg);
    img_check_result res;
    cr_assert_eq(img_check(im, &res, 0, &err), 0, "check: %s", err.msg);
    cr_assert_eq(res.corruptions, 0, "%s: %d corruptions", path,
                 res.corruptions);
    cr_assert_eq(res.leaks, 0, "%s: %d leaks", path, res.leaks);
    cr_assert_eq(res.check_errors, 0);
    img_close(im);
}
