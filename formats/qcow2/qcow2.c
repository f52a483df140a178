/* formats/qcow2/qcow2.c -- the qcow2 format driver: probe, open, close,
 * reads, block status, flush and info, and the vtable (writing, create,
 * resize, check and measure live in their own files; see qcow2.h).
 *
 * Spec: QEMU docs/interop/qcow2.txt.  Open decodes and bounds the header
 * (qcow2_header.c), refuses unknown incompatible features, opens an
 * external data file when the image uses one, loads the active L1 table
 * and the snapshot directory.  A read/write open refuses corrupt images
 * (unless opened for check/repair) and rebuilds the refcounts of a dirty
 * one (lazy refcounts) first, as QEMU does.  Reads go through qcow2_map()
 * and take unallocated ranges from the backing image (opened by the core)
 * or zeros.  Block status reports what QEMU's qcow2 driver reports.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/backing.h"
#include "qcow2.h"

/* Bytes read first: enough for every fixed header field. */
#define QCOW2_HEADER_PEEK 512

/* 100 for "QFI\xfb" with version 2 or 3; version 1 (the old qcow
 * format) shares the magic and is not ours. */
static int qcow2_probe(const uint8_t *buf, size_t len)
{
    if (len < 8 || qcow2_be32(buf) != QCOW2_MAGIC) {
        return 0;
    }
    uint32_t version = qcow2_be32(buf + QCOW2_HDR_VERSION);
    return version == 2 || version == 3 ? 100 : 0;
}

/* Reads the fixed header, then the first cluster for the extensions. */
static int read_header(qcow2_state *s, img_file *file, img_err *err)
{
    uint8_t peek[QCOW2_HEADER_PEEK];
    int r = img_file_pread(file, peek, sizeof(peek), 0, err);
    if (r >= 0) {
        r = qcow2_header_decode(peek, sizeof(peek), &s->hdr, err);
    }
    if (r < 0) {
        return r;
    }
    /* cluster_bits is validated: at most 2 MiB.  Past the end of a short
     * file the buffer reads as zeros, which ends the extension area. */
    size_t cluster_size = (size_t)1 << s->hdr.cluster_bits;
    uint8_t *first = malloc(cluster_size);
    if (!first) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    r = img_file_pread(file, first, cluster_size, 0, err);
    if (r >= 0) {
        r = qcow2_meta_decode(first, cluster_size, &s->hdr, &s->meta, err);
    }
    free(first);
    return r;
}

/* Derived geometry (the header is validated). */
static void setup_geometry(qcow2_state *s)
{
    s->cluster_bits = s->hdr.cluster_bits;
    s->cluster_size = 1ull << s->cluster_bits;
    s->extl2 = (s->hdr.incompat & QCOW2_INCOMPAT_EXTL2) != 0;
    s->l2_entry_size = s->extl2 ? QCOW2_L2E_SIZE_EXTENDED : QCOW2_L2E_SIZE;
    /* Extended entries are 16 bytes and split a cluster in 32. */
    s->l2_bits = s->cluster_bits - (s->extl2 ? 4 : 3);
    s->sc_bits = s->cluster_bits - (s->extl2 ? 5 : 0);
    s->data_file_used = (s->hdr.incompat & QCOW2_INCOMPAT_DATA_FILE) != 0;
    /* Compressed descriptors: the offset takes 62 - (cluster_bits - 8)
     * bits, the sector count the cluster_bits - 8 bits above it. */
    s->csize_shift = QCOW2_COMPRESSED_DESC_BITS - (s->cluster_bits - 8);
    s->csize_mask = (1ull << (s->cluster_bits - 8)) - 1;
    s->coffset_mask = (1ull << s->csize_shift) - 1;
    /* Up to 16 tables and 4 MiB: 16 tables of 64 KiB map 8 GiB. */
    uint64_t slots = QCOW2_L2_CACHE_BYTES >> s->cluster_bits;
    s->l2_cache_slots = slots < 1 ? 1
                        : slots > QCOW2_L2_CACHE_MAX ? QCOW2_L2_CACHE_MAX
                        : (unsigned)slots;
    /* A writer pins up to two tables (one being filled, one it reads
     * for copy-on-write) and needs a third to read through. */
    if (s->l2_cache_slots < 4) {
        s->l2_cache_slots = 4;
    }
    qcow2_refcount_setup(s);
}

/* Feature bits against the open mode. */
static int check_open_mode(const qcow2_state *s, unsigned flags,
                           img_err *err)
{
    int r = qcow2_check_features(&s->hdr, &s->meta, err);
    if (r < 0) {
        return r;
    }
    /* As QEMU: a corrupt image opens read/write only to be repaired. */
    if ((s->hdr.incompat & QCOW2_INCOMPAT_CORRUPT) &&
        (flags & IMG_OPEN_RDWR) && !(flags & IMG_OPEN_CHECK)) {
        return img_err_set(err, EACCES, "qcow2: Image is corrupt; cannot "
                           "be opened read/write");
    }
    if (s->hdr.crypt_method != QCOW2_CRYPT_NONE && (flags & IMG_OPEN_RDWR)) {
        return img_err_set(err, ENOTSUP, "Writing encrypted qcow2 images is "
                           "not supported");
    }
    if (!(s->hdr.incompat & QCOW2_INCOMPAT_DATA_FILE) &&
        (s->hdr.autoclear & QCOW2_AUTOCLEAR_DATA_RAW)) {
        return img_err_set(err, EINVAL, "data-file-raw requires a data "
                           "file");
    }
    return 0;
}

/* "nbd://x", "json:{...}": a name with a protocol prefix (anything
 * before the first ':' without '/' or '.'). */
static int is_protocol_name(const char *name)
{
    const char *colon = strchr(name, ':');
    if (!colon || colon == name) {
        return 0;
    }
    return strcspn(name, "/.") > (size_t)(colon - name);
}

/* An external data file name is a host path chosen by whoever made the
 * image (CVE-2024-32498): refused in untrusted mode, and never a
 * protocol or json: description. */
static int data_file_name_ok(const img *im, const char *name, img_err *err)
{
    if (im->flags & IMG_OPEN_UNTRUSTED) {
        return img_err_set(err, EPERM, "External data files are refused "
                           "in untrusted mode");
    }
    if (!name || !name[0]) {
        return img_err_set(err, EINVAL, "'data-file' is required for this "
                           "image");
    }
    if (is_protocol_name(name) || !strncmp(name, "json:", 5)) {
        return img_err_set(err, EPERM, "External data file name '%s' is a "
                           "protocol or json: string; refused", name);
    }
    return 0;
}

/* QEMU's permissions for the data file, as for the image itself. */
static int lock_data_file(img_file *f, unsigned flags, img_err *err)
{
    if (flags & (IMG_OPEN_FORCE_SHARE | IMG_OPEN_NO_LOCK)) {
        return 0;
    }
    unsigned perm = IMG_PERM_CONSISTENT_READ;
    unsigned shared = IMG_PERM_ALL & ~(IMG_PERM_WRITE | IMG_PERM_RESIZE);
    if (flags & IMG_OPEN_RDWR) {
        perm |= IMG_PERM_WRITE | IMG_PERM_RESIZE;
        shared = IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE_UNCHANGED;
    }
    return img_file_set_perm(f, perm, shared, err);
}

/* The data file must not be the image file itself. */
static int check_not_self(img_file *image, img_file *data, img_err *err)
{
    uint64_t d1, i1, d2, i2;
    if (img_file_identity(image, &d1, &i1) >= 0 &&
        img_file_identity(data, &d2, &i2) >= 0 && d1 == d2 && i1 == i2) {
        return img_err_set(err, EINVAL, "External data file is the image "
                           "file itself");
    }
    return 0;
}

/* Opens the external data file named in the image, resolved like a
 * backing file name (relative to the image's directory; QEMU 7.2 uses
 * its working directory instead).  It is opened with the image's mode
 * and locked like it. */
static int open_data_file(img *im, qcow2_state *s, img_err *err)
{
    const char *name = s->meta.data_file;
    int r = data_file_name_ok(im, name, err);
    if (r < 0) {
        return r;
    }
    s->data_path = img_backing_resolve(im->filename, name);
    if (!s->data_path) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    unsigned fflags =
        img_file_flags(im->flags, (im->flags & IMG_OPEN_RDWR) != 0);
    r = img_file_open_host(s->data_path, fflags, &s->data_owned, err);
    if (r >= 0) {
        r = lock_data_file(s->data_owned, im->flags, err);
    }
    if (r >= 0) {
        r = check_not_self(im->file, s->data_owned, err);
    }
    if (r >= 0) {
        r = img_file_size(s->data_owned, &s->data_size, err);
    }
    if (r < 0) {
        img_err_prepend(err, "Could not open data file '%s': ", name);
    }
    s->data = s->data_owned; /* closed by free_state() on failure too */
    return r;
}

/* Hands the backing file name and format over to the core. */
static void set_backing(img *im, qcow2_state *s)
{
    im->backing_name = s->meta.backing_name;
    im->backing_fmt = s->meta.backing_fmt;
    s->meta.backing_name = NULL;
    s->meta.backing_fmt = NULL;
}

/* Releases everything open allocated; safe on a partly opened state
 * (the core zeroed it) and idempotent. */
static void free_state(qcow2_state *s)
{
    qcow2_cluster_free(s);
    qcow2_refcount_free(s);
    qcow2_compress_free(s);
    qcow2_snapshots_free(s);
    qcow2_meta_clear(&s->meta);
    qcow2_writer_free(s);
    img_file_close(s->data_owned);
    s->data_owned = NULL;
    s->data = NULL;
    free(s->data_path);
    s->data_path = NULL;
}

/* Everything after the header is decoded. */
static int open_body(img *im, qcow2_state *s, img_file *file, img_err *err)
{
    int r = check_open_mode(s, im->flags, err);
    if (r >= 0) {
        r = qcow2_header_check_layout(&s->hdr, s->file_size, err);
    }
    if (r < 0) {
        return r;
    }
    setup_geometry(s);
    /* Without an external data file, guest clusters live in the image. */
    s->data = file;
    s->data_size = s->file_size;
    if (s->data_file_used) {
        r = open_data_file(im, s, err);
    }
    if (r >= 0) {
        r = qcow2_l1_load(s, file, err);
    }
    if (r >= 0) {
        r = qcow2_snapshots_load(s, file, err);
    }
    return r;
}

/* A dirty image (lazy refcounts) has its refcounts rebuilt before it
 * is written: QEMU's check with every repair. */
static int repair_dirty(img *im, img_err *err)
{
    img_check_result res;
    int r = qcow2_check(im, &res, IMG_FIX_LEAKS | IMG_FIX_ERRORS, err);
    if (r >= 0 && res.check_errors) {
        r = img_err_set(err, EIO, "Internal errors during the check");
    }
    if (r < 0) {
        img_err_prepend(err, "Could not repair dirty image: ");
    }
    return r;
}

/* Read/write: the refcount table in memory and the writer's settings. */
static int open_writer(img *im, qcow2_state *s, img_err *err)
{
    int r = qcow2_reftable_load(s, im->file, err);
    if (r < 0) {
        return r;
    }
    s->writable = 1;
    s->no_flush = s->creating || (im->flags & IMG_OPEN_NO_FLUSH);
    s->lazy = !s->creating && s->hdr.version >= 3 &&
              (s->hdr.compat & QCOW2_COMPAT_LAZY_REFCOUNTS);
    if ((s->hdr.incompat & QCOW2_INCOMPAT_DIRTY) &&
        !(im->flags & IMG_OPEN_CHECK)) {
        return repair_dirty(im, err);
    }
    return 0;
}

/* Bitmaps that a writer unaware of them left behind (it cleared the
 * autoclear bit): they no longer count, and QEMU warns as it opens. */
static void warn_stale_bitmaps(const img *im, const qcow2_state *s)
{
    if (s->hdr.version >= 3 && s->meta.has_bitmaps &&
        !(s->hdr.autoclear & QCOW2_AUTOCLEAR_BITMAPS)) {
        qcow2_report(s,
                     "warning: %s: a program lacking bitmap support "
                     "modified this file, so all bitmaps are now considered "
                     "inconsistent ('check -r leaks' frees their clusters)",
                     im->filename);
    }
}

/* Returns 0 or -errno; on failure everything opened here is released. */
int qcow2_open(img *im, img_file *file, unsigned flags, img_err *err)
{
    qcow2_state *s = im->state;
    (void)flags; /* im->flags has the same bits */
    s->quiet = (im->flags & IMG_OPEN_QUIET) != 0;
    int r = img_file_size(file, &s->file_size, err);
    if (r >= 0) {
        r = read_header(s, file, err);
    }
    if (r >= 0) {
        r = open_body(im, s, file, err);
    }
    if (r >= 0) {
        im->size = s->hdr.size;
    }
    if (r >= 0 && (im->flags & IMG_OPEN_RDWR)) {
        r = open_writer(im, s, err);
    }
    if (r < 0) {
        free_state(s);
        return r;
    }
    set_backing(im, s);
    warn_stale_bitmaps(im, s);
    return 0;
}

/* Compressed clusters end anywhere; like qemu-img at the end of
 * "convert -c", the file is then padded to a whole sector so that
 * sector-based readers can read its tail. */
static int align_file_end(qcow2_state *s, img_file *file, img_err *err)
{
    uint64_t size = s->file_size;
    s->cmp_written = 0;
    if (size % 512 == 0) {
        return 0;
    }
    size = (size + 511) & ~511ull;
    int r = img_file_truncate(file, size, err);
    if (r >= 0) {
        s->file_size = size;
        s->data_size = s->data_owned ? s->data_size : size;
    }
    return r;
}

int qcow2_flush(img *im, img_err *err)
{
    qcow2_state *s = im->state;
    if (!s->writable) {
        return 0;
    }
    int r = s->cmp_written ? align_file_end(s, im->file, err) : 0;
    return r < 0 ? r : qcow2_meta_flush(s, im->file, err);
}

/* Writes everything back and clears the dirty bit (lazy refcounts);
 * the core frees the state itself and the backing chain. */
void qcow2_close(img *im)
{
    qcow2_state *s = im->state;
    if (s->writable && !s->corrupt) {
        img_err err = { 0 };
        int r = qcow2_meta_flush(s, im->file, &err);
        if (r >= 0 && s->dirty_set) {
            r = qcow2_mark_clean(s, im->file, &err);
        }
        if (r < 0) {
            qcow2_report(s, "qcow2: Failed to flush the image on close: %s",
                         err.msg);
        }
    }
    free_state(s);
}

void qcow2_report(const qcow2_state *s, const char *fmt, ...)
{
    if (s->quiet) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Whether a read may let go of the image's lock (which the core holds
 * around the pread hook) while it waits for data: only for a read-only
 * image, whose mapping never changes, and only around I/O that touches no
 * shared state (plain data clusters, the backing image).  The L2 cache and
 * the compressed-cluster buffers stay under the lock.  QEMU's qcow2 drops
 * its lock around data I/O the same way; with it, the workers of a
 * conversion read a qcow2 source in parallel. */
static int may_unlock(const img *im, int locked)
{
    const qcow2_state *s = im->state;
    return locked && !s->writable;
}

/* Lets other readers in for the duration of some I/O. */
static void io_unlock(img *im, int unlock)
{
    if (unlock) {
        pthread_mutex_unlock(&im->lock);
    }
}

static void io_relock(img *im, int unlock)
{
    if (unlock) {
        pthread_mutex_lock(&im->lock);
    }
}

/* Unallocated: the backing image where it reaches, zeros elsewhere (the
 * backing image has its own lock). */
static int read_backing(img *im, uint8_t *buf, uint64_t len, uint64_t off,
                        int unlock, img_err *err)
{
    uint64_t n = 0;
    if (im->backing && off < img_size(im->backing)) {
        uint64_t bsize = img_size(im->backing);
        n = len < bsize - off ? len : bsize - off;
        io_unlock(im, unlock);
        int r = img_pread(im->backing, buf, n, off, err);
        io_relock(im, unlock);
        if (r < 0) {
            return r;
        }
    }
    memset(buf + n, 0, len - n);
    return 0;
}

/* Encrypted images open (info works without a key) but their data
 * cannot be read. */
static int encrypted_read(img_err *err)
{
    return img_err_set(err, ENOTSUP, "Reading encrypted qcow2 images is "
                       "not supported");
}

/* A run of plain data clusters, contiguous in the data file.  A cluster
 * that starts past the end of the file is corrupt (QEMU would read
 * zeros); one that only ends past it reads zeros there, as in QEMU. */
static int read_normal(img *im, uint8_t *buf, const qcow2_extent *e,
                       int unlock, img_err *err)
{
    qcow2_state *s = im->state;
    if (s->hdr.crypt_method != QCOW2_CRYPT_NONE) {
        return encrypted_read(err);
    }
    if (e->host_off >= s->data_size) {
        return img_err_set(err, EIO, "Data cluster at host offset %#" PRIx64
                           " is beyond the end of the file", e->host_off);
    }
    io_unlock(im, unlock);
    int r = img_file_pread(s->data, buf, e->len, e->host_off, err);
    io_relock(im, unlock);
    return r;
}

/* Part of one compressed cluster (extents never span two). */
static int read_compressed(qcow2_state *s, img_file *file, uint8_t *buf,
                           uint64_t off, const qcow2_extent *e,
                           img_err *err)
{
    const uint8_t *cluster;
    if (s->hdr.crypt_method != QCOW2_CRYPT_NONE) {
        return encrypted_read(err);
    }
    int r = qcow2_read_compressed(s, file, e->l2_entry, &cluster, err);
    if (r >= 0) {
        memcpy(buf, cluster + qcow2_cluster_offset_in(s, off), e->len);
    }
    return r;
}

/* Reads one extent that starts at off; unlock: see may_unlock(). */
static int read_extent(img *im, uint8_t *buf, uint64_t off,
                       const qcow2_extent *e, int unlock, img_err *err)
{
    qcow2_state *s = im->state;
    switch (e->kind) {
    case QCOW2_UNALLOC:
    case QCOW2_UNALLOC_ALLOC:
        return read_backing(im, buf, e->len, off, unlock, err);
    case QCOW2_ZERO_PLAIN:
    case QCOW2_ZERO_ALLOC:
        memset(buf, 0, e->len);
        return 0;
    case QCOW2_NORMAL:
        return read_normal(im, buf, e, unlock, err);
    case QCOW2_COMPRESSED:
        return read_compressed(s, im->file, buf, off, e, err);
    }
    return img_err_set(err, EIO, "Invalid cluster type");
}

/* Whether e, found at off, is a whole compressed cluster. */
static int whole_compressed(const qcow2_state *s, uint64_t off,
                            const qcow2_extent *e)
{
    return e->kind == QCOW2_COMPRESSED &&
           qcow2_cluster_offset_in(s, off) == 0 && e->len == s->cluster_size;
}

/* Whether a read of len bytes at off, whose first extent is e, starts
 * with a run of compressed clusters worth reading as one
 * (qcow2_decompress_run.c): two whole clusters or more. */
static int starts_compressed_run(const qcow2_state *s, uint64_t off,
                                 uint64_t len, const qcow2_extent *e)
{
    return s->hdr.crypt_method == QCOW2_CRYPT_NONE &&
           whole_compressed(s, off, e) && len / s->cluster_size >= 2;
}

/* Reads the whole compressed clusters that follow from off, the first
 * one being e: as many as the read covers, up to qcow2_run_max(), and
 * sets *done to their bytes. */
static int read_compressed_run(img *im, uint8_t *buf, uint64_t off,
                               uint64_t len, const qcow2_extent *e,
                               uint64_t *done, img_err *err)
{
    qcow2_state *s = im->state;
    uint64_t cs = s->cluster_size;
    uint64_t entries[QCOW2_RUN_MAX_CLUSTERS];
    size_t n = 0, max = qcow2_run_max(s);
    entries[n++] = e->l2_entry;
    while (n < max && len - n * cs >= cs) {
        qcow2_extent next;
        int r = qcow2_map(s, im->file, off + n * cs, len - n * cs, &next,
                          err);
        if (r < 0) {
            return r;
        }
        if (!whole_compressed(s, off + n * cs, &next)) {
            break;
        }
        entries[n++] = next.l2_entry;
    }
    *done = n * cs;
    return qcow2_read_compressed_run(s, im->file, entries, n, buf, err);
}

/* Fills buf or fails; the core checked the range.  locked: the caller
 * holds im->lock, so data reads of a read-only image may release it
 * meanwhile (qcow2_read_guest, the writer's own reads, reaches the hook
 * only on writable images, where nothing is released). */
static int read_guest(img *im, uint8_t *buf, uint64_t len, uint64_t off,
                      int locked, img_err *err)
{
    qcow2_state *s = im->state;
    uint8_t *p = buf;
    int unlock = may_unlock(im, locked);
    /* Each extent is one kind and at most one L2 table long. */
    while (len > 0) {
        qcow2_extent e;
        uint64_t done = 0;
        int r = qcow2_map(s, im->file, off, len, &e, err);
        if (r >= 0 && starts_compressed_run(s, off, len, &e)) {
            r = read_compressed_run(im, p, off, len, &e, &done, err);
        } else if (r >= 0) {
            r = read_extent(im, p, off, &e, unlock, err);
            done = e.len;
        }
        if (r < 0) {
            return r;
        }
        p += done;
        off += done;
        len -= done;
    }
    return 0;
}

/* The pread hook: io.c calls it with im->lock held (qcow2 is not
 * IMG_DRV_THREADSAFE). */
static int qcow2_pread(img *im, void *buf, uint64_t len, uint64_t off,
                       img_err *err)
{
    return read_guest(im, buf, len, off, 1, err);
}

/* Host offsets point into the external data file when there is one. */
static const char *qcow2_host_file_name(img *im, uint64_t off)
{
    qcow2_state *s = im->state;
    (void)off;
    return s->data_owned ? s->data_path : NULL;
}

/* With preallocated metadata, QEMU asks the file whether a data range
 * is a hole there (which then reads as zeros). */
static int prealloc_zero(img *im, const qcow2_extent *e, uint64_t *pnum,
                         img_err *err)
{
    qcow2_state *s = im->state;
    if (!s->prealloc_checked) {
        int r = qcow2_detect_metadata_prealloc(s, im->file, err);
        if (r < 0) {
            return r;
        }
        s->metadata_prealloc = r;
        s->prealloc_checked = 1;
    }
    if (!s->metadata_prealloc) {
        return 0;
    }
    int is_data;
    int r = img_file_extent(s->data, e->host_off, e->len, &is_data, pnum,
                            err);
    return r < 0 ? r : !is_data;
}

/* QEMU's qcow2 block status: data or zero flags, and the host offset for
 * clusters that have one (not for compressed or encrypted ones). */
static int qcow2_block_status(img *im, uint64_t off, uint64_t len,
                              uint64_t *pnum, uint64_t *host_off,
                              img_err *err)
{
    qcow2_state *s = im->state;
    qcow2_extent e;
    int r = qcow2_map(s, im->file, off, len, &e, err);
    if (r < 0) {
        return r;
    }
    *pnum = e.len;
    int ret = 0;
    if (e.kind == QCOW2_NORMAL && s->hdr.crypt_method == QCOW2_CRYPT_NONE) {
        r = prealloc_zero(im, &e, pnum, err);
        if (r < 0) {
            return r;
        }
        ret = r ? IMG_BS_ZERO : 0;
    }
    switch (e.kind) {
    case QCOW2_UNALLOC:
        return 0; /* the backing image decides */
    case QCOW2_UNALLOC_ALLOC:
        break; /* ditto, but QEMU reports the reserved host offset */
    case QCOW2_ZERO_PLAIN:
        return IMG_BS_ZERO | IMG_BS_ALLOCATED;
    case QCOW2_ZERO_ALLOC:
        ret = IMG_BS_ZERO | IMG_BS_ALLOCATED;
        break;
    case QCOW2_NORMAL:
        ret |= IMG_BS_DATA | IMG_BS_ALLOCATED;
        break;
    case QCOW2_COMPRESSED:
        return IMG_BS_DATA | IMG_BS_ALLOCATED;
    }
    if (s->hdr.crypt_method == QCOW2_CRYPT_NONE) {
        *host_off = e.host_off;
        ret |= IMG_BS_OFFSET_VALID;
    }
    return ret;
}

/* format-specific data in qemu-img 7.2's key order (the hash order of
 * its QDict): compat, compression-type, lazy-refcounts, bitmaps,
 * refcount-bits, data-file, encrypt, data-file-raw, corrupt, extended-l2.
 * bitmaps and encrypt are taken over (NULL: none). */
static img_val *specific_data(const qcow2_state *s, img_val *bitmaps,
                              img_val *encrypt)
{
    img_val *d = img_val_dict_new();
    int v3 = s->hdr.version >= 3;
    img_val_dict_set_str(d, "compat", v3 ? "1.1" : "0.10");
    img_val_dict_set_str(d, "compression-type",
                         s->hdr.compression_type == QCOW2_COMPRESSION_ZSTD
                             ? "zstd" : "zlib");
    if (v3) {
        img_val_dict_set_bool(d, "lazy-refcounts", (s->hdr.compat &
                              QCOW2_COMPAT_LAZY_REFCOUNTS) != 0);
    }
    img_val_dict_set(d, "bitmaps", bitmaps);
    img_val_dict_set_int(d, "refcount-bits", 1ll << s->hdr.refcount_order);
    if (!v3) {
        img_val_dict_set(d, "encrypt", encrypt);
        return d;
    }
    if (s->meta.data_file) {
        img_val_dict_set_str(d, "data-file", s->meta.data_file);
    }
    img_val_dict_set(d, "encrypt", encrypt);
    if (s->data_file_used) {
        img_val_dict_set_bool(d, "data-file-raw", (s->hdr.autoclear &
                              QCOW2_AUTOCLEAR_DATA_RAW) != 0);
    }
    img_val_dict_set_bool(d, "corrupt",
                          (s->hdr.incompat & QCOW2_INCOMPAT_CORRUPT) != 0);
    img_val_dict_set_bool(d, "extended-l2", s->extl2);
    return d;
}

/* Cluster size, dirty flag (always reported, as qemu-img does) and the
 * format-specific dict {"type": "qcow2", "data": {...}}. */
static int qcow2_info(img *im, img_info *out, img_err *err)
{
    const qcow2_state *s = im->state;
    out->cluster_size = s->cluster_size;
    out->encrypted = s->hdr.crypt_method != QCOW2_CRYPT_NONE;
    out->has_dirty_flag = 1;
    out->dirty_flag = (s->hdr.incompat & QCOW2_INCOMPAT_DIRTY) != 0;
    img_val *bitmaps = NULL, *encrypt = NULL;
    int r = qcow2_bitmaps_info(s, im->file, &bitmaps, err);
    if (r >= 0) {
        r = qcow2_crypt_info(s, im->file, &encrypt, err);
    }
    if (r < 0) {
        img_val_free(bitmaps);
        return r;
    }
    img_val *spec = img_val_dict_new();
    img_val *data = specific_data(s, bitmaps, encrypt);
    if (!spec || !data) {
        img_val_free(spec);
        img_val_free(data);
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    img_val_dict_set_str(spec, "type", "qcow2");
    img_val_dict_set(spec, "data", data);
    out->format_specific = spec;
    return 0;
}

/* Not IMG_DRV_THREADSAFE: the caches and compression buffers are shared
 * state, so the core serialises the hooks per image. */
const img_driver img_qcow2_driver = {
    .abi = IMG_DRIVER_ABI,
    .name = "qcow2",
    .state_size = sizeof(qcow2_state),
    .flags = IMG_DRV_BACKING | IMG_DRV_ZERO_INIT | IMG_DRV_COMPRESSION,
    .create_opts = qcow2_create_opts,
    .probe = qcow2_probe,
    .open = qcow2_open,
    .close = qcow2_close,
    .pread = qcow2_pread,
    .pwrite = qcow2_pwrite,
    .compress_cluster = qcow2_compress_hook,
    .pwrite_compressed = qcow2_pwrite_compressed,
    .pwrite_zeroes = qcow2_pwrite_zeroes,
    .discard = qcow2_discard,
    .block_status = qcow2_block_status,
    .host_file_name = qcow2_host_file_name,
    .flush = qcow2_flush,
    .truncate = qcow2_truncate,
    .create = qcow2_create,
    .check = qcow2_check,
    .info = qcow2_info,
    .measure = qcow2_measure,
    .amend_opts = qcow2_amend_opts,
    .amend = qcow2_amend,
    .change_backing = qcow2_change_backing,
    .make_empty = qcow2_make_empty,
    .snapshot_list = qcow2_snapshot_list,
    .snapshot_create = qcow2_snapshot_create,
    .snapshot_goto = qcow2_snapshot_goto,
    .snapshot_delete = qcow2_snapshot_delete,
    .bitmap_change = qcow2_bitmap_change,
    .bitmap_list = qcow2_bitmap_list,
    .snapshot_load_tmp = qcow2_snapshot_load_tmp,
};
