/* formats/qcow2/qcow2_create.c -- creating qcow2 images: the -o options
 * and the steps that make a file byte for byte like qemu-img's.
 *
 * Spec: QEMU docs/interop/qcow2.txt.  The option table is qemu-img 7.2's,
 * in the order its "Formatting ..." line prints them (encryption options,
 * cluster_size, extended_l2, preallocation, compression_type, then the
 * common ones, then the host file's nocow and extent_size_hint).
 *
 * Creation follows qemu-img's steps, so the layout comes out the same: a
 * minimal header in cluster 0, a refcount table in cluster 1 pointing at
 * an empty refcount block in cluster 2; the image is then opened, its
 * first three clusters allocated, the full header written, and the image
 * resized to its size (which allocates the L1 table in cluster 3, and
 * preallocates when asked).  Encryption is not supported.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/backing.h"
#include "qcow2.h"

const img_opt_desc qcow2_create_opts[] = {
    { .name = "encryption",
      .type = IMG_OPT_BOOL,
      .help = "Encrypt the image with format 'aes'. (Deprecated in favor "
              "of encrypt.format=aes)" },
    { .name = "encrypt.format",
      .type = IMG_OPT_STRING,
      .help = "Encrypt the image, format choices: 'aes', 'luks'" },
    { .name = "encrypt.key-secret",
      .type = IMG_OPT_STRING,
      .help = "ID of secret providing qcow AES key or LUKS passphrase" },
    { .name = "encrypt.cipher-alg",
      .type = IMG_OPT_STRING,
      .help = "Name of encryption cipher algorithm" },
    { .name = "encrypt.cipher-mode",
      .type = IMG_OPT_STRING,
      .help = "Name of encryption cipher mode" },
    { .name = "encrypt.ivgen-alg",
      .type = IMG_OPT_STRING,
      .help = "Name of IV generator algorithm" },
    { .name = "encrypt.ivgen-hash-alg",
      .type = IMG_OPT_STRING,
      .help = "Name of IV generator hash algorithm" },
    { .name = "encrypt.hash-alg",
      .type = IMG_OPT_STRING,
      .help = "Name of encryption hash algorithm" },
    { .name = "encrypt.iter-time",
      .type = IMG_OPT_NUMBER,
      .help = "Time to spend in PBKDF in milliseconds" },
    { .name = "cluster_size",
      .type = IMG_OPT_SIZE,
      .def = "65536",
      .help = "qcow2 cluster size" },
    { .name = "extended_l2",
      .type = IMG_OPT_BOOL,
      .def = "off",
      .help = "Extended L2 tables" },
    { .name = "preallocation",
      .type = IMG_OPT_STRING,
      .help = "Preallocation mode (allowed values: off, metadata, falloc, "
              "full)" },
    { .name = "compression_type",
      .type = IMG_OPT_STRING,
      .def = "zlib",
      .help = "Compression method used for image cluster compression" },
    { .name = "size", .type = IMG_OPT_SIZE, .help = "Virtual disk size" },
    { .name = "compat",
      .type = IMG_OPT_STRING,
      .help = "Compatibility level (v2 [0.10] or v3 [1.1])" },
    { .name = "backing_file",
      .type = IMG_OPT_STRING,
      .help = "File name of a base image" },
    { .name = "backing_fmt",
      .type = IMG_OPT_STRING,
      .help = "Image format of the base image" },
    { .name = "data_file",
      .type = IMG_OPT_STRING,
      .help = "File name of an external data file" },
    { .name = "data_file_raw",
      .type = IMG_OPT_BOOL,
      .help = "The external data file must stay valid as a raw image" },
    { .name = "lazy_refcounts",
      .type = IMG_OPT_BOOL,
      .def = "off",
      .help = "Postpone refcount updates" },
    { .name = "refcount_bits",
      .type = IMG_OPT_NUMBER,
      .def = "16",
      .help = "Width of a reference count entry in bits" },
    { .name = "nocow",
      .type = IMG_OPT_BOOL,
      .flags = IMG_OPT_PROTOCOL,
      .help = "Turn off copy-on-write (valid only on btrfs)" },
    { .name = "extent_size_hint",
      .type = IMG_OPT_SIZE,
      .flags = IMG_OPT_PROTOCOL,
      .help = "Extent size hint for the image file, 0 to disable" },
    { .name = NULL },
};

/* Everything create needs, validated. */
typedef struct create_params {
    uint32_t version; /* 2 or 3 */
    unsigned cluster_bits;
    unsigned refcount_order;
    int extl2, lazy, data_raw;
    int prealloc;          /* IMG_PREALLOC_* */
    uint8_t compression;   /* QCOW2_COMPRESSION_* */
    uint64_t size;         /* rounded up to 512 */
    const char *data_file; /* NULL: none */
    const char *backing_file;
    const char *backing_fmt;
} create_params;

/* Options may be NULL (library callers): then nothing is set. */
static const char *opt_str(const img_opts *o, const char *name)
{
    return o ? img_opts_value(o, name) : NULL;
}

static int opt_bool(const img_opts *o, const char *name)
{
    return o ? img_opts_get_bool(o, name, 0) : 0;
}

/* log2 of v when v is a power of two, else -1. */
static int log2_exact(uint64_t v)
{
    if (v == 0 || (v & (v - 1))) {
        return -1;
    }
    int n = 0;
    while (v >>= 1) {
        n++;
    }
    return n;
}

/* compat ("0.10"/"v2" or "1.1"/"v3") and encryption. */
static int parse_version(const img_opts *o, create_params *p, img_err *err)
{
    const char *compat = opt_str(o, "compat");
    if (!compat || !strcmp(compat, "1.1") || !strcmp(compat, "v3")) {
        p->version = 3;
    } else if (!strcmp(compat, "0.10") || !strcmp(compat, "v2")) {
        p->version = 2;
    } else {
        return img_err_set(err, EINVAL,
                           "Parameter 'version' does not "
                           "accept value '%s'",
                           compat);
    }
    if (opt_bool(o, "encryption") || opt_str(o, "encrypt.format")) {
        return img_err_set(err, ENOTSUP,
                           "Encrypted qcow2 images are not "
                           "supported; create the image without "
                           "encryption");
    }
    return 0;
}

/* cluster_size (with extended_l2) and refcount_bits. */
static int parse_geometry(const img_opts *o, create_params *p, img_err *err)
{
    uint64_t cs = o ? img_opts_get_size(o, "cluster_size", 65536) : 65536;
    int bits = log2_exact(cs);
    p->extl2 = opt_bool(o, "extended_l2");
    if (bits < QCOW2_MIN_CLUSTER_BITS || bits > QCOW2_MAX_CLUSTER_BITS) {
        return img_err_set(err, EINVAL,
                           "Cluster size must be a power of two "
                           "between 512 and 2048k");
    }
    if (p->extl2 && bits < QCOW2_MIN_EXTL2_CLUSTER_BITS) {
        return img_err_set(err, EINVAL,
                           "Extended L2 entries are only "
                           "supported with cluster sizes of at least 16384 "
                           "bytes");
    }
    p->cluster_bits = (unsigned)bits;
    uint64_t rb = o ? img_opts_get_number(o, "refcount_bits", 16) : 16;
    int order = log2_exact(rb);
    if (order < 0 || order > QCOW2_MAX_REFCOUNT_ORDER) {
        return img_err_set(err, EINVAL,
                           "Refcount width must be a power of "
                           "two and may not exceed 64 bits");
    }
    p->refcount_order = (unsigned)order;
    return 0;
}

/* preallocation: off, metadata, falloc or full. */
static int parse_prealloc(const img_opts *o, create_params *p, img_err *err)
{
    static const char *const modes[] = { "off", "metadata", "falloc", "full" };
    const char *mode = opt_str(o, "preallocation");
    p->prealloc = IMG_PREALLOC_OFF;
    for (int i = 0; mode && i < 4; i++) {
        if (!strcmp(mode, modes[i])) {
            p->prealloc = i;
            return 0;
        }
    }
    if (mode) {
        return img_err_set(err, EINVAL,
                           "Parameter 'preallocation' does not "
                           "accept value '%s'",
                           mode);
    }
    return 0;
}

/* compression_type: zlib or (when built with libzstd) zstd. */
static int parse_compression(const img_opts *o, create_params *p, img_err *err)
{
    const char *c = opt_str(o, "compression_type");
    p->compression = QCOW2_COMPRESSION_ZLIB;
    if (!c || !strcmp(c, "zlib")) {
        return 0;
    }
    if (strcmp(c, "zstd") != 0) {
        return img_err_set(err, EINVAL,
                           "Parameter 'compression-type' does "
                           "not accept value '%s'",
                           c);
    }
#ifndef IMG_HAVE_ZSTD
    return img_err_set(err, ENOTSUP,
                       "Compression type 'zstd' is not "
                       "supported by this build");
#endif
    p->compression = QCOW2_COMPRESSION_ZSTD;
    return 0;
}

/* Combinations that need version 3 (QEMU's messages). */
static int check_v3_only(const create_params *p, img_err *err)
{
    const char *what = NULL;
    if (p->version >= 3) {
        return 0;
    }
    if (p->lazy) {
        what = "Lazy refcounts only supported";
    } else if (p->refcount_order != QCOW2_V2_REFCOUNT_ORDER) {
        return img_err_set(err, EINVAL,
                           "Different refcount widths than 16 "
                           "bits require compatibility level 1.1 or above "
                           "(use version=v3 or greater)");
    } else if (p->data_file) {
        what = "External data files are only supported";
    } else if (p->compression != QCOW2_COMPRESSION_ZLIB) {
        what = "Non-zlib compression type is only supported";
    } else if (p->extl2) {
        what = "Extended L2 entries are only supported";
    }
    if (what) {
        return img_err_set(err, EINVAL,
                           "%s with compatibility level 1.1 and "
                           "above (use version=v3 or greater)",
                           what);
    }
    return 0;
}

/* Backing file and data file rules. */
static int check_files(create_params *p, img_err *err)
{
    if (p->backing_file && p->prealloc != IMG_PREALLOC_OFF && !p->extl2) {
        return img_err_set(err, EINVAL,
                           "Backing file and preallocation can "
                           "only be used at the same time if extended_l2 is "
                           "on");
    }
    if (p->backing_fmt && !p->backing_file) {
        return img_err_set(err, EINVAL,
                           "Backing format cannot be used "
                           "without backing file");
    }
    if (p->backing_file && strlen(p->backing_file) > QCOW2_MAX_BACKING_NAME) {
        return img_err_set(err, EINVAL, "Backing file name too long");
    }
    if (p->data_raw && !p->data_file) {
        return img_err_set(err, EINVAL, "data-file-raw requires data-file");
    }
    if (p->data_raw && p->backing_file) {
        return img_err_set(err, EINVAL,
                           "Backing file and data-file-raw "
                           "cannot be used at the same time");
    }
    if (p->data_raw && p->prealloc == IMG_PREALLOC_OFF) {
        /* the data file must map one to one: the tables are filled */
        p->prealloc = IMG_PREALLOC_METADATA;
    }
    return 0;
}

/* QEMU's order of checks (the first problem is the one reported). */
static int parse_params(const img_create_opts *co, create_params *p,
                        img_err *err)
{
    const img_opts *o = co->opts;
    memset(p, 0, sizeof(*p));
    p->size =
        co->size > UINT64_MAX - 511 ? co->size : (co->size + 511) & ~511ull;
    /* -b/-F arrive in both places from the CLI; library callers may use
     * either */
    p->backing_file =
        co->backing_file ? co->backing_file : opt_str(o, "backing_file");
    p->backing_fmt =
        co->backing_fmt ? co->backing_fmt : opt_str(o, "backing_fmt");
    p->data_file = opt_str(o, "data_file");
    p->lazy = opt_bool(o, "lazy_refcounts");
    p->data_raw = opt_bool(o, "data_file_raw");
    int r = parse_version(o, p, err);
    if (r >= 0) {
        r = parse_geometry(o, p, err);
    }
    if (r >= 0) {
        r = parse_prealloc(o, p, err);
    }
    if (r >= 0) {
        r = parse_compression(o, p, err);
    }
    if (r >= 0) {
        r = check_files(p, err);
    }
    if (r >= 0) {
        r = check_v3_only(p, err);
    }
    unsigned l2_bits = p->cluster_bits - (p->extl2 ? 4 : 3);
    if (r >= 0 && (p->size > INT64_MAX ||
                   qcow2_l1_entries_for(p->cluster_bits, l2_bits, p->size) >
                       QCOW2_MAX_L1_BYTES / QCOW2_L1E_SIZE)) {
        r = img_err_set(err, EFBIG,
                        "The image size is too large for file "
                        "format 'qcow2' (try using a larger cluster size)");
    }
    return r;
}

/* The header fields of the new, still empty image. */
static void initial_header(const create_params *p, qcow2_state *s)
{
    qcow2_header *h = &s->hdr;
    memset(h, 0, sizeof(*h));
    h->version = p->version;
    h->cluster_bits = p->cluster_bits;
    h->reftable_offset = 1ull << p->cluster_bits;
    h->reftable_clusters = 1;
    h->refcount_order = p->refcount_order;
    h->header_length = p->version >= 3 ? QCOW2_HDR_V3_LEN : QCOW2_HDR_V2_LEN;
    h->compression_type = p->compression;
    h->compat = p->lazy ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0;
    h->incompat = (p->data_file ? QCOW2_INCOMPAT_DATA_FILE : 0) |
                  (p->extl2 ? QCOW2_INCOMPAT_EXTL2 : 0) |
                  (p->compression ? QCOW2_INCOMPAT_COMPRESSION : 0);
    h->autoclear = p->data_raw ? QCOW2_AUTOCLEAR_DATA_RAW : 0;
    s->cluster_bits = p->cluster_bits;
    s->cluster_size = 1ull << p->cluster_bits;
}

/* Cluster 0: the header; cluster 1: a refcount table whose first entry
 * points at cluster 2, an empty refcount block. */
static int write_initial(img_file *file, const create_params *p, img_err *err)
{
    qcow2_state *s = calloc(1, sizeof(*s));
    uint64_t cs = 1ull << p->cluster_bits;
    uint8_t *buf = calloc(3, cs);
    int r = s && buf ? 0 : img_err_set(err, ENOMEM, "Out of memory");
    if (r >= 0) {
        initial_header(p, s);
        s->meta.data_file = (char *)p->data_file; /* borrowed */
        r = qcow2_header_encode(s, NULL, NULL, buf, err);
        s->meta.data_file = NULL;
    }
    if (r >= 0) {
        qcow2_put_be64(buf + cs, 2 * cs);
        r = img_file_truncate(file, 0, err);
    }
    if (r >= 0) {
        r = img_file_pwrite(file, buf, cs, 0, err);
    }
    if (r >= 0) {
        r = img_file_pwrite(file, buf + cs, 2 * cs, cs, err);
    }
    free(buf);
    free(s);
    return r;
}

/* Creates (empty) the external data file, named relative to the image's
 * directory as our reader resolves it. */
static int create_data_file(img_file *file, const char *name, img_err *err)
{
    char *path = img_backing_resolve(file->path ? file->path : "", name);
    if (!path) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    img_file *f;
    int r = img_file_open_host(path, IMG_FILE_RDWR | IMG_FILE_CREATE, &f, err);
    free(path);
    if (r < 0) {
        img_err_prepend(err, "Could not create data file '%s': ", name);
        return r;
    }
    img_file_close(f);
    return 0;
}

/* The steps on the opened image: header clusters, full header, size. */
static int format_image(img *im, const create_params *p, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t off;
    int r = qcow2_alloc_clusters(s, im->file, 3 * s->cluster_size, &off, err);
    if (r >= 0 && off != 0) {
        r = img_err_set(err, EIO,
                        "The first clusters of a new image are "
                        "in use");
    }
    if (r >= 0) {
        r = qcow2_header_rewrite(s, im->file, p->backing_file,
                                 p->backing_file ? p->backing_fmt : NULL, err);
    }
    if (r >= 0) {
        r = qcow2_truncate(im, p->size, p->prealloc, err);
    }
    if (r >= 0) {
        im->size = p->size;
        r = qcow2_flush(im, err);
    }
    return r;
}

/* Opens the new image on a handle of our own (no locks, no backing). */
static int open_and_format(img_file *file, const create_params *p, img_err *err)
{
    img im;
    memset(&im, 0, sizeof(im));
    im.drv = &img_qcow2_driver;
    im.file = file;
    im.filename = file->path ? file->path : (char *)"";
    im.flags =
        IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK | IMG_OPEN_NO_BACKING | IMG_OPEN_QUIET;
    qcow2_state *s = calloc(1, sizeof(*s));
    if (!s) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    im.state = s;
    s->creating = 1; /* no lazy refcounts while formatting */
    int r = qcow2_open(&im, file, im.flags, err);
    if (r >= 0) {
        r = format_image(&im, p, err);
        qcow2_close(&im);
    }
    free(im.backing_name);
    free(im.backing_fmt);
    free(s);
    return r;
}

/* Validates everything before writing anything (except the data file,
 * which the image's header names and must exist when it is opened). */
int qcow2_create(img_file *file, const img_create_opts *o, img_err *err)
{
    create_params p;
    int r = parse_params(o, &p, err);
    if (r >= 0 && p.data_file) {
        r = create_data_file(file, p.data_file, err);
    }
    if (r >= 0) {
        r = write_initial(file, &p, err);
    }
    if (r >= 0) {
        r = open_and_format(file, &p, err);
    }
    return r;
}
