/* formats/vmdk/vmdk_create.c -- making new VMDK images with qemu-img's
 * vmdk options (subformat, adapter_type, hwversion, toolsversion, compat6,
 * zeroed_grain, backing_file).
 *
 * Spec: "Virtual Disk Format 5.0" ("The Descriptor File", "Hosted Sparse
 * Extents", "Stream-Optimized Compressed Sparse Extents").  Sparse extents
 * are laid out as VMware and QEMU lay them out: header, descriptor area
 * (20 sectors), redundant GD and its grain tables, GD and its grain
 * tables, all preallocated, the metadata rounded up to a grain.  Extent
 * files of split and flat images are named as QEMU names them:
 * "name-flat.vmdk", "name-s001.vmdk", "name-f001.vmdk".  Descriptor
 * values we write are validated (no quotes or control characters), so an
 * option cannot inject extent lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libimg/backing.h"
#include "vmdk.h"

const img_opt_desc vmdk_create_opts[] = {
    { .name = "size", .type = IMG_OPT_SIZE, .help = "Virtual disk size" },
    { .name = "adapter_type", .type = IMG_OPT_STRING,
      .help = "Virtual adapter type, can be one of ide (default), lsilogic, "
              "buslogic or legacyESX" },
    { .name = "backing_file", .type = IMG_OPT_STRING,
      .help = "File name of a base image" },
    { .name = "backing_fmt", .type = IMG_OPT_STRING,
      .help = "Must be 'vmdk' if present" },
    { .name = "compat6", .type = IMG_OPT_BOOL, .def = "off",
      .help = "VMDK version 6 image" },
    { .name = "hwversion", .type = IMG_OPT_STRING, .def = "undefined",
      .help = "VMDK hardware version" },
    { .name = "toolsversion", .type = IMG_OPT_STRING,
      .help = "VMware guest tools version" },
    { .name = "subformat", .type = IMG_OPT_STRING,
      .help = "VMDK flat extent format, can be one of {monolithicSparse "
              "(default) | monolithicFlat | twoGbMaxExtentSparse | "
              "twoGbMaxExtentFlat | streamOptimized} " },
    { .name = "zeroed_grain", .type = IMG_OPT_BOOL,
      .help = "Enable efficient zero writes using the zeroed-grain GTE "
              "feature" },
    { .name = "nocow", .type = IMG_OPT_BOOL, .flags = IMG_OPT_PROTOCOL,
      .help = "Turn off copy-on-write (valid only on btrfs)" },
    { .name = "preallocation", .type = IMG_OPT_STRING,
      .flags = IMG_OPT_PROTOCOL,
      .help = "Preallocation mode (allowed values: off, falloc, full)" },
    { .name = "extent_size_hint", .type = IMG_OPT_SIZE,
      .flags = IMG_OPT_PROTOCOL,
      .help = "Extent size hint for the image file, 0 to disable" },
    { .name = NULL },
};

typedef enum sub {
    SUB_MONO_SPARSE,
    SUB_MONO_FLAT,
    SUB_SPLIT_SPARSE,
    SUB_SPLIT_FLAT,
    SUB_STREAM,
} sub;

static const char *const sub_names[] = {
    "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
    "twoGbMaxExtentFlat", "streamOptimized",
};

/* Everything a create needs, from the options. */
typedef struct plan {
    sub fmt;
    const char *adapter;
    const char *hwversion;
    const char *tools;
    int zeroed_grain;
    uint64_t sectors;
    uint32_t cid, parent_cid;
    const char *parent_hint;
    uint8_t uuid[16];
    const char *path;       /* the descriptor's file, NULL for memory */
    char *prefix, *postfix; /* extent names: prefix-xxx postfix */
} plan;

/* ---- options ---- */

/* The text of option name, or NULL when not given. */
static const char *opt(const img_create_opts *o, const char *name)
{
    return o->opts ? img_opts_value(o->opts, name) : NULL;
}

/* QEMU's error for a value outside an enumeration. */
static int bad_value(const char *v, img_err *err)
{
    return img_err_set(err, EINVAL, "invalid parameter value: %s", v);
}

/* Descriptor values: printable, no quotes or backslashes, short. */
static int safe_value(const char *v)
{
    if (strlen(v) > 256) {
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            return 0;
        }
    }
    return 1;
}

/* subformat=, monolithicSparse by default. */
static int parse_subformat(const img_create_opts *o, plan *p, img_err *err)
{
    const char *v = opt(o, "subformat");
    p->fmt = SUB_MONO_SPARSE;
    if (!v) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(sub_names) / sizeof(sub_names[0]); i++) {
        if (!strcmp(v, sub_names[i])) {
            p->fmt = (sub)i;
            return 0;
        }
    }
    return bad_value(v, err);
}

/* adapter_type, hwversion/compat6, toolsversion, zeroed_grain. */
static int parse_ddb(const img_create_opts *o, plan *p, img_err *err)
{
    static const char *const adapters[] = { "ide", "lsilogic", "buslogic",
                                            "legacyESX" };
    const char *a = opt(o, "adapter_type");
    p->adapter = "ide";
    for (size_t i = 0; a && i < 4; i++) {
        if (!strcmp(a, adapters[i])) {
            p->adapter = adapters[i];
        }
    }
    if (a && strcmp(a, p->adapter) != 0) {
        return bad_value(a, err);
    }
    const char *hw = opt(o, "hwversion");
    int compat6 = o->opts && img_opts_get_bool(o->opts, "compat6", 0);
    if (hw && !strcmp(hw, "undefined")) {
        hw = NULL;
    }
    if (compat6 && hw) {
        return img_err_set(err, EINVAL, "compat6 cannot be enabled with "
                           "hwversion set");
    }
    p->hwversion = compat6 ? "6" : hw ? hw : "4";
    p->tools = opt(o, "toolsversion");
    p->tools = p->tools ? p->tools : "2147483647"; /* "provided by host" */
    if (!safe_value(p->hwversion) || !safe_value(p->tools)) {
        return bad_value(safe_value(p->tools) ? p->hwversion : p->tools,
                         err);
    }
    p->zeroed_grain = o->opts && img_opts_get_bool(o->opts, "zeroed_grain",
                                                   0);
    return 0;
}

/* The parent must be a VMDK image: its CID becomes our parentCID. */
static int parse_backing(const img_create_opts *o, plan *p, img_err *err)
{
    const char *bf = o->backing_file ? o->backing_file
                                     : opt(o, "backing_file");
    const char *fmt = o->backing_fmt ? o->backing_fmt : opt(o, "backing_fmt");
    p->parent_cid = 0xffffffffu;
    if (!bf) {
        return 0;
    }
    if (p->fmt == SUB_MONO_FLAT || p->fmt == SUB_SPLIT_FLAT) {
        return img_err_set(err, EINVAL, "Flat image can't have backing "
                           "file");
    }
    if (!safe_value(bf) || (fmt && strcmp(fmt, "vmdk") != 0)) {
        return img_err_set(err, EINVAL, "backing_file must be a vmdk image");
    }
    char *path = img_backing_resolve(p->path, bf);
    img *b = NULL;
    int r = path ? img_open(path, NULL, IMG_OPEN_NO_BACKING |
                            IMG_OPEN_QUIET | IMG_OPEN_FORCE_SHARE, &b, err)
                 : img_err_set(err, ENOMEM, "Out of memory");
    free(path);
    if (r >= 0 && img_get_driver(b) != &img_vmdk_driver) {
        r = img_err_set(err, EINVAL, "backing_file must be a vmdk image");
    }
    if (r >= 0) {
        p->parent_cid = ((const vmdk_state *)b->state)->cid;
        p->parent_hint = bf;
    }
    img_close(b);
    return r;
}

/* "dir/name.ext" -> prefix "dir/name", postfix ".ext" (QEMU's split). */
static int split_name(plan *p, img_err *err)
{
    const char *path = p->path ? p->path : "image.vmdk";
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    p->prefix = strndup(path, n);
    p->postfix = strdup(dot ? dot : "");
    if (!p->prefix || !p->postfix) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    return 0;
}

/* Everything decided before a byte is written. */
static int make_plan(img_file *file, const img_create_opts *o, plan *p,
                     img_err *err)
{
    memset(p, 0, sizeof(*p));
    p->path = file->path;
    p->sectors = (o->size + VMDK_SECTOR - 1) / VMDK_SECTOR;
    if (p->sectors > VMDK_MAX_SECTORS) {
        return img_err_set(err, EFBIG, "VMDK images are limited to %" PRIu64
                           " bytes", VMDK_MAX_SECTORS * VMDK_SECTOR);
    }
    do {
        vmdk_random(&p->cid, sizeof(p->cid));
    } while (p->cid >= 0xfffffffeu);
    vmdk_random(p->uuid, sizeof(p->uuid));
    int r = parse_subformat(o, p, err);
    if (r >= 0) {
        r = parse_ddb(o, p, err);
    }
    if (r >= 0) {
        r = split_name(p, err);
    }
    if (r >= 0) {
        r = parse_backing(o, p, err);
    }
    if (r >= 0 && p->fmt != SUB_MONO_SPARSE && p->fmt != SUB_STREAM &&
        !p->path) {
        r = img_err_set(err, EINVAL, "Subformat '%s' needs a file name for "
                        "its extent files", sub_names[p->fmt]);
    }
    return r;
}

/* ---- sparse extents ---- */

/* Writes a grain directory of n entries at sector at, its tables
 * following it from sector first on. */
static int write_gd(img_file *f, uint64_t at, uint64_t n, uint64_t first,
                    img_err *err)
{
    uint64_t bytes = (n * 4 + VMDK_SECTOR - 1) & ~(uint64_t)511;
    uint8_t *gd = calloc(1, bytes ? bytes : 1);
    if (!gd) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    uint64_t gt_sectors = VMDK_GTES_PER_GT * 4 / VMDK_SECTOR;
    for (uint64_t i = 0; i < n; i++) {
        vmdk_put_le32(gd + 4 * i, (uint32_t)(first + i * gt_sectors));
    }
    int r = bytes ? img_file_pwrite(f, gd, bytes, at * VMDK_SECTOR, err) : 0;
    free(gd);
    return r;
}

/* The header of a hosted sparse extent (QEMU's and VMware's layout). */
static void sparse_header(vmdk_header *h, uint64_t capacity,
                          int zeroed_grain, uint64_t desc_len,
                          uint64_t *gd_sectors)
{
    uint64_t g = VMDK_DEF_GRAIN_SECTORS, span = g * VMDK_GTES_PER_GT;
    uint64_t n_gt = (capacity + span - 1) / span;
    uint64_t gt_sectors = VMDK_GTES_PER_GT * 4 / VMDK_SECTOR;
    uint64_t dsec = (desc_len + VMDK_SECTOR - 1) / VMDK_SECTOR;
    *gd_sectors = (n_gt * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
    *h = (vmdk_header){
        .version = zeroed_grain ? 2 : 1,
        .flags = VMDK_FLAG_NL_DETECT | VMDK_FLAG_RGD |
                 (zeroed_grain ? VMDK_FLAG_ZERO_GRAIN : 0),
        .capacity = capacity,
        .grain = g,
        .desc_offset = 1,
        .desc_size = dsec > VMDK_DEF_DESC_SECTORS ? dsec
                                                  : VMDK_DEF_DESC_SECTORS,
        .num_gtes = VMDK_GTES_PER_GT,
    };
    h->rgd_offset = 1 + h->desc_size;
    h->gd_offset = h->rgd_offset + *gd_sectors + n_gt * gt_sectors;
    uint64_t end = h->gd_offset + *gd_sectors + n_gt * gt_sectors;
    h->overhead = (end + g - 1) / g * g;
}

/* A hosted sparse extent of capacity sectors in f, with desc (or an
 * empty descriptor area) embedded; the grain tables are the zeros of a
 * truncated file. */
static int make_sparse(img_file *f, uint64_t capacity, int zeroed_grain,
                       const char *desc, img_err *err)
{
    vmdk_header h;
    uint64_t gd_sectors, dlen = desc ? strlen(desc) : 0;
    sparse_header(&h, capacity, zeroed_grain, dlen, &gd_sectors);
    uint64_t n_gt = capacity ? (capacity - 1) /
                                   (h.grain * VMDK_GTES_PER_GT) + 1
                             : 0;
    uint8_t *buf = calloc(1 + h.desc_size, VMDK_SECTOR);
    if (!buf) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    vmdk_header_encode(&h, buf);
    memcpy(buf + VMDK_SECTOR, desc ? desc : "", dlen);
    int r = img_file_truncate(f, 0, err);
    if (r >= 0) {
        r = img_file_truncate(f, h.overhead * VMDK_SECTOR, err);
    }
    if (r >= 0) {
        r = img_file_pwrite(f, buf, (1 + h.desc_size) * VMDK_SECTOR, 0, err);
    }
    if (r >= 0) {
        r = write_gd(f, h.rgd_offset, n_gt, h.rgd_offset + gd_sectors, err);
    }
    if (r >= 0) {
        r = write_gd(f, h.gd_offset, n_gt, h.gd_offset + gd_sectors, err);
    }
    free(buf);
    return r;
}

/* ---- descriptors ---- */

/* The descriptor text for extents x[0..n). */
static char *format_desc(const plan *p, const vmdk_desc_extent *x, size_t n)
{
    vmdk_desc_out d = {
        .cid = p->cid,
        .parent_cid = p->parent_cid,
        .create_type = sub_names[p->fmt],
        .parent_hint = p->parent_hint,
        .extents = x,
        .n_extents = n,
        .hwversion = p->hwversion,
        .adapter = p->adapter,
        .tools = p->tools,
        .sectors = p->sectors,
        .uuid = p->uuid,
    };
    return vmdk_desc_format(&d);
}

/* Name of extent i (1-based) as written in the descriptor, and its path
 * next to the descriptor. */
static int extent_names(const plan *p, int i, char **name, char **path,
                        img_err *err)
{
    char tag[16];
    if (p->fmt == SUB_MONO_FLAT) {
        snprintf(tag, sizeof(tag), "-flat");
    } else {
        snprintf(tag, sizeof(tag), "-%c%03d",
                 p->fmt == SUB_SPLIT_SPARSE ? 's' : 'f', i);
    }
    *name = NULL;
    if (asprintf(path, "%s%s%s", p->prefix, tag, p->postfix) < 0) {
        *path = NULL;
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    const char *slash = strrchr(*path, '/');
    *name = strdup(slash ? slash + 1 : *path);
    return *name ? 0 : img_err_set(err, ENOMEM, "Out of memory");
}

/* Creates one extent file of the given sectors. */
static int make_extent_file(const plan *p, const char *path,
                            uint64_t sectors, img_err *err)
{
    img_file *f;
    int r = img_file_open_host(path, IMG_FILE_RDWR | IMG_FILE_CREATE, &f,
                               err);
    if (r < 0) {
        return r;
    }
    if (p->fmt == SUB_SPLIT_SPARSE) {
        r = make_sparse(f, sectors, p->zeroed_grain, NULL, err);
    } else {
        r = img_file_truncate(f, 0, err);
        if (r >= 0) {
            r = img_file_truncate(f, sectors * VMDK_SECTOR, err);
        }
    }
    if (r >= 0) {
        r = img_file_flush(f, err);
    }
    img_file_close(f);
    return r;
}

/* Extent files of flat and split images, then the descriptor file. */
static int create_multi(img_file *file, const plan *p, img_err *err)
{
    uint64_t split = p->fmt == SUB_MONO_FLAT ? p->sectors
                                             : VMDK_SPLIT_SECTORS;
    size_t n = p->sectors ? (size_t)((p->sectors + split - 1) / split) : 1;
    vmdk_desc_extent *x = calloc(n, sizeof(*x));
    char **paths = calloc(n, sizeof(*paths));
    int r = x && paths ? 0 : img_err_set(err, ENOMEM, "Out of memory");
    size_t made = 0;
    for (size_t i = 0; r >= 0 && i < n; i++) {
        uint64_t left = p->sectors - i * split;
        x[i].sectors = left < split ? left : split;
        x[i].type = p->fmt == SUB_SPLIT_SPARSE ? VMDK_EXT_SPARSE
                                               : VMDK_EXT_FLAT;
        r = extent_names(p, (int)i + 1, &x[i].name, &paths[i], err);
        if (r >= 0) {
            r = make_extent_file(p, paths[i], x[i].sectors, err);
            made += r >= 0;
        }
    }
    char *desc = r >= 0 ? format_desc(p, x, n) : NULL;
    if (r >= 0 && !desc) {
        r = img_err_set(err, ENOMEM, "Out of memory");
    }
    if (r >= 0) {
        r = img_file_truncate(file, 0, err);
    }
    if (r >= 0) {
        r = img_file_pwrite(file, desc, strlen(desc), 0, err);
    }
    for (size_t i = 0; x && i < n; i++) {
        if (r < 0 && i < made) {
            unlink(paths[i]); /* leave no half-made image behind */
        }
        free(x[i].name);
        free(paths[i]);
    }
    free(desc);
    free(x);
    free(paths);
    return r;
}

/* monolithicSparse and streamOptimized: one file, descriptor inside. */
static int create_single(img_file *file, const plan *p, img_err *err)
{
    const char *slash = p->path ? strrchr(p->path, '/') : NULL;
    char *name = (char *)(slash ? slash + 1 : p->path ? p->path
                                                      : "image.vmdk");
    vmdk_desc_extent x = {
        .access = VMDK_ACCESS_RW,
        .sectors = p->sectors,
        .type = VMDK_EXT_SPARSE,
        .name = name,
    };
    char *desc = format_desc(p, &x, 1);
    if (!desc) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = p->fmt == SUB_STREAM
                ? vmdk_stream_create(file, p->sectors, desc, err)
                : make_sparse(file, p->sectors, p->zeroed_grain, desc, err);
    free(desc);
    return r;
}

/* create hook (see vmdk.h). */
int vmdk_create(img_file *file, const img_create_opts *o, img_err *err)
{
    plan p;
    int r = make_plan(file, o, &p, err);
    if (r >= 0) {
        r = p.fmt == SUB_MONO_SPARSE || p.fmt == SUB_STREAM
                ? create_single(file, &p, err)
                : create_multi(file, &p, err);
    }
    free(p.prefix);
    free(p.postfix);
    return r;
}
