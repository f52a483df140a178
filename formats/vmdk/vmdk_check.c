/* formats/vmdk/vmdk_check.c -- "check" for VMDK sparse extents.
 *
 * Spec: "Virtual Disk Format 5.0", "Hosted Sparse Extents" and
 * "Stream-Optimized Compressed Sparse Extents".  For every sparse extent:
 * grain tables and grains must lie inside the file and after the
 * metadata area, the redundant GD must agree with the GD, compressed
 * grains must carry a marker with the right LBA and a size that fits,
 * stream metadata (GT/GD markers, footer, end-of-stream) must be in
 * place, nothing may overlap, and every byte after the metadata area must
 * belong to something (else it is leaked; leaked space at the end of the
 * file is truncated when repairing leaks).  Problems are counted in
 * img_check_result and described on stderr ("ERROR ..."), as QEMU does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmdk.h"

/* Longest zero tail we read to tell padding from leaked data. */
#define TAIL_SCAN_MAX ((uint64_t)1 << 20)

/* One used byte range of an extent file. */
typedef struct used_range {
    uint64_t start, end;
    const char *what;
} used_range;

/* The check of one extent. */
typedef struct ck {
    img *im;
    vmdk_extent *e;
    vmdk_sparse *sp;
    img_check_result *res;
    used_range *r;
    size_t n, cap;
    uint64_t meta_end;   /* end of the metadata area (overhead) */
} ck;

/* Prints one problem on stderr (unless quiet). */
static void report(const ck *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(const ck *c, const char *fmt, ...)
{
    if (c->im->flags & IMG_OPEN_QUIET) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ERROR %s: ", c->e->path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Counts one corruption. */
static void corrupt(ck *c)
{
    c->res->corruptions++;
}

/* Records a used range; -ENOMEM on failure. */
static int add_range(ck *c, uint64_t start, uint64_t len, const char *what)
{
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        used_range *n = realloc(c->r, ncap * sizeof(*n));
        if (!n) {
            return -ENOMEM;
        }
        c->r = n;
        c->cap = ncap;
    }
    c->r[c->n++] = (used_range){ start, start + len, what };
    return 0;
}

/* qsort order of 64-bit keys. */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- grain tables ---- */

/* The GT at sector must be inside the file; a marker sector precedes it
 * in streams with GD_AT_END. */
static int check_gt_place(ck *c, uint64_t sector, const char *what)
{
    vmdk_sparse *sp = c->sp;
    if (sector > sp->file_size / VMDK_SECTOR ||
        sp->gt_bytes > sp->file_size - sector * VMDK_SECTOR) {
        report(c, "%s at sector %" PRIu64 " is beyond the end of the file",
               what, sector);
        corrupt(c);
        return 0;
    }
    uint64_t len = (sp->gt_bytes + VMDK_SECTOR - 1) & ~(uint64_t)511;
    if (sp->gd_at_end && sector > 0) {
        uint8_t m[VMDK_SECTOR];
        if (img_file_pread(c->e->file, m, sizeof(m),
                           (sector - 1) * VMDK_SECTOR, NULL) < 0) {
            c->res->check_errors++;
        } else if (vmdk_le32(m + VMDK_MARKER_TYPE) != VMDK_MARKER_GT ||
                   vmdk_le32(m + VMDK_MARKER_SIZE) != 0) {
            report(c, "%s at sector %" PRIu64 " has no GT marker", what,
                   sector);
            corrupt(c);
        }
        sector--;
        len += VMDK_SECTOR;
    }
    return add_range(c, sector * VMDK_SECTOR, len, what) < 0 ? -ENOMEM : 1;
}

/* A compressed grain: marker LBA and size, data inside the file. */
static int check_compressed(ck *c, uint64_t g, uint64_t sector)
{
    vmdk_sparse *sp = c->sp;
    uint8_t m[VMDK_SECTOR];
    if (img_file_pread(c->e->file, m, sizeof(m), sector * VMDK_SECTOR,
                       NULL) < 0) {
        c->res->check_errors++;
        return 0;
    }
    int hlen = sp->markers ? VMDK_GRAIN_MARKER_LEN : 4;
    uint64_t size = vmdk_le32(m + hlen - 4);
    uint64_t len = (hlen + size + VMDK_SECTOR - 1) & ~(uint64_t)511;
    if (sp->markers && vmdk_le64(m) != g * sp->h.grain) {
        report(c, "grain %" PRIu64 " at sector %" PRIu64 " has marker LBA %"
               PRIu64, g, sector, vmdk_le64(m));
        corrupt(c);
    } else if (size == 0 || size > 2 * sp->grain_bytes ||
               sector * VMDK_SECTOR + hlen + size > sp->file_size) {
        report(c, "compressed grain %" PRIu64 " at sector %" PRIu64
               " has invalid size %" PRIu64, g, sector, size);
        corrupt(c);
        return 0;
    }
    return add_range(c, sector * VMDK_SECTOR, len, "grain");
}

/* One GTE of grain g. */
static int check_gte(ck *c, uint64_t g, uint32_t gte, uint64_t grains)
{
    vmdk_sparse *sp = c->sp;
    if (gte == 0 || (gte == VMDK_GTE_ZEROED && sp->zero_grain)) {
        return 0;
    }
    if (g >= grains) {
        report(c, "grain table entry for grain %" PRIu64 " is beyond the "
               "capacity", g);
        corrupt(c);
        return 0;
    }
    uint64_t at = (uint64_t)gte * VMDK_SECTOR;
    if (at < c->meta_end) {
        report(c, "grain %" PRIu64 " at sector %" PRIu32 " lies in the "
               "metadata area", g, gte);
        corrupt(c);
        return 0;
    }
    if (sp->compressed) {
        return check_compressed(c, g, gte);
    }
    if (at + sp->grain_bytes > sp->file_size) {
        report(c, "cluster offset for grain %" PRIu64 " points after image "
               "end", g);
        corrupt(c);
        return 0;
    }
    return add_range(c, at, sp->grain_bytes, "grain");
}

/* The entries of the grain table of GD entry i. */
static int check_entries(ck *c, uint64_t i, uint64_t grains)
{
    vmdk_sparse *sp = c->sp;
    uint32_t *tbl;
    img_err err = { 0 };
    if (vmdk_sparse_load_gt(c->e->file, sp, sp->gd[i], &tbl, &err) < 0) {
        c->res->check_errors++;
        return 0;
    }
    uint32_t *copy = malloc(sp->gt_bytes);
    if (!copy) {
        return -ENOMEM;
    }
    memcpy(copy, tbl, sp->gt_bytes); /* the cache may evict tbl */
    int r = 0;
    for (uint32_t j = 0; r >= 0 && j < sp->gtes; j++) {
        r = check_gte(c, i * sp->gtes + j, copy[j], grains);
    }
    free(copy);
    return r;
}

/* The redundant copy of GD entry i must match the primary one. */
static int check_redundant(ck *c, uint64_t i)
{
    vmdk_sparse *sp = c->sp;
    uint32_t *a, *b;
    if ((sp->gd[i] == 0) != (sp->rgd[i] == 0)) {
        report(c, "redundant grain directory entry %" PRIu64 " differs", i);
        corrupt(c);
        return 0;
    }
    if (!sp->rgd[i]) {
        return 0;
    }
    int r = check_gt_place(c, sp->rgd[i], "redundant grain table");
    if (r <= 0) {
        return r;
    }
    uint32_t *copy = malloc(sp->gt_bytes);
    img_err err = { 0 };
    if (!copy) {
        return -ENOMEM;
    }
    if (vmdk_sparse_load_gt(c->e->file, sp, sp->gd[i], &a, &err) < 0) {
        c->res->check_errors++;
    } else {
        memcpy(copy, a, sp->gt_bytes);
        if (vmdk_sparse_load_gt(c->e->file, sp, sp->rgd[i], &b, &err) < 0) {
            c->res->check_errors++;
        } else if (memcmp(copy, b, sp->gt_bytes) != 0) {
            report(c, "redundant grain table %" PRIu64 " differs", i);
            corrupt(c);
        }
    }
    free(copy);
    return 0;
}

/* GD entries sharing a grain table: reported once, and the table is
 * walked once, so a crafted directory cannot multiply the work.  Sets
 * dup[i] for the entries to skip. */
static int find_shared_gts(ck *c, uint8_t *dup)
{
    vmdk_sparse *sp = c->sp;
    uint64_t *s = malloc(((size_t)sp->gd_entries + 1) * sizeof(*s));
    size_t n = 0;
    if (!s) {
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < sp->gd_entries; i++) {
        if (sp->gd[i]) {
            s[n++] = (uint64_t)sp->gd[i] << 32 | i; /* sector, then entry */
        }
    }
    qsort(s, n, sizeof(*s), cmp_u64);
    for (size_t k = 1; k < n; k++) {
        if (s[k] >> 32 == s[k - 1] >> 32) {
            report(c, "grain directory entries %u and %u share a grain table",
                   (unsigned)(uint32_t)s[k - 1], (unsigned)(uint32_t)s[k]);
            corrupt(c);
            dup[(uint32_t)s[k]] = 1;
        }
    }
    free(s);
    return 0;
}

/* Every GD entry: its redundant copy, its table and the grains. */
static int check_tables(ck *c)
{
    vmdk_sparse *sp = c->sp;
    uint64_t grains = (sp->h.capacity + sp->h.grain - 1) / sp->h.grain;
    uint8_t *dup = calloc((size_t)sp->gd_entries + 1, 1);
    int r = dup ? find_shared_gts(c, dup) : -ENOMEM;
    for (uint64_t i = 0; r >= 0 && i < sp->gd_entries; i++) {
        if (sp->rgd) {
            r = check_redundant(c, i);
        }
        if (r >= 0 && sp->gd[i] && !dup[i]) {
            r = check_gt_place(c, sp->gd[i], "grain table");
            if (r > 0) {
                r = check_entries(c, i, grains);
            }
        }
    }
    free(dup);
    return r;
}

/* ---- fixed metadata ---- */

/* A grain directory (and its marker in GD_AT_END streams). */
static int add_gd(ck *c, uint64_t sector, const char *what)
{
    uint64_t len = ((uint64_t)c->sp->gd_entries * 4 + VMDK_SECTOR - 1) &
                   ~(uint64_t)511;
    if (c->sp->gd_at_end) {
        sector--; /* the GD marker */
        len += VMDK_SECTOR;
    }
    return len ? add_range(c, sector * VMDK_SECTOR, len, what) : 0;
}

/* Header, descriptor, directories and the stream footer. */
static int add_metadata(ck *c)
{
    vmdk_sparse *sp = c->sp;
    int r = add_range(c, 0, sp->cowd ? 2048 : VMDK_SECTOR, "header");
    if (r >= 0 && sp->h.desc_offset && sp->h.desc_size) {
        r = add_range(c, sp->h.desc_offset * VMDK_SECTOR,
                      sp->h.desc_size * VMDK_SECTOR, "descriptor");
    }
    if (r >= 0 && sp->gd_entries) {
        r = add_gd(c, sp->h.gd_offset, "grain directory");
    }
    if (r >= 0 && sp->rgd) {
        r = add_gd(c, sp->h.rgd_offset, "redundant grain directory");
    }
    if (r >= 0 && sp->gd_at_end) { /* footer marker, footer, EOS */
        uint64_t end = sp->file_size & ~(uint64_t)511;
        r = add_range(c, end - 3 * VMDK_SECTOR, 3 * VMDK_SECTOR, "footer");
    }
    return r;
}

/* ---- overlaps and leaks ---- */

/* qsort order of used ranges: by start. */
static int cmp_range(const void *a, const void *b)
{
    const used_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Leaked space is counted in grains; returns the end of the last use. */
static uint64_t overlaps_and_leaks(ck *c)
{
    qsort(c->r, c->n, sizeof(*c->r), cmp_range);
    uint64_t end = 0, gb = c->sp->grain_bytes;
    for (size_t i = 0; i < c->n; i++) {
        used_range *u = &c->r[i];
        if (u->start < end) {
            report(c, "%s at offset %#" PRIx64 " overlaps a %s", u->what,
                   u->start, c->r[i - 1].what);
            corrupt(c);
        } else if (u->start > end && u->start > c->meta_end) {
            uint64_t from = end > c->meta_end ? end : c->meta_end;
            c->res->leaks += (int)((u->start - from + gb - 1) / gb);
        }
        end = u->end > end ? u->end : end;
    }
    return end;
}

/* Whether [off, end) of the file reads as zeros (looked at up to
 * TAIL_SCAN_MAX bytes; longer tails count as used). */
static int tail_is_zero(img_file *f, uint64_t off, uint64_t end)
{
    uint8_t buf[65536];
    if (end - off > TAIL_SCAN_MAX) {
        return 0;
    }
    while (off < end) {
        size_t n = end - off < sizeof(buf) ? (size_t)(end - off)
                                           : sizeof(buf);
        if (img_file_pread(f, buf, n, off, NULL) < 0) {
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (buf[i]) {
                return 0;
            }
        }
        off += n;
    }
    return 1;
}

/* Space after the last use; truncated when repairing leaks.  Zeros there
 * are padding (QEMU's streamOptimized files end with some), not leaks. */
static int tail_leak(ck *c, uint64_t end, unsigned fix)
{
    uint64_t fsize = c->sp->file_size & ~(uint64_t)511;
    if (end < c->meta_end) {
        end = c->meta_end;
    }
    if (fsize <= end || tail_is_zero(c->e->file, end, fsize)) {
        return 0;
    }
    int n = (int)((fsize - end + c->sp->grain_bytes - 1) /
                  c->sp->grain_bytes);
    c->res->leaks += n;
    if ((fix & IMG_FIX_LEAKS) &&
        img_file_truncate(c->e->file, end, NULL) >= 0) {
        c->res->leaks_fixed += n;
        c->sp->file_size = end;
        c->sp->next_alloc = end;
    }
    return 0;
}

/* All checks of one sparse extent (stream data is completed
 * first, so that what is checked is what is on disk). */
static int check_sparse(img *im, vmdk_extent *e, img_check_result *res,
                        unsigned fix, img_err *err)
{
    vmdk_sparse *sp = e->sp;
    if (sp->stream) {
        int fr = vmdk_stream_finish(e->file, sp, err);
        if (fr < 0) {
            return fr;
        }
    }
    ck c = { .im = im, .e = e, .sp = sp, .res = res,
             .meta_end = sp->h.overhead * VMDK_SECTOR };
    int r = add_metadata(&c);
    if (r >= 0) {
        r = check_tables(&c);
    }
    if (r >= 0) {
        r = tail_leak(&c, overlaps_and_leaks(&c), fix);
    }
    free(c.r);
    if (r < 0) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    return 0;
}

/* check hook: flat and zero extents have nothing to check. */
int vmdk_check(img *im, img_check_result *res, unsigned fix, img_err *err)
{
    vmdk_state *s = im->state;
    for (size_t i = 0; i < s->n_ext; i++) {
        vmdk_extent *e = &s->ext[i];
        int r = e->sp ? check_sparse(im, e, res, fix, err) : 0;
        if (r < 0) {
            return r;
        }
    }
    return 0;
}
