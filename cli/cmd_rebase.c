/* cli/cmd_rebase.c -- "rebase", qemu-img 7.2 compatible.
 *
 *   rebase [--object OBJ] [--image-opts] [-U] [-q] [-f FMT] [-t CACHE]
 *          [-T SRC_CACHE] [-p] [-u] [-b BACKING_FILE] [-F BACKING_FMT]
 *          FILENAME
 *
 * Follows qemu-img's img_rebase().  Safe mode opens the image with its
 * backing chain and the new backing file; every range the image does not
 * allocate itself is read from the old and the new backing file (2 MiB at
 * a time) and, where they differ sector by sector, the old content is
 * written into the image (zeros as a zero write when the old backing file
 * ends before it).  When the new backing file is already part of the
 * chain, ranges the images between do not allocate are skipped.  Only then
 * is the backing file reference changed, so that a crash never changes
 * what the image reads.  With -u only the reference changes (the chain is
 * not even opened); -b "" removes it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edit_util.h"
#include "opt_common.h"

/* Bytes compared per step (qemu-img's IO_BUF_SIZE). */
#define REBASE_BUF (2u * 1024 * 1024)
#define SECTOR 512u

typedef struct rebase_args {
    const char *fmt;       /* -f */
    const char *base;      /* -b (may be ""), NULL: not given */
    const char *base_fmt;  /* -F */
    const char *cache;     /* -t */
    const char *src_cache; /* -T */
    const char *filename;
    int unsafe, progress, quiet, force_share;
    int image_opts; /* --image-opts */
} rebase_args;

/* The images being compared and the state of the copy. */
typedef struct rebase_job {
    img *top;
    img *old_b;            /* old backing image (in top's chain) or NULL */
    img *new_b;            /* new backing image or NULL (none) */
    img *new_owned;        /* new_b when opened here */
    img *prefix;           /* new_b when it is part of top's chain */
    uint8_t *buf_old, *buf_new;
    cli_progress prog;
    float done;            /* percent reported so far */
} rebase_job;

/* One of rebase's own options; returns -1 to go on. */
static int parse_option(const cli_env *env, int c, void *args)
{
    rebase_args *a = args;
    (void)env;
    switch (c) {
    case 'f': a->fmt = optarg; break;
    case 'F': a->base_fmt = optarg; break;
    case 'b': a->base = optarg; break;
    case 'u': a->unsafe = 1; break;
    case 'p': a->progress = 1; break;
    case 't': a->cache = optarg; break;
    case 'T': a->src_cache = optarg; break;
    case 'q': a->quiet = 1; break;
    case 'U': a->force_share = 1; break;
    default: break;
    }
    return -1;
}

static int parse_args(const cli_env *env, int argc, char **argv,
                      rebase_args *a)
{
    const cli_opt_spec spec = {
        .cmd = "rebase",
        .shortopts = ":hf:F:b:upt:T:qU",
        .image_opts = &a->image_opts,
        .fn = parse_option,
    };
    int r = cli_parse_opts(env, argc, argv, &spec, a);
    if (r < 0) {
        r = cli_expect_files(env, argc, argv, 1, &a->filename);
    }
    if (r >= 0) {
        return r;
    }
    if (!a->unsafe && !a->base) {
        return cli_usage_error(env, "%s", "Must specify backing file (-b) or "
                               "use unsafe mode (-u)");
    }
    return -1;
}

/* Opens (or finds in the chain) the new backing image. */
static int open_new_backing(const cli_env *env, const rebase_args *a,
                            rebase_job *j)
{
    if (!a->base[0]) {
        return 0; /* removing the backing file: compare with zeros */
    }
    char *path = cli_resolve_name(img_filename(j->top), a->base);
    if (!path) {
        cli_error(env, "Out of memory");
        return -1;
    }
    j->prefix = cli_find_backing_image(j->top, path);
    j->new_b = j->prefix;
    int r = 0;
    if (!j->prefix) {
        img_err err = { 0 };
        unsigned flags = (a->force_share ? IMG_OPEN_FORCE_SHARE : 0) |
                         (env->untrusted ? IMG_OPEN_UNTRUSTED : 0);
        r = img_open(path, a->base_fmt, flags, &j->new_owned, &err);
        if (r < 0) {
            cli_error(env, "Could not open new backing file '%s': %s",
                      a->base, err.msg);
        }
        j->new_b = j->new_owned;
    }
    free(path);
    return r;
}

/* Reads [off, off + *n) of b into buf (zeros past its end or without
 * b); *n shrinks to what b has when it ends inside the range.  Sets
 * *all_zero when b has nothing there. */
static int read_side(img *b, uint8_t *buf, uint64_t off, uint64_t *n,
                     int *all_zero, img_err *err)
{
    uint64_t size = b ? img_size(b) : 0;
    if (off >= size) {
        memset(buf, 0, *n);
        *all_zero = 1;
        return 0;
    }
    if (off + *n > size) {
        *n = size - off;
    }
    *all_zero = 0;
    return img_pread(b, buf, *n, off, err);
}

/* QEMU's compare_buffers(): whether the first sector differs, and in
 * *pnum how many bytes (whole sectors) share that answer. */
static int compare_buffers(const uint8_t *x, const uint8_t *y, uint64_t len,
                           uint64_t *pnum)
{
    uint64_t i = len < SECTOR ? len : SECTOR;
    int res = memcmp(x, y, i) != 0;
    while (i < len) {
        uint64_t l = len - i < SECTOR ? len - i : SECTOR;
        if ((memcmp(x + i, y + i, l) != 0) != res) {
            break;
        }
        i += l;
    }
    *pnum = i;
    return res;
}

/* Writes the old content into top where old and new differ. */
static int copy_differences(const cli_env *env, rebase_job *j, uint64_t off,
                            uint64_t n, int old_zero)
{
    img_err err = { 0 };
    for (uint64_t w = 0; w < n;) {
        uint64_t pnum;
        int r = 0;
        if (compare_buffers(j->buf_old + w, j->buf_new + w, n - w, &pnum)) {
            r = old_zero ? img_pwrite_zeroes(j->top, off + w, pnum, 0, &err)
                         : img_pwrite(j->top, j->buf_old + w, pnum, off + w,
                                      0, &err);
        }
        if (r < 0) {
            cli_error(env, "Error while writing to COW image: %s",
                      strerror(-r));
            return -1;
        }
        w += pnum;
    }
    return 0;
}

/* Whether the images between the old backing file and the new one (part
 * of the chain) allocate [off, off + *n); *n shrinks to the run. */
static int changed_since_prefix(rebase_job *j, uint64_t off, uint64_t *n,
                                img_err *err)
{
    uint64_t host;
    int depth;
    img *fi;
    int r = img_block_status_above(j->old_b, j->prefix, off, *n, n, &host,
                                   &depth, &fi, err);
    return r < 0 ? r : r != 0;
}

/* One step at off: *n bytes handled.  Returns 0 or -1 (reported). */
static int rebase_step(const cli_env *env, rebase_job *j, uint64_t off,
                       uint64_t *n, float local)
{
    img_err err = { 0 };
    uint64_t host;
    int r = img_block_status(j->top, off, *n, n, &host, &err);
    if (r >= 0 && (r & IMG_BS_ALLOCATED)) {
        return 0; /* the image decides: nothing to do */
    }
    if (r >= 0 && j->prefix && j->old_b) {
        r = changed_since_prefix(j, off, n, &err);
        if (r == 0) {
            return 0;
        }
    }
    if (r < 0) {
        cli_error(env, "error while reading image metadata: %s",
                  strerror(-r));
        return -1;
    }
    int old_zero, new_zero;
    if (read_side(j->old_b, j->buf_old, off, n, &old_zero, &err) < 0) {
        cli_error(env, "error while reading from old backing file");
        return -1;
    }
    if (read_side(j->new_b, j->buf_new, off, n, &new_zero, &err) < 0) {
        cli_error(env, "error while reading from new backing file");
        return -1;
    }
    if (copy_differences(env, j, off, *n, old_zero) < 0) {
        return -1;
    }
    j->done += local;
    cli_progress_set(&j->prog, j->done);
    return 0;
}

/* The safe part: the image reads the same over the new backing file. */
static int copy_loop(const cli_env *env, rebase_job *j)
{
    uint64_t size = img_size(j->top);
    j->buf_old = malloc(REBASE_BUF);
    j->buf_new = malloc(REBASE_BUF);
    if (!j->buf_old || !j->buf_new) {
        cli_error(env, "Out of memory");
        return -1;
    }
    float local = 0;
    if (size) {
        uint64_t chunk = size < REBASE_BUF ? size : REBASE_BUF;
        local = (float)100 / (float)(size / chunk);
    }
    for (uint64_t off = 0, n; off < size; off += n) {
        n = size - off < REBASE_BUF ? size - off : REBASE_BUF;
        if (rebase_step(env, j, off, &n, local) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The new reference, with qemu-img's messages. */
static int change_reference(const cli_env *env, const rebase_args *a,
                            img *top)
{
    const char *name = a->base && a->base[0] ? a->base : NULL;
    const char *fmt = name ? a->base_fmt : NULL;
    img_err err = { 0 };
    /* bdrv_change_backing_file(..., require=true) */
    int r = name && !fmt ? -EINVAL : img_change_backing(top, name, fmt, &err);
    if (r >= 0) {
        return 0;
    }
    const char *shown = a->base ? a->base : "(null)";
    if (r == -ENOSPC) {
        cli_error(env, "Could not change the backing file to '%s': No "
                  "space left in the file header", shown);
    } else if (r == -EINVAL && name && !a->base_fmt) {
        cli_error(env, "Could not change the backing file to '%s': backing "
                  "format must be specified", shown);
    } else {
        cli_error(env, "Could not change the backing file to '%s': %s",
                  shown, strerror(-r));
    }
    return -1;
}

/* Image open, the copy (safe mode), the new reference. */
static int run(const cli_env *env, const rebase_args *a, rebase_job *j)
{
    unsigned flags = IMG_OPEN_RDWR | (a->unsafe ? IMG_OPEN_NO_BACKING : 0);
    unsigned src_flags = 0;
    if (cli_cache_flags(a->cache ? a->cache : "writeback", &flags) < 0) {
        cli_error(env, "Invalid cache option: %s", a->cache);
        return 1;
    }
    if (cli_cache_flags(a->src_cache ? a->src_cache : "writeback",
                        &src_flags) < 0) {
        cli_error(env, "Invalid source cache option: %s", a->src_cache);
        return 1;
    }
    j->top = cli_open(env, a->filename, a->fmt,
                      flags | (a->image_opts ? CLI_OPEN_IMAGE_OPTS : 0));
    if (!j->top) {
        return 1;
    }
    if (a->base_fmt && !img_driver_find(a->base_fmt)) {
        cli_error(env, "Invalid format name: '%s'", a->base_fmt);
        return 1;
    }
    if (!a->unsafe) {
        j->old_b = img_backing(j->top);
        if (open_new_backing(env, a, j) < 0 || copy_loop(env, j) < 0) {
            return 1;
        }
    }
    if (change_reference(env, a, j->top) < 0) {
        return 1;
    }
    img_err err = { 0 };
    if (img_flush(j->top, &err) < 0) {
        cli_error_img(env, a->filename, &err);
        return 1;
    }
    cli_progress_set(&j->prog, 100);
    return 0;
}

int cmd_rebase(const cli_env *env, int argc, char **argv)
{
    rebase_args a = { 0 };
    int ret = parse_args(env, argc, argv, &a);
    if (ret >= 0) {
        return ret;
    }
    rebase_job j = { 0 };
    cli_progress_init(&j.prog, a.progress && !a.quiet, 2.0f);
    cli_progress_set(&j.prog, 0);
    ret = run(env, &a, &j);
    cli_progress_end(&j.prog);
    img_close(j.new_owned);
    img_close(j.top);
    free(j.buf_old);
    free(j.buf_new);
    return ret;
}
