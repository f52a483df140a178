/* formats/vhdx/vhdx_create.c -- creating VHDX images (dynamic, fixed and
 * differencing) and measuring the space one would need.
 *
 * Spec: [MS-VHDX] 2.1 (every object 1 MiB aligned), 2.2 (file identifier,
 * two headers, two identical region tables), 2.2.3.2 (the BAT and
 * metadata regions are required: we set their Required bit, which
 * qemu-img 7.2 leaves clear), 2.5 (BAT sized for the sector bitmap
 * entries of every chunk, so the file can later become differencing),
 * 2.6.2 (the five required items, plus the parent locator of a
 * differencing file with parent_linkage = the parent's DataWriteGuid and
 * a relative_path).  Options follow qemu-img's vhdx driver (subformat,
 * block_size with 0 = automatic, log_size, block_state_zero), with
 * logical/physical sector sizes and a backing file added.
 *
 * Layout: header section, log at 1 MiB, BAT, a 1 MiB metadata region,
 * then payload blocks (all of them at once for fixed images).  GUIDs come
 * from getrandom().
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/backing.h"
#include "vhdx.h"

/* Creator string in the file type identifier (diagnostic only, 2.2.1). */
#define VHDX_CREATOR "vdisk"
/* Bytes of BAT generated per write. */
#define BAT_CHUNK VHDX_MIB

const img_opt_desc vhdx_create_opts[] = {
    { .name = "size", .type = IMG_OPT_SIZE,
      .help = "Virtual disk size; max of 64TB" },
    { .name = "log_size", .type = IMG_OPT_SIZE, .def = "1048576",
      .help = "Log size; min 1MB." },
    { .name = "block_size", .type = IMG_OPT_SIZE, .def = "0",
      .help = "Block Size; min 1MB, max 256MB. 0 means auto-calculate "
              "based on image size." },
    { .name = "subformat", .type = IMG_OPT_STRING,
      .help = "VHDX format type, can be either 'dynamic' or 'fixed'. "
              "Default is 'dynamic'." },
    { .name = "block_state_zero", .type = IMG_OPT_BOOL,
      .help = "Force use of payload blocks of type 'ZERO'. Non-standard, "
              "but default.  Do not set to 'off' when using 'qemu-img "
              "convert' with subformat=dynamic." },
    { .name = "logical_sector_size", .type = IMG_OPT_SIZE,
      .help = "Logical sector size of the virtual disk, 512 or 4096" },
    { .name = "physical_sector_size", .type = IMG_OPT_SIZE,
      .help = "Physical sector size of the virtual disk, 512 or 4096" },
    { .name = "backing_file", .type = IMG_OPT_STRING,
      .help = "File name of a base image (makes a differencing VHDX)" },
    { .name = "backing_fmt", .type = IMG_OPT_STRING,
      .help = "Image format of the base image" },
    { .name = NULL },
};

/* Everything create writes, from the options. */
typedef struct vhdx_layout {
    vhdx_params p;
    uint32_t log_size;
    int fixed;          /* subformat=fixed */
    int zero_blocks;    /* block_state_zero */
    uint64_t bat_off;
    uint32_t bat_len;
    uint64_t meta_off;
    uint64_t sb_off;    /* differencing: first sector bitmap block */
    uint64_t n_sb;      /* sector bitmap blocks (one per chunk) */
    uint64_t data_off;  /* first payload block */
    uint64_t n_payload;
} vhdx_layout;

/* qemu-img's automatic block size for a disk of size bytes. */
static uint32_t auto_block_size(uint64_t size)
{
    if (size > 32 * VHDX_TIB) {
        return 64 * VHDX_MIB;
    }
    if (size > 100ull * 1024 * VHDX_MIB) {
        return 32 * VHDX_MIB;
    }
    return size > 1024 * VHDX_MIB ? 16 * VHDX_MIB : 8 * VHDX_MIB;
}

/* block_size and log_size as qemu-img takes them: rounded up to 1 MiB,
 * the block size capped at 256 MiB and a power of two. */
static int sizes_from_opts(const img_opts *o, vhdx_layout *l, img_err *err)
{
    uint64_t log = o ? img_opts_get_size(o, "log_size", VHDX_MIB) : VHDX_MIB;
    uint64_t bs = o ? img_opts_get_size(o, "block_size", 0) : 0;
    if (log > UINT32_MAX) {
        return img_err_set(err, EINVAL, "Log size must be smaller than 4 GB");
    }
    log = vhdx_round_up(log, VHDX_MIB);
    if (log < VHDX_MIB || log > UINT32_MAX) {
        return img_err_set(err, EINVAL, "Log size must be a multiple of "
                           "1 MB");
    }
    bs = bs ? vhdx_round_up(bs, VHDX_MIB) : auto_block_size(l->p.disk_size);
    bs = bs > VHDX_BLOCK_MAX ? VHDX_BLOCK_MAX : bs;
    if (!vhdx_is_pow2(bs)) {
        return img_err_set(err, EINVAL, "Block size must be a power of two");
    }
    l->log_size = (uint32_t)log;
    l->p.block_size = (uint32_t)bs;
    return 0;
}

/* A sector size option: 512 (the default) or 4096. */
static int sector_opt(const img_opts *o, const char *name, uint32_t *out,
                      img_err *err)
{
    uint64_t v = o ? img_opts_get_size(o, name, 512) : 512;
    if (v != 512 && v != 4096) {
        return img_err_set(err, EINVAL, "%s must be 512 or 4096", name);
    }
    *out = (uint32_t)v;
    return 0;
}

static int kind_from_opts(const img_opts *o, vhdx_layout *l, img_err *err)
{
    const char *sub = o ? img_opts_get_str(o, "subformat", "dynamic")
                        : "dynamic";
    if (strcmp(sub, "dynamic") && strcmp(sub, "fixed")) {
        return img_err_set(err, EINVAL, "Parameter 'subformat' does not "
                           "accept value '%s'", sub);
    }
    l->fixed = !strcmp(sub, "fixed");
    l->zero_blocks = o ? img_opts_get_bool(o, "block_state_zero", 1) : 1;
    int r = sector_opt(o, "logical_sector_size", &l->p.logical_sector, err);
    if (r >= 0) {
        r = sector_opt(o, "physical_sector_size", &l->p.physical_sector,
                       err);
    }
    return r;
}

/* Region placement (2.1: MB aligned, log right after the header). */
static void layout_place(vhdx_layout *l)
{
    uint64_t entries = vhdx_bat_entries(l->p.disk_size, l->p.block_size,
                                        l->p.logical_sector, 1);
    uint64_t bat = vhdx_round_up(entries * VHDX_BAT_ENTRY_SIZE, VHDX_MIB);
    l->bat_off = VHDX_HEADER_SECTION + l->log_size;
    l->bat_len = (uint32_t)(bat ? bat : VHDX_MIB);
    uint64_t cr = vhdx_chunk_ratio(l->p.block_size, l->p.logical_sector);
    l->meta_off = l->bat_off + l->bat_len;
    l->n_payload = (l->p.disk_size + l->p.block_size - 1) / l->p.block_size;
    /* A differencing file gets a zeroed sector bitmap for every chunk
     * (see vhdx_write.c: readers such as libvhdi always consult it). */
    l->n_sb = l->p.has_parent ? (l->n_payload + cr - 1) / cr : 0;
    l->sb_off = l->meta_off + VHDX_MIB;
    l->data_off = l->sb_off + l->n_sb * VHDX_SB_BLOCK_SIZE;
    l->p.leave_allocated = l->fixed;
    l->p.fp_flags = (l->fixed ? VHDX_FP_LEAVE_ALLOC : 0) |
                    (l->p.has_parent ? VHDX_FP_HAS_PARENT : 0);
}

static int layout_from_opts(const img_opts *o, uint64_t size, vhdx_layout *l,
                            img_err *err)
{
    memset(l, 0, sizeof(*l));
    int r = kind_from_opts(o, l, err);
    if (r < 0) {
        return r;
    }
    l->p.disk_size = vhdx_round_up(size, l->p.logical_sector);
    if (l->p.disk_size > VHDX_MAX_DISK_SIZE || size > VHDX_MAX_DISK_SIZE) {
        return img_err_set(err, EINVAL, "Image size too large; max of 64TB");
    }
    r = sizes_from_opts(o, l, err);
    if (r >= 0) {
        layout_place(l);
    }
    return r;
}

/* ---- writing the structures ---- */

/* File identifier, both headers (sequence 1 and 2: header 2 current,
 * the same GUIDs in both, no log to replay) and both region tables. */
static int write_header_section(img_file *f, const vhdx_layout *l,
                                img_err *err)
{
    uint8_t *buf = calloc(1, VHDX_ITEM_SIZE);
    vhdx_region_table *rt = calloc(1, sizeof(*rt));
    vhdx_header h = { .version = VHDX_VERSION, .log_length = l->log_size,
                      .log_offset = VHDX_HEADER_SECTION };
    int r = buf && rt ? vhdx_guid_generate(&h.file_write, err)
                      : img_err_set(err, ENOMEM, "Out of memory");
    if (r >= 0) {
        r = vhdx_guid_generate(&h.data_write, err);
    }
    if (r >= 0) {
        vhdx_file_id_encode(buf, VHDX_ITEM_SIZE, VHDX_CREATOR);
        r = img_file_pwrite(f, buf, VHDX_ITEM_SIZE, 0, err);
    }
    for (int i = 0; r >= 0 && i < 2; i++) {
        h.seq = (uint64_t)i + 1; /* header 2 is current */
        vhdx_header_encode(&h, buf, VHDX_HEADER_SIZE);
        r = img_file_pwrite(f, buf, VHDX_HEADER_SIZE,
                            i ? VHDX_HEADER2_OFFSET : VHDX_HEADER1_OFFSET,
                            err);
    }
    if (r >= 0) {
        rt->count = 2;
        rt->entries[0] = (vhdx_region){ vhdx_guid_bat, l->bat_off,
                                        l->bat_len, 1 };
        rt->entries[1] = (vhdx_region){ vhdx_guid_metadata, l->meta_off,
                                        VHDX_MIB, 1 };
        vhdx_region_table_encode(rt, buf, VHDX_RT_SIZE);
        r = img_file_pwrite(f, buf, VHDX_RT_SIZE, VHDX_RT1_OFFSET, err);
    }
    if (r >= 0) {
        r = img_file_pwrite(f, buf, VHDX_RT_SIZE, VHDX_RT2_OFFSET, err);
    }
    free(buf);
    free(rt);
    return r;
}

/* The initial BAT entry at index i. */
static uint64_t initial_entry(const vhdx_layout *l, uint64_t cr, uint64_t i)
{
    uint64_t chunk = i / (cr + 1), pos = i % (cr + 1);
    uint64_t b = chunk * cr + pos;
    if (pos == cr && chunk < l->n_sb) {
        return vhdx_bat_make(VHDX_SB_PRESENT,
                             l->sb_off + chunk * VHDX_SB_BLOCK_SIZE);
    }
    if (pos == cr || b >= l->n_payload) {
        return 0; /* no sector bitmap; unused slots */
    }
    if (l->fixed) {
        return vhdx_bat_make(VHDX_PAYLOAD_FULLY_PRESENT,
                             l->data_off + b * l->p.block_size);
    }
    /* A differencing file must show its parent: NOT_PRESENT. */
    return l->zero_blocks && !l->p.has_parent ? VHDX_PAYLOAD_ZERO : 0;
}

/* Generated a chunk at a time, so a fixed 64 TiB image needs no 512 MiB
 * buffer. */
static int write_bat(img_file *f, const vhdx_layout *l, img_err *err)
{
    if (!l->fixed && !l->zero_blocks && !l->p.has_parent) {
        return 0; /* all zero: the file is extended over it */
    }
    uint64_t cr = vhdx_chunk_ratio(l->p.block_size, l->p.logical_sector);
    uint64_t total = l->bat_len / VHDX_BAT_ENTRY_SIZE;
    uint8_t *buf = malloc(BAT_CHUNK);
    int r = buf ? 0 : img_err_set(err, ENOMEM, "Out of memory");
    for (uint64_t i = 0; r >= 0 && i < total; i += BAT_CHUNK / 8) {
        uint64_t n = total - i < BAT_CHUNK / 8 ? total - i : BAT_CHUNK / 8;
        for (uint64_t k = 0; k < n; k++) {
            vhdx_put64(buf + 8 * k, initial_entry(l, cr, i + k));
        }
        r = img_file_pwrite(f, buf, n * 8, l->bat_off + i * 8, err);
    }
    free(buf);
    return r;
}

static int write_metadata(img_file *f, vhdx_layout *l, const uint8_t *pl,
                          size_t pl_len, img_err *err)
{
    size_t len = VHDX_MT_ITEM_MIN_OFFSET + 40 + pl_len;
    uint8_t *buf = malloc(len);
    int r = buf ? vhdx_guid_generate(&l->p.disk_id, err)
                : img_err_set(err, ENOMEM, "Out of memory");
    if (r >= 0) {
        r = vhdx_metadata_build(&l->p, pl, pl_len, buf, len, err);
    }
    if (r >= 0) {
        r = img_file_pwrite(f, buf, len, l->meta_off, err);
    }
    free(buf);
    return r;
}

/* Everything in layout order; the final truncate makes the file hold the
 * regions (and a fixed image's blocks) without writing their zeros. */
static int write_image(img_file *f, vhdx_layout *l, const uint8_t *pl,
                       size_t pl_len, img_err *err)
{
    int r = img_file_truncate(f, 0, err);
    if (r >= 0) {
        r = write_header_section(f, l, err);
    }
    if (r >= 0) {
        r = write_bat(f, l, err);
    }
    if (r >= 0) {
        r = write_metadata(f, l, pl, pl_len, err);
    }
    if (r >= 0) {
        uint64_t end = l->data_off +
                       (l->fixed ? l->n_payload * l->p.block_size : 0);
        r = img_file_truncate(f, end, err);
    }
    return r;
}

/* ---- differencing ---- */

/* Path of directory from to file to, both absolute and resolved, with
 * ".." steps; malloc'd. */
static char *relative_between(const char *from, const char *to)
{
    size_t i = 0, base = 0, ups = 0;
    while (from[i] && from[i] == to[i]) {
        i++;
        base = from[i - 1] == '/' ? i : base;
    }
    const char *rest;
    if (!from[i] && to[i] == '/') {
        rest = to + i + 1; /* from is a directory above to */
    } else {
        rest = to + base;
        ups = from[base] ? 1 : 0;
        for (const char *c = from + base; *c; c++) {
            ups += *c == '/';
        }
    }
    char *out = malloc(3 * ups + strlen(rest) + 1);
    if (out) {
        out[0] = '\0';
        for (size_t k = 0; k < ups; k++) {
            strcat(out, "../");
        }
        strcat(out, rest);
    }
    return out;
}

/* name (as given, relative to the child's directory or absolute) as a
 * path relative to the directory of child; malloc'd, '/' separated. */
static char *relative_name(const char *child, const char *name)
{
    if (name[0] != '/') {
        return strdup(name);
    }
    char *dir = img_backing_resolve(child, ".");
    char *from = dir ? realpath(dir, NULL) : NULL;
    char *to = realpath(name, NULL);
    char *out = from && to ? relative_between(from, to) : NULL;
    free(dir);
    free(from);
    free(to);
    return out;
}

/* Opens the parent read-only and takes what the child needs from it. */
static int parent_probe(img_file *f, const img_create_opts *o,
                        vhdx_layout *l, vhdx_guid *linkage, img_err *err)
{
    if (o->backing_fmt && strcmp(o->backing_fmt, "vhdx")) {
        return img_err_set(err, ENOTSUP, "The parent of a VHDX differencing "
                           "image must be a VHDX image, not '%s'",
                           o->backing_fmt);
    }
    char *path = img_backing_resolve(f->path, o->backing_file);
    img *parent = NULL;
    int r = path ? img_open(path, "vhdx", IMG_OPEN_FORCE_SHARE |
                            IMG_OPEN_QUIET | IMG_OPEN_NO_BACKING, &parent,
                            err)
                 : img_err_set(err, ENOMEM, "Out of memory");
    free(path);
    if (r < 0) {
        img_err_prepend(err, "Could not open the parent: ");
        return r;
    }
    const vhdx_state *ps = parent->state;
    *linkage = ps->hdr[ps->cur].data_write;
    if (ps->p.disk_size != l->p.disk_size) {
        r = img_err_set(err, EINVAL, "A differencing VHDX must have the size "
                        "of its parent (%" PRIu64 " bytes)", ps->p.disk_size);
    } else if (ps->p.logical_sector != l->p.logical_sector) {
        r = img_err_set(err, EINVAL, "The logical sector size must be the "
                        "parent's (%" PRIu32 ") (MS-VHDX 2.6.2.4)",
                        ps->p.logical_sector);
    }
    img_close(parent);
    return r;
}

/* The parent locator item of a differencing image (2.6.2.6.3). */
static int parent_locator(img_file *f, const img_create_opts *o,
                          const vhdx_guid *linkage, uint8_t *buf, size_t len,
                          img_err *err)
{
    char guid[39];
    vhdx_guid_format(linkage, guid);
    char *rel = relative_name(f->path ? f->path : "", o->backing_file);
    if (!rel) {
        return img_err_set(err, ENOENT, "Could not make a relative path to "
                           "'%s'", o->backing_file);
    }
    for (char *c = rel; *c; c++) {
        *c = *c == '/' ? '\\' : *c;
    }
    vhdx_kv kv[2] = { { "parent_linkage", guid }, { "relative_path", rel } };
    int r = vhdx_parent_locator_encode(kv, 2, buf, len, err);
    free(rel);
    return r;
}

/* Returns 0 or -errno; file is borrowed.  A differencing image needs
 * its parent readable now: its DataWriteGuid is the child's linkage. */
int vhdx_create(img_file *file, const img_create_opts *o, img_err *err)
{
    vhdx_layout l;
    int r = layout_from_opts(o->opts, o->size, &l, err);
    if (r < 0 || !o->backing_file) {
        return r < 0 ? r : write_image(file, &l, NULL, 0, err);
    }
    if (l.fixed) {
        return img_err_set(err, EINVAL, "A differencing VHDX cannot be "
                           "fixed");
    }
    l.p.has_parent = 1;
    layout_place(&l);
    vhdx_guid linkage;
    size_t cap = 64 * VHDX_KIB;
    uint8_t *pl = malloc(cap);
    r = pl ? parent_probe(file, o, &l, &linkage, err)
           : img_err_set(err, ENOMEM, "Out of memory");
    if (r >= 0) {
        r = parent_locator(file, o, &linkage, pl, cap, err);
    }
    if (r >= 0) {
        r = write_image(file, &l, pl, (size_t)r, err);
    }
    free(pl);
    return r;
}

/* ---- measure ---- */

/* Payload blocks of in that hold data (qemu-img measure's "required"). */
static int count_data_blocks(img *in, uint32_t bs, uint64_t *n, img_err *err)
{
    uint64_t size = img_size(in), off = 0;
    *n = 0;
    while (off < size) {
        uint64_t end = off + bs < size ? off + bs : size, pos = off;
        int data = 0;
        while (!data && pos < end) {
            uint64_t pnum, host;
            int depth;
            img *file_img;
            int r = img_block_status_above(in, NULL, pos, end - pos, &pnum,
                                           &host, &depth, &file_img, err);
            if (r < 0) {
                return r;
            }
            data = (r & IMG_BS_DATA) != 0;
            pos += pnum;
        }
        *n += data;
        off = end;
    }
    return 0;
}

int vhdx_measure(const img_opts *opts, uint64_t size, img *in,
                 img_measure *out, img_err *err)
{
    vhdx_layout l;
    int r = layout_from_opts(opts, size, &l, err);
    if (r < 0) {
        return r;
    }
    uint64_t blocks = l.fixed ? l.n_payload : 0;
    if (in && !l.fixed) {
        r = count_data_blocks(in, l.p.block_size, &blocks, err);
    }
    out->required = l.data_off + blocks * l.p.block_size;
    out->fully_allocated = l.data_off + l.n_payload * l.p.block_size;
    return r;
}
