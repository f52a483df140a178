/* tests/formats/vhdx/vhdx_testlib.c -- see vhdx_testlib.h. */
#include "vhdx_testlib.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/vhdx/vhdx.h"
#include "support/tmpdir.h"
#include "support/tools.h"

void tl_require_qemu(void)
{
    test_require_qemu();
}

void tl_require_vhdiinfo(void)
{
    cr_assert_eq(test_sh("command -v vhdiinfo >/dev/null"), 0,
                 "vhdiinfo (libvhdi-utils) is needed: it is the second "
                 "reader our images are checked with");
}

void tl_sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    test_vsh_ok(fmt, ap);
    va_end(ap);
}

int tl_sh_status(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st = test_vsh_status(fmt, ap);
    va_end(ap);
    return st;
}

uint8_t *tl_slurp(const char *path, size_t *len)
{
    return test_slurp(path, len);
}

void tl_patch(const char *path, uint64_t off, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY);
    cr_assert(fd >= 0, "cannot open %s", path);
    cr_assert_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

void tl_peek(const char *path, uint64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0, "cannot open %s", path);
    cr_assert_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

void tl_fix_crc(const char *path, uint64_t off, size_t len)
{
    uint8_t *buf = malloc(len);
    cr_assert_not_null(buf);
    tl_peek(path, off, buf, len);
    vhdx_put32(buf + 4, vhdx_checksum(buf, len, 4));
    tl_patch(path, off, buf, len);
    free(buf);
}

int tl_create_err(const char *path, uint64_t size, const char *opts,
                  img_err *err)
{
    const img_driver *drv = img_driver_find("vhdx");
    cr_assert_not_null(drv);
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    cr_assert_not_null(o);
    if (opts) {
        cr_assert_eq(img_opts_parse(o, opts, err), 0, "%s", err->msg);
    }
    img_create_opts co = {
        .size = size,
        .backing_file = img_opts_value(o, "backing_file"),
        .backing_fmt = img_opts_value(o, "backing_fmt"),
        .opts = o,
    };
    int r = img_create(path, "vhdx", &co, err);
    img_opts_free(o);
    return r;
}

void tl_create(const char *path, uint64_t size, const char *opts)
{
    img_err err = { 0 };
    cr_assert_eq(tl_create_err(path, size, opts, &err), 0, "create %s: %s",
                 path, err.msg);
}

int tl_open_err(const char *path, unsigned flags, img **out, img_err *err)
{
    return img_open(path, "vhdx", flags | IMG_OPEN_QUIET, out, err);
}

img *tl_open(const char *path, unsigned flags)
{
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_eq(tl_open_err(path, flags, &im, &err), 0, "open %s: %s",
                 path, err.msg);
    cr_assert_str_eq(img_format(im), "vhdx");
    return im;
}

void tl_expect_content(img *im, const uint8_t *expected, size_t len)
{
    cr_assert_eq(img_size(im), len, "size %" PRIu64 " instead of %zu",
                 img_size(im), len);
    size_t chunk = 1 << 20;
    uint8_t *buf = malloc(chunk);
    cr_assert_not_null(buf);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        img_err err = { 0 };
        cr_assert_eq(img_pread(im, buf, n, off, &err), 0, "pread at %zu: %s",
                     off, err.msg);
        if (memcmp(buf, expected + off, n) != 0) {
            size_t i = 0;
            while (buf[i] == expected[off + i]) {
                i++;
            }
            cr_assert_fail("byte %zu is %#x instead of %#x", off + i, buf[i],
                           expected[off + i]);
        }
    }
    free(buf);
}

void tl_expect_raw_file(img *im, const char *raw_path)
{
    size_t len;
    uint8_t *raw = tl_slurp(raw_path, &len);
    tl_expect_content(im, raw, len);
    free(raw);
}

uint32_t tl_rand(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

void tl_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t st = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)tl_rand(&st);
    }
}

uint64_t tl_bat_entry(const char *path, uint64_t i)
{
    uint8_t e[VHDX_RT_ENTRY_SIZE * 2];
    tl_peek(path, VHDX_RT1_OFFSET + VHDX_RT_HEADER_SIZE, e, sizeof(e));
    for (int k = 0; k < 2; k++) {
        if (memcmp(e + k * 32, vhdx_guid_bat.b, 16) == 0) {
            uint8_t v[8];
            tl_peek(path, vhdx_le64(e + k * 32 + VHDX_RTE_OFFSET) + 8 * i, v,
                    8);
            return vhdx_le64(v);
        }
    }
    cr_assert_fail("no BAT region in the first two entries of %s", path);
    return 0;
}

/* ---- tl_disk ---- */

typedef struct disk_file {
    img_file base;  /* must stay first */
    tl_disk *disk;
} disk_file;

static tl_disk *disk_of(img_file *f)
{
    return ((disk_file *)f)->disk;
}

/* Grows the disk to hold size bytes; new bytes are zero. */
static int disk_reserve(tl_disk *d, size_t size, img_err *err)
{
    if (size > d->cap) {
        size_t cap = d->cap ? d->cap : 1 << 20;
        while (cap < size) {
            cap *= 2;
        }
        uint8_t *p = realloc(d->data, cap);
        if (!p) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        memset(p + d->cap, 0, cap - d->cap);
        d->data = p;
        d->cap = cap;
    }
    return 0;
}

static int disk_pread(img_file *f, void *buf, size_t len, uint64_t off,
                      img_err *err)
{
    (void)err;
    tl_disk *d = disk_of(f);
    size_t n = off < d->len ? (len < d->len - off ? len : d->len - off) : 0;
    memcpy(buf, d->data + off, n);
    memset((uint8_t *)buf + n, 0, len - n);
    return 0;
}

static int disk_pwrite(img_file *f, const void *buf, size_t len,
                       uint64_t off, img_err *err)
{
    tl_disk *d = disk_of(f);
    d->writes++;
    int r = disk_reserve(d, off + len, err);
    if (r >= 0) {
        memcpy(d->data + off, buf, len);
        d->len = off + len > d->len ? off + len : d->len;
    }
    return r;
}

static int disk_get_size(img_file *f, uint64_t *size, img_err *err)
{
    (void)err;
    *size = disk_of(f)->len;
    return 0;
}

static int disk_truncate(img_file *f, uint64_t size, img_err *err)
{
    tl_disk *d = disk_of(f);
    d->writes++;
    int r = disk_reserve(d, size, err);
    if (r >= 0) {
        if (size < d->len) {
            memset(d->data + size, 0, d->len - size);
        }
        d->len = size;
    }
    return r;
}

static int disk_flush(img_file *f, img_err *err)
{
    (void)err;
    disk_of(f)->writes++;
    return 0;
}

static int disk_punch(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    (void)err;
    tl_disk *d = disk_of(f);
    d->writes++;
    if (off < d->len) {
        memset(d->data + off, 0, len < d->len - off ? len : d->len - off);
    }
    return 0;
}

static void disk_close(img_file *f)
{
    free(f);
}

static const img_file_ops disk_ops = {
    .name = "test-disk",
    .pread = disk_pread,
    .pwrite = disk_pwrite,
    .get_size = disk_get_size,
    .truncate = disk_truncate,
    .flush = disk_flush,
    .punch_hole = disk_punch,
    .close = disk_close,
};

img_file *tl_disk_file_new(tl_disk *disk)
{
    disk_file *f = calloc(1, sizeof(*f));
    cr_assert_not_null(f);
    f->base.ops = &disk_ops;
    f->base.flags = IMG_FILE_RDWR;
    f->disk = disk;
    return &f->base;
}

void tl_disk_copy(tl_disk *dst, const tl_disk *src)
{
    if (dst->cap < src->len) {
        free(dst->data);
        dst->data = malloc(src->len);
        cr_assert_not_null(dst->data);
        dst->cap = src->len;
    }
    memcpy(dst->data, src->data, src->len);
    memset(dst->data + src->len, 0, dst->cap - src->len);
    dst->len = src->len;
    dst->writes = 0;
}

void tl_disk_free(tl_disk *disk)
{
    free(disk->data);
    memset(disk, 0, sizeof(*disk));
}

void tl_disk_save(const tl_disk *disk, const char *path)
{
    cr_assert_eq(test_write_file(path, disk->data, disk->len), 0);
}
