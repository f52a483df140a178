/* verify/content.c -- "content" check of vdisk verify (issue 7): are the
 * guest-visible bytes of two images identical?
 *
 * Walks the common range in windows of VERIFY_CONTENT_CHUNK bytes.  Inside
 * a window it asks both images for block status through their backing
 * chains (QEMU's bdrv_block_status_above); a piece that both report as
 * zero is counted as skipped and never read, and consecutive other pieces
 * are merged into one read per side and compared with memcmp.  The first
 * differing byte ends the walk.  A size difference is a failure unless
 * the target's extra tail reads as zeros.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

/* Both buffers and the running result of one comparison. */
typedef struct content_walk {
    img *src, *dst;
    uint8_t *sbuf, *dbuf;        /* VERIFY_CONTENT_CHUNK bytes each */
    verify_content_result *res;
} content_walk;

/* Whether [off, off+len) of im reads as zeros according to block status;
 * *pnum gets how far that answer holds.  Returns 0/1 or -errno. */
static int range_is_zero(img *im, uint64_t off, uint64_t len,
                         uint64_t *pnum, img_err *err)
{
    uint64_t host = 0;
    img *file_img = NULL;
    int depth = 0;
    int r = img_block_status_above(im, NULL, off, len, pnum, &host, &depth,
                                   &file_img, err);

    if (r < 0) {
        return r;
    }
    return (r & IMG_BS_ZERO) != 0;
}

/* Length of the piece at off (<= len) and whether both sides are zero
 * there (1), not (0), or -errno. */
static int piece_status(content_walk *w, uint64_t off, uint64_t len,
                        uint64_t *pnum, img_err *err)
{
    uint64_t ns = 0, nd = 0;
    int zs = range_is_zero(w->src, off, len, &ns, err);
    int zd = zs < 0 ? zs : range_is_zero(w->dst, off, len, &nd, err);

    if (zd < 0) {
        img_err_prepend(err, "block status at %llu: ",
                        (unsigned long long)off);
        return zd;
    }
    *pnum = ns < nd ? ns : nd;
    return zs && zd;
}

/* Records the first differing byte of the two buffers (len bytes from
 * off), which must differ somewhere. */
static void record_diff(content_walk *w, uint64_t off, uint64_t len)
{
    uint64_t i = 0;

    while (i < len && w->sbuf[i] == w->dbuf[i]) {
        i++;
    }
    w->res->status = VERIFY_FAILED;
    w->res->diff_offset = off + i;
    w->res->src_byte = w->sbuf[i];
    w->res->dst_byte = w->dbuf[i];
}

/* Reads and compares [off, off+len) of both sides (len <= chunk). */
static int compare_run(content_walk *w, uint64_t off, uint64_t len,
                       img_err *err)
{
    int r;

    if (len == 0) {
        return 0;
    }
    r = img_pread(w->src, w->sbuf, len, off, err);
    if (r < 0) {
        img_err_prepend(err, "source: ");
        return r;
    }
    r = img_pread(w->dst, w->dbuf, len, off, err);
    if (r < 0) {
        img_err_prepend(err, "target: ");
        return r;
    }
    w->res->compared += len;
    if (memcmp(w->sbuf, w->dbuf, len) != 0) {
        record_diff(w, off, len);
    }
    return 0;
}

/* One window [off, off+len): skips the pieces both report as zero and
 * compares the others, merged into as few reads as possible. */
static int compare_window(content_walk *w, uint64_t off, uint64_t len,
                          img_err *err)
{
    uint64_t run_start = off, pos = off, end = off + len;

    while (pos < end && w->res->status == VERIFY_PASSED) {
        uint64_t n = 0;
        int z = piece_status(w, pos, end - pos, &n, err);
        if (z < 0) {
            return z;
        }
        if (z) {
            /* Zero on both sides: flush the pending run, skip this. */
            int r = compare_run(w, run_start, pos - run_start, err);
            if (r < 0) {
                return r;
            }
            w->res->skipped += n;
            run_start = pos + n;
        }
        pos += n; /* a piece to compare extends the pending run */
    }
    if (w->res->status != VERIFY_PASSED) {
        return 0;
    }
    /* The run still pending at the end of the window. */
    return compare_run(w, run_start, pos - run_start, err);
}

/* Checks that the target's tail [from, to) reads as zeros. */
static int tail_is_zero(content_walk *w, uint64_t from, uint64_t to,
                        img_err *err)
{
    uint64_t off = from;

    while (off < to && w->res->status == VERIFY_PASSED) {
        uint64_t n = to - off, k;
        int z = range_is_zero(w->dst, off, n, &n, err);
        if (z < 0) {
            return z;
        }
        if (!z) {
            /* Allocated tail: read it and look for a non-zero byte. */
            n = n < VERIFY_CONTENT_CHUNK ? n : VERIFY_CONTENT_CHUNK;
            int r = img_pread(w->dst, w->dbuf, n, off, err);
            if (r < 0) {
                return r;
            }
            for (k = 0; k < n && w->dbuf[k] == 0; k++) {
            }
            if (k < n) {
                w->res->status = VERIFY_FAILED;
                w->res->size_mismatch = 1;
                w->res->diff_offset = off + k;
                w->res->dst_byte = w->dbuf[k];
            }
            w->res->compared += n;
        } else {
            w->res->skipped += n;
        }
        off += n;
    }
    return 0;
}

/* The whole walk, once the buffers exist. */
static int content_walk_run(content_walk *w, img_err *err)
{
    verify_content_result *res = w->res;
    uint64_t common = res->src_size < res->dst_size ? res->src_size
                                                    : res->dst_size;
    uint64_t off = 0;

    while (off < common && res->status == VERIFY_PASSED) {
        uint64_t n = common - off;
        n = n < VERIFY_CONTENT_CHUNK ? n : VERIFY_CONTENT_CHUNK;
        int r = compare_window(w, off, n, err);
        if (r < 0) {
            return r;
        }
        off += n;
    }
    if (res->status != VERIFY_PASSED) {
        return 0;
    }
    /* Past the common range: a shorter target lost data, a longer one
     * must read as zeros there. */
    if (res->dst_size < res->src_size) {
        res->status = VERIFY_FAILED;
        res->size_mismatch = 1;
        res->diff_offset = res->dst_size;
        return 0;
    }
    return tail_is_zero(w, common, res->dst_size, err);
}

int verify_content(img *src, img *dst, verify_content_result *res,
                   img_err *err)
{
    content_walk w = { .src = src, .dst = dst, .res = res };
    int r;

    memset(res, 0, sizeof(*res));
    res->status = VERIFY_PASSED;
    res->src_size = img_size(src);
    res->dst_size = img_size(dst);
    w.sbuf = malloc(VERIFY_CONTENT_CHUNK);
    w.dbuf = malloc(VERIFY_CONTENT_CHUNK);
    if (w.sbuf == NULL || w.dbuf == NULL) {
        r = img_err_set(err, ENOMEM, "out of memory for the read buffers");
    } else {
        r = content_walk_run(&w, err);
    }
    free(w.sbuf);
    free(w.dbuf);
    return r;
}
