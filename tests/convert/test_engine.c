/* tests/convert/test_engine.c -- the conversion engine (convert/engine.h)
 * on memory images: content, holes, zeroing, concatenation, worker
 * counts, progress, and error propagation with the fault injector.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "convert/engine.h"
#include "rec_file.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
/* Small chunks give many chunks on small images. */
#define CHUNK (64 * KiB)

/* Deterministic bytes without any zero byte, so no data block of a test
 * image is ever all zero by accident. */
static void fill_random(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)(x % 255 + 1);
    }
}

/* 1 MiB: data [0, 64K), zeros [64K, 512K), data [512K, 600K), zeros to
 * the end. */
#define IMG_LEN  MiB
#define Z1_START (64 * KiB)
#define Z1_END   (512 * KiB)
#define D2_END   (600 * KiB)
#define Z2_START D2_END /* 4 KiB aligned */

static uint8_t *pattern_new(void)
{
    uint8_t *buf = calloc(1, IMG_LEN);
    cr_assert(buf);
    fill_random(buf, Z1_START, 7);
    fill_random(buf + Z1_END, D2_END - Z1_END, 8);
    return buf;
}

/* A writable raw memory image of len bytes, all set to fill. */
static img *target_new(size_t len, uint8_t fill, img_file **rec)
{
    uint8_t *buf = malloc(len);
    cr_assert(buf);
    memset(buf, fill, len);
    img *im = rec_raw_image(buf, len, 1, 0, rec);
    free(buf);
    cr_assert(im);
    return im;
}

static img *source_new(const uint8_t *data, size_t len, int sparse,
                       img_file **rec)
{
    img *im = rec_raw_image(data, len, 0, sparse, rec);
    cr_assert(im);
    return im;
}

static void params_for(cvt_params *p, img **src, int nsrc, img *dst)
{
    cvt_params_init(p);
    p->src = src;
    p->nsrc = nsrc;
    p->dst = dst;
    p->chunk_size = CHUNK;
}

static void run_ok(const cvt_params *p, cvt_stats *st)
{
    img_err err = { 0 };
    int r = cvt_run(p, st, &err);
    cr_assert_eq(r, 0, "cvt_run: %d %s", r, err.msg);
}

static void assert_content(img_file *rec, const uint8_t *want, size_t len)
{
    size_t have = 0;
    const uint8_t *data = rec_file_data(rec, &have);
    cr_assert_geq(have, len);
    cr_assert(memcmp(data, want, len) == 0, "target differs from source");
}

/* Whether a recorded call of kind overlaps [off, off+len). */
static int touched(img_file *rec, char kind, uint64_t off, uint64_t len)
{
    rec_op ops[4096];
    size_t n = rec_file_ops(rec, ops, 4096);
    cr_assert_leq(n, 4096);
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind == kind && ops[i].off < off + len &&
            off < ops[i].off + ops[i].len) {
            return 1;
        }
    }
    return 0;
}

Test(engine, copies_content_with_any_worker_count)
{
    uint8_t *data = pattern_new();
    static const int workers[] = { 1, 2, 3, 8, 16 };
    for (size_t w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
        for (int ooo = 0; ooo <= 1; ooo++) {
            img_file *rec;
            img *src = source_new(data, IMG_LEN, (int)w % 2, NULL);
            img *dst = target_new(IMG_LEN, 0xaa, &rec);
            cvt_params p;
            params_for(&p, &src, 1, dst);
            p.workers = workers[w];
            p.out_of_order = ooo;
            run_ok(&p, NULL);
            assert_content(rec, data, IMG_LEN);
            img_close(dst);
            img_close(src);
        }
    }
    free(data);
}

Test(engine, zero_blocks_are_not_written_to_a_zero_target)
{
    uint8_t *data = pattern_new();
    img_file *rec;
    img *src = source_new(data, IMG_LEN, 0, NULL);
    img *dst = target_new(IMG_LEN, 0, &rec);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.target_is_zero = 1;
    p.workers = 4;
    cvt_stats st;
    run_ok(&p, &st);
    assert_content(rec, data, IMG_LEN);
    cr_assert_not(touched(rec, 'w', Z1_START, Z1_END - Z1_START));
    cr_assert_not(touched(rec, 'w', Z2_START, IMG_LEN - Z2_START));
    cr_assert_not(touched(rec, 'z', 0, IMG_LEN), "zeroed a zero target");
    cr_assert_eq(st.zero_written, 0);
    cr_assert_eq(st.data_written + st.skipped, IMG_LEN);
    cr_assert_eq(st.data_written, Z1_START + (Z2_START - Z1_END));
    img_close(dst);
    img_close(src);
    free(data);
}

Test(engine, zero_ranges_are_zeroed_on_a_dirty_target)
{
    uint8_t *data = pattern_new();
    img_file *rec;
    img *src = source_new(data, IMG_LEN, 0, NULL);
    img *dst = target_new(IMG_LEN, 0xaa, &rec);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.workers = 3;
    run_ok(&p, NULL);
    assert_content(rec, data, IMG_LEN);
    cr_assert(touched(rec, 'z', Z1_START, Z1_END - Z1_START));
    cr_assert_not(touched(rec, 'w', Z1_START, Z1_END - Z1_START));
    img_close(dst);
    img_close(src);
    free(data);
}

Test(engine, holes_of_the_source_are_neither_read_nor_written)
{
    uint8_t *data = pattern_new();
    img_file *src_rec, *rec;
    img *src = source_new(data, IMG_LEN, 1, &src_rec);
    img *dst = target_new(IMG_LEN, 0, &rec);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.target_is_zero = 1;
    run_ok(&p, NULL);
    assert_content(rec, data, IMG_LEN);
    cr_assert_eq(rec_file_reads_in(src_rec, Z1_START, Z1_END - Z1_START), 0);
    cr_assert_not(touched(rec, 'w', Z1_START, Z1_END - Z1_START));
    cr_assert_not(touched(rec, 'z', 0, IMG_LEN));
    img_close(dst);
    img_close(src);
    free(data);
}

Test(engine, min_sparse_zero_writes_every_byte)
{
    uint8_t *data = pattern_new();
    img_file *rec;
    img *src = source_new(data, IMG_LEN, 1, NULL);
    img *dst = target_new(IMG_LEN, 0xaa, &rec);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.min_sparse = 0;
    p.target_is_zero = 1; /* ignored: -S 0 allocates everything */
    cvt_stats st;
    run_ok(&p, &st);
    assert_content(rec, data, IMG_LEN);
    cr_assert_eq(st.data_written, IMG_LEN);
    cr_assert_not(touched(rec, 'z', 0, IMG_LEN));
    img_close(dst);
    img_close(src);
    free(data);
}

/* Short zero runs inside data are written as data; long ones, and zero
 * blocks at the start or end of a chunk, are left out.  -S 12k: 8 KiB
 * blocks, runs shorter than 12 KiB are kept. */
Test(engine, only_zero_runs_of_min_sparse_become_holes)
{
    uint8_t *data = malloc(CHUNK);
    cr_assert(data);
    fill_random(data, CHUNK, 3);
    memset(data, 0, 8 * KiB);                   /* leading: a hole */
    memset(data + 16 * KiB, 0, 8 * KiB);        /* short: written */
    memset(data + 32 * KiB, 0, 16 * KiB);       /* long: a hole */
    memset(data + CHUNK - 8 * KiB, 0, 8 * KiB); /* trailing: a hole */
    img_file *rec;
    img *src = source_new(data, CHUNK, 0, NULL);
    img *dst = target_new(CHUNK, 0, &rec);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.min_sparse = 12 * KiB;
    p.target_is_zero = 1;
    run_ok(&p, NULL);
    assert_content(rec, data, CHUNK);
    cr_assert_not(touched(rec, 'w', 0, 8 * KiB));
    cr_assert(touched(rec, 'w', 16 * KiB, 8 * KiB));
    cr_assert_not(touched(rec, 'w', 32 * KiB, 16 * KiB));
    cr_assert_not(touched(rec, 'w', CHUNK - 8 * KiB, 8 * KiB));
    img_close(dst);
    img_close(src);
    free(data);
}

/* Three sources, one of a size that is not a multiple of 512: each takes
 * its size rounded up to 512 bytes, the tail zero. */
Test(engine, concatenates_sources_in_order)
{
    static const size_t len[3] = { 1000, 70000, 4096 };
    static const size_t at[3] = { 0, 1024, 1024 + 70144 };
    const size_t total = 1024 + 70144 + 4096;
    uint8_t *want = calloc(1, total);
    img *src[3];
    cr_assert(want);
    for (int i = 0; i < 3; i++) {
        fill_random(want + at[i], len[i], (uint32_t)i + 11);
        src[i] = source_new(want + at[i], len[i], i == 1, NULL);
    }
    cr_assert_eq(cvt_total_size(src, 3), total);
    img_file *rec;
    img *dst = target_new(total, 0xcc, &rec);
    cvt_params p;
    params_for(&p, src, 3, dst);
    p.chunk_size = 4 * KiB;
    p.workers = 5;
    run_ok(&p, NULL);
    assert_content(rec, want, total);
    img_close(dst);
    for (int i = 0; i < 3; i++) {
        img_close(src[i]);
    }
    free(want);
}

Test(engine, target_smaller_than_sources_is_refused)
{
    uint8_t *data = pattern_new();
    img *src = source_new(data, IMG_LEN, 0, NULL);
    img *dst = target_new(IMG_LEN - 512, 0, NULL);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    img_err err = { 0 };
    cr_assert_eq(cvt_run(&p, NULL, &err), -EINVAL);
    cr_assert_str_eq(err.msg, "output file is smaller than input file");
    img_close(dst);
    img_close(src);
    free(data);
}

/* In order, the failing write is the last one: nothing is written after
 * a failure, and the message names the offset. */
Test(engine, failed_write_stops_the_run_with_its_error)
{
    uint8_t *data = malloc(IMG_LEN);
    cr_assert(data);
    fill_random(data, IMG_LEN, 5);
    img *src = source_new(data, IMG_LEN, 0, NULL);
    img_fault_plan plan = { .fail_write_at = 5 };
    img_file *fault = img_fault_file_new(img_mem_file_new(NULL, 0, 1), &plan);
    cr_assert(fault);
    img_file_truncate(fault, IMG_LEN, NULL); /* write 1 */
    img *dst = NULL;
    cr_assert_eq(img_open_file(fault, "raw", IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK,
                               &dst, NULL),
                 0);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.workers = 8;
    img_err err = { 0 };
    cr_assert_eq(cvt_run(&p, NULL, &err), -EIO);
    cr_assert_eq(err.code, EIO);
    /* Writes 2, 3, 4 are chunks 0..2; chunk 3 at 192 KiB fails. */
    cr_assert(strstr(err.msg, "error while writing at byte 196608: "), "%s",
              err.msg);
    cr_assert(strstr(err.msg, "Injected fault"), "%s", err.msg);
    cr_assert_eq(img_fault_file_writes(fault), 5);
    img_close(dst);
    img_close(src);
    free(data);
}

Test(engine, failed_read_fails_the_run)
{
    uint8_t *data = pattern_new();
    img_fault_plan plan = { .fail_read_at = 3 };
    img_file *fault =
        img_fault_file_new(img_mem_file_new(data, IMG_LEN, 0), &plan);
    cr_assert(fault);
    img *src = NULL;
    cr_assert_eq(img_open_file(fault, "raw", IMG_OPEN_NO_LOCK, &src, NULL), 0);
    img *dst = target_new(IMG_LEN, 0, NULL);
    for (int ooo = 0; ooo <= 1; ooo++) {
        cvt_params p;
        params_for(&p, &src, 1, dst);
        p.workers = 4;
        p.out_of_order = ooo;
        img_err err = { 0 };
        int r = cvt_run(&p, NULL, &err);
        if (ooo == 0) {
            cr_assert_eq(r, -EIO);
            cr_assert(strstr(err.msg, "error while reading at byte "), "%s",
                      err.msg);
        } else {
            cr_assert_eq(r, 0, "only the 3rd read fails: %s", err.msg);
        }
    }
    img_close(dst);
    img_close(src);
    free(data);
}

/* Progress rises with each data chunk and ends at 100. */
typedef struct progress_log {
    float values[64];
    int n;
} progress_log;

static void log_progress(void *opaque, float percent)
{
    progress_log *l = opaque;
    cr_assert_lt(l->n, 64);
    l->values[l->n++] = percent;
}

Test(engine, progress_rises_to_100_once_per_data_chunk)
{
    uint8_t *data = pattern_new();
    img *src = source_new(data, IMG_LEN, 1, NULL);
    img *dst = target_new(IMG_LEN, 0, NULL);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.workers = 4;
    p.target_is_zero = 1;
    progress_log log = { .n = 0 };
    p.progress = log_progress;
    p.progress_opaque = &log;
    run_ok(&p, NULL);
    /* Data: one 64 KiB chunk, then [512K, 600K) as 64 KiB + 24 KiB. */
    cr_assert_eq(log.n, 3);
    for (int i = 1; i < log.n; i++) {
        cr_assert_gt(log.values[i], log.values[i - 1]);
    }
    cr_assert_float_eq(log.values[log.n - 1], 100.0f, 1e-4);
    img_close(dst);
    img_close(src);
    free(data);
}

Test(engine, compression_refused_by_raw_is_an_error)
{
    uint8_t *data = pattern_new();
    img *src = source_new(data, IMG_LEN, 0, NULL);
    img *dst = target_new(IMG_LEN, 0, NULL);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.compress = 1;
    img_err err = { 0 };
    cr_assert_eq(cvt_run(&p, NULL, &err), -EINVAL);
    cr_assert_str_eq(err.msg, "invalid cluster size");
    p.cluster_size = 64 * KiB;
    cr_assert_eq(cvt_run(&p, NULL, &err), -ENOTSUP);
    cr_assert(strstr(err.msg, "Compression not supported"), "%s", err.msg);
    img_close(dst);
    img_close(src);
    free(data);
}

/* Memory files cannot copy in the kernel: the engine falls back. */
Test(engine, copy_offload_falls_back_to_read_and_write)
{
    uint8_t *data = pattern_new();
    img_file *rec;
    img *src = source_new(data, IMG_LEN, 0, NULL);
    img *dst = target_new(IMG_LEN, 0, &rec);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.copy_offload = 1;
    p.target_is_zero = 1;
    p.workers = 4;
    cvt_stats st;
    run_ok(&p, &st);
    assert_content(rec, data, IMG_LEN);
    cr_assert_eq(st.offloaded, 0);
    cr_assert_gt(st.data_written, 0);
    img_close(dst);
    img_close(src);
    free(data);
}

/* With a backing file on the target, zeros must be written (they hide the
 * backing) up to the backing file's end, and need not be past it. */
Test(engine, zeros_hide_the_target_backing_up_to_its_end)
{
    uint8_t *data = pattern_new();
    img_file *rec;
    img *src = source_new(data, IMG_LEN, 1, NULL);
    img *dst = target_new(IMG_LEN, 0, &rec);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.target_has_backing = 1;
    p.target_backing_size = Z1_END;
    run_ok(&p, NULL);
    assert_content(rec, data, IMG_LEN);
    cr_assert(touched(rec, 'z', Z1_START, Z1_END - Z1_START));
    cr_assert_not(touched(rec, 'z', Z1_END, IMG_LEN - Z1_END));
    cr_assert_not(touched(rec, 'w', Z2_START, IMG_LEN - Z2_START));
    img_close(dst);
    img_close(src);
    free(data);
}

Test(engine, rate_limit_keeps_the_content)
{
    uint8_t *data = pattern_new();
    img_file *rec;
    img *src = source_new(data, IMG_LEN, 0, NULL);
    img *dst = target_new(IMG_LEN, 0xee, &rec);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.rate_limit = (uint64_t)1 << 40; /* never actually waits long */
    run_ok(&p, NULL);
    assert_content(rec, data, IMG_LEN);
    img_close(dst);
    img_close(src);
    free(data);
}

Test(engine, default_workers_are_between_2_and_8)
{
    int n = cvt_default_workers();
    cr_assert(n >= 2 && n <= 8, "%d", n);
}

/* --salvage: sectors that cannot be read become zeros, with a warning
 * each; without it the run fails. */
static void count_warning(void *opaque, const char *msg)
{
    int *n = opaque;
    cr_assert(strstr(msg, "error while reading offset "), "%s", msg);
    __atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
}

Test(engine, salvage_turns_unreadable_sectors_into_zeros)
{
    uint8_t *data = malloc(IMG_LEN);
    cr_assert(data);
    fill_random(data, IMG_LEN, 9);
    img_file *src_rec, *rec;
    img *src = source_new(data, IMG_LEN, 0, &src_rec);
    rec_file_fail_reads(src_rec, 100 * KiB + 100, 1000); /* 3 sectors */
    img *dst = target_new(IMG_LEN, 0xaa, &rec);
    cvt_params p;
    params_for(&p, &src, 1, dst);
    p.workers = 4;
    img_err err = { 0 };
    cr_assert_eq(cvt_run(&p, NULL, &err), -EIO);
    int warnings = 0;
    p.salvage = 1;
    p.warn = count_warning;
    p.warn_opaque = &warnings;
    run_ok(&p, NULL);
    cr_assert_eq(warnings, 3);
    memset(data + 100 * KiB, 0, 3 * 512);
    assert_content(rec, data, IMG_LEN);
    img_close(dst);
    img_close(src);
    free(data);
}
