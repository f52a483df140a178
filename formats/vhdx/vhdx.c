/* formats/vhdx/vhdx.c -- the VHDX format driver: probe, open, close,
 * reads, block status, info and the driver table.
 *
 * Spec: [MS-VHDX].  Open follows 2.2-2.6 in order: file type identifier
 * (2.2.1), current header (2.2.2), log replay before anything else is read
 * (2.3.3), region table (2.2.3), metadata (2.6), BAT (2.5).  Reads map
 * virtual offsets to payload blocks by their BAT state (2.5.1.1):
 * FULLY_PRESENT from the file, PARTIALLY_PRESENT sector by sector through
 * the sector bitmap (2.4), NOT_PRESENT from the parent of a differencing
 * file (whose DataWriteGuid must match parent_linkage, 2.6.2.6.3) and zeros
 * for every other state.  Writing lives in vhdx_write.c, creation in
 * vhdx_create.c and checking in vhdx_check.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"

static int vhdx_probe(const uint8_t *buf, size_t len)
{
    return len >= 8 && memcmp(buf, VHDX_FILE_SIG, 8) == 0 ? 100 : 0;
}

/* Every structure read after the headers comes through here, so a
 * read-only open sees the file as a replay would have left it. */
int vhdx_read(vhdx_state *s, void *buf, uint64_t len, uint64_t off,
              img_err *err)
{
    int r = img_file_pread(s->file, buf, len, off, err);
    if (r >= 0) {
        vhdx_overlay_apply(s, buf, len, off);
    }
    return r;
}

/* ---- open ---- */

/* Frees everything open allocated (also after a failed open). */
static void state_release(vhdx_state *s)
{
    free(s->bat);
    free(s->bat_dirty);
    free(s->free_blocks);
    free(s->sb_dirty);
    vhdx_meta_table_clear(&s->mt);
    vhdx_parent_locator_clear(&s->pl);
    vhdx_overlay_free(s);
    s->bat = NULL;
    s->bat_dirty = NULL;
    s->free_blocks = NULL;
    s->sb_dirty = NULL;
}

/* Whether a relative_path value is relative: not empty, no drive letter,
 * no leading separator. */
static int is_relative(const char *v)
{
    return v && v[0] && v[0] != '\\' && v[0] != '/' && v[1] != ':';
}

/* Names the parent for the core to open (2.6.2.6.3: relative_path first,
 * with backslash separators; volume_path and absolute_win32_path are Windows
 * paths that cannot name a file on this system). */
static int parent_setup(vhdx_state *s, unsigned flags, img_err *err)
{
    img *im = s->im;
    const char *rel = vhdx_parent_locator_get(&s->pl, "relative_path");
    im->backing_fmt = strdup("vhdx");
    if (is_relative(rel)) {
        im->backing_name = strdup(rel);
        for (char *c = im->backing_name; c && *c; c++) {
            *c = *c == '\\' ? '/' : *c;
        }
    }
    if (!im->backing_fmt || (is_relative(rel) && !im->backing_name)) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    if (!im->backing_name && !(flags & IMG_OPEN_NO_BACKING)) {
        return img_err_set(err, ENOENT, "The parent locator has no usable "
                           "relative_path, so the parent cannot be found "
                           "(MS-VHDX 2.6.2.6.3)");
    }
    return 0;
}

/* The open steps in the order 2.3.3 requires. */
static int open_steps(vhdx_state *s, unsigned flags, img_err *err)
{
    uint8_t sig[8];
    uint64_t size;
    int r = img_file_pread(s->file, sig, sizeof(sig), 0, err);
    if (r >= 0) {
        r = vhdx_file_id_decode(sig, sizeof(sig), err);
    }
    if (r >= 0) {
        r = img_file_size(s->file, &size, err);
    }
    if (r >= 0) {
        r = vhdx_headers_load(s, err);
    }
    if (r >= 0) {
        r = vhdx_header_validate(&s->hdr[s->cur], size, err);
    }
    if (r >= 0) {
        r = vhdx_log_open(s, &size, err);
    }
    if (r >= 0) {
        r = vhdx_regions_load(s, size, err);
    }
    if (r >= 0) {
        r = vhdx_metadata_load(s, err);
    }
    if (r >= 0) {
        r = vhdx_geometry(s, err);
    }
    if (r >= 0) {
        r = vhdx_bat_load(s, size, err);
    }
    if (r >= 0 && s->p.has_parent) {
        r = parent_setup(s, flags, err);
    }
    /* Blocks (a short last one, too) and new allocations never meet. */
    if (s->file_end < vhdx_round_up(size, VHDX_MIB)) {
        s->file_end = vhdx_round_up(size, VHDX_MIB);
    }
    s->flushed_size = size;
    return r;
}

/* Returns 0, or -errno with err naming the broken rule; the core frees
 * the state after a failure, open only frees what it allocated. */
static int vhdx_open(img *im, img_file *file, unsigned flags, img_err *err)
{
    vhdx_state *s = im->state;
    s->im = im;
    s->file = file;
    s->writable = (flags & IMG_OPEN_RDWR) != 0;
    s->quiet = (flags & IMG_OPEN_QUIET) != 0;
    int r = open_steps(s, flags, err);
    if (r < 0) {
        state_release(s);
        return r;
    }
    im->size = s->p.disk_size;
    return 0;
}

/* A writable image ends its writing session: flushed, LogGuid cleared, so
 * readers (qemu-img among them) find no log to replay. */
static void vhdx_close(img *im)
{
    vhdx_state *s = im->state;
    if (s->writable) {
        vhdx_end_write(s, NULL);
    }
    state_release(s);
}

/* ---- reads ---- */

int vhdx_parent_linkage_check(vhdx_state *s, img_err *err)
{
    img *parent = s->im->backing;
    if (s->parent_checked || !parent) {
        return 0;
    }
    if (img_get_driver(parent) != &img_vhdx_driver) {
        return img_err_set(err, EINVAL, "The parent of a VHDX differencing "
                           "image must be a VHDX file (MS-VHDX 2.6.2.6.3)");
    }
    const vhdx_state *ps = parent->state;
    const vhdx_guid *dw = &ps->hdr[ps->cur].data_write;
    for (int i = 0; i < s->n_linkage; i++) {
        if (vhdx_guid_eq(dw, &s->linkage[i])) {
            s->parent_checked = 1;
            return 0;
        }
    }
    char want[39], have[39];
    vhdx_guid_format(&s->linkage[0], want);
    vhdx_guid_format(dw, have);
    return img_err_set(err, EIO, "Parent DataWriteGuid %s does not match "
                       "parent_linkage %s: the parent changed after the "
                       "child was made (MS-VHDX 2.6.2.6.3)", have, want);
}

/* Virtual bytes from the parent, zeros past its end or without one. */
static int read_parent(vhdx_state *s, uint8_t *buf, uint64_t len,
                       uint64_t off, img_err *err)
{
    img *parent = s->im->backing;
    int r = vhdx_parent_linkage_check(s, err);
    uint64_t psize = parent ? img_size(parent) : 0;
    uint64_t n = off < psize ? (len < psize - off ? len : psize - off) : 0;
    if (r >= 0 && n) {
        r = img_pread(parent, buf, n, off, err);
    }
    memset(buf + n, 0, len - n);
    return r;
}

/* Reads the bitmap bits of sectors [first, first+count) of block b into a
 * malloc'd *bits whose bit *shift is sector first's (bits are LSB first,
 * 2.4). */
static int bitmap_read(vhdx_state *s, uint64_t b, uint64_t first,
                       uint64_t count, uint8_t **bits, unsigned *shift,
                       img_err *err)
{
    uint64_t spb = s->p.block_size / s->p.logical_sector;
    uint64_t chunk = b / s->chunk_ratio;
    uint64_t bit = (b % s->chunk_ratio) * spb + first;
    uint64_t sb = vhdx_bat_offset(s->bat[vhdx_sb_index(s, chunk)]);
    uint64_t nbytes = (bit % 8 + count + 7) / 8;
    *bits = malloc(nbytes);
    if (!*bits) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = vhdx_read(s, *bits, nbytes, sb + bit / 8, err);
    if (r < 0) {
        free(*bits);
        *bits = NULL;
    }
    *shift = (unsigned)(bit % 8);
    return r;
}

static int bit_at(const uint8_t *bits, uint64_t i)
{
    return bits[i / 8] >> (i % 8) & 1;
}

/* Length of the run of sectors with the same bit as sector i (relative to
 * the bitmap start), at most count - i sectors. */
static uint64_t bit_run(const uint8_t *bits, unsigned shift, uint64_t i,
                        uint64_t count)
{
    int v = bit_at(bits, shift + i);
    uint64_t j = i + 1;
    while (j < count && bit_at(bits, shift + j) == v) {
        j++;
    }
    return j - i;
}

/* PARTIALLY_PRESENT: present sectors from the block, others from the
 * parent (2.4, 2.5.1.1). */
static int read_partial(vhdx_state *s, uint64_t b, uint64_t in, uint8_t *buf,
                        uint64_t n, img_err *err)
{
    uint64_t lss = s->p.logical_sector, first = in / lss;
    uint64_t count = (in + n + lss - 1) / lss - first;
    unsigned shift;
    uint8_t *bits;
    int r = bitmap_read(s, b, first, count, &bits, &shift, err);
    if (r < 0) {
        return r;
    }
    uint64_t block_off = vhdx_bat_offset(s->bat[vhdx_bat_index(s, b)]);
    uint64_t vbase = b << s->block_bits;
    for (uint64_t pos = in; r >= 0 && pos < in + n;) {
        uint64_t i = pos / lss - first;
        uint64_t end = (first + i + bit_run(bits, shift, i, count)) * lss;
        end = end < in + n ? end : in + n;
        uint8_t *dst = buf + (pos - in);
        r = bit_at(bits, shift + i)
                ? vhdx_read(s, dst, end - pos, block_off + pos, err)
                : read_parent(s, dst, end - pos, vbase + pos, err);
        pos = end;
    }
    free(bits);
    return r;
}

/* Bytes [in, in+n) of payload block b, by the block's state. */
static int read_block(vhdx_state *s, uint64_t b, uint64_t in, uint8_t *buf,
                      uint64_t n, img_err *err)
{
    uint64_t e = s->bat[vhdx_bat_index(s, b)];
    switch (vhdx_bat_state(e)) {
    case VHDX_PAYLOAD_FULLY_PRESENT:
        return vhdx_read(s, buf, n, vhdx_bat_offset(e) + in, err);
    case VHDX_PAYLOAD_PARTIALLY_PRESENT:
        return read_partial(s, b, in, buf, n, err);
    case VHDX_PAYLOAD_NOT_PRESENT:
        if (s->p.has_parent) {
            return read_parent(s, buf, n, (b << s->block_bits) + in, err);
        }
        break; /* no parent: zeros (2.5.1.1 behaviour 2) */
    default:
        break; /* UNDEFINED, ZERO, UNMAPPED: zeros are allowed */
    }
    memset(buf, 0, n);
    return 0;
}

/* Block by block; each piece goes by its block's state. */
int vhdx_read_virtual(vhdx_state *s, void *buf, uint64_t len, uint64_t off,
                      img_err *err)
{
    uint8_t *p = buf;
    while (len > 0) {
        uint64_t b = off >> s->block_bits;
        uint64_t in = off & (s->p.block_size - 1);
        uint64_t n = s->p.block_size - in < len ? s->p.block_size - in : len;
        int r = read_block(s, b, in, p, n, err);
        if (r < 0) {
            return r;
        }
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static int vhdx_pread(img *im, void *buf, uint64_t len, uint64_t off,
                      img_err *err)
{
    return vhdx_read_virtual(im->state, buf, len, off, err);
}

/* ---- block status ---- */

/* Status of [in, in+n) of block b: the mask, the host offset of in, and
 * in *run how many bytes share them. */
static int status_block(vhdx_state *s, uint64_t b, uint64_t in, uint64_t n,
                        uint64_t *host, uint64_t *run, img_err *err)
{
    uint64_t e = s->bat[vhdx_bat_index(s, b)];
    *run = n;
    *host = vhdx_bat_offset(e) + in;
    switch (vhdx_bat_state(e)) {
    case VHDX_PAYLOAD_FULLY_PRESENT:
        return IMG_BS_DATA | IMG_BS_OFFSET_VALID | IMG_BS_ALLOCATED;
    case VHDX_PAYLOAD_PARTIALLY_PRESENT: {
        uint64_t lss = s->p.logical_sector, first = in / lss;
        uint64_t count = (in + n + lss - 1) / lss - first;
        unsigned shift;
        uint8_t *bits;
        int r = bitmap_read(s, b, first, count, &bits, &shift, err);
        if (r < 0) {
            return r;
        }
        int present = bit_at(bits, shift);
        uint64_t end = (first + bit_run(bits, shift, 0, count)) * lss;
        *run = (end < in + n ? end : in + n) - in;
        free(bits);
        return present ? IMG_BS_DATA | IMG_BS_OFFSET_VALID | IMG_BS_ALLOCATED
                       : 0;
    }
    case VHDX_PAYLOAD_NOT_PRESENT:
        /* Not decided here: the parent's content, or zeros without one. */
        return s->p.has_parent ? 0 : IMG_BS_ZERO;
    default:
        return IMG_BS_ZERO | IMG_BS_ALLOCATED;
    }
}

/* Merges consecutive blocks with the same status (and, for data,
 * contiguous host offsets) into one answer, as qemu-img map prints. */
static int vhdx_block_status(img *im, uint64_t off, uint64_t len,
                             uint64_t *pnum, uint64_t *host_off, img_err *err)
{
    vhdx_state *s = im->state;
    uint64_t done = 0, expect_host = 0;
    int first = -1;
    while (done < len) {
        uint64_t b = (off + done) >> s->block_bits;
        uint64_t in = (off + done) & (s->p.block_size - 1);
        uint64_t n = s->p.block_size - in < len - done ? s->p.block_size - in
                                                       : len - done;
        uint64_t host, run;
        int r = status_block(s, b, in, n, &host, &run, err);
        if (r < 0) {
            return r;
        }
        if (first >= 0 && (r != first || ((r & IMG_BS_OFFSET_VALID) &&
                                          host != expect_host))) {
            break;
        }
        if (first < 0) {
            first = r;
            *host_off = host;
        }
        done += run;
        expect_host = host + run;
        if (run < n) {
            break; /* the run ends inside this block */
        }
    }
    *pnum = done;
    return first;
}

/* ---- info ---- */

static int vhdx_info(img *im, img_info *out, img_err *err)
{
    (void)err;
    vhdx_state *s = im->state;
    out->cluster_size = s->p.block_size; /* as qemu-img reports it */
    return 0;
}

const img_driver img_vhdx_driver = {
    .abi = IMG_DRIVER_ABI,
    .name = "vhdx",
    .state_size = sizeof(vhdx_state),
    .flags = IMG_DRV_BACKING | IMG_DRV_ZERO_INIT,
    .create_opts = vhdx_create_opts,
    .probe = vhdx_probe,
    .open = vhdx_open,
    .close = vhdx_close,
    .pread = vhdx_pread,
    .pwrite = vhdx_pwrite,
    .pwrite_zeroes = vhdx_pwrite_zeroes,
    .discard = vhdx_discard,
    .block_status = vhdx_block_status,
    .flush = vhdx_flush,
    .truncate = vhdx_truncate,
    .create = vhdx_create,
    .check = vhdx_check,
    .info = vhdx_info,
    .measure = vhdx_measure,
};
