/* formats/vmdk/vmdk_stream.c -- writing streamOptimized extents.
 *
 * Spec: "Virtual Disk Format 5.0", "Stream-Optimized Compressed Sparse
 * Extents".  The layout is the one VMware's tools produce for vSphere: a
 * version 3 header whose gdOffset is GD_AT_END, the descriptor, then each
 * grain deflate-compressed behind a grain marker (LBA and size), then for
 * every grain table that has grains a GT marker and the table, a GD marker
 * and the grain directory, a footer marker and the footer (the header
 * again, with the real gdOffset), and an end-of-stream marker.
 *
 * Grains are appended as they are written: a grain is assembled in a
 * buffer (writes may cover it piecewise, in order) and compressed once a
 * write moves to another grain.  A grain already stored cannot be
 * written again, so writes should come in ascending order (the convert
 * engine's default).  The grain tables are kept in memory (4 bytes per
 * grain, only for tables that have grains) and written, with the
 * directory and footer, by vmdk_stream_finish() on flush and close; the
 * next write continues where the grains ended, over that metadata.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmdk.h"

#define NO_GRAIN UINT64_MAX

struct vmdk_stream {
    uint32_t **gts;     /* per GD entry: grain table (host order) or NULL */
    uint32_t n_gts;     /* entries of gts (the GD size) */
    uint8_t *grain;     /* the grain being assembled */
    uint64_t pending;   /* its number, NO_GRAIN when none */
    int keep_zero;      /* store all-zero grains (a backing image shows
                           through unallocated ones) */
    vmdk_zpool *zp;     /* compresses finished grains; made on first use */
    uint64_t data_end;  /* bytes: where the next grain marker goes */
    int dirty;          /* grains written since the last finish */
};

/* v rounded up to a whole sector. */
static uint64_t round_sector(uint64_t v)
{
    return (v + VMDK_SECTOR - 1) & ~(uint64_t)(VMDK_SECTOR - 1);
}

/* See vmdk.h.  Stops the compression threads. */
void vmdk_stream_free(vmdk_stream *st)
{
    if (!st) {
        return;
    }
    for (uint32_t i = 0; st->gts && i < st->n_gts; i++) {
        free(st->gts[i]);
    }
    vmdk_zpool_free(st->zp);
    free(st->gts);
    free(st->grain);
    free(st);
}

/* See vmdk.h. */
uint32_t vmdk_stream_gte(const vmdk_sparse *sp, uint64_t g)
{
    const uint32_t *gt = sp->stream->gts[g / sp->gtes];
    return gt ? gt[g % sp->gtes] : 0;
}

/* See vmdk.h.  Grains handed to the compressors but not yet
 * written count too: reads must see them. */
const uint8_t *vmdk_stream_pending(const vmdk_sparse *sp, uint64_t g)
{
    const vmdk_stream *st = sp->stream;
    if (!st) {
        return NULL;
    }
    if (st->pending == g) {
        return st->grain;
    }
    return st->zp ? vmdk_zpool_find(st->zp, g) : NULL;
}

/* ---- starting ---- */

/* An empty writer for sp (no grain tables yet); NULL on ENOMEM. */
static vmdk_stream *stream_new(const vmdk_sparse *sp)
{
    vmdk_stream *st = calloc(1, sizeof(*st));
    if (!st) {
        return NULL;
    }
    st->pending = NO_GRAIN;
    st->gts = calloc((size_t)sp->gd_entries + 1, sizeof(*st->gts));
    st->n_gts = sp->gd_entries;
    st->grain = malloc(sp->grain_bytes);
    if (!st->gts || !st->grain) {
        vmdk_stream_free(st);
        return NULL;
    }
    return st;
}

/* qsort order of sectors. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Grain tables must not overlap: each costs memory once, so a crafted
 * directory pointing many entries at one table cannot multiply it. */
static int check_gts_distinct(const vmdk_sparse *sp, img_err *err)
{
    uint64_t *s = malloc(((size_t)sp->gd_entries + 1) * sizeof(*s));
    size_t n = 0;
    if (!s) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (uint32_t i = 0; i < sp->gd_entries; i++) {
        if (sp->gd[i]) {
            s[n++] = sp->gd[i];
        }
    }
    qsort(s, n, sizeof(*s), cmp_u64);
    uint64_t gt_sectors = round_sector(sp->gt_bytes) / VMDK_SECTOR;
    int r = 0;
    for (size_t i = 1; i < n && r == 0; i++) {
        if (s[i] < s[i - 1] + gt_sectors) {
            r = img_err_set(err, EINVAL, "Grain tables at sectors %" PRIu64
                            " and %" PRIu64 " overlap", s[i - 1], s[i]);
        }
    }
    free(s);
    return r;
}

/* Copies every grain table into memory; *last is the highest grain
 * sector seen (0: none). */
static int load_all_gts(img_file *f, vmdk_sparse *sp, vmdk_stream *st,
                        uint64_t *last, img_err *err)
{
    *last = 0;
    for (uint32_t i = 0; i < sp->gd_entries; i++) {
        uint32_t *tbl;
        if (!sp->gd[i]) {
            continue;
        }
        int r = vmdk_sparse_load_gt(f, sp, sp->gd[i], &tbl, err);
        if (r < 0) {
            return r;
        }
        if (!(st->gts[i] = malloc(sp->gt_bytes))) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        memcpy(st->gts[i], tbl, sp->gt_bytes);
        for (uint32_t j = 0; j < sp->gtes; j++) {
            int zero = tbl[j] == VMDK_GTE_ZEROED && sp->zero_grain;
            if (!zero && tbl[j] > *last) {
                *last = tbl[j];
            }
        }
    }
    return 0;
}

/* Where stored grains end: after the last grain marker and its data, and
 * never inside the header and descriptor area. */
static int find_data_end(img_file *f, vmdk_sparse *sp, uint64_t last,
                         uint64_t *end, img_err *err)
{
    uint64_t meta = sp->h.overhead;
    if (sp->h.desc_offset + sp->h.desc_size > meta) {
        meta = sp->h.desc_offset + sp->h.desc_size;
    }
    *end = (meta ? meta : 1) * VMDK_SECTOR;
    if (last == 0) {
        return 0;
    }
    uint8_t m[VMDK_SECTOR];
    int r = img_file_pread(f, m, sizeof(m), last * VMDK_SECTOR, err);
    if (r < 0) {
        return r;
    }
    uint64_t size = vmdk_le32(m + VMDK_MARKER_SIZE);
    uint64_t grain_end = last * VMDK_SECTOR +
                         round_sector(VMDK_GRAIN_MARKER_LEN + size);
    if (grain_end > *end) {
        *end = grain_end;
    }
    return 0;
}

/* See vmdk.h. */
int vmdk_stream_start(img_file *f, vmdk_sparse *sp, img_err *err)
{
    vmdk_stream *st = stream_new(sp);
    uint64_t last;
    if (!st) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = check_gts_distinct(sp, err);
    if (r >= 0) {
        r = load_all_gts(f, sp, st, &last, err);
    }
    if (r >= 0) {
        r = find_data_end(f, sp, last, &st->data_end, err);
    }
    if (r < 0) {
        vmdk_stream_free(st);
        return r;
    }
    sp->stream = st;
    return 0;
}

/* ---- grains ---- */

/* Whether n bytes at p are all zero. */
static int is_zero(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (p[i]) {
            return 0;
        }
    }
    return 1;
}

/* Sets the in-memory GTE of grain g, making its table if needed. */
static int set_gte(vmdk_sparse *sp, uint64_t g, uint32_t v, img_err *err)
{
    uint32_t **gt = &sp->stream->gts[g / sp->gtes];
    if (!*gt && !(*gt = calloc(sp->gtes, sizeof(**gt)))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    (*gt)[g % sp->gtes] = v;
    return 0;
}

/* Where compressed grains go. */
typedef struct sink_ctx {
    img_file *f;
    vmdk_sparse *sp;
} sink_ctx;

/* Appends grain g behind its marker (in the frame's room) and points its
 * GTE at it. */
static int append_grain(void *opaque, uint64_t g, uint8_t *frame,
                        uint64_t zlen, img_err *err)
{
    sink_ctx *c = opaque;
    vmdk_sparse *sp = c->sp;
    vmdk_stream *st = sp->stream;
    vmdk_put_le64(frame, g * sp->h.grain);
    vmdk_put_le32(frame + VMDK_MARKER_SIZE, (uint32_t)zlen);
    uint64_t total = round_sector(VMDK_GRAIN_MARKER_LEN + zlen);
    memset(frame + VMDK_GRAIN_MARKER_LEN + zlen, 0,
           total - VMDK_GRAIN_MARKER_LEN - zlen);
    if ((st->data_end + total) / VMDK_SECTOR >= VMDK_MAX_FILE_SECTORS) {
        return img_err_set(err, ENOSPC, "streamOptimized extent is full "
                           "(grain offsets are 32-bit sectors)");
    }
    int r = img_file_pwrite(c->f, frame, total, st->data_end, err);
    if (r >= 0) {
        r = set_gte(sp, g, (uint32_t)(st->data_end / VMDK_SECTOR), err);
    }
    st->data_end += total;
    if (st->data_end > sp->file_size) {
        sp->file_size = st->data_end;
    }
    return r;
}

/* Compression threads: one per CPU (at most 8); none on one CPU. */
static int pool_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n <= 1 ? 0 : n > 8 ? 8 : (int)n;
}

/* Hands the pending grain to the compressors (all-zero grains stay
 * unallocated unless a backing image would show through). */
static int flush_grain(img_file *f, vmdk_sparse *sp, img_err *err)
{
    vmdk_stream *st = sp->stream;
    uint64_t g = st->pending;
    if (g == NO_GRAIN) {
        return 0;
    }
    st->pending = NO_GRAIN;
    if (!st->keep_zero && is_zero(st->grain, sp->grain_bytes)) {
        return 0;
    }
    if (!st->zp && !(st->zp = vmdk_zpool_new(sp->grain_bytes,
                                              pool_threads()))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    sink_ctx c = { f, sp };
    return vmdk_zpool_submit(st->zp, g, &st->grain, append_grain, &c, err);
}

/* Writes every grain still being compressed. */
static int drain_grains(img_file *f, vmdk_sparse *sp, img_err *err)
{
    sink_ctx c = { f, sp };
    int r = flush_grain(f, sp, err);
    if (r >= 0 && sp->stream->zp) {
        r = vmdk_zpool_drain(sp->stream->zp, append_grain, &c, err);
    }
    return r;
}

/* Makes g the pending grain, starting from what reads there now. */
static int begin_grain(img *im, vmdk_extent *e, uint64_t g, img_err *err)
{
    vmdk_sparse *sp = e->sp;
    vmdk_stream *st = sp->stream;
    int r = flush_grain(e->file, sp, err);
    if (r < 0) {
        return r;
    }
    st->keep_zero = im->backing_name != NULL;
    uint32_t gte = vmdk_stream_gte(sp, g);
    if (gte == VMDK_GTE_UNALLOCATED && st->keep_zero) {
        r = vmdk_read_backing(im, st->grain, sp->grain_bytes,
                              e->start + g * sp->grain_bytes, err);
    } else {
        memset(st->grain, 0, sp->grain_bytes);
    }
    st->pending = g;
    st->dirty = 1;
    return r;
}

/* See vmdk.h. */
int vmdk_stream_write(img *im, vmdk_extent *e, const void *buf, uint64_t n,
                      uint64_t off, img_err *err)
{
    vmdk_sparse *sp = e->sp;
    vmdk_stream *st = sp->stream;
    uint64_t g = off / sp->grain_bytes, in = off % sp->grain_bytes;
    if (st->pending != g) {
        uint32_t gte = vmdk_stream_gte(sp, g);
        if ((gte != VMDK_GTE_UNALLOCATED &&
             !(gte == VMDK_GTE_ZEROED && sp->zero_grain)) ||
            (st->zp && vmdk_zpool_find(st->zp, g))) {
            return img_err_set(err, EINVAL, "Grain at offset %" PRIu64
                               " of a streamOptimized image was already "
                               "written (write it once, in order)", off);
        }
        if (!buf && gte == VMDK_GTE_UNALLOCATED && !im->backing_name) {
            return 0; /* already reads as zeros */
        }
        int r = begin_grain(im, e, g, err);
        if (r < 0) {
            return r;
        }
    }
    if (buf) {
        memcpy(st->grain + in, buf, n);
    } else {
        memset(st->grain + in, 0, n);
    }
    return 0;
}

/* ---- metadata ---- */

/* A metadata marker sector: val sectors of type follow. */
static void put_marker(uint8_t *m, uint64_t val, uint32_t type)
{
    memset(m, 0, VMDK_SECTOR);
    vmdk_put_le64(m + VMDK_MARKER_VAL, val);
    vmdk_put_le32(m + VMDK_MARKER_TYPE, type);
}

/* Writes a marker and a table of n host-order entries at *pos. */
static int write_table(img_file *f, uint64_t *pos, uint32_t type,
                       const uint32_t *tbl, uint64_t n, img_err *err)
{
    uint64_t bytes = round_sector(n * 4);
    uint8_t *buf = calloc(1, VMDK_SECTOR + bytes);
    if (!buf) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    put_marker(buf, bytes / VMDK_SECTOR, type);
    for (uint64_t i = 0; i < n; i++) {
        vmdk_put_le32(buf + VMDK_SECTOR + 4 * i, tbl[i]);
    }
    int r = img_file_pwrite(f, buf, VMDK_SECTOR + bytes, *pos, err);
    free(buf);
    *pos += VMDK_SECTOR + bytes;
    return r;
}

/* Grain tables that have grains, each behind a GT marker; fills gd. */
static int write_gts(img_file *f, vmdk_sparse *sp, uint64_t *pos,
                     uint32_t *gd, img_err *err)
{
    vmdk_stream *st = sp->stream;
    for (uint32_t i = 0; i < sp->gd_entries; i++) {
        const uint32_t *gt = st->gts[i];
        gd[i] = 0;
        if (!gt || is_zero((const uint8_t *)gt, sp->gt_bytes)) {
            continue;
        }
        gd[i] = (uint32_t)(*pos / VMDK_SECTOR + 1);
        int r = write_table(f, pos, VMDK_MARKER_GT, gt, sp->gtes, err);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* The header as the footer has it (real gdOffset) or as sector 0 has it
 * (GD_AT_END). */
static void stream_header(const vmdk_sparse *sp, uint64_t gd_offset,
                          uint8_t *sector)
{
    vmdk_header h = sp->h;
    h.version = h.version < 3 ? 3 : h.version;
    h.flags = VMDK_FLAG_NL_DETECT | VMDK_FLAG_COMPRESSED |
              VMDK_FLAG_MARKERS | (h.flags & VMDK_FLAG_ZERO_GRAIN);
    h.compress = VMDK_COMPRESS_DEFLATE;
    h.rgd_offset = 0;
    h.gd_offset = gd_offset;
    h.unclean = 0;
    vmdk_header_encode(&h, sector);
}

/* Footer marker, footer and end-of-stream marker at *pos. */
static int write_footer(img_file *f, vmdk_sparse *sp, uint64_t *pos,
                        uint64_t gd_sector, img_err *err)
{
    uint8_t buf[3 * VMDK_SECTOR];
    put_marker(buf, 1, VMDK_MARKER_FOOTER);
    stream_header(sp, gd_sector, buf + VMDK_SECTOR);
    put_marker(buf + 2 * VMDK_SECTOR, 0, VMDK_MARKER_EOS);
    int r = img_file_pwrite(f, buf, sizeof(buf), *pos, err);
    *pos += sizeof(buf);
    return r;
}

/* Everything after the grains, then the header's GD_AT_END. */
static int write_metadata(img_file *f, vmdk_sparse *sp, uint32_t *gd,
                          img_err *err)
{
    uint64_t pos = sp->stream->data_end;
    int r = write_gts(f, sp, &pos, gd, err);
    uint64_t gd_sector = pos / VMDK_SECTOR + 1;
    if (r >= 0) {
        r = write_table(f, &pos, VMDK_MARKER_GD, gd, sp->gd_entries, err);
    }
    if (r >= 0) {
        r = write_footer(f, sp, &pos, gd_sector, err);
    }
    if (r >= 0) {
        r = img_file_truncate(f, pos, err);
    }
    uint8_t hdr[VMDK_SECTOR];
    stream_header(sp, VMDK_GD_AT_END, hdr);
    if (r >= 0) {
        r = img_file_pwrite(f, hdr, sizeof(hdr), 0, err);
    }
    if (r >= 0) {
        sp->h.gd_offset = gd_sector;
        sp->gd_at_end = 1;
        sp->file_size = pos;
    }
    return r;
}

/* See vmdk.h.  Nothing happens when nothing was written. */
int vmdk_stream_finish(img_file *f, vmdk_sparse *sp, img_err *err)
{
    vmdk_stream *st = sp->stream;
    if (!st || (!st->dirty && st->pending == NO_GRAIN)) {
        return 0;
    }
    int r = drain_grains(f, sp, err);
    uint32_t *gd = calloc((size_t)sp->gd_entries + 1, sizeof(*gd));
    if (r >= 0 && !gd) {
        r = img_err_set(err, ENOMEM, "Out of memory");
    }
    if (r >= 0) {
        r = write_metadata(f, sp, gd, err);
    }
    if (r >= 0) {
        free(sp->gd);
        sp->gd = gd; /* the on-disk directory, for check */
        gd = NULL;
        for (int i = 0; i < VMDK_GT_CACHE; i++) {
            sp->cache[i].sector = 0;
        }
        st->dirty = 0;
    }
    free(gd);
    return r;
}

/* ---- creating ---- */

/* See vmdk.h.  A temporary writer with no grains finishes the file. */
int vmdk_stream_create(img_file *f, uint64_t capacity, const char *desc,
                       img_err *err)
{
    uint64_t desc_len = strlen(desc);
    uint64_t desc_sectors = round_sector(desc_len) / VMDK_SECTOR;
    vmdk_sparse sp = { .gtes = VMDK_GTES_PER_GT };
    sp.h = (vmdk_header){
        .version = 3,
        .capacity = capacity,
        .grain = VMDK_DEF_GRAIN_SECTORS,
        .desc_offset = 1,
        .desc_size = desc_sectors < VMDK_DEF_DESC_SECTORS
                         ? VMDK_DEF_DESC_SECTORS
                         : desc_sectors,
        .num_gtes = VMDK_GTES_PER_GT,
    };
    uint64_t g = sp.h.grain;
    sp.h.overhead = (1 + sp.h.desc_size + g - 1) / g * g;
    sp.grain_bytes = g * VMDK_SECTOR;
    sp.gt_bytes = (uint64_t)sp.gtes * 4;
    sp.gd_entries = (uint32_t)((capacity + g * sp.gtes - 1) / (g * sp.gtes));
    int r = img_file_truncate(f, 0, err);
    if (r >= 0) {
        r = img_file_pwrite(f, desc, desc_len, VMDK_SECTOR, err);
    }
    if (r >= 0 && !(sp.stream = stream_new(&sp))) {
        r = img_err_set(err, ENOMEM, "Out of memory");
    }
    if (r >= 0) {
        sp.stream->data_end = sp.h.overhead * VMDK_SECTOR;
        sp.stream->dirty = 1;
        r = vmdk_stream_finish(f, &sp, err);
    }
    vmdk_stream_free(sp.stream);
    free(sp.gd);
    return r;
}
