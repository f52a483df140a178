/* formats/qcow2/qcow2_bitmaps.c -- the directory of persistent dirty
 * bitmaps (qcow2.txt "Bitmaps extension" and "Bitmap directory"): decoded
 * into qcow2_bitmap entries (for `info`, and for the `bitmap` command in
 * qcow2_bitmaps_write.c), listed for `info` (each bitmap's name,
 * flags and granularity) and for convert --bitmaps.
 *
 * The bitmaps count only while the autoclear bit says they are valid: a
 * program that writes the image without knowing bitmaps clears that bit
 * (vdisk does, see qcow2_meta.c), and then, as for QEMU, there are none.
 * Every size and offset comes from the file, so each is bounded before
 * anything is allocated or read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

static int corrupt(img_err *err, const char *what)
{
    return img_err_set(err, EINVAL, "Bitmap directory is invalid: %s", what);
}

const qcow2_ext *qcow2_bitmaps_ext(const qcow2_state *s)
{
    const qcow2_ext *x = NULL;
    for (size_t i = 0; i < s->meta.nothers; i++) {
        if (s->meta.others[i].type == QCOW2_EXT_BITMAPS) {
            x = &s->meta.others[i];
        }
    }
    return x;
}

/* Decodes the entry at dir[p] (dsize bytes in all) into b; *next is
 * where the next entry starts. */
static int decode_entry(const uint8_t *dir, uint64_t dsize, uint64_t p,
                        qcow2_bitmap *b, uint64_t *next, img_err *err)
{
    if (dsize - p < QCOW2_BME_LEN) {
        return corrupt(err, "truncated entry");
    }
    const uint8_t *e = dir + p;
    b->table_off = qcow2_be64(e);
    b->table_size = qcow2_be32(e + 8);
    b->flags = qcow2_be32(e + 12);
    b->type = e[16];
    b->gbits = e[17];
    uint32_t name_len = qcow2_be16(e + 18);
    b->extra_len = qcow2_be32(e + 20);
    if (b->type != QCOW2_BME_TYPE_DIRTY ||
        b->gbits < QCOW2_BME_MIN_GRANULARITY_BITS ||
        b->gbits > QCOW2_BME_MAX_GRANULARITY_BITS || name_len == 0 ||
        name_len > QCOW2_BME_MAX_NAME ||
        (b->flags & ~(uint32_t)QCOW2_BME_KNOWN_FLAGS) ||
        (b->extra_len && !(b->flags & QCOW2_BME_FLAG_EXTRA_COMPATIBLE))) {
        return corrupt(err, "bad entry");
    }
    uint64_t len = (uint64_t)QCOW2_BME_LEN + b->extra_len + name_len;
    if (len > dsize - p) {
        return corrupt(err, "entry past the end");
    }
    b->name = malloc(name_len + 1);
    b->extra = malloc(b->extra_len ? b->extra_len : 1);
    if (!b->name || !b->extra) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    memcpy(b->extra, e + QCOW2_BME_LEN, b->extra_len);
    memcpy(b->name, e + QCOW2_BME_LEN + b->extra_len, name_len);
    b->name[name_len] = '\0';
    *next = p + ((len + 7) & ~(uint64_t)7);
    return 0;
}

/* Reads the directory and decodes its d->n entries. */
static int decode_directory(img_file *file, qcow2_bitmap_dir *d,
                            img_err *err)
{
    uint8_t *dir = malloc((size_t)d->size);
    d->b = calloc(d->n, sizeof(*d->b));
    if (!dir || !d->b) {
        free(dir);
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = img_file_pread(file, dir, (size_t)d->size, d->off, err);
    uint64_t p = 0;
    for (uint32_t i = 0; r >= 0 && i < d->n; i++) {
        if (p >= d->size) {
            r = corrupt(err, "fewer entries than the header says");
        } else {
            r = decode_entry(dir, d->size, p, &d->b[i], &p, err);
        }
    }
    if (r >= 0 && p != d->size) {
        r = corrupt(err, "size does not match its entries");
    }
    free(dir);
    return r;
}

int qcow2_bitmap_dir_load(const qcow2_state *s, img_file *file,
                          qcow2_bitmap_dir *d, img_err *err)
{
    memset(d, 0, sizeof(*d));
    const qcow2_ext *x = qcow2_bitmaps_ext(s);
    if (!x || s->hdr.version < 3 ||
        !(s->hdr.autoclear & QCOW2_AUTOCLEAR_BITMAPS)) {
        return 0;
    }
    if (x->len < QCOW2_BITMAPS_EXT_LEN) {
        return corrupt(err, "extension too short");
    }
    uint32_t nb = qcow2_be32(x->data);
    uint32_t reserved = qcow2_be32(x->data + 4);
    d->size = qcow2_be64(x->data + 8);
    d->off = qcow2_be64(x->data + 16);
    if (nb == 0 || nb > QCOW2_MAX_BITMAPS || reserved != 0) {
        return corrupt(err, "bad bitmap count");
    }
    if (d->size < QCOW2_BME_LEN || d->size > QCOW2_MAX_BITMAP_DIRECTORY ||
        d->off % s->cluster_size != 0 || d->off > s->file_size ||
        d->size > s->file_size - d->off) {
        return corrupt(err, "directory outside the file or too large");
    }
    d->n = nb;
    int r = decode_directory(file, d, err);
    if (r < 0) {
        qcow2_bitmap_dir_free(d);
    }
    return r;
}

void qcow2_bitmap_dir_free(qcow2_bitmap_dir *d)
{
    for (uint32_t i = 0; d->b && i < d->n; i++) {
        free(d->b[i].name);
        free(d->b[i].extra);
    }
    free(d->b);
    memset(d, 0, sizeof(*d));
}

/* The flags qemu-img lists, in its order. */
static img_val *flags_list(uint32_t flags)
{
    img_val *l = img_val_list_new();
    if (l && (flags & QCOW2_BME_FLAG_IN_USE)) {
        img_val_list_append(l, img_val_str_new("in-use"));
    }
    if (l && (flags & QCOW2_BME_FLAG_AUTO)) {
        img_val_list_append(l, img_val_str_new("auto"));
    }
    return l;
}

int qcow2_bitmaps_info(const qcow2_state *s, img_file *file, img_val **out,
                       img_err *err)
{
    *out = NULL;
    qcow2_bitmap_dir d;
    int r = qcow2_bitmap_dir_load(s, file, &d, err);
    if (r < 0 || d.n == 0) {
        return r;
    }
    img_val *list = img_val_list_new();
    for (uint32_t i = 0; list && i < d.n; i++) {
        img_val *e = img_val_dict_new();
        img_val_dict_set(e, "flags", flags_list(d.b[i].flags));
        img_val_dict_set_str(e, "name", d.b[i].name);
        img_val_dict_set_uint(e, "granularity", (uint64_t)1 << d.b[i].gbits);
        img_val_list_append(list, e);
    }
    qcow2_bitmap_dir_free(&d);
    if (!list) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    *out = list;
    return 0;
}

int qcow2_bitmap_list(img *im, img_bitmap_info **out, size_t *n,
                      img_err *err)
{
    const qcow2_state *s = im->state;
    *out = NULL;
    *n = 0;
    if (s->hdr.version < 3) {
        return img_err_set(err, ENOTSUP, "Format driver 'qcow2' does not "
                           "support bitmaps");
    }
    qcow2_bitmap_dir d;
    int r = qcow2_bitmap_dir_load(s, im->file, &d, err);
    img_bitmap_info *l = r >= 0 && d.n ? calloc(d.n, sizeof(*l)) : NULL;
    if (r >= 0 && d.n && !l) {
        r = img_err_set(err, ENOMEM, "Out of memory");
    }
    for (uint32_t i = 0; l && i < d.n; i++) {
        l[i].name = d.b[i].name;
        d.b[i].name = NULL;
        l[i].granularity = (uint64_t)1 << d.b[i].gbits;
        l[i].enabled = !!(d.b[i].flags & QCOW2_BME_FLAG_AUTO);
        l[i].inconsistent = !!(d.b[i].flags & QCOW2_BME_FLAG_IN_USE);
    }
    if (l) {
        *out = l;
        *n = d.n;
    }
    qcow2_bitmap_dir_free(&d);
    return r;
}
