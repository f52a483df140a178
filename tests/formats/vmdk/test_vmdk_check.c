/* tests/formats/vmdk/test_vmdk_check.c -- "check" of VMDK images
 * (formats/vmdk/vmdk_check.c): clean images made by qemu-img and by us
 * report nothing; grains past the end, in the metadata area or shared by
 * two entries, a redundant grain table that differs, a wrong grain marker
 * and leaked space are found; leaked space at the end is repaired.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/img.h"
#include "support/tmpdir.h"
#include "vmdk_testutil.h"

static img_check_result check_path(const char *path, unsigned fix)
{
    img *im = vt_open(path, "vmdk", fix ? IMG_OPEN_RDWR : 0);
    img_check_result res;
    img_err err = { 0 };
    cr_assert_eq(img_check(im, &res, fix, &err), 0, "%s", err.msg);
    img_close(im);
    return res;
}

/* dir with t.vmdk: 1 MiB monolithicSparse, grains 0 and 2 written. */
static char *make(char **dir, const char *opts)
{
    vt_require_tools();
    *dir = test_tmpdir_new();
    vt_sh("cd '%s' && qemu-img create -q -f vmdk %s t.vmdk 1M && qemu-io -f "
          "vmdk -c 'write -P 0x42 0 64k' -c 'write -P 0x43 128k 64k' t.vmdk "
          ">/dev/null", *dir, opts);
    return test_path(*dir, "t.vmdk");
}

/* Patches 4 bytes (little-endian) at byte offset at. */
static void patch32(const char *path, long at, uint32_t v)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                     (uint8_t)(v >> 24) };
    cr_assert_eq(fseek(f, at, SEEK_SET), 0);
    cr_assert_eq(fwrite(b, 1, 4, f), 4);
    fclose(f);
}

/* qemu's 1 MiB layout: RGT at sector 22, GT at sector 27, grains from
 * sector 128. */
#define RGT (22 * 512L)
#define GT  (27 * 512L)

Test(vmdk_check, qemu_images_are_clean)
{
    const char *opts[] = { "", "-o zeroed_grain=on",
                           "-o subformat=twoGbMaxExtentSparse",
                           "-o subformat=monolithicFlat" };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        char *dir, *path = make(&dir, opts[i]);
        img_check_result r = check_path(path, 0);
        cr_assert_eq(r.corruptions + r.leaks + r.check_errors, 0, "%s",
                     opts[i]);
        free(path);
        test_tmpdir_free(dir);
    }
}

Test(vmdk_check, qemu_stream_is_clean)
{
    vt_require_tools();
    char *dir = test_tmpdir_new(), *path = test_path(dir, "t.vmdk");
    vt_sh("cd '%s' && head -c 200000 /dev/urandom > r.raw && truncate -s 1M "
          "r.raw && qemu-img convert -O vmdk -o subformat=streamOptimized "
          "r.raw t.vmdk", dir);
    img_check_result r = check_path(path, 0);
    cr_assert_eq(r.corruptions + r.leaks + r.check_errors, 0);
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_check, grain_past_end_is_corruption)
{
    char *dir, *path = make(&dir, "");
    patch32(path, GT + 4, 100000);
    img_check_result r = check_path(path, 0);
    cr_assert_geq(r.corruptions, 1);
    cr_assert_neq(vt_status("qemu-img check -q '%s' 2>/dev/null", path), 0,
                  "qemu-img agrees");
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_check, shared_grain_is_corruption)
{
    char *dir, *path = make(&dir, "");
    patch32(path, GT + 8, 128);  /* grain 2 -> grain 0's data */
    patch32(path, RGT + 8, 128);
    img_check_result r = check_path(path, 0);
    cr_assert_eq(r.corruptions, 1, "one overlap");
    cr_assert_eq(r.leaks, 1, "grain 2's old data is leaked");
    free(path);
    test_tmpdir_free(dir);
}

/* Two directory entries pointing at one table: found (and the table is
 * walked once). */
Test(vmdk_check, shared_grain_table_is_corruption)
{
    vt_require_tools();
    char *dir = test_tmpdir_new(), *path = test_path(dir, "t.vmdk");
    vt_sh("cd '%s' && qemu-img create -q -f vmdk t.vmdk 64M && qemu-io -f "
          "vmdk -c 'write -P 0x42 0 64k' t.vmdk >/dev/null", dir);
    size_t len;
    uint8_t *f = vt_slurp(path, &len);
    uint64_t gd = f[56] | f[57] << 8;
    uint32_t gt0 = f[gd * 512] | f[gd * 512 + 1] << 8;
    free(f);
    patch32(path, (long)(gd * 512 + 4), gt0);
    img_check_result r = check_path(path, 0);
    cr_assert_eq(r.corruptions, 2, "shared table, and the redundant GD "
                 "disagrees");
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_check, grain_in_metadata_is_corruption)
{
    char *dir, *path = make(&dir, "");
    patch32(path, GT + 12, 3);
    patch32(path, RGT + 12, 3);
    img_check_result r = check_path(path, 0);
    cr_assert_eq(r.corruptions, 1);
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_check, redundant_table_mismatch_is_corruption)
{
    char *dir, *path = make(&dir, "");
    patch32(path, RGT + 8, 0);
    img_check_result r = check_path(path, 0);
    cr_assert_eq(r.corruptions, 1);
    cr_assert_eq(r.leaks, 0);
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_check, leak_found_and_tail_repaired)
{
    char *dir, *path = make(&dir, "");
    vt_sh("head -c 100000 /dev/urandom >> '%s'", path);
    img_check_result r = check_path(path, 0);
    cr_assert_eq(r.corruptions, 0);
    cr_assert_eq(r.leaks, 2, "100000 bytes: two grains' worth");
    r = check_path(path, IMG_FIX_LEAKS);
    cr_assert_eq(r.leaks_fixed, 2);
    r = check_path(path, 0);
    cr_assert_eq(r.leaks + r.corruptions, 0);
    vt_sh("qemu-img check -q '%s'", path);
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_check, leak_in_the_middle)
{
    char *dir, *path = make(&dir, "");
    patch32(path, GT + 0, 0); /* grain 0 dropped: its data is leaked */
    patch32(path, RGT + 0, 0);
    img_check_result r = check_path(path, 0);
    cr_assert_eq(r.corruptions, 0);
    cr_assert_eq(r.leaks, 1);
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_check, stream_marker_lba_is_corruption)
{
    vt_require_tools();
    char *dir = test_tmpdir_new(), *path = test_path(dir, "t.vmdk");
    vt_sh("cd '%s' && head -c 65536 /dev/urandom > r.raw && truncate -s 1M "
          "r.raw && qemu-img convert -O vmdk -o subformat=streamOptimized "
          "r.raw t.vmdk", dir);
    /* qemu's layout: the first grain marker is at overHead. */
    size_t len;
    uint8_t *f = vt_slurp(path, &len);
    uint64_t over = f[64] | f[65] << 8;
    free(f);
    patch32(path, (long)(over * 512), 7);
    img_check_result r = check_path(path, 0);
    cr_assert_eq(r.corruptions, 1);
    free(path);
    test_tmpdir_free(dir);
}

/* The tail of our stream images (GT/GD markers, footer, EOS) is all
 * accounted for; a marker missing before a grain table is found. */
Test(vmdk_check, our_stream_metadata_checked)
{
    char *dir = test_tmpdir_new(), *path = test_path(dir, "t.vmdk");
    const img_driver *drv = img_driver_find("vmdk");
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    cr_assert_eq(img_opts_parse(o, "subformat=streamOptimized", NULL), 0);
    img_create_opts co = { .size = 1 << 20, .opts = o };
    cr_assert_eq(img_create(path, "vmdk", &co, NULL), 0);
    img_opts_free(o);
    img *im = vt_open(path, "vmdk", IMG_OPEN_RDWR);
    uint8_t buf[65536];
    memset(buf, 0x61, sizeof(buf));
    cr_assert_eq(img_pwrite(im, buf, sizeof(buf), 0, 0, NULL), 0);
    img_close(im);
    img_check_result r = check_path(path, 0);
    cr_assert_eq(r.corruptions + r.leaks + r.check_errors, 0);
    /* The GT marker precedes the GT the footer's GD points at. */
    size_t len;
    uint8_t *f = vt_slurp(path, &len);
    const uint8_t *footer = f + len - 1024;
    uint64_t gd = footer[56] | footer[57] << 8 | footer[58] << 16;
    uint64_t gt = f[gd * 512] | f[gd * 512 + 1] << 8 | f[gd * 512 + 2] << 16;
    cr_assert_eq(f[(gt - 1) * 512 + 12], 1, "GT marker");
    free(f);
    patch32(path, (long)((gt - 1) * 512 + 12), 9);
    r = check_path(path, 0);
    cr_assert_eq(r.corruptions, 1);
    free(path);
    test_tmpdir_free(dir);
}
