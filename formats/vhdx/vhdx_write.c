/* formats/vhdx/vhdx_write.c -- writing a VHDX image: the writing session,
 * data writes with block allocation, zero writes, discard, flush and
 * growing the virtual disk.
 *
 * Spec: [MS-VHDX] 2.2.2/2.2.2.1 (before the first change of an open the
 * headers get a new FileWriteGuid, before the first visible change a new
 * DataWriteGuid, and a new LogGuid before the log is written), 2.3 (all
 * metadata changes go through the log, payload never does), 2.5.1.1
 * (block states: ZERO and NOT_PRESENT carry no file offset; fixed files
 * never leave FULLY_PRESENT, note 6).
 *
 * New payload blocks go at 1 MiB-aligned offsets at the end of the file
 * (or into a block freed earlier in the session).  Their data, including
 * what a partial write leaves to the old content (the parent's for a
 * differencing file, zeros otherwise), is written and flushed before the
 * BAT entry that points at it is logged, so a crash never exposes a block
 * whose content was not written.  Data writes batch this: their BAT
 * changes wait in memory (alloc_pending) until a flush, the end of the
 * session, or MAX_PENDING_ALLOCS blocks, and then one sync covers the data
 * of every block before one log entry covers their BAT sectors (QEMU
 * syncs and logs for each block).  Blocks that read as zero are left
 * alone by zero writes; whole blocks written with zeros become ZERO.
 * With IMG_OPEN_NO_FLUSH (cache=unsafe) the ordering stays but nothing is
 * synced.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"

/* Bytes copied per step when a new block takes old content. */
#define COPY_CHUNK VHDX_MIB
/* Blocks allocated by data writes before their BAT entries are logged. */
#define MAX_PENDING_ALLOCS 1024

/* ---- session ---- */

int vhdx_flush_file(vhdx_state *s, img_err *err)
{
    uint64_t size;
    int r = (s->im->flags & IMG_OPEN_NO_FLUSH) ? 0
                                               : img_file_flush(s->file, err);
    if (r >= 0) {
        r = img_file_size(s->file, &size, err);
    }
    if (r >= 0) {
        s->flushed_size = size;
        s->pend_len = 0; /* every applied log update is stable now */
    }
    return r;
}

int vhdx_begin_write(vhdx_state *s, int user_data, img_err *err)
{
    if (s->session_started && (!user_data || s->data_guid_done)) {
        return 0;
    }
    vhdx_guid log_guid = s->hdr[s->cur].log_guid;
    int r = 0;
    if (!s->log_active && s->log_length) {
        r = vhdx_guid_generate(&log_guid, err); /* a fresh log (2.2.2) */
    }
    if (r >= 0) {
        r = vhdx_headers_update(s, user_data, &log_guid, err);
    }
    if (r < 0) {
        return r;
    }
    if (!s->log_active) {
        s->log_active = s->log_length != 0;
        s->log_head = 0;
        s->pend_len = 0;
    }
    s->session_started = 1;
    s->data_guid_done |= user_data;
    return 0;
}

int vhdx_end_write(vhdx_state *s, img_err *err)
{
    static const vhdx_guid none;
    if (!s->session_started || !s->log_active) {
        return 0;
    }
    int r = vhdx_bat_commit(s, err); /* the batched allocations */
    if (r >= 0) {
        r = vhdx_flush_file(s, err);
    }
    if (r >= 0) {
        r = vhdx_headers_update(s, 0, &none, err); /* the log is empty */
    }
    if (r >= 0) {
        s->log_active = 0;
    }
    return r;
}

/* Logs the batched allocations, then makes everything stable. */
int vhdx_flush(img *im, img_err *err)
{
    vhdx_state *s = im->state;
    int r = s->session_started ? vhdx_bat_commit(s, err) : 0;
    return r < 0 ? r : vhdx_flush_file(s, err);
}

/* ---- allocation ---- */

/* Makes sure the file is at least size bytes long (new bytes read 0). */
static int file_extend(vhdx_state *s, uint64_t size, img_err *err)
{
    uint64_t cur;
    int r = img_file_size(s->file, &cur, err);
    if (r >= 0 && cur < size) {
        r = img_file_truncate(s->file, size, err);
    }
    return r;
}

/* Space for one payload block, reading as zeros: a block freed earlier in
 * this session (its hole was punched), else the end of the file. */
static int block_alloc(vhdx_state *s, uint64_t *off, img_err *err)
{
    if (s->n_free > 0) {
        *off = s->free_blocks[--s->n_free];
        return 0;
    }
    if (s->file_end + s->p.block_size > VHDX_MAX_FILE_SIZE) {
        return img_err_set(err, EFBIG, "The VHDX file would grow beyond "
                           "%llu bytes", VHDX_MAX_FILE_SIZE);
    }
    *off = s->file_end;
    int r = file_extend(s, *off + s->p.block_size, err);
    if (r >= 0) {
        s->file_end += s->p.block_size;
    }
    return r;
}

/* Keeps a block's space for reuse after its BAT entry stopped using it;
 * the space is deallocated in the host file when possible. */
static void block_release(vhdx_state *s, uint64_t off)
{
    if (s->n_free == s->cap_free) {
        size_t cap = s->cap_free ? 2 * s->cap_free : 16;
        uint64_t *p = realloc(s->free_blocks, cap * sizeof(*p));
        if (!p) {
            return; /* the space stays unused; nothing breaks */
        }
        s->free_blocks = p;
        s->cap_free = cap;
    }
    if (img_file_write_zeroes(s->file, off, s->p.block_size, NULL) >= 0) {
        s->free_blocks[s->n_free++] = off;
    }
}

/* ---- sector bitmaps of differencing files ---- */

/* Readers such as libvhdi consult the sector bitmap of every block of a
 * differencing file, whatever the block's state, while 2.5.1.1 needs it
 * only for PARTIALLY_PRESENT blocks.  So, as Hyper-V's files do, every
 * chunk of a differencing file we write gets a bitmap block, and the bits
 * stay true: ones for FULLY_PRESENT blocks, zeros for NOT_PRESENT ones. */

/* Gives the chunk a (zeroed) sector bitmap block if it has none. */
static int sb_ensure(vhdx_state *s, uint64_t chunk, img_err *err)
{
    uint64_t idx = vhdx_sb_index(s, chunk);
    if (vhdx_bat_state(s->bat[idx]) == VHDX_SB_PRESENT) {
        return 0;
    }
    uint64_t off = s->file_end;
    int r = file_extend(s, off + VHDX_SB_BLOCK_SIZE, err);
    if (r >= 0) {
        s->file_end += VHDX_SB_BLOCK_SIZE;
        vhdx_bat_set(s, idx, vhdx_bat_make(VHDX_SB_PRESENT, off));
    }
    return r;
}

/* The pending copy of the bitmap sector at off, read on first use. */
static uint8_t *sb_sector(vhdx_state *s, uint64_t off, img_err *err)
{
    for (size_t i = 0; i < s->n_sb_dirty; i++) {
        if (s->sb_dirty[i].offset == off) {
            return s->sb_dirty[i].data;
        }
    }
    if (s->n_sb_dirty == s->cap_sb_dirty) {
        size_t cap = s->cap_sb_dirty ? 2 * s->cap_sb_dirty : 8;
        vhdx_sb_sector *p = realloc(s->sb_dirty, cap * sizeof(*p));
        if (!p) {
            img_err_set(err, ENOMEM, "Out of memory");
            return NULL;
        }
        s->sb_dirty = p;
        s->cap_sb_dirty = cap;
    }
    vhdx_sb_sector *e = &s->sb_dirty[s->n_sb_dirty];
    e->offset = off;
    if (vhdx_read(s, e->data, VHDX_LOG_SECTOR, off, err) < 0) {
        return NULL;
    }
    s->n_sb_dirty++;
    return e->data;
}

/* Sets every bit of block b (now FULLY_PRESENT) in its chunk's bitmap. */
static int sb_mark_block(vhdx_state *s, uint64_t b, img_err *err)
{
    if (!s->p.has_parent) {
        return 0;
    }
    uint64_t chunk = b / s->chunk_ratio;
    int r = sb_ensure(s, chunk, err);
    uint64_t spb = s->p.block_size / s->p.logical_sector;
    uint64_t at = vhdx_bat_offset(s->bat[vhdx_sb_index(s, chunk)]) +
                  (b % s->chunk_ratio) * spb / 8;
    uint64_t end = at + spb / 8;
    while (r >= 0 && at < end) {
        uint64_t sec = at / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR;
        uint64_t n = sec + VHDX_LOG_SECTOR - at < end - at
                         ? sec + VHDX_LOG_SECTOR - at : end - at;
        uint8_t *data = sb_sector(s, sec, err);
        if (!data) {
            return -ENOMEM;
        }
        memset(data + (at - sec), 0xff, n);
        at += n;
    }
    return r;
}

/* Whether block b's old content is all zeros (no copy needed). */
static int reads_zero(const vhdx_state *s, uint64_t e)
{
    unsigned st = vhdx_bat_state(e);
    if (st == VHDX_PAYLOAD_NOT_PRESENT) {
        return !s->p.has_parent || !s->im->backing;
    }
    return st != VHDX_PAYLOAD_FULLY_PRESENT &&
           st != VHDX_PAYLOAD_PARTIALLY_PRESENT;
}

/* Copies block b's current content in [from, to) into the new block. */
static int copy_old(vhdx_state *s, uint64_t b, uint64_t from, uint64_t to,
                    uint64_t new_off, uint8_t *chunk, img_err *err)
{
    int r = 0;
    for (uint64_t pos = from; r >= 0 && pos < to; pos += COPY_CHUNK) {
        uint64_t n = to - pos < COPY_CHUNK ? to - pos : COPY_CHUNK;
        r = vhdx_read_virtual(s, chunk, n, (b << s->block_bits) + pos, err);
        if (r >= 0) {
            r = img_file_pwrite(s->file, chunk, n, new_off + pos, err);
        }
    }
    return r;
}

/* A new FULLY_PRESENT block for b holding data at [in, in+n) and the old
 * content elsewhere (within the virtual disk). */
static int block_fill_new(vhdx_state *s, uint64_t b, uint64_t in,
                          const uint8_t *data, uint64_t n, img_err *err)
{
    uint64_t idx = vhdx_bat_index(s, b), off;
    int r = block_alloc(s, &off, err);
    if (r < 0) {
        return r;
    }
    if (!reads_zero(s, s->bat[idx])) {
        uint64_t vend = s->p.disk_size - (b << s->block_bits);
        uint64_t end = vend < s->p.block_size ? vend : s->p.block_size;
        uint8_t *chunk = malloc(COPY_CHUNK);
        r = chunk ? copy_old(s, b, 0, in, off, chunk, err)
                  : img_err_set(err, ENOMEM, "Out of memory");
        if (r >= 0 && in + n < end) {
            r = copy_old(s, b, in + n, end, off, chunk, err);
        }
        free(chunk);
    }
    if (r >= 0) {
        r = img_file_pwrite(s->file, data, n, off + in, err);
    }
    if (r >= 0) {
        vhdx_bat_set(s, idx, vhdx_bat_make(VHDX_PAYLOAD_FULLY_PRESENT, off));
        r = sb_mark_block(s, b, err);
    }
    return r;
}

/* Data first, then the BAT through the log (see the file comment);
 * vhdx_bat_commit() flushes when blocks were allocated. */
static int commit_allocations(vhdx_state *s, int allocated, img_err *err)
{
    s->alloc_pending += allocated != 0;
    return vhdx_bat_commit(s, err);
}

/* A data write's allocations wait for the next commit unless too many
 * are pending already. */
static int defer_allocations(vhdx_state *s, int allocated, img_err *err)
{
    s->alloc_pending += allocated != 0;
    if (s->alloc_pending < MAX_PENDING_ALLOCS) {
        return 0;
    }
    return vhdx_bat_commit(s, err);
}

/* ---- writes ---- */

static int write_block(vhdx_state *s, uint64_t b, uint64_t in,
                       const uint8_t *data, uint64_t n, int *allocated,
                       img_err *err)
{
    uint64_t e = s->bat[vhdx_bat_index(s, b)];
    if (vhdx_bat_state(e) == VHDX_PAYLOAD_FULLY_PRESENT) {
        return img_file_pwrite(s->file, data, n, vhdx_bat_offset(e) + in,
                               err);
    }
    uint64_t vend = s->p.disk_size - (b << s->block_bits);
    int partial = in > 0 || (in + n < s->p.block_size && in + n < vend);
    if (partial && s->p.has_parent && !s->im->backing &&
        (vhdx_bat_state(e) == VHDX_PAYLOAD_NOT_PRESENT ||
         vhdx_bat_state(e) == VHDX_PAYLOAD_PARTIALLY_PRESENT)) {
        return img_err_set(err, EINVAL, "Writing part of a block of a "
                           "differencing image needs its parent, which is "
                           "not open");
    }
    *allocated = 1;
    return block_fill_new(s, b, in, data, n, err);
}

int vhdx_pwrite(img *im, const void *buf, uint64_t len, uint64_t off,
                unsigned flags, img_err *err)
{
    (void)flags;
    vhdx_state *s = im->state;
    const uint8_t *p = buf;
    int allocated = 0;
    int r = vhdx_begin_write(s, 1, err);
    while (r >= 0 && len > 0) {
        uint64_t b = off >> s->block_bits;
        uint64_t in = off & (s->p.block_size - 1);
        uint64_t n = s->p.block_size - in < len ? s->p.block_size - in : len;
        r = write_block(s, b, in, p, n, &allocated, err);
        p += n;
        off += n;
        len -= n;
    }
    int c = defer_allocations(s, allocated, r < 0 ? NULL : err);
    return r < 0 ? r : c;
}

/* ---- zero writes and discard ---- */

/* Zeros [off, off+len) of the file in place (fixed files keep their
 * space; others may deallocate it). */
static int zero_in_place(vhdx_state *s, uint64_t off, uint64_t len,
                         img_err *err)
{
    if (!s->p.leave_allocated) {
        return img_file_write_zeroes(s->file, off, len, err);
    }
    uint8_t *zeros = calloc(1, COPY_CHUNK);
    int r = zeros ? 0 : img_err_set(err, ENOMEM, "Out of memory");
    for (uint64_t pos = 0; r >= 0 && pos < len; pos += COPY_CHUNK) {
        uint64_t n = len - pos < COPY_CHUNK ? len - pos : COPY_CHUNK;
        r = img_file_pwrite(s->file, zeros, n, off + pos, err);
    }
    free(zeros);
    return r;
}

/* Puts whole block b in state st (no offset), remembering its old space
 * in *old (0: none). */
static void block_unmap(vhdx_state *s, uint64_t b, unsigned st,
                        uint64_t *old)
{
    uint64_t idx = vhdx_bat_index(s, b), e = s->bat[idx];
    unsigned cur = vhdx_bat_state(e);
    *old = cur == VHDX_PAYLOAD_FULLY_PRESENT ||
                   cur == VHDX_PAYLOAD_PARTIALLY_PRESENT
               ? vhdx_bat_offset(e) : 0;
    if (e != vhdx_bat_make(st, 0)) {
        vhdx_bat_set(s, idx, vhdx_bat_make(st, 0));
    }
}

/* Zeros [in, in+n) of block b, which is not wholly covered or cannot be
 * unmapped. */
static int zero_part(vhdx_state *s, uint64_t b, uint64_t in, uint64_t n,
                     int *allocated, img_err *err)
{
    uint64_t e = s->bat[vhdx_bat_index(s, b)];
    if (vhdx_bat_state(e) == VHDX_PAYLOAD_FULLY_PRESENT) {
        return zero_in_place(s, vhdx_bat_offset(e) + in, n, err);
    }
    if (reads_zero(s, e)) {
        return 0; /* it already reads as zeros */
    }
    uint8_t *zeros = calloc(1, n);
    int r = zeros ? write_block(s, b, in, zeros, n, allocated, err)
                  : img_err_set(err, ENOMEM, "Out of memory");
    free(zeros);
    return r;
}

/* Zeros whole block b of a differencing file: a FULLY_PRESENT block of
 * zeros, with its bits set (no ZERO state, see the bitmap comment above).
 * *old gets the space of a PARTIALLY_PRESENT block it replaces. */
static int zero_whole_diff(vhdx_state *s, uint64_t b, uint64_t *old,
                           int *allocated, img_err *err)
{
    uint64_t idx = vhdx_bat_index(s, b), e = s->bat[idx], off;
    *old = 0;
    if (vhdx_bat_state(e) == VHDX_PAYLOAD_FULLY_PRESENT) {
        return zero_in_place(s, vhdx_bat_offset(e), s->p.block_size, err);
    }
    if (vhdx_bat_state(e) == VHDX_PAYLOAD_PARTIALLY_PRESENT) {
        *old = vhdx_bat_offset(e);
    }
    int r = block_alloc(s, &off, err); /* reads as zeros */
    if (r >= 0) {
        *allocated = 1;
        vhdx_bat_set(s, idx, vhdx_bat_make(VHDX_PAYLOAD_FULLY_PRESENT, off));
        r = sb_mark_block(s, b, err);
    }
    return r;
}

/* Freed block spaces of one call, released once the BAT is logged. */
typedef struct freed {
    uint64_t *off;
    size_t n;
} freed;

/* Unmaps whole blocks of [off, off+len) into state st; zeros the partial
 * ones (when zero is set) or leaves them (discard). */
static int unmap_range(vhdx_state *s, uint64_t off, uint64_t len,
                       unsigned st, int zero, freed *f, int *allocated,
                       img_err *err)
{
    int r = 0;
    while (r >= 0 && len > 0) {
        uint64_t b = off >> s->block_bits;
        uint64_t in = off & (s->p.block_size - 1);
        uint64_t n = s->p.block_size - in < len ? s->p.block_size - in : len;
        uint64_t vend = s->p.disk_size - (b << s->block_bits);
        int whole = in == 0 && (n == s->p.block_size || n == vend);
        uint64_t e = s->bat[vhdx_bat_index(s, b)];
        if (whole && s->p.has_parent && zero) {
            uint64_t old;
            r = zero_whole_diff(s, b, &old, allocated, err);
            f->off[f->n] = old;
            f->n += old != 0;
        } else if (whole && s->p.has_parent) {
            /* Discard only gives a present block's space back. */
            if (vhdx_bat_state(e) == VHDX_PAYLOAD_FULLY_PRESENT) {
                r = zero_in_place(s, vhdx_bat_offset(e), s->p.block_size,
                                  err);
            }
        } else if (whole && !s->p.leave_allocated) {
            uint64_t old;
            block_unmap(s, b, st, &old);
            f->off[f->n] = old;
            f->n += old != 0;
        } else if (zero) {
            r = zero_part(s, b, in, n, allocated, err);
        }
        off += n;
        len -= n;
    }
    return r;
}

/* The common body of zero writes and discards. */
static int unmap_op(vhdx_state *s, uint64_t off, uint64_t len, unsigned st,
                    int zero, img_err *err)
{
    uint64_t blocks = (len >> s->block_bits) + 2;
    freed f = { .off = malloc(blocks * sizeof(uint64_t)) };
    int allocated = 0;
    int r = f.off ? vhdx_begin_write(s, 1, err)
                  : img_err_set(err, ENOMEM, "Out of memory");
    if (r >= 0) {
        r = unmap_range(s, off, len, st, zero, &f, &allocated, err);
    }
    int c = commit_allocations(s, allocated, r < 0 ? NULL : err);
    r = r < 0 ? r : c;
    for (size_t i = 0; r >= 0 && i < f.n; i++) {
        block_release(s, f.off[i]); /* the BAT no longer points there */
    }
    free(f.off);
    return r;
}

int vhdx_pwrite_zeroes(img *im, uint64_t off, uint64_t len, unsigned flags,
                       img_err *err)
{
    (void)flags;
    return unmap_op(im->state, off, len, VHDX_PAYLOAD_ZERO, 1, err);
}

int vhdx_discard(img *im, uint64_t off, uint64_t len, img_err *err)
{
    vhdx_state *s = im->state;
    if (s->p.leave_allocated) {
        return 0; /* fixed files keep every block (2.6.2.1) */
    }
    /* UNMAPPED reads as zeros here; in differencing files only present
     * blocks give their space back (unmap_range), so a discard never lets
     * the parent's data show through. */
    return unmap_op(s, off, len, VHDX_PAYLOAD_UNMAPPED, 0, err);
}

/* ---- growing (truncate) ---- */

/* Writes the new disk size through the log (2.6.2.2). */
static int log_disk_size(vhdx_state *s, uint64_t size, img_err *err)
{
    uint64_t at = s->meta_offset + s->p.disk_size_off;
    uint64_t first = at / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR;
    uint64_t n = (at + VHDX_VDS_SIZE - first + VHDX_LOG_SECTOR - 1) /
                 VHDX_LOG_SECTOR;
    uint8_t *buf = malloc(n * VHDX_LOG_SECTOR);
    int r = buf ? vhdx_read(s, buf, n * VHDX_LOG_SECTOR, first, err)
                : img_err_set(err, ENOMEM, "Out of memory");
    if (r >= 0) {
        vhdx_put64(buf + (at - first), size);
        vhdx_log_update u[2] = {
            { first, buf },
            { first + VHDX_LOG_SECTOR, buf + VHDX_LOG_SECTOR },
        };
        r = vhdx_log_write(s, u, n, err);
    }
    free(buf);
    return r;
}

/* Grows the in-memory BAT to the entries a disk of size needs; the new
 * entries (and unused ones loaded before) become zero and are logged. */
static int bat_grow(vhdx_state *s, uint64_t needed, img_err *err)
{
    uint64_t cap = vhdx_round_up(needed, VHDX_LOG_SECTOR / 8);
    if (cap > s->bat_cap) {
        uint64_t *bat = realloc(s->bat, cap * sizeof(*bat));
        uint8_t *dirty = bat ? realloc(s->bat_dirty, cap / 512 + 1) : NULL;
        if (!bat || !dirty) {
            s->bat = bat ? bat : s->bat;
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        memset(bat + s->bat_cap, 0, (cap - s->bat_cap) * sizeof(*bat));
        memset(dirty + s->bat_cap / 512, 0, cap / 512 + 1 - s->bat_cap / 512);
        s->bat = bat;
        s->bat_dirty = dirty;
        s->bat_cap = cap;
    }
    for (uint64_t i = s->bat_needed; i < needed; i++) {
        vhdx_bat_set(s, i, 0);
    }
    return 0;
}

/* The part of the old last block past the old size becomes visible: it
 * must read as zeros. */
static int zero_old_tail(vhdx_state *s, uint64_t new_size, img_err *err)
{
    uint64_t old = s->p.disk_size, bs = s->p.block_size;
    if (old % bs == 0 || old == 0) {
        return 0;
    }
    uint64_t e = s->bat[vhdx_bat_index(s, old >> s->block_bits)];
    if (vhdx_bat_state(e) != VHDX_PAYLOAD_FULLY_PRESENT) {
        return 0;
    }
    uint64_t end = vhdx_round_up(old, bs) < new_size ? vhdx_round_up(old, bs)
                                                     : new_size;
    return zero_in_place(s, vhdx_bat_offset(e) + old % bs, end - old, err);
}

/* The new blocks: NOT_PRESENT, or allocated in a fixed file
 * (FULLY_PRESENT, note 6); new chunks of a differencing file get their
 * sector bitmap. */
static int new_blocks(vhdx_state *s, uint64_t old_blocks, img_err *err)
{
    int r = 0;
    for (uint64_t c = 0; s->p.has_parent && r >= 0 && c < s->n_sb; c++) {
        r = sb_ensure(s, c, err);
    }
    for (uint64_t b = old_blocks; r >= 0 && b < s->n_payload; b++) {
        uint64_t off = 0;
        if (s->p.leave_allocated) {
            r = block_alloc(s, &off, err);
        }
        if (r >= 0) {
            vhdx_bat_set(s, vhdx_bat_index(s, b),
                         off ? vhdx_bat_make(VHDX_PAYLOAD_FULLY_PRESENT, off)
                             : 0);
        }
    }
    return r;
}

static int grow_checks(const vhdx_state *s, uint64_t size, int prealloc,
                       uint64_t needed, img_err *err)
{
    if (prealloc != IMG_PREALLOC_OFF) {
        return img_err_set(err, ENOTSUP, "Unsupported preallocation mode "
                           "for vhdx");
    }
    if (size < s->p.disk_size) {
        return img_err_set(err, ENOTSUP, "Shrinking a VHDX image is not "
                           "supported");
    }
    if (size % s->p.logical_sector || size > VHDX_MAX_DISK_SIZE) {
        return img_err_set(err, EINVAL, "The size must be a multiple of "
                           "the %" PRIu32 "-byte logical sector and at most "
                           "64 TiB (MS-VHDX 2.6.2.2)", s->p.logical_sector);
    }
    if (needed > s->bat_length / VHDX_BAT_ENTRY_SIZE) {
        return img_err_set(err, ENOTSUP, "The BAT region is too small for "
                           "that size; moving it is not supported");
    }
    return 0;
}

int vhdx_truncate(img *im, uint64_t size, int prealloc, img_err *err)
{
    vhdx_state *s = im->state;
    uint64_t needed = vhdx_bat_entries(size, s->p.block_size,
                                       s->p.logical_sector, s->p.has_parent);
    int r = grow_checks(s, size, prealloc, needed, err);
    if (r < 0 || size == s->p.disk_size) {
        return r;
    }
    uint64_t old_blocks = s->n_payload;
    r = vhdx_begin_write(s, 1, err);
    if (r >= 0) {
        r = zero_old_tail(s, size, err);
    }
    if (r >= 0) {
        r = bat_grow(s, needed, err);
    }
    if (r >= 0) {
        s->p.disk_size = size;
        r = vhdx_geometry(s, err);
    }
    if (r >= 0) {
        r = new_blocks(s, old_blocks, err);
    }
    if (r >= 0) {
        r = commit_allocations(s, s->p.leave_allocated, err);
    }
    if (r >= 0) {
        r = log_disk_size(s, size, err);
    }
    return r;
}
