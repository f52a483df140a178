/* formats/qcow2/qcow2_amend.c -- "qemu-img amend" for qcow2: the amend
 * options and the changes they ask for, in QEMU 7.2's order and with its
 * messages.
 *
 * Spec: QEMU docs/interop/qcow2.txt ("Header": version, feature bits,
 * refcount_order).  The steps are QEMU's qcow2_amend_options(): the
 * options are checked in table order; an upgrade to version 3 comes
 * first, then a new refcount width (qcow2_refcount_order.c), the data
 * file settings and a header rewrite, the (refused) backing file change,
 * lazy refcounts on or off (off: the image is made clean first), a new
 * size, and a downgrade to version 2 last.  A downgrade refuses what
 * version 2 cannot express (other refcount widths, data files, extended
 * L2 entries, snapshots of another size) and turns zero clusters into
 * something version 2 reads the same (qcow2_zero_expand.c).
 *
 * Every header change rewrites the whole first cluster from the state
 * (qcow2_header_rewrite), so extensions we do not know are kept.  The
 * rewrite is the last step of each change: what it points at is written
 * and flushed before it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* QEMU's qcow2_amend_opts, in its order (the LUKS options, then the
 * options every qcow2 image has). */
const img_opt_desc qcow2_amend_opts[] = {
    { .name = "encrypt.state", .type = IMG_OPT_STRING,
      .help = "Select new state of affected keyslots (active/inactive)" },
    { .name = "encrypt.keyslot", .type = IMG_OPT_NUMBER,
      .help = "Select a single keyslot to modify explicitly" },
    { .name = "encrypt.old-secret", .type = IMG_OPT_STRING,
      .help = "Select all keyslots that match this password" },
    { .name = "encrypt.new-secret", .type = IMG_OPT_STRING,
      .help = "New secret to set in the matching keyslots. Empty string "
              "to erase" },
    { .name = "encrypt.iter-time", .type = IMG_OPT_NUMBER,
      .help = "Time to spend in PBKDF in milliseconds" },
    { .name = "size", .type = IMG_OPT_SIZE, .help = "Virtual disk size" },
    { .name = "compat", .type = IMG_OPT_STRING,
      .help = "Compatibility level (v2 [0.10] or v3 [1.1])" },
    { .name = "backing_file", .type = IMG_OPT_STRING,
      .help = "File name of a base image" },
    { .name = "backing_fmt", .type = IMG_OPT_STRING,
      .help = "Image format of the base image" },
    { .name = "data_file", .type = IMG_OPT_STRING,
      .help = "File name of an external data file" },
    { .name = "data_file_raw", .type = IMG_OPT_BOOL,
      .help = "The external data file must stay valid as a raw image" },
    { .name = "lazy_refcounts", .type = IMG_OPT_BOOL,
      .help = "Postpone refcount updates" },
    { .name = "refcount_bits", .type = IMG_OPT_NUMBER,
      .help = "Width of a reference count entry in bits" },
    { .name = NULL },
};

/* What the options ask for (unset options keep the current value). */
typedef struct amend_req {
    uint32_t version;
    uint64_t size;            /* 0: unchanged */
    const char *backing_file; /* NULL: not given */
    const char *backing_fmt;
    const char *data_file;    /* NULL: not given */
    int lazy;
    int data_raw;
    unsigned refcount_order;
} amend_req;

static int str_eq0(const char *a, const char *b)
{
    return a && b ? !strcmp(a, b) : a == b;
}

/* compat: "0.10"/"v2" or "1.1"/"v3". */
static int parse_compat(const char *v, amend_req *q, img_err *err)
{
    if (!strcmp(v, "0.10") || !strcmp(v, "v2")) {
        q->version = 2;
    } else if (!strcmp(v, "1.1") || !strcmp(v, "v3")) {
        q->version = 3;
    } else {
        return img_err_set(err, EINVAL, "Unknown compatibility level %s", v);
    }
    return 0;
}

static int parse_refcount_bits(const img_opts *o, amend_req *q, img_err *err)
{
    uint64_t bits = img_opts_get_number(o, "refcount_bits", 16);
    if (bits == 0 || bits > 64 || (bits & (bits - 1))) {
        return img_err_set(err, EINVAL, "Refcount width must be a power of "
                           "two and may not exceed 64 bits");
    }
    unsigned order = 0;
    while ((1ull << order) < bits) {
        order++;
    }
    q->refcount_order = order;
    return 0;
}

/* Encryption options: only LUKS could be amended, and we write no
 * encrypted images at all. */
static int parse_encrypt(const qcow2_state *s, img_err *err)
{
    if (s->hdr.crypt_method == QCOW2_CRYPT_NONE) {
        return img_err_set(err, EINVAL, "Can't amend encryption options - "
                           "encryption not present");
    }
    if (s->hdr.crypt_method != QCOW2_CRYPT_LUKS) {
        return img_err_set(err, ENOTSUP, "Only LUKS encryption options can "
                           "be amended");
    }
    return img_err_set(err, ENOTSUP, "Amending encryption options is not "
                       "supported");
}

/* One option that is set, by name. */
static int parse_one(const qcow2_state *s, const img_opts *o,
                     const char *name, amend_req *q, img_err *err)
{
    const char *v = img_opts_value(o, name);
    if (!strncmp(name, "encrypt.", 8)) {
        return parse_encrypt(s, err);
    } else if (!strcmp(name, "compat")) {
        return v ? parse_compat(v, q, err) : 0;
    } else if (!strcmp(name, "size")) {
        q->size = img_opts_get_size(o, name, 0);
    } else if (!strcmp(name, "backing_file")) {
        q->backing_file = v;
    } else if (!strcmp(name, "backing_fmt")) {
        q->backing_fmt = v;
    } else if (!strcmp(name, "lazy_refcounts")) {
        q->lazy = img_opts_get_bool(o, name, q->lazy);
    } else if (!strcmp(name, "refcount_bits")) {
        return parse_refcount_bits(o, q, err);
    } else if (!strcmp(name, "data_file")) {
        q->data_file = v;
        if (v && !s->data_file_used) {
            return img_err_set(err, EINVAL, "data-file can only be set for "
                               "images that use an external data file");
        }
    } else if (!strcmp(name, "data_file_raw")) {
        q->data_raw = img_opts_get_bool(o, name, q->data_raw);
        if (q->data_raw && !(s->hdr.autoclear & QCOW2_AUTOCLEAR_DATA_RAW)) {
            return img_err_set(err, EINVAL, "data-file-raw cannot be set on "
                               "existing images");
        }
    }
    return 0;
}

/* The options in table order (so the first problem QEMU reports is the
 * one reported). */
static int parse_request(const qcow2_state *s, const img_opts *o,
                         amend_req *q, img_err *err)
{
    memset(q, 0, sizeof(*q));
    q->version = s->hdr.version;
    q->lazy = (s->hdr.compat & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0;
    q->data_raw = (s->hdr.autoclear & QCOW2_AUTOCLEAR_DATA_RAW) != 0;
    q->refcount_order = s->hdr.refcount_order;
    const img_opt_desc *d = img_opts_desc(o);
    for (; d && d->name; d++) {
        if (!img_opts_is_set(o, d->name)) {
            continue;
        }
        int r = parse_one(s, o, d->name, q, err);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* ---- progress: QEMU's Qcow2AmendHelperCBInfo arithmetic --------------- */

void qcow2_amend_progress_report(qcow2_amend_progress *p, uint64_t done,
                                 uint64_t work)
{
    if (!p || !p->cb || p->total_ops <= 0) {
        return;
    }
    if (p->current != p->last) {
        if (p->last != 0) {
            p->offset_done += p->last_work;
            p->ops_done++;
        }
        p->last = p->current;
    }
    p->last_work = work;
    uint64_t current = p->offset_done + work;
    /* projection for the operations still to come */
    uint64_t projected = current * (uint64_t)(p->total_ops - p->ops_done - 1) /
                         (uint64_t)(p->ops_done + 1);
    if (current + projected > 0) {
        p->cb(p->opaque, p->offset_done + done, current + projected);
    }
}

/* ---- the steps -------------------------------------------------------- */

static int rewrite_header(img *im, img_err *err)
{
    qcow2_state *s = im->state;
    int r = qcow2_meta_flush(s, im->file, err);
    if (r >= 0) {
        r = qcow2_header_rewrite(s, im->file, im->backing_name,
                                 im->backing_fmt, err);
    }
    return r;
}

/* Version 2 snapshots may lack the extra data version 3 requires. */
static int upgrade(img *im, qcow2_amend_progress *p, img_err *err)
{
    qcow2_state *s = im->state;
    p->current = QCOW2_AMEND_UPGRADE;
    qcow2_amend_progress_report(p, 0, 2);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (s->snapshots[i].extra_size < 16) {
            return img_err_set(err, ENOTSUP, "Upgrading images with "
                               "version 2 snapshot entries is not "
                               "supported");
        }
    }
    qcow2_amend_progress_report(p, 1, 2);
    uint32_t old = s->hdr.version;
    s->hdr.version = 3;
    s->hdr.header_length = QCOW2_HDR_V3_LEN;
    int r = rewrite_header(im, err);
    if (r < 0) {
        s->hdr.version = old;
        s->hdr.header_length = QCOW2_HDR_V2_LEN;
        img_err_prepend(err, "Failed to update the image header: ");
        return r;
    }
    qcow2_amend_progress_report(p, 2, 2);
    return 0;
}

/* Lazy refcounts on: only the compatible bit changes. */
static int lazy_on(img *im, uint32_t version, img_err *err)
{
    qcow2_state *s = im->state;
    if (version < 3) {
        return img_err_set(err, EINVAL, "Lazy refcounts only supported with "
                           "compatibility level 1.1 and above (use "
                           "compat=1.1 or greater)");
    }
    s->hdr.compat |= QCOW2_COMPAT_LAZY_REFCOUNTS;
    int r = rewrite_header(im, err);
    if (r < 0) {
        s->hdr.compat &= ~QCOW2_COMPAT_LAZY_REFCOUNTS;
        img_err_prepend(err, "Failed to update the image header: ");
        return r;
    }
    s->lazy = 1;
    return 0;
}

/* Lazy refcounts off: everything flushed and the dirty bit cleared
 * first, so that the refcounts on disk are right when the bit goes. */
static int lazy_off(img *im, img_err *err)
{
    qcow2_state *s = im->state;
    int r = qcow2_mark_clean(s, im->file, err);
    if (r < 0) {
        img_err_prepend(err, "Failed to make the image clean: ");
        return r;
    }
    s->lazy = 0;
    s->hdr.compat &= ~QCOW2_COMPAT_LAZY_REFCOUNTS;
    r = rewrite_header(im, err);
    if (r < 0) {
        s->hdr.compat |= QCOW2_COMPAT_LAZY_REFCOUNTS;
        s->lazy = 1;
        img_err_prepend(err, "Failed to update the image header: ");
    }
    return r;
}

/* The data file name and the raw flag, then the header. */
static int data_file_and_header(img *im, const amend_req *q, img_err *err)
{
    qcow2_state *s = im->state;
    if (q->data_raw) {
        s->hdr.autoclear |= QCOW2_AUTOCLEAR_DATA_RAW;
    } else {
        s->hdr.autoclear &= ~QCOW2_AUTOCLEAR_DATA_RAW;
    }
    if (q->data_file) {
        char *name = q->data_file[0] ? strdup(q->data_file) : NULL;
        if (q->data_file[0] && !name) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        free(s->meta.data_file);
        s->meta.data_file = name;
    }
    int r = rewrite_header(im, err);
    if (r < 0) {
        img_err_prepend(err, "Failed to update the image header: ");
    }
    return r;
}

/* amend cannot change the backing file (QEMU 7.2 refers to rebase). */
static int check_backing(const img *im, const amend_req *q, img_err *err)
{
    if (!q->backing_file && !q->backing_fmt) {
        return 0;
    }
    if (str_eq0(q->backing_file, im->backing_name) &&
        str_eq0(q->backing_fmt, im->backing_fmt)) {
        return 0;
    }
    return img_err_set(err, EINVAL, "Cannot amend the backing file\n"
                       "You can use 'qemu-img rebase' instead.");
}

static int lazy_step(img *im, const amend_req *q, img_err *err)
{
    qcow2_state *s = im->state;
    int cur = (s->hdr.compat & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0;
    if (cur == q->lazy) {
        return 0;
    }
    return q->lazy ? lazy_on(im, q->version, err) : lazy_off(im, err);
}

/* QEMU passes exact=true: the image gets this size, growing or not. */
static int resize_step(img *im, uint64_t size, img_err *err)
{
    if (size == 0 || size == im->size) {
        return 0;
    }
    int r = qcow2_truncate(im, size, IMG_PREALLOC_OFF, err);
    if (r >= 0) {
        im->size = size;
    }
    return r;
}

static int refcount_step(img *im, const amend_req *q,
                         qcow2_amend_progress *p, img_err *err)
{
    qcow2_state *s = im->state;
    if (q->refcount_order == s->hdr.refcount_order) {
        return 0;
    }
    if (q->version < 3 && q->refcount_order != QCOW2_V2_REFCOUNT_ORDER) {
        return img_err_set(err, EINVAL, "Refcount widths other than 16 bits "
                           "require compatibility level 1.1 or above (use "
                           "compat=1.1 or greater)");
    }
    p->current = QCOW2_AMEND_REFCOUNT_ORDER;
    return qcow2_change_refcount_order(im, q->refcount_order, p, err);
}

static int run_steps(img *im, const amend_req *q, qcow2_amend_progress *p,
                     img_err *err)
{
    qcow2_state *s = im->state;
    uint32_t old_version = s->hdr.version;
    int r = 0;
    if (q->version > old_version) {
        r = upgrade(im, p, err);
    }
    if (r >= 0) {
        r = refcount_step(im, q, p, err);
    }
    if (r >= 0) {
        r = data_file_and_header(im, q, err);
    }
    if (r >= 0) {
        r = check_backing(im, q, err);
    }
    if (r >= 0) {
        r = lazy_step(im, q, err);
    }
    if (r >= 0) {
        r = resize_step(im, q->size, err);
    }
    if (r >= 0 && q->version < old_version) {
        p->current = QCOW2_AMEND_DOWNGRADE;
        r = qcow2_downgrade(im, p, err);
    }
    return r;
}

int qcow2_amend(img *im, const img_opts *opts, int force, img_progress_fn cb,
                void *opaque, img_err *err)
{
    qcow2_state *s = im->state;
    amend_req q;
    (void)force; /* only meaningful for encryption changes */
    int r = parse_request(s, opts, &q, err);
    if (r < 0) {
        return r;
    }
    qcow2_amend_progress p = { .cb = cb, .opaque = opaque };
    p.total_ops = (q.version != s->hdr.version) +
                  (q.refcount_order != s->hdr.refcount_order);
    r = run_steps(im, &q, &p, err);
    if (r >= 0) {
        r = qcow2_meta_flush(s, im->file, err);
    }
    return r;
}
