/* cli/cmd_compare.c -- "compare", qemu-img 7.2 compatible.
 *
 *   compare [-f FMT] [-F FMT] [-T SRC_CACHE] [-p] [-q] [-s] [-U]
 *           FILENAME1 FILENAME2
 *
 * Follows qemu-img's img_compare(): both images are walked by block status
 * through their backing chains; ranges that read as zeros in both are
 * skipped, ranges allocated in both are read (2 MiB at a time) and compared
 * 512 bytes at a time, and a range allocated in only one image must read
 * as zeros there.  The first difference is reported at the start of its
 * 512-byte unit, counted from the start of the range being compared, which
 * is what qemu-img prints.  Without -s the part of the larger image past
 * the smaller one's end must read as zeros; -s (strict) also fails on
 * different sizes or block status.
 *
 * Exit status: 0 identical, 1 different, 2 open error, 3 block-status
 * error, 4 read error (usage errors: 1, as qemu-img).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cache_mode.h"
#include "opt_common.h"

enum {
    CMP_SAME = 0,
    CMP_DIFFERENT = 1,
    CMP_OPEN_ERROR = 2,
    CMP_STATUS_ERROR = 3,
    CMP_READ_ERROR = 4,
};

/* qemu-img's IO_BUF_SIZE: the most read from each image at a time. */
#define CMP_BUF_SIZE (2u * 1024 * 1024)
/* Differences are located to this granularity, as in qemu-img. */
#define CMP_SECTOR 512
/* QEMU's BDRV_BLOCK_EOF, which strict mode compares along with the rest. */
#define CMP_BS_EOF (1u << 8)

typedef struct cmp_args {
    const char *fmt1, *fmt2; /* -f, -F */
    const char *cache;       /* -T, checked then ignored */
    const char *file1, *file2;
    int progress, quiet, strict, force_share;
    int image_opts; /* --image-opts */
} cmp_args;

/* One side of the comparison. */
typedef struct cmp_image {
    img *im;
    const char *name;
    uint64_t size;
} cmp_image;

typedef struct cmp_state {
    const cmp_args *a;
    const cli_env *env;
    cmp_image img[2];
    uint8_t *buf[2]; /* CMP_BUF_SIZE each */
    cli_progress progress;
    float done;             /* percent, accumulated like QEMU's (float) */
    uint64_t progress_base; /* the larger size */
} cmp_state;

/* One of compare's own options; returns -1 to go on. */
static int parse_option(const cli_env *env, int c, void *args)
{
    cmp_args *a = args;
    (void)env;
    switch (c) {
    case 'f': a->fmt1 = optarg; break;
    case 'F': a->fmt2 = optarg; break;
    case 'T': a->cache = optarg; break;
    case 'p': a->progress = 1; break;
    case 'q': a->quiet = 1; break;
    case 's': a->strict = 1; break;
    case 'U': a->force_share = 1; break;
    default: break;
    }
    return -1;
}

/* Options and the two file names; returns -1 to go on, else the status. */
static int parse_args(const cli_env *env, int argc, char **argv, cmp_args *a)
{
    const cli_opt_spec spec = {
        .cmd = "compare",
        .shortopts = ":hf:F:T:pqsU",
        .image_opts = &a->image_opts,
        .fn = parse_option,
    };
    const char *names[2] = { NULL, NULL };
    int r = cli_parse_opts(env, argc, argv, &spec, a);
    if (r >= 0) {
        return r;
    }
    if (a->quiet) {
        a->progress = 0; /* progress is not shown in quiet mode */
    }
    r = cli_expect_files(env, argc, argv, 2, names);
    a->file1 = names[0];
    a->file2 = names[1];
    return r;
}

/* Results go to stdout unless -q. */
static void cmp_say(const cmp_state *s, const char *msg)
{
    if (!s->a->quiet) {
        fputs(msg, stdout);
    }
}

static void cmp_say_mismatch(const cmp_state *s, uint64_t off)
{
    if (!s->a->quiet) {
        printf("Content mismatch at offset %" PRIu64 "!\n", off);
    }
}

/* Adds a finished range to the progress, with QEMU's float arithmetic so
 * that the same updates print. */
static void cmp_advance(cmp_state *s, uint64_t chunk)
{
    float delta = ((float)chunk / (float)s->progress_base) * 100;
    s->done = s->done + delta / 100 * 100;
    cli_progress_set(&s->progress, s->done);
}

/* Block status of one image at off up to its end, through its backing
 * chain, with QEMU's EOF flag: strict mode compares whole masks, so a run
 * that reaches the end of one image and not of the other is a mismatch
 * even when both are data (qemu-img does the same).  Returns the mask, or
 * -1 after printing the error. */
static int cmp_status(cmp_state *s, int i, uint64_t off, uint64_t *pnum)
{
    cmp_image *c = &s->img[i];
    img_err err = { 0 };
    img *file_img;
    int depth;
    int r = img_block_status_above(c->im, NULL, off, c->size - off, pnum, NULL,
                                   &depth, &file_img, &err);
    if (r < 0) {
        cli_error(s->env, "Sector allocation test failed for %s", c->name);
        return -1;
    }
    if (off + *pnum == c->size) {
        r |= CMP_BS_EOF;
    }
    return r;
}

/* Reads len bytes of image i into buf; CMP_READ_ERROR after a message. */
static int cmp_read(cmp_state *s, int i, uint8_t *buf, uint64_t off,
                    uint64_t len)
{
    img_err err = { 0 };
    if (img_pread(s->img[i].im, buf, len, off, &err) < 0) {
        cli_error(s->env, "Error while reading offset %" PRIu64 " of %s: %s",
                  off, s->img[i].name, strerror(err.code));
        return CMP_READ_ERROR;
    }
    return CMP_SAME;
}

/* Whether len bytes are all zero: the first byte is, and every byte
 * equals the one before it. */
static int is_zero(const uint8_t *p, uint64_t len)
{
    return len == 0 || (p[0] == 0 && !memcmp(p, p + 1, len - 1));
}

/* Offset of the first 512-byte unit of buf holding a non-zero byte, or
 * -1 (qemu-img's find_nonzero()). */
static int64_t find_nonzero(const uint8_t *buf, uint64_t len)
{
    uint64_t i = 0;
    /* Whole units first, then the short tail of an unaligned range. */
    for (; i + CMP_SECTOR <= len; i += CMP_SECTOR) {
        if (!is_zero(buf + i, CMP_SECTOR)) {
            return (int64_t)i;
        }
    }
    return is_zero(buf + i, len - i) ? -1 : (int64_t)i;
}

/* A range allocated in image i only: it must read as zeros there. */
static int check_empty(cmp_state *s, int i, uint64_t off, uint64_t len)
{
    int r = cmp_read(s, i, s->buf[0], off, len);
    if (r != CMP_SAME) {
        return r;
    }
    int64_t idx = find_nonzero(s->buf[0], len);
    if (idx >= 0) {
        cmp_say_mismatch(s, off + (uint64_t)idx);
        return CMP_DIFFERENT;
    }
    return CMP_SAME;
}

/* First 512-byte unit that differs in [off, off+len) of both images. */
static int compare_data(cmp_state *s, uint64_t off, uint64_t len)
{
    int r = cmp_read(s, 0, s->buf[0], off, len);
    if (r == CMP_SAME) {
        r = cmp_read(s, 1, s->buf[1], off, len);
    }
    if (r != CMP_SAME) {
        return r;
    }
    for (uint64_t i = 0; i < len; i += CMP_SECTOR) {
        uint64_t n = len - i < CMP_SECTOR ? len - i : CMP_SECTOR;
        if (memcmp(s->buf[0] + i, s->buf[1] + i, n)) {
            cmp_say_mismatch(s, off + i);
            return CMP_DIFFERENT;
        }
    }
    return CMP_SAME;
}

/* One step of the common part: compares [off, off + *chunk) where *chunk
 * is where either image's block status changes (capped when read). */
static int compare_step(cmp_state *s, uint64_t off, uint64_t *chunk)
{
    uint64_t pnum[2];
    int st[2];
    for (int i = 0; i < 2; i++) {
        st[i] = cmp_status(s, i, off, &pnum[i]);
        if (st[i] < 0) {
            return CMP_STATUS_ERROR;
        }
    }
    /* The step ends where either image's status changes. */
    *chunk = pnum[0] < pnum[1] ? pnum[0] : pnum[1];
    if (s->a->strict && st[0] != st[1]) {
        if (!s->a->quiet) {
            printf("Strict mode: Offset %" PRIu64 " block status mismatch!\n",
                   off);
        }
        return CMP_DIFFERENT;
    }
    if ((st[0] & IMG_BS_ZERO) && (st[1] & IMG_BS_ZERO)) {
        return CMP_SAME; /* zeros on both sides */
    }
    int alloc0 = (st[0] & IMG_BS_ALLOCATED) != 0;
    int alloc1 = (st[1] & IMG_BS_ALLOCATED) != 0;
    if (alloc0 == alloc1 && !alloc0) {
        return CMP_SAME; /* unallocated down both chains: zeros */
    }
    /* Ranges that are read are cut to the buffer; the offsets printed
     * depend on where ranges start, so the cut is qemu-img's. */
    if (*chunk > CMP_BUF_SIZE) {
        *chunk = CMP_BUF_SIZE;
    }
    if (alloc0 == alloc1) {
        return compare_data(s, off, *chunk);
    }
    return check_empty(s, alloc0 ? 0 : 1, off, *chunk);
}

/* The part of the larger image past the end of the smaller one. */
static int compare_tail(cmp_state *s, uint64_t off)
{
    /* Only data the larger image stores itself is read: holes and ranges
     * that are unallocated down its whole chain read as zeros anyway. */
    int big = s->img[0].size > s->img[1].size ? 0 : 1;
    cmp_say(s, "Warning: Image size mismatch!\n");
    while (off < s->progress_base) {
        uint64_t chunk;
        int st = cmp_status(s, big, off, &chunk);
        if (st < 0) {
            return CMP_STATUS_ERROR;
        }
        if ((st & IMG_BS_ALLOCATED) && !(st & IMG_BS_ZERO)) {
            chunk = chunk > CMP_BUF_SIZE ? CMP_BUF_SIZE : chunk;
            int r = check_empty(s, big, off, chunk);
            if (r != CMP_SAME) {
                return r;
            }
        }
        off += chunk;
        cmp_advance(s, chunk);
    }
    return CMP_SAME;
}

/* Both images open: the walk itself. */
static int compare_images(cmp_state *s)
{
    uint64_t size0 = s->img[0].size, size1 = s->img[1].size;
    uint64_t common = size0 < size1 ? size0 : size1;
    s->progress_base = size0 > size1 ? size0 : size1;
    cli_progress_set(&s->progress, 0);
    if (s->a->strict && size0 != size1) {
        cmp_say(s, "Strict mode: Image size mismatch!\n");
        return CMP_DIFFERENT;
    }
    /* The common part; the progress counts against the larger size. */
    uint64_t off = 0;
    while (off < common) {
        uint64_t chunk;
        int r = compare_step(s, off, &chunk);
        if (r != CMP_SAME) {
            return r;
        }
        off += chunk;
        cmp_advance(s, chunk);
    }
    if (size0 != size1) {
        int r = compare_tail(s, off);
        if (r != CMP_SAME) {
            return r;
        }
    }
    cmp_say(s, "Images are identical.\n");
    return CMP_SAME;
}

/* Opens both images and buffers, compares, cleans up. */
static int run_compare(const cli_env *env, const cmp_args *a)
{
    cmp_state s = { .a = a, .env = env };
    unsigned flags = (a->force_share ? IMG_OPEN_FORCE_SHARE : 0) |
                     (a->image_opts ? CLI_OPEN_IMAGE_OPTS : 0);
    const char *names[2] = { a->file1, a->file2 };
    const char *fmts[2] = { a->fmt1, a->fmt2 };
    int ret = CMP_SAME;
    /* As in qemu-img, progress starts before anything is opened, so every
     * failure from here on still ends it (a "\n" when shown). */
    cli_progress_init(&s.progress, a->progress, 2.0f);
    if (a->cache && !cli_cache_mode_valid(a->cache)) {
        cli_error(env, "Invalid source cache option: %s", a->cache);
        ret = CMP_OPEN_ERROR;
    }
    for (int i = 0; i < 2 && ret == CMP_SAME; i++) {
        s.img[i].name = names[i];
        s.img[i].im = cli_open(env, names[i], fmts[i], flags);
        if (!s.img[i].im) {
            ret = CMP_OPEN_ERROR;
        } else {
            s.img[i].size = img_size(s.img[i].im);
        }
    }
    if (ret == CMP_SAME) {
        s.buf[0] = malloc(CMP_BUF_SIZE);
        s.buf[1] = malloc(CMP_BUF_SIZE);
        if (!s.buf[0] || !s.buf[1]) {
            cli_error(env, "Out of memory");
            ret = CMP_READ_ERROR;
        }
    }
    if (ret == CMP_SAME) {
        ret = compare_images(&s);
    }
    free(s.buf[0]);
    free(s.buf[1]);
    img_close(s.img[1].im);
    img_close(s.img[0].im);
    cli_progress_end(&s.progress);
    return ret;
}

int cmd_compare(const cli_env *env, int argc, char **argv)
{
    cmp_args a = { 0 };
    int ret = parse_args(env, argc, argv, &a);
    if (ret >= 0) {
        return ret;
    }
    return run_compare(env, &a);
}
