/* formats/qcow2/qcow2_write.c -- writing guest data: in place, into new
 * clusters with copy-on-write of the partial ones, and compressed.
 *
 * Spec: QEMU docs/interop/qcow2.txt, "Cluster mapping" (OFLAG_COPIED: a
 * cluster may be written in place only when its refcount is one),
 * "Extended L2 Entries" (allocation per subcluster) and "Compressed
 * Clusters Descriptor".
 *
 * A cluster that cannot be written in place (unallocated, zero, compressed
 * or shared with a snapshot) gets a new host cluster.  The parts of it the
 * write does not cover are filled from the guest view as it was before:
 * the backing image, zeros, the decompressed or the shared data.  The data
 * is written first; only then do the L2 entries change (in the cache; see
 * qcow2_meta.c for when they reach the disk), and a host cluster that lost
 * its reference is freed after that change is on disk.
 *
 * Compressed clusters are written through pwrite (compressed under the
 * image's lock) or in two steps: qcow2_compress_hook on any thread, then
 * qcow2_pwrite_compressed, which only allocates and stores (convert -c
 * compresses on every core that way).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* How a write treats one cluster. */
typedef enum write_action {
    ACT_INPLACE, /* allocated, refcount 1: write the data there */
    ACT_FILL,    /* own preallocated zero cluster: write it whole */
    ACT_NEW,     /* needs a new host cluster */
} write_action;

/* Through the pread hook, which keeps the image lock (held by our
 * caller) because the image is writable. */
int qcow2_read_guest(img *im, uint8_t *buf, uint64_t len, uint64_t off,
                     img_err *err)
{
    return len ? im->drv->pread(im, buf, len, off, err) : 0;
}

/* A cluster-sized scratch buffer. */
static int cow_buf(qcow2_state *s, uint8_t **buf, img_err *err)
{
    if (!s->cow_buf && !(s->cow_buf = malloc(s->cluster_size))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    *buf = s->cow_buf;
    return 0;
}

/* The host offset that entry e gives (a data file maps one to one). */
static int entry_allocated(const qcow2_state *s, uint64_t e)
{
    return (e & QCOW2_L2E_OFFSET_MASK) ||
           (s->data_file_used && (e & QCOW2_OFLAG_COPIED));
}

/* Compressed, unallocated, zero and shared clusters move; a
 * preallocated zero cluster of our own is filled in place. */
static write_action classify_write(const qcow2_state *s, uint64_t e)
{
    if ((e & QCOW2_OFLAG_COMPRESSED) || !entry_allocated(s, e) ||
        !(e & QCOW2_OFLAG_COPIED)) {
        return ACT_NEW;
    }
    if ((e & QCOW2_OFLAG_ZERO) && s->hdr.version >= 3 && !s->extl2) {
        return ACT_FILL;
    }
    return ACT_INPLACE;
}

/* Frees (after the L2 change is on disk) the host space old referred to:
 * a compressed cluster's bytes, or a whole cluster.  Data files are not
 * refcounted. */
static int release_old(qcow2_state *s, img_file *file, uint64_t old, int punch,
                       img_err *err)
{
    if (old & QCOW2_OFLAG_COMPRESSED) {
        uint64_t coff, csize;
        qcow2_compressed_range(s, old, &coff, &csize);
        return qcow2_defer_free(s, file, coff, csize, punch, err);
    }
    uint64_t host = old & QCOW2_L2E_OFFSET_MASK;
    if (!host || s->data_file_used) {
        return 0;
    }
    return qcow2_defer_free(s, file, host, s->cluster_size, punch, err);
}

/* Host clusters for n guest clusters from guest offset cstart. */
static int new_host(img *im, uint64_t cstart, uint64_t n, uint64_t *host,
                    img_err *err)
{
    qcow2_state *s = im->state;
    if (s->data_file_used) {
        *host = cstart; /* the data file is mapped one to one */
        return 0;
    }
    int r = qcow2_alloc_clusters(s, im->file, n << s->cluster_bits, host, err);
    if (r >= 0) {
        r = qcow2_overlap_check(s, im->file, *host, n << s->cluster_bits, err);
    }
    return r;
}

/* Writes [gstart, gend) of guest data to host, where [off, off + len)
 * comes from buf and the rest (at most one cluster's worth) is read from
 * the guest view first. */
static int write_composed(img *im, uint64_t host, uint64_t gstart,
                          uint64_t gend, const uint8_t *buf, uint64_t off,
                          uint64_t len, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t head = off - gstart, tail = gend - (off + len);
    if (!head && !tail) {
        return qcow2_data_write(s, buf, len, host, err);
    }
    uint8_t *cow = NULL;
    int r = cow_buf(s, &cow, err);
    if (r >= 0) {
        r = qcow2_read_guest(im, cow, head, gstart, err);
    }
    if (r >= 0) {
        r = qcow2_read_guest(im, cow + head + len, tail, off + len, err);
    }
    if (r >= 0) {
        memcpy(cow + head, buf, len);
        r = qcow2_data_write(s, cow, gend - gstart, host, err);
    }
    return r;
}

/* Writes [off, off + len), which covers whole clusters but maybe the
 * first and last partly, to the new host run at host. */
static int write_new_data(img *im, uint64_t host, const uint8_t *buf,
                          uint64_t off, uint64_t len, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t cs = s->cluster_size;
    uint64_t cstart = qcow2_cluster_start(s, off);
    uint64_t cend = qcow2_cluster_start(s, off + len - 1) + cs;
    if (cend - cstart == cs || (off == cstart && off + len == cend)) {
        return write_composed(im, host, cstart, cend, buf, off, len, err);
    }
    /* first cluster, the middle straight from buf, last cluster */
    uint64_t first = cstart + cs - off;
    uint64_t last_start = cend - cs;
    int r = write_composed(im, host, cstart, cstart + cs, buf, off, first, err);
    uint64_t mid = last_start - (cstart + cs);
    if (r >= 0 && mid) {
        r = qcow2_data_write(s, buf + first, mid, host + cs, err);
    }
    if (r >= 0) {
        r = write_composed(im, host + (last_start - cstart), last_start, cend,
                           buf + first + mid, last_start,
                           off + len - last_start, err);
    }
    return r;
}

/* Clusters from index idx (n of them) get new host clusters holding the
 * data; their old host space is released. */
static int write_new_run(img *im, qcow2_l2_slot *slot, uint64_t idx, uint64_t n,
                         const uint8_t *buf, uint64_t off, uint64_t len,
                         img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t host;
    int r = new_host(im, qcow2_cluster_start(s, off), n, &host, err);
    if (r >= 0) {
        r = write_new_data(im, host, buf, off, len, err);
    }
    for (uint64_t i = 0; r >= 0 && i < n; i++) {
        uint64_t old = qcow2_l2e(s, slot->table, idx + i);
        uint64_t e = (host + (i << s->cluster_bits)) | QCOW2_OFLAG_COPIED;
        qcow2_set_l2e(s, slot->table, idx + i, e, 0);
        slot->dirty = 1;
        r = release_old(s, im->file, old, 0, err);
    }
    return r;
}

/* Checks a write into clusters the tables already give, at host offset
 * at: no metadata overlap, and not so far past the end of the file that
 * the write would grow it to wherever a crafted entry points.  An
 * external data file is laid out by its user (a raw one as the guest
 * sees it) and is not bounded here. */
static int check_inplace(img *im, uint64_t at, uint64_t len, img_err *err)
{
    qcow2_state *s = im->state;
    if (s->data_file_used) {
        return 0;
    }
    if (qcow2_far_past_end(s, at)) {
        return img_err_set(err, EIO,
                           "Data cluster at host offset %#" PRIx64
                           " is beyond the end of the file",
                           qcow2_cluster_start(s, at));
    }
    return qcow2_overlap_check(s, im->file, at, len, err);
}

/* Writes into an allocated cluster run in place. */
static int write_inplace(img *im, uint64_t host, const uint8_t *buf,
                         uint64_t off, uint64_t len, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t at = host + qcow2_cluster_offset_in(s, off);
    int r = check_inplace(im, at, len, err);
    return r < 0 ? r : qcow2_data_write(s, buf, len, at, err);
}

/* An own zero cluster with a host offset: written whole (zeros around
 * the data), then it is a plain data cluster. */
static int write_fill(img *im, qcow2_l2_slot *slot, uint64_t idx,
                      const uint8_t *buf, uint64_t off, uint64_t len,
                      img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t e = qcow2_l2e(s, slot->table, idx);
    uint64_t host = e & QCOW2_L2E_OFFSET_MASK;
    uint64_t cstart = qcow2_cluster_start(s, off);
    int r = check_inplace(im, host, s->cluster_size, err);
    if (r >= 0) {
        r = write_composed(im, host, cstart, cstart + s->cluster_size, buf, off,
                           len, err);
    }
    if (r >= 0) {
        qcow2_set_l2e(s, slot->table, idx, e & ~QCOW2_OFLAG_ZERO, 0);
        slot->dirty = 1;
    }
    return r;
}

/* Counts the clusters from idx (at most max) that share the action of
 * the first: a new run, or an in-place run contiguous on the host. */
static uint64_t run_length(const qcow2_state *s, const uint8_t *table,
                           uint64_t idx, uint64_t max, write_action act)
{
    uint64_t first = qcow2_l2e(s, table, idx) & QCOW2_L2E_OFFSET_MASK;
    uint64_t n = 1;
    if (act == ACT_FILL) {
        return 1;
    }
    while (n < max) {
        uint64_t e = qcow2_l2e(s, table, idx + n);
        if (classify_write(s, e) != act ||
            (act == ACT_INPLACE &&
             (e & QCOW2_L2E_OFFSET_MASK) != first + (n << s->cluster_bits))) {
            break;
        }
        n++;
    }
    return n;
}

/* Checks the host offset of an entry a write is going to use. */
static int check_entry(img *im, uint64_t e, uint64_t idx, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t host = e & QCOW2_L2E_OFFSET_MASK;
    if (!(e & QCOW2_OFLAG_COMPRESSED) && qcow2_cluster_offset_in(s, host)) {
        return qcow2_mark_corrupt(s, im->file, err,
                                  "Cluster allocation "
                                  "offset %#" PRIx64 " unaligned (L2 index: "
                                  "%#" PRIx64 ")",
                                  host, idx);
    }
    return 0;
}

/* One step of a standard write inside an L2 table; returns the bytes
 * written (> 0) or -errno. */
static int64_t write_std_step(img *im, qcow2_l2_slot *slot, const uint8_t *buf,
                              uint64_t off, uint64_t len, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
    uint64_t e = qcow2_l2e(s, slot->table, idx);
    int r = check_entry(im, e, idx, err);
    if (r < 0) {
        return r;
    }
    write_action act = classify_write(s, e);
    uint64_t in = qcow2_cluster_offset_in(s, off);
    uint64_t max = (in + len + s->cluster_size - 1) >> s->cluster_bits;
    uint64_t n = run_length(s, slot->table, idx, max, act);
    uint64_t bytes = (n << s->cluster_bits) - in;
    bytes = bytes < len ? bytes : len;
    if (act == ACT_INPLACE) {
        uint64_t host = s->data_file_used ? qcow2_cluster_start(s, off)
                                          : e & QCOW2_L2E_OFFSET_MASK;
        r = write_inplace(im, host, buf, off, bytes, err);
    } else if (act == ACT_FILL) {
        r = write_fill(im, slot, idx, buf, off, bytes, err);
    } else {
        r = write_new_run(im, slot, idx, n, buf, off, bytes, err);
    }
    return r < 0 ? r : (int64_t)bytes;
}

/* Subcluster allocation bits [a, b] (and zero bits shifted by 32). */
static uint64_t sc_range(unsigned a, unsigned b)
{
    uint64_t bits =
        b - a + 1 >= 32 ? 0xffffffffull : ((1ull << (b - a + 1)) - 1);
    return bits << a;
}

/* Extended L2: the cluster must move (compressed, or shared): it gets a
 * new host cluster holding the whole guest view, all subclusters
 * allocated. */
static int ext_move_cluster(img *im, qcow2_l2_slot *slot, uint64_t idx,
                            const uint8_t *buf, uint64_t off, uint64_t len,
                            img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t cstart = qcow2_cluster_start(s, off), host;
    uint64_t old = qcow2_l2e(s, slot->table, idx);
    int r = new_host(im, cstart, 1, &host, err);
    if (r >= 0) {
        r = write_composed(im, host, cstart, cstart + s->cluster_size, buf, off,
                           len, err);
    }
    if (r >= 0) {
        qcow2_set_l2e(s, slot->table, idx, host | QCOW2_OFLAG_COPIED,
                      QCOW2_SC_ALLOC_MASK);
        slot->dirty = 1;
        r = release_old(s, im->file, old, 0, err);
    }
    return r;
}

/* Extended L2: writes [off, off + len) (inside one cluster) by whole
 * subclusters, allocating the host cluster when there is none. */
static int write_ext_cluster(img *im, qcow2_l2_slot *slot, uint64_t idx,
                             const uint8_t *buf, uint64_t off, uint64_t len,
                             img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t e = qcow2_l2e(s, slot->table, idx);
    uint64_t bm = qcow2_l2_bitmap(s, slot->table, idx);
    int r = check_entry(im, e, idx, err);
    if (r < 0) {
        return r;
    }
    if ((e & QCOW2_OFLAG_COMPRESSED) ||
        (entry_allocated(s, e) && !(e & QCOW2_OFLAG_COPIED))) {
        return ext_move_cluster(im, slot, idx, buf, off, len, err);
    }
    uint64_t cstart = qcow2_cluster_start(s, off);
    uint64_t host = s->data_file_used ? cstart : e & QCOW2_L2E_OFFSET_MASK;
    if (!entry_allocated(s, e)) {
        r = new_host(im, cstart, 1, &host, err);
    }
    unsigned a = (unsigned)((off - cstart) >> s->sc_bits);
    unsigned b = (unsigned)((off + len - 1 - cstart) >> s->sc_bits);
    uint64_t wstart = cstart + ((uint64_t)a << s->sc_bits);
    uint64_t wend = cstart + ((uint64_t)(b + 1) << s->sc_bits);
    if (r >= 0 && entry_allocated(s, e) && !s->data_file_used) {
        r = qcow2_overlap_check(s, im->file, host + (wstart - cstart),
                                wend - wstart, err);
    }
    if (r >= 0) {
        r = write_composed(im, host + (wstart - cstart), wstart, wend, buf, off,
                           len, err);
    }
    if (r >= 0) {
        uint64_t bits = sc_range(a, b);
        bm = (bm | bits) & ~(bits << QCOW2_SC_ZERO_SHIFT);
        qcow2_set_l2e(s, slot->table, idx, host | QCOW2_OFLAG_COPIED, bm);
        slot->dirty = 1;
    }
    return r;
}

/* One step of an extended-L2 write: the rest of one cluster. */
static int64_t write_ext_step(img *im, qcow2_l2_slot *slot, const uint8_t *buf,
                              uint64_t off, uint64_t len, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
    uint64_t n = s->cluster_size - qcow2_cluster_offset_in(s, off);
    n = n < len ? n : len;
    int r = write_ext_cluster(im, slot, idx, buf, off, n, err);
    return r < 0 ? r : (int64_t)n;
}

/* Writes [off, off + len) inside one L2 table. */
static int write_in_table(img *im, const uint8_t *buf, uint64_t off,
                          uint64_t len, img_err *err)
{
    qcow2_state *s = im->state;
    qcow2_l2_slot *slot;
    int r = qcow2_l2_for_write(im, off, &slot, err);
    if (r < 0) {
        return r;
    }
    while (len > 0) {
        int64_t n = s->extl2 ? write_ext_step(im, slot, buf, off, len, err)
                             : write_std_step(im, slot, buf, off, len, err);
        if (n < 0) {
            r = (int)n;
            break;
        }
        buf += n;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    qcow2_l2_unpin(slot);
    return r;
}

/* Splits a write at L2 table boundaries. */
static int write_plain(img *im, const uint8_t *buf, uint64_t len, uint64_t off,
                       img_err *err)
{
    qcow2_state *s = im->state;
    unsigned span_bits = s->cluster_bits + s->l2_bits;
    while (len > 0) {
        uint64_t span_end = ((off >> span_bits) + 1) << span_bits;
        uint64_t n = len < span_end - off ? len : span_end - off;
        int r = write_in_table(im, buf, off, n, err);
        if (r < 0) {
            return r;
        }
        buf += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* Stores the clen compressed bytes at cdata as the cluster at guest
 * offset off: packed after the previous compressed cluster, the data
 * written before the L2 entry points at it. */
static int store_compressed(img *im, const void *cdata, size_t clen,
                            uint64_t off, img_err *err)
{
    qcow2_state *s = im->state;
    qcow2_l2_slot *slot;
    uint64_t coff;
    int r = qcow2_l2_for_write(im, off, &slot, err);
    if (r < 0) {
        return r;
    }
    r = qcow2_alloc_bytes(s, im->file, clen, &coff, err);
    if (r >= 0) {
        r = qcow2_overlap_check(s, im->file, coff, clen, err);
    }
    if (r >= 0) {
        r = qcow2_data_write(s, cdata, clen, coff, err);
    }
    if (r >= 0) {
        uint64_t idx = (off >> s->cluster_bits) & ((1ull << s->l2_bits) - 1);
        uint64_t old = qcow2_l2e(s, slot->table, idx);
        uint64_t sectors = ((coff + clen - 1) >> 9) - (coff >> 9);
        uint64_t e =
            QCOW2_OFLAG_COMPRESSED | coff | (sectors << s->csize_shift);
        qcow2_set_l2e(s, slot->table, idx, e, 0);
        slot->dirty = 1;
        s->cmp_valid = 0;
        s->cmp_written = 1;
        r = release_old(s, im->file, old, 0, err);
    }
    qcow2_l2_unpin(slot);
    return r;
}

/* Stores one cluster (the last one may be short: zero padded)
 * compressed; one that does not shrink is written normally. */
static int write_one_compressed(img *im, const uint8_t *data, uint64_t len,
                                uint64_t off, img_err *err)
{
    qcow2_state *s = im->state;
    uint8_t *in = (uint8_t *)data, *pad = NULL;
    size_t clen = 0;
    if (!s->cmp_wbuf && !(s->cmp_wbuf = malloc(s->cluster_size))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    if (len < s->cluster_size) {
        int r = cow_buf(s, &pad, err);
        if (r < 0) {
            return r;
        }
        memcpy(pad, data, len);
        memset(pad + len, 0, s->cluster_size - len);
        in = pad;
    }
    int r = qcow2_compress_cluster(s, in, s->cmp_wbuf, s->cluster_size - 1,
                                   &clen, err);
    if (r < 0) {
        return r;
    }
    if (clen == 0) {
        return write_plain(im, data, len, off, err);
    }
    return store_compressed(im, s->cmp_wbuf, clen, off, err);
}

/* Compressed writes come in whole clusters (convert -c); only the last
 * cluster of an image whose size is not a multiple may be short. */
static int check_compressed(img *im, uint64_t len, uint64_t off,
                            img_err *err)
{
    qcow2_state *s = im->state;
    if (s->data_file_used) {
        return img_err_set(err, ENOTSUP,
                           "Compressed writes are not "
                           "supported with an external data file");
    }
    if (qcow2_cluster_offset_in(s, off) ||
        (qcow2_cluster_offset_in(s, len) && off + len != im->size)) {
        return img_err_set(err, EINVAL,
                           "Compressed writes must cover whole "
                           "clusters");
    }
    return 0;
}

static int write_compressed(img *im, const uint8_t *buf, uint64_t len,
                            uint64_t off, img_err *err)
{
    qcow2_state *s = im->state;
    int r = check_compressed(im, len, off, err);
    while (r >= 0 && len > 0) {
        uint64_t n = len < s->cluster_size ? len : s->cluster_size;
        r = write_one_compressed(im, buf, n, off, err);
        buf += n;
        off += n;
        len -= n;
    }
    return r;
}

/* Refuses what the writer cannot do, then the first-write updates. */
static int begin_write(img *im, img_err *err)
{
    qcow2_state *s = im->state;
    if (s->hdr.crypt_method != QCOW2_CRYPT_NONE) {
        return img_err_set(err, ENOTSUP,
                           "Writing encrypted qcow2 images is "
                           "not supported");
    }
    return qcow2_prepare_write(s, im->file, err);
}

/* Reads only what open fixed, so any thread may call it; a short last
 * cluster is compressed zero padded, as write_one_compressed does. */
int qcow2_compress_hook(img *im, const void *buf, uint64_t len, void *out,
                        size_t cap, size_t *out_len, img_err *err)
{
    const qcow2_state *s = im->state;
    uint64_t cs = s->cluster_size;
    uint8_t *pad = NULL;
    const uint8_t *in = buf;
    *out_len = 0;
    if (len > cs) {
        return img_err_set(err, EINVAL, "More than a cluster to compress");
    }
    if (len < cs) {
        if (!(pad = calloc(1, cs))) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        memcpy(pad, buf, len);
        in = pad;
    }
    /* not smaller than a cluster: stored uncompressed (as QEMU does) */
    size_t lim = cap < cs - 1 ? cap : (size_t)(cs - 1);
    int r = qcow2_compress_buf(s->hdr.compression_type, cs, NULL, in, out,
                               lim, out_len, err);
    free(pad);
    return r;
}

int qcow2_pwrite_compressed(img *im, const void *buf, uint64_t len,
                            uint64_t off, const void *cdata, size_t clen,
                            img_err *err)
{
    qcow2_state *s = im->state;
    int r = begin_write(im, err);
    if (r >= 0) {
        r = check_compressed(im, len, off, err);
    }
    if (r >= 0 && (len > s->cluster_size || clen >= s->cluster_size)) {
        r = img_err_set(err, EINVAL, "Compressed writes are one cluster");
    }
    if (r < 0) {
        return r;
    }
    if (clen == 0) {
        return write_plain(im, buf, len, off, err);
    }
    return store_compressed(im, cdata, clen, off, err);
}

/* The core checked range and access; encrypted images never open
 * read/write, the check here is for safety. */
int qcow2_pwrite(img *im, const void *buf, uint64_t len, uint64_t off,
                 unsigned flags, img_err *err)
{
    int r = begin_write(im, err);
    if (r < 0) {
        return r;
    }
    if (flags & IMG_WRITE_COMPRESSED) {
        return write_compressed(im, buf, len, off, err);
    }
    return write_plain(im, buf, len, off, err);
}
