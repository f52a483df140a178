/* libimg/file.c -- img_file_* wrappers over the backend vtable (file.h).
 *
 * Backends (file_host.c, mem_file.c, fault_file.c) may leave optional hooks
 * NULL; these wrappers supply the defaults documented in file.h, the way
 * SQLite's VFS shims and nbdkit's "next" functions do:
 *   - write_zeroes punches a hole when it can, else writes zero buffers in
 *     bounded chunks;
 *   - extent NULL means "everything is data";
 *   - flush NULL is a no-op, set_perm NULL takes no locks;
 *   - copy_range, allocate, punch_hole, allocated_size and identity
 *     report -ENOTSUP;
 *   - prefetch does nothing.
 * Write-type calls on a file opened without IMG_FILE_RDWR fail with -EPERM
 * before reaching the backend.
 */
#include "file.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

/* Largest zero buffer write_zeroes allocates when it has to write. */
#define ZERO_CHUNK ((size_t)1 << 20)

/* Refuses a write-type operation on a read-only file. */
static int check_writable(img_file *f, const char *what, img_err *err)
{
    if (f->flags & IMG_FILE_RDWR) {
        return 0;
    }
    return img_err_set(err, EPERM, "Cannot %s '%s': file is read-only", what,
                       f->path ? f->path : "memory file");
}

/* Sets the message for an optional hook the backend lacks. */
static int not_supported(img_file *f, const char *what, img_err *err)
{
    return img_err_set(err, ENOTSUP, "%s is not supported by the '%s' backend",
                       what, f->ops->name);
}

/* Reads exactly len bytes (zeros past EOF); 0 or -errno. */
int img_file_pread(img_file *f, void *buf, size_t len, uint64_t off,
                   img_err *err)
{
    assert(f && (buf || len == 0));
    if (len == 0) {
        return 0;
    }
    return f->ops->pread(f, buf, len, off, err);
}

/* Writes exactly len bytes, growing the file; -EPERM when read-only. */
int img_file_pwrite(img_file *f, const void *buf, size_t len, uint64_t off,
                    img_err *err)
{
    assert(f && (buf || len == 0));
    int r = check_writable(f, "write to", err);
    if (r < 0 || len == 0) {
        return r;
    }
    return f->ops->pwrite(f, buf, len, off, err);
}

/* Current size in bytes; every backend implements get_size. */
int img_file_size(img_file *f, uint64_t *size, img_err *err)
{
    assert(f && size);
    return f->ops->get_size(f, size, err);
}

/* Sets the size; new bytes read as zero.  -ENOTSUP without a hook. */
int img_file_truncate(img_file *f, uint64_t size, img_err *err)
{
    assert(f);
    int r = check_writable(f, "resize", err);
    if (r < 0) {
        return r;
    }
    if (!f->ops->truncate) {
        return not_supported(f, "Resizing", err);
    }
    return f->ops->truncate(f, size, err);
}

/* Makes written data durable; a backend without flush has nothing to do. */
int img_file_flush(img_file *f, img_err *err)
{
    assert(f);
    if (!f->ops->flush) {
        return 0;
    }
    return f->ops->flush(f, err);
}

/* Deallocates a range, which then reads as zeros.  Unlike write_zeroes
 * there is no fallback: -ENOTSUP tells the caller to write zeros itself. */
int img_file_punch_hole(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    assert(f);
    int r = check_writable(f, "discard in", err);
    if (r < 0 || len == 0) {
        return r;
    }
    if (!f->ops->punch_hole) {
        return not_supported(f, "Punching holes", err);
    }
    return f->ops->punch_hole(f, off, len, err);
}

/* Writes len zero bytes at off in chunks of at most ZERO_CHUNK. */
static int write_zero_buffers(img_file *f, uint64_t off, uint64_t len,
                              img_err *err)
{
    size_t chunk = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
    void *zeros = calloc(1, chunk);
    if (!zeros) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = 0;
    while (len > 0 && r >= 0) {
        size_t n = len < chunk ? (size_t)len : chunk;
        r = f->ops->pwrite(f, zeros, n, off, err);
        off += n;
        len -= n;
    }
    free(zeros);
    return r < 0 ? r : 0;
}

/* Punches [off, end); when end is past EOF, also writes one zero byte at
 * end - 1 so the file grows like a zero write would.  A write, unlike
 * ftruncate, can never shrink a file another thread is growing.  Returns
 * -ENOTSUP when the backend cannot punch holes. */
static int zero_by_punching(img_file *f, uint64_t off, uint64_t end,
                            img_err *err)
{
    static const uint8_t zero;
    uint64_t size;
    int r = f->ops->get_size(f, &size, err);
    if (r < 0) {
        return r;
    }
    r = f->ops->punch_hole(f, off, end - off, err);
    if (r < 0 || end <= size) {
        return r;
    }
    return f->ops->pwrite(f, &zero, 1, end - 1, err);
}

/* Makes [off, off+len) read as zeros and the file at least off+len long.
 * A backend's -ENOTSUP from punch_hole is not an error here: the range is
 * then written with zero buffers instead. */
int img_file_write_zeroes(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    assert(f);
    int r = check_writable(f, "write to", err);
    if (r < 0 || len == 0) {
        return r;
    }
    if (off > UINT64_MAX - len) {
        return img_err_set(err, EINVAL, "Zeroing past the maximum offset");
    }
    if (f->ops->punch_hole) {
        r = zero_by_punching(f, off, off + len, err);
        if (r != -ENOTSUP && r != -EOPNOTSUPP) {
            return r;
        }
        img_err_clear(err);
    }
    return write_zero_buffers(f, off, len, err);
}

/* Reserves host space for a range (preallocation=falloc). */
int img_file_allocate(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    assert(f);
    int r = check_writable(f, "allocate in", err);
    if (r < 0 || len == 0) {
        return r;
    }
    if (!f->ops->allocate) {
        return not_supported(f, "Preallocation", err);
    }
    return f->ops->allocate(f, off, len, err);
}

/* One run of data or hole starting at off; see file.h for pnum. */
int img_file_extent(img_file *f, uint64_t off, uint64_t len, int *is_data,
                    uint64_t *pnum, img_err *err)
{
    assert(f && is_data && pnum && len > 0);
    if (!f->ops->extent) {
        *is_data = 1;
        *pnum = len;
        return 0;
    }
    return f->ops->extent(f, off, len, is_data, pnum, err);
}

/* Host bytes in use ("disk size" in qemu-img info). */
int img_file_allocated_size(img_file *f, uint64_t *bytes, img_err *err)
{
    assert(f && bytes);
    if (!f->ops->allocated_size) {
        return not_supported(f, "Querying the allocated size", err);
    }
    return f->ops->allocated_size(f, bytes, err);
}

/* Offloaded copy between two files of the same backend.  -ENOTSUP (also
 * after a partial copy) means: copy the whole range with pread/pwrite. */
void img_file_prefetch(img_file *f, uint64_t off, uint64_t len)
{
    assert(f);
    if (f->ops->prefetch && len > 0) {
        f->ops->prefetch(f, off, len);
    }
}

int img_file_copy_range(img_file *src, uint64_t src_off, img_file *dst,
                        uint64_t dst_off, uint64_t len, img_err *err)
{
    assert(src && dst);
    int r = check_writable(dst, "write to", err);
    if (r < 0 || len == 0) {
        return r;
    }
    if (!src->ops->copy_range || src->ops != dst->ops) {
        return img_err_set(err, ENOTSUP, "Copy offloading is not supported");
    }
    return src->ops->copy_range(src, src_off, dst, dst_off, len, err);
}

/* Takes QEMU-compatible locks; perm and shared are IMG_PERM_* masks.
 * -EAGAIN with QEMU's message when another user conflicts. */
int img_file_set_perm(img_file *f, unsigned perm, unsigned shared, img_err *err)
{
    assert(f);
    if (!f->ops->set_perm) {
        return 0;
    }
    return f->ops->set_perm(f, perm & IMG_PERM_ALL, shared & IMG_PERM_ALL, err);
}

/* (device, inode) of the file, for backing-chain loop detection. */
int img_file_identity(img_file *f, uint64_t *dev, uint64_t *ino)
{
    assert(f && dev && ino);
    if (!f->ops->identity) {
        return -ENOTSUP;
    }
    return f->ops->identity(f, dev, ino);
}

/* Closes the file and frees it; NULL is a no-op. */
void img_file_close(img_file *f)
{
    if (f) {
        f->ops->close(f);
    }
}
