/* tests/convert/test_plan.c -- the chunk planner (convert/plan.c): how
 * block status, -S 0, compression, the target's backing file and odd
 * source sizes cut the target into data, zero and skip chunks.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/cvt_internal.h"
#include "rec_file.h"

#define KiB ((uint64_t)1024)

/* Sparse 1 MiB source: data [0, 64K) and [512K, 600K), holes elsewhere. */
static img *sparse_source(void)
{
    uint8_t *buf = calloc(1, 1024 * KiB);
    cr_assert(buf);
    memset(buf, 0x11, 64 * KiB);
    memset(buf + 512 * KiB, 0x22, 88 * KiB);
    img *im = rec_raw_image(buf, 1024 * KiB, 0, 1, NULL);
    free(buf);
    cr_assert(im);
    return im;
}

/* The chunks as text: "D0+64 Z64+448 ..." (kind, offset and length in
 * KiB; 'E' is explicit zero data, 'S' skip). */
static void plan_all(const cvt_params *p, uint64_t chunk, char *out, size_t len)
{
    cvt_plan pl;
    cvt_chunk c;
    int r;
    cvt_plan_init(&pl, p, chunk);
    out[0] = '\0';
    while ((r = cvt_plan_next(&pl, &c, NULL)) > 0) {
        char k = c.kind == CVT_ZERO   ? 'Z'
                 : c.kind == CVT_SKIP ? 'S'
                 : c.explicit_zero    ? 'E'
                                      : 'D';
        size_t used = strlen(out);
        int bytes = c.off % KiB || c.len % KiB;
        uint64_t unit = bytes ? 1 : KiB;
        snprintf(out + used, len - used, "%s%c%llu+%llu%s", used ? " " : "", k,
                 (unsigned long long)(c.off / unit),
                 (unsigned long long)(c.len / unit), bytes ? "B" : "");
    }
    cr_assert_eq(r, 0);
}

static void params_for(cvt_params *p, img **src)
{
    cvt_params_init(p);
    p->src = src;
    p->nsrc = 1;
}

Test(plan, block_status_gives_data_and_zero_chunks)
{
    img *src = sparse_source();
    cvt_params p;
    params_for(&p, &src);
    char got[512];
    plan_all(&p, 64 * KiB, got, sizeof(got));
    cr_assert_str_eq(got, "D0+64 Z64+448 D512+64 D576+24 Z600+424");
    img_close(src);
}

Test(plan, min_sparse_zero_turns_holes_into_zero_data)
{
    img *src = sparse_source();
    cvt_params p;
    params_for(&p, &src);
    p.min_sparse = 0;
    char got[1024];
    plan_all(&p, 256 * KiB, got, sizeof(got));
    cr_assert_str_eq(got, "D0+64 E64+256 E320+192 D512+88 E600+256 "
                          "E856+168");
    img_close(src);
}

Test(plan, compression_works_in_whole_clusters)
{
    img *src = sparse_source();
    cvt_params p;
    params_for(&p, &src);
    p.compress = 1;
    p.cluster_size = 64 * KiB;
    char got[512];
    plan_all(&p, 64 * KiB, got, sizeof(got));
    /* [576K, 600K) is shorter than a cluster: the whole cluster is data. */
    cr_assert_str_eq(got, "D0+64 Z64+448 D512+64 D576+64 Z640+384");
    img_close(src);
}

Test(plan, zeros_past_the_target_backing_are_skipped)
{
    img *src = sparse_source();
    cvt_params p;
    params_for(&p, &src);
    p.target_has_backing = 1;
    p.target_backing_size = 256 * KiB;
    char got[512];
    plan_all(&p, 64 * KiB, got, sizeof(got));
    cr_assert_str_eq(got, "D0+64 Z64+192 S256+256 D512+64 D576+24 "
                          "S600+424");
    img_close(src);
}

Test(plan, odd_sized_sources_are_padded_to_sectors)
{
    uint8_t data[1000];
    memset(data, 0x33, sizeof(data));
    img *src[2];
    src[0] = rec_raw_image(data, sizeof(data), 0, 0, NULL);
    src[1] = rec_raw_image(data, 600, 0, 0, NULL);
    cr_assert(src[0] && src[1]);
    cvt_params p;
    cvt_params_init(&p);
    p.src = src;
    p.nsrc = 2;
    char got[512];
    plan_all(&p, 64 * KiB, got, sizeof(got));
    /* The raw driver itself rounds up (as QEMU's does): each source is
     * data up to its sector boundary; the engine pads other formats. */
    cr_assert_eq(cvt_total_size(src, 2), 2048);
    cr_assert_str_eq(got, "D0+1 D1+1");
    img_close(src[0]);
    img_close(src[1]);
}
