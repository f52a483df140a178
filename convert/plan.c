/* convert/plan.c -- cuts the target into chunks by the sources' block
 * status (QEMU's convert_iteration_sectors).
 *
 * The planner keeps one block-status run cached and hands out pieces of
 * it: data runs in chunk-sized pieces, zero and "backing" runs whole (up
 * to 1 GiB).  Callers serialise calls (engine.c holds its lock), so the
 * planner itself has no lock.
 */
#include <inttypes.h>
#include <string.h>

#include "cvt_internal.h"

/* Longest block-status query, and longest zero or skip chunk. */
#define MAX_RUN ((uint64_t)1 << 30)
/* What --salvage reads as data after a block-status error (a sector). */
#define SALVAGE_RUN 512u

void cvt_plan_init(cvt_plan *pl, const cvt_params *p, uint64_t chunk)
{
    memset(pl, 0, sizeof(*pl));
    pl->p = p;
    pl->total = cvt_total_size(p->src, p->nsrc);
    pl->chunk = chunk;
}

/* Kind of a run from its block-status mask.  Zeros past the end of the
 * target's backing file need not be written: the target reads zeros
 * there anyway. */
static cvt_kind kind_of(const cvt_params *p, int status, int post_backing)
{
    if (status & IMG_BS_ZERO) {
        return post_backing ? CVT_SKIP : CVT_ZERO;
    }
    if (status & IMG_BS_DATA) {
        return CVT_DATA;
    }
    /* Allocated nowhere above the base: the target's backing shows. */
    return p->target_has_backing ? CVT_SKIP : CVT_DATA;
}

/* Length of the run at pl->pos before any status query: bounded by the
 * source's span, MAX_RUN, and the end of the target's backing file (zeros
 * are handled differently on either side of it). */
static uint64_t run_bound(const cvt_plan *pl, uint64_t local, uint64_t span)
{
    uint64_t len = span - local;
    uint64_t backing_end = pl->p->target_backing_size;
    if (len > MAX_RUN) {
        len = MAX_RUN;
    }
    if (pl->pos < backing_end && backing_end - pl->pos < len) {
        len = backing_end - pl->pos;
    }
    return len;
}

/* A block-status query of [local, local+len) failed with r and e.  With
 * --salvage the first sector becomes data (its read salvages what it
 * can); otherwise the error is returned with its offset. */
static int status_failed(cvt_plan *pl, uint64_t local, uint64_t len, int r,
                         img_err *e, img_err *err)
{
    const cvt_params *p = pl->p;
    if (p->salvage) {
        if (!pl->quiet) {
            cvt_warn(p,
                     "error while reading block status at offset "
                     "%" PRIu64 ": %s",
                     local, e->msg);
        }
        pl->run_kind = CVT_DATA;
        pl->run_end = pl->pos + (len < SALVAGE_RUN ? len : SALVAGE_RUN);
        return 0;
    }
    img_err_prepend(e,
                    "error while reading block status at offset "
                    "%" PRIu64 ": ",
                    local);
    if (err) {
        *err = *e;
    }
    return r;
}

/* Queries the status of the run starting at pl->pos and caches it. */
static int query_run(cvt_plan *pl, img_err *err)
{
    const cvt_params *p = pl->p;
    uint64_t start, pnum, host_off;
    int depth;
    img *file_img;
    img *src = p->src[cvt_src_locate(p, pl->pos, &start)];
    uint64_t local = pl->pos - start;
    uint64_t size = img_size(src);
    uint64_t len = run_bound(pl, local, cvt_src_span(src));
    int post_backing = pl->pos >= p->target_backing_size;
    if (local >= size) {
        /* The tail that rounds the source up to a sector: zeros. */
        pl->run_kind = kind_of(p, IMG_BS_ZERO, post_backing);
        pl->run_end = pl->pos + len;
        return 0;
    }
    if (len > size - local) {
        len = size - local;
    }
    img *base = p->target_has_backing ? img_backing(src) : NULL;
    img_err e = { 0 };
    int r = img_block_status_above(src, base, local, len, &pnum, &host_off,
                                   &depth, &file_img, &e);
    if (r < 0) {
        return status_failed(pl, local, len, r, &e, err);
    }
    pl->run_kind = kind_of(p, r, post_backing);
    pl->run_end = pl->pos + pnum;
    return 0;
}

/* Compressed clusters are written whole: a run shorter than a cluster is
 * read as data for the whole cluster; longer runs end on a boundary. */
static void align_compressed(const cvt_plan *pl, cvt_chunk *c)
{
    uint64_t cluster = pl->p->cluster_size;
    if (c->len < cluster) {
        c->len = pl->total - c->off < cluster ? pl->total - c->off : cluster;
        c->kind = CVT_DATA;
        c->explicit_zero = 0;
    } else {
        c->len -= c->len % cluster;
    }
}

/* Cuts the next chunk from the cached run, querying block status when
 * the run is used up: data in chunk-sized pieces, zero and skip runs
 * whole, all of them in whole clusters when compressing. */
int cvt_plan_next(cvt_plan *pl, cvt_chunk *c, img_err *err)
{
    const cvt_params *p = pl->p;
    if (pl->pos >= pl->total) {
        return 0;
    }
    if (pl->pos >= pl->run_end) {
        int r = query_run(pl, err);
        if (r < 0) {
            return r;
        }
    }
    memset(c, 0, sizeof(*c));
    c->off = pl->pos;
    c->len = pl->run_end - pl->pos;
    c->kind = pl->run_kind;
    if (c->kind == CVT_ZERO && p->min_sparse == 0) {
        c->kind = CVT_DATA; /* -S 0: zeros are written out too */
        c->explicit_zero = 1;
    }
    if (c->kind == CVT_DATA && c->len > pl->chunk) {
        c->len = pl->chunk;
    }
    if (p->compress) {
        align_compressed(pl, c);
    }
    pl->pos += c->len;
    return 1;
}

int cvt_chunk_counts(const cvt_chunk *c)
{
    return c->kind == CVT_DATA;
}
