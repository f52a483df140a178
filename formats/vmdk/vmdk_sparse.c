/* formats/vmdk/vmdk_sparse.c -- sparse extents: hosted sparse ("KDMV",
 * versions 1 to 3, compressed or not) and ESX sparse ("COWD").
 *
 * Spec: "Virtual Disk Format 5.0", "Hosted Sparse Extents" (header, grain
 * directory, grain tables, redundant GD, zeroed-grain GTEs) and
 * "Stream-Optimized Compressed Sparse Extents" (compressed grains with
 * markers, GD_AT_END with a footer), and "ESXi Host Sparse Extents".
 *
 * Every header field is range-checked before use: the grain size is a
 * power of two up to VMDK_MAX_GRAIN_SECTORS, a grain table has 512
 * entries (4096 for COWD), the capacity is at most VMDK_MAX_SECTORS and
 * the grain directory must lie inside the file, which bounds every
 * allocation by the size of the file.  Grain tables are read on demand
 * through a small LRU cache.  Writes allocate grains at the end of the
 * file (copying the backing image's data into partial grains) and update
 * both the grain table and its redundant copy; a write covering several
 * whole new grains of one grain table stores their data in one write and
 * their GTEs in one write per table copy.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vmdk.h"

/* Grains one block-status call looks at. */
#define STATUS_MAX_GRAINS 4096

/* ---- header ---- */

/* See vmdk.h.  Values are checked by the callers. */
int vmdk_header_decode(const uint8_t *buf, size_t len, vmdk_header *h,
                       img_err *err)
{
    if (len < VMDK_HDR_LEN || memcmp(buf, VMDK_MAGIC_SPARSE, 4) != 0) {
        return img_err_set(err, EINVAL, "Not a VMDK sparse header");
    }
    h->version = vmdk_le32(buf + VMDK_HDR_VERSION);
    h->flags = vmdk_le32(buf + VMDK_HDR_FLAGS);
    h->capacity = vmdk_le64(buf + VMDK_HDR_CAPACITY);
    h->grain = vmdk_le64(buf + VMDK_HDR_GRAIN);
    h->desc_offset = vmdk_le64(buf + VMDK_HDR_DESC_OFFSET);
    h->desc_size = vmdk_le64(buf + VMDK_HDR_DESC_SIZE);
    h->num_gtes = vmdk_le32(buf + VMDK_HDR_NUM_GTES);
    h->rgd_offset = vmdk_le64(buf + VMDK_HDR_RGD_OFFSET);
    h->gd_offset = vmdk_le64(buf + VMDK_HDR_GD_OFFSET);
    h->overhead = vmdk_le64(buf + VMDK_HDR_OVERHEAD);
    h->unclean = buf[VMDK_HDR_UNCLEAN];
    memcpy(h->nl, buf + VMDK_HDR_NL_CHARS, 4);
    h->compress = vmdk_le16(buf + VMDK_HDR_COMPRESS);
    return 0;
}

/* See vmdk.h. */
void vmdk_header_encode(const vmdk_header *h, uint8_t *sector)
{
    memset(sector, 0, VMDK_SECTOR);
    memcpy(sector, VMDK_MAGIC_SPARSE, 4);
    vmdk_put_le32(sector + VMDK_HDR_VERSION, h->version);
    vmdk_put_le32(sector + VMDK_HDR_FLAGS, h->flags);
    vmdk_put_le64(sector + VMDK_HDR_CAPACITY, h->capacity);
    vmdk_put_le64(sector + VMDK_HDR_GRAIN, h->grain);
    vmdk_put_le64(sector + VMDK_HDR_DESC_OFFSET, h->desc_offset);
    vmdk_put_le64(sector + VMDK_HDR_DESC_SIZE, h->desc_size);
    vmdk_put_le32(sector + VMDK_HDR_NUM_GTES, h->num_gtes);
    vmdk_put_le64(sector + VMDK_HDR_RGD_OFFSET, h->rgd_offset);
    vmdk_put_le64(sector + VMDK_HDR_GD_OFFSET, h->gd_offset);
    vmdk_put_le64(sector + VMDK_HDR_OVERHEAD, h->overhead);
    sector[VMDK_HDR_UNCLEAN] = h->unclean;
    memcpy(sector + VMDK_HDR_NL_CHARS, "\n \r\n", 4);
    vmdk_put_le16(sector + VMDK_HDR_COMPRESS, h->compress);
}

/* ---- opening ---- */

/* Whether v is a (non-zero) power of two. */
static int is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

/* GD_AT_END: the footer (a header copy) sits between a footer marker and
 * the end-of-stream marker in the last three sectors. */
static int read_footer(img_file *f, vmdk_sparse *sp, const char *name,
                       img_err *err)
{
    uint8_t buf[3 * VMDK_SECTOR];
    uint64_t at = sp->file_size & ~(uint64_t)(VMDK_SECTOR - 1);
    if (at < 4 * VMDK_SECTOR) {
        return img_err_set(err, EINVAL, "'%s': invalid footer (file too "
                           "small)", name);
    }
    int r = img_file_pread(f, buf, sizeof(buf), at - sizeof(buf), err);
    if (r < 0) {
        return r;
    }
    const uint8_t *fm = buf, *eos = buf + 2 * VMDK_SECTOR;
    if (vmdk_le32(fm + VMDK_MARKER_SIZE) != 0 ||
        vmdk_le32(fm + VMDK_MARKER_TYPE) != VMDK_MARKER_FOOTER ||
        vmdk_le64(eos + VMDK_MARKER_VAL) != 0 ||
        vmdk_le32(eos + VMDK_MARKER_SIZE) != 0 ||
        vmdk_le32(eos + VMDK_MARKER_TYPE) != VMDK_MARKER_EOS ||
        vmdk_header_decode(buf + VMDK_SECTOR, VMDK_SECTOR, &sp->h,
                           NULL) < 0 ||
        sp->h.gd_offset == VMDK_GD_AT_END) {
        return img_err_set(err, EINVAL, "'%s': invalid footer", name);
    }
    sp->gd_at_end = 1;
    return 0;
}

/* Version, flags and compression of a KDMV header. */
static int check_features(vmdk_sparse *sp, const char *name, img_err *err)
{
    const vmdk_header *h = &sp->h;
    if (h->version < 1 || h->version > 3) {
        return img_err_set(err, ENOTSUP, "'%s': unsupported VMDK version "
                           "%" PRIu32, name, h->version);
    }
    uint32_t unknown = h->flags & VMDK_FLAG_INCOMPAT_MASK &
                       ~VMDK_FLAG_INCOMPAT_KNOWN;
    if (unknown) {
        return img_err_set(err, ENOTSUP, "'%s': unsupported VMDK flags "
                           "%#" PRIx32, name, unknown);
    }
    if ((h->flags & VMDK_FLAG_NL_DETECT) && memcmp(h->nl, "\n \r\n", 4)) {
        return img_err_set(err, EINVAL, "'%s': VMDK header newline bytes "
                           "are corrupt (transferred as text?)", name);
    }
    if (h->compress > VMDK_COMPRESS_DEFLATE ||
        ((h->flags & VMDK_FLAG_COMPRESSED) &&
         h->compress != VMDK_COMPRESS_DEFLATE)) {
        return img_err_set(err, ENOTSUP, "'%s': unsupported VMDK "
                           "compression algorithm %u", name, h->compress);
    }
    sp->compressed = h->compress == VMDK_COMPRESS_DEFLATE;
    sp->markers = (h->flags & VMDK_FLAG_MARKERS) != 0;
    sp->zero_grain = (h->flags & VMDK_FLAG_ZERO_GRAIN) != 0;
    if (sp->markers && !sp->compressed) {
        return img_err_set(err, EINVAL, "'%s': VMDK markers without "
                           "compression", name);
    }
    return 0;
}

/* Grain size, table size and capacity; derives the GD size. */
static int check_geometry(vmdk_sparse *sp, uint64_t capacity, uint64_t grain,
                          uint32_t gtes, uint32_t want_gtes, const char *name,
                          img_err *err)
{
    if (!is_pow2(grain) || grain > VMDK_MAX_GRAIN_SECTORS) {
        return img_err_set(err, EINVAL, "'%s': invalid grain size %" PRIu64
                           " sectors (a power of two up to %d)", name, grain,
                           VMDK_MAX_GRAIN_SECTORS);
    }
    if (gtes != want_gtes) {
        return img_err_set(err, EINVAL, "'%s': invalid number of grain "
                           "table entries %" PRIu32 " (must be %" PRIu32 ")",
                           name, gtes, want_gtes);
    }
    if (capacity > VMDK_MAX_SECTORS) {
        return img_err_set(err, EFBIG, "'%s': capacity %" PRIu64 " sectors "
                           "is too large (at most %" PRIu64 ")", name,
                           capacity, (uint64_t)VMDK_MAX_SECTORS);
    }
    sp->grain_bytes = grain * VMDK_SECTOR;
    sp->gtes = gtes;
    sp->gt_bytes = (uint64_t)gtes * 4;
    uint64_t span = (uint64_t)gtes * grain;
    sp->gd_entries = (uint32_t)((capacity + span - 1) / span);
    return 0;
}

/* Reads a grain directory of gd_entries at sector off into *out. */
static int read_gd(img_file *f, vmdk_sparse *sp, uint64_t off,
                   uint32_t **out, const char *what, const char *name,
                   img_err *err)
{
    uint64_t bytes = (uint64_t)sp->gd_entries * 4;
    *out = NULL;
    if (bytes == 0) {
        return 0;
    }
    if (off == 0 || off > sp->file_size / VMDK_SECTOR ||
        bytes > sp->file_size - off * VMDK_SECTOR) {
        return img_err_set(err, EINVAL, "'%s': %s at sector %" PRIu64
                           " is beyond the end of the file", name, what,
                           off);
    }
    uint8_t *raw = malloc(bytes);
    uint32_t *gd = malloc(bytes);
    int r = raw && gd ? img_file_pread(f, raw, bytes, off * VMDK_SECTOR, err)
                      : img_err_set(err, ENOMEM, "Out of memory");
    for (uint32_t i = 0; r >= 0 && i < sp->gd_entries; i++) {
        gd[i] = vmdk_le32(raw + 4 * (uint64_t)i);
    }
    free(raw);
    if (r < 0) {
        free(gd);
        return r;
    }
    *out = gd;
    return 0;
}

/* A hosted sparse extent: header (or footer), features, geometry,
 * then the directories (the redundant one only where we may write it). */
static int open_kdmv(img_file *f, vmdk_sparse *sp, const uint8_t *hdr,
                     const char *name, img_err *err)
{
    int r = vmdk_header_decode(hdr, VMDK_SECTOR, &sp->h, err);
    if (r >= 0 && sp->h.gd_offset == VMDK_GD_AT_END) {
        r = read_footer(f, sp, name, err);
    }
    if (r >= 0) {
        r = check_features(sp, name, err);
    }
    if (r >= 0) {
        r = check_geometry(sp, sp->h.capacity, sp->h.grain, sp->h.num_gtes,
                           VMDK_GTES_PER_GT, name, err);
    }
    if (r >= 0) {
        r = read_gd(f, sp, sp->h.gd_offset, &sp->gd, "grain directory",
                    name, err);
    }
    if (r >= 0 && (sp->h.flags & VMDK_FLAG_RGD) && sp->h.rgd_offset &&
        !sp->compressed) {
        r = read_gd(f, sp, sp->h.rgd_offset, &sp->rgd,
                    "redundant grain directory", name, err);
    }
    return r;
}

/* ESX sparse: a 2048-byte header, 4096-entry grain tables. */
static int open_cowd(img_file *f, vmdk_sparse *sp, const uint8_t *hdr,
                     const char *name, img_err *err)
{
    sp->cowd = 1;
    if (vmdk_le32(hdr + VMDK_COWD_VERSION) != 1) {
        return img_err_set(err, ENOTSUP, "'%s': unsupported COWD version "
                           "%" PRIu32, name, vmdk_le32(hdr + 4));
    }
    uint64_t cap = vmdk_le32(hdr + VMDK_COWD_CAPACITY);
    int r = check_geometry(sp, cap, vmdk_le32(hdr + VMDK_COWD_GRAIN),
                           VMDK_COWD_GTES, VMDK_COWD_GTES, name, err);
    if (r < 0) {
        return r;
    }
    if (vmdk_le32(hdr + VMDK_COWD_GD_ENTRIES) < sp->gd_entries) {
        return img_err_set(err, EINVAL, "'%s': COWD grain directory is too "
                           "small for the capacity", name);
    }
    sp->h.capacity = cap;
    sp->h.grain = vmdk_le32(hdr + VMDK_COWD_GRAIN);
    sp->h.gd_offset = vmdk_le32(hdr + VMDK_COWD_GD_OFFSET);
    sp->h.overhead = sp->h.gd_offset;
    return read_gd(f, sp, sp->h.gd_offset, &sp->gd, "grain directory", name,
                   err);
}

/* What may be written: not COWD, not an uncompressed version 3 extent
 * (changed-block tracking, as QEMU), not compressed without markers. */
static int check_writable(const vmdk_sparse *sp, const char *name,
                          img_err *err)
{
    if (sp->cowd) {
        return img_err_set(err, ENOTSUP, "'%s': vmfsSparse (COWD) extents "
                           "are read-only", name);
    }
    if (sp->h.version == 3 && !sp->compressed) {
        return img_err_set(err, EINVAL, "VMDK version 3 must be read only");
    }
    if (sp->compressed && !sp->markers) {
        return img_err_set(err, ENOTSUP, "'%s': compressed VMDK extents "
                           "without markers are read-only", name);
    }
    return 0;
}

/* Reads the header of f and opens the extent by its magic. */
static int sparse_setup(img_file *f, vmdk_sparse *sp, const char *name,
                        int writable, img_err *err)
{
    uint8_t hdr[VMDK_SECTOR];
    int r = img_file_size(f, &sp->file_size, err);
    if (r >= 0) {
        r = img_file_pread(f, hdr, sizeof(hdr), 0, err);
    }
    if (r < 0) {
        return r;
    }
    if (!memcmp(hdr, VMDK_MAGIC_COWD, 4)) {
        r = open_cowd(f, sp, hdr, name, err);
    } else if (!memcmp(hdr, VMDK_MAGIC_SPARSE, 4)) {
        r = open_kdmv(f, sp, hdr, name, err);
    } else {
        r = img_err_set(err, EINVAL, "'%s' is not a VMDK sparse extent",
                        name);
    }
    if (r >= 0 && writable) {
        r = check_writable(sp, name, err);
    }
    if (r >= 0 && writable && sp->compressed) {
        r = vmdk_stream_start(f, sp, err);
    }
    return r;
}

/* See vmdk.h. */
int vmdk_sparse_open(img_file *f, const char *name, int writable,
                     vmdk_sparse **out, img_err *err)
{
    vmdk_sparse *sp = calloc(1, sizeof(*sp));
    if (!sp) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    sp->zgrain = UINT64_MAX;
    int r = sparse_setup(f, sp, name, writable, err);
    if (r < 0) {
        vmdk_sparse_free(sp);
        return r;
    }
    /* New grains go after everything (sector-aligned; the metadata area
     * ends grain-aligned in the files VMware and QEMU make). */
    uint64_t end = sp->file_size > sp->h.overhead * VMDK_SECTOR
                       ? sp->file_size
                       : sp->h.overhead * VMDK_SECTOR;
    sp->next_alloc = (end + VMDK_SECTOR - 1) & ~(uint64_t)(VMDK_SECTOR - 1);
    *out = sp;
    return 0;
}

/* See vmdk.h.  NULL is a no-op. */
void vmdk_sparse_free(vmdk_sparse *sp)
{
    if (!sp) {
        return;
    }
    vmdk_stream_free(sp->stream);
    for (int i = 0; i < VMDK_GT_CACHE; i++) {
        free(sp->cache[i].tbl);
    }
    free(sp->gd);
    free(sp->rgd);
    free(sp->wbuf);
    free(sp->zin);
    free(sp->zout);
    free(sp->run_in);
    free(sp);
}

/* ---- grain tables ---- */

/* The cached table at sector, or NULL. */
static vmdk_gt_slot *cache_find(vmdk_sparse *sp, uint64_t sector)
{
    for (int i = 0; i < VMDK_GT_CACHE; i++) {
        if (sp->cache[i].sector == sector && sp->cache[i].tbl) {
            return &sp->cache[i];
        }
    }
    return NULL;
}

/* The least recently used slot. */
static vmdk_gt_slot *cache_victim(vmdk_sparse *sp)
{
    vmdk_gt_slot *v = &sp->cache[0];
    for (int i = 1; i < VMDK_GT_CACHE; i++) {
        if (sp->cache[i].used < v->used) {
            v = &sp->cache[i];
        }
    }
    return v;
}

/* See vmdk.h.  The table must lie inside the file. */
int vmdk_sparse_load_gt(img_file *f, vmdk_sparse *sp, uint64_t sector,
                        uint32_t **tbl, img_err *err)
{
    vmdk_gt_slot *s = cache_find(sp, sector);
    if (!s) {
        if (sector > sp->file_size / VMDK_SECTOR ||
            sp->gt_bytes > sp->file_size - sector * VMDK_SECTOR) {
            return img_err_set(err, EINVAL, "Grain table at sector %" PRIu64
                               " is beyond the end of the file", sector);
        }
        s = cache_victim(sp);
        s->sector = 0;
        if (!s->tbl && !(s->tbl = malloc(sp->gt_bytes))) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        int r = img_file_pread(f, s->tbl, sp->gt_bytes, sector * VMDK_SECTOR,
                               err);
        if (r < 0) {
            return r;
        }
        for (uint32_t i = 0; i < sp->gtes; i++) {
            s->tbl[i] = vmdk_le32((const uint8_t *)&s->tbl[i]);
        }
        s->sector = sector;
    }
    s->used = ++sp->tick;
    *tbl = s->tbl;
    return 0;
}

/* The GTE of grain g (0 when its grain table is absent). */
static int get_gte(img_file *f, vmdk_sparse *sp, uint64_t g, uint32_t *gte,
                   img_err *err)
{
    uint64_t gdi = g / sp->gtes;
    if (gdi >= sp->gd_entries) {
        return img_err_set(err, EIO, "Grain %" PRIu64 " is outside the "
                           "grain directory", g);
    }
    if (sp->stream) {
        *gte = vmdk_stream_gte(sp, g);
        return 0;
    }
    *gte = 0;
    if (sp->gd[gdi] == 0) {
        return 0;
    }
    uint32_t *tbl;
    int r = vmdk_sparse_load_gt(f, sp, sp->gd[gdi], &tbl, err);
    if (r >= 0) {
        *gte = tbl[g % sp->gtes];
    }
    return r;
}

/* See vmdk.h. */
int vmdk_sparse_grain(img_file *f, vmdk_sparse *sp, uint64_t g,
                      vmdk_grain_kind *kind, uint64_t *sector, img_err *err)
{
    uint32_t gte = 0;
    if (vmdk_stream_pending(sp, g)) {
        *kind = VMDK_GRAIN_PENDING;
        return 0;
    }
    int r = get_gte(f, sp, g, &gte, err);
    if (r < 0) {
        return r;
    }
    *sector = gte;
    if (gte == VMDK_GTE_UNALLOCATED) {
        *kind = VMDK_GRAIN_UNALLOC;
    } else if (gte == VMDK_GTE_ZEROED && sp->zero_grain) {
        *kind = VMDK_GRAIN_ZERO;
    } else {
        *kind = sp->compressed ? VMDK_GRAIN_COMPRESSED : VMDK_GRAIN_DATA;
    }
    return 0;
}

/* ---- compressed grains ---- */

/* See vmdk.h: deflate never needs twice the grain (QEMU reads two
 * grains for marker and data). */
uint64_t vmdk_grain_zin_cap(const vmdk_sparse *sp)
{
    return 2 * sp->grain_bytes + VMDK_SECTOR;
}

/* The payload's header at p: [lba u64] size u32; returns the header
 * length. */
static int grain_header(const vmdk_sparse *sp, const uint8_t *p, uint64_t g,
                        uint64_t sector, uint32_t *size, img_err *err)
{
    int hlen = sp->markers ? VMDK_GRAIN_MARKER_LEN : 4;
    *size = vmdk_le32(p + hlen - 4);
    if (sp->markers && vmdk_le64(p) != g * sp->h.grain) {
        return img_err_set(err, EINVAL, "Grain marker at sector %" PRIu64
                           " has LBA %" PRIu64 ", expected %" PRIu64, sector,
                           vmdk_le64(p), g * sp->h.grain);
    }
    if (*size == 0 || *size > vmdk_grain_zin_cap(sp) - (uint64_t)hlen) {
        return img_err_set(err, EINVAL, "Compressed grain at sector %" PRIu64
                           " has invalid size %" PRIu32, sector, *size);
    }
    if (sector * VMDK_SECTOR + hlen + *size > sp->file_size) {
        return img_err_set(err, EINVAL, "Compressed grain at sector %" PRIu64
                           " is beyond the end of the file", sector);
    }
    return hlen;
}

int vmdk_grain_payload(img_file *f, const vmdk_sparse *sp, uint64_t g,
                       uint64_t sector, uint8_t *buf, uint32_t *size,
                       img_err *err)
{
    int r = img_file_pread(f, buf, VMDK_SECTOR, sector * VMDK_SECTOR, err);
    int hlen = r < 0 ? r : grain_header(sp, buf, g, sector, size, err);
    if (hlen < 0) {
        return hlen;
    }
    if ((uint64_t)hlen + *size > VMDK_SECTOR) {
        r = img_file_pread(f, buf + VMDK_SECTOR, hlen + *size - VMDK_SECTOR,
                           (sector + 1) * VMDK_SECTOR, err);
        if (r < 0) {
            return r;
        }
    }
    return hlen;
}

int vmdk_grain_inflate(const vmdk_sparse *sp, const uint8_t *in,
                       uint32_t size, uint8_t *out)
{
    uLongf len = (uLongf)sp->grain_bytes;
    if (uncompress(out, &len, in, size) != Z_OK) {
        return -EINVAL;
    }
    memset(out + len, 0, sp->grain_bytes - len);
    return 0;
}

int vmdk_grain_corrupt(uint64_t sector, img_err *err)
{
    return img_err_set(err, EINVAL, "Compressed grain at sector %" PRIu64
                       " is corrupt", sector);
}

/* Reads and inflates grain g into sp->zout (zero-filled past its data). */
static int load_compressed(img_file *f, vmdk_sparse *sp, uint64_t g,
                           uint64_t sector, img_err *err)
{
    if (!sp->zin && !(sp->zin = malloc(vmdk_grain_zin_cap(sp)))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    if (!sp->zout && !(sp->zout = malloc(sp->grain_bytes))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    sp->zgrain = UINT64_MAX;
    uint32_t size;
    int hlen = vmdk_grain_payload(f, sp, g, sector, sp->zin, &size, err);
    if (hlen < 0) {
        return hlen;
    }
    if (vmdk_grain_inflate(sp, sp->zin + hlen, size, sp->zout) < 0) {
        return vmdk_grain_corrupt(sector, err);
    }
    sp->zgrain = g;
    return 0;
}

/* See vmdk.h.  The last grain inflated is kept, so that reads of
 * its parts do not inflate it again. */
int vmdk_sparse_read_compressed(img_file *f, vmdk_sparse *sp, uint64_t g,
                                uint64_t sector, void *buf, uint64_t in,
                                uint64_t n, img_err *err)
{
    if (sp->zgrain != g) {
        int r = load_compressed(f, sp, g, sector, err);
        if (r < 0) {
            return r;
        }
    }
    memcpy(buf, sp->zout + in, n);
    return 0;
}

/* ---- reads and block status ---- */

/* One piece of a read: n bytes at in within grain g. */
static int read_piece(img *im, vmdk_extent *e, uint64_t g, uint8_t *buf,
                      uint64_t in, uint64_t n, img_err *err)
{
    vmdk_sparse *sp = e->sp;
    vmdk_grain_kind kind;
    uint64_t sector = 0;
    int r = vmdk_sparse_grain(e->file, sp, g, &kind, &sector, err);
    if (r < 0) {
        return r;
    }
    switch (kind) {
    case VMDK_GRAIN_PENDING:
        memcpy(buf, vmdk_stream_pending(sp, g) + in, n);
        return 0;
    case VMDK_GRAIN_ZERO:
        memset(buf, 0, n);
        return 0;
    case VMDK_GRAIN_UNALLOC:
        return vmdk_read_backing(im, buf, n, e->start + g * sp->grain_bytes +
                                 in, err);
    case VMDK_GRAIN_COMPRESSED:
        return vmdk_sparse_read_compressed(e->file, sp, g, sector, buf, in, n,
                                           err);
    case VMDK_GRAIN_DATA:
        break;
    }
    return img_file_pread(e->file, buf, n, sector * VMDK_SECTOR + in, err);
}

/* Whether a read of n bytes that starts in bytes into a grain may start
 * with a run of whole compressed grains (two or more). */
static int may_start_grain_run(const vmdk_sparse *sp, uint64_t in, uint64_t n)
{
    return sp->compressed && in == 0 && n / sp->grain_bytes >= 2;
}

/* See vmdk.h.  One grain at a time, or a run of whole compressed grains
 * at once (vmdk_grain_run.c). */
int vmdk_sparse_read(img *im, vmdk_extent *e, void *buf, uint64_t n,
                     uint64_t off, img_err *err)
{
    uint8_t *p = buf;
    uint64_t gb = e->sp->grain_bytes;
    while (n > 0) {
        uint64_t g = off / gb, in = off % gb, done = 0;
        int r = 0;
        if (may_start_grain_run(e->sp, in, n)) {
            r = vmdk_read_grain_run(e->file, e->sp, g, n / gb, p, &done, err);
        }
        if (r >= 0 && done == 0) {
            done = gb - in < n ? gb - in : n;
            r = read_piece(im, e, g, p, in, done, err);
        }
        if (r < 0) {
            img_err_prepend(err, "'%s': ", e->path);
            return r;
        }
        p += done;
        off += done;
        n -= done;
    }
    return 0;
}

/* Status of one grain; *host set for uncompressed data. */
static int grain_status(vmdk_extent *e, uint64_t g, uint64_t *host,
                        img_err *err)
{
    vmdk_grain_kind kind;
    uint64_t sector = 0;
    int r = vmdk_sparse_grain(e->file, e->sp, g, &kind, &sector, err);
    if (r < 0) {
        return r;
    }
    *host = sector * VMDK_SECTOR;
    switch (kind) {
    case VMDK_GRAIN_UNALLOC:
        return 0;
    case VMDK_GRAIN_ZERO:
        return IMG_BS_ZERO | IMG_BS_ALLOCATED;
    case VMDK_GRAIN_DATA:
        return IMG_BS_DATA | IMG_BS_OFFSET_VALID | IMG_BS_ALLOCATED;
    case VMDK_GRAIN_COMPRESSED:
    case VMDK_GRAIN_PENDING:
        break;
    }
    return IMG_BS_DATA | IMG_BS_ALLOCATED;
}

/* See vmdk.h.  QEMU's answers: unallocated 0, zeroed grain ZERO,
 * data with its offset, compressed data without. */
int vmdk_sparse_status(img *im, vmdk_extent *e, uint64_t off, uint64_t n,
                       uint64_t *pnum, uint64_t *host_off, img_err *err)
{
    (void)im;
    uint64_t gb = e->sp->grain_bytes, host;
    uint64_t g = off / gb, in = off % gb;
    int st = grain_status(e, g, &host, err);
    if (st < 0) {
        return st;
    }
    *host_off = host + in;
    /* Extend over following grains of the same kind (and contiguous host
     * offsets), a bounded number at a time, so map output stays short. */
    uint64_t done = gb - in;
    for (uint64_t g2 = g + 1; done < n && g2 - g < STATUS_MAX_GRAINS; g2++) {
        uint64_t h2;
        int st2 = grain_status(e, g2, &h2, err);
        if (st2 < 0) {
            return st2;
        }
        if (st2 != st || ((st & IMG_BS_OFFSET_VALID) &&
                          h2 != host + (g2 - g) * gb)) {
            break;
        }
        done += gb;
    }
    *pnum = done < n ? done : n;
    return st;
}

/* ---- writes ---- */

/* Writes one GTE (and its redundant copy) to disk and the cache. */
static int set_gte(img_file *f, vmdk_sparse *sp, uint64_t g, uint32_t v,
                   img_err *err)
{
    uint64_t gdi = g / sp->gtes, idx = g % sp->gtes;
    uint8_t le[4];
    vmdk_put_le32(le, v);
    vmdk_gt_slot *s = cache_find(sp, sp->gd[gdi]);
    if (s) {
        s->tbl[idx] = v;
    }
    int r = img_file_pwrite(f, le, 4, (uint64_t)sp->gd[gdi] * VMDK_SECTOR +
                            idx * 4, err);
    if (r >= 0 && sp->rgd && sp->rgd[gdi]) {
        r = img_file_pwrite(f, le, 4, (uint64_t)sp->rgd[gdi] * VMDK_SECTOR +
                            idx * 4, err);
    }
    return r;
}

/* Reserves len bytes at the end of the extent file. */
static int alloc_space(vmdk_sparse *sp, uint64_t len, uint64_t *at,
                       img_err *err)
{
    if ((sp->next_alloc + len) / VMDK_SECTOR > VMDK_MAX_FILE_SECTORS) {
        return img_err_set(err, ENOSPC, "VMDK extent file is full (grain "
                           "offsets are 32-bit sectors)");
    }
    *at = sp->next_alloc;
    sp->next_alloc += len;
    if (sp->next_alloc > sp->file_size) {
        sp->file_size = sp->next_alloc;
    }
    return 0;
}

/* A new, zeroed grain table for GD entry gdi (and its redundant copy). */
static int alloc_gt(img_file *f, vmdk_sparse *sp, uint64_t gdi,
                    img_err *err)
{
    uint64_t bytes = (sp->gt_bytes + VMDK_SECTOR - 1) & ~(uint64_t)511;
    int copies = sp->rgd ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        uint64_t at = 0;
        uint8_t le[4];
        int r = alloc_space(sp, bytes, &at, err);
        if (r >= 0) {
            r = img_file_write_zeroes(f, at, bytes, err);
        }
        uint32_t *gd = c == 0 ? sp->gd : sp->rgd;
        uint64_t gd_off = c == 0 ? sp->h.gd_offset : sp->h.rgd_offset;
        vmdk_put_le32(le, (uint32_t)(at / VMDK_SECTOR));
        if (r >= 0) {
            r = img_file_pwrite(f, le, 4, gd_off * VMDK_SECTOR + gdi * 4,
                                err);
        }
        if (r < 0) {
            return r;
        }
        gd[gdi] = (uint32_t)(at / VMDK_SECTOR);
    }
    return 0;
}

/* Allocates grain g: its full content (old content of the backing image
 * or zeros, with buf/zero applied at in) then the GTE. */
static int alloc_grain(img *im, vmdk_extent *e, uint64_t g, const void *buf,
                       uint64_t in, uint64_t n, int from_backing,
                       img_err *err)
{
    vmdk_sparse *sp = e->sp;
    uint64_t gb = sp->grain_bytes, at = 0;
    const uint8_t *data = buf;
    int r = 0;
    if (!buf || in != 0 || n != gb) {
        if (!sp->wbuf && !(sp->wbuf = malloc(gb))) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        if (from_backing) {
            r = vmdk_read_backing(im, sp->wbuf, gb, e->start + g * gb, err);
        } else {
            memset(sp->wbuf, 0, gb);
        }
        if (buf) {
            memcpy(sp->wbuf + in, buf, n);
        } else {
            memset(sp->wbuf + in, 0, n);
        }
        data = sp->wbuf;
    }
    if (r >= 0 && sp->gd[g / sp->gtes] == 0) {
        r = alloc_gt(e->file, sp, g / sp->gtes, err);
    }
    if (r >= 0) {
        r = alloc_space(sp, gb, &at, err);
    }
    if (r >= 0) {
        r = img_file_pwrite(e->file, data, gb, at, err);
    }
    if (r >= 0) {
        r = set_gte(e->file, sp, g, (uint32_t)(at / VMDK_SECTOR), err);
    }
    return r;
}

/* How far past the end of the file an allocated grain may lie and still
 * be written in place.  The writer puts a grain's data in the file before
 * its table entry, so only a crash that lost the data and kept the entry
 * leaves one past the end, a few grains at most; one further away comes
 * from a crafted entry (up to 2 TiB), and writing it, as QEMU does, grows
 * the file to there. */
#define GRAIN_PAST_END_MAX ((uint64_t)64 << 20)

/* Refuses an in-place write into grain g at sector when the grain lies
 * further than GRAIN_PAST_END_MAX past the end of the file. */
static int check_inplace(const vmdk_sparse *sp, uint64_t g, uint64_t sector,
                         img_err *err)
{
    if (sector * VMDK_SECTOR <= sp->file_size + GRAIN_PAST_END_MAX) {
        return 0;
    }
    return img_err_set(err, EIO,
                       "Grain %" PRIu64 " at sector %" PRIu64
                       " is beyond the end of the file",
                       g, sector);
}

/* One piece within grain g; buf NULL writes zeros. */
static int write_piece(img *im, vmdk_extent *e, uint64_t g, const void *buf,
                       uint64_t in, uint64_t n, img_err *err)
{
    vmdk_sparse *sp = e->sp;
    vmdk_grain_kind kind;
    uint64_t sector = 0;
    int r = vmdk_sparse_grain(e->file, sp, g, &kind, &sector, err);
    if (r < 0) {
        return r;
    }
    if (kind == VMDK_GRAIN_DATA) {
        uint64_t at = sector * VMDK_SECTOR + in;
        if ((r = check_inplace(sp, g, sector, err)) < 0) {
            return r;
        }
        return buf ? img_file_pwrite(e->file, buf, n, at, err)
                   : img_file_write_zeroes(e->file, at, n, err);
    }
    int backing = im->backing_name != NULL;
    if (!buf && (kind == VMDK_GRAIN_ZERO || !backing)) {
        return 0; /* reads as zeros already */
    }
    if (!buf && sp->zero_grain && in == 0 && n == sp->grain_bytes &&
        sp->gd[g / sp->gtes] != 0) {
        return set_gte(e->file, sp, g, VMDK_GTE_ZEROED, err);
    }
    return alloc_grain(im, e, g, buf, in, n,
                       kind == VMDK_GRAIN_UNALLOC && backing, err);
}

/* ---- runs of new grains ---- */

/* Writes GTEs [idx, idx + count) of table gdi from the cached table tbl
 * to the table and its redundant copy, in one write each. */
static int put_gtes(img_file *f, vmdk_sparse *sp, uint64_t gdi,
                    const uint32_t *tbl, uint64_t idx, uint64_t count,
                    img_err *err)
{
    uint8_t *le = malloc(count * 4);
    if (!le) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (uint64_t i = 0; i < count; i++) {
        vmdk_put_le32(le + i * 4, tbl[idx + i]);
    }
    int r = img_file_pwrite(f, le, count * 4,
                            (uint64_t)sp->gd[gdi] * VMDK_SECTOR + idx * 4, err);
    if (r >= 0 && sp->rgd && sp->rgd[gdi]) {
        r = img_file_pwrite(f, le, count * 4,
                            (uint64_t)sp->rgd[gdi] * VMDK_SECTOR + idx * 4,
                            err);
    }
    free(le);
    return r;
}

/* How many whole grains from g (at most max, inside g's grain table) a
 * write may place in new space: unallocated or zeroed ones.  Their
 * old content does not matter, as the write covers them. */
static int new_grain_run(img_file *f, vmdk_sparse *sp, uint64_t g,
                         uint64_t max, uint64_t *count, img_err *err)
{
    uint64_t left = sp->gtes - g % sp->gtes;
    max = max < left ? max : left;
    *count = 0;
    while (*count < max) {
        vmdk_grain_kind kind;
        uint64_t sector = 0;
        int r = vmdk_sparse_grain(f, sp, g + *count, &kind, &sector, err);
        if (r < 0) {
            return r;
        }
        if (kind != VMDK_GRAIN_UNALLOC && kind != VMDK_GRAIN_ZERO) {
            break;
        }
        (*count)++;
    }
    return 0;
}

/* Allocates count consecutive grains from g (see new_grain_run) in one
 * piece of space: their data in one write, then their GTEs in one write
 * per table copy (QEMU writes grain and GTE one at a time). */
static int write_new_run(vmdk_extent *e, uint64_t g, uint64_t count,
                         const uint8_t *buf, img_err *err)
{
    vmdk_sparse *sp = e->sp;
    uint64_t gdi = g / sp->gtes, idx = g % sp->gtes, at = 0;
    uint32_t *tbl;
    int r = sp->gd[gdi] == 0 ? alloc_gt(e->file, sp, gdi, err) : 0;
    if (r >= 0) {
        r = alloc_space(sp, count * sp->grain_bytes, &at, err);
    }
    if (r >= 0) {
        r = img_file_pwrite(e->file, buf, count * sp->grain_bytes, at, err);
    }
    if (r >= 0) {
        r = vmdk_sparse_load_gt(e->file, sp, sp->gd[gdi], &tbl, err);
    }
    if (r < 0) {
        return r;
    }
    for (uint64_t i = 0; i < count; i++) {
        tbl[idx + i] = (uint32_t)(at / VMDK_SECTOR + i * sp->grain_bytes /
                                  VMDK_SECTOR);
    }
    return put_gtes(e->file, sp, gdi, tbl, idx, count, err);
}

/* One step of a plain sparse write at off: a run of whole new grains
 * when there is one, else the piece in grain g.  *done gets the bytes. */
static int write_step(img *im, vmdk_extent *e, const uint8_t *p, uint64_t n,
                      uint64_t off, uint64_t *done, img_err *err)
{
    vmdk_sparse *sp = e->sp;
    uint64_t gb = sp->grain_bytes, g = off / gb, in = off % gb, count = 0;
    *done = gb - in < n ? gb - in : n;
    int r = 0;
    if (p && in == 0 && n >= gb) {
        r = new_grain_run(e->file, sp, g, n / gb, &count, err);
    }
    if (r >= 0 && count > 0) {
        *done = count * gb;
        return write_new_run(e, g, count, p, err);
    }
    return r < 0 ? r : write_piece(im, e, g, p, in, *done, err);
}

/* See vmdk.h.  Compressed extents go to the stream writer. */
int vmdk_sparse_write(img *im, vmdk_extent *e, const void *buf, uint64_t n,
                      uint64_t off, img_err *err)
{
    const uint8_t *p = buf;
    uint64_t gb = e->sp->grain_bytes;
    while (n > 0) {
        uint64_t piece = gb - off % gb < n ? gb - off % gb : n;
        int r;
        if (e->sp->stream) {
            r = vmdk_stream_write(im, e, p, piece, off, err);
        } else {
            r = write_step(im, e, p, n, off, &piece, err);
        }
        if (r < 0) {
            img_err_prepend(err, "'%s': ", e->path);
            return r;
        }
        p = p ? p + piece : NULL;
        off += piece;
        n -= piece;
    }
    return 0;
}
