/* tests/convert/test_prefetch.c -- reading ahead of the workers
 * (convert/prefetch.c): which ranges the sources are asked to fetch, the
 * window past the claimed chunks, and a whole conversion with the thread.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/cvt_internal.h"
#include "rec_file.h"

#define KiB ((uint64_t)1024)
#define MiB (KiB * 1024)
#define IMG_LEN (16 * MiB)

/* 16 MiB source: data [0, 3M) and [5M, 12M), holes elsewhere (the
 * recording file reports zero blocks as holes). */
static uint8_t *pattern_new(void)
{
    uint8_t *buf = calloc(1, IMG_LEN);
    cr_assert(buf);
    memset(buf, 0x5a, 3 * MiB);
    memset(buf + 5 * MiB, 0xa5, 7 * MiB);
    return buf;
}

static img *source_new(img_file **rec)
{
    uint8_t *buf = pattern_new();
    img *im = rec_raw_image(buf, IMG_LEN, 0, 1, rec);
    free(buf);
    cr_assert(im);
    return im;
}

/* The prefetched ranges as "off+len ..." in MiB. */
static void prefetched(img_file *rec, char *out, size_t cap)
{
    rec_op ops[64];
    size_t n = rec_file_prefetches(rec, ops, 64);
    cr_assert_leq(n, 64);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(out);
        cr_assert_eq(ops[i].kind, 'p');
        snprintf(out + used, cap - used, "%s%llu+%llu", used ? " " : "",
                 (unsigned long long)(ops[i].off / MiB),
                 (unsigned long long)(ops[i].len / MiB));
    }
}

/* Steps until the window is full (0) or the walk ends (-1). */
static int step_all(cvt_prefetch *pf)
{
    int r;
    while ((r = cvt_prefetch_step(pf)) > 0) {
        /* next */
    }
    return r;
}

static void params_for(cvt_params *p, img **src)
{
    cvt_params_init(p);
    p->src = src;
    p->nsrc = 1;
}

/* A prefetcher over the 16 MiB source with 1 MiB chunks. */
typedef struct fixture {
    img_file *rec; /* the source's recording file */
    img *src;
    cvt_params p;
    cvt_prefetch pf;
} fixture;

static void fixture_init(fixture *f, uint64_t window, uint64_t head,
                         uint64_t min_sparse)
{
    f->src = source_new(&f->rec);
    params_for(&f->p, &f->src);
    f->p.min_sparse = min_sparse;
    cvt_prefetch_init(&f->pf, &f->p, MiB, window, head);
}

static void fixture_fini(fixture *f)
{
    cvt_prefetch_destroy(&f->pf);
    img_close(f->src);
}

/* Steps to the end and checks what was prefetched. */
static void expect_walk(fixture *f, const char *want)
{
    char got[256];
    cr_assert_eq(step_all(&f->pf), -1);
    prefetched(f->rec, got, sizeof(got));
    cr_assert_str_eq(got, want);
}

Test(prefetch, fetches_the_head_of_each_data_stretch)
{
    fixture f;
    fixture_init(&f, 64 * MiB, 2 * MiB, CVT_DEFAULT_MIN_SPARSE);
    /* Two 1 MiB chunks of each stretch; holes never. */
    expect_walk(&f, "0+1 1+1 5+1 6+1");
    fixture_fini(&f);
}

Test(prefetch, stays_within_the_window_past_the_claimed_chunks)
{
    fixture f;
    fixture_init(&f, 6 * MiB, 64 * MiB, CVT_DEFAULT_MIN_SPARSE);
    char got[256];
    cr_assert_eq(step_all(&f.pf), 0, "stops at the window");
    prefetched(f.rec, got, sizeof(got));
    cr_assert_str_eq(got, "0+1 1+1 2+1 5+1");
    cvt_prefetch_claimed(&f.pf, 3 * MiB);
    cr_assert_eq(step_all(&f.pf), 0);
    prefetched(f.rec, got, sizeof(got));
    cr_assert_str_eq(got, "0+1 1+1 2+1 5+1 6+1 7+1 8+1");
    cvt_prefetch_claimed(&f.pf, 9 * MiB);
    expect_walk(&f, "0+1 1+1 2+1 5+1 6+1 7+1 8+1 9+1 10+1 11+1");
    fixture_fini(&f);
}

Test(prefetch, passes_over_chunks_already_claimed)
{
    fixture f;
    fixture_init(&f, 64 * MiB, 64 * MiB, CVT_DEFAULT_MIN_SPARSE);
    cvt_prefetch_claimed(&f.pf, 10 * MiB);
    expect_walk(&f, "10+1 11+1");
    fixture_fini(&f);
}

Test(prefetch, explicit_zero_chunks_are_not_fetched)
{
    fixture f;
    fixture_init(&f, 64 * MiB, 64 * MiB, 0); /* -S 0: holes are zero data */
    expect_walk(&f, "0+1 1+1 2+1 5+1 6+1 7+1 8+1 9+1 10+1 11+1");
    fixture_fini(&f);
}

Test(prefetch, clipped_to_the_source_size)
{
    img_file *rec;
    img *src = source_new(&rec);
    img_prefetch(src, IMG_LEN - MiB, 4 * MiB);
    img_prefetch(src, IMG_LEN, MiB); /* past the end: nothing */
    char got[256];
    prefetched(rec, got, sizeof(got));
    cr_assert_str_eq(got, "15+1");
    cr_assert(img_can_prefetch(src));
    img_close(src);
}

/* A whole conversion with the thread: the copy is exact, and whatever
 * the thread got to fetch (it races the workers) lies in the data. */
Test(prefetch, conversion_copies_exactly_and_fetches_only_data)
{
    img_file *rec, *out_rec;
    img *src = source_new(&rec);
    uint8_t *zeros = calloc(1, IMG_LEN);
    cr_assert(zeros);
    img *dst = rec_raw_image(zeros, IMG_LEN, 1, 0, &out_rec);
    cr_assert(dst);
    cvt_params p;
    params_for(&p, &src);
    p.dst = dst;
    p.chunk_size = 256 * KiB;
    p.workers = 2;
    img_err err = { 0 };
    cr_assert_eq(cvt_run(&p, NULL, &err), 0, "%s", err.msg);
    size_t len;
    const uint8_t *got = rec_file_data(out_rec, &len);
    uint8_t *want = pattern_new();
    cr_assert_eq(len, IMG_LEN);
    cr_assert(memcmp(got, want, IMG_LEN) == 0);
    rec_op ops[256];
    size_t n = rec_file_prefetches(rec, ops, 256);
    cr_assert_leq(n, 256);
    for (size_t i = 0; i < n; i++) {
        uint64_t end = ops[i].off + ops[i].len;
        int in_data = end <= 3 * MiB || (ops[i].off >= 5 * MiB &&
                                         end <= 12 * MiB);
        cr_assert(in_data, "prefetch %llu+%llu outside the data",
                  (unsigned long long)ops[i].off,
                  (unsigned long long)ops[i].len);
    }
    free(want);
    free(zeros);
    img_close(dst);
    img_close(src);
}
