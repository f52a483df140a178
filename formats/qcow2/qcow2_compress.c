/* formats/qcow2/qcow2_compress.c -- compressed clusters (zlib raw
 * deflate, or zstd when the header's compression_type says so): reading
 * them, and compressing a cluster for the writer.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Compressed Clusters Descriptor" and
 * the compression_type header field.  A descriptor holds a host byte
 * offset and a count of 512-byte sectors, so the compressed size is at
 * most two clusters; the stream must inflate to exactly one cluster
 * (trailing bytes in the last sector are ignored).  The last decompressed
 * cluster is kept, so sequential small reads inflate it once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifdef IMG_HAVE_ZSTD
#include <zstd.h>
#endif

#include "qcow2.h"

/* A zstd frame may not ask for a window larger than this (clusters are at
 * most 2 MiB, so a bigger window only serves to allocate memory). */
#define QCOW2_ZSTD_WINDOW_LOG_MAX (QCOW2_MAX_CLUSTER_BITS + 2)

static int corrupt_stream(img_err *err, uint64_t coffset)
{
    return img_err_set(err, EIO, "Could not decompress the cluster at host "
                       "offset %#" PRIx64, coffset);
}

/* Inflates raw deflate data; the output must fill the whole cluster. */
static int inflate_zlib(const uint8_t *in, size_t in_len, uint8_t *out,
                        size_t out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* Negative window bits: raw deflate; 15 accepts any window size. */
    if (inflateInit2(&z, -15) != Z_OK) {
        return -ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    int ret = inflate(&z, Z_FINISH);
    int full = z.avail_out == 0;
    inflateEnd(&z);
    if (ret == Z_MEM_ERROR) {
        return -ENOMEM;
    }
    if (!full || (ret != Z_STREAM_END && ret != Z_BUF_ERROR &&
                  ret != Z_OK)) {
        return -EIO;
    }
    return 0;
}

#ifdef IMG_HAVE_ZSTD
/* Decompresses zstd frames until the cluster is full.  Each round must
 * make progress, so a hostile stream cannot spin. */
static int inflate_zstd(void **dctx, const uint8_t *in, size_t in_len,
                        uint8_t *out, size_t out_len)
{
    if (!*dctx) {
        *dctx = ZSTD_createDCtx();
        if (!*dctx) {
            return -ENOMEM;
        }
    }
    ZSTD_DCtx *d = *dctx;
    ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
    if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax,
                                            QCOW2_ZSTD_WINDOW_LOG_MAX))) {
        return -EIO;
    }
    ZSTD_inBuffer ib = { in, in_len, 0 };
    ZSTD_outBuffer ob = { out, out_len, 0 };
    while (ob.pos < ob.size) {
        size_t in_pos = ib.pos, out_pos = ob.pos;
        size_t ret = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(ret) || (ib.pos == in_pos && ob.pos == out_pos)) {
            return -EIO;
        }
    }
    return 0;
}
#endif

int qcow2_decompress(const qcow2_state *s, void **dctx, const uint8_t *in,
                     size_t in_len, uint8_t *out)
{
    if (s->hdr.compression_type == QCOW2_COMPRESSION_ZLIB) {
        return inflate_zlib(in, in_len, out, s->cluster_size);
    }
#ifdef IMG_HAVE_ZSTD
    return inflate_zstd(dctx, in, in_len, out, s->cluster_size);
#else
    (void)dctx;
    return -ENOTSUP; /* refused at open */
#endif
}

void qcow2_decompress_ctx_free(void *dctx)
{
#ifdef IMG_HAVE_ZSTD
    ZSTD_freeDCtx(dctx);
#else
    (void)dctx;
#endif
}

/* Allocates the buffers on first use. */
static int buffers_ready(qcow2_state *s, img_err *err)
{
    if (!s->cmp_in) {
        s->cmp_in = malloc(2 * s->cluster_size);
    }
    if (!s->cmp_out) {
        s->cmp_out = malloc(s->cluster_size);
    }
    if (!s->cmp_in || !s->cmp_out) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    return 0;
}

int qcow2_compressed_span(const qcow2_state *s, uint64_t l2_entry,
                          uint64_t *coffset, size_t *csize, img_err *err)
{
    /* The size is the sectors used minus the part of the first sector
     * before the offset; the stream may end before it does. */
    uint64_t off = l2_entry & s->coffset_mask;
    uint64_t sectors = ((l2_entry >> s->csize_shift) & s->csize_mask) + 1;
    /* At most 2^(cluster_bits - 8) sectors: two clusters. */
    *csize = (size_t)(sectors * QCOW2_COMPRESSED_SECTOR -
                      (off % QCOW2_COMPRESSED_SECTOR));
    *coffset = off;
    if (off >= s->file_size) {
        return img_err_set(err, EIO, "Compressed cluster at host offset %#"
                           PRIx64 " is beyond the end of the file", off);
    }
    return 0;
}

int qcow2_decompress_failed(int r, uint64_t coffset, img_err *err)
{
    if (r == -ENOMEM) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    return corrupt_stream(err, coffset);
}

int qcow2_read_compressed(qcow2_state *s, img_file *file, uint64_t l2_entry,
                          const uint8_t **cluster, img_err *err)
{
    if (s->cmp_valid && s->cmp_entry == l2_entry) {
        *cluster = s->cmp_out;
        return 0;
    }
    uint64_t coffset;
    size_t csize;
    int r = qcow2_compressed_span(s, l2_entry, &coffset, &csize, err);
    if (r >= 0) {
        r = buffers_ready(s, err);
    }
    /* The last sector may run past the end of the file: zeros. */
    if (r >= 0) {
        r = img_file_pread(file, s->cmp_in, csize, coffset, err);
    }
    if (r < 0) {
        return r;
    }
    /* cmp_out is overwritten: it no longer matches cmp_entry.  A writer
     * must also clear cmp_valid when it rewrites a compressed cluster. */
    s->cmp_valid = 0;
    r = qcow2_decompress(s, &s->zstd_dctx, s->cmp_in, csize, s->cmp_out);
    if (r < 0) {
        return qcow2_decompress_failed(r, coffset, err);
    }
    s->cmp_entry = l2_entry;
    s->cmp_valid = 1;
    *cluster = s->cmp_out;
    return 0;
}

/* Raw deflate with a 4 KiB window and QEMU's parameters (qemu-img
 * writes the same streams). */
static int deflate_zlib(const uint8_t *in, size_t len, uint8_t *out,
                        size_t cap, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return -ENOMEM;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int ret = deflate(&z, Z_FINISH);
    *out_len = ret == Z_STREAM_END ? cap - z.avail_out : 0;
    deflateEnd(&z);
    return ret == Z_STREAM_END || ret == Z_OK || ret == Z_BUF_ERROR
               ? 0 : -EIO;
}

#ifdef IMG_HAVE_ZSTD
/* One zstd frame at the default level; any failure means "store the
 * cluster uncompressed".  *cctx is a context kept by the caller; with
 * cctx NULL a context is made for this call alone (thread-safe). */
static int deflate_zstd(void **cctx, const uint8_t *in, size_t len,
                        uint8_t *out, size_t cap, size_t *out_len)
{
    ZSTD_CCtx *c = cctx ? *cctx : NULL;
    if (!c && !(c = ZSTD_createCCtx())) {
        return -ENOMEM;
    }
    size_t ret = ZSTD_compress2(c, out, cap, in, len);
    /* the usual error is "destination too small": stored uncompressed */
    *out_len = ZSTD_isError(ret) ? 0 : ret;
    if (cctx) {
        *cctx = c;
    } else {
        ZSTD_freeCCtx(c);
    }
    return 0;
}
#endif

int qcow2_compress_cluster(qcow2_state *s, const uint8_t *in, uint8_t *out,
                           size_t cap, size_t *out_len, img_err *err)
{
    return qcow2_compress_buf(s->hdr.compression_type, s->cluster_size,
                              &s->zstd_cctx, in, out, cap, out_len, err);
}

int qcow2_compress_buf(unsigned type, uint64_t cluster_size, void **cctx,
                       const uint8_t *in, uint8_t *out, size_t cap,
                       size_t *out_len, img_err *err)
{
    int r;
    *out_len = 0;
    if (type == QCOW2_COMPRESSION_ZLIB) {
        r = deflate_zlib(in, cluster_size, out, cap, out_len);
    } else {
#ifdef IMG_HAVE_ZSTD
        r = deflate_zstd(cctx, in, cluster_size, out, cap, out_len);
#else
        (void)cctx;
        r = -ENOTSUP; /* refused at open */
#endif
    }
    if (r == -ENOMEM) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    if (r < 0) {
        return img_err_set(err, -r, "Could not compress a cluster");
    }
    return 0;
}

void qcow2_compress_free(qcow2_state *s)
{
    free(s->cmp_in);
    free(s->cmp_out);
    free(s->cmp_wbuf);
    free(s->run_in);
    s->cmp_in = s->cmp_out = s->cmp_wbuf = s->run_in = NULL;
    s->run_in_cap = 0;
    for (size_t i = 0; i < IMG_PARALLEL_MAX; i++) {
        qcow2_decompress_ctx_free(s->run_dctx[i]);
        s->run_dctx[i] = NULL;
    }
    s->cmp_valid = 0;
    qcow2_decompress_ctx_free(s->zstd_dctx);
#ifdef IMG_HAVE_ZSTD
    ZSTD_freeCCtx(s->zstd_cctx);
#endif
    s->zstd_dctx = NULL;
    s->zstd_cctx = NULL;
}
