/* cli/cmd_dd.c -- "dd", qemu-img 7.2 compatible.
 *
 *   dd [-U] [-f FMT] [-O OUTPUT_FMT] [bs=BLOCK_SIZE] [count=BLOCKS]
 *      [skip=BLOCKS] if=INPUT of=OUTPUT
 *
 * Follows qemu-img's img_dd(): the output image is always created anew,
 * with a size of the input size (cut to bs * count first) minus the
 * skipped bytes, then the input from skip * bs onwards is copied to it.
 * Like qemu-img, count limits the input size rather than the number of
 * blocks copied after the skip, and a skip past the end makes an empty
 * image with a warning but exit status 0.  The copy is done in large
 * pieces (the bytes written are the same as with bs-sized ones); every
 * byte is written, zeros included, so the output is allocated as
 * qemu-img's is.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "opt_common.h"

/* Bytes copied per read/write. */
#define DD_CHUNK (1u << 20)

typedef struct dd_args {
    const char *fmt;     /* -f, or NULL to probe */
    const char *out_fmt; /* -O, "raw" by default */
    int force_share;     /* -U */
    int64_t bs;          /* bs=, 512 by default */
    int64_t count;       /* count= */
    int64_t skip;        /* skip=, in blocks */
    int has_count, has_skip;
    const char *in, *out; /* if=, of= */
    int image_opts; /* --image-opts */
} dd_args;

/* One of dd's own options; returns -1 to go on. */
static int parse_option(const cli_env *env, int c, void *args)
{
    dd_args *a = args;
    (void)env;
    switch (c) {
    case 'f': a->fmt = optarg; break;
    case 'O': a->out_fmt = optarg; break;
    case 'U': a->force_share = 1; break;
    default: break;
    }
    return -1;
}

/* One "name=value" operand; returns -1 to go on, else the exit status. */
static int parse_operand(const cli_env *env, const char *arg, dd_args *a)
{
    /* Like qemu-img, an operand without '=' or with an unknown name is
     * reported by its name alone; a repeated operand overrides. */
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const char *v = eq ? eq + 1 : NULL;
    int r = 0;
    if (v && len == 2 && !strncmp(arg, "bs", 2)) {
        r = cli_cvtnum(env, "bs", v, 1, INT_MAX, &a->bs);
    } else if (v && len == 5 && !strncmp(arg, "count", 5)) {
        r = cli_cvtnum(env, "count", v, 0, INT64_MAX, &a->count);
        a->has_count = 1;
    } else if (v && len == 4 && !strncmp(arg, "skip", 4)) {
        r = cli_cvtnum(env, "skip", v, 0, INT64_MAX, &a->skip);
        a->has_skip = 1;
    } else if (v && len == 2 && !strncmp(arg, "if", 2)) {
        a->in = v;
    } else if (v && len == 2 && !strncmp(arg, "of", 2)) {
        a->out = v;
    } else {
        cli_error(env, "unrecognized operand %.*s", (int)len, arg);
        return 1;
    }
    return r < 0 ? 1 : -1;
}

/* Options and operands; returns -1 to go on, else the exit status. */
static int parse_args(const cli_env *env, int argc, char **argv, dd_args *a)
{
    const cli_opt_spec spec = {
        .cmd = "dd",
        .shortopts = ":hf:O:U",
        .image_opts = &a->image_opts,
        .fn = parse_option,
    };
    int r = cli_parse_opts(env, argc, argv, &spec, a);
    if (r >= 0) {
        return r;
    }
    for (int i = optind; i < argc; i++) {
        if ((r = parse_operand(env, argv[i], a)) >= 0) {
            return r;
        }
    }
    if (!a->in || !a->out) {
        cli_error(env, "Must specify both input and output files");
        return 1;
    }
    return -1;
}

/* Whether skip * bs lies past the input's end (or overflows).  qemu-img
 * compares against the size already cut by count, so "count=1 skip=1"
 * copies nothing. */
static int skip_too_far(const dd_args *a, int64_t size)
{
    return a->has_skip &&
           (a->skip > INT64_MAX / a->bs || size < a->bs * a->skip);
}

/* Creates the output image of the given size. */
static int create_output(const cli_env *env, const dd_args *a,
                         const img_driver *drv, uint64_t size)
{
    img_err err = { 0 };
    /* Only the size is set; every other option keeps its default. */
    img_opts *o = cli_create_opts_new(drv, NULL, &err);
    char num[32];
    snprintf(num, sizeof(num), "%" PRIu64, size);
    int r = o ? img_opts_set(o, "size", num, &err) : -1;
    if (r >= 0 || (o && !cli_opts_has(o, "size"))) {
        img_create_opts co = { .size = size, .opts = o };
        r = img_create(a->out, a->out_fmt, &co, &err);
    }
    img_opts_free(o);
    if (r < 0) {
        cli_error(env, "%s: error while creating output image: %s", a->out,
                  err.msg);
        return -1;
    }
    return 0;
}

/* Copies in [pos, end) to the start of out. */
static int copy_data(const cli_env *env, img *in, img *out, int64_t pos,
                     int64_t end)
{
    uint8_t *buf = malloc(DD_CHUNK);
    img_err err = { 0 };
    int r = buf ? 0 : -1;
    if (!buf) {
        cli_error(env, "Out of memory");
    }
    /* Every byte is written, zeros included: qemu-img does not look for
     * zeros either, so the output is allocated in the same places. */
    for (uint64_t out_pos = 0; r == 0 && pos < end;) {
        uint64_t n = (uint64_t)(end - pos);
        n = n < DD_CHUNK ? n : DD_CHUNK;
        if (img_pread(in, buf, n, (uint64_t)pos, &err) < 0) {
            cli_error(env, "error while reading from input image file: %s",
                      strerror(err.code));
            r = -1;
        } else if (img_pwrite(out, buf, n, out_pos, 0, &err) < 0) {
            cli_error(env, "error while writing to output image file: %s",
                      strerror(err.code));
            r = -1;
        }
        pos += (int64_t)n;
        out_pos += n;
    }
    if (r == 0 && img_flush(out, &err) < 0) {
        cli_error_img(env, img_filename(out), &err);
        r = -1;
    }
    free(buf);
    return r;
}

/* With the input open: create, open and fill the output. */
static int dd_image(const cli_env *env, const dd_args *a, img *in)
{
    const img_driver *drv = img_driver_find(a->out_fmt);
    if (!drv) {
        cli_error(env, "Unknown file format");
        return 1;
    }
    if (!img_driver_create_opts(drv)) {
        cli_error(env, "Format driver '%s' does not support image creation",
                  a->out_fmt);
        return 1;
    }
    /* The output is as large as what is left of the input after the
     * skip, the input first cut to count blocks. */
    int64_t size = (int64_t)img_size(in);
    if (a->has_count && a->count <= INT64_MAX / a->bs &&
        a->count * a->bs < size) {
        size = a->count * a->bs;
    }
    int far = skip_too_far(a, size);
    if (create_output(env, a, drv,
                      far ? 0 : (uint64_t)(size - a->bs * a->skip)) < 0) {
        return 1;
    }
    img *out = cli_open(env, a->out, a->out_fmt, IMG_OPEN_RDWR);
    if (!out) {
        return 1;
    }
    /* Past the end: a warning, an empty image and still exit status 0. */
    if (far) {
        cli_error(env, "%s: cannot skip to specified offset", a->in);
    }
    int r = copy_data(env, in, out, far ? size : a->bs * a->skip, size);
    img_close(out);
    return r < 0 ? 1 : 0;
}

int cmd_dd(const cli_env *env, int argc, char **argv)
{
    dd_args a = { .out_fmt = "raw", .bs = 512 };
    int ret = parse_args(env, argc, argv, &a);
    if (ret >= 0) {
        return ret;
    }
    img *in =
        cli_open(env, a.in, a.fmt,
                 (a.force_share ? IMG_OPEN_FORCE_SHARE : 0) |
                     (a.image_opts ? CLI_OPEN_IMAGE_OPTS : 0));
    if (!in) {
        return 1;
    }
    ret = dd_image(env, &a, in);
    img_close(in);
    return ret;
}
