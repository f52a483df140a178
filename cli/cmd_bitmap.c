/* cli/cmd_bitmap.c -- "bitmap", qemu-img 7.2 compatible.
 *
 *   bitmap (--merge source | --add | --remove | --clear | --enable |
 *           --disable)... [-b source_file [-F source_fmt]] [-g granularity]
 *          [--object objectdef] [--image-opts | -f fmt] filename bitmap
 *
 * Follows qemu-img's img_bitmap(): the actions run in the order given, on
 * the persistent bitmap named on the command line, in an image opened
 * read/write; the first failure stops with "Operation ACTION on bitmap
 * NAME failed: why".  --add makes an empty bitmap (of -g granularity)
 * that records writes; --disable stops it recording; --merge SOURCE
 * adds the areas that bitmap SOURCE marks, SOURCE being in the image
 * itself or in -b source_file (opened read-only, without its backing
 * chain, as -F says or probed).  Prints nothing on success; exit status
 * 0, or 1 on any failure.
 */
#include <stdint.h>
#include <string.h>

#include "opt_common.h"

/* At most one of each action is useful; qemu-img takes repeats. */
#define MAX_ACTIONS 32

enum {
    OPT_ADD = CLI_OPT_LOCAL,
    OPT_REMOVE,
    OPT_CLEAR,
    OPT_ENABLE,
    OPT_DISABLE,
    OPT_MERGE,
};

typedef struct bitmap_action {
    img_bitmap_op op;
    const char *src; /* --merge: the source bitmap */
} bitmap_action;

typedef struct bitmap_args {
    bitmap_action ops[MAX_ACTIONS];
    int nops;
    int add;             /* --add given (for -g) */
    int merge;           /* --merge given */
    const char *source;  /* -b */
    const char *source_fmt; /* -F */
    const char *granularity; /* -g */
    const char *fmt;     /* -f */
    const char *names[2]; /* filename, bitmap */
    int image_opts;      /* --image-opts */
} bitmap_args;

static int push(const cli_env *env, bitmap_args *a, img_bitmap_op op,
                const char *src)
{
    if (a->nops == MAX_ACTIONS) {
        return cli_usage_error(env, "Too many actions");
    }
    a->ops[a->nops++] = (bitmap_action){ op, src };
    a->add |= op == IMG_BITMAP_ADD;
    a->merge |= op == IMG_BITMAP_MERGE;
    return -1;
}

/* One of bitmap's own options; returns -1 to go on, else the status. */
static int parse_option(const cli_env *env, int c, void *args)
{
    bitmap_args *a = args;
    switch (c) {
    case OPT_ADD:
        return push(env, a, IMG_BITMAP_ADD, NULL);
    case OPT_REMOVE:
        return push(env, a, IMG_BITMAP_REMOVE, NULL);
    case OPT_CLEAR:
        return push(env, a, IMG_BITMAP_CLEAR, NULL);
    case OPT_ENABLE:
        return push(env, a, IMG_BITMAP_ENABLE, NULL);
    case OPT_DISABLE:
        return push(env, a, IMG_BITMAP_DISABLE, NULL);
    case OPT_MERGE:
        return push(env, a, IMG_BITMAP_MERGE, optarg);
    case 'b':
        a->source = optarg;
        return -1;
    case 'F':
        a->source_fmt = optarg;
        return -1;
    case 'g':
        a->granularity = optarg;
        return -1;
    case 'f':
        a->fmt = optarg;
        return -1;
    default:
        return -1;
    }
}

/* qemu-img's checks of the combination, in its order. */
static int check_args(const cli_env *env, const bitmap_args *a)
{
    const char *msg = NULL;
    if (a->nops == 0) {
        msg = "Need at least one of --add, --remove, --clear, --enable, "
              "--disable, or --merge";
    } else if (a->granularity && !a->add) {
        msg = "granularity only supported with --add";
    } else if (a->source_fmt && !a->source) {
        msg = "-F only supported with -b";
    } else if (a->source && !a->merge) {
        msg = "Merge bitmap source file only supported with --merge";
    }
    if (msg) {
        cli_error(env, "%s", msg);
        return 1;
    }
    return -1;
}

static int parse_args(const cli_env *env, int argc, char **argv,
                      bitmap_args *a)
{
    static const struct option extra[] = {
        { "add", no_argument, NULL, OPT_ADD },
        { "remove", no_argument, NULL, OPT_REMOVE },
        { "clear", no_argument, NULL, OPT_CLEAR },
        { "enable", no_argument, NULL, OPT_ENABLE },
        { "disable", no_argument, NULL, OPT_DISABLE },
        { "merge", required_argument, NULL, OPT_MERGE },
        { "granularity", required_argument, NULL, 'g' },
        { "source-file", required_argument, NULL, 'b' },
        { "source-format", required_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
    };
    const cli_opt_spec spec = {
        .cmd = "bitmap",
        .shortopts = ":b:hg:F:f:",
        .extra = extra,
        .image_opts = &a->image_opts,
        .fn = parse_option,
    };
    int r = cli_parse_opts(env, argc, argv, &spec, a);
    if (r < 0) {
        r = check_args(env, a);
    }
    if (r < 0 && optind != argc - 2) {
        cli_error(env, "Expecting filename and bitmap name");
        return 1;
    }
    if (r < 0) {
        a->names[0] = argv[optind];
        a->names[1] = argv[optind + 1];
    }
    return r;
}

static const char *op_name(img_bitmap_op op)
{
    static const char *const names[] = { "add", "remove", "clear", "enable",
                                         "disable", "merge" };
    return names[op];
}

/* Runs the actions in order, merging from src; the first failure
 * stops. */
static int run_actions(const cli_env *env, img *im, img *src,
                       const bitmap_args *a, uint64_t granularity)
{
    for (int i = 0; i < a->nops; i++) {
        img_bitmap_change c = { .op = a->ops[i].op, .name = a->names[1],
                                .granularity = granularity, .src = src,
                                .src_name = a->ops[i].src };
        img_err err = { 0 };
        if (img_bitmap_change_apply(im, &c, &err) < 0) {
            cli_error(env, "Operation %s on bitmap %s failed: %s",
                      op_name(c.op), c.name, err.msg);
            return 1;
        }
    }
    return 0;
}

int cmd_bitmap(const cli_env *env, int argc, char **argv)
{
    bitmap_args a = { 0 };
    int r = parse_args(env, argc, argv, &a);
    if (r >= 0) {
        return r;
    }
    int64_t g = 0;
    if (a.granularity &&
        cli_cvtnum(env, "granularity", a.granularity, 0, INT64_MAX, &g) < 0) {
        return 1;
    }
    /* as qemu-img: bitmaps do not need the backing chain */
    img *im = cli_open(env, a.names[0], a.fmt,
                       IMG_OPEN_RDWR | IMG_OPEN_NO_BACKING |
                           (a.image_opts ? CLI_OPEN_IMAGE_OPTS : 0));
    if (!im) {
        return 1;
    }
    img *src = im;
    if (a.source) {
        src = cli_open(env, a.source, a.source_fmt, IMG_OPEN_NO_BACKING);
        if (!src) {
            img_close(im);
            return 1;
        }
    }
    r = run_actions(env, im, src, &a, (uint64_t)g);
    if (src != im) {
        img_close(src);
    }
    img_err err = { 0 };
    if (r == 0 && img_flush(im, &err) < 0) {
        cli_error_img(env, a.names[0], &err);
        r = 1;
    }
    img_close(im);
    return r;
}
