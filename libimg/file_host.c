/* libimg/file_host.c -- img_file backend for a POSIX host file or device.
 *
 * The counterpart of QEMU's block/file-posix.c: positional I/O that loops
 * over EINTR and short transfers (reads past EOF return zeros), fdatasync
 * for flush, fallocate for holes and preallocation, SEEK_DATA/SEEK_HOLE for
 * the allocation map, copy_file_range for offloaded copies, drop-behind
 * for files read once (IMG_FILE_READ_ONCE: posix_fadvise DONTNEED after
 * each read of a cold, dense file; see should_drop_behind), and QEMU's
 * OFD byte-range locking protocol so vdisk and QEMU see each other's use of
 * an image.
 *
 * Locking protocol (QEMU raw_apply_lock_bytes/raw_check_lock_bytes): for
 * each permission bit i an opener holds, it takes a shared (F_RDLCK) OFD
 * lock on byte 100 + i; for each bit it refuses to share, a shared lock on
 * byte 200 + i.  Wanting bit i conflicts with anyone locking 200 + i;
 * refusing to share bit i conflicts with anyone locking 100 + i.  OFD locks
 * belong to the open file description, so two img_files in one process
 * conflict just as two processes do, and closing the fd drops them.
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif
#include <unistd.h>

/* First lock byte for held permissions and for unshared permissions. */
#define LOCK_PERM_BASE   100
#define LOCK_SHARED_BASE 200
/* Number of IMG_PERM_* bits. */
#define PERM_COUNT 5

/* Largest single read/write request handed to the kernel. */
#define MAX_IO_CHUNK ((size_t)1 << 30)

typedef struct host_file {
    img_file base;        /* must stay first */
    int fd;               /* open with O_CLOEXEC */
    int is_device;        /* block or character device: no resizing */
    int no_lock;          /* kernel lacks OFD locks: locking disabled */
    unsigned locked_perm; /* bits whose byte 100 + i we hold */
    unsigned locked_unsh; /* bits whose byte 200 + i we hold */
    int drop_behind;      /* IMG_FILE_READ_ONCE on a cold file: reads
                             drop what they read from the page cache */
} host_file;

static const img_file_ops host_ops;

/* Names QEMU uses for each permission bit in lock messages. */
static const char *const perm_names[PERM_COUNT] = {
    "consistent read", "write", "write unchanged", "resize", "change children",
};

static host_file *to_host(img_file *f)
{
    return (host_file *)f;
}

/* ---- I/O ---------------------------------------------------------------- */

/* pread until len bytes are in or the file ends (zeros past it). */
static int pread_all(host_file *h, void *buf, size_t len, uint64_t off,
                     img_err *err)
{
    img_file *f = &h->base;
    uint8_t *p = buf;
    while (len > 0) {
        size_t n = len < MAX_IO_CHUNK ? len : MAX_IO_CHUNK;
        ssize_t r = pread(h->fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return img_err_errno(err, errno,
                                 "Could not read '%s' at offset %" PRIu64,
                                 f->path, off);
        }
        if (r == 0) {
            memset(p, 0, len); /* past EOF: zeros */
            return 0;
        }
        p += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
    return 0;
}

/* Page-cache hints for [off, off+len) through posix_fadvise: fetch it
 * now, or drop it.  Hints only: errors are ignored, and ranges off_t
 * cannot hold and systems without posix_fadvise do nothing. */
typedef enum cache_hint { HINT_FETCH, HINT_DROP } cache_hint;

static void cache_advise(int fd, uint64_t off, uint64_t len, cache_hint hint)
{
#if defined(POSIX_FADV_WILLNEED) && defined(POSIX_FADV_DONTNEED)
    if (len > INT64_MAX || off > INT64_MAX - len) {
        return;
    }
    int advice =
        hint == HINT_FETCH ? POSIX_FADV_WILLNEED : POSIX_FADV_DONTNEED;
    (void)posix_fadvise(fd, (off_t)off, (off_t)len, advice);
#else
    (void)fd;
    (void)off;
    (void)len;
    (void)hint;
#endif
}

/* Read-once files drop what they read in blocks of this size: the page
 * cache holds a file in folios of up to 2 MiB, and the kernel drops only
 * folios wholly inside the range it is given. */
#define DROP_BLOCK ((uint64_t)2 << 20)

/* After reading [off, off+len) of a read-once file: drops the 2 MiB
 * blocks that end inside it, from the block where the read starts.  With
 * reads in order (one or several threads) each block goes once all of it
 * has been read; the few pages a read out of order drops early are read
 * again from the device, and pages another thread is still copying stay,
 * as does the file's last, partial block. */
static void drop_read_pages(host_file *h, uint64_t off, uint64_t len)
{
    if (len > INT64_MAX || off > INT64_MAX - len) {
        return;
    }
    uint64_t start = off - off % DROP_BLOCK;
    uint64_t end = off + len - (off + len) % DROP_BLOCK;
    if (end > start) {
        cache_advise(h->fd, start, end - start, HINT_DROP);
    }
}

static int host_pread(img_file *f, void *buf, size_t len, uint64_t off,
                      img_err *err)
{
    host_file *h = to_host(f);
    int r = pread_all(h, buf, len, off, err);
    if (h->drop_behind && r == 0) {
        drop_read_pages(h, off, len);
    }
    return r;
}

static int host_pwrite(img_file *f, const void *buf, size_t len, uint64_t off,
                       img_err *err)
{
    host_file *h = to_host(f);
    const uint8_t *p = buf;
    while (len > 0) {
        size_t n = len < MAX_IO_CHUNK ? len : MAX_IO_CHUNK;
        ssize_t r = pwrite(h->fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        /* A write that makes no progress means the device is full. */
        int e = r < 0 ? errno : ENOSPC;
        if (r <= 0) {
            return img_err_errno(err, e,
                                 "Could not write '%s' at offset %" PRIu64,
                                 f->path, off);
        }
        p += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
    return 0;
}

static int host_get_size(img_file *f, uint64_t *size, img_err *err)
{
    host_file *h = to_host(f);
    struct stat st;
    if (fstat(h->fd, &st) < 0) {
        return img_err_errno(err, errno, "Could not stat '%s'", f->path);
    }
    if (!h->is_device) {
        *size = (uint64_t)st.st_size;
        return 0;
    }
    /* Devices report st_size 0; their end is where SEEK_END lands. */
    off_t end = lseek(h->fd, 0, SEEK_END);
    if (end < 0) {
        return img_err_errno(err, errno, "Could not get the size of '%s'",
                             f->path);
    }
    *size = (uint64_t)end;
    return 0;
}

static int host_truncate(img_file *f, uint64_t size, img_err *err)
{
    host_file *h = to_host(f);
    if (h->is_device) {
        uint64_t cur;
        int r = host_get_size(f, &cur, err);
        if (r < 0 || size <= cur) {
            return r; /* a device can always "shrink": nothing to do */
        }
        return img_err_set(err, EINVAL, "Cannot grow device files");
    }
    if (size > INT64_MAX) {
        return img_err_errno(err, EFBIG, "Could not resize file");
    }
    if (ftruncate(h->fd, (off_t)size) < 0) {
        return img_err_errno(err, errno, "Could not resize file");
    }
    return 0;
}

static int host_flush(img_file *f, img_err *err)
{
    host_file *h = to_host(f);
    int r;
    do {
        r = fdatasync(h->fd);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return img_err_errno(err, errno, "Could not flush '%s'", f->path);
    }
    return 0;
}

/* True for the errno values meaning "this fallocate mode is unsupported". */
static int mode_unsupported(int e)
{
    return e == EOPNOTSUPP || e == ENOTSUP || e == ENOSYS || e == EINVAL;
}

/* Deallocates [off, off+len) without changing the size; falls back to
 * FALLOC_FL_ZERO_RANGE, then -ENOTSUP so the caller writes zeros. */
static int host_punch_hole(img_file *f, uint64_t off, uint64_t len,
                           img_err *err)
{
    host_file *h = to_host(f);
    static const int modes[] = {
        FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
        FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
    };
    if (off > INT64_MAX || len > INT64_MAX - off) {
        return img_err_set(err, EINVAL, "Discard range out of bounds");
    }
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        int r;
        do {
            r = fallocate(h->fd, modes[i], (off_t)off, (off_t)len);
        } while (r < 0 && errno == EINTR);
        if (r == 0) {
            return 0;
        }
        if (!mode_unsupported(errno)) {
            return img_err_errno(err, errno, "Could not discard in '%s'",
                                 f->path);
        }
    }
    return img_err_set(err, ENOTSUP, "Punching holes is not supported in '%s'",
                       f->path);
}

/* Reserves [off, off+len), growing the file if needed. */
static int host_allocate(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    host_file *h = to_host(f);
    if (off > INT64_MAX || len > INT64_MAX - off) {
        return img_err_set(err, EFBIG, "Preallocation range out of bounds");
    }
    int r;
    do {
        r = fallocate(h->fd, 0, (off_t)off, (off_t)len) < 0 ? errno : 0;
    } while (r == EINTR);
    if (r != 0 && mode_unsupported(r)) {
        /* glibc emulates what the filesystem lacks; returns an errno. */
        r = posix_fallocate(h->fd, (off_t)off, (off_t)len);
    }
    if (r != 0) {
        return img_err_errno(err, r, "Could not preallocate data for '%s'",
                             f->path);
    }
    return 0;
}

/* Classifies the run starting at off with SEEK_DATA/SEEK_HOLE (QEMU
 * find_allocation).  Anything the kernel cannot answer counts as data. */
static int host_extent(img_file *f, uint64_t off, uint64_t len, int *is_data,
                       uint64_t *pnum, img_err *err)
{
    host_file *h = to_host(f);
    (void)err;
    *is_data = 1;
    *pnum = len;
    if (off > INT64_MAX) {
        *is_data = 0; /* far past any EOF */
        return 0;
    }
    off_t data = lseek(h->fd, (off_t)off, SEEK_DATA);
    if (data < 0) {
        /* ENXIO: no data at or after off, so a hole up to (and past) EOF. */
        *is_data = errno == ENXIO ? 0 : 1;
        return 0;
    }
    if ((uint64_t)data > off) {
        uint64_t run = (uint64_t)data - off;
        *is_data = 0;
        *pnum = run < len ? run : len;
        return 0;
    }
    off_t hole = lseek(h->fd, (off_t)off, SEEK_HOLE);
    if (hole > (off_t)off) {
        uint64_t run = (uint64_t)hole - off;
        *pnum = run < len ? run : len;
    }
    /* hole <= off is a race with a concurrent punch: report data. */
    return 0;
}

static int host_allocated_size(img_file *f, uint64_t *bytes, img_err *err)
{
    struct stat st;
    if (fstat(to_host(f)->fd, &st) < 0) {
        return img_err_errno(err, errno, "Could not stat '%s'", f->path);
    }
    *bytes = (uint64_t)st.st_blocks * 512;
    return 0;
}

/* True for copy_file_range errors that mean "not possible here". */
static int copy_unsupported(int e)
{
    return e == EXDEV || e == ENOSYS || e == EOPNOTSUPP || e == ENOTSUP ||
           e == EINVAL || e == EBADF;
}

/* Copies in the kernel; bytes past the source's EOF become zeros.  Any
 * -ENOTSUP means the caller should copy the whole range itself. */
static int host_copy_range(img_file *src, uint64_t src_off, img_file *dst,
                           uint64_t dst_off, uint64_t len, img_err *err)
{
    host_file *s = to_host(src), *d = to_host(dst);
    if (src_off > INT64_MAX - len || dst_off > INT64_MAX - len) {
        return img_err_set(err, EINVAL, "Copy range out of bounds");
    }
    loff_t in = (loff_t)src_off, out = (loff_t)dst_off;
    while (len > 0) {
        size_t n = len < MAX_IO_CHUNK ? (size_t)len : MAX_IO_CHUNK;
        ssize_t r = copy_file_range(s->fd, &in, d->fd, &out, n, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && copy_unsupported(errno)) {
            return img_err_set(err, ENOTSUP,
                               "Copy offloading is not supported from '%s' "
                               "to '%s'",
                               src->path, dst->path);
        }
        if (r < 0) {
            return img_err_errno(err, errno, "Could not copy '%s' to '%s'",
                                 src->path, dst->path);
        }
        if (r == 0) {
            /* Source EOF: the rest of the range reads as zeros. */
            return img_file_write_zeroes(dst, (uint64_t)out, len, err);
        }
        len -= (uint64_t)r;
    }
    return 0;
}

/* Starts reading [off, off+len) into the page cache without waiting for
 * it (posix_fadvise WILLNEED), so that a later pread of a cold file finds
 * its pages read or on the way. */
static void host_prefetch(img_file *f, uint64_t off, uint64_t len)
{
    cache_advise(to_host(f)->fd, off, len, HINT_FETCH);
}

/* ---- QEMU-compatible locking ------------------------------------------- */

/* Sets (F_RDLCK) or drops (F_UNLCK) our OFD lock on byte off; -errno. */
static int lock_byte(int fd, int off, short type)
{
    struct flock fl = {
        .l_type = type,
        .l_whence = SEEK_SET,
        .l_start = off,
        .l_len = 1,
    };
    return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* Returns -EAGAIN when another open file description locks byte off. */
static int test_byte(int fd, int off)
{
    struct flock fl = {
        .l_type = F_WRLCK,
        .l_whence = SEEK_SET,
        .l_start = off,
        .l_len = 1,
    };
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
        return -errno;
    }
    return fl.l_type == F_UNLCK ? 0 : -EAGAIN;
}

/* Updates one group of lock bytes (base + i for bit i) towards want:
 * locks the missing bytes and, when unlock is set, drops the extra ones.
 * *held tracks what is locked even when this fails half way. */
static int apply_group(int fd, int base, unsigned want, unsigned *held,
                       int unlock, img_err *err)
{
    for (int i = 0; i < PERM_COUNT; i++) {
        unsigned bit = 1u << i;
        int r = 0;
        if ((want & bit) && !(*held & bit)) {
            r = lock_byte(fd, base + i, F_RDLCK);
            *held |= r == 0 ? bit : 0;
        } else if (unlock && !(want & bit) && (*held & bit)) {
            r = lock_byte(fd, base + i, F_UNLCK);
            *held &= r == 0 ? ~bit : ~0u;
        }
        if (r < 0) {
            return img_err_errno(err, -r, "Failed to %s byte %d",
                                 want & bit ? "lock" : "unlock", base + i);
        }
    }
    return 0;
}

static int apply_locks(host_file *h, unsigned perm, unsigned unshared,
                       int unlock, img_err *err)
{
    int r =
        apply_group(h->fd, LOCK_PERM_BASE, perm, &h->locked_perm, unlock, err);
    if (r < 0) {
        return r;
    }
    return apply_group(h->fd, LOCK_SHARED_BASE, unshared, &h->locked_unsh,
                       unlock, err);
}

/* Formats a conflict the way QEMU does; EAGAIN/EACCES mean "held". */
static int lock_conflict(host_file *h, int code, const char *kind, int i,
                         img_err *err)
{
    if (code == EAGAIN || code == EACCES) {
        return img_err_set(err, code,
                           "Failed to get %s\"%s\" lock\n"
                           "Is another process using the image [%s]?",
                           kind, perm_names[i], h->base.path);
    }
    return img_err_set(err, code,
                       "Failed to get %s\"%s\" lock: %s\n"
                       "Is another process using the image [%s]?",
                       kind, perm_names[i], strerror(code), h->base.path);
}

/* Checks that nobody else refuses what we hold or holds what we refuse. */
static int check_locks(host_file *h, unsigned perm, unsigned unshared,
                       img_err *err)
{
    for (int i = 0; i < PERM_COUNT; i++) {
        int r = (perm >> i) & 1 ? test_byte(h->fd, LOCK_SHARED_BASE + i) : 0;
        if (r < 0) {
            return lock_conflict(h, -r, "", i, err);
        }
    }
    for (int i = 0; i < PERM_COUNT; i++) {
        int r = (unshared >> i) & 1 ? test_byte(h->fd, LOCK_PERM_BASE + i) : 0;
        if (r < 0) {
            return lock_conflict(h, -r, "shared ", i, err);
        }
    }
    return 0;
}

/* Takes the new locks next to the old ones, checks for conflicts, then
 * drops what is no longer needed; on failure restores the old set.  Not
 * to be called from two threads at once on one file. */
static int host_set_perm(img_file *f, unsigned perm, unsigned shared,
                         img_err *err)
{
    host_file *h = to_host(f);
    unsigned unshared = ~shared & IMG_PERM_ALL;
    unsigned old_perm = h->locked_perm, old_unsh = h->locked_unsh;
    if (h->no_lock) {
        return 0;
    }
    int r = apply_locks(h, perm, unshared, 0, err);
    if (r == -EINVAL && old_perm == 0 && old_unsh == 0 && h->locked_perm == 0 &&
        h->locked_unsh == 0) {
        /* No OFD locks in this kernel: QEMU's locking=auto goes unlocked. */
        h->no_lock = 1;
        img_err_clear(err);
        return 0;
    }
    if (r == 0) {
        r = check_locks(h, perm, unshared, err);
    }
    if (r < 0) {
        apply_locks(h, old_perm, old_unsh, 1, NULL);
        return r;
    }
    return apply_locks(h, perm, unshared, 1, err);
}

/* ---- identity, close, open --------------------------------------------- */

static int host_identity(img_file *f, uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    if (fstat(to_host(f)->fd, &st) < 0) {
        return -errno;
    }
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    return 0;
}

static void host_close(img_file *f)
{
    host_file *h = to_host(f);
    close(h->fd); /* also drops every OFD lock of this description */
    free(f->path);
    free(h);
}

static const img_file_ops host_ops = {
    .name = "file",
    .pread = host_pread,
    .pwrite = host_pwrite,
    .get_size = host_get_size,
    .truncate = host_truncate,
    .flush = host_flush,
    .punch_hole = host_punch_hole,
    .allocate = host_allocate,
    .extent = host_extent,
    .allocated_size = host_allocated_size,
    .copy_range = host_copy_range,
    .prefetch = host_prefetch,
    .set_perm = host_set_perm,
    .identity = host_identity,
    .close = host_close,
};

/* Opens without blocking on FIFOs, then restores blocking mode. */
static int open_fd(const char *path, unsigned flags, img_err *err)
{
    int oflags = O_CLOEXEC | O_NONBLOCK;
    oflags |= flags & IMG_FILE_RDWR ? O_RDWR : O_RDONLY;
    /* No O_TRUNC: create_clear() empties the file once it is locked. */
    oflags |= flags & IMG_FILE_CREATE ? O_CREAT : 0;
    int fd;
    do {
        fd = open(path, oflags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return img_err_errno(err, errno, "Could not %s '%s'",
                             flags & IMG_FILE_CREATE ? "create" : "open", path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return img_err_errno(err, e, "Could not open '%s'", path);
    }
    return fd;
}

/* Linux's cachestat(2) (6.5+), which the C library may not declare yet:
 * its number is the same on every architecture but alpha. */
#if defined(__linux__) && defined(__NR_cachestat)
#define CACHESTAT_NR __NR_cachestat
#elif defined(__linux__) && !defined(__ILP32__) && \
    (defined(__x86_64__) || defined(__aarch64__) || defined(__riscv))
#define CACHESTAT_NR 451
#endif

/* Whether at most a sixteenth of the file is in the page cache. */
static int cache_is_cold(int fd, const struct stat *st)
{
#ifdef CACHESTAT_NR
    struct { uint64_t off, len; } range = { 0, 0 }; /* len 0: to the end */
    struct {
        uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted,
            nr_recently_evicted;
    } cs;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || syscall(CACHESTAT_NR, fd, &range, &cs, 0) != 0) {
        return 0; /* cannot tell: never drop from a cache we cannot see */
    }
    return cs.nr_cache <= (uint64_t)st->st_size / 16 / (uint64_t)page;
#else
    (void)fd;
    (void)st;
    return 0;
#endif
}

/* Whether a read-once file drops what it reads: a regular file, cold, and
 * dense (at most a sixteenth of it holes).  In a sparse file the kernel's
 * read-ahead fills the holes next to the data with zero pages that nobody
 * reads, so dropping what was read leaves the cache no cleaner; and there
 * it measured slower, where in dense files it measured faster (fresh pages
 * cost much on virtual machines: reused ones do not). */
static int should_drop_behind(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        return 0;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t allocated = (uint64_t)st.st_blocks * 512;
    return allocated >= size - size / 16 && cache_is_cold(fd, &st);
}

/* Accepts regular files and devices, like QEMU's file/host_device. */
static int check_type(int fd, const char *path, int *is_device, img_err *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return img_err_errno(err, errno, "Could not stat '%s'", path);
    }
    *is_device = S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode);
    if (S_ISREG(st.st_mode) || *is_device) {
        return 0;
    }
    return img_err_set(err, S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
                       "'file' driver requires '%s' to be a regular file",
                       path);
}

/* Empties a file being created, but only after taking QEMU's creation
 * locks (raw_co_create): write and resize held, resize not shared.  An
 * image another process is using is thus left intact.  The locks are
 * dropped again afterwards, as QEMU does. */
static int create_clear(img_file *f, img_err *err)
{
    unsigned perm = IMG_PERM_WRITE | IMG_PERM_RESIZE;
    int r = host_set_perm(f, perm, IMG_PERM_ALL & ~IMG_PERM_RESIZE, err);
    if (r == 0) {
        r = host_truncate(f, 0, err);
    }
    host_set_perm(f, 0, IMG_PERM_ALL, NULL);
    return r;
}

int img_file_open_host(const char *path, unsigned flags, img_file **out,
                       img_err *err)
{
    if ((flags & IMG_FILE_CREATE) && !(flags & IMG_FILE_RDWR)) {
        return img_err_set(err, EINVAL, "Cannot create '%s' read-only", path);
    }
    int fd = open_fd(path, flags, err);
    if (fd < 0) {
        return fd;
    }
    int is_device = 0;
    int r = check_type(fd, path, &is_device, err);
    host_file *h = r < 0 ? NULL : calloc(1, sizeof(*h));
    char *copy = h ? strdup(path) : NULL;
    if (!copy) {
        r = r < 0 ? r : img_err_set(err, ENOMEM, "Out of memory");
        free(h);
        close(fd);
        return r;
    }
    h->base.ops = &host_ops;
    h->base.path = copy;
    h->base.flags = flags & (IMG_FILE_RDWR | IMG_FILE_CREATE |
                             IMG_FILE_READ_ONCE);
    h->fd = fd;
    h->is_device = is_device;
    h->drop_behind = (flags & IMG_FILE_READ_ONCE) &&
                     !(flags & IMG_FILE_RDWR) && should_drop_behind(fd);
    r = flags & IMG_FILE_CREATE ? create_clear(&h->base, err) : 0;
    if (r < 0) {
        host_close(&h->base);
        return r;
    }
    *out = &h->base;
    return 0;
}
