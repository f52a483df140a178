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
 *      capped (fuzz_write.c): log replay onto the file, then writes, a
 *      zero write, a discard and a flush, which run the block allocator
 *      and the log writer.
 */
#include "fuzz_walk.h"

#include <stdlib.h>
#include <string.h>

#include "libimg/img.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define FILE_LEN (5 * MIB)

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
        fuzz_write_walk(file, FILE_LEN, "vhdx");
    }
    free(file);
    return 0;
}
