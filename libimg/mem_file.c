/* libimg/mem_file.c -- img_file backend over a growable memory buffer.
 *
 * Used by tests and fuzzers (SQLite's memdb VFS, nbdkit's memory plugin):
 * the file is a heap buffer that grows on write, reads past its end return
 * zeros, and every operation takes one mutex so many threads may use it at
 * once.  A read-only memory file refuses writes with -EPERM.
 */
#include "file.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct mem_file {
    img_file base;        /* must stay first */
    pthread_mutex_t lock; /* guards everything below */
    uint8_t *buf;         /* cap bytes, the first len of them valid */
    size_t len;           /* file size */
    size_t cap;           /* allocated size of buf */
    int writable;         /* 0: every write fails with -EPERM */
} mem_file;

static const img_file_ops mem_ops;

/* The backend state behind an img_file of this backend. */
static mem_file *to_mem(img_file *f)
{
    return (mem_file *)f;
}

/* Makes room for size bytes (caller holds the lock); new bytes are zero.
 * The first buffer has exactly the size asked for and comes from calloc,
 * whose fresh pages are zero without being touched: the fuzzers open
 * multi-MiB files per input, and zeroing pages that are about to be
 * copied over was most of their time. */
static int mem_reserve(mem_file *m, size_t size)
{
    if (size <= m->cap) {
        return 0;
    }
    if (!m->buf) {
        m->buf = calloc(size ? size : 1, 1);
        m->cap = m->buf ? size : 0;
        return m->buf ? 0 : -ENOMEM;
    }
    size_t cap = m->cap ? m->cap : 4096;
    while (cap < size) {
        cap = cap > SIZE_MAX / 2 ? size : cap * 2;
    }
    uint8_t *p = realloc(m->buf, cap);
    if (!p) {
        return -ENOMEM;
    }
    memset(p + m->cap, 0, cap - m->cap);
    m->buf = p;
    m->cap = cap;
    return 0;
}

/* Sets the size (caller holds the lock); a shrink zeroes the cut tail so
 * that a later grow reads zeros there. */
static int mem_resize(mem_file *m, size_t size)
{
    if (size < m->len) {
        memset(m->buf + size, 0, m->len - size);
    } else if (mem_reserve(m, size) < 0) {
        return -ENOMEM;
    }
    m->len = size;
    return 0;
}

/* Converts an end offset to size_t or fails with -EFBIG. */
static int mem_end(uint64_t off, uint64_t len, size_t *end, img_err *err)
{
    if (off > SIZE_MAX || len > SIZE_MAX - off) {
        return img_err_set(err, EFBIG, "Memory file too large");
    }
    *end = (size_t)(off + len);
    return 0;
}

/* The error every write hook returns on a read-only memory file. */
static int mem_readonly(img_err *err)
{
    return img_err_set(err, EPERM, "Memory file is read-only");
}

/* Copies what exists and zero-fills the rest; never fails. */
static int mem_pread(img_file *f, void *buf, size_t len, uint64_t off,
                     img_err *err)
{
    mem_file *m = to_mem(f);
    (void)err;
    memset(buf, 0, len);
    pthread_mutex_lock(&m->lock);
    if (off < m->len) {
        size_t avail = m->len - (size_t)off;
        memcpy(buf, m->buf + off, len < avail ? len : avail);
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* Copies in under the lock, growing the buffer first when needed. */
static int mem_pwrite(img_file *f, const void *buf, size_t len, uint64_t off,
                      img_err *err)
{
    mem_file *m = to_mem(f);
    size_t end = 0;
    if (!m->writable) {
        return mem_readonly(err);
    }
    int r = mem_end(off, len, &end, err);
    if (r < 0) {
        return r;
    }
    pthread_mutex_lock(&m->lock);
    r = end > m->len ? mem_resize(m, end) : 0;
    if (r == 0) {
        memcpy(m->buf + off, buf, len);
    }
    pthread_mutex_unlock(&m->lock);
    return r < 0 ? img_err_set(err, -r, "Out of memory") : 0;
}

/* The logical size, not the capacity of the buffer. */
static int mem_get_size(img_file *f, uint64_t *size, img_err *err)
{
    mem_file *m = to_mem(f);
    (void)err;
    pthread_mutex_lock(&m->lock);
    *size = m->len;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* Shrinks or grows; grown bytes read as zero. */
static int mem_truncate(img_file *f, uint64_t size, img_err *err)
{
    mem_file *m = to_mem(f);
    size_t end = 0;
    if (!m->writable) {
        return mem_readonly(err);
    }
    int r = mem_end(size, 0, &end, err);
    if (r < 0) {
        return r;
    }
    pthread_mutex_lock(&m->lock);
    r = mem_resize(m, end);
    pthread_mutex_unlock(&m->lock);
    return r < 0 ? img_err_set(err, -r, "Out of memory") : 0;
}

/* Zeroes the part of [off, off+len) inside the file; the size is kept. */
static int mem_punch_hole(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    mem_file *m = to_mem(f);
    if (!m->writable) {
        return mem_readonly(err);
    }
    pthread_mutex_lock(&m->lock);
    if (off < m->len) {
        size_t avail = m->len - (size_t)off;
        memset(m->buf + off, 0, len < avail ? (size_t)len : avail);
    }
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* Grows the file to cover [off, off+len); memory is always "allocated". */
static int mem_allocate(img_file *f, uint64_t off, uint64_t len, img_err *err)
{
    mem_file *m = to_mem(f);
    size_t end = 0;
    if (!m->writable) {
        return mem_readonly(err);
    }
    int r = mem_end(off, len, &end, err);
    if (r < 0) {
        return r;
    }
    pthread_mutex_lock(&m->lock);
    r = end > m->len ? mem_resize(m, end) : 0;
    pthread_mutex_unlock(&m->lock);
    return r < 0 ? img_err_set(err, -r, "Out of memory") : 0;
}

/* A memory file "uses" exactly its size. */
static int mem_allocated_size(img_file *f, uint64_t *bytes, img_err *err)
{
    return mem_get_size(f, bytes, err);
}

/* Frees the buffer and the file. */
static void mem_close(img_file *f)
{
    mem_file *m = to_mem(f);
    pthread_mutex_destroy(&m->lock);
    free(m->buf);
    free(m);
}

/* flush, extent, copy_range, set_perm, identity: file.c defaults. */
static const img_file_ops mem_ops = {
    .name = "memory",
    .pread = mem_pread,
    .pwrite = mem_pwrite,
    .get_size = mem_get_size,
    .truncate = mem_truncate,
    .punch_hole = mem_punch_hole,
    .allocate = mem_allocate,
    .allocated_size = mem_allocated_size,
    .close = mem_close,
};

/* Returns the new file, or NULL when out of memory.  data may be NULL
 * when len is 0. */
img_file *img_mem_file_new(const void *data, size_t len, int writable)
{
    mem_file *m = calloc(1, sizeof(*m));
    if (!m) {
        return NULL;
    }
    if (pthread_mutex_init(&m->lock, NULL) != 0 || mem_reserve(m, len) < 0) {
        free(m->buf);
        free(m);
        return NULL;
    }
    if (len > 0) {
        memcpy(m->buf, data, len);
    }
    m->len = len;
    m->writable = writable != 0;
    m->base.ops = &mem_ops;
    m->base.flags = writable ? IMG_FILE_RDWR : 0;
    return &m->base;
}

/* Borrowed pointer to the current bytes; valid until the next write,
 * truncate or close.  NULL (and *len 0) for a file of another backend. */
const uint8_t *img_mem_file_data(img_file *f, size_t *len)
{
    if (!f || f->ops != &mem_ops) {
        *len = 0;
        return NULL;
    }
    mem_file *m = to_mem(f);
    pthread_mutex_lock(&m->lock);
    const uint8_t *p = m->buf;
    *len = m->len;
    pthread_mutex_unlock(&m->lock);
    return p;
}
