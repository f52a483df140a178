/* formats/qcow2/qcow2_bitmaps_merge.c -- the contents of persistent
 * bitmaps: reading a bitmap's bits through its table, and merging one
 * bitmap into another (qemu-img bitmap --merge, convert --bitmaps).
 *
 * A bitmap of granularity g has one bit per g bytes of the disk: bit i
 * (byte i / 8 of the bitmap data, bit i % 8 counted from the least
 * significant) covers the disk bytes [i * g, (i + 1) * g).  The data is
 * cut into clusters that the bitmap table lists; an entry 0 stands for a
 * cluster of zeros, 0 with the all-ones flag for a cluster of ones.
 *
 * The merge works one destination cluster at a time and reads the source
 * one cluster at a time, so that memory stays at two clusters whatever
 * the disk size; the granularities may differ (a source bit then sets
 * every destination bit whose area it touches, as QEMU's merge does).
 * A destination cluster that gains bits is written to a new cluster; the
 * caller stores the new table and frees the replaced clusters, so the
 * old bitmap stays whole until the header points at the new one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

enum { BM_ZEROS, BM_ONES, BM_DATA };

/* One bitmap being read cluster by cluster. */
typedef struct bm_reader {
    const qcow2_bitmap_ref *ref;
    uint64_t nbits;   /* bits of the bitmap: one per granule of the disk */
    uint64_t bpc;     /* bits per cluster */
    uint64_t cur;     /* table index whose cluster is loaded, or UINT64_MAX */
    int kind;         /* BM_* of cur */
    uint8_t *buf;     /* one cluster (BM_DATA) */
} bm_reader;

uint64_t qcow2_bitmap_bits(uint64_t disk_size, unsigned gbits)
{
    return (disk_size >> gbits) +
           ((disk_size & (((uint64_t)1 << gbits) - 1)) != 0);
}

/* The kind of table entry e; a data cluster must lie in the file. */
static int entry_kind(const qcow2_bitmap_ref *ref, uint64_t e, img_err *err)
{
    const qcow2_state *s = ref->s;
    uint64_t off = e & QCOW2_BME_TABLE_OFFSET_MASK;
    if (!(e & QCOW2_BME_TABLE_RESERVED_MASK) && off == 0) {
        return e & QCOW2_BME_TABLE_ALL_ONES ? BM_ONES : BM_ZEROS;
    }
    if ((e & (QCOW2_BME_TABLE_RESERVED_MASK | QCOW2_BME_TABLE_ALL_ONES)) ||
        off % s->cluster_size || off > s->file_size ||
        s->cluster_size > s->file_size - off) {
        return img_err_set(err, EINVAL, "Bitmap '%s' has an invalid table "
                           "entry", ref->b->name);
    }
    return BM_DATA;
}

static int reader_init(bm_reader *r, const qcow2_bitmap_ref *ref,
                       img_err *err)
{
    memset(r, 0, sizeof(*r));
    r->ref = ref;
    r->nbits = qcow2_bitmap_bits(ref->s->hdr.size, ref->b->gbits);
    r->bpc = ref->s->cluster_size * 8;
    r->cur = UINT64_MAX;
    r->buf = malloc(ref->s->cluster_size);
    return r->buf ? 0 : img_err_set(err, ENOMEM, "Out of memory");
}

/* Loads table entry k (the table has enough entries for nbits). */
static int reader_load(bm_reader *r, uint64_t k, img_err *err)
{
    if (k == r->cur) {
        return 0;
    }
    r->cur = UINT64_MAX;
    int kind = entry_kind(r->ref, r->ref->table[k], err);
    if (kind == BM_DATA) {
        uint64_t off = r->ref->table[k] & QCOW2_BME_TABLE_OFFSET_MASK;
        int e = img_file_pread(r->ref->file, r->buf, r->ref->s->cluster_size,
                               off, err);
        if (e < 0) {
            return e;
        }
    }
    if (kind < 0) {
        return kind;
    }
    r->kind = kind;
    r->cur = k;
    return 0;
}

/* Bit i of a loaded data cluster. */
static int bit_at(const bm_reader *r, uint64_t i)
{
    return r->buf[i >> 3] >> (i & 7) & 1;
}

/* The first run of set bits in [from, to) of r's bitmap: 1 with the run
 * in [*start, *end) (cut at the end of its cluster), or 0 when there is
 * none, or a negative errno.  Whole bytes are skipped or taken at once,
 * and an all-ones cluster is one run, so a bitmap costs about its size
 * in bytes, not in bits. */
static int next_run(bm_reader *r, uint64_t from, uint64_t to,
                    uint64_t *start, uint64_t *end, img_err *err)
{
    while (from < to) {
        uint64_t k = from / r->bpc, base = k * r->bpc;
        uint64_t stop = to - base < r->bpc ? to - base : r->bpc;
        int e = reader_load(r, k, err);
        if (e < 0) {
            return e;
        }
        uint64_t i = from - base;
        while (r->kind == BM_DATA && i < stop && !bit_at(r, i)) {
            i = (i & 7) == 0 && r->buf[i >> 3] == 0 ? i + 8 : i + 1;
        }
        if (r->kind != BM_ZEROS && i < stop) {
            uint64_t j = i;
            while (r->kind == BM_DATA && j < stop && bit_at(r, j)) {
                j = (j & 7) == 0 && r->buf[j >> 3] == 0xff ? j + 8 : j + 1;
            }
            *start = base + i;
            *end = base + (r->kind == BM_ONES || j > stop ? stop : j);
            return 1;
        }
        from = base + stop;
    }
    return 0;
}

/* Sets bits [from, to) of one cluster's data; true when one was clear. */
static int set_bits(uint8_t *buf, uint64_t from, uint64_t to)
{
    int changed = 0;
    while (from < to) {
        if ((from & 7) == 0 && to - from >= 8) {
            changed |= buf[from >> 3] != 0xff;
            buf[from >> 3] = 0xff;
            from += 8;
            continue;
        }
        uint8_t bit = (uint8_t)(1u << (from & 7));
        changed |= !(buf[from >> 3] & bit);
        buf[from >> 3] |= bit;
        from++;
    }
    return changed;
}

/* ORs into dst's loaded cluster (buf, table index k) every area that a
 * set bit of src marks; *changed when a bit was added. */
static int merge_cluster(bm_reader *dst, bm_reader *src, uint64_t k,
                         int *changed, img_err *err)
{
    unsigned gd = dst->ref->b->gbits, gs = src->ref->b->gbits;
    uint64_t base = k * dst->bpc;
    uint64_t t = base;
    uint64_t tend = dst->nbits - base < dst->bpc ? dst->nbits
                                                 : base + dst->bpc;
    uint64_t sgran = (uint64_t)1 << gs, dgran = (uint64_t)1 << gd;
    while (t < tend) {
        uint64_t sfrom = (t << gd) >> gs;
        uint64_t sto = ((tend << gd) + sgran - 1) >> gs;
        uint64_t s0, s1;
        int e = next_run(src, sfrom, sto < src->nbits ? sto : src->nbits,
                         &s0, &s1, err);
        if (e <= 0) {
            return e;
        }
        /* the destination bits that the disk area of source bits [s0, s1)
         * meets */
        uint64_t first = (s0 << gs) >> gd;
        uint64_t last = ((s1 << gs) + dgran - 1) >> gd;
        uint64_t t0 = first > t ? first : t, t1 = last < tend ? last : tend;
        *changed |= set_bits(dst->buf, t0 - base, t1 - base);
        t = t1;
    }
    return 0;
}

/* Frees the clusters new_table has in place of old ones. */
static void drop_new(const qcow2_bitmap_ref *dst, uint64_t *new_table)
{
    for (uint32_t k = 0; k < dst->b->table_size; k++) {
        if (new_table[k] != dst->table[k]) {
            (void)qcow2_free_clusters(dst->s, dst->file,
                                      new_table[k] &
                                          QCOW2_BME_TABLE_OFFSET_MASK,
                                      dst->s->cluster_size, 0, NULL);
            new_table[k] = dst->table[k];
        }
    }
}

int qcow2_bitmap_merge_data(const qcow2_bitmap_ref *dst,
                            const qcow2_bitmap_ref *src, uint64_t *new_table,
                            img_err *err)
{
    bm_reader rd = { 0 }, rs = { 0 };
    memcpy(new_table, dst->table, (size_t)dst->b->table_size * 8);
    int r = reader_init(&rd, dst, err);
    if (r >= 0) {
        r = reader_init(&rs, src, err);
    }
    for (uint64_t k = 0; r >= 0 && k < dst->b->table_size; k++) {
        int changed = 0;
        r = reader_load(&rd, k, err);
        if (r < 0 || rd.kind == BM_ONES) {
            continue;
        }
        if (rd.kind == BM_ZEROS) {
            memset(rd.buf, 0, dst->s->cluster_size);
        }
        r = merge_cluster(&rd, &rs, k, &changed, err);
        rd.cur = UINT64_MAX; /* buf now differs from the file */
        uint64_t off = 0;
        if (r >= 0 && changed) {
            r = qcow2_write_new_clusters(dst->s, dst->file, rd.buf,
                                         dst->s->cluster_size, &off, err);
        }
        if (r >= 0 && changed) {
            new_table[k] = off;
        }
    }
    if (r < 0) {
        drop_new(dst, new_table);
    }
    free(rd.buf);
    free(rs.buf);
    return r;
}
