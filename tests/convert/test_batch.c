/* tests/convert/test_batch.c -- batches: a source that reports its data
 * in short runs (each compressed qcow2 cluster on its own) is read many
 * chunks at a time, yet the target receives exactly the writes it gets
 * chunk by chunk (--salvage turns batches off and changes nothing else
 * here), since where a chunk ends decides where zero detection leaves a
 * hole.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "convert/engine.h"
#include "libimg/file.h"
#include "rec_file.h"
#include "support/mem_image.h"

#define CLUSTER ((uint64_t)65536)
/* c: compressed cluster, d: plain data, z: zeros.  Every data cluster
 * ends with a zero block (16 KiB: the granularity of a MIN_SPARSE of
 * 24 KiB) shorter than MIN_SPARSE: a hole at the end of a chunk, data
 * inside a longer one. */
#define KINDS "cccccdcccczccccccccc"
#define NCLUSTERS (sizeof(KINDS) - 1)
#define LEN (NCLUSTERS * CLUSTER)
#define ZERO_TAIL ((uint64_t)16384)
#define MIN_SPARSE ((uint64_t)24576)

static void fill(uint8_t *p, uint64_t i)
{
    for (uint64_t k = 0; k < CLUSTER - ZERO_TAIL; k++) {
        p[k] = (uint8_t)(k / 5 + i * 7 + 1);
    }
}

/* The source: a qcow2 image in memory laid out as KINDS; *want gets its
 * bytes. */
static img *source_new(uint8_t **want)
{
    img_err err = { 0 };
    img *im = test_mem_image_new("qcow2", LEN, NULL);
    *want = calloc(1, LEN);
    cr_assert(*want);
    for (uint64_t i = 0; i < NCLUSTERS; i++) {
        uint8_t *p = *want + i * CLUSTER;
        int r = 0;
        if (KINDS[i] == 'z') {
            r = img_pwrite_zeroes(im, i * CLUSTER, CLUSTER, 0, &err);
        } else {
            fill(p, i);
            r = img_pwrite(im, p, CLUSTER, i * CLUSTER,
                           KINDS[i] == 'c' ? IMG_WRITE_COMPRESSED : 0, &err);
        }
        cr_assert_eq(r, 0, "%s", err.msg);
    }
    return im;
}

typedef struct result {
    rec_op ops[4 * NCLUSTERS];
    size_t nops;
    cvt_stats stats;
} result;

/* Converts src into a raw image of 0xee bytes and records its writes. */
static void convert(img *src, int salvage, int workers, const uint8_t *want,
                    result *res)
{
    uint8_t *fillbuf = malloc(LEN);
    cr_assert(fillbuf);
    memset(fillbuf, 0xee, LEN);
    img_file *rec;
    img *dst = rec_raw_image(fillbuf, LEN, 1, 0, &rec);
    free(fillbuf);
    cvt_params p;
    cvt_params_init(&p);
    p.src = &src;
    p.nsrc = 1;
    p.dst = dst;
    p.min_sparse = MIN_SPARSE;
    p.salvage = salvage;
    p.workers = workers;
    img_err err = { 0 };
    cr_assert_eq(cvt_run(&p, &res->stats, &err), 0, "%s", err.msg);
    res->nops = rec_file_ops(rec, res->ops, 4 * NCLUSTERS);
    cr_assert_leq(res->nops, 4 * NCLUSTERS);
    size_t len;
    const uint8_t *got = rec_file_data(rec, &len);
    cr_assert_eq(len, LEN);
    cr_assert(memcmp(got, want, LEN) == 0, "content differs");
    img_close(dst);
}

static void same_writes(const result *a, const result *b)
{
    cr_assert_eq(a->nops, b->nops, "%zu writes against %zu", a->nops,
                 b->nops);
    for (size_t i = 0; i < a->nops; i++) {
        cr_assert(a->ops[i].kind == b->ops[i].kind &&
                  a->ops[i].off == b->ops[i].off &&
                  a->ops[i].len == b->ops[i].len,
                  "write %zu: %c %" PRIu64 "+%" PRIu64 " against %c %" PRIu64
                  "+%" PRIu64, i, a->ops[i].kind, a->ops[i].off,
                  a->ops[i].len, b->ops[i].kind, b->ops[i].off,
                  b->ops[i].len);
    }
}

/* Holes at the end of each compressed cluster: chunks ended there. */
static int punches(const result *r)
{
    int n = 0;
    for (size_t i = 0; i < r->nops; i++) {
        n += r->ops[i].kind == 'z';
    }
    return n;
}

Test(batch, one_read_per_batch_and_the_same_writes)
{
    uint8_t *want;
    img *src = source_new(&want);
    static result chunkwise, batched;
    convert(src, 1, 0, want, &chunkwise);
    convert(src, 0, 0, want, &batched);
    same_writes(&chunkwise, &batched);
    cr_assert_geq(punches(&chunkwise), 17, "chunk ends lost their holes");
    /* 19 data chunks; batches of up to 2 MiB (32 clusters), split at the
     * zero cluster: two reads. */
    cr_assert_eq(chunkwise.stats.reads, 19);
    cr_assert_eq(batched.stats.reads, 2);
    img_close(src);
    free(want);
}

Test(batch, several_workers_write_the_same)
{
    uint8_t *want;
    img *src = source_new(&want);
    static result chunkwise, batched;
    convert(src, 1, 4, want, &chunkwise);
    for (int round = 0; round < 10; round++) {
        convert(src, 0, 4, want, &batched);
        same_writes(&chunkwise, &batched);
    }
    img_close(src);
    free(want);
}
