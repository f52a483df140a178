/* tests/formats/vmdk/test_vmdk_safety.c -- untrusted VMDK input.
 *
 * Extent file names must stay in the image's directory (absolute paths,
 * "..", symlinks out, devices and FIFOs are refused unless trusted);
 * IMG_OPEN_UNTRUSTED allows only single-file createTypes; crafted sparse
 * headers (capacity, grain size, grain table size, directory offsets,
 * versions, flags, descriptor size, footer, compressed grains) fail with
 * a message instead of crashing, hanging or allocating without bound; a
 * grain table entry far past the end of the file is not written to.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libimg/file.h"
#include "libimg/img.h"
#include "support/tmpdir.h"
#include "vmdk_testutil.h"

/* A descriptor in dir/x.vmdk with one flat extent named name. */
static char *flat_desc(const char *dir, const char *create_type,
                       const char *name)
{
    char text[1024];
    snprintf(text, sizeof(text), "# Disk DescriptorFile\nversion=1\n"
             "CID=11111111\nparentCID=ffffffff\ncreateType=\"%s\"\n"
             "RW 8 FLAT \"%s\" 0\n", create_type, name);
    char *path = test_path(dir, "x.vmdk");
    vt_spit(path, text, strlen(text));
    return path;
}

static void refused(const char *name, unsigned flags, const char *msg)
{
    char *dir = test_tmpdir_new();
    char *path = flat_desc(dir, "monolithicFlat", name);
    img_err err = vt_open_fails(path, "vmdk", flags);
    cr_assert_eq(err.code, EPERM, "%s: %s", name, err.msg);
    cr_assert(strstr(err.msg, msg), "%s: '%s' not in '%s'", name, msg,
              err.msg);
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_safety, absolute_extent_refused)
{
    refused("/etc/passwd", 0, "absolute path (refused; set "
            "VDISK_TRUST_VMDK_EXTENTS=1 to allow)");
    refused("/etc/passwd", IMG_OPEN_RDWR, "absolute path");
}

Test(vmdk_safety, dotdot_extent_refused)
{
    refused("../x", 0, "contains '..'");
    refused("a/../../x", 0, "contains '..'");
    refused("..", 0, "contains '..'");
}

Test(vmdk_safety, symlink_to_device_refused)
{
    char *dir = test_tmpdir_new(), *link = test_path(dir, "z.bin");
    cr_assert_eq(symlink("/dev/zero", link), 0);
    char *path = flat_desc(dir, "monolithicFlat", "z.bin");
    img_err err = vt_open_fails(path, "vmdk", 0);
    cr_assert_eq(err.code, EPERM);
    cr_assert(strstr(err.msg, "'z.bin'") && strstr(err.msg, "refused"), "%s",
              err.msg);
    free(link);
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_safety, symlink_out_of_directory_refused)
{
    char *out = test_tmpdir_new(), *dir = test_tmpdir_new();
    char *secret = test_path(out, "secret"), *link = test_path(dir, "s");
    vt_spit(secret, "secret!", 7);
    cr_assert_eq(symlink(secret, link), 0);
    char *path = flat_desc(dir, "monolithicFlat", "s");
    img_err err = vt_open_fails(path, "vmdk", 0);
    cr_assert(strstr(err.msg, "resolves outside the image's directory"),
              "%s", err.msg);
    free(secret);
    free(link);
    free(path);
    test_tmpdir_free(dir);
    test_tmpdir_free(out);
}

Test(vmdk_safety, fifo_refused_without_hanging, .timeout = 10)
{
    char *dir = test_tmpdir_new(), *fifo = test_path(dir, "p");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char *path = flat_desc(dir, "monolithicFlat", "p");
    img_err err = vt_open_fails(path, "vmdk", 0);
    cr_assert(strstr(err.msg, "is not a regular file"), "%s", err.msg);
    free(fifo);
    free(path);
    test_tmpdir_free(dir);
}

/* Names inside the directory (subdirectories and symlinks that stay
 * inside) are fine. */
Test(vmdk_safety, inside_names_allowed)
{
    char *dir = test_tmpdir_new(), *sub = test_path(dir, "sub");
    cr_assert_eq(mkdir(sub, 0700), 0);
    char *data = test_path(sub, "d.bin"), *link = test_path(dir, "l.bin");
    uint8_t bytes[4096];
    memset(bytes, 0x3c, sizeof(bytes));
    vt_spit(data, bytes, sizeof(bytes));
    cr_assert_eq(symlink("sub/d.bin", link), 0);
    char *path = flat_desc(dir, "monolithicFlat", "sub/d.bin");
    img_close(vt_open(path, "vmdk", 0));
    free(path);
    path = flat_desc(dir, "monolithicFlat", "./l.bin");
    img *im = vt_open(path, NULL, 0);
    uint8_t buf[4096];
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 0, NULL), 0);
    vt_assert_same(buf, bytes, sizeof(buf), "through the symlink");
    img_close(im);
    free(sub);
    free(data);
    free(link);
    free(path);
    test_tmpdir_free(dir);
}

/* Trust: the open flag or VDISK_TRUST_VMDK_EXTENTS=1; never when
 * untrusted. */
Test(vmdk_safety, trust_allows_absolute_names)
{
    char *out = test_tmpdir_new(), *dir = test_tmpdir_new();
    char *data = test_path(out, "d.bin");
    uint8_t bytes[4096];
    memset(bytes, 0x5e, sizeof(bytes));
    vt_spit(data, bytes, sizeof(bytes));
    char *path = flat_desc(dir, "monolithicFlat", data);
    img *im = vt_open(path, "vmdk", IMG_OPEN_TRUST_EXTENTS);
    uint8_t buf[4096];
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 0, NULL), 0);
    vt_assert_same(buf, bytes, sizeof(buf), "trusted extent");
    img_close(im);
    setenv("VDISK_TRUST_VMDK_EXTENTS", "1", 1);
    img_close(vt_open(path, "vmdk", 0));
    img_err err = vt_open_fails(path, "vmdk", IMG_OPEN_UNTRUSTED |
                                IMG_OPEN_TRUST_EXTENTS);
    cr_assert_eq(err.code, EPERM, "%s", err.msg);
    setenv("VDISK_TRUST_VMDK_EXTENTS", "0", 1);
    vt_open_fails(path, "vmdk", 0);
    unsetenv("VDISK_TRUST_VMDK_EXTENTS");
    free(data);
    free(path);
    test_tmpdir_free(dir);
    test_tmpdir_free(out);
}

Test(vmdk_safety, untrusted_allows_only_single_file_types)
{
    char *dir = test_tmpdir_new(), *data = test_path(dir, "d.bin");
    vt_spit(data, "0123456789", 10);
    const char *types[] = { "monolithicFlat", "twoGbMaxExtentFlat", "vmfs",
                            "twoGbMaxExtentSparse", "vmfsSparse" };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char *path = flat_desc(dir, types[i], "d.bin");
        img_close(vt_open(path, "vmdk", 0));
        img_err err = vt_open_fails(path, "vmdk", IMG_OPEN_UNTRUSTED);
        cr_assert_eq(err.code, EPERM);
        cr_assert(strstr(err.msg, "refused in untrusted mode"), "%s",
                  err.msg);
        free(path);
    }
    free(data);
    test_tmpdir_free(dir);
}

/* A monolithicSparse file whose embedded descriptor claims another type:
 * refused when untrusted (OpenStack's inspector reads that value). */
Test(vmdk_safety, untrusted_checks_embedded_create_type)
{
    vt_require_tools();
    char *dir = test_tmpdir_new(), *path = test_path(dir, "t.vmdk");
    vt_sh("cd '%s' && qemu-img create -q -f vmdk t.vmdk 1M", dir);
    img_close(vt_open(path, NULL, IMG_OPEN_UNTRUSTED));
    vt_sh("cd '%s' && sed -i 's/createType=\"monolithicSparse\"/"
          "createType=\"monolithicFlat\"  /' t.vmdk", dir);
    img_err err = vt_open_fails(path, NULL, IMG_OPEN_UNTRUSTED);
    cr_assert(strstr(err.msg, "monolithicFlat"), "%s", err.msg);
    img_close(vt_open(path, NULL, 0));
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_safety, descriptor_file_size_capped)
{
    char *dir = test_tmpdir_new(), *path = test_path(dir, "x.vmdk");
    size_t n = 64 * 1024 + 1;
    char *text = malloc(n);
    memset(text, '#', n);
    memcpy(text, "version=1\n", 10);
    vt_spit(path, text, n);
    img_err err = vt_open_fails(path, "vmdk", 0);
    cr_assert_eq(err.code, EFBIG, "%s", err.msg);
    free(text);
    free(path);
    test_tmpdir_free(dir);
}

Test(vmdk_safety, memory_descriptor_cannot_open_files)
{
    const char text[] = "version=1\ncreateType=\"monolithicFlat\"\n"
                        "RW 8 FLAT \"d.bin\" 0\n";
    img *im = NULL;
    img_err err = { 0 };
    int r = img_open_file(img_mem_file_new(text, strlen(text), 0), "vmdk",
                          IMG_OPEN_NO_LOCK, &im, &err);
    cr_assert_eq(r, -EINVAL);
    cr_assert(strstr(err.msg, "no file name"), "%s", err.msg);
    /* ZERO extents need no file. */
    const char zero[] = "version=1\ncreateType=\"monolithicFlat\"\n"
                        "RW 8 ZERO\n";
    r = img_open_file(img_mem_file_new(zero, strlen(zero), 0), "vmdk",
                      IMG_OPEN_NO_LOCK, &im, &err);
    cr_assert_eq(r, 0, "%s", err.msg);
    cr_assert_eq(img_size(im), 4096);
    img_close(im);
}

/* ---- crafted sparse headers ---- */

/* A qemu-made 1 MiB monolithicSparse image with one written grain. */
static uint8_t *sparse_image(size_t *len)
{
    vt_require_tools();
    char *dir = test_tmpdir_new(), *path = test_path(dir, "t.vmdk");
    vt_sh("cd '%s' && qemu-img create -q -f vmdk t.vmdk 1M && qemu-io -f "
          "vmdk -c 'write -P 0x42 0 64k' t.vmdk >/dev/null", dir);
    uint8_t *buf = vt_slurp(path, len);
    free(path);
    test_tmpdir_free(dir);
    return buf;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* Opens a patched copy from memory; returns the error (code 0: opened,
 * and then the image is read whole, which must fail cleanly or work). */
static img_err open_mem(const uint8_t *data, size_t len)
{
    img *im = NULL;
    img_err err = { 0 };
    int r = img_open_file(img_mem_file_new(data, len, 0), "vmdk",
                          IMG_OPEN_NO_LOCK, &im, &err);
    if (r == 0) {
        size_t n = img_size(im) < (64u << 20) ? (size_t)img_size(im) : 0;
        uint8_t *buf = malloc(n + 1);
        r = img_pread(im, buf, n, 0, &err);
        free(buf);
        img_close(im);
        if (r == 0) {
            memset(&err, 0, sizeof(err));
        }
    }
    return err;
}

static void header_fails(size_t at, int width, uint64_t v, int code,
                         const char *msg)
{
    size_t len;
    uint8_t *img = sparse_image(&len);
    if (width == 8) {
        put64(img + at, v);
    } else if (width == 4) {
        put32(img + at, (uint32_t)v);
    } else {
        img[at] = (uint8_t)v;
    }
    img_err err = open_mem(img, len);
    cr_assert_eq(err.code, code, "field %zu = %llu: %d %s", at,
                 (unsigned long long)v, err.code, err.msg);
    cr_assert(strstr(err.msg, msg), "'%s' not in '%s'", msg, err.msg);
    free(img);
}

Test(vmdk_safety, crafted_capacity)
{
    header_fails(12, 8, (uint64_t)1 << 40, EFBIG, "is too large");
    header_fails(12, 8, UINT64_MAX, EFBIG, "is too large");
    header_fails(12, 8, (uint64_t)1 << 36, EINVAL,
                 "grain directory at sector 26 is beyond the end");
}

Test(vmdk_safety, crafted_grain_size)
{
    header_fails(20, 8, 0, EINVAL, "invalid grain size 0");
    header_fails(20, 8, 3, EINVAL, "invalid grain size 3");
    header_fails(20, 8, 4096, EINVAL, "invalid grain size 4096");
    header_fails(20, 8, (uint64_t)1 << 63, EINVAL, "invalid grain size");
}

Test(vmdk_safety, crafted_grain_table_size)
{
    header_fails(44, 4, 0, EINVAL, "grain table entries 0 (must be 512)");
    header_fails(44, 4, 511, EINVAL, "grain table entries 511");
    header_fails(44, 4, 4096, EINVAL, "grain table entries 4096");
}

Test(vmdk_safety, crafted_directory_offsets)
{
    header_fails(56, 8, 1000000, EINVAL, "is beyond the end of the file");
    header_fails(56, 8, (uint64_t)1 << 62, EINVAL, "beyond the end");
    header_fails(56, 8, 0, EINVAL, "beyond the end");
    header_fails(48, 8, 1000000, EINVAL, "redundant grain directory");
}

Test(vmdk_safety, crafted_version_flags_descriptor)
{
    header_fails(4, 4, 4, ENOTSUP, "unsupported VMDK version 4");
    header_fails(4, 4, 0, ENOTSUP, "unsupported VMDK version 0");
    header_fails(8, 4, 3 | (1u << 18), ENOTSUP, "unsupported VMDK flags");
    header_fails(73, 1, '\r', EINVAL, "newline bytes are corrupt");
    header_fails(77, 1, 2, ENOTSUP, "compression algorithm 2");
    header_fails(36, 8, 1000, EFBIG, "Embedded VMDK descriptor is larger");
    header_fails(28, 8, 100000, EINVAL, "descriptor is beyond the end");
    header_fails(8, 4, 3 | (1u << 17), EINVAL, "markers without compression");
}

/* A grain table pointer past the end: opening works, reading fails. */
Test(vmdk_safety, crafted_grain_table_pointer)
{
    size_t len;
    uint8_t *img = sparse_image(&len);
    put32(img + 26 * 512, 0x7fffffff); /* GD entry 0 */
    img_err err = open_mem(img, len);
    cr_assert_eq(err.code, EINVAL, "%s", err.msg);
    cr_assert(strstr(err.msg, "Grain table at sector 2147483647 is beyond"),
              "%s", err.msg);
    free(img);
}

/* Writes 4 KiB at offset 0 of a writable copy of the image whose first
 * grain table entry (primary table, sector 27 in qemu's layout) is set to
 * sector; returns the write's result, its message in err and the file
 * size after closing in *size. */
static int write_grain_at(uint32_t sector, img_err *err, uint64_t *size)
{
    size_t len;
    uint8_t *data = sparse_image(&len);
    put32(data + 27 * 512, sector);
    img *im = NULL;
    memset(err, 0, sizeof(*err));
    int r = img_open_file(img_mem_file_new(data, len, 1), "vmdk",
                          IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK, &im, err);
    cr_assert_eq(r, 0, "%s", err->msg);
    uint8_t buf[4096];
    memset(buf, 0x5a, sizeof(buf));
    r = img_pwrite(im, buf, sizeof(buf), 0, 0, err);
    img_err ignored = { 0 };
    cr_assert_eq(img_file_size(img_get_file(im), size, &ignored), 0);
    img_close(im);
    free(data);
    return r;
}

/* A grain table entry far past the end of the file (2 TiB at most): an
 * in-place write there would grow the file to it, as qemu-img's does.
 * Refused, and the file keeps its size.  A grain a few grains past the
 * end (what a crash can leave) is still written there. */
Test(vmdk_safety, crafted_grain_pointer_is_not_written)
{
    size_t len;
    free(sparse_image(&len));
    img_err err;
    uint64_t size;
    int r = write_grain_at(0xf0000000u, &err, &size);
    cr_assert_eq(r, -EIO, "write returned %d (%s)", r, err.msg);
    cr_assert(strstr(err.msg, "Grain 0 at sector 4026531840 is beyond the "
                              "end of the file"), "%s", err.msg);
    cr_assert_eq(size, len, "the file grew to %llu bytes",
                 (unsigned long long)size);
    uint32_t near = (uint32_t)(len / 512 + 4 * 128); /* 4 grains of 64k */
    r = write_grain_at(near, &err, &size);
    cr_assert_eq(r, 0, "%s", err.msg);
    cr_assert_eq(size, (uint64_t)near * 512 + 4096);
}

/* Stream images: footer and compressed grains. */
static uint8_t *stream_image(size_t *len)
{
    vt_require_tools();
    char *dir = test_tmpdir_new(), *path = test_path(dir, "t.vmdk");
    vt_sh("cd '%s' && head -c 65536 /dev/urandom > r.raw && truncate -s 1M "
          "r.raw && qemu-img convert -O vmdk -o subformat=streamOptimized "
          "r.raw t.vmdk", dir);
    uint8_t *buf = vt_slurp(path, len);
    free(path);
    test_tmpdir_free(dir);
    return buf;
}

Test(vmdk_safety, crafted_stream_footer)
{
    size_t len;
    uint8_t *img = stream_image(&len);
    put64(img + 56, UINT64_MAX); /* GD_AT_END, but qemu wrote no footer */
    img_err err = open_mem(img, len);
    cr_assert_eq(err.code, EINVAL);
    cr_assert(strstr(err.msg, "invalid footer"), "%s", err.msg);
    free(img);
}

Test(vmdk_safety, crafted_compressed_grain)
{
    size_t len;
    uint8_t *img = stream_image(&len);
    uint64_t grain = 0;
    /* The first grain follows the metadata area (overHead). */
    for (int i = 0; i < 8; i++) {
        grain |= (uint64_t)img[64 + i] << (8 * i);
    }
    uint8_t *m = img + grain * 512;
    uint8_t keep[16];
    memcpy(keep, m, sizeof(keep));
    put32(m + 8, 0x7fffffff);
    img_err err = open_mem(img, len);
    cr_assert(strstr(err.msg, "invalid size"), "%s", err.msg);
    memcpy(m, keep, sizeof(keep));
    put64(m, 12345);
    err = open_mem(img, len);
    cr_assert(strstr(err.msg, "has LBA 12345"), "%s", err.msg);
    memcpy(m, keep, sizeof(keep));
    memset(m + 12, 0xa5, 64);
    err = open_mem(img, len);
    cr_assert(strstr(err.msg, "is corrupt"), "%s", err.msg);
    free(img);
}

Test(vmdk_safety, crafted_cowd)
{
    uint8_t h[4096] = { 'C', 'O', 'W', 'D' };
    put32(h + 4, 1);
    put32(h + 12, 2048);     /* capacity */
    put32(h + 16, 3);        /* grain: not a power of two */
    put32(h + 20, 4);
    put32(h + 24, 1);
    img_err err = open_mem(h, sizeof(h));
    cr_assert(strstr(err.msg, "invalid grain size 3"), "%s", err.msg);
    put32(h + 16, 8);
    put32(h + 24, 0);        /* GD too small */
    err = open_mem(h, sizeof(h));
    cr_assert(strstr(err.msg, "too small"), "%s", err.msg);
    put32(h + 24, 1);
    put32(h + 20, 100);      /* GD past the end */
    err = open_mem(h, sizeof(h));
    cr_assert(strstr(err.msg, "beyond the end"), "%s", err.msg);
    put32(h + 20, 4);        /* valid: reads as zeros */
    err = open_mem(h, sizeof(h));
    cr_assert_eq(err.code, 0, "%s", err.msg);
}

/* Random single-byte changes to the header and tables: every open and
 * read either works or fails with a message; none crashes. */
Test(vmdk_safety, mutated_headers_fail_cleanly)
{
    size_t len;
    uint8_t *orig = sparse_image(&len);
    uint8_t *img = malloc(len);
    uint32_t seed = 12345;
    for (int i = 0; i < 300; i++) {
        memcpy(img, orig, len);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % (i % 2 ? 96 : 32 * 512);
            seed = seed * 1103515245u + 12345u;
            img[at] = (uint8_t)(seed >> 16);
        }
        img_err err = open_mem(img, len);
        cr_assert(err.code == 0 || err.msg[0] != '\0',
                  "failure without a message");
    }
    free(img);
    free(orig);
}
