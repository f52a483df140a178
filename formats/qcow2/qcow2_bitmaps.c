/* formats/qcow2/qcow2_bitmaps.c -- the directory of persistent dirty
 * bitmaps (qcow2.txt "Bitmaps extension" and "Bitmap directory"), read
 * for `info`: each bitmap's name, flags and granularity.
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

/* Extension data: nb_bitmaps, reserved, directory size and offset. */
#define BITMAPS_EXT_LEN 24
/* Directory entry: fixed part, then extra data, then the name, padded. */
#define DIR_ENTRY_LEN 24
#define MAX_BITMAPS 65535u
#define MAX_NAME 1023u
#define MAX_DIRECTORY ((uint64_t)MAX_BITMAPS * 1024)
#define FLAG_IN_USE (1u << 0)
#define FLAG_AUTO (1u << 1)
#define FLAG_EXTRA_DATA_COMPATIBLE (1u << 2)
#define TYPE_DIRTY_TRACKING 1
#define MIN_GRANULARITY_BITS 9
#define MAX_GRANULARITY_BITS 31

/* The bitmaps extension, when the image has one and it is valid. */
static const qcow2_ext *bitmaps_ext(const qcow2_state *s)
{
    if (s->hdr.version < 3 || !(s->hdr.autoclear & QCOW2_AUTOCLEAR_BITMAPS)) {
        return NULL;
    }
    for (size_t i = 0; i < s->meta.nothers; i++) {
        if (s->meta.others[i].type == QCOW2_EXT_BITMAPS) {
            return &s->meta.others[i];
        }
    }
    return NULL;
}

static int corrupt(img_err *err, const char *what)
{
    return img_err_set(err, EINVAL, "Bitmap directory is invalid: %s", what);
}

/* The flags qemu-img lists, in its order. */
static img_val *flags_list(uint32_t flags)
{
    img_val *l = img_val_list_new();
    if (l && (flags & FLAG_IN_USE)) {
        img_val_list_append(l, img_val_str_new("in-use"));
    }
    if (l && (flags & FLAG_AUTO)) {
        img_val_list_append(l, img_val_str_new("auto"));
    }
    return l;
}

/* Decodes the entry at dir[p] (dsize bytes in all) into a dict for the
 * list; *next is where the next entry starts. */
static int decode_entry(const uint8_t *dir, uint64_t dsize, uint64_t p,
                        img_val *list, uint64_t *next, img_err *err)
{
    if (dsize - p < DIR_ENTRY_LEN) {
        return corrupt(err, "truncated entry");
    }
    const uint8_t *e = dir + p;
    uint32_t flags = qcow2_be32(e + 12);
    unsigned type = e[16], gbits = e[17];
    uint32_t name_len = qcow2_be16(e + 18);
    uint32_t extra = qcow2_be32(e + 20);
    if (type != TYPE_DIRTY_TRACKING || gbits < MIN_GRANULARITY_BITS ||
        gbits > MAX_GRANULARITY_BITS || name_len == 0 || name_len > MAX_NAME ||
        (flags & ~(FLAG_IN_USE | FLAG_AUTO | FLAG_EXTRA_DATA_COMPATIBLE)) ||
        (extra && !(flags & FLAG_EXTRA_DATA_COMPATIBLE))) {
        return corrupt(err, "bad entry");
    }
    uint64_t len = (uint64_t)DIR_ENTRY_LEN + extra + name_len;
    if (len > dsize - p) {
        return corrupt(err, "entry past the end");
    }
    char name[MAX_NAME + 1];
    memcpy(name, e + DIR_ENTRY_LEN + extra, name_len);
    name[name_len] = '\0';
    img_val *d = img_val_dict_new();
    if (!d) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    img_val_dict_set(d, "flags", flags_list(flags));
    img_val_dict_set_str(d, "name", name);
    img_val_dict_set_uint(d, "granularity", (uint64_t)1 << gbits);
    img_val_list_append(list, d);
    *next = p + ((len + 7) & ~(uint64_t)7);
    return 0;
}

/* Reads the directory and describes its nb entries into list. */
static int decode_directory(img_file *file, uint32_t nb, uint64_t dsize,
                            uint64_t doff, img_val *list, img_err *err)
{
    uint8_t *dir = malloc((size_t)dsize);
    if (!dir) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = img_file_pread(file, dir, (size_t)dsize, doff, err);
    uint64_t p = 0;
    for (uint32_t i = 0; r >= 0 && i < nb; i++) {
        if (p >= dsize) {
            r = corrupt(err, "fewer entries than the header says");
        } else {
            r = decode_entry(dir, dsize, p, list, &p, err);
        }
    }
    if (r >= 0 && p != dsize) {
        r = corrupt(err, "size does not match its entries");
    }
    free(dir);
    return r;
}

int qcow2_bitmaps_info(const qcow2_state *s, img_file *file, img_val **out,
                       img_err *err)
{
    *out = NULL;
    const qcow2_ext *x = bitmaps_ext(s);
    if (!x) {
        return 0;
    }
    if (x->len < BITMAPS_EXT_LEN) {
        return corrupt(err, "extension too short");
    }
    uint32_t nb = qcow2_be32(x->data);
    uint32_t reserved = qcow2_be32(x->data + 4);
    uint64_t dsize = qcow2_be64(x->data + 8);
    uint64_t doff = qcow2_be64(x->data + 16);
    if (nb == 0 || nb > MAX_BITMAPS || reserved != 0) {
        return corrupt(err, "bad bitmap count");
    }
    if (dsize < DIR_ENTRY_LEN || dsize > MAX_DIRECTORY ||
        doff % s->cluster_size != 0 || doff > s->file_size ||
        dsize > s->file_size - doff) {
        return corrupt(err, "directory outside the file or too large");
    }
    img_val *list = img_val_list_new();
    if (!list) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = decode_directory(file, nb, dsize, doff, list, err);
    if (r < 0) {
        img_val_free(list);
        return r;
    }
    *out = list;
    return 0;
}
