/* convert/write.c -- writing one chunk to the target (QEMU's
 * convert_co_write): data minus its zero blocks, zero ranges, compressed
 * clusters (compressed by the worker beforehand when the target can take
 * them so), or nothing.
 */
#include <inttypes.h>

#include "cvt_internal.h"
#include "zero_detect.h"

/* Zeroes [off, off+len), or leaves it alone when the target already reads
 * as zeros. */
static int write_zeroes(const cvt_params *p, uint64_t off, uint64_t len,
                        cvt_stats *st, img_err *err)
{
    if (p->target_is_zero) {
        st->skipped += len;
        return 0;
    }
    int r = img_pwrite_zeroes(p->dst, off, len, IMG_WRITE_MAY_UNMAP, err);
    if (r >= 0) {
        st->zero_written += len;
    }
    return r;
}

/* Writes data bytes, compressed when asked, after the rate limit. */
static int write_data(const cvt_params *p, const uint8_t *buf, uint64_t len,
                      uint64_t off, cvt_ratelimit *rl, cvt_stats *st,
                      img_err *err)
{
    unsigned flags = p->compress ? IMG_WRITE_COMPRESSED : 0;
    cvt_ratelimit_wait(rl, len);
    int r = img_pwrite(p->dst, buf, len, off, flags, err);
    if (r >= 0) {
        st->data_written += len;
    }
    return r;
}

/* A data chunk with sparse detection: zero blocks become zero ranges by
 * qemu-img's rule (see cvt_zero_split). */
static int write_sparse(const cvt_params *p, const cvt_chunk *c,
                        const uint8_t *buf, cvt_ratelimit *rl, cvt_stats *st,
                        img_err *err)
{
    size_t gran = cvt_zero_granularity(p->min_sparse);
    uint64_t done = 0;
    while (done < c->len) {
        size_t n;
        int data = cvt_zero_split(buf + done, c->len - done, c->off + done,
                                  gran, p->min_sparse, &n);
        int r = data ? write_data(p, buf + done, n, c->off + done, rl, st, err)
                     : write_zeroes(p, c->off + done, n, st, err);
        if (r < 0) {
            return r;
        }
        done += n;
    }
    return 0;
}

/* The clusters the worker compressed: each is zeroed, stored as it is
 * or stored compressed (see cvt_packed). */
static int write_packed(const cvt_params *p, const cvt_chunk *c,
                        const uint8_t *buf, const cvt_packed *pk,
                        cvt_ratelimit *rl, cvt_stats *st, img_err *err)
{
    int r = 0;
    for (uint64_t i = 0, done = 0; r >= 0 && done < c->len; i++) {
        uint64_t n = c->len - done < pk->cluster ? c->len - done : pk->cluster;
        if (pk->len[i] < 0) {
            r = write_zeroes(p, c->off + done, n, st, err);
        } else {
            cvt_ratelimit_wait(rl, n);
            r = img_pwrite_compressed(p->dst, buf + done, n, c->off + done,
                                      pk->data + done, (size_t)pk->len[i],
                                      err);
            st->data_written += r >= 0 ? n : 0;
        }
        done += n;
    }
    return r;
}

int cvt_compressed_is_data(const cvt_params *p, const uint8_t *buf,
                           uint64_t len)
{
    return p->min_sparse == 0 || !cvt_is_zero(buf, len);
}

/* A data chunk: already compressed, everything (-S 0), a whole
 * compressed cluster, or the data pieces with zero blocks left out. */
static int write_data_chunk(const cvt_params *p, const cvt_chunk *c,
                            const uint8_t *buf, const cvt_packed *pk,
                            cvt_ratelimit *rl, cvt_stats *st, img_err *err)
{
    if (pk && pk->valid) {
        return write_packed(p, c, buf, pk, rl, st, err);
    }
    if (p->min_sparse == 0) {
        return write_data(p, buf, c->len, c->off, rl, st, err);
    }
    if (p->compress) {
        /* A compressed cluster is all or nothing. */
        if (cvt_is_zero(buf, c->len)) {
            return write_zeroes(p, c->off, c->len, st, err);
        }
        return write_data(p, buf, c->len, c->off, rl, st, err);
    }
    return write_sparse(p, c, buf, rl, st, err);
}

/* Errors carry the chunk's target offset, as qemu-img reports them. */
int cvt_write_chunk(const cvt_params *p, const cvt_chunk *c, const uint8_t *buf,
                    const cvt_packed *pk, cvt_ratelimit *rl, cvt_stats *st,
                    img_err *err)
{
    int r = 0;
    switch (c->kind) {
    case CVT_SKIP:
        st->skipped += c->len;
        break;
    case CVT_ZERO:
        r = write_zeroes(p, c->off, c->len, st, err);
        break;
    case CVT_DATA:
        r = write_data_chunk(p, c, buf, pk, rl, st, err);
        break;
    }
    if (r < 0) {
        img_err_prepend(err, "error while writing at byte %" PRIu64 ": ",
                        c->off);
    }
    return r;
}
