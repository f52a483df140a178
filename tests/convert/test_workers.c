/* tests/convert/test_workers.c -- how many threads a conversion uses
 * (cvt_workers_for): the -m count when given; one for sources that are
 * read one request at a time (qcow2 here), unless the workers compress;
 * the machine's default for raw sources. */
#include <criterion/criterion.h>

#include "convert/engine.h"
#include "libimg/img.h"
#include "rec_file.h"
#include "support/mem_image.h"

#define LEN ((size_t)1 << 20)

/* An empty qcow2 image of LEN bytes in memory. */
static img *qcow2_new(void)
{
    return test_mem_image_new("qcow2", LEN, NULL);
}

/* A raw memory image of LEN zero bytes, writable or not. */
static img *raw_new(int writable)
{
    static uint8_t zeros[LEN];
    img *im = rec_raw_image(zeros, LEN, writable, 0, NULL);
    cr_assert(im);
    return im;
}

static int workers_for(img **src, int nsrc, img *dst, int compress,
                       int workers)
{
    cvt_params p;
    cvt_params_init(&p);
    p.src = src;
    p.nsrc = nsrc;
    p.dst = dst;
    p.compress = compress;
    p.cluster_size = 65536;
    p.workers = workers;
    return cvt_workers_for(&p);
}

Test(workers, raw_sources_read_in_parallel)
{
    img *src = raw_new(0);
    img *dst = raw_new(1);
    cr_assert(img_reads_in_parallel(src));
    cr_assert_eq(workers_for(&src, 1, dst, 0, 0), cvt_default_workers());
    img_close(dst);
    img_close(src);
}

Test(workers, a_qcow2_source_gets_one_worker)
{
    img *src = qcow2_new();
    img *dst = raw_new(1);
    cr_assert_not(img_reads_in_parallel(src));
    cr_assert_eq(workers_for(&src, 1, dst, 0, 0), 1);
    img *qdst = qcow2_new();
    cr_assert_eq(workers_for(&src, 1, qdst, 0, 0), 1);
    img_close(qdst);
    img_close(dst);
    img_close(src);
}

Test(workers, compressing_workers_stay_parallel)
{
    img *src = qcow2_new();
    img *dst = qcow2_new();
    cr_assert(img_has_compress_hooks(dst));
    cr_assert_eq(workers_for(&src, 1, dst, 1, 0), cvt_default_workers());
    img_close(dst);
    img_close(src);
}

Test(workers, one_parallel_source_among_several_is_enough)
{
    img *src[2] = { qcow2_new(), raw_new(0) };
    img *dst = raw_new(1);
    cr_assert_eq(workers_for(src, 2, dst, 0, 0), cvt_default_workers());
    img *both[2] = { src[0], src[0] };
    cr_assert_eq(workers_for(both, 2, dst, 0, 0), 1);
    img_close(dst);
    img_close(src[1]);
    img_close(src[0]);
}

Test(workers, the_m_count_wins)
{
    img *src = qcow2_new();
    img *rsrc = raw_new(0);
    img *dst = raw_new(1);
    cr_assert_eq(workers_for(&src, 1, dst, 0, 3), 3);
    cr_assert_eq(workers_for(&rsrc, 1, dst, 0, 1), 1);
    cr_assert_eq(workers_for(&rsrc, 1, dst, 0, 16), 16);
    img_close(dst);
    img_close(rsrc);
    img_close(src);
}
