/* formats/vmdk/vmdk.c -- the VMDK driver: probing, open (descriptor and
 * extents), the request loops over extents, flush, close and info.
 *
 * Spec: VMware "Virtual Disk Format 5.0" ("Layout Basics", "The
 * Descriptor File").  A file that starts with a sparse header is a
 * monolithic image: its one extent is the file itself and the embedded
 * descriptor only supplies CID, parent and createType (as in QEMU).  Any
 * other file is a descriptor naming extent files.
 *
 * Extent file names are untrusted (CVE-2022-47951 read host files through
 * a flat extent): unless trusted, a name must be relative, must not
 * contain "..", and must resolve (symlinks included) to a regular file
 * inside the descriptor's directory.  Trust comes from the
 * IMG_OPEN_TRUST_EXTENTS open flag or VDISK_TRUST_VMDK_EXTENTS=1, and is
 * never given under IMG_OPEN_UNTRUSTED, which also limits createType to
 * the single-file monolithicSparse and streamOptimized (as OpenStack's
 * format_inspector does).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libimg/backing.h"
#include "vmdk.h"

#define TRUST_HINT "set VDISK_TRUST_VMDK_EXTENTS=1 to allow"

/* Random bytes for CIDs and UUIDs (see vmdk.h). */
void vmdk_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got <= 0) {
            break;
        }
        p += got;
        n -= (size_t)got;
    }
    /* Fallback: weak but never constant across runs. */
    uint64_t x = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^
                 (uint64_t)(uintptr_t)buf;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(x >> 56);
    }
}

/* ---- probing ---- */

/* Sparse and COWD magics, or descriptor text; 100 or 0 like QEMU. */
static int vmdk_probe(const uint8_t *buf, size_t len)
{
    if (len >= 4 && (!memcmp(buf, VMDK_MAGIC_SPARSE, 4) ||
                     !memcmp(buf, VMDK_MAGIC_COWD, 4))) {
        return 100;
    }
    return vmdk_desc_probe(buf, len);
}

/* ---- state ---- */

/* Frees extents, their files (not im->file) and the strings. */
static void free_state(vmdk_state *s)
{
    for (size_t i = 0; i < s->n_ext; i++) {
        vmdk_extent *e = &s->ext[i];
        vmdk_sparse_free(e->sp);
        if (e->own_file) {
            img_file_close(e->file);
        }
        free(e->path);
    }
    free(s->ext);
    free(s->create_type);
    memset(s, 0, sizeof(*s));
}

/* Appends a zeroed extent; NULL (err set) when out of memory. */
static vmdk_extent *add_extent(vmdk_state *s, img_err *err)
{
    vmdk_extent *n = realloc(s->ext, (s->n_ext + 1) * sizeof(*n));
    if (!n) {
        img_err_set(err, ENOMEM, "Out of memory");
        return NULL;
    }
    s->ext = n;
    vmdk_extent *e = &s->ext[s->n_ext++];
    memset(e, 0, sizeof(*e));
    e->info_type = "";
    return e;
}

/* ---- extent file names ---- */

/* Extent names are trusted by flag or environment, never when
 * the image itself is untrusted. */
static int trusted(unsigned flags)
{
    if (flags & IMG_OPEN_UNTRUSTED) {
        return 0;
    }
    const char *v = getenv("VDISK_TRUST_VMDK_EXTENTS");
    return (flags & IMG_OPEN_TRUST_EXTENTS) || (v && !strcmp(v, "1"));
}

/* Whether a path component of name is "..". */
static int has_dotdot(const char *name)
{
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            return 1;
        }
        p += n;
        p += *p == '/';
    }
    return 0;
}

/* Whether real (a resolved path) is inside dir. */
static int inside(const char *dir, const char *real)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/') {
        return 1;
    }
    return !strncmp(real, dir, n) && real[n] == '/';
}

/* The resolved extent file must be a regular file in the image's
 * directory (symlinks followed). */
static int check_inside(const char *image, const char *name,
                        const char *path, img_err *err)
{
    char *dirname = img_backing_resolve(image, ".");
    char *dir = dirname ? realpath(dirname, NULL) : NULL;
    char *real = realpath(path, NULL);
    struct stat st;
    int r = 0;
    if (!real) {
        r = img_err_errno(err, errno, "Could not open extent file '%s'",
                          path);
    } else if (!dir) {
        r = img_err_errno(err, errno ? errno : ENOMEM, "Could not resolve "
                          "the directory of '%s'", image);
    } else if (!inside(dir, real)) {
        r = img_err_set(err, EPERM, "Extent file '%s' resolves outside the "
                        "image's directory (refused; " TRUST_HINT ")", name);
    } else if (stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
        r = img_err_set(err, EPERM, "Extent file '%s' is not a regular file "
                        "(refused; " TRUST_HINT ")", name);
    }
    free(dirname);
    free(dir);
    free(real);
    return r;
}

/* Resolves an extent name against the descriptor's path, applying the
 * safety rules unless trusted; *out is malloc'd. */
static int extent_path(img *im, const char *name, char **out, img_err *err)
{
    *out = NULL;
    if (!im->filename[0]) {
        return img_err_set(err, EINVAL, "Cannot open extent file '%s': the "
                           "image has no file name", name);
    }
    int trust = trusted(im->flags);
    if (!trust && name[0] == '/') {
        return img_err_set(err, EPERM, "Extent file name '%s' is an "
                           "absolute path (refused; " TRUST_HINT ")", name);
    }
    if (!trust && has_dotdot(name)) {
        return img_err_set(err, EPERM, "Extent file name '%s' contains "
                           "'..' (refused; " TRUST_HINT ")", name);
    }
    *out = img_backing_resolve(im->filename, name);
    if (!*out) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = trust ? 0 : check_inside(im->filename, name, *out, err);
    if (r < 0) {
        free(*out);
        *out = NULL;
    }
    return r;
}

/* QEMU's permissions for the files of an image (as img.c takes them). */
static int lock_file(img_file *f, unsigned flags, int rw, img_err *err)
{
    if (flags & (IMG_OPEN_FORCE_SHARE | IMG_OPEN_NO_LOCK)) {
        return 0;
    }
    unsigned perm = IMG_PERM_CONSISTENT_READ;
    unsigned shared = IMG_PERM_ALL & ~(IMG_PERM_WRITE | IMG_PERM_RESIZE);
    if (rw) {
        perm |= IMG_PERM_WRITE | IMG_PERM_RESIZE;
        shared = IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE_UNCHANGED;
    }
    return img_file_set_perm(f, perm, shared, err);
}

/* ---- opening extents named by a descriptor ---- */

/* Opens (and locks) the file of extent e, read-write only when the
 * image and the extent both are, and its sparse header if it has one. */
static int open_extent_file(img *im, vmdk_extent *e, const char *name,
                            img_err *err)
{
    int rw = (im->flags & IMG_OPEN_RDWR) && e->access == VMDK_ACCESS_RW;
    int r = extent_path(im, name, &e->path, err);
    if (r >= 0) {
        r = img_file_open_host(e->path, img_file_flags(im->flags, rw),
                               &e->file, err);
    }
    if (r >= 0) {
        e->own_file = 1;
        r = lock_file(e->file, im->flags, rw, err);
    }
    if (r >= 0 && (e->type == VMDK_EXT_SPARSE ||
                   e->type == VMDK_EXT_VMFSSPARSE)) {
        r = vmdk_sparse_open(e->file, e->path, rw, &e->sp, err);
    }
    if (r >= 0 && e->sp && e->sp->h.capacity * VMDK_SECTOR < e->len) {
        r = img_err_set(err, EINVAL, "Extent '%s' holds %" PRIu64 " sectors,"
                        " less than the descriptor's %" PRIu64, name,
                        e->sp->h.capacity, e->len / VMDK_SECTOR);
    }
    return r;
}

/* Adds the extent of descriptor line x at virtual byte start. */
static int open_desc_extent(img *im, vmdk_state *s,
                            const vmdk_desc_extent *x, uint64_t start,
                            img_err *err)
{
    vmdk_extent *e = add_extent(s, err);
    if (!e) {
        return -ENOMEM;
    }
    e->type = x->type;
    e->access = x->access;
    e->start = start;
    e->len = x->sectors * VMDK_SECTOR;
    e->flat_off = x->offset * VMDK_SECTOR;
    e->info_type = vmdk_ext_type_name(x->type);
    if (x->type == VMDK_EXT_ZERO || x->access == VMDK_ACCESS_NOACCESS) {
        e->path = strdup(x->name ? x->name : "");
        return e->path ? 0 : img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = open_extent_file(im, e, x->name, err);
    if (r < 0) {
        img_err_prepend(err, "Could not open extent %zu: ", s->n_ext);
    }
    return r;
}

/* Checks createType against what we open (and untrusted mode allows). */
static int check_create_type(const char *ct, unsigned flags, img_err *err)
{
    if (!vmdk_create_type_known(ct)) {
        return img_err_set(err, ENOTSUP, "Unsupported image type '%s'", ct);
    }
    if ((flags & IMG_OPEN_UNTRUSTED) && !vmdk_create_type_untrusted_ok(ct)) {
        return img_err_set(err, EPERM, "VMDK createType '%s' refers to "
                           "other files (refused in untrusted mode; only "
                           "monolithicSparse and streamOptimized)", ct);
    }
    return 0;
}

/* Takes CID, parent and createType from a parsed descriptor. */
static int take_desc(img *im, vmdk_state *s, vmdk_desc *d, img_err *err)
{
    s->cid = d->cid;
    s->parent_cid = d->parent_cid;
    s->create_type = d->create_type;
    d->create_type = NULL;
    if (d->parent_hint && d->parent_hint[0]) {
        im->backing_name = d->parent_hint;
        d->parent_hint = NULL;
        im->backing_fmt = strdup("vmdk"); /* QEMU records it so */
        if (!im->backing_fmt) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
    }
    return 0;
}

/* A descriptor file (or a descriptor in a capacity-0 sparse header). */
static int open_from_desc(img *im, vmdk_state *s, const char *text,
                          size_t len, img_err *err)
{
    vmdk_desc d;
    int r = vmdk_desc_parse(text, len, &d, err);
    if (r < 0) {
        return r;
    }
    if (!d.create_type) {
        r = img_err_set(err, EINVAL, "Invalid VMDK image descriptor (no "
                        "createType)");
    } else if (d.n_extents == 0) {
        r = img_err_set(err, EINVAL, "VMDK descriptor has no extents");
    }
    if (r >= 0) {
        r = check_create_type(d.create_type, im->flags, err);
    }
    uint64_t start = 0;
    for (size_t i = 0; r >= 0 && i < d.n_extents; i++) {
        if (d.extents[i].sectors == 0) {
            continue; /* holds nothing (QEMU skips these lines too) */
        }
        r = open_desc_extent(im, s, &d.extents[i], start, err);
        start += d.extents[i].sectors * VMDK_SECTOR;
        if (r >= 0 && start > VMDK_MAX_SECTORS * VMDK_SECTOR) {
            r = img_err_set(err, EFBIG, "VMDK image is larger than %" PRIu64
                            " bytes", VMDK_MAX_SECTORS * VMDK_SECTOR);
        }
    }
    if (r >= 0) {
        r = take_desc(im, s, &d, err);
    }
    vmdk_desc_clear(&d);
    return r;
}

/* The image file is a descriptor: read it whole (bounded) and open
 * what it names. */
static int open_desc_file(img *im, vmdk_state *s, uint64_t size,
                          img_err *err)
{
    if (size > VMDK_DESC_MAX) {
        return img_err_set(err, EFBIG, "VMDK descriptor file is larger than "
                           "%u bytes", VMDK_DESC_MAX);
    }
    char *text = malloc(size + 1);
    if (!text) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = img_file_pread(im->file, text, size, 0, err);
    if (r >= 0) {
        s->desc_off = 0;
        s->desc_cap = VMDK_DESC_MAX;
        r = open_from_desc(im, s, text, size, err);
    }
    free(text);
    return r;
}

/* ---- monolithic sparse files ---- */

/* Reads the embedded descriptor (if any) of a sparse file. */
static int read_embedded(img *im, const vmdk_header *h, uint64_t fsize,
                         char **text, size_t *len, img_err *err)
{
    *text = NULL;
    *len = 0;
    if (!h->desc_offset || !h->desc_size) {
        return 0;
    }
    if (h->desc_size > VMDK_DESC_MAX / VMDK_SECTOR) {
        return img_err_set(err, EFBIG, "Embedded VMDK descriptor is larger "
                           "than %u bytes", VMDK_DESC_MAX);
    }
    if (h->desc_offset > fsize / VMDK_SECTOR ||
        h->desc_size * VMDK_SECTOR > fsize - h->desc_offset * VMDK_SECTOR) {
        return img_err_set(err, EINVAL, "Embedded VMDK descriptor is beyond "
                           "the end of the file");
    }
    *len = h->desc_size * VMDK_SECTOR;
    if (!(*text = malloc(*len))) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    return img_file_pread(im->file, *text, *len, h->desc_offset * VMDK_SECTOR,
                          err);
}

/* The embedded descriptor decides CID, parent and createType. */
static int use_embedded(img *im, vmdk_state *s, const char *text, size_t len,
                        img_err *err)
{
    vmdk_desc d;
    int r = 0;
    if (!text) {
        memset(&d, 0, sizeof(d));
        d.cid = d.parent_cid = 0xffffffffu;
    } else if ((r = vmdk_desc_parse(text, len, &d, err)) < 0) {
        img_err_prepend(err, "Embedded descriptor: ");
        return r;
    }
    if (!d.create_type && !(d.create_type = strdup("monolithicSparse"))) {
        r = img_err_set(err, ENOMEM, "Out of memory");
    }
    if (r >= 0 && (im->flags & IMG_OPEN_UNTRUSTED)) {
        r = check_create_type(d.create_type, im->flags, err);
    }
    if (r >= 0) {
        r = take_desc(im, s, &d, err);
    }
    vmdk_desc_clear(&d);
    return r;
}

/* The file itself is the only extent. */
static int add_self_extent(img *im, vmdk_state *s, img_err *err)
{
    vmdk_extent *e = add_extent(s, err);
    if (!e) {
        return -ENOMEM;
    }
    e->type = VMDK_EXT_SPARSE;
    e->access = VMDK_ACCESS_RW;
    e->file = im->file;
    e->path = strdup(im->filename);
    if (!e->path) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = vmdk_sparse_open(im->file, im->filename,
                             (im->flags & IMG_OPEN_RDWR) != 0, &e->sp, err);
    if (r >= 0) {
        e->len = e->sp->h.capacity * VMDK_SECTOR;
    }
    return r;
}

/* The image file starts with a sparse header: a monolithic image,
 * or (capacity 0 with a descriptor) a descriptor in disguise. */
static int open_sparse_file(img *im, vmdk_state *s, const uint8_t *sector,
                            uint64_t fsize, img_err *err)
{
    vmdk_header h;
    char *text;
    size_t len;
    int r = vmdk_header_decode(sector, VMDK_SECTOR, &h, err);
    if (r >= 0) {
        r = read_embedded(im, &h, fsize, &text, &len, err);
    }
    if (r < 0) {
        return r;
    }
    s->desc_off = h.desc_offset * VMDK_SECTOR;
    s->desc_cap = len;
    if (h.capacity == 0 && text) {
        r = open_from_desc(im, s, text, len, err); /* QEMU does this too */
    } else {
        r = use_embedded(im, s, text, len, err);
        if (r >= 0) {
            r = add_self_extent(im, s, err);
        }
    }
    free(text);
    return r;
}

/* A bare ESX sparse file. */
static int open_cowd_file(img *im, vmdk_state *s, img_err *err)
{
    s->cid = s->parent_cid = 0xffffffffu;
    s->create_type = strdup("vmfsSparse");
    if (!s->create_type) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    return add_self_extent(im, s, err);
}

/* Open hook: dispatch on the first sector, then the virtual size is
 * where the last extent ends. */
static int vmdk_open(img *im, img_file *file, unsigned flags, img_err *err)
{
    (void)flags;
    vmdk_state *s = im->state;
    uint8_t sector[VMDK_SECTOR] = { 0 };
    uint64_t size;
    int r = img_file_size(file, &size, err);
    if (r >= 0) {
        r = img_file_pread(file, sector, size < VMDK_SECTOR ? size
                                                           : VMDK_SECTOR,
                           0, err);
    }
    if (r >= 0 && size >= 4 && !memcmp(sector, VMDK_MAGIC_SPARSE, 4)) {
        r = open_sparse_file(im, s, sector, size, err);
    } else if (r >= 0 && size >= 4 && !memcmp(sector, VMDK_MAGIC_COWD, 4)) {
        r = open_cowd_file(im, s, err);
    } else if (r >= 0) {
        r = open_desc_file(im, s, size, err);
    }
    if (r >= 0) {
        vmdk_extent *last = s->n_ext ? &s->ext[s->n_ext - 1] : NULL;
        im->size = last ? last->start + last->len : 0;
        return 0;
    }
    free_state(s);
    return r;
}

/* Close hook: completes stream extents being written (errors are
 * lost here; flush reports them), then frees everything. */
static void vmdk_close(img *im)
{
    vmdk_state *s = im->state;
    for (size_t i = 0; i < s->n_ext; i++) {
        vmdk_extent *e = &s->ext[i];
        if (e->sp && e->sp->stream) {
            vmdk_stream_finish(e->file, e->sp, NULL); /* best effort */
        }
    }
    free_state(s);
}

/* ---- request loops ---- */

/* The extent holding byte off (off < im->size). */
static vmdk_extent *find_extent(vmdk_state *s, uint64_t off)
{
    size_t lo = 0, hi = s->n_ext;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ext[mid].start <= off) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return &s->ext[lo];
}

/* The error for any I/O on a NOACCESS extent. */
static int noaccess(vmdk_extent *e, img_err *err)
{
    return img_err_set(err, EACCES, "Extent '%s' is NOACCESS", e->path);
}

/* Reads n bytes at extent offset off. */
static int read_extent(img *im, vmdk_extent *e, void *buf, uint64_t n,
                       uint64_t off, img_err *err)
{
    if (e->access == VMDK_ACCESS_NOACCESS) {
        return noaccess(e, err);
    }
    if (e->sp) {
        return vmdk_sparse_read(im, e, buf, n, off, err);
    }
    return vmdk_flat_read(e, buf, n, off, err);
}

/* pread hook: one extent at a time. */
static int vmdk_pread(img *im, void *buf, uint64_t len, uint64_t off,
                      img_err *err)
{
    vmdk_state *s = im->state;
    uint8_t *p = buf;
    while (len > 0) {
        vmdk_extent *e = find_extent(s, off);
        uint64_t in = off - e->start;
        uint64_t n = e->len - in < len ? e->len - in : len;
        int r = read_extent(im, e, p, n, in, err);
        if (r < 0) {
            return r;
        }
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* See vmdk.h.  The parent CID is checked once, on the first read
 * that reaches the parent (as QEMU does). */
int vmdk_read_backing(img *im, void *buf, uint64_t n, uint64_t off,
                      img_err *err)
{
    vmdk_state *s = im->state;
    img *b = im->backing;
    uint64_t have = b && off < img_size(b) ? img_size(b) - off : 0;
    if (have > n) {
        have = n;
    }
    memset((uint8_t *)buf + have, 0, n - have);
    if (!b) {
        return 0;
    }
    if (!s->cid_checked) {
        const vmdk_state *ps = b->drv == &img_vmdk_driver ? b->state : NULL;
        if (!ps || ps->cid != s->parent_cid) {
            return img_err_set(err, EINVAL, "Parent CID mismatch: '%s' "
                               "expects %08" PRIx32 ", the parent has %08"
                               PRIx32, im->filename, s->parent_cid,
                               ps ? ps->cid : 0xffffffffu);
        }
        s->cid_checked = 1;
    }
    return have ? img_pread(b, buf, have, off, err) : 0;
}

/* The first write gives the image a new content ID, as VMware and QEMU
 * do, so that overlays made against the old content notice. */
static int update_cid(img *im, vmdk_state *s, img_err *err)
{
    if (s->cid_updated || !s->desc_cap) {
        return 0;
    }
    s->cid_updated = 1;
    char *old = malloc(s->desc_cap);
    int r = old ? img_file_pread(im->file, old, s->desc_cap, s->desc_off,
                                 err)
                : img_err_set(err, ENOMEM, "Out of memory");
    uint32_t cid;
    do {
        vmdk_random(&cid, sizeof(cid));
    } while (cid >= 0xfffffffeu);
    char *text = r >= 0 ? vmdk_desc_set_cid(old, s->desc_cap, cid) : NULL;
    size_t len = text ? strlen(text) : 0;
    if (text && len <= s->desc_cap) {
        r = img_file_pwrite(im->file, text, len, s->desc_off, err);
        if (r >= 0 && s->desc_off == 0) {
            r = img_file_truncate(im->file, len, err); /* descriptor file */
        }
        s->cid = r >= 0 ? cid : s->cid;
    }
    free(old);
    free(text);
    return r;
}

/* Writes n bytes (buf NULL: zeros) at extent offset off, if the
 * extent may be written. */
static int write_extent(img *im, vmdk_extent *e, const void *buf,
                        uint64_t n, uint64_t off, img_err *err)
{
    if (e->access == VMDK_ACCESS_NOACCESS) {
        return noaccess(e, err);
    }
    if (e->access != VMDK_ACCESS_RW) {
        return img_err_set(err, EPERM, "Extent '%s' is read-only", e->path);
    }
    if (e->sp) {
        return vmdk_sparse_write(im, e, buf, n, off, err);
    }
    return vmdk_flat_write(e, buf, n, off, err);
}

/* buf NULL writes zeros. */
static int write_loop(img *im, const uint8_t *buf, uint64_t len,
                      uint64_t off, img_err *err)
{
    vmdk_state *s = im->state;
    int r = update_cid(im, s, err);
    while (r >= 0 && len > 0) {
        vmdk_extent *e = find_extent(s, off);
        uint64_t in = off - e->start;
        uint64_t n = e->len - in < len ? e->len - in : len;
        r = write_extent(im, e, buf, n, in, err);
        buf = buf ? buf + n : NULL;
        off += n;
        len -= n;
    }
    return r;
}

/* pwrite hook. */
static int vmdk_pwrite(img *im, const void *buf, uint64_t len, uint64_t off,
                       unsigned flags, img_err *err)
{
    (void)flags; /* compressed writes: stream extents always compress */
    return write_loop(im, buf, len, off, err);
}

/* pwrite_zeroes hook: unallocated grains stay so when they read as
 * zeros; zeroed-grain GTEs where the extent has them. */
static int vmdk_pwrite_zeroes(img *im, uint64_t off, uint64_t len,
                              unsigned flags, img_err *err)
{
    (void)flags;
    return write_loop(im, NULL, len, off, err);
}

/* block_status hook, within the extent holding off. */
static int vmdk_block_status(img *im, uint64_t off, uint64_t len,
                             uint64_t *pnum, uint64_t *host_off,
                             img_err *err)
{
    vmdk_state *s = im->state;
    vmdk_extent *e = find_extent(s, off);
    uint64_t in = off - e->start;
    uint64_t n = e->len - in < len ? e->len - in : len;
    if (e->access == VMDK_ACCESS_NOACCESS) {
        return noaccess(e, err);
    }
    if (e->sp) {
        return vmdk_sparse_status(im, e, in, n, pnum, host_off, err);
    }
    return vmdk_flat_status(e, in, n, pnum, host_off, err);
}

/* The extent's own file, unless it is the descriptor file itself (a
 * monolithic image). */
static const char *vmdk_host_file_name(img *im, uint64_t off)
{
    vmdk_state *s = im->state;
    const vmdk_extent *e = find_extent(s, off);
    return e->own_file ? e->path : NULL;
}

/* flush hook: stream metadata first, then every written file (not
 * synced with IMG_OPEN_NO_FLUSH, cache=unsafe). */
static int vmdk_flush(img *im, img_err *err)
{
    vmdk_state *s = im->state;
    int sync = !(im->flags & IMG_OPEN_NO_FLUSH);
    int r = 0;
    for (size_t i = 0; r >= 0 && i < s->n_ext; i++) {
        vmdk_extent *e = &s->ext[i];
        if (e->sp && e->sp->stream) {
            r = vmdk_stream_finish(e->file, e->sp, err);
        }
        if (r >= 0 && sync && e->own_file && e->access == VMDK_ACCESS_RW) {
            r = img_file_flush(e->file, err);
        }
    }
    return r >= 0 && sync ? img_file_flush(im->file, err) : r;
}

/* ---- info ---- */

/* One entry of "extents" (QAPI ImageInfo of the extent). */
static img_val *extent_info(const vmdk_extent *e)
{
    img_val *d = img_val_dict_new();
    img_val_dict_set_str(d, "filename", e->path);
    img_val_dict_set_str(d, "format", e->info_type);
    img_val_dict_set_int(d, "virtual-size", (int64_t)e->len);
    if (e->sp) {
        img_val_dict_set_int(d, "cluster-size", (int64_t)e->sp->grain_bytes);
        if (e->sp->compressed) {
            img_val_dict_set_bool(d, "compressed", 1);
        }
    }
    return d;
}

/* QEMU reports a cluster size when all extents are sparse alike. */
static uint64_t cluster_size(const vmdk_state *s)
{
    const vmdk_sparse *a = s->n_ext ? s->ext[0].sp : NULL;
    for (size_t i = 0; a && i < s->n_ext; i++) {
        const vmdk_sparse *b = s->ext[i].sp;
        if (!b || b->grain_bytes != a->grain_bytes ||
            b->compressed != a->compressed) {
            return 0;
        }
    }
    return a ? a->grain_bytes : 0;
}

/* Disk size counts the extent files too, as QEMU counts them. */
static void add_extent_sizes(const vmdk_state *s, img_info *out)
{
    for (size_t i = 0; out->actual_size >= 0 && i < s->n_ext; i++) {
        uint64_t used;
        if (!s->ext[i].own_file) {
            continue;
        }
        if (img_file_allocated_size(s->ext[i].file, &used, NULL) < 0) {
            out->actual_size = -1;
        } else {
            out->actual_size += (int64_t)used;
        }
    }
}

/* info hook: the format-specific tree QEMU 7.2 prints for vmdk. */
static int vmdk_info(img *im, img_info *out, img_err *err)
{
    vmdk_state *s = im->state;
    img_val *top = img_val_dict_new(), *data = img_val_dict_new();
    img_val *list = img_val_list_new();
    if (!top || !data || !list) {
        img_val_free(top);
        img_val_free(data);
        img_val_free(list);
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    img_val_dict_set_uint(data, "cid", s->cid);
    img_val_dict_set_uint(data, "parent-cid", s->parent_cid);
    img_val_dict_set_str(data, "create-type", s->create_type);
    for (size_t i = 0; i < s->n_ext; i++) {
        img_val_list_append(list, extent_info(&s->ext[i]));
    }
    img_val_dict_set(data, "extents", list);
    img_val_dict_set_str(top, "type", "vmdk");
    img_val_dict_set(top, "data", data);
    out->format_specific = top;
    out->cluster_size = cluster_size(s);
    add_extent_sizes(s, out);
    return 0;
}

const img_driver img_vmdk_driver = {
    .abi = IMG_DRIVER_ABI,
    .name = "vmdk",
    .state_size = sizeof(vmdk_state),
    .flags = IMG_DRV_COMPRESSION | IMG_DRV_BACKING | IMG_DRV_ZERO_INIT,
    .create_opts = vmdk_create_opts,
    .probe = vmdk_probe,
    .open = vmdk_open,
    .close = vmdk_close,
    .pread = vmdk_pread,
    .pwrite = vmdk_pwrite,
    .pwrite_zeroes = vmdk_pwrite_zeroes,
    .block_status = vmdk_block_status,
    .host_file_name = vmdk_host_file_name,
    .flush = vmdk_flush,
    .create = vmdk_create,
    .check = vmdk_check,
    .info = vmdk_info,
};
