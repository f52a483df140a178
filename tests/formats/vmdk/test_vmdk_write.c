/* tests/formats/vmdk/test_vmdk_write.c -- images we create and write:
 * every subformat, zeroed grains, backing files, streamOptimized written
 * in order (and appended to after reopening), writes into images qemu-img
 * made, and the create options.  Each image must pass "qemu-img check",
 * compare equal to the expected bytes in qemu-img and in libvmdk, open in
 * vmdkinfo, and pass our own check without corruptions or leaks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/img.h"
#include "support/tmpdir.h"
#include "vmdk_testutil.h"

#define SIZE (4u << 20)

/* An image being written, with the bytes it should hold. */
typedef struct wimg {
    char *dir, *path;
    int zeroed_gtes;  /* may use zeroed-grain GTEs (not for libvmdk) */
    img *im;
    uint8_t *ref;
    size_t size;
} wimg;

static void create(const char *path, const char *opts, uint64_t size,
                   const char *backing)
{
    const img_driver *drv = img_driver_find("vmdk");
    cr_assert_not_null(drv);
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    img_err err = { 0 };
    cr_assert_eq(img_opts_parse(o, opts, &err), 0, "%s", err.msg);
    img_create_opts co = { .size = size, .backing_file = backing,
                           .opts = o };
    cr_assert_eq(img_create(path, "vmdk", &co, &err), 0, "create %s: %s",
                 opts, err.msg);
    img_opts_free(o);
}

static wimg wopen(const char *opts, const char *backing)
{
    vt_require_tools();
    wimg w = { .dir = test_tmpdir_new(), .size = SIZE };
    cr_assert_not_null(w.dir);
    w.path = test_path(w.dir, "t.vmdk");
    create(w.path, opts, SIZE, backing);
    w.im = vt_open(w.path, "vmdk", IMG_OPEN_RDWR);
    w.ref = calloc(1, SIZE);
    return w;
}

static void wr(wimg *w, uint64_t off, uint64_t len, int byte)
{
    uint8_t *buf = malloc(len);
    img_err err = { 0 };
    for (uint64_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(byte + i * 7 / 512);
    }
    cr_assert_eq(img_pwrite(w->im, buf, len, off, 0, &err), 0,
                 "write %llu+%llu: %s", (unsigned long long)off,
                 (unsigned long long)len, err.msg);
    memcpy(w->ref + off, buf, len);
    free(buf);
}

static void wz(wimg *w, uint64_t off, uint64_t len)
{
    img_err err = { 0 };
    cr_assert_eq(img_pwrite_zeroes(w->im, off, len, IMG_WRITE_MAY_UNMAP,
                                   &err), 0, "zeroes: %s", err.msg);
    memset(w->ref + off, 0, len);
}

/* Our own check finds nothing. */
static void check_clean(const char *path)
{
    img *im = vt_open(path, "vmdk", 0);
    img_check_result res;
    img_err err = { 0 };
    cr_assert_eq(img_check(im, &res, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(res.corruptions, 0);
    cr_assert_eq(res.leaks, 0);
    cr_assert_eq(res.check_errors, 0);
    img_close(im);
}

/* Closes, then checks the image with every reader. */
static void wfinish(wimg *w)
{
    img_err err = { 0 };
    cr_assert_eq(img_flush(w->im, &err), 0, "flush: %s", err.msg);
    img_close(w->im);
    img *im = vt_open(w->path, NULL, 0);
    size_t len;
    uint8_t *buf = vt_read_all(im, &len);
    cr_assert_eq(len, w->size);
    vt_assert_same(buf, w->ref, len, "our read back");
    img_close(im);
    free(buf);
    vt_check_foreign(w->dir, "t.vmdk", w->ref, w->size, !w->zeroed_gtes);
    check_clean(w->path);
    free(w->ref);
    free(w->path);
    test_tmpdir_free(w->dir);
}

/* Random-access writes: full, partial and unaligned, zeroes over data
 * and over nothing, rewrites of allocated grains, the last sector. */
static void std_writes(wimg *w)
{
    wr(w, 0, 65536, 0x11);
    wr(w, 100 << 10, 3000, 0x22);
    wr(w, 1 << 20, 200 << 10, 0x33);
    wz(w, 1100 << 10, 64 << 10);
    wz(w, 2 << 20, 128 << 10);
    wr(w, SIZE - 512, 512, 0x44);
    wr(w, 3 << 20, 1536, 0x55);
    wr(w, 10 << 10, 100, 0x66);
    wr(w, (2 << 20) + 4096, 70000, 0x77);
}

static void write_subformat(const char *opts)
{
    wimg w = wopen(opts, NULL);
    std_writes(&w);
    wfinish(&w);
}

Test(vmdk_write, monolithic_sparse)
{
    write_subformat("subformat=monolithicSparse");
}

Test(vmdk_write, zeroed_grain_compat6)
{
    write_subformat("zeroed_grain=on,compat6=on,adapter_type=buslogic");
}

Test(vmdk_write, monolithic_flat)
{
    write_subformat("subformat=monolithicFlat");
}

Test(vmdk_write, two_gb_sparse)
{
    write_subformat("subformat=twoGbMaxExtentSparse");
}

Test(vmdk_write, two_gb_flat)
{
    write_subformat("subformat=twoGbMaxExtentFlat");
}

/* In order, several pieces of one grain, zeroes, data and zero grains. */
static void stream_writes(wimg *w)
{
    wr(w, 0, 65536, 0x11);
    wr(w, 100 << 10, 3000, 0x22);
    wr(w, 110 << 10, 1000, 0x23);
    wz(w, 120 << 10, 200 << 10);
    wr(w, 1 << 20, 200 << 10, 0x33);
    uint8_t zeros[65536] = { 0 };
    cr_assert_eq(img_pwrite(w->im, zeros, sizeof(zeros), 2 << 20, 0, NULL),
                 0);
    wr(w, 3 << 20, 1536, 0x55);
}

Test(vmdk_write, stream_optimized_in_order)
{
    wimg w = wopen("subformat=streamOptimized", NULL);
    stream_writes(&w);
    wr(&w, SIZE - 512, 512, 0x44);
    /* Reads see the grain still being assembled. */
    uint8_t buf[512];
    cr_assert_eq(img_pread(w.im, buf, 512, SIZE - 512, NULL), 0);
    vt_assert_same(buf, w.ref + SIZE - 512, 512, "pending grain");
    wfinish(&w);
}

Test(vmdk_write, stream_optimized_layout)
{
    wimg w = wopen("subformat=streamOptimized", NULL);
    stream_writes(&w);
    img_close(w.im);
    size_t len;
    uint8_t *f = vt_slurp(w.path, &len);
    cr_assert_eq(memcmp(f, "KDMV", 4), 0);
    cr_assert_eq(f[4], 3, "version 3");
    cr_assert_eq(f[8] | f[9] << 8 | f[10] << 16, 0x030001, "flags");
    for (int i = 56; i < 64; i++) {
        cr_assert_eq(f[i], 0xff, "GD_AT_END");
    }
    cr_assert_eq(f[77], 1, "deflate");
    cr_assert(strstr((char *)f + 512, "ddb.toolsVersion = \"2147483647\""));
    cr_assert(strstr((char *)f + 512, "createType=\"streamOptimized\""));
    /* footer marker, footer, end-of-stream */
    const uint8_t *fm = f + len - 1536, *ft = f + len - 1024;
    const uint8_t *eos = f + len - 512;
    cr_assert_eq(fm[0], 1);
    cr_assert_eq(fm[12], 3, "footer marker");
    cr_assert_eq(memcmp(ft, "KDMV", 4), 0);
    cr_assert_neq(ft[56], 0xff, "footer has the real gdOffset");
    for (int i = 0; i < 512; i++) {
        cr_assert_eq(eos[i], 0, "EOS marker is all zeros");
    }
    /* The first grain marker follows the 64 KiB metadata area. */
    uint32_t size = f[65536 + 8] | f[65536 + 9] << 8 | f[65536 + 10] << 16;
    cr_assert(size > 0 && size < 65536, "compressed size %u", size);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(f[65536 + i], 0, "LBA 0");
    }
    free(f);
    w.im = vt_open(w.path, "vmdk", 0);
    wfinish(&w);
}

/* Grain tables without grains are left out (GD entry 0); every reader
 * still sees zeros there. */
Test(vmdk_write, stream_optimized_omits_empty_tables)
{
    vt_require_tools();
    wimg w = { .dir = test_tmpdir_new(), .size = 80u << 20 };
    w.path = test_path(w.dir, "t.vmdk");
    create(w.path, "subformat=streamOptimized", w.size, NULL);
    w.im = vt_open(w.path, "vmdk", IMG_OPEN_RDWR);
    w.ref = calloc(1, w.size);
    wr(&w, 4096, 100000, 0x71);
    wr(&w, (70u << 20) + 512, 3000, 0x72);
    img_close(w.im);
    size_t len;
    uint8_t *f = vt_slurp(w.path, &len);
    const uint8_t *footer = f + len - 1024;
    uint64_t gd = footer[56] | footer[57] << 8 | footer[58] << 16;
    const uint8_t *e = f + gd * 512;
    cr_assert_neq(e[0] | e[1] << 8, 0, "GT 0 is present");
    cr_assert_eq(e[4] | e[5] << 8 | e[6] << 16 | e[7] << 24, 0,
                 "GT 1 (32..64 MiB) is left out");
    cr_assert_neq(e[8] | e[9] << 8, 0, "GT 2 is present");
    free(f);
    w.im = vt_open(w.path, "vmdk", 0);
    wfinish(&w);
}

Test(vmdk_write, stream_optimized_refuses_rewrite)
{
    wimg w = wopen("subformat=streamOptimized", NULL);
    wr(&w, 0, 65536, 0x11);
    wr(&w, 1 << 20, 4096, 0x12);
    uint8_t buf[512] = { 1 };
    img_err err = { 0 };
    cr_assert_eq(img_pwrite(w.im, buf, 512, 0, 0, &err), -EINVAL);
    cr_assert(strstr(err.msg, "already written"), "%s", err.msg);
    /* An earlier grain never written is fine. */
    wr(&w, 512 << 10, 512, 0x13);
    wfinish(&w);
}

Test(vmdk_write, stream_optimized_append_after_reopen)
{
    wimg w = wopen("subformat=streamOptimized", NULL);
    wr(&w, 0, 65536, 0x11);
    img_close(w.im);
    w.im = vt_open(w.path, "vmdk", IMG_OPEN_RDWR);
    wr(&w, 2 << 20, 100000, 0x21);
    img_close(w.im);
    w.im = vt_open(w.path, "vmdk", IMG_OPEN_RDWR);
    wfinish(&w);
}

Test(vmdk_write, flush_then_continue)
{
    wimg w = wopen("subformat=streamOptimized", NULL);
    wr(&w, 0, 65536, 0x11);
    cr_assert_eq(img_flush(w.im, NULL), 0);
    vt_sh("cd '%s' && qemu-img check -q -U t.vmdk", w.dir);
    wr(&w, 1 << 20, 65536, 0x12);
    wfinish(&w);
}

/* Writing to an image qemu-img made and qemu-io wrote. */
static void write_qemu_made(const char *opts)
{
    vt_require_tools();
    wimg w = { .dir = test_tmpdir_new(), .size = SIZE };
    w.path = test_path(w.dir, "t.vmdk");
    vt_sh("cd '%s' && qemu-img create -q -f vmdk %s t.vmdk 4M && qemu-io -f "
          "vmdk -c 'write -P 0x99 64k 64k' t.vmdk >/dev/null", w.dir, opts);
    w.ref = calloc(1, SIZE);
    memset(w.ref + 65536, 0x99, 65536);
    w.im = vt_open(w.path, NULL, IMG_OPEN_RDWR);
    std_writes(&w);
    wfinish(&w);
}

Test(vmdk_write, into_qemu_monolithic_sparse)
{
    write_qemu_made("");
}

Test(vmdk_write, into_qemu_two_gb_sparse)
{
    write_qemu_made("-o subformat=twoGbMaxExtentSparse,zeroed_grain=on");
}

Test(vmdk_write, into_qemu_stream)
{
    vt_require_tools();
    wimg w = { .dir = test_tmpdir_new(), .size = SIZE };
    w.path = test_path(w.dir, "t.vmdk");
    vt_sh("cd '%s' && qemu-img create -q -f raw s.raw 4M && qemu-io -f raw "
          "-c 'write -P 0x99 64k 64k' s.raw >/dev/null && qemu-img convert -O"
          " vmdk -o subformat=streamOptimized s.raw t.vmdk", w.dir);
    w.ref = calloc(1, SIZE);
    memset(w.ref + 65536, 0x99, 65536);
    w.im = vt_open(w.path, NULL, IMG_OPEN_RDWR);
    wr(&w, 1 << 20, 100000, 0x31);
    wfinish(&w);
}

/* An overlay we create on a qemu-made base: partial grains are completed
 * from the base; zeroes hide it. */
static void overlay(const char *opts)
{
    vt_require_tools();
    wimg w = { .dir = test_tmpdir_new(), .size = SIZE };
    w.path = test_path(w.dir, "t.vmdk");
    vt_sh("cd '%s' && qemu-img create -q -f vmdk base.vmdk 4M && qemu-io -f "
          "vmdk -c 'write -P 0xb1 0 4M' base.vmdk >/dev/null", w.dir);
    create(w.path, opts, SIZE, "base.vmdk");
    w.ref = malloc(SIZE);
    memset(w.ref, 0xb1, SIZE);
    w.im = vt_open(w.path, "vmdk", IMG_OPEN_RDWR);
    w.zeroed_gtes = strstr(opts, "zeroed_grain=on") != NULL;
    cr_assert_not_null(img_backing(w.im));
    wr(&w, 1000, 3000, 0x21);
    wz(&w, 64 << 10, 64 << 10);
    wz(&w, 200 << 10, 1000);
    wr(&w, 3 << 20, 70000, 0x22);
    wfinish(&w);
}

Test(vmdk_write, overlay_on_vmdk_base)
{
    overlay("");
}

Test(vmdk_write, overlay_zeroed_grain)
{
    overlay("zeroed_grain=on");
}

Test(vmdk_write, overlay_stream)
{
    overlay("subformat=streamOptimized");
}

/* Empty disks of every subformat open (qemu-img 7.2 cannot). */
Test(vmdk_write, zero_size_images_open)
{
    const char *subs[] = { "monolithicSparse", "monolithicFlat",
                           "twoGbMaxExtentSparse", "twoGbMaxExtentFlat",
                           "streamOptimized" };
    char *dir = test_tmpdir_new(), *path = test_path(dir, "z.vmdk");
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        char opts[64];
        snprintf(opts, sizeof(opts), "subformat=%s", subs[i]);
        create(path, opts, 0, NULL);
        img *im = vt_open(path, "vmdk", 0);
        cr_assert_eq(img_size(im), 0, "%s", subs[i]);
        img_info info;
        cr_assert_eq(img_get_info(im, &info, NULL), 0);
        img_info_clear(&info);
        img_check_result res;
        cr_assert_eq(img_check(im, &res, 0, NULL), 0);
        cr_assert_eq(res.corruptions + res.leaks, 0, "%s", subs[i]);
        img_close(im);
    }
    free(path);
    test_tmpdir_free(dir);
}

/* Option errors, as qemu-img words them. */
static void create_fails(const char *opts, const char *backing,
                         const char *msg)
{
    char *dir = test_tmpdir_new(), *path = test_path(dir, "x.vmdk");
    const img_driver *drv = img_driver_find("vmdk");
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    img_err err = { 0 };
    cr_assert_eq(img_opts_parse(o, opts, &err), 0, "%s", err.msg);
    img_create_opts co = { .size = SIZE, .backing_file = backing,
                           .opts = o };
    cr_assert_lt(img_create(path, "vmdk", &co, &err), 0, "%s", opts);
    cr_assert(strstr(err.msg, msg), "'%s' not in '%s'", msg, err.msg);
    img_opts_free(o);
    cr_assert_eq(vt_status("ls '%s' | grep -q .", dir), 1,
                 "nothing left behind");
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_write, create_option_errors)
{
    create_fails("subformat=foo", NULL, "invalid parameter value: foo");
    create_fails("adapter_type=scsi", NULL, "invalid parameter value: scsi");
    create_fails("compat6=on,hwversion=7", NULL,
                 "compat6 cannot be enabled with hwversion set");
    create_fails("toolsversion=1\"\nRW 1 FLAT \"/etc/passwd", NULL,
                 "invalid parameter value");
    create_fails("subformat=monolithicFlat", "base.vmdk",
                 "Flat image can't have backing file");
    create_fails("backing_fmt=raw", "base.vmdk",
                 "backing_file must be a vmdk image");
}

Test(vmdk_write, create_descriptor_values)
{
    char *dir = test_tmpdir_new(), *path = test_path(dir, "x.vmdk");
    create(path, "adapter_type=lsilogic,hwversion=13,toolsversion=12345",
           100 << 20, NULL);
    size_t len;
    uint8_t *f = vt_slurp(path, &len);
    const char *d = (const char *)f + 512;
    cr_assert(strstr(d, "ddb.adapterType = \"lsilogic\""));
    cr_assert(strstr(d, "ddb.virtualHWVersion = \"13\""));
    cr_assert(strstr(d, "ddb.toolsVersion = \"12345\""));
    cr_assert(strstr(d, "ddb.geometry.cylinders = \"12\""));
    cr_assert(strstr(d, "ddb.geometry.heads = \"255\""));
    cr_assert(strstr(d, "ddb.longContentID = \""));
    cr_assert(strstr(d, "ddb.uuid = \""));
    cr_assert(strstr(d, "RW 204800 SPARSE \"x.vmdk\""));
    free(f);
    free(path);
    test_tmpdir_free(dir);
}

/* Version 3 uncompressed extents are read-only (changed block tracking),
 * as in QEMU. */
Test(vmdk_write, version3_sparse_is_read_only)
{
    char *dir = test_tmpdir_new(), *path = test_path(dir, "x.vmdk");
    create(path, "", 1 << 20, NULL);
    vt_sh("printf '\\003' | dd of='%s' bs=1 seek=4 conv=notrunc 2>/dev/null",
          path);
    img_err err = vt_open_fails(path, "vmdk", IMG_OPEN_RDWR);
    cr_assert(strstr(err.msg, "VMDK version 3 must be read only"), "%s",
              err.msg);
    img_close(vt_open(path, "vmdk", 0));
    free(path);
    test_tmpdir_free(dir);
}
