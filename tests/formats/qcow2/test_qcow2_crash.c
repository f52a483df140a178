/* tests/formats/qcow2/test_qcow2_crash.c -- crash consistency of the
 * qcow2 writer, proved with the fault-injecting file backend.
 *
 * A write workload (new clusters, partial overwrites, zero writes,
 * discards, compressed writes, L2 table and refcount block allocation,
 * refcount table growth, flushes) runs once to count its writes and to
 * record, at each flush, what the image must read as.  Then it runs again
 * for N = 1, 2, ... total with every write from the Nth on dropped (a
 * power cut).  The bytes that survived are opened again: check must find
 * no corruption (leaks are allowed), and every byte the workload did not
 * touch after the last flush that completed before the cut must read as
 * at that flush.  With lazy refcounts the image is dirty after a cut; the
 * read/write open rebuilds its refcounts and check must then find nothing
 * at all.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/file.h"
#include "libimg/img.h"
#include "qcow2_bitmap_bytes.h"

/* ---- a memory file the test keeps: closing the wrapper leaves it ---- */

typedef struct borrow_file {
    img_file base;   /* must stay first */
    img_file *inner; /* not owned */
} borrow_file;

static img_file *inner_of(img_file *f)
{
    return ((borrow_file *)f)->inner;
}

static int b_pread(img_file *f, void *buf, size_t len, uint64_t off,
                   img_err *err)
{
    return img_file_pread(inner_of(f), buf, len, off, err);
}

static int b_pwrite(img_file *f, const void *buf, size_t len, uint64_t off,
                    img_err *err)
{
    return img_file_pwrite(inner_of(f), buf, len, off, err);
}

static int b_size(img_file *f, uint64_t *size, img_err *err)
{
    return img_file_size(inner_of(f), size, err);
}

static int b_truncate(img_file *f, uint64_t size, img_err *err)
{
    return img_file_truncate(inner_of(f), size, err);
}

static int b_flush(img_file *f, img_err *err)
{
    return img_file_flush(inner_of(f), err);
}

static int b_punch(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    return img_file_punch_hole(inner_of(f), off, len, err);
}

static void b_close(img_file *f)
{
    free(f);
}

static const img_file_ops borrow_ops = {
    .name = "borrow",
    .pread = b_pread,
    .pwrite = b_pwrite,
    .get_size = b_size,
    .truncate = b_truncate,
    .flush = b_flush,
    .punch_hole = b_punch,
    .close = b_close,
};

static img_file *borrow_new(img_file *inner)
{
    borrow_file *b = calloc(1, sizeof(*b));
    cr_assert_not_null(b);
    b->base.ops = &borrow_ops;
    b->base.flags = IMG_FILE_RDWR;
    b->inner = inner;
    return &b->base;
}

/* ---- the workload ---- */

#define SIZE        (1u << 20)
#define MAX_FLUSHES 64

/* What a run records: per flush, the writes done and the content. */
typedef struct run_log {
    int nflush;
    uint64_t flush_writes[MAX_FLUSHES]; /* writes counted after flush k */
    int flush_op[MAX_FLUSHES];          /* op index of flush k */
    uint8_t *snap[MAX_FLUSHES];         /* content at flush k */
    int *last_op;                       /* per byte: last op changing it */
    uint8_t *content;                   /* the shadow */
} run_log;

typedef struct op {
    char kind; /* 'w' write, 'c' compressed, 'z' zero, 'Z' zero
                  with unmap, 'd' discard, 'f' flush */
    uint64_t off, len;
} op;

/* Touches many paths: fresh clusters, COW of partial clusters, refcount
 * block and table growth (small clusters), zero and discard frees,
 * compressed clusters and their overwrite. */
static const op workload_ops[] = {
    { 'w', 0, 300000 },      { 'f', 0, 0 },          { 'w', 5000, 20000 },
    { 'c', 327680, 65536 },  { 'w', 700000, 123 },   { 'f', 0, 0 },
    { 'Z', 8192, 40960 },    { 'w', 330000, 5000 },  { 'd', 100000, 60000 },
    { 'f', 0, 0 },           { 'z', 600000, 70000 }, { 'w', 900000, 100000 },
    { 'w', 1000, 2000 },     { 'f', 0, 0 },          { 'c', 0, 32768 },
    { 'w', 200000, 400000 }, { 'f', 0, 0 },          { 'Z', 0, 100000 },
    { 'w', 50000, 50000 },   { 'f', 0, 0 },
};

#define N_OPS (sizeof(workload_ops) / sizeof(workload_ops[0]))

static void fill(uint8_t *p, uint64_t len, int seed, uint64_t off)
{
    for (uint64_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(seed * 37 + ((off + i) >> 9) * 3);
    }
}

/* Runs op i; the shadow is updated as the image must read afterwards.
 * In a run with a cut, errors are ignored (reads may see lost writes). */
static void run_op(img *im, int i, run_log *log, img_file *fault,
                   uint64_t cluster)
{
    const op *o = &workload_ops[i];
    uint8_t *buf = malloc(o->len ? o->len : 1);
    uint64_t off = o->off, len = o->len, start, end;
    switch (o->kind) {
    case 'w':
    case 'c':
        fill(buf, len, i + 1, off);
        img_pwrite(im, buf, len, off, o->kind == 'c' ? IMG_WRITE_COMPRESSED : 0,
                   NULL);
        break;
    case 'z':
    case 'Z':
        img_pwrite_zeroes(im, off, len,
                          o->kind == 'Z' ? IMG_WRITE_MAY_UNMAP : 0, NULL);
        memset(buf, 0, len);
        break;
    case 'd':
        img_discard(im, off, len, NULL);
        start = (off + cluster - 1) / cluster * cluster;
        end = (off + len) / cluster * cluster;
        off = start;
        len = end > start ? end - start : 0;
        memset(buf, 0, len);
        break;
    case 'f':
        img_flush(im, NULL);
        len = 0;
        break;
    }
    if (log) {
        for (uint64_t k = 0; k < len; k++) {
            log->content[off + k] = buf[k];
            log->last_op[off + k] = i;
        }
        if (o->kind == 'f' && log->nflush < MAX_FLUSHES) {
            int n = log->nflush++;
            log->flush_writes[n] = img_fault_file_writes(fault);
            log->flush_op[n] = i;
            log->snap[n] = malloc(SIZE);
            memcpy(log->snap[n], log->content, SIZE);
        }
    }
    free(buf);
}

/* The image the workload starts from (made with our create). */
static uint8_t *base_image(const char *opts, size_t *len)
{
    img_file *mem = img_mem_file_new(NULL, 0, 1);
    const img_driver *drv = img_driver_find("qcow2");
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    img_err err = { 0 };
    cr_assert_eq(img_opts_parse(o, opts, &err), 0, "%s", err.msg);
    img_create_opts co = { .size = SIZE, .opts = o };
    cr_assert_eq(img_create_file(mem, "qcow2", &co, &err), 0, "%s", err.msg);
    img_opts_free(o);
    const uint8_t *d = img_mem_file_data(mem, len);
    uint8_t *copy = malloc(*len);
    memcpy(copy, d, *len);
    img_file_close(mem);
    return copy;
}

/* Opens a copy of base in memory (*mem, which the image borrows) read/
 * write through a fault file (*fault) that drops the writes from
 * drop_from on (none when 0). */
static img *open_cut(const uint8_t *base, size_t base_len,
                     uint64_t drop_from, img_file **mem, img_file **fault)
{
    *mem = img_mem_file_new(base, base_len, 1);
    img_fault_plan plan = { .drop_from = drop_from };
    *fault = img_fault_file_new(borrow_new(*mem), &plan);
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_eq(
        img_open_file(*fault, "qcow2",
                      IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK | IMG_OPEN_QUIET, &im,
                      &err),
        0, "%s", err.msg);
    return im;
}

/* Closes im and returns a copy of the bytes that reached mem (closed). */
static uint8_t *survivor(img *im, img_file *mem, size_t *out_len)
{
    img_close(im);
    const uint8_t *d = img_mem_file_data(mem, out_len);
    uint8_t *copy = malloc(*out_len ? *out_len : 1);
    memcpy(copy, d, *out_len);
    img_file_close(mem);
    return copy;
}

/* Runs the workload over a copy of base with writes from drop_from on
 * lost; returns the surviving bytes (and the write count). */
static uint8_t *crash_run(const uint8_t *base, size_t base_len,
                          uint64_t drop_from, run_log *log, size_t *out_len,
                          uint64_t *writes)
{
    img_file *mem, *fault;
    img *im = open_cut(base, base_len, drop_from, &mem, &fault);
    img_err err = { 0 };
    img_info info;
    cr_assert_eq(img_get_info(im, &info, &err), 0);
    img_info_clear(&info);
    for (int i = 0; i < (int)N_OPS; i++) {
        run_op(im, i, log, fault, info.cluster_size);
    }
    *writes = img_fault_file_writes(fault);
    return survivor(im, mem, out_len);
}

/* The index of the last flush that was entirely on disk, or -1. */
static int durable_flush(const run_log *log, uint64_t drop_from)
{
    int k = -1;
    for (int i = 0; i < log->nflush; i++) {
        if (log->flush_writes[i] < drop_from) {
            k = i;
        }
    }
    return k;
}

/* Opens the survivor, repairs when dirty (read/write open) and checks. */
static void check_survivor(const uint8_t *bytes, size_t len,
                           const uint8_t *base, const run_log *log, int k,
                           int lazy, uint64_t n)
{
    img_file *f = img_mem_file_new(bytes, len, 1);
    img *im = NULL;
    img_err err = { 0 };
    unsigned flags =
        IMG_OPEN_NO_LOCK | IMG_OPEN_QUIET | (lazy ? IMG_OPEN_RDWR : 0);
    cr_assert_eq(img_open_file(f, "qcow2", flags, &im, &err), 0,
                 "cut at write %" PRIu64 ": open: %s", n, err.msg);
    img_check_result res;
    cr_assert_eq(img_check(im, &res, 0, &err), 0, "cut at %" PRIu64 ": %s", n,
                 err.msg);
    cr_assert_eq(res.corruptions, 0,
                 "cut at write %" PRIu64 ": %d "
                 "corruptions",
                 n, res.corruptions);
    cr_assert_eq(res.check_errors, 0, "cut at write %" PRIu64, n);
    if (lazy) {
        cr_assert_eq(res.leaks, 0,
                     "cut at write %" PRIu64 ": leaks after "
                     "the repair",
                     n);
    }
    uint8_t *buf = malloc(SIZE);
    cr_assert_eq(img_pread(im, buf, SIZE, 0, &err), 0,
                 "cut at %" PRIu64 ": read: %s", n, err.msg);
    (void)base;
    for (uint64_t i = 0; k >= 0 && i < SIZE; i++) {
        if (log->last_op[i] <= log->flush_op[k] && buf[i] != log->snap[k][i]) {
            cr_assert_fail("cut at write %" PRIu64 ": byte %" PRIu64
                           " flushed at op %d reads %#x, not %#x",
                           n, i, log->flush_op[k], buf[i], log->snap[k][i]);
        }
    }
    free(buf);
    img_close(im);
}

static void crash_test(const char *opts, int lazy, uint64_t step)
{
    size_t base_len, len;
    uint8_t *base = base_image(opts, &base_len);
    run_log log;
    memset(&log, 0, sizeof(log));
    log.content = calloc(1, SIZE);
    log.last_op = calloc(SIZE, sizeof(int));
    for (uint64_t i = 0; i < SIZE; i++) {
        log.last_op[i] = -1;
    }
    uint64_t total;
    free(crash_run(base, base_len, 0, &log, &len, &total));
    cr_assert(total > 20, "the workload writes (%" PRIu64 ")", total);
    cr_assert(log.nflush > 3);
    for (uint64_t n = 1; n <= total; n += step) {
        uint64_t w;
        uint8_t *bytes = crash_run(base, base_len, n, NULL, &len, &w);
        check_survivor(bytes, len, base, &log, durable_flush(&log, n), lazy, n);
        free(bytes);
    }
    for (int i = 0; i < log.nflush; i++) {
        free(log.snap[i]);
    }
    free(log.content);
    free(log.last_op);
    free(base);
}

Test(qcow2_crash, every_cut_leaves_a_consistent_image)
{
    crash_test("cluster_size=4k", 0, 1);
}

/* 512-byte clusters and 64-bit refcounts: the refcount table grows and
 * many refcount blocks are allocated during the workload. */
Test(qcow2_crash, refcount_growth_is_crash_safe)
{
    crash_test("cluster_size=512,refcount_bits=64", 0, 7); /* ~800 writes */
}

Test(qcow2_crash, extended_l2_is_crash_safe)
{
    crash_test("cluster_size=16k,extended_l2=on", 0, 1);
}

Test(qcow2_crash, version_2_is_crash_safe)
{
    crash_test("compat=0.10,cluster_size=8k", 0, 1);
}

/* With lazy refcounts the dirty bit is set instead: the read/write open
 * rebuilds the refcounts, and then nothing is wrong. */
Test(qcow2_crash, lazy_refcounts_are_repaired_on_open)
{
    crash_test("cluster_size=4k,lazy_refcounts=on", 1, 1);
}

/* ---- the bitmap command: directory, tables and header ---- */

static const img_bitmap_change bitmap_changes[] = {
    { .op = IMG_BITMAP_ADD, .name = "a" },
    { .op = IMG_BITMAP_ADD, .name = "b", .granularity = 4096 },
    { .op = IMG_BITMAP_DISABLE, .name = "a" },
    { .op = IMG_BITMAP_CLEAR, .name = "b" },
    { .op = IMG_BITMAP_REMOVE, .name = "a" },
    { .op = IMG_BITMAP_ADD, .name = "c" },
    { .op = IMG_BITMAP_REMOVE, .name = "b" },
    { .op = IMG_BITMAP_REMOVE, .name = "c" },
    { .op = IMG_BITMAP_ADD, .name = "d" },
};
#define N_BITMAP_CHANGES \
    (sizeof(bitmap_changes) / sizeof(bitmap_changes[0]))

/* The bitmaps listed before the first change and after each. */
static const char *const bitmap_states[] = {
    "", "a", "a,b", "a,b", "a,b", "b", "b,c", "c", "", "d",
};

/* Makes the changes over a copy of base with writes from drop_from on
 * lost; returns the surviving bytes (and the write count). */
static uint8_t *bitmap_run(const uint8_t *base, size_t base_len,
                           uint64_t drop_from, size_t *out_len,
                           uint64_t *writes)
{
    img_file *mem, *fault;
    img *im = open_cut(base, base_len, drop_from, &mem, &fault);
    img_err err = { 0 };
    /* After the cut a change may read back what never reached the file
     * and fail: the survivor is what counts then. */
    int r = 0;
    for (size_t i = 0; r >= 0 && i < N_BITMAP_CHANGES; i++) {
        r = img_bitmap_change_apply(im, &bitmap_changes[i], &err);
        cr_assert(r >= 0 || drop_from, "change %zu: %s", i, err.msg);
    }
    r = r >= 0 ? img_flush(im, &err) : r;
    cr_assert(r >= 0 || drop_from, "flush: %s", err.msg);
    *writes = img_fault_file_writes(fault);
    return survivor(im, mem, out_len);
}

/* Opens the bytes a cut at write n left (read-only): check must find no
 * corruption; leaks are allowed, and counted in *res. */
static img *open_checked(const uint8_t *bytes, size_t len, uint64_t n,
                         img_check_result *res)
{
    img_file *f = img_mem_file_new(bytes, len, 0);
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open_file(f, "qcow2", IMG_OPEN_NO_LOCK | IMG_OPEN_QUIET,
                               &im, &err),
                 0, "cut at write %" PRIu64 ": open: %s", n, err.msg);
    cr_assert_eq(img_check(im, res, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(res->corruptions + res->check_errors, 0,
                 "cut at write %" PRIu64 ": %d corruptions", n,
                 res->corruptions);
    return im;
}

/* The names info lists, joined with commas. */
static void listed_bitmaps(img *im, char *out, size_t len, uint64_t n)
{
    img_info info;
    img_err err = { 0 };
    cr_assert_eq(img_get_info(im, &info, &err), 0,
                 "cut at write %" PRIu64 ": info: %s", n, err.msg);
    const img_val *data = img_val_dict_get(info.format_specific, "data");
    const img_val *list = img_val_dict_get(data, "bitmaps");
    out[0] = '\0';
    for (size_t i = 0; list && i < img_val_count(list); i++) {
        const img_val *name = img_val_dict_get(img_val_at(list, i), "name");
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", i ? "," : "",
                 img_val_str(name));
    }
    img_info_clear(&info);
}

/* A cut anywhere in the changes leaves a clean image (leaks allowed)
 * whose bitmaps are those before or after one of the changes. */
Test(qcow2_crash, bitmap_changes_are_crash_safe)
{
    size_t base_len, len;
    uint8_t *base = base_image("cluster_size=4k", &base_len);
    uint64_t total;
    free(bitmap_run(base, base_len, 0, &len, &total));
    cr_assert(total > 20, "the changes write (%" PRIu64 ")", total);
    for (uint64_t n = 1; n <= total + 1; n++) {
        uint64_t w;
        uint8_t *bytes = bitmap_run(base, base_len, n, &len, &w);
        img_check_result res;
        img *im = open_checked(bytes, len, n, &res);
        char names[64];
        listed_bitmaps(im, names, sizeof(names), n);
        int known = 0;
        for (size_t i = 0; i <= N_BITMAP_CHANGES; i++) {
            known |= !strcmp(names, bitmap_states[i]);
        }
        cr_assert(known, "cut at write %" PRIu64 ": bitmaps '%s'", n, names);
        if (n == total + 1) {
            cr_assert_str_eq(names, "d");
            cr_assert_eq(res.leaks, 0, "no cut: leaks");
        }
        img_close(im);
        free(bytes);
    }
    free(base);
}

/* ---- merging bitmap contents ---- */

/* A base image with three bitmaps: "ones" (512 bytes per bit, its one
 * table entry set to all ones by hand), "dst" (64 KiB) and "fine" (512
 * bytes), both empty. */
static uint8_t *merge_base(size_t *len)
{
    size_t base_len;
    uint8_t *base = base_image("cluster_size=4k", &base_len);
    img_file *mem, *fault;
    img *im = open_cut(base, base_len, 0, &mem, &fault);
    img_err err = { 0 };
    static const img_bitmap_change adds[] = {
        { .op = IMG_BITMAP_ADD, .name = "ones", .granularity = 512 },
        { .op = IMG_BITMAP_ADD, .name = "dst", .granularity = 65536 },
        { .op = IMG_BITMAP_ADD, .name = "fine", .granularity = 512 },
    };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(img_bitmap_change_apply(im, &adds[i], &err), 0, "%s",
                     err.msg);
    }
    cr_assert_eq(img_flush(im, &err), 0, "%s", err.msg);
    free(base);
    uint8_t *bytes = survivor(im, mem, len);
    bitmap_bytes b;
    cr_assert_eq(bitmap_bytes_find(bytes, *len, "ones", &b), 0);
    cr_assert_eq(b.table_size, 1);
    bytes[b.table_off + 7] = 1;
    return bytes;
}

/* Merges ones into dst, then dst into fine, with writes from drop_from
 * on lost. */
static uint8_t *merge_run(const uint8_t *base, size_t base_len,
                          uint64_t drop_from, size_t *out_len,
                          uint64_t *writes)
{
    img_file *mem, *fault;
    img *im = open_cut(base, base_len, drop_from, &mem, &fault);
    img_err err = { 0 };
    img_bitmap_change merges[] = {
        { .op = IMG_BITMAP_MERGE, .name = "dst", .src = im,
          .src_name = "ones" },
        { .op = IMG_BITMAP_MERGE, .name = "fine", .src = im,
          .src_name = "dst" },
    };
    int r = 0;
    for (size_t i = 0; r >= 0 && i < 2; i++) {
        r = img_bitmap_change_apply(im, &merges[i], &err);
        cr_assert(r >= 0 || drop_from, "merge %zu: %s", i, err.msg);
    }
    r = r >= 0 ? img_flush(im, &err) : r;
    cr_assert(r >= 0 || drop_from, "flush: %s", err.msg);
    *writes = img_fault_file_writes(fault);
    return survivor(im, mem, out_len);
}

/* How many of the first nbits bits of bitmap name are set. */
static uint64_t bits_set(const uint8_t *d, size_t len, const char *name,
                         uint64_t nbits)
{
    bitmap_bytes b;
    cr_assert_eq(bitmap_bytes_find(d, len, name, &b), 0, "no %s", name);
    uint64_t n = 0;
    for (uint64_t i = 0; i < nbits; i++) {
        int bit = bitmap_bytes_bit(d, len, 4096, &b, i);
        cr_assert_geq(bit, 0, "%s: bit %" PRIu64 " unreadable", name, i);
        n += (uint64_t)bit;
    }
    return n;
}

/* A cut anywhere in two merges leaves a clean image (leaks allowed) in
 * which each bitmap is wholly before or wholly after its merge, and the
 * second merge never shows without the first. */
Test(qcow2_crash, bitmap_merges_are_crash_safe)
{
    size_t base_len, len;
    uint8_t *base = merge_base(&base_len);
    uint64_t total;
    free(merge_run(base, base_len, 0, &len, &total));
    cr_assert(total > 6, "the merges write (%" PRIu64 ")", total);
    for (uint64_t n = 1; n <= total + 1; n++) {
        uint64_t w;
        uint8_t *bytes = merge_run(base, base_len, n, &len, &w);
        img_check_result res;
        img *im = open_checked(bytes, len, n, &res);
        uint64_t dst = bits_set(bytes, len, "dst", SIZE / 65536);
        uint64_t fine = bits_set(bytes, len, "fine", SIZE / 512);
        cr_assert(dst == 0 || dst == SIZE / 65536,
                  "cut at write %" PRIu64 ": dst has %" PRIu64 " bits", n,
                  dst);
        cr_assert(fine == 0 || (fine == SIZE / 512 && dst),
                  "cut at write %" PRIu64 ": fine has %" PRIu64 " bits", n,
                  fine);
        if (n == total + 1) {
            cr_assert(dst && fine, "no cut: both merged");
            cr_assert_eq(res.leaks, 0, "no cut: leaks");
        }
        img_close(im);
        free(bytes);
    }
    free(base);
}
