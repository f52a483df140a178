/* formats/qcow2/qcow2_bitmaps_write.c -- the `bitmap` command's changes
 * to persistent bitmaps: add (an empty bitmap), remove, clear, enable,
 * disable and merge (its contents: qcow2_bitmaps_merge.c), as qemu-img
 * bitmap makes them.
 *
 * Crash safety: new clusters (a bitmap table, the new directory) are
 * written, and their refcounts flushed, before the header points at
 * them; clusters that are no longer used are freed only after the header
 * has moved on.  A crash leaves at worst leaked clusters.  Nothing else
 * changes, so the bitmaps stay valid: the autoclear bit is kept set
 * (keep_bitmaps), and cleared only when the last bitmap goes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2.h"

/* QEMU's limit on a bitmap's data, which bounds its table. */
#define MAX_BITMAP_BYTES ((uint64_t)512 << 20)
/* The default granularity: 64 KiB, or the cluster size when larger. */
#define DEFAULT_GRANULARITY ((uint64_t)64 << 10)

/* Entries of the bitmap table for a disk of size bytes; 0 when the
 * bitmap would be larger than QEMU allows. */
static uint64_t table_entries(const qcow2_state *s, uint64_t size,
                              unsigned gbits)
{
    uint64_t bits = qcow2_bitmap_bits(size, gbits);
    uint64_t bytes = bits / 8 + (bits % 8 != 0);
    if (bytes > MAX_BITMAP_BYTES) {
        return 0;
    }
    return bytes / s->cluster_size + (bytes % s->cluster_size != 0);
}

/* QEMU's refusal of a bitmap left in use (its contents are unknown). */
static int inconsistent(img_err *err, const char *name)
{
    return img_err_set(err, EINVAL, "Bitmap '%s' is inconsistent and "
                       "cannot be used", name);
}

static qcow2_bitmap *find(qcow2_bitmap_dir *d, const char *name)
{
    for (uint32_t i = 0; i < d->n; i++) {
        if (!strcmp(d->b[i].name, name)) {
            return &d->b[i];
        }
    }
    return NULL;
}

/* Reads b's table, checking that it has the size the disk needs and lies
 * in the file; *out is malloc'd (table_size entries). */
static int read_table(qcow2_state *s, img_file *file, const qcow2_bitmap *b,
                      uint64_t **out, img_err *err)
{
    uint64_t n = table_entries(s, s->hdr.size, b->gbits);
    uint64_t bytes = n * 8;
    if (n == 0 || b->table_size != n || b->table_off % s->cluster_size ||
        b->table_off > s->file_size || bytes > s->file_size - b->table_off) {
        return img_err_set(err, EINVAL, "Bitmap '%s' has an invalid table",
                           b->name);
    }
    uint8_t *raw = malloc((size_t)bytes);
    uint64_t *t = malloc((size_t)n * sizeof(*t));
    int r = raw && t ? img_file_pread(file, raw, (size_t)bytes, b->table_off,
                                      err)
                     : img_err_set(err, ENOMEM, "Out of memory");
    for (uint64_t i = 0; r >= 0 && i < n; i++) {
        t[i] = qcow2_be64(raw + i * 8);
    }
    free(raw);
    if (r < 0) {
        free(t);
        return r;
    }
    *out = t;
    return 0;
}

/* Frees the data clusters b's table points to. */
static int free_data(qcow2_state *s, img_file *file, const uint64_t *t,
                     uint32_t n, img_err *err)
{
    int r = 0;
    for (uint32_t i = 0; r >= 0 && i < n; i++) {
        uint64_t off = t[i] & QCOW2_BME_TABLE_OFFSET_MASK;
        if (off) {
            r = qcow2_free_clusters(s, file, off, s->cluster_size, 1, err);
        }
    }
    return r;
}

/* Bytes of the directory entry of b (padded to 8). */
static uint64_t entry_len(const qcow2_bitmap *b)
{
    uint64_t len = QCOW2_BME_LEN + (uint64_t)b->extra_len + strlen(b->name);
    return (len + 7) & ~(uint64_t)7;
}

static void encode_entry(const qcow2_bitmap *b, uint8_t *e)
{
    size_t name_len = strlen(b->name);
    qcow2_put_be64(e, b->table_off);
    qcow2_put_be32(e + 8, b->table_size);
    qcow2_put_be32(e + 12, b->flags);
    e[16] = b->type;
    e[17] = b->gbits;
    qcow2_put_be16(e + 18, (uint16_t)name_len);
    qcow2_put_be32(e + 20, b->extra_len);
    memcpy(e + QCOW2_BME_LEN, b->extra, b->extra_len);
    memcpy(e + QCOW2_BME_LEN + b->extra_len, b->name, name_len);
}

/* Points the header's bitmaps extension at the directory d (or drops it
 * and clears the autoclear bit when d is empty) and rewrites the header. */
static int point_header(img *im, qcow2_state *s, const qcow2_bitmap_dir *d,
                        img_err *err)
{
    qcow2_meta *m = &s->meta;
    qcow2_ext *x = (qcow2_ext *)qcow2_bitmaps_ext(s);
    if (d->n && x && x->len < QCOW2_BITMAPS_EXT_LEN) {
        /* a stale extension too short for the fields: make room */
        uint8_t *data = calloc(1, QCOW2_BITMAPS_EXT_LEN);
        if (!data) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        free(x->data);
        x->data = data;
        x->len = QCOW2_BITMAPS_EXT_LEN;
    }
    if (d->n && !x) {
        static const uint8_t zeros[QCOW2_BITMAPS_EXT_LEN];
        int r = qcow2_meta_keep_ext(m, QCOW2_EXT_BITMAPS, zeros,
                                    sizeof(zeros), err);
        if (r < 0) {
            return r;
        }
        x = &m->others[m->nothers - 1];
        m->has_bitmaps = 1;
    }
    if (d->n) {
        qcow2_put_be32(x->data, d->n);
        qcow2_put_be32(x->data + 4, 0);
        qcow2_put_be64(x->data + 8, d->size);
        qcow2_put_be64(x->data + 16, d->off);
        s->hdr.autoclear |= QCOW2_AUTOCLEAR_BITMAPS;
    } else if (x) {
        free(x->data);
        *x = m->others[--m->nothers];
        m->has_bitmaps = 0;
        s->hdr.autoclear &= ~QCOW2_AUTOCLEAR_BITMAPS;
    }
    int r = qcow2_meta_flush(s, im->file, err);
    if (r >= 0) {
        r = qcow2_header_rewrite(s, im->file, im->backing_name,
                                 im->backing_fmt, err);
    }
    return r;
}

/* Writes d as the new directory, points the header at it and frees the
 * old one (at old_off, old_size bytes; none when old_size is 0). */
static int store_directory(img *im, qcow2_state *s, qcow2_bitmap_dir *d,
                           uint64_t old_off, uint64_t old_size, img_err *err)
{
    uint64_t size = 0;
    for (uint32_t i = 0; i < d->n; i++) {
        size += entry_len(&d->b[i]);
    }
    if (size > QCOW2_MAX_BITMAP_DIRECTORY) {
        return img_err_set(err, EFBIG, "Bitmap directory is too large");
    }
    d->size = size;
    d->off = 0;
    int r = 0;
    if (size) {
        uint8_t *buf = calloc(1, (size_t)size);
        if (!buf) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        for (uint32_t i = 0, p = 0; i < d->n; p += entry_len(&d->b[i]), i++) {
            encode_entry(&d->b[i], buf + p);
        }
        r = qcow2_write_new_clusters(s, im->file, buf, size, &d->off, err);
        free(buf);
    }
    if (r >= 0) {
        r = point_header(im, s, d, err);
    }
    if (r >= 0 && old_size) {
        r = qcow2_free_clusters(s, im->file, old_off, old_size, 1, err);
    }
    return r;
}

/* ---- the changes ---- */

static int add(qcow2_state *s, img_file *file, qcow2_bitmap_dir *d,
               const img_bitmap_change *c, img_err *err)
{
    uint64_t g = c->granularity;
    if (g == 0) {
        g = s->cluster_size > DEFAULT_GRANULARITY ? s->cluster_size
                                                  : DEFAULT_GRANULARITY;
    }
    unsigned gbits = 0;
    while (gbits < 63 && (1ull << gbits) < g) {
        gbits++;
    }
    if ((1ull << gbits) != g || gbits < QCOW2_BME_MIN_GRANULARITY_BITS ||
        gbits > QCOW2_BME_MAX_GRANULARITY_BITS) {
        return img_err_set(err, EINVAL, "Granularity must be power of 2 "
                           "and at least 512");
    }
    if (find(d, c->name)) {
        return img_err_set(err, EEXIST, "Bitmap already exists: %s",
                           c->name);
    }
    if (strlen(c->name) > QCOW2_BME_MAX_NAME || !c->name[0]) {
        return img_err_set(err, EINVAL, "Name length exceeds maximum "
                           "(%u characters)", QCOW2_BME_MAX_NAME);
    }
    if (d->n >= QCOW2_MAX_BITMAPS) {
        return img_err_set(err, EFBIG, "Maximum number of persistent bitmaps "
                           "is already reached");
    }
    uint64_t n = table_entries(s, s->hdr.size, gbits);
    if (n == 0) {
        return img_err_set(err, EFBIG, "Too large bitmap");
    }
    qcow2_bitmap b = { .table_size = (uint32_t)n,
                       .flags = c->disabled ? 0 : QCOW2_BME_FLAG_AUTO,
                       .type = QCOW2_BME_TYPE_DIRTY, .gbits = (uint8_t)gbits,
                       .name = strdup(c->name), .extra = malloc(1) };
    qcow2_bitmap *grown = realloc(d->b, (d->n + 1) * sizeof(*grown));
    uint8_t *zeros = calloc(n, 8);
    int r = b.name && b.extra && grown && zeros
                ? qcow2_write_new_clusters(s, file, zeros, n * 8, &b.table_off, err)
                : img_err_set(err, ENOMEM, "Out of memory");
    free(zeros);
    d->b = grown ? grown : d->b;
    if (r < 0) {
        free(b.name);
        free(b.extra);
        return r;
    }
    d->b[d->n++] = b;
    return 0;
}

/* Removes bitmap i, or clears it (a new, zeroed table): the header
 * first stops pointing at the old table, then the old table and the data
 * clusters it lists are freed. */
static int drop_data(img *im, qcow2_state *s, qcow2_bitmap_dir *d,
                     uint32_t i, int remove, uint64_t old_off,
                     uint64_t old_size, img_err *err)
{
    qcow2_bitmap *b = &d->b[i];
    uint64_t *t = NULL;
    int r = read_table(s, im->file, b, &t, err);
    if (r < 0) {
        return r;
    }
    uint64_t table_off = b->table_off, bytes = (uint64_t)b->table_size * 8;
    uint32_t n = b->table_size;
    if (remove) {
        free(b->name);
        free(b->extra);
        memmove(b, b + 1, (d->n - i - 1) * sizeof(*b));
        d->n--;
    } else {
        uint8_t *zeros = calloc(n, 8);
        r = zeros ? qcow2_write_new_clusters(s, im->file, zeros, bytes, &b->table_off, err)
                  : img_err_set(err, ENOMEM, "Out of memory");
        free(zeros);
    }
    if (r >= 0) {
        r = store_directory(im, s, d, old_off, old_size, err);
    }
    if (r >= 0) {
        r = qcow2_free_clusters(s, im->file, table_off, bytes, 1, err);
    }
    if (r >= 0) {
        r = free_data(s, im->file, t, n, err);
    }
    free(t);
    return r;
}

/* Encodes table (n entries) and writes it to new clusters at *off. */
static int write_table(qcow2_state *s, img_file *file, const uint64_t *table,
                       uint32_t n, uint64_t *off, img_err *err)
{
    uint8_t *raw = malloc((size_t)n * 8);
    if (!raw) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    for (uint32_t i = 0; i < n; i++) {
        qcow2_put_be64(raw + (size_t)i * 8, table[i]);
    }
    int r = qcow2_write_new_clusters(s, file, raw, (uint64_t)n * 8, off, err);
    free(raw);
    return r;
}

/* Stores new_table as b's table (b is entry i of d): table, directory,
 * header, then the old table and the data clusters it no longer lists
 * are freed. */
static int store_merged(img *im, qcow2_state *s, qcow2_bitmap_dir *d,
                        uint32_t i, const uint64_t *old_table,
                        const uint64_t *new_table, uint64_t old_off,
                        uint64_t old_size, img_err *err)
{
    qcow2_bitmap *b = &d->b[i];
    uint64_t table_off = b->table_off, bytes = (uint64_t)b->table_size * 8;
    int r = write_table(s, im->file, new_table, b->table_size, &b->table_off,
                        err);
    if (r < 0) {
        return r;
    }
    r = store_directory(im, s, d, old_off, old_size, err);
    if (r >= 0) {
        r = qcow2_free_clusters(s, im->file, table_off, bytes, 1, err);
    }
    for (uint32_t k = 0; r >= 0 && k < b->table_size; k++) {
        uint64_t off = old_table[k] & QCOW2_BME_TABLE_OFFSET_MASK;
        if (new_table[k] != old_table[k] && off) {
            r = qcow2_free_clusters(s, im->file, off, s->cluster_size, 1,
                                    err);
        }
    }
    return r;
}

/* The bitmap c->src_name of c->src (im itself, whose directory is d, or
 * another qcow2 image, whose directory is loaded into sd) in *out. */
static int merge_source(img *im, qcow2_bitmap_dir *d,
                        const img_bitmap_change *c, qcow2_bitmap_dir *sd,
                        const qcow2_bitmap **out, img_err *err)
{
    *out = NULL;
    if (c->src == im) {
        *out = find(d, c->src_name);
    } else if (c->src->drv == im->drv) {
        int r = qcow2_bitmap_dir_load(c->src->state, c->src->file, sd, err);
        if (r < 0) {
            return r;
        }
        *out = find(sd, c->src_name);
    }
    if (!*out) {
        return img_err_set(err, ENOENT, "Dirty bitmap '%s' not found",
                           c->src_name);
    }
    return 0;
}

/* Merges the bitmap c->src_name of c->src into entry i of d, with
 * QEMU's checks in its order. */
static int merge(img *im, qcow2_state *s, qcow2_bitmap_dir *d, uint32_t i,
                 const img_bitmap_change *c, uint64_t old_off,
                 uint64_t old_size, img_err *err)
{
    qcow2_bitmap_dir sd = { 0 };
    const qcow2_bitmap *sb;
    int r = merge_source(im, d, c, &sd, &sb, err);
    qcow2_state *ss = c->src->state;
    uint64_t *dt = NULL, *st = NULL, *nt = NULL;
    if (r >= 0 && (d->b[i].flags & QCOW2_BME_FLAG_IN_USE)) {
        r = inconsistent(err, d->b[i].name);
    } else if (r >= 0 && (sb->flags & QCOW2_BME_FLAG_IN_USE)) {
        r = inconsistent(err, sb->name);
    } else if (r >= 0 && ss->hdr.size != s->hdr.size) {
        r = img_err_set(err, EINVAL, "Bitmaps are of different sizes "
                        "(destination size is %" PRIu64 ", source size is %"
                        PRIu64 ") and can't be merged", s->hdr.size,
                        ss->hdr.size);
    }
    if (r >= 0) {
        r = read_table(s, im->file, &d->b[i], &dt, err);
    }
    if (r >= 0) {
        r = read_table(ss, c->src->file, sb, &st, err);
    }
    if (r >= 0 && !(nt = malloc((size_t)d->b[i].table_size * 8))) {
        r = img_err_set(err, ENOMEM, "Out of memory");
    }
    if (r >= 0) {
        qcow2_bitmap_ref dref = { s, im->file, &d->b[i], dt };
        qcow2_bitmap_ref sref = { ss, c->src->file, sb, st };
        r = qcow2_bitmap_merge_data(&dref, &sref, nt, err);
    }
    if (r >= 0 && memcmp(nt, dt, (size_t)d->b[i].table_size * 8) != 0) {
        r = store_merged(im, s, d, i, dt, nt, old_off, old_size, err);
    }
    free(dt);
    free(st);
    free(nt);
    qcow2_bitmap_dir_free(&sd);
    return r;
}

/* Applies c to the directory d (loaded from the image) and stores it. */
static int apply(img *im, qcow2_state *s, qcow2_bitmap_dir *d,
                 const img_bitmap_change *c, img_err *err)
{
    uint64_t old_off = d->off, old_size = d->n ? d->size : 0;
    if (c->op == IMG_BITMAP_ADD) {
        int r = add(s, im->file, d, c, err);
        return r < 0 ? r : store_directory(im, s, d, old_off, old_size, err);
    }
    qcow2_bitmap *b = find(d, c->name);
    if (!b) {
        return img_err_set(err, ENOENT, "Dirty bitmap '%s' not found",
                           c->name);
    }
    if (c->op == IMG_BITMAP_MERGE) {
        return merge(im, s, d, (uint32_t)(b - d->b), c, old_off, old_size,
                     err);
    }
    if (c->op != IMG_BITMAP_REMOVE && (b->flags & QCOW2_BME_FLAG_IN_USE)) {
        return inconsistent(err, c->name);
    }
    switch (c->op) {
    case IMG_BITMAP_REMOVE:
    case IMG_BITMAP_CLEAR:
        return drop_data(im, s, d, (uint32_t)(b - d->b),
                         c->op == IMG_BITMAP_REMOVE, old_off, old_size, err);
    case IMG_BITMAP_ENABLE:
        b->flags |= QCOW2_BME_FLAG_AUTO;
        break;
    case IMG_BITMAP_DISABLE:
        b->flags &= ~(uint32_t)QCOW2_BME_FLAG_AUTO;
        break;
    default:
        return img_err_set(err, EINVAL, "Unknown bitmap operation");
    }
    return store_directory(im, s, d, old_off, old_size, err);
}

int qcow2_bitmap_change(img *im, const img_bitmap_change *c, img_err *err)
{
    qcow2_state *s = im->state;
    if (s->hdr.version < 3) {
        return img_err_set(err, ENOTSUP, "Cannot store dirty bitmaps in "
                           "qcow2 v2 files");
    }
    qcow2_bitmap_dir d;
    int r = qcow2_bitmap_dir_load(s, im->file, &d, err);
    if (r >= 0) {
        s->keep_bitmaps = 1;
        r = qcow2_prepare_write(s, im->file, err);
    }
    if (r >= 0) {
        r = apply(im, s, &d, c, err);
    }
    qcow2_bitmap_dir_free(&d);
    return r;
}
