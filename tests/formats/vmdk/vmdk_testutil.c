/* tests/formats/vmdk/vmdk_testutil.c -- see vmdk_testutil.h. */
#include "vmdk_testutil.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBVMDK
#include <libvmdk.h>
#endif

#include "support/tmpdir.h"
#include "support/tools.h"

void vt_require_tools(void)
{
    test_require_qemu();
    cr_assert_eq(test_sh("command -v vmdkinfo >/dev/null"), 0,
                 "vmdkinfo (libvmdk-utils) is needed: it is the second "
                 "reader these tests check our images with");
}

void vt_sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    test_vsh_ok(fmt, ap);
    va_end(ap);
}

int vt_status(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st = test_vsh_status(fmt, ap);
    va_end(ap);
    return st;
}

uint8_t *vt_slurp(const char *path, size_t *len)
{
    return test_slurp(path, len);
}

void vt_spit(const char *path, const void *data, size_t len)
{
    cr_assert_eq(test_write_file(path, data, len), 0, "cannot write %s",
                 path);
}

img *vt_open(const char *path, const char *fmt, unsigned flags)
{
    img *im = NULL;
    img_err err = { 0 };
    int r = img_open(path, fmt, flags | IMG_OPEN_QUIET, &im, &err);
    cr_assert_eq(r, 0, "open %s: %s", path, err.msg);
    return im;
}

img_err vt_open_fails(const char *path, const char *fmt, unsigned flags)
{
    img *im = NULL;
    img_err err = { 0 };
    int r = img_open(path, fmt, flags | IMG_OPEN_QUIET, &im, &err);
    cr_assert_lt(r, 0, "open %s succeeded but should fail", path);
    cr_assert_null(im);
    cr_assert_eq(-r, err.code);
    return err;
}

void vt_assert_same(const uint8_t *buf, const uint8_t *ref, size_t len,
                    const char *what)
{
    if (memcmp(buf, ref, len) == 0) {
        return;
    }
    size_t i = 0;
    while (buf[i] == ref[i]) {
        i++;
    }
    cr_assert_fail("%s: byte %zu differs: %#x instead of %#x", what, i,
                   buf[i], ref[i]);
}

uint8_t *vt_read_all(img *im, size_t *len)
{
    *len = (size_t)img_size(im);
    uint8_t *buf = malloc(*len + 1);
    cr_assert_not_null(buf);
    img_err err = { 0 };
    int r = img_pread(im, buf, *len, 0, &err);
    cr_assert_eq(r, 0, "pread: %s", err.msg);
    return buf;
}

void vt_check_against_qemu(const char *dir, const char *name)
{
    vt_sh("cd '%s' && qemu-img convert -O raw '%s' ref.raw", dir, name);
    char *path = test_path(dir, name), *ref_path = test_path(dir, "ref.raw");
    size_t rlen, len;
    uint8_t *ref = vt_slurp(ref_path, &rlen);
    img *im = vt_open(path, NULL, 0);
    cr_assert_str_eq(img_format(im), "vmdk");
    uint8_t *buf = vt_read_all(im, &len);
    cr_assert_eq(len, rlen, "size %zu, qemu-img says %zu", len, rlen);
    vt_assert_same(buf, ref, len, name);
    img_close(im);
    free(buf);
    free(ref);
    free(path);
    free(ref_path);
}

#ifdef HAVE_LIBVMDK
/* Handles of an image and its parents, top first. */
typedef struct lv_chain {
    libvmdk_handle_t *h[8];
    int n;
} lv_chain;

/* Opens path with libvmdk, and its parents (parentFileNameHint, relative
 * to the image's directory) as the handles' parents. */
static libvmdk_handle_t *lv_open(lv_chain *c, const char *path)
{
    libvmdk_handle_t *h = NULL;
    libvmdk_error_t *e = NULL;
    cr_assert_lt(c->n, 8, "parent chain too long");
    cr_assert_eq(libvmdk_handle_initialize(&h, &e), 1);
    c->h[c->n++] = h;
    cr_assert_eq(libvmdk_handle_open(h, path, LIBVMDK_OPEN_READ, &e), 1,
                 "libvmdk cannot open %s", path);
    cr_assert_eq(libvmdk_handle_open_extent_data_files(h, &e), 1,
                 "libvmdk cannot open the extents of %s", path);
    size_t n = 0;
    if (libvmdk_handle_get_utf8_parent_filename_size(h, &n, &e) == 1 &&
        n > 1) {
        char *name = malloc(n), *ppath = NULL;
        cr_assert_eq(libvmdk_handle_get_utf8_parent_filename(
                         h, (uint8_t *)name, n, &e), 1);
        const char *slash = strrchr(path, '/');
        int dir_len = slash ? (int)(slash - path + 1) : 0;
        cr_assert_geq(asprintf(&ppath, "%.*s%s", dir_len, path, name), 0);
        libvmdk_handle_t *parent = lv_open(c, ppath);
        cr_assert_eq(libvmdk_handle_set_parent_handle(h, parent, &e), 1,
                     "libvmdk refuses %s as parent of %s", ppath, path);
        free(name);
        free(ppath);
    }
    return h;
}

static void lv_close(lv_chain *c)
{
    for (int i = 0; i < c->n; i++) {
        libvmdk_handle_close(c->h[i], NULL);
        libvmdk_handle_free(&c->h[i], NULL);
    }
}

/* The image's content as libvmdk reads it. */
static uint8_t *libvmdk_read(const char *path, size_t *len)
{
    libvmdk_error_t *e = NULL;
    size64_t size = 0;
    lv_chain c = { .n = 0 };
    libvmdk_handle_t *h = lv_open(&c, path);
    cr_assert_eq(libvmdk_handle_get_media_size(h, &size, &e), 1);
    uint8_t *buf = malloc((size_t)size + 1);
    cr_assert_not_null(buf);
    ssize_t n = size ? libvmdk_handle_read_buffer_at_offset(
                           h, buf, (size_t)size, 0, &e)
                     : 0;
    cr_assert_eq(n, (ssize_t)size, "libvmdk read of %s failed", path);
    lv_close(&c);
    *len = (size_t)size;
    return buf;
}
#endif

void vt_check_foreign(const char *dir, const char *name, const uint8_t *ref,
                      size_t len, int with_libvmdk)
{
    char *path = test_path(dir, name), *raw = test_path(dir, "ref.raw");
    vt_spit(raw, ref, len);
    vt_sh("cd '%s' && qemu-img check -q -f vmdk '%s'", dir, name);
    vt_sh("cd '%s' && qemu-img compare -q -f vmdk -F raw '%s' ref.raw", dir,
          name);
    vt_sh("cd '%s' && vmdkinfo '%s' >/dev/null", dir, name);
#ifdef HAVE_LIBVMDK
    if (with_libvmdk) {
        size_t n;
        uint8_t *buf = libvmdk_read(path, &n);
        cr_assert_eq(n, len, "libvmdk size %zu, expected %zu", n, len);
        vt_assert_same(buf, ref, len, "libvmdk");
        free(buf);
    }
#else
    (void)with_libvmdk;
    cr_assert_fail("libvmdk-dev (and libbfio-dev) is needed to read images "
                   "with libvmdk");
#endif
    free(path);
    free(raw);
}
