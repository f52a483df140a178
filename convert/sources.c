/* convert/sources.c -- the sources of a conversion seen as one virtual
 * disk: "qemu-img convert a b c out" writes a, then b, then c.
 *
 * QEMU counts image sizes in 512-byte sectors, so a source whose size is
 * not a multiple of 512 occupies its size rounded up, the tail reading as
 * zeros; we do the same so that outputs have qemu-img's size and layout.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cvt_internal.h"

#define SECTOR 512u

uint64_t cvt_src_span(img *src)
{
    uint64_t size = img_size(src);
    return size + ((SECTOR - size % SECTOR) % SECTOR);
}

uint64_t cvt_total_size(img *const *src, int nsrc)
{
    uint64_t total = 0;
    for (int i = 0; i < nsrc; i++) {
        total += cvt_src_span(src[i]);
    }
    return total;
}

/* Linear search: conversions have a handful of sources.  Offsets past
 * the end land in the last source. */
int cvt_src_locate(const cvt_params *p, uint64_t off, uint64_t *start)
{
    uint64_t base = 0;
    int i = 0;
    for (; i < p->nsrc - 1; i++) {
        uint64_t span = cvt_src_span(p->src[i]);
        if (off < base + span) {
            break;
        }
        base += span;
    }
    *start = base;
    return i;
}

/* Reads [off, off+len) of one source's span: inside its size from the
 * image, past it zeros. */
static int read_span(img *src, uint8_t *buf, uint64_t len, uint64_t off,
                     img_err *err)
{
    uint64_t size = img_size(src);
    uint64_t in = off >= size ? 0 : size - off;
    if (in > len) {
        in = len;
    }
    if (in < len) {
        memset(buf + in, 0, len - in);
    }
    return in ? img_pread(src, buf, in, off, err) : 0;
}

/* The part of [off, off+len) that lies in one source: sets its index and
 * the offset inside it, returns the length.  Past the last source's span
 * the whole rest of the range counts as its (reading as zeros). */
static uint64_t source_piece(const cvt_params *p, uint64_t off, uint64_t len,
                             int *i, uint64_t *local)
{
    uint64_t start;
    *i = cvt_src_locate(p, off, &start);
    *local = off - start;
    uint64_t span = cvt_src_span(p->src[*i]);
    return *local < span && span - *local < len ? span - *local : len;
}

/* A read may cross from one source into the next (compressed clusters
 * that straddle a boundary do). */
int cvt_src_read(const cvt_params *p, void *buf, uint64_t len, uint64_t off,
                 img_err *err)
{
    uint8_t *out = buf;
    while (len > 0) {
        int i;
        uint64_t local;
        uint64_t n = source_piece(p, off, len, &i, &local);
        int r = read_span(p->src[i], out, n, local, err);
        if (r < 0) {
            return r;
        }
        out += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* Formats into a bounded buffer (warnings are one line). */
void cvt_warn(const cvt_params *p, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    if (!p->warn) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->warn(p->warn_opaque, msg);
}

/* Sector by sector, like qemu-img's convert_co_read in salvage mode;
 * offsets in warnings are the source's own, as qemu-img prints them. */
void cvt_src_read_salvage(const cvt_params *p, uint8_t *buf, uint64_t len,
                          uint64_t off)
{
    while (len > 0) {
        uint64_t start;
        img *src = p->src[cvt_src_locate(p, off, &start)];
        uint64_t local = off - start;
        /* One sector, not crossing into the next source. */
        uint64_t n = SECTOR - local % SECTOR;
        n = n < len ? n : len;
        img_err err = { 0 };
        if (read_span(src, buf, n, local, &err) < 0) {
            cvt_warn(p, "error while reading offset %" PRIu64 ": %s", local,
                     err.msg);
            memset(buf, 0, n);
        }
        buf += n;
        off += n;
        len -= n;
    }
}

/* Raw on raw only; anything else reports -ENOTSUP so the caller reads
 * and writes instead. */
int cvt_src_copy_offload(const cvt_params *p, uint64_t off, uint64_t len,
                         img_err *err)
{
    uint64_t start;
    img *src = p->src[cvt_src_locate(p, off, &start)];
    uint64_t local = off - start;
    /* Only raw on raw maps image offsets to file offsets one to one; a
     * probed raw target keeps its sector-0 guard on the normal path. */
    if (strcmp(img_format(src), "raw") != 0 ||
        strcmp(img_format(p->dst), "raw") != 0 || img_probed_raw(p->dst) ||
        local + len > img_size(src)) {
        return -ENOTSUP;
    }
    return img_file_copy_range(img_get_file(src), local, img_get_file(p->dst),
                               off, len, err);
}

/* Asks each source that [off, off+len) touches to start fetching its part
 * (img_prefetch clips the sector-rounding tail and anything past it). */
void cvt_src_prefetch(const cvt_params *p, uint64_t off, uint64_t len)
{
    while (len > 0) {
        int i;
        uint64_t local;
        uint64_t n = source_piece(p, off, len, &i, &local);
        img_prefetch(p->src[i], local, n);
        off += n;
        len -= n;
    }
}
