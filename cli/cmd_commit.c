/* cli/cmd_commit.c -- "commit", qemu-img 7.2 compatible.
 *
 *   commit [--object OBJ] [--image-opts] [-q] [-f FMT] [-t CACHE]
 *          [-b BASE] [-r RATE] [-d] [-p] FILENAME
 *
 * Follows qemu-img's img_commit(), which runs QEMU's active commit job (a
 * mirror from the image to its base): the base -- the image's backing
 * file, or with -b the named image of its chain -- is reopened read/write
 * and grown to the image's size when smaller; then every range that some
 * image above the base allocates is copied into the base, in chunks of
 * the mirror's granularity (the base's cluster size, clamped to
 * 4 KiB..64 KiB): data is read through the chain and written, ranges that
 * read as zeros become zero writes that may unmap.  Afterwards the image
 * is emptied (its data now lives in the base) unless -d or -b is given.
 * The rate limit is accepted and not applied (it only paces the job).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "edit_util.h"
#include "opt_common.h"

/* Bytes copied per read/write (a multiple of every granularity). */
#define COMMIT_BUF (1u * 1024 * 1024)

typedef struct commit_args {
    const char *fmt;      /* -f */
    const char *cache;    /* -t */
    const char *base;     /* -b */
    const char *filename;
    int drop, progress, quiet;
    int image_opts; /* --image-opts */
} commit_args;

typedef struct commit_job {
    img *top, *base;
    uint64_t gran;        /* copy granularity */
    uint64_t base_cluster; /* 0: no clusters */
    uint64_t total, done; /* bytes to copy, copied (progress) */
    uint8_t *buf;
    cli_progress prog;
    img_err err;
} commit_job;

/* One of commit's own options; returns -1 to go on, else the status. */
static int parse_option(const cli_env *env, int c, void *args)
{
    commit_args *a = args;
    int64_t rate;
    switch (c) {
    case 'f': a->fmt = optarg; break;
    case 't': a->cache = optarg; break;
    case 'b': a->base = optarg; a->drop = 1; break; /* -b implies -d */
    case 'd': a->drop = 1; break;
    case 'p': a->progress = 1; break;
    case 'q': a->quiet = 1; break;
    case 'r':
        if (cli_cvtnum(env, "rate limit", optarg, 0, INT64_MAX, &rate) < 0) {
            return 1;
        }
        break;
    default: break;
    }
    return -1;
}

static int parse_args(const cli_env *env, int argc, char **argv,
                      commit_args *a)
{
    const cli_opt_spec spec = {
        .cmd = "commit",
        .shortopts = ":f:ht:b:dpqr:",
        .image_opts = &a->image_opts,
        .fn = parse_option,
    };
    int r = cli_parse_opts(env, argc, argv, &spec, a);
    if (r >= 0) {
        return r;
    }
    return cli_expect_files(env, argc, argv, 1, &a->filename);
}

/* Copies [off, off + len) (one chunk run) from the chain into base. */
static int copy_range(commit_job *j, uint64_t off, uint64_t len)
{
    while (len > 0) {
        uint64_t pnum, host;
        int depth;
        img *fi;
        int r = img_block_status_above(j->top, NULL, off, len, &pnum, &host,
                                       &depth, &fi, &j->err);
        if (r < 0) {
            return r;
        }
        uint64_t n = pnum < COMMIT_BUF ? pnum : COMMIT_BUF;
        uint64_t c = j->base_cluster;
        int aligned = c && off % c == 0 && (n % c == 0 ||
                      off + n == img_size(j->base));
        if (!(r & IMG_BS_DATA) && (r & IMG_BS_ZERO) && aligned) {
            r = img_pwrite_zeroes(j->base, off, n, IMG_WRITE_MAY_UNMAP,
                                  &j->err);
        } else {
            r = img_pread(j->top, j->buf, n, off, &j->err);
            if (r >= 0) {
                r = img_pwrite(j->base, j->buf, n, off, 0, &j->err);
            }
        }
        if (r < 0) {
            return r;
        }
        j->done += n;
        cli_progress_set(&j->prog, 100.f * (float)j->done / (float)j->total);
        off += n;
        len -= n;
    }
    return 0;
}

/* Rounds [off, off + len) out to the granularity, within the image. */
static void round_to_gran(const commit_job *j, uint64_t *off, uint64_t *len)
{
    uint64_t size = img_size(j->top);
    uint64_t start = *off / j->gran * j->gran;
    uint64_t end = (*off + *len + j->gran - 1) / j->gran * j->gran;
    *off = start;
    *len = (end < size ? end : size) - start;
}

/* Walks the ranges allocated above the base; copies them when copy,
 * else only adds them up in j->total. */
static int walk_dirty(commit_job *j, int copy)
{
    uint64_t size = img_size(j->top), off = 0, covered = 0;
    while (off < size) {
        uint64_t pnum, host;
        int depth;
        img *fi;
        int r = img_block_status_above(j->top, j->base, off, size - off,
                                       &pnum, &host, &depth, &fi, &j->err);
        if (r < 0) {
            return r;
        }
        if (r != 0) {
            uint64_t s = off, l = pnum;
            round_to_gran(j, &s, &l);
            if (s < covered) {
                l -= covered - s < l ? covered - s : l;
                s = covered;
            }
            if (l > 0 && copy) {
                r = copy_range(j, s, l);
            }
            j->total += copy ? 0 : l;
            covered = s + l > covered ? s + l : covered;
        }
        if (r < 0) {
            return r;
        }
        off += pnum;
    }
    return 0;
}

/* The mirror's granularity and the base's size. */
static int prepare_base(commit_job *j)
{
    img_info info;
    int r = img_reopen_rw(j->base, &j->err);
    if (r >= 0) {
        r = img_get_info(j->base, &info, &j->err);
    }
    if (r < 0) {
        return r;
    }
    j->base_cluster = info.cluster_size;
    img_info_clear(&info);
    uint64_t g = j->base_cluster > 4096 ? j->base_cluster : 4096;
    j->gran = g < 65536 ? g : 65536;
    if (img_size(j->top) > img_size(j->base)) {
        r = img_truncate(j->base, img_size(j->top), IMG_PREALLOC_OFF,
                         &j->err);
    }
    return r;
}

/* The commit job, then (without drop) the emptied image. */
static int do_commit(commit_job *j, int drop)
{
    int r = prepare_base(j);
    j->buf = r >= 0 ? malloc(COMMIT_BUF) : NULL;
    if (r >= 0 && !j->buf) {
        r = img_err_set(&j->err, ENOMEM, "Out of memory");
    }
    if (r >= 0) {
        r = walk_dirty(j, 0);
    }
    if (r >= 0) {
        r = walk_dirty(j, 1);
    }
    if (r >= 0) {
        r = img_flush(j->base, &j->err);
    }
    if (r < 0) {
        img_err_prepend(&j->err, "Block job failed: ");
        return r;
    }
    cli_progress_set(&j->prog, 100);
    if (!drop) {
        r = img_make_empty(j->top, &j->err);
        r = r == -ENOTSUP ? 0 : r;
    }
    if (r >= 0) {
        r = img_flush(j->top, &j->err);
    }
    return r;
}

/* Opens, finds the base, commits; returns the exit status. */
static int run(const cli_env *env, const commit_args *a, commit_job *j)
{
    unsigned flags = IMG_OPEN_RDWR;
    if (cli_cache_flags(a->cache ? a->cache : "writeback", &flags) < 0) {
        cli_error(env, "Invalid cache option: %s", a->cache);
        return 1;
    }
    j->top = cli_open(env, a->filename, a->fmt,
                      flags | (a->image_opts ? CLI_OPEN_IMAGE_OPTS : 0));
    if (!j->top) {
        return 1;
    }
    cli_progress_init(&j->prog, a->progress && !a->quiet, 1.f);
    cli_progress_set(&j->prog, 0);
    int r;
    if (a->base) {
        j->base = cli_find_backing_image(j->top, a->base);
        r = j->base ? do_commit(j, a->drop)
                    : img_err_set(&j->err, EINVAL, "Did not find '%s' in the "
                                  "backing chain of '%s'", a->base,
                                  a->filename);
    } else {
        j->base = img_backing(j->top);
        r = j->base ? do_commit(j, a->drop)
                    : img_err_set(&j->err, EINVAL, "Image does not have a "
                                  "backing file");
    }
    cli_progress_end(&j->prog);
    if (r < 0) {
        cli_error(env, "%s", j->err.msg);
        return 1;
    }
    if (!a->quiet) {
        printf("Image committed.\n");
    }
    return 0;
}

int cmd_commit(const cli_env *env, int argc, char **argv)
{
    commit_args a = { 0 };
    int ret = parse_args(env, argc, argv, &a);
    if (ret >= 0) {
        return ret;
    }
    commit_job j = { 0 };
    ret = run(env, &a, &j);
    img_close(j.top);
    free(j.buf);
    return ret;
}
