/* tests/formats/qcow2/test_qcow2_amend.c -- the qcow2 amend code
 * (qcow2_amend.c, qcow2_downgrade.c, qcow2_refcount_order.c) and the
 * rebase/commit hooks (qcow2_backing.c), through the img_amend,
 * img_change_backing and img_make_empty entry points.
 *
 * Each test changes an image written through libimg, then checks the
 * header fields on disk, what the image reads (against a shadow copy),
 * and that both qemu-img check and our own check find it clean.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libimg/file.h"
#include "qcow2_fixture.h"
#include "qcow2_oracle.h"
#include "support/tmpdir.h"

#define INCOMPAT_DIRTY 1ull
#define COMPAT_LAZY    1ull

static unsigned version(const char *path)
{
    return (unsigned)qfix_peek(path, 4, 4);
}

/* Opens path read/write, amends with the option list, closes; returns
 * what img_amend returned, its message in msg (may be NULL). */
static int amend(const char *path, const char *list, char *msg)
{
    img *im;
    img_err err = { 0 };
    cr_assert_eq(img_open(path, "qcow2", IMG_OPEN_RDWR | IMG_OPEN_QUIET,
                          &im, &err), 0, "open: %s", err.msg);
    const img_opt_desc *d = img_driver_amend_opts(img_get_driver(im));
    cr_assert_not_null(d);
    img_opts *o = img_opts_new(d);
    cr_assert_eq(img_opts_parse(o, list, &err), 0, "%s", err.msg);
    int r = img_amend(im, o, 0, NULL, NULL, &err);
    if (msg) {
        strcpy(msg, err.msg);
    }
    img_opts_free(o);
    img_close(im);
    return r;
}

/* Everything an amended image must satisfy: it reads as the shadow
 * (through libimg and through qemu-img) and both checks are clean. */
static void check_all(shadow_img *sh, const char *path)
{
    img *im = oracle_open(path);
    uint8_t *buf = malloc(sh->size);
    cr_assert_not_null(buf);
    cr_assert_eq(img_pread(im, buf, sh->size, 0, NULL), 0);
    cr_assert(!memcmp(buf, sh->data, sh->size), "content differs");
    free(buf);
    img_close(im);
    size_t n = strlen(path) + 5;
    char *raw = malloc(n);
    cr_assert_not_null(raw);
    snprintf(raw, n, "%s.raw", path);
    shadow_dump(sh, raw);
    oracle_qemu_compare(path, raw);
    unlink(raw);
    free(raw);
    oracle_qemu_check_clean(path);
    oracle_vdisk_check_clean(path);
}

/* Block status flags of the range at off in the image's own layer. */
static int layer_status(const char *path, uint64_t off, uint64_t len)
{
    img *im;
    img_err err = { 0 };
    cr_assert_eq(img_open(path, "qcow2", IMG_OPEN_QUIET, &im, &err), 0);
    uint64_t pnum, host;
    int r = img_block_status(im, off, len, &pnum, &host, &err);
    cr_assert(r >= 0, "%s", err.msg);
    cr_assert_eq(pnum, len, "status run %llu", (unsigned long long)pnum);
    img_close(im);
    return r;
}

/* Without a backing file, plain zero clusters become unallocated and
 * preallocated ones data clusters holding zeros. */
Test(qcow2_amend, downgrade_expands_zero_clusters)
{
    qfix f;
    qfix_init(&f, "d", 1);
    shadow_create(f.path, "cluster_size=4k", 1 << 20, &f.sh);
    shadow_write(&f.sh, 0, 64 << 10, 7, 0);
    shadow_zero(&f.sh, 0, 16 << 10, 0);                    /* kept host */
    shadow_zero(&f.sh, 32 << 10, 16 << 10, IMG_WRITE_MAY_UNMAP);
    shadow_zero(&f.sh, 512 << 10, 8 << 10, 0);              /* never written */
    shadow_close(&f.sh);
    cr_assert_eq(layer_status(f.path, 0, 16 << 10),
                 IMG_BS_ZERO | IMG_BS_ALLOCATED | IMG_BS_OFFSET_VALID);

    cr_assert_eq(amend(f.path, "compat=0.10", NULL), 0);
    cr_assert_eq(version(f.path), 2);
    int st = layer_status(f.path, 0, 16 << 10);
    cr_assert(st & IMG_BS_DATA, "preallocated zeros became data");
    cr_assert_eq(layer_status(f.path, 32 << 10, 16 << 10), 0);
    cr_assert_eq(layer_status(f.path, 512 << 10, 8 << 10), 0);
    check_all(&f.sh, f.path);
    qfix_fini(&f);
}

/* Over a backing file, zero clusters must keep reading as zeros: they
 * get zero-filled host clusters. */
Test(qcow2_amend, downgrade_with_backing_allocates_zeros)
{
    qfix f;
    qfix_init(&f, "o", 1);
    char *base = test_path(f.dir, "b.qcow2");
    oracle_sh("qemu-img create -q -f qcow2 '%s' 1M && "
              "qemu-io -c 'write -P 5 0 1M' '%s' >/dev/null", base, base);
    oracle_sh("qemu-img create -q -f qcow2 -b b.qcow2 -F qcow2 '%s' && "
              "qemu-io -c 'write -z 0 128k' '%s' >/dev/null", f.path, f.path);
    cr_assert_eq(amend(f.path, "compat=v2", NULL), 0);
    cr_assert_eq(version(f.path), 2);
    int st = layer_status(f.path, 0, 64 << 10);
    cr_assert(st & IMG_BS_DATA);
    img *im = oracle_open(f.path);
    uint8_t buf[4096];
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 4096, NULL), 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        cr_assert_eq(buf[i], 0);
    }
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 200 << 10, NULL), 0);
    cr_assert_eq(buf[0], 5);
    img_close(im);
    oracle_qemu_check_clean(f.path);
    oracle_vdisk_check_clean(f.path);
    free(base);
    qfix_fini(&f);
}

/* Version 2 has no other refcount width: refused, image unchanged. */
Test(qcow2_amend, downgrade_refused_with_other_refcount_width)
{
    qfix f;
    qfix_init(&f, "r", 1);
    shadow_create(f.path, "refcount_bits=8", 1 << 20, &f.sh);
    shadow_write(&f.sh, 0, 8192, 3, 0);
    shadow_close(&f.sh);
    char msg[512];
    cr_assert_eq(amend(f.path, "compat=0.10", msg), -ENOTSUP);
    cr_assert_str_eq(msg, "compat=0.10 requires refcount_bits=16");
    cr_assert_eq(version(f.path), 3);
    cr_assert_eq(amend(f.path, "compat=0.10,refcount_bits=16", NULL), 0);
    cr_assert_eq(version(f.path), 2);
    check_all(&f.sh, f.path);
    qfix_fini(&f);
}

/* Lazy refcounts on sets the compatible bit; off again leaves a clean
 * image without it, even after writes that set the dirty bit. */
Test(qcow2_amend, lazy_refcounts_toggle)
{
    qfix f;
    qfix_init(&f, "l", 1);
    shadow_create(f.path, "", 4 << 20, &f.sh);
    shadow_close(&f.sh);
    cr_assert_eq(amend(f.path, "lazy_refcounts=on", NULL), 0);
    cr_assert_eq(qfix_peek(f.path, 80, 8) & COMPAT_LAZY, COMPAT_LAZY);

    shadow_free(&f.sh);
    shadow_open(f.path, &f.sh);
    shadow_write(&f.sh, 0, 256 << 10, 9, 0);
    shadow_flush(&f.sh);
    cr_assert_eq(qfix_peek(f.path, 72, 8) & INCOMPAT_DIRTY, INCOMPAT_DIRTY);
    shadow_close(&f.sh);

    cr_assert_eq(amend(f.path, "lazy_refcounts=off", NULL), 0);
    cr_assert_eq(qfix_peek(f.path, 80, 8) & COMPAT_LAZY, 0);
    cr_assert_eq(qfix_peek(f.path, 72, 8) & INCOMPAT_DIRTY, 0);
    check_all(&f.sh, f.path);
    char msg[512];
    cr_assert_eq(amend(f.path, "compat=0.10,lazy_refcounts=on", msg), -EINVAL);
    cr_assert(strstr(msg, "Lazy refcounts only supported"));
    qfix_fini(&f);
}

/* New refcount widths, down to 1 bit and up to 64, keep the image
 * consistent; a width too small for a refcount is refused. */
Test(qcow2_amend, refcount_width_changes)
{
    qfix f;
    qfix_init(&f, "w", 1);
    shadow_create(f.path, "cluster_size=4k", 2 << 20, &f.sh);
    shadow_write(&f.sh, 0, 300 << 10, 4, 0);
    shadow_close(&f.sh);
    static const unsigned bits[] = { 1, 64, 8, 16 };
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        char list[32];
        snprintf(list, sizeof(list), "refcount_bits=%u", bits[i]);
        cr_assert_eq(amend(f.path, list, NULL), 0, "%s", list);
        cr_assert_eq(1u << qfix_peek(f.path, 96, 4), bits[i]);
        check_all(&f.sh, f.path);
    }
    char msg[512];
    cr_assert_eq(amend(f.path, "refcount_bits=3", msg), -EINVAL);
    cr_assert(strstr(msg, "power of two"));
    qfix_fini(&f);
}

/* Version 2 to 3: the longer header, same content. */
Test(qcow2_amend, upgrade_to_v3)
{
    qfix f;
    qfix_init(&f, "u", 1);
    shadow_create(f.path, "compat=0.10", 1 << 20, &f.sh);
    shadow_write(&f.sh, 4096, 70000, 2, 0);
    shadow_close(&f.sh);
    cr_assert_eq(version(f.path), 2);
    cr_assert_eq(amend(f.path, "compat=1.1", NULL), 0);
    cr_assert_eq(version(f.path), 3);
    cr_assert_eq(qfix_peek(f.path, 100, 4), 112);
    check_all(&f.sh, f.path);
    qfix_fini(&f);
}

/* Backing file changes and unknown options are refused by amend. */
Test(qcow2_amend, backing_change_refused)
{
    qfix f;
    qfix_init(&f, "x", 0);
    shadow_create(f.path, "", 1 << 20, &f.sh);
    shadow_close(&f.sh);
    char msg[512];
    cr_assert_eq(amend(f.path, "backing_file=foo", msg), -EINVAL);
    cr_assert(!strncmp(msg, "Cannot amend the backing file", 29));
    cr_assert_eq(amend(f.path, "compat=2.0", msg), -EINVAL);
    cr_assert_str_eq(msg, "Unknown compatibility level 2.0");
    qfix_fini(&f);
}

/* The rebase hook rewrites the reference; make_empty drops the data
 * and cuts the file to header, tables and L1. */
Test(qcow2_amend, change_backing_and_make_empty)
{
    qfix f;
    qfix_init(&f, "t", 1);
    char *base = test_path(f.dir, "b.qcow2");
    oracle_sh("qemu-img create -q -f qcow2 '%s' 1M", base);
    oracle_sh("qemu-img create -q -f qcow2 '%s' 1M && "
              "qemu-io -c 'write -P 1 0 512k' '%s' >/dev/null", f.path, f.path);
    img *im;
    img_err err = { 0 };
    cr_assert_eq(img_open(f.path, "qcow2", IMG_OPEN_RDWR | IMG_OPEN_QUIET,
                          &im, &err), 0);
    cr_assert_eq(img_change_backing(im, "b.qcow2", "qcow2", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(img_make_empty(im, &err), 0, "%s", err.msg);
    img_close(im);
    cr_assert_eq(img_open(f.path, "qcow2", IMG_OPEN_QUIET, &im, &err), 0,
                 "%s", err.msg);
    cr_assert_str_eq(img_backing_name(im), "b.qcow2");
    cr_assert_str_eq(img_backing_format(im), "qcow2");
    uint64_t pnum, host;
    cr_assert_eq(img_block_status(im, 0, 1 << 20, &pnum, &host, NULL), 0);
    cr_assert_eq(pnum, 1 << 20);
    img_close(im);
    size_t len;
    free(oracle_slurp(f.path, &len));
    cr_assert_eq(len, 4 * 65536);
    oracle_qemu_check_clean(f.path);
    oracle_vdisk_check_clean(f.path);
    free(base);
    qfix_fini(&f);
}

/* An unknown header extension survives the header rewrites. */
Test(qcow2_amend, unknown_header_extension_kept)
{
    qfix f;
    qfix_init(&f, "e", 1);
    oracle_sh("qemu-img create -q -f qcow2 -o cluster_size=4k '%s' 1M",
              f.path);
    /* clusters of 4 KiB have no feature table: the end marker is at 112 */
    static const uint8_t ext[] = { 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 4,
                                   'a', 'b', 'c', 'd', 0, 0, 0, 0 };
    qfix_poke_bytes(f.path, 112, ext, sizeof(ext));
    cr_assert_eq(amend(f.path, "compat=0.10", NULL), 0);
    cr_assert_eq(amend(f.path, "compat=1.1,lazy_refcounts=on", NULL), 0);
    size_t len;
    uint8_t *b = oracle_slurp(f.path, &len);
    cr_assert_gt(len, 4096);
    cr_assert_not_null(memmem(b, 4096, ext, sizeof(ext)));
    free(b);
    oracle_qemu_check_clean(f.path);
    qfix_fini(&f);
}

/* ---- power cuts during an amend ---------------------------------------- */

/* Runs the amend on a memory copy of image whose writes from the Nth on
 * are dropped (0: none); returns the surviving bytes (malloc'd) and the
 * number of writes the amend made in *writes. */
static uint8_t *amend_with_cut(const uint8_t *image, size_t len,
                               const char *list, uint64_t n,
                               uint64_t *writes, size_t *out_len)
{
    img_file *mem = img_mem_file_new(image, len, 1);
    img_fault_plan plan = { .drop_from = n };
    img_file *f = img_fault_file_new(mem, &plan);
    img *im;
    img_err err = { 0 };
    cr_assert_eq(img_open_file(f, "qcow2", IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK |
                               IMG_OPEN_QUIET, &im, &err), 0, "%s", err.msg);
    img_opts *o = img_opts_new(img_driver_amend_opts(img_get_driver(im)));
    cr_assert_eq(img_opts_parse(o, list, &err), 0);
    int r = img_amend(im, o, 0, NULL, NULL, &err);
    cr_assert(n || r == 0, "%s", err.msg);
    if (r >= 0) {
        r = img_flush(im, &err);
    }
    cr_assert(n || r == 0, "%s", err.msg);
    *writes = img_fault_file_writes(f);
    /* every later write is dropped: this is what the disk keeps */
    const uint8_t *d = img_mem_file_data(mem, out_len);
    uint8_t *copy = malloc(*out_len);
    cr_assert_not_null(copy);
    memcpy(copy, d, *out_len);
    img_opts_free(o);
    img_close(im);
    return copy;
}

/* What survived opens (read/write: a dirty image is repaired), has no
 * corruption (leaks allowed) and reads as expected. */
static void check_survivor(uint8_t *bytes, size_t len,
                           const uint8_t *expect, uint64_t size, uint64_t n)
{
    img_file *mem = img_mem_file_new(bytes, len, 1);
    img *im;
    img_err err = { 0 };
    cr_assert_eq(img_open_file(mem, "qcow2", IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK
                               | IMG_OPEN_QUIET, &im, &err), 0,
                 "cut at write %llu: %s", (unsigned long long)n, err.msg);
    img_check_result res;
    cr_assert_eq(img_check(im, &res, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(res.corruptions, 0, "cut at write %llu",
                 (unsigned long long)n);
    cr_assert_eq(res.check_errors, 0);
    cr_assert_eq(img_size(im), size);
    uint8_t *buf = malloc(size);
    cr_assert_eq(img_pread(im, buf, size, 0, &err), 0, "%s", err.msg);
    cr_assert(!memcmp(buf, expect, size), "content after cut at write %llu",
              (unsigned long long)n);
    free(buf);
    img_close(im);
}

/* The amend cut at every one of its writes. */
static void power_cut_each_write(const char *setup, const char *list)
{
    qfix f;
    qfix_init(&f, "c", 1);
    oracle_sh(setup, f.path, f.path);
    size_t len;
    uint8_t *image = oracle_slurp(f.path, &len);
    img *im = oracle_open(f.path);
    uint64_t size = img_size(im);
    uint8_t *expect = malloc(size);
    cr_assert_eq(img_pread(im, expect, size, 0, NULL), 0);
    img_close(im);
    uint64_t total;
    size_t out;
    free(amend_with_cut(image, len, list, 0, &total, &out));
    cr_assert_gt(total, 2);
    for (uint64_t n = 1; n <= total + 1; n++) {
        uint64_t w;
        uint8_t *b = amend_with_cut(image, len, list, n, &w, &out);
        check_survivor(b, out, expect, size, n);
        free(b);
    }
    free(expect);
    free(image);
    qfix_fini(&f);
}

Test(qcow2_amend, downgrade_survives_power_cuts)
{
    power_cut_each_write("qemu-img create -q -f qcow2 -o cluster_size=4k "
                         "'%s' 1M && qemu-io -c 'write -P 7 0 64k' "
                         "-c 'write -z 16k 16k' -c 'write -z 512k 8k' "
                         "'%s' >/dev/null", "compat=0.10");
}

Test(qcow2_amend, refcount_width_change_survives_power_cuts)
{
    power_cut_each_write("qemu-img create -q -f qcow2 -o cluster_size=4k "
                         "'%s' 1M && qemu-io -c 'write -P 7 0 200k' "
                         "'%s' >/dev/null", "refcount_bits=2");
}

Test(qcow2_amend, lazy_off_survives_power_cuts)
{
    power_cut_each_write("qemu-img create -q -f qcow2 -o lazy_refcounts=on "
                         "'%s' 1M && qemu-io -c 'write -P 7 0 200k' "
                         "'%s' >/dev/null", "lazy_refcounts=off");
}
