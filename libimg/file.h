/* libimg/file.h -- the container a format driver reads and writes.
 *
 * A format reaches its bytes only through img_file (QEMU's bs->file, nbdkit's
 * "next").  Backends: the host file (file_host.c), memory (mem_file.c) and a
 * fault injector wrapping another file (fault_file.c).  All offsets and
 * lengths are 64-bit bytes.  pread/pwrite are safe to call from many threads
 * at once on one img_file.
 */
#ifndef IMG_FILE_H
#define IMG_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct img_file img_file;

/* Open flags for img_file_open_host(). */
enum {
    IMG_FILE_RDWR   = 1u << 0, /* open for writing */
    IMG_FILE_CREATE = 1u << 1, /* create (with RDWR); truncates an existing file */
    /* Read-only files the caller reads about once (convert's sources): if
     * the file is cold when opened, what is read is dropped from the page
     * cache afterwards, so a big conversion does not flood the cache.  A
     * file already (partly) cached is left as it is.  Ignored with RDWR. */
    IMG_FILE_READ_ONCE = 1u << 2,
};

/* QEMU-compatible lock permissions (byte 100+bit / 200+bit OFD locks). */
enum {
    IMG_PERM_CONSISTENT_READ = 1u << 0,
    IMG_PERM_WRITE           = 1u << 1,
    IMG_PERM_WRITE_UNCHANGED = 1u << 2,
    IMG_PERM_RESIZE          = 1u << 3,
    IMG_PERM_GRAPH_MOD       = 1u << 4,
    IMG_PERM_ALL             = (1u << 5) - 1,
};

typedef struct img_file_ops {
    const char *name; /* "file", "memory", "fault" */
    /* Reads exactly len bytes; bytes past the end of the file read as zero. */
    int (*pread)(img_file *f, void *buf, size_t len, uint64_t off,
                 img_err *err);
    /* Writes exactly len bytes, growing the file when needed. */
    int (*pwrite)(img_file *f, const void *buf, size_t len, uint64_t off,
                  img_err *err);
    int (*get_size)(img_file *f, uint64_t *size, img_err *err);
    int (*truncate)(img_file *f, uint64_t size, img_err *err);
    int (*flush)(img_file *f, img_err *err);
    /* Deallocates; the range reads as zeros afterwards.  May be NULL. */
    int (*punch_hole)(img_file *f, uint64_t off, uint64_t len, img_err *err);
    /* Reserves space (fallocate mode 0).  May be NULL. */
    int (*allocate)(img_file *f, uint64_t off, uint64_t len, img_err *err);
    /* Describes [off, off+len): sets *is_data (0 = hole) and *pnum, the
     * length of the run with that state (1 <= *pnum <= len).  May be NULL:
     * then everything is data. */
    int (*extent)(img_file *f, uint64_t off, uint64_t len, int *is_data,
                  uint64_t *pnum, img_err *err);
    /* Bytes of host storage in use (st_blocks * 512); -ENOTSUP if unknown. */
    int (*allocated_size)(img_file *f, uint64_t *bytes, img_err *err);
    /* Copies between two files of this backend in the kernel
     * (copy_file_range); -ENOTSUP when not possible.  May be NULL. */
    int (*copy_range)(img_file *src, uint64_t src_off, img_file *dst,
                      uint64_t dst_off, uint64_t len, img_err *err);
    /* Hints that [off, off+len) will be read soon, so the backend can
     * start fetching it (the host file: into the page cache).  Only a
     * hint: it reports nothing and may do nothing.  May be NULL. */
    void (*prefetch)(img_file *f, uint64_t off, uint64_t len);
    /* Takes/updates QEMU-compatible locks: perms held, perms shared with
     * others.  May be NULL (no locking for that backend). */
    int (*set_perm)(img_file *f, unsigned perm, unsigned shared, img_err *err);
    /* Identity for backing-loop detection: device and inode, or -ENOTSUP. */
    int (*identity)(img_file *f, uint64_t *dev, uint64_t *ino);
    void (*close)(img_file *f);
} img_file_ops;

/* Backends embed this as their first member. */
struct img_file {
    const img_file_ops *ops;
    char *path;     /* owned, NULL for memory files */
    unsigned flags; /* IMG_FILE_* it was opened with */
};

/* Backends.  Each returns 0 and sets *out, or -errno with err set. */
int img_file_open_host(const char *path, unsigned flags, img_file **out,
                       img_err *err);
/* A memory file holding a copy of data[0..len); grows on write. */
img_file *img_mem_file_new(const void *data, size_t len, int writable);
/* Borrowed view of a memory file's current bytes (for tests). */
const uint8_t *img_mem_file_data(img_file *f, size_t *len);

/* Fault injection: the wrapper counts writes (pwrite, truncate, punch_hole,
 * flush count as writes).  Write number fail_at (1-based) fails with EIO;
 * with drop_from, write number drop_from and all later writes are silently
 * dropped (simulated power loss).  0 disables either.  The wrapper takes
 * ownership of inner. */
typedef struct img_fault_plan {
    uint64_t fail_read_at;  /* Nth read fails with EIO */
    uint64_t fail_write_at; /* Nth write fails with EIO */
    uint64_t drop_from;     /* Nth and later writes are dropped */
} img_fault_plan;
img_file *img_fault_file_new(img_file *inner, const img_fault_plan *plan);
/* Number of writes seen so far (to size a crash-test loop). */
uint64_t img_fault_file_writes(img_file *f);

/* Thin wrappers that supply defaults for NULL hooks. */
int img_file_pread(img_file *f, void *buf, size_t len, uint64_t off,
                   img_err *err);
int img_file_pwrite(img_file *f, const void *buf, size_t len, uint64_t off,
                    img_err *err);
int img_file_size(img_file *f, uint64_t *size, img_err *err);
int img_file_truncate(img_file *f, uint64_t size, img_err *err);
int img_file_flush(img_file *f, img_err *err);
/* Zeroes a range: punches a hole when possible, else writes zeros. */
int img_file_write_zeroes(img_file *f, uint64_t off, uint64_t len,
                          img_err *err);
int img_file_punch_hole(img_file *f, uint64_t off, uint64_t len,
                        img_err *err);
int img_file_allocate(img_file *f, uint64_t off, uint64_t len, img_err *err);
int img_file_extent(img_file *f, uint64_t off, uint64_t len, int *is_data,
                    uint64_t *pnum, img_err *err);
int img_file_allocated_size(img_file *f, uint64_t *bytes, img_err *err);
int img_file_copy_range(img_file *src, uint64_t src_off, img_file *dst,
                        uint64_t dst_off, uint64_t len, img_err *err);
/* A no-op for backends without the hook. */
void img_file_prefetch(img_file *f, uint64_t off, uint64_t len);
int img_file_set_perm(img_file *f, unsigned perm, unsigned shared,
                      img_err *err);
int img_file_identity(img_file *f, uint64_t *dev, uint64_t *ino);
void img_file_close(img_file *f);

#endif
