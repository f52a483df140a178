/* tests/formats/qcow2/test_qcow2_snapshot.c -- internal snapshots of the
 * qcow2 driver: create, apply, delete, the read-only snapshot view, and
 * copy-on-write of clusters shared with a snapshot.
 *
 * After every step both checks (ours and qemu-img's) must find the image
 * clean, and the refcounts and OFLAG_COPIED flags are read straight from
 * the file: a cluster shared by the active state and a snapshot has
 * refcount 2 and no OFLAG_COPIED; one that is not shared has refcount 1
 * and the flag.  A fault-injection run cuts the power at every write of
 * a create/apply/delete sequence: the survivor must have no corruption
 * and every snapshot it lists must read as it did when it was made.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/file.h"
#include "libimg/img.h"
#include "qcow2_oracle.h"
#include "qcow2_shadow.h"
#include "support/tmpdir.h"

#define COPIED (1ull << 63)
#define OFF_MASK 0x00fffffffffffe00ull

/* ---- reading the structures from the file (16-bit refcounts) ---- */

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

typedef struct layout {
    uint8_t *d;
    size_t len;
    unsigned cb; /* cluster bits */
} layout;

static layout load(const char *path)
{
    layout l;
    l.d = oracle_slurp(path, &l.len);
    l.cb = (unsigned)be(l.d + 20, 4);
    cr_assert_eq(be(l.d + 96, 4), 4, "these tests use 16-bit refcounts");
    return l;
}

static uint64_t rd64(const layout *l, uint64_t off)
{
    cr_assert(off + 8 <= l->len, "offset %#llx past the end",
              (unsigned long long)off);
    return be(l->d + off, 8);
}

static uint64_t refcount_of(const layout *l, uint64_t host)
{
    uint64_t ci = host >> l->cb, per_block = 1ull << (l->cb - 1);
    uint64_t rb = rd64(l, be(l->d + 48, 8) + (ci / per_block) * 8) &
                  ~0x1ffull;
    cr_assert_neq(rb, 0, "no refcount block for %#llx",
                  (unsigned long long)host);
    return be(l->d + rb + (ci % per_block) * 2, 2);
}

/* The active L1 entry and L2 entry mapping guest offset g. */
static uint64_t l1e_of(const layout *l, uint64_t g)
{
    uint64_t idx = g >> (l->cb + l->cb - 3);
    return rd64(l, be(l->d + 40, 8) + idx * 8);
}

static uint64_t l2e_of(const layout *l, uint64_t g)
{
    uint64_t l2 = l1e_of(l, g) & OFF_MASK;
    cr_assert_neq(l2, 0);
    uint64_t idx = (g >> l->cb) & ((1ull << (l->cb - 3)) - 1);
    return rd64(l, l2 + idx * 8);
}

/* Guest cluster g's data cluster and L2 table are shared (or not). */
static void assert_shared(const char *path, uint64_t g, int shared)
{
    layout l = load(path);
    uint64_t e = l2e_of(&l, g), l1 = l1e_of(&l, g);
    uint64_t want = shared ? 2 : 1;
    cr_assert_eq(refcount_of(&l, e & OFF_MASK), want, "data refcount");
    cr_assert_eq(refcount_of(&l, l1 & OFF_MASK), want, "L2 refcount");
    cr_assert_eq((e & COPIED) != 0, !shared, "OFLAG_COPIED of the entry");
    cr_assert_eq((l1 & COPIED) != 0, !shared, "OFLAG_COPIED of the L1");
    free(l.d);
}

/* ---- helpers ---- */

typedef struct fx {
    char *dir;
    char *path;
    shadow_img sh;
} fx;

static void fx_new(fx *f, const char *opts, uint64_t size)
{
    oracle_require_qemu();
    f->dir = test_tmpdir_new();
    f->path = test_path(f->dir, "s.qcow2");
    shadow_create(f->path, opts, size, &f->sh);
}

static void fx_free(fx *f)
{
    if (f->sh.im) {
        shadow_close(&f->sh);
    }
    shadow_free(&f->sh);
    free(f->path);
    test_tmpdir_free(f->dir);
}

/* Opens the (closed) image again; the shadow becomes its content. */
static void fx_reopen(fx *f)
{
    shadow_free(&f->sh);
    shadow_open(f->path, &f->sh);
}

/* Closes the image, checks it with both checkers, opens it again. */
static void fx_check(fx *f)
{
    shadow_close(&f->sh);
    oracle_vdisk_check_clean(f->path);
    oracle_qemu_check_clean(f->path);
    uint8_t *keep = f->sh.data;
    f->sh.data = NULL;
    shadow_free(&f->sh);
    shadow_open(f->path, &f->sh);
    cr_assert_eq(memcmp(keep, f->sh.data, f->sh.size), 0, "content");
    free(keep);
}

static void snap_create(img *im, const char *name)
{
    img_snapshot_info sn = { .name = (char *)name, .date_sec = 1700000000,
                             .date_nsec = 123456000, .icount = 0 };
    img_err err = { 0 };
    cr_assert_eq(img_snapshot_create(im, &sn, &err), 0, "%s", err.msg);
}

/* What the snapshot id_or_name of the image at path reads as. */
static uint8_t *snap_view(const char *path, const char *id,
                          const char *name, uint64_t size)
{
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open(path, "qcow2", IMG_OPEN_QUIET, &im, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(img_snapshot_load_tmp(im, id, name, &err), 0, "%s",
                 err.msg);
    uint8_t *buf = malloc(size);
    cr_assert_eq(img_pread(im, buf, size, 0, &err), 0, "%s", err.msg);
    img_close(im);
    return buf;
}

static uint8_t *dup_data(const shadow_img *sh)
{
    uint8_t *p = malloc(sh->size);
    memcpy(p, sh->data, sh->size);
    return p;
}

/* ---- tests ---- */

Test(qcow2_snapshot, create_shares_every_cluster)
{
    fx f;
    fx_new(&f, "", 4 << 20);
    shadow_write(&f.sh, 0, 3 << 16, 1, 0);
    shadow_write(&f.sh, 2 << 20, 1 << 16, 2, IMG_WRITE_COMPRESSED);
    fx_check(&f);
    assert_shared(f.path, 0, 0);
    snap_create(f.sh.im, "s1");
    fx_check(&f);
    assert_shared(f.path, 0, 1);
    assert_shared(f.path, 2 << 16, 1);
    img_snapshot_info *list;
    size_t n;
    cr_assert_eq(img_snapshot_list(f.sh.im, &list, &n, NULL), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(list[0].id, "1");
    cr_assert_str_eq(list[0].name, "s1");
    cr_assert_eq(list[0].date_sec, 1700000000);
    cr_assert_eq(list[0].date_nsec, 123456000);
    cr_assert_eq(list[0].vm_state_size, 0);
    cr_assert_eq(list[0].icount, 0);
    img_snapshot_list_free(list, n);
    fx_free(&f);
}

Test(qcow2_snapshot, write_after_snapshot_copies_shared_clusters)
{
    fx f;
    fx_new(&f, "", 4 << 20);
    shadow_write(&f.sh, 0, 2 << 16, 1, 0);
    uint8_t *before = dup_data(&f.sh);
    snap_create(f.sh.im, "s1");
    /* a partial write into a shared cluster, and a zero write */
    shadow_write(&f.sh, 4096, 4096, 3, 0);
    shadow_zero(&f.sh, 1 << 16, 1 << 16, 0);
    shadow_verify(&f.sh);
    fx_check(&f);
    /* the active cluster 0 is a private copy now; the table is too */
    assert_shared(f.path, 0, 0);
    shadow_close(&f.sh);
    uint8_t *view = snap_view(f.path, "1", NULL, f.sh.size);
    cr_assert_eq(memcmp(view, before, f.sh.size), 0,
                 "the snapshot still reads as before the writes");
    free(view);
    free(before);
    fx_reopen(&f);
    fx_free(&f);
}

Test(qcow2_snapshot, random_writes_then_apply_and_delete)
{
    fx f;
    fx_new(&f, "cluster_size=4k", 2 << 20);
    shadow_random(&f.sh, 7, 60, 1);
    uint8_t *s1 = dup_data(&f.sh);
    snap_create(f.sh.im, "s1");
    fx_check(&f);
    shadow_random(&f.sh, 8, 60, 1);
    uint8_t *s2 = dup_data(&f.sh);
    snap_create(f.sh.im, "s2");
    shadow_random(&f.sh, 9, 60, 1);
    fx_check(&f);
    img_err err = { 0 };
    cr_assert_eq(img_snapshot_apply(f.sh.im, "s1", &err), 0, "%s", err.msg);
    memcpy(f.sh.data, s1, f.sh.size);
    shadow_verify(&f.sh);
    fx_check(&f);
    shadow_random(&f.sh, 10, 40, 1);
    cr_assert_eq(img_snapshot_apply(f.sh.im, "2", &err), 0, "%s", err.msg);
    memcpy(f.sh.data, s2, f.sh.size);
    fx_check(&f);
    cr_assert_eq(img_snapshot_delete(f.sh.im, "1", "s1", &err), 0, "%s",
                 err.msg);
    fx_check(&f);
    cr_assert_eq(img_snapshot_delete(f.sh.im, NULL, "s2", &err), 0, "%s",
                 err.msg);
    fx_check(&f);
    /* nothing is shared any more: the flags are back */
    shadow_close(&f.sh);
    layout l = load(f.path);
    cr_assert_eq(be(l.d + 60, 4), 0, "no snapshots");
    cr_assert_eq(be(l.d + 64, 8), 0, "no table");
    for (uint64_t g = 0; g < f.sh.size; g += 1 << l.cb) {
        uint64_t l1 = l1e_of(&l, g);
        if (!(l1 & OFF_MASK)) {
            continue;
        }
        cr_assert(l1 & COPIED);
        uint64_t e = l2e_of(&l, g);
        if ((e & OFF_MASK) && !(e & (1ull << 62))) {
            cr_assert(e & COPIED, "guest %#llx", (unsigned long long)g);
            cr_assert_eq(refcount_of(&l, e & OFF_MASK), 1);
        }
    }
    free(l.d);
    fx_reopen(&f);
    free(s1);
    free(s2);
    fx_free(&f);
}

Test(qcow2_snapshot, ids_names_and_errors)
{
    fx f;
    fx_new(&f, "", 1 << 20);
    shadow_write(&f.sh, 0, 4096, 1, 0);
    snap_create(f.sh.im, "a");
    snap_create(f.sh.im, "b");
    snap_create(f.sh.im, "a"); /* names need not be unique */
    img_err err = { 0 };
    cr_assert_eq(img_snapshot_delete(f.sh.im, "2", NULL, &err), 0);
    snap_create(f.sh.im, "c"); /* largest id + 1 */
    img_snapshot_info *list;
    size_t n;
    cr_assert_eq(img_snapshot_list(f.sh.im, &list, &n, NULL), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(list[0].id, "1");
    cr_assert_str_eq(list[1].id, "3");
    cr_assert_str_eq(list[2].id, "4");
    cr_assert_str_eq(list[2].name, "c");
    img_snapshot_list_free(list, n);
    cr_assert_eq(img_snapshot_apply(f.sh.im, "nope", &err), -ENOENT);
    cr_assert_str_eq(err.msg,
                     "Failed to load snapshot: No such file or directory");
    cr_assert_eq(img_snapshot_delete(f.sh.im, "1", "b", &err), -ENOENT);
    cr_assert_eq(img_snapshot_load_tmp(f.sh.im, "1", NULL, &err), -EINVAL,
                 "the view needs a read-only image");
    fx_check(&f);
    shadow_close(&f.sh);
    img *im = NULL;
    cr_assert_eq(img_open(f.path, "qcow2", IMG_OPEN_QUIET, &im, &err), 0);
    img_snapshot_info sn = { .name = "x" };
    cr_assert_eq(img_snapshot_create(im, &sn, &err), -EPERM);
    cr_assert_eq(img_snapshot_load_tmp(im, "9", NULL, &err), -ENOENT);
    cr_assert_str_eq(err.msg, "Can't find snapshot");
    img_close(im);
    fx_reopen(&f);
    fx_free(&f);
}

Test(qcow2_snapshot, raw_has_no_snapshots)
{
    img_file *mem = img_mem_file_new(NULL, 0, 1);
    img_err err = { 0 };
    img_create_opts co = { .size = 1 << 20 };
    cr_assert_eq(img_create_file(mem, "raw", &co, &err), 0, "%s", err.msg);
    img *im = NULL;
    cr_assert_eq(img_open_file(mem, "raw", IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK,
                               &im, &err), 0, "%s", err.msg);
    img_snapshot_info *list;
    size_t n;
    cr_assert_eq(img_snapshot_list(im, &list, &n, NULL), -ENOTSUP);
    img_snapshot_info sn = { .name = "x" };
    cr_assert_eq(img_snapshot_create(im, &sn, &err), -ENOTSUP);
    cr_assert_eq(img_snapshot_apply(im, "x", &err), -ENOTSUP);
    cr_assert_str_eq(err.msg, "Block driver does not support snapshots");
    img_close(im);
}

Test(qcow2_snapshot, lazy_refcounts_and_version_2)
{
    const char *opts[] = { "lazy_refcounts=on", "compat=0.10" };
    for (int i = 0; i < 2; i++) {
        fx f;
        fx_new(&f, opts[i], 1 << 20);
        shadow_write(&f.sh, 0, 100000, 1, 0);
        snap_create(f.sh.im, "s");
        shadow_write(&f.sh, 50000, 100000, 2, 0);
        fx_check(&f);
        img_err err = { 0 };
        cr_assert_eq(img_snapshot_delete(f.sh.im, NULL, "s", &err), 0);
        fx_check(&f);
        fx_free(&f);
    }
}

/* Extra data this implementation does not know (from a newer writer)
 * survives a rewrite of the snapshot table. */
Test(qcow2_snapshot, unknown_extra_data_is_kept)
{
    fx f;
    fx_new(&f, "", 1 << 20);
    shadow_write(&f.sh, 0, 4096, 1, 0);
    snap_create(f.sh.im, "first");
    shadow_close(&f.sh);
    /* the entry gets 8 more bytes of extra data before its id and name */
    size_t len;
    uint8_t *d = oracle_slurp(f.path, &len);
    uint64_t t = be(d + 64, 8);
    size_t strings = be(d + t + 12, 2) + be(d + t + 14, 2);
    cr_assert_eq(t + 64 + strings, len, "the table ends the file");
    d = realloc(d, len += 8);
    memmove(d + t + 72, d + t + 64, strings);
    memcpy(d + t + 64, "UNKNOWN!", 8);
    d[t + 39] = 32;
    cr_assert_eq(test_write_file(f.path, d, len), 0);
    free(d);
    oracle_qemu_check_clean(f.path);
    fx_reopen(&f);
    snap_create(f.sh.im, "second"); /* rewrites the table */
    fx_check(&f);
    shadow_close(&f.sh);
    d = oracle_slurp(f.path, &len);
    t = be(d + 64, 8);
    cr_assert_eq(be(d + 60, 4), 2);
    cr_assert_eq(be(d + t + 36, 4), 32, "extra data size");
    cr_assert_eq(memcmp(d + t + 64, "UNKNOWN!", 8), 0);
    cr_assert_eq(memcmp(d + t + 72, "1first", 6), 0);
    free(d);
    fx_reopen(&f);
    fx_free(&f);
}

/* ---- power cuts during snapshot operations ---- */

#define CUT_SIZE (256u << 10)

/* The content guest byte i has after the writes of round k. */
static uint8_t pattern(int k, uint64_t i)
{
    return (uint8_t)(k * 41 + (i >> 9) * 7 + 1);
}

/* Writes round k over part of the image. */
static void cut_write(img *im, int k)
{
    uint64_t off = (uint64_t)k * 20000 % (CUT_SIZE / 2), len = CUT_SIZE / 3;
    uint8_t *buf = malloc(len);
    for (uint64_t i = 0; i < len; i++) {
        buf[i] = pattern(k, off + i);
    }
    img_pwrite(im, buf, len, off, 0, NULL);
    free(buf);
}

/* The sequence: writes, snapshots, more writes, apply, delete; each
 * snapshot's expected content is recorded (when log is set). */
static void cut_sequence(img *im, uint8_t (*log)[CUT_SIZE])
{
    for (int k = 0; k < 4; k++) {
        cut_write(im, k);
        img_flush(im, NULL);
        if (log) {
            img_pread(im, log[k], CUT_SIZE, 0, NULL);
        }
        char name[8];
        snprintf(name, sizeof(name), "s%d", k);
        img_snapshot_info sn = { .name = name };
        img_snapshot_create(im, &sn, NULL);
    }
    img_snapshot_apply(im, "s1", NULL);
    cut_write(im, 9);
    img_snapshot_delete(im, NULL, "s2", NULL);
    img_snapshot_delete(im, NULL, "s0", NULL);
    img_flush(im, NULL);
}

static img *open_mem(img_file *f, unsigned flags)
{
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open_file(f, "qcow2", flags | IMG_OPEN_NO_LOCK |
                               IMG_OPEN_QUIET, &im, &err), 0, "%s", err.msg);
    return im;
}

/* Runs the sequence over base with writes from drop_from on lost;
 * returns what the file holds afterwards and the number of writes. */
static uint8_t *cut_run(const uint8_t *base, size_t base_len,
                        uint64_t drop_from, uint8_t (*log)[CUT_SIZE],
                        size_t *len, uint64_t *writes)
{
    img_file *mem = img_mem_file_new(base, base_len, 1);
    img_fault_plan plan = { .drop_from = drop_from };
    img_file *fault = img_fault_file_new(mem, &plan);
    img *im = open_mem(fault, IMG_OPEN_RDWR);
    cut_sequence(im, log);
    *writes = img_fault_file_writes(fault);
    /* the bytes that reached the memory file, before close adds more */
    const uint8_t *d = img_mem_file_data(mem, len);
    uint8_t *copy = malloc(*len);
    memcpy(copy, d, *len);
    img_close(im);
    return copy;
}

/* check -r all on a copy of the survivor must leave it clean. */
static void cut_repair(const uint8_t *bytes, size_t len, uint64_t n)
{
    img_file *f = img_mem_file_new(bytes, len, 1);
    img *im = open_mem(f, IMG_OPEN_RDWR | IMG_OPEN_CHECK);
    img_check_result res;
    img_err err = { 0 };
    cr_assert_eq(img_check(im, &res, IMG_FIX_LEAKS | IMG_FIX_ERRORS, &err),
                 0, "cut %llu: %s", (unsigned long long)n, err.msg);
    cr_assert_eq(img_check(im, &res, 0, &err), 0);
    cr_assert_eq(res.corruptions + res.leaks + res.check_errors, 0,
                 "cut at write %llu: not clean after the repair",
                 (unsigned long long)n);
    img_close(im);
}

/* The survivor: readable, at worst what QEMU leaves after a crash (flags
 * out of step with refcounts that were raised, leaks), all repairable;
 * and each snapshot it lists reads as when it was taken. */
static void cut_check(const uint8_t *bytes, size_t len,
                      uint8_t (*log)[CUT_SIZE], uint64_t n)
{
    img_file *f = img_mem_file_new(bytes, len, 0);
    img *im = open_mem(f, 0);
    img_check_result res;
    img_err err = { 0 };
    cr_assert_eq(img_check(im, &res, 0, &err), 0, "cut %llu: %s",
                 (unsigned long long)n, err.msg);
    cr_assert_eq(res.check_errors, 0, "cut at write %llu",
                 (unsigned long long)n);
    img_snapshot_info *list;
    size_t count;
    cr_assert_eq(img_snapshot_list(im, &list, &count, &err), 0);
    img_close(im);
    uint8_t *buf = malloc(CUT_SIZE);
    for (size_t i = 0; i < count; i++) {
        int k = list[i].name[1] - '0';
        f = img_mem_file_new(bytes, len, 0);
        im = open_mem(f, 0);
        cr_assert_eq(img_snapshot_load_tmp(im, list[i].id, NULL, &err), 0);
        cr_assert_eq(img_pread(im, buf, CUT_SIZE, 0, &err), 0);
        cr_assert_eq(memcmp(buf, log[k], CUT_SIZE), 0,
                     "cut at write %llu: snapshot %s", (unsigned long long)n,
                     list[i].name);
        img_close(im);
    }
    free(buf);
    img_snapshot_list_free(list, count);
    cut_repair(bytes, len, n);
}

Test(qcow2_snapshot, every_power_cut_is_repairable_and_keeps_snapshots)
{
    img_file *mem = img_mem_file_new(NULL, 0, 1);
    img_opts *o = img_opts_new(img_driver_create_opts(
        img_driver_find("qcow2")));
    img_err err = { 0 };
    cr_assert_eq(img_opts_parse(o, "cluster_size=4k", &err), 0);
    img_create_opts co = { .size = CUT_SIZE, .opts = o };
    cr_assert_eq(img_create_file(mem, "qcow2", &co, &err), 0, "%s", err.msg);
    img_opts_free(o);
    size_t base_len, len;
    const uint8_t *d = img_mem_file_data(mem, &base_len);
    uint8_t *base = malloc(base_len);
    memcpy(base, d, base_len);
    img_file_close(mem);
    uint8_t(*log)[CUT_SIZE] = calloc(4, CUT_SIZE);
    uint64_t total, w;
    free(cut_run(base, base_len, 0, log, &len, &total));
    cr_assert(total > 50, "the sequence writes (%llu)",
              (unsigned long long)total);
    for (uint64_t n = 1; n <= total; n++) {
        uint8_t *bytes = cut_run(base, base_len, n, NULL, &len, &w);
        cut_check(bytes, len, log, n);
        free(bytes);
    }
    free(log);
    free(base);
}
