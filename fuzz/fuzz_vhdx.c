/* fuzz/fuzz_vhdx.c -- libFuzzer harness for the VHDX driver, log
 * replay included.
 *
 * Every VHDX structure sits at a 1 MiB-aligned offset inside the file, so
 * even an empty image is over 3 MiB: too big for seeds and slow to mutate.
 * The input is therefore cut into pieces that the harness lays at fixed
 * offsets of a 5 MiB file, where the structures of our images (and of
 * qemu-img's but for their first data block, which the seed script moves)
 * live: see pieces[]; fuzz/make_vhdx_seeds.sh cuts seeds the same way.
 * The file is then
 *   1. opened read-only, in place, and walked (fuzz_walk.c): header
 *      choice, log replay into memory, region table, metadata, BAT,
 *      reads, check;
 *   2. when that open succeeds, opened read-write on a copy whose size is
 *      capped: log replay onto the file, then a write, a zero write and a
 *      flush, which run the block allocator and the log writer.
 */
#include "fuzz_walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/img.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define FILE_LEN (5 * MIB)
#define CAP_LEN (64 * MIB) /* the read-write copy never grows past this */

/* Where the input's consecutive pieces go, and their lengths. */
static const struct piece {
    uint32_t at, len;
} pieces[] = {
    { 0, KIB },                          /* file type identifier */
    { 64 * KIB, 4 * KIB },               /* header 1 */
    { 128 * KIB, 4 * KIB },              /* header 2 */
    { 192 * KIB, KIB },                  /* region table 1 */
    { 256 * KIB, KIB },                  /* region table 2 */
    { MIB, 16 * KIB },                   /* the first log sectors */
    { 2 * MIB, 4 * KIB },                /* the first BAT sector */
    { 3 * MIB, KIB },                    /* metadata table */
    { 3 * MIB + 64 * KIB, KIB },         /* metadata items */
    { 4 * MIB, 4 * KIB },                /* the first data block */
};
#define N_PIECES (sizeof(pieces) / sizeof(pieces[0]))

/* ---- a memory file that refuses to grow past CAP_LEN ---- */

typedef struct capped_file {
    img_file base;   /* must stay first */
    img_file *inner; /* owned memory file */
} capped_file;

static img_file *inner_of(img_file *f)
{
    return ((capped_file *)f)->inner;
}

static int capped_pread(img_file *f, void *buf, size_t len, uint64_t off,
                        img_err *err)
{
    return img_file_pread(inner_of(f), buf, len, off, err);
}

static int capped_pwrite(img_file *f, const void *buf, size_t len,
                         uint64_t off, img_err *err)
{
    if (off > CAP_LEN || len > CAP_LEN - off) {
        return img_err_set(err, ENOSPC, "Fuzzing file is full");
    }
    return img_file_pwrite(inner_of(f), buf, len, off, err);
}

static int capped_size(img_file *f, uint64_t *size, img_err *err)
{
    return img_file_size(inner_of(f), size, err);
}

static int capped_truncate(img_file *f, uint64_t size, img_err *err)
{
    if (size > CAP_LEN) {
        return img_err_set(err, ENOSPC, "Fuzzing file is full");
    }
    return img_file_truncate(inner_of(f), size, err);
}

static int capped_flush(img_file *f, img_err *err)
{
    return img_file_flush(inner_of(f), err);
}

static void capped_close(img_file *f)
{
    img_file_close(inner_of(f));
    free(f);
}

static const img_file_ops capped_ops = {
    .name = "capped",
    .pread = capped_pread,
    .pwrite = capped_pwrite,
    .get_size = capped_size,
    .truncate = capped_truncate,
    .flush = capped_flush,
    .close = capped_close,
};

/* A writable copy of data[0..len) that cannot grow past CAP_LEN. */
static img_file *capped_new(const uint8_t *data, size_t len)
{
    capped_file *c = calloc(1, sizeof(*c));
    img_file *inner = img_mem_file_new(data, len, 1);
    if (!c || !inner) {
        free(c);
        img_file_close(inner);
        return NULL;
    }
    c->base.ops = &capped_ops;
    c->base.flags = IMG_FILE_RDWR;
    c->inner = inner;
    return &c->base;
}

/* ---- a read-only view of the laid-out file (no copy) ---- */

typedef struct view_file {
    img_file base;      /* must stay first */
    const uint8_t *data; /* FILE_LEN bytes, borrowed */
} view_file;

static int view_pread(img_file *f, void *buf, size_t len, uint64_t off,
                      img_err *err)
{
    (void)err;
    const uint8_t *data = ((view_file *)f)->data;
    size_t n = off < FILE_LEN ? (len < FILE_LEN - off ? len : FILE_LEN - off)
                              : 0;
    memcpy(buf, data + off, n);
    memset((uint8_t *)buf + n, 0, len - n);
    return 0;
}

static int view_size(img_file *f, uint64_t *size, img_err *err)
{
    (void)f;
    (void)err;
    *size = FILE_LEN;
    return 0;
}

static void view_close(img_file *f)
{
    free(f);
}

static const img_file_ops view_ops = {
    .name = "view",
    .pread = view_pread,
    .get_size = view_size,
    .close = view_close,
};

/* Opens the laid-out file read-only without copying it (a copy of 5 MiB
 * per input was most of the harness's time); NULL when that fails, which
 * must come with an error. */
static img *open_view(const uint8_t *file)
{
    view_file *v = calloc(1, sizeof(*v));
    img *im = NULL;
    img_err err;
    if (!v) {
        return NULL;
    }
    v->base.ops = &view_ops;
    v->data = file;
    memset(&err, 0, sizeof(err));
    int r = img_open_file(&v->base, "vhdx", IMG_OPEN_NO_LOCK |
                          IMG_OPEN_QUIET | IMG_OPEN_NO_BACKING, &im, &err);
    if (r < 0 && (err.code <= 0 || !memchr(err.msg, '\0', sizeof(err.msg)))) {
        abort();
    }
    return r < 0 ? NULL : im;
}

/* ---- the harness ---- */

/* Opens the file read-write (replaying its log onto it) and writes. */
static void write_walk(const uint8_t *file)
{
    img_file *f = capped_new(file, FILE_LEN);
    img *im = NULL;
    img_err err;
    if (!f || img_open_file(f, "vhdx", IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK |
                            IMG_OPEN_QUIET | IMG_OPEN_NO_BACKING, &im,
                            &err) < 0) {
        return;
    }
    img_info info;
    uint64_t size = img_size(im);
    if (img_get_info(im, &info, &err) >= 0 && info.cluster_size <= 2 * MIB &&
        size >= 8192) {
        static const uint8_t data[4096] = { 0x5a };
        img_pwrite(im, data, sizeof(data), size / 3, 0, &err);
        img_pwrite_zeroes(im, 0, 4096, 0, &err);
        img_flush(im, &err);
    }
    img_info_clear(&info);
    img_close(im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *file = calloc(1, FILE_LEN);
    if (!file) {
        return 0;
    }
    size_t pos = 0;
    for (size_t i = 0; i < N_PIECES && pos < size; i++) {
        size_t n = size - pos < pieces[i].len ? size - pos : pieces[i].len;
        memcpy(file + pieces[i].at, data + pos, n);
        pos += n;
    }
    img *im = open_view(file);
    if (im) {
        fuzz_walk(im);
        img_close(im);
        write_walk(file);
    }
    free(file);
    return 0;
}
