/* tests/formats/vmdk/test_vmdk_read.c -- reading VMDK images made by
 * qemu-img/qemu-io: every subformat (monolithicSparse, monolithicFlat,
 * twoGbMaxExtentSparse, twoGbMaxExtentFlat, streamOptimized), zeroed-grain
 * extents, backing chains with the parent CID check, hand-written
 * descriptors with several extents, offsets and ZERO/RDONLY/NOACCESS
 * extents, and the split at 2 GiB.  Contents are compared byte for byte
 * with "qemu-img convert -O raw".
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/img.h"
#include "support/tmpdir.h"
#include "vmdk_testutil.h"

/* Full and partial grains, unaligned writes, zeroes over data and over
 * nothing, the last sector, for a 4 MiB image. */
static const char std_ops[] =
    "-c 'write -P 0x11 0 64k' -c 'write -P 0x22 100k 3000' "
    "-c 'write -P 0x33 1M 200k' -c 'write -z 1100k 64k' "
    "-c 'write -z 2M 128k' -c 'write -P 0x44 4095k 512' "
    "-c 'write -P 0x55 3M 1536'";

/* Creates dir/t.vmdk with opts, writes the standard pattern, checks. */
static void create_write_check(const char *opts)
{
    vt_require_tools();
    char *dir = test_tmpdir_new();
    cr_assert_not_null(dir);
    vt_sh("cd '%s' && qemu-img create -q -f vmdk %s t.vmdk 4M", dir, opts);
    vt_sh("cd '%s' && qemu-io -f vmdk %s t.vmdk >/dev/null", dir, std_ops);
    vt_check_against_qemu(dir, "t.vmdk");
    test_tmpdir_free(dir);
}

Test(vmdk_read, monolithic_sparse_matches_qemu)
{
    create_write_check("");
}

Test(vmdk_read, zeroed_grain_matches_qemu)
{
    create_write_check("-o zeroed_grain=on");
}

Test(vmdk_read, compat6_scsi_matches_qemu)
{
    create_write_check("-o compat6=on,adapter_type=lsilogic");
}

Test(vmdk_read, monolithic_flat_matches_qemu)
{
    create_write_check("-o subformat=monolithicFlat");
}

Test(vmdk_read, two_gb_sparse_matches_qemu)
{
    create_write_check("-o subformat=twoGbMaxExtentSparse");
}

Test(vmdk_read, two_gb_flat_matches_qemu)
{
    create_write_check("-o subformat=twoGbMaxExtentFlat");
}

Test(vmdk_read, stream_optimized_matches_qemu)
{
    vt_require_tools();
    char *dir = test_tmpdir_new();
    vt_sh("cd '%s' && qemu-img create -q -f raw s.raw 4M && qemu-io -f raw "
          "%s s.raw >/dev/null && head -c 700000 /dev/urandom | dd of=s.raw "
          "bs=1 seek=1500000 conv=notrunc 2>/dev/null", dir, std_ops);
    vt_sh("cd '%s' && qemu-img convert -O vmdk -o subformat=streamOptimized "
          "s.raw t.vmdk", dir);
    vt_check_against_qemu(dir, "t.vmdk");
    img *im = NULL;
    char *path = test_path(dir, "t.vmdk");
    im = vt_open(path, NULL, 0);
    img_info info;
    cr_assert_eq(img_get_info(im, &info, NULL), 0);
    cr_assert_eq(info.cluster_size, 65536);
    img_info_clear(&info);
    uint64_t pnum, host;
    int st = img_block_status(im, 0, 4 << 20, &pnum, &host, NULL);
    cr_assert_eq(st, IMG_BS_DATA | IMG_BS_ALLOCATED, "compressed: no offset");
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

/* A streamOptimized image of s.raw (the standard pattern and a long run of
 * compressible grains) in dir/t.vmdk, made by qemu-img. */
static void make_stream(const char *dir)
{
    vt_sh("cd '%s' && qemu-img create -q -f raw s.raw 4M && qemu-io -f raw "
          "%s -c 'write -P 0x66 1536k 1M' s.raw >/dev/null && "
          "qemu-img convert -O vmdk -o subformat=streamOptimized s.raw t.vmdk",
          dir, std_ops);
}

/* Reads of many grains at once (vmdk_grain_run.c) against qemu-img's
 * reading, whole and in windows that start and end inside grains. */
Test(vmdk_read, stream_grain_runs_read_like_qemu)
{
    vt_require_tools();
    char *dir = test_tmpdir_new();
    make_stream(dir);
    vt_sh("cd '%s' && qemu-img convert -O raw t.vmdk ref.raw", dir);
    char *path = test_path(dir, "t.vmdk"), *ref_path = test_path(dir,
                                                                  "ref.raw");
    size_t len;
    uint8_t *ref = vt_slurp(ref_path, &len);
    img *im = vt_open(path, NULL, 0);
    static const uint64_t win[][2] = {
        { 0, 4 << 20 }, { 0, 128 << 10 }, { 1536 << 10, 1 << 20 },
        { 100, 3 << 20 }, { (64 << 10) - 1, 300000 }, { 1 << 20, 192 << 10 },
    };
    uint8_t *buf = malloc(4 << 20);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < sizeof(win) / sizeof(win[0]); i++) {
        img_err err = { 0 };
        cr_assert_eq(img_pread(im, buf, win[i][1], win[i][0], &err), 0,
                     "%s", err.msg);
        vt_assert_same(buf, ref + win[i][0], win[i][1], "window");
    }
    free(buf);
    img_close(im);
    free(ref);
    free(path);
    free(ref_path);
    test_tmpdir_free(dir);
}

/* File offset of the grain marker of grain g (LBA g * 128) with a zlib
 * stream after it, found by scanning the sectors. */
static size_t marker_of(const uint8_t *d, size_t len, uint64_t g)
{
    for (size_t off = 512; off + 14 <= len; off += 512) {
        uint64_t lba = 0;
        for (int k = 7; k >= 0; k--) {
            lba = lba << 8 | d[off + k];
        }
        uint32_t size = (uint32_t)d[off + 8] | (uint32_t)d[off + 9] << 8 |
                        (uint32_t)d[off + 10] << 16 |
                        (uint32_t)d[off + 11] << 24;
        if (lba == g * 128 && size > 0 && size < 200000 &&
            d[off + 12] == 0x78) {
            return off;
        }
    }
    cr_assert_fail("no marker for grain %" PRIu64, g);
    return 0;
}

/* A corrupt grain inside a run: the read fails naming that grain's
 * sector, the first of two whichever thread meets which. */
Test(vmdk_read, corrupt_grain_in_a_run_is_named)
{
    vt_require_tools();
    char *dir = test_tmpdir_new();
    make_stream(dir);
    char *path = test_path(dir, "t.vmdk");
    size_t len;
    uint8_t *d = vt_slurp(path, &len);
    size_t first = marker_of(d, len, 26), second = marker_of(d, len, 37);
    memset(d + first + 14, 0xff, 8);
    memset(d + second + 14, 0xff, 8);
    vt_spit(path, d, len);
    char want[128];
    snprintf(want, sizeof(want), "'%s': Compressed grain at sector %zu is "
             "corrupt", path, first / 512);
    for (int round = 0; round < 10; round++) {
        img *im = vt_open(path, NULL, 0);
        uint8_t *buf = malloc(4 << 20);
        cr_assert_not_null(buf);
        img_err err = { 0 };
        cr_assert_lt(img_pread(im, buf, 4 << 20, 0, &err), 0);
        cr_assert_str_eq(err.msg, want);
        free(buf);
        img_close(im);
    }
    free(d);
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_read, odd_size_rounds_up_like_qemu)
{
    vt_require_tools();
    char *dir = test_tmpdir_new();
    vt_sh("cd '%s' && qemu-img create -q -f vmdk t.vmdk 100000 && qemu-io "
          "-f vmdk -c 'write -P 0x66 99840 512' t.vmdk >/dev/null", dir);
    vt_check_against_qemu(dir, "t.vmdk");
    test_tmpdir_free(dir);
}

/* A chain: qemu-io writes to both layers; partial grains of the overlay
 * come from the base. */
Test(vmdk_read, backing_chain_matches_qemu)
{
    vt_require_tools();
    char *dir = test_tmpdir_new();
    vt_sh("cd '%s' && qemu-img create -q -f vmdk base.vmdk 4M && qemu-io -f "
          "vmdk -c 'write -P 0x11 0 1M' -c 'write -P 0x22 2M 100k' base.vmdk "
          ">/dev/null", dir);
    vt_sh("cd '%s' && qemu-img create -q -f vmdk -b base.vmdk -F vmdk ov.vmdk "
          "&& qemu-io -f vmdk -c 'write -P 0x33 512k 64k' -c 'write -z 2M 64k'"
          " -c 'write -P 0x44 3000 5000' ov.vmdk >/dev/null", dir);
    vt_check_against_qemu(dir, "ov.vmdk");
    char *path = test_path(dir, "ov.vmdk");
    img *im = vt_open(path, NULL, 0);
    cr_assert_str_eq(img_backing_name(im), "base.vmdk");
    cr_assert_str_eq(img_backing_format(im), "vmdk");
    uint64_t pnum, host;
    cr_assert_eq(img_block_status(im, 1 << 20, 65536, &pnum, &host, NULL), 0,
                 "unallocated in the overlay");
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

/* The overlay records the parent's CID; a parent changed since (new
 * CID) is refused when the overlay reads through to it. */
Test(vmdk_read, parent_cid_mismatch_refused)
{
    vt_require_tools();
    char *dir = test_tmpdir_new();
    vt_sh("cd '%s' && qemu-img create -q -f vmdk base.vmdk 1M && qemu-img "
          "create -q -f vmdk -b base.vmdk -F vmdk ov.vmdk && qemu-io -f vmdk "
          "-c 'write -P 1 0 512' base.vmdk >/dev/null", dir);
    char *path = test_path(dir, "ov.vmdk");
    img *im = vt_open(path, NULL, 0);
    uint8_t buf[512];
    img_err err = { 0 };
    cr_assert_eq(img_pread(im, buf, 512, 0, &err), -EINVAL);
    cr_assert(strstr(err.msg, "Parent CID mismatch"), "%s", err.msg);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

/* 3 GiB split at 2 GiB: a write across the boundary reads back. */
Test(vmdk_read, two_gb_split_boundary)
{
    vt_require_tools();
    char *dir = test_tmpdir_new();
    vt_sh("cd '%s' && qemu-img create -q -f vmdk -o "
          "subformat=twoGbMaxExtentSparse t.vmdk 3G && qemu-io -f vmdk -c "
          "'write -P 0x5a 2097120k 64k' t.vmdk >/dev/null", dir);
    char *path = test_path(dir, "t.vmdk");
    img *im = vt_open(path, NULL, 0);
    cr_assert_eq(img_size(im), 3ull << 30);
    uint8_t buf[128 * 1024], ref[sizeof(buf)];
    uint64_t at = (2097120ull << 10) - 32768;
    cr_assert_eq(img_pread(im, buf, sizeof(buf), at, NULL), 0);
    memset(ref, 0, sizeof(ref));
    memset(ref + 32768, 0x5a, 65536);
    vt_assert_same(buf, ref, sizeof(buf), "across the split");
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

/* Three files glued by a hand-written descriptor: a flat file used at an
 * offset, a sparse extent, and the flat file again (as qemu-img reads
 * it). */
Test(vmdk_read, handwritten_descriptor_matches_qemu)
{
    vt_require_tools();
    char *dir = test_tmpdir_new();
    vt_sh("cd '%s' && head -c 1M /dev/urandom > data.bin && qemu-img create "
          "-q -f vmdk -o subformat=twoGbMaxExtentSparse sp.vmdk 512k && "
          "qemu-io -f vmdk -c 'write -P 0x77 100k 200k' sp.vmdk >/dev/null",
          dir);
    const char desc[] =
        "# Disk DescriptorFile\r\nversion=1\r\nCID=12345678\r\n"
        "parentCID=ffffffff\r\ncreateType=\"twoGbMaxExtentFlat\"\r\n\r\n"
        "# Extent description\r\n"
        "RW 256 FLAT \"data.bin\" 1024\r\n"
        "RW 1024 SPARSE \"sp-s001.vmdk\"\r\n"
        "  RW   512   FLAT   \"data.bin\" 0\r\n\r\n"
        "ddb.adapterType = \"ide\"\r\n";
    char *path = test_path(dir, "hand.vmdk");
    vt_spit(path, desc, strlen(desc));
    vt_check_against_qemu(dir, "hand.vmdk");
    img *im = vt_open(path, NULL, 0);
    cr_assert_eq(img_size(im), (256 + 1024 + 512) * 512ull);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

/* ZERO extents read as zeros; RDONLY extents read but refuse writes;
 * NOACCESS extents refuse reads. */
Test(vmdk_read, zero_rdonly_noaccess_extents)
{
    char *dir = test_tmpdir_new();
    char *data = test_path(dir, "d.bin"), *path = test_path(dir, "x.vmdk");
    uint8_t ones[4096];
    memset(ones, 1, sizeof(ones));
    vt_spit(data, ones, sizeof(ones));
    const char desc[] =
        "version=1\nCID=1\ncreateType=\"monolithicFlat\"\n"
        "RW 4 ZERO\nRDONLY 8 FLAT \"d.bin\" 0\nNOACCESS 2 FLAT \"none\"\n";
    vt_spit(path, desc, strlen(desc));
    img *im = vt_open(path, "vmdk", IMG_OPEN_RDWR);
    uint8_t buf[14 * 512];
    img_err err = { 0 };
    cr_assert_eq(img_pread(im, buf, 12 * 512, 0, &err), 0, "%s", err.msg);
    for (int i = 0; i < 12 * 512; i++) {
        cr_assert_eq(buf[i], i < 2048 ? 0 : 1, "byte %d", i);
    }
    cr_assert_eq(img_pread(im, buf, 512, 12 * 512, &err), -EACCES);
    cr_assert_eq(img_pwrite(im, buf, 512, 4 * 512, 0, &err), -EPERM);
    cr_assert(strstr(err.msg, "read-only"), "%s", err.msg);
    cr_assert_eq(img_pwrite(im, buf, 512, 0, 0, &err), -EPERM);
    img_close(im);
    free(data);
    free(path);
    test_tmpdir_free(dir);
}

/* info as qemu-img 7.2 reports it (checked in full by tests/cross). */
Test(vmdk_read, info_lists_extents)
{
    vt_require_tools();
    char *dir = test_tmpdir_new();
    vt_sh("cd '%s' && qemu-img create -q -f vmdk -o "
          "subformat=twoGbMaxExtentFlat t.vmdk 3G", dir);
    char *path = test_path(dir, "t.vmdk");
    img *im = vt_open(path, NULL, 0);
    img_info info;
    cr_assert_eq(img_get_info(im, &info, NULL), 0);
    cr_assert_eq(info.cluster_size, 0, "flat extents have no clusters");
    const img_val *data = img_val_dict_get(info.format_specific, "data");
    cr_assert_str_eq(img_val_str(img_val_dict_get(data, "create-type")),
                     "twoGbMaxExtentFlat");
    const img_val *ext = img_val_dict_get(data, "extents");
    cr_assert_eq(img_val_count(ext), 2);
    const img_val *e1 = img_val_at(ext, 1);
    cr_assert_str_eq(img_val_str(img_val_dict_get(e1, "format")), "FLAT");
    cr_assert_eq(img_val_int(img_val_dict_get(e1, "virtual-size")),
                 1ll << 30);
    cr_assert(strstr(img_val_str(img_val_dict_get(e1, "filename")),
                     "t-f002.vmdk"));
    img_info_clear(&info);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}
