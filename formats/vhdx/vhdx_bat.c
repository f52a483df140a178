/* formats/vhdx/vhdx_bat.c -- the block allocation table: geometry, loading
 * and checking the entries, and committing changed entries through the
 * log.
 *
 * Spec: [MS-VHDX] 2.4 (payload and sector bitmap blocks, chunk ratio =
 * 2^23 * LogicalSectorSize / BlockSize), 2.5 (payload entries interleaved
 * with one sector bitmap entry after every chunk), 2.5.1 (entry bits:
 * state 0-2, reserved 3-19, FileOffsetMB 20-63), 2.5.1.1/2.5.1.2 (which
 * states are valid where).  The BAT lives in memory in host order; a
 * change marks its 4 KiB sector dirty and vhdx_bat_commit() logs the dirty
 * sectors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"

/* Entries per 4 KiB BAT sector. */
#define BAT_PER_SECTOR (VHDX_LOG_SECTOR / VHDX_BAT_ENTRY_SIZE)
/* Dirty sectors logged per log write (1 MiB of BAT). */
#define COMMIT_BATCH 256

/* 2^23 sectors per bitmap block; block sizes are powers of two from
 * 1 MiB, so the ratio is an integer (16 to 32768). */
uint64_t vhdx_chunk_ratio(uint32_t block_size, uint32_t logical_sector)
{
    return VHDX_SECTORS_PER_BITMAP * logical_sector / block_size;
}

/* The entries a reader indexes: up to the last payload block, plus (in a
 * differencing file) the bitmap entry of the last chunk.  2.5's formulas
 * give at least this many. */
uint64_t vhdx_bat_entries(uint64_t disk_size, uint32_t block_size,
                          uint32_t logical_sector, int has_parent)
{
    uint64_t cr = vhdx_chunk_ratio(block_size, logical_sector);
    uint64_t n_payload = (disk_size + block_size - 1) / block_size;
    uint64_t n_sb = (n_payload + cr - 1) / cr;
    if (has_parent) {
        return n_sb * (cr + 1); /* up to the last chunk's bitmap entry */
    }
    return n_payload ? n_payload + (n_payload - 1) / cr : 0;
}

int vhdx_geometry(vhdx_state *s, img_err *err)
{
    uint32_t bs = s->p.block_size;
    s->chunk_ratio = vhdx_chunk_ratio(bs, s->p.logical_sector);
    s->n_payload = (s->p.disk_size + bs - 1) / bs;
    s->n_sb = (s->n_payload + s->chunk_ratio - 1) / s->chunk_ratio;
    s->bat_needed = vhdx_bat_entries(s->p.disk_size, bs, s->p.logical_sector,
                                     s->p.has_parent);
    s->block_bits = 0;
    while ((1u << s->block_bits) < bs) {
        s->block_bits++;
    }
    if (s->bat_needed > s->bat_length / VHDX_BAT_ENTRY_SIZE) {
        return img_err_set(err, EINVAL, "BAT region of %" PRIu32 " bytes "
                           "cannot hold the %" PRIu64 " entries the disk "
                           "size needs (MS-VHDX 2.5)", s->bat_length,
                           s->bat_needed);
    }
    return 0;
}

/* ---- extents that no block may overlap ---- */

typedef struct extent {
    uint64_t start, end;
} extent;

static int extent_cmp(const void *a, const void *b)
{
    const extent *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The header section, the log and every region, sorted; they do not
 * overlap each other (checked when the regions were loaded). */
static extent *fixed_extents(const vhdx_state *s, size_t *n)
{
    extent *x = malloc((s->rt.count + 2) * sizeof(*x));
    if (!x) {
        return NULL;
    }
    size_t k = 0;
    x[k++] = (extent){ 0, VHDX_HEADER_SECTION };
    if (s->log_length) {
        x[k++] = (extent){ s->log_offset, s->log_offset + s->log_length };
    }
    for (unsigned i = 0; i < s->rt.count; i++) {
        const vhdx_region *e = &s->rt.entries[i];
        if (e->length) {
            x[k++] = (extent){ e->offset, e->offset + e->length };
        }
    }
    qsort(x, k, sizeof(*x), extent_cmp);
    *n = k;
    return x;
}

/* Whether [off, off+len) overlaps one of the sorted extents. */
static int hits_extent(const extent *x, size_t n, uint64_t off, uint64_t len)
{
    size_t lo = 0, hi = n; /* first extent starting at or after off+len */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x[mid].start < off + len) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo > 0 && x[lo - 1].end > off;
}

/* ---- loading ---- */

/* Bytes of payload block b the file must hold (the last may be short). */
static uint64_t block_len(const vhdx_state *s, uint64_t b)
{
    uint64_t start = b << s->block_bits;
    uint64_t left = s->p.disk_size - start;
    return left < s->p.block_size ? left : s->p.block_size;
}

/* The reader's rules for one payload entry (2.5.1, 2.5.1.1). */
static int check_payload(vhdx_state *s, uint64_t b, uint64_t e,
                         uint64_t file_size, const extent *x, size_t nx,
                         img_err *err)
{
    unsigned st = vhdx_bat_state(e);
    if (st == 4) {
        return img_err_set(err, EINVAL, "BAT entry of block %" PRIu64 " has "
                           "reserved state 4 (MS-VHDX 2.5.1.1)", b);
    }
    if (st == VHDX_PAYLOAD_PARTIALLY_PRESENT && !s->p.has_parent) {
        return img_err_set(err, EINVAL, "Block %" PRIu64 " is PARTIALLY_"
                           "PRESENT in a file without parent "
                           "(MS-VHDX 2.5.1.1)", b);
    }
    if (st != VHDX_PAYLOAD_FULLY_PRESENT &&
        st != VHDX_PAYLOAD_PARTIALLY_PRESENT) {
        return 0;
    }
    uint64_t off = vhdx_bat_offset(e), len = block_len(s, b);
    if (off > file_size || len > file_size - off) {
        return img_err_set(err, EINVAL, "Block %" PRIu64 " at %#" PRIx64
                           " is beyond the end of the file (%" PRIu64
                           " bytes): image truncated? (MS-VHDX 2.5.1)", b,
                           off, file_size);
    }
    if (hits_extent(x, nx, off, s->p.block_size)) {
        return img_err_set(err, EINVAL, "Block %" PRIu64 " at %#" PRIx64
                           " overlaps the header section, the log or a "
                           "region (MS-VHDX 2.5.1)", b, off);
    }
    if (off + s->p.block_size > s->file_end) {
        s->file_end = vhdx_round_up(off + s->p.block_size, VHDX_MIB);
    }
    if (st == VHDX_PAYLOAD_PARTIALLY_PRESENT) {
        uint64_t sbi = vhdx_sb_index(s, b / s->chunk_ratio);
        if (sbi >= s->bat_needed ||
            vhdx_bat_state(s->bat[sbi]) != VHDX_SB_PRESENT) {
            return img_err_set(err, EINVAL, "Block %" PRIu64 " is "
                               "PARTIALLY_PRESENT but its sector bitmap is "
                               "not present (MS-VHDX 2.5.1.2)", b);
        }
    }
    return 0;
}

/* The reader's rules for one sector bitmap entry (2.5.1.2). */
static int check_bitmap(vhdx_state *s, uint64_t c, uint64_t e,
                        uint64_t file_size, const extent *x, size_t nx,
                        img_err *err)
{
    unsigned st = vhdx_bat_state(e);
    if (st != VHDX_SB_NOT_PRESENT && st != VHDX_SB_PRESENT) {
        return img_err_set(err, EINVAL, "Sector bitmap entry of chunk %"
                           PRIu64 " has reserved state %u (MS-VHDX 2.5.1.2)",
                           c, st);
    }
    if (st == VHDX_SB_NOT_PRESENT) {
        return 0;
    }
    if (!s->p.has_parent) {
        return img_err_set(err, EINVAL, "Sector bitmap of chunk %" PRIu64
                           " is present in a file without parent "
                           "(MS-VHDX 2.5.1.2)", c);
    }
    uint64_t off = vhdx_bat_offset(e);
    if (off > file_size || VHDX_SB_BLOCK_SIZE > file_size - off ||
        hits_extent(x, nx, off, VHDX_SB_BLOCK_SIZE)) {
        return img_err_set(err, EINVAL, "Sector bitmap of chunk %" PRIu64
                           " at %#" PRIx64 " is beyond the end of the file "
                           "or overlaps a structure (MS-VHDX 2.5.1)", c, off);
    }
    if (off + VHDX_SB_BLOCK_SIZE > s->file_end) {
        s->file_end = off + VHDX_SB_BLOCK_SIZE;
    }
    return 0;
}

/* Checks every entry the disk size needs. */
static int check_entries(vhdx_state *s, uint64_t file_size, img_err *err)
{
    size_t nx;
    extent *x = fixed_extents(s, &nx);
    if (!x) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = 0;
    uint64_t cr = s->chunk_ratio;
    for (uint64_t i = 0; r >= 0 && i < s->bat_needed; i++) {
        uint64_t chunk = i / (cr + 1), pos = i % (cr + 1);
        if (pos == cr) {
            r = check_bitmap(s, chunk, s->bat[i], file_size, x, nx, err);
        } else if (chunk * cr + pos < s->n_payload) {
            r = check_payload(s, chunk * cr + pos, s->bat[i], file_size, x,
                              nx, err);
        }
    }
    free(x);
    return r;
}

/* Loads whole 4 KiB sectors of entries (so a changed sector can be logged
 * as it is), at most the region's length, which lies inside the file:
 * the memory used is bounded by the file's size. */
int vhdx_bat_load(vhdx_state *s, uint64_t file_size, img_err *err)
{
    uint64_t cap = vhdx_round_up(s->bat_needed, BAT_PER_SECTOR);
    if (cap == 0) {
        cap = BAT_PER_SECTOR;
    }
    if (cap > s->bat_length / VHDX_BAT_ENTRY_SIZE) {
        cap = s->bat_length / VHDX_BAT_ENTRY_SIZE;
    }
    s->bat = malloc(cap * VHDX_BAT_ENTRY_SIZE);
    s->bat_dirty = calloc(cap / BAT_PER_SECTOR + 1, 1);
    if (!s->bat || !s->bat_dirty) {
        return img_err_set(err, ENOMEM, "Out of memory for a BAT of %" PRIu64
                           " entries", cap);
    }
    s->bat_cap = cap;
    int r = vhdx_read(s, s->bat, cap * VHDX_BAT_ENTRY_SIZE, s->bat_offset,
                      err);
    if (r < 0) {
        img_err_prepend(err, "Could not read the BAT: ");
        return r;
    }
    /* In place, to host order (an 8-byte load of each entry's bytes). */
    for (uint64_t i = 0; i < cap; i++) {
        s->bat[i] = vhdx_le64((const uint8_t *)&s->bat[i]);
    }
    return check_entries(s, file_size, err);
}

/* ---- changes ---- */

void vhdx_bat_set(vhdx_state *s, uint64_t index, uint64_t entry)
{
    s->bat[index] = entry;
    s->bat_dirty[index / BAT_PER_SECTOR] = 1;
}

void vhdx_bat_encode_sector(const vhdx_state *s, uint64_t i, uint8_t *buf)
{
    for (uint64_t k = 0; k < BAT_PER_SECTOR; k++) {
        vhdx_put64(buf + k * VHDX_BAT_ENTRY_SIZE,
                   s->bat[i * BAT_PER_SECTOR + k]);
    }
}

/* Logs the next batch of up to COMMIT_BATCH changed sectors: sector
 * bitmap sectors first (from *next_sb), then BAT sectors (from *next), so
 * that a block and its bitmap bits usually share one log entry. */
static int commit_batch(vhdx_state *s, size_t *next_sb, uint64_t *next,
                        uint8_t *bufs, vhdx_log_update *u, img_err *err)
{
    uint64_t nsec = s->bat_cap / BAT_PER_SECTOR;
    size_t n = 0;
    for (; *next_sb < s->n_sb_dirty && n < COMMIT_BATCH; (*next_sb)++) {
        u[n].offset = s->sb_dirty[*next_sb].offset;
        u[n].data = s->sb_dirty[*next_sb].data;
        n++;
    }
    uint64_t i = *next;
    for (; i < nsec && n < COMMIT_BATCH; i++) {
        if (s->bat_dirty[i]) {
            uint8_t *buf = bufs + n * VHDX_LOG_SECTOR;
            vhdx_bat_encode_sector(s, i, buf);
            u[n].offset = s->bat_offset + i * VHDX_LOG_SECTOR;
            u[n].data = buf;
            n++;
        }
    }
    *next = i;
    return n ? vhdx_log_write(s, u, n, err) : 0;
}

int vhdx_bat_commit(vhdx_state *s, img_err *err)
{
    uint64_t nsec = s->bat_cap / BAT_PER_SECTOR;
    uint8_t *bufs = malloc(COMMIT_BATCH * VHDX_LOG_SECTOR);
    vhdx_log_update *u = malloc(COMMIT_BATCH * sizeof(*u));
    int r = bufs && u ? 0 : img_err_set(err, ENOMEM, "Out of memory");
    uint64_t next = 0;
    size_t next_sb = 0;
    if (r >= 0 && s->alloc_pending) {
        r = vhdx_flush_file(s, err); /* new blocks' data before the BAT */
    }
    if (r >= 0) {
        s->alloc_pending = 0;
    }
    while (r >= 0 && (next < nsec || next_sb < s->n_sb_dirty)) {
        r = commit_batch(s, &next_sb, &next, bufs, u, err);
    }
    if (r >= 0) {
        memset(s->bat_dirty, 0, nsec);
        s->n_sb_dirty = 0;
    }
    free(bufs);
    free(u);
    return r;
}
