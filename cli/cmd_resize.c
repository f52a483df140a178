/* cli/cmd_resize.c -- "resize", qemu-img 7.2 compatible.
 *
 *   resize [-f FMT] [--preallocation=MODE] [-q] [--shrink] FILENAME
 *          [+|-]SIZE
 *
 * Follows qemu-img's img_resize(): the size is always the last argument
 * (taken out before option parsing, so "-1G" needs no "--"), "+" and "-"
 * make it relative, and shrinking must be asked for with --shrink.  The
 * new size is computed in int64 like QEMU, so a huge size wraps negative
 * and is refused as not positive.
 */
#include <errno.h>
#include <string.h>

#include "opt_common.h"

enum {
    OPT_PREALLOCATION = CLI_OPT_LOCAL,
    OPT_SHRINK,
};

typedef struct resize_args {
    const char *fmt; /* -f, or NULL to probe */
    const char *filename;
    const char *size; /* the last argument, sign included */
    int prealloc;     /* IMG_PREALLOC_* */
    int quiet;        /* -q */
    int shrink;       /* --shrink */
    int image_opts; /* --image-opts */
} resize_args;

/* One of resize's own options; returns -1 to go on, else the status. */
static int parse_option(const cli_env *env, int c, void *args)
{
    resize_args *a = args;
    switch (c) {
    case 'f':
        a->fmt = optarg;
        return -1;
    case 'q':
        a->quiet = 1;
        return -1;
    case OPT_PREALLOCATION:
        if (img_prealloc_parse(optarg, &a->prealloc, NULL) < 0) {
            cli_error(env, "Invalid preallocation mode '%s'", optarg);
            return 1;
        }
        return -1;
    case OPT_SHRINK:
        a->shrink = 1;
        return -1;
    default:
        return -1;
    }
}

/* Options and operands; returns -1 to go on, else the exit status. */
static int parse_args(const cli_env *env, int argc, char **argv, resize_args *a)
{
    static const struct option extra[] = {
        { "preallocation", required_argument, NULL, OPT_PREALLOCATION },
        { "shrink", no_argument, NULL, OPT_SHRINK },
        { NULL, 0, NULL, 0 },
    };
    const cli_opt_spec spec = {
        .cmd = "resize",
        .shortopts = ":f:hq",
        .extra = extra,
        .image_opts = &a->image_opts,
        .fn = parse_option,
    };
    if (argc < 3) {
        return cli_usage_error(env, "%s", "Not enough arguments");
    }
    a->size = argv[--argc]; /* before getopt sees a leading '-' */
    int r = cli_parse_opts(env, argc, argv, &spec, a);
    if (r >= 0) {
        return r;
    }
    if (optind != argc - 1) {
        return cli_usage_error(env, "%s", "Expecting image file name and size");
    }
    a->filename = argv[optind];
    return -1;
}

/* "[+|-]SIZE" -> *sign (-1, 0 absolute, +1) and *n.  Prints QEMU's
 * messages for a bad size. */
static int parse_size(const cli_env *env, const char *s, int *sign, uint64_t *n)
{
    /* Only one sign is taken off: "+-1M" is a malformed size. */
    *sign = s[0] == '+' ? 1 : s[0] == '-' ? -1 : 0;
    s += *sign != 0;
    int r = img_parse_size(s, n);
    if (r == -ERANGE) {
        cli_error(env, "Value '%s' is out of range for parameter 'size'", s);
    } else if (r < 0) {
        cli_error(env,
                  "Parameter 'size' expects a non-negative number below "
                  "2^64\nOptional suffix k, M, G, T, P or E means kilo-, "
                  "mega-, giga-, tera-, peta-\nand exabytes, respectively.");
    }
    return r;
}

/* QEMU's checks on the new size, then the truncation. */
static int do_resize(const cli_env *env, const resize_args *a, img *im,
                     int64_t total)
{
    int64_t current = (int64_t)img_size(im);
    /* QEMU's order of checks: positive, preallocation only when growing,
     * shrinking only with --shrink. */
    if (total <= 0) {
        cli_error(env, "New image size must be positive");
        return 1;
    }
    if (total <= current && a->prealloc != IMG_PREALLOC_OFF) {
        cli_error(env, "Preallocation can only be used for growing images");
        return 1;
    }
    if (total < current && !a->shrink) {
        cli_error(env,
                  "Use the --shrink option to perform a shrink operation.");
        cli_warn(env, "Shrinking an image will delete all data beyond the "
                      "shrunken image's end. Before performing such an "
                      "operation, make sure there is no important data there.");
        return 1;
    }
    img_err err = { 0 };
    int r = img_truncate(im, (uint64_t)total, a->prealloc, &err);
    if (r >= 0) {
        r = img_flush(im, &err); /* qemu-img flushes when closing */
    }
    if (r < 0) {
        cli_error_img(env, a->filename, &err);
        return 1;
    }
    if (!a->quiet) {
        printf("Image resized.\n");
    }
    return 0;
}

int cmd_resize(const cli_env *env, int argc, char **argv)
{
    resize_args a = { .prealloc = IMG_PREALLOC_OFF };
    int ret = parse_args(env, argc, argv, &a);
    if (ret >= 0) {
        return ret;
    }
    int sign;
    uint64_t n;
    /* The size is checked before the image is opened, as in qemu-img. */
    if (parse_size(env, a.size, &sign, &n) < 0) {
        return 1;
    }
    img *im = cli_open(env, a.filename, a.fmt,
                       IMG_OPEN_RDWR | (a.image_opts ? CLI_OPEN_IMAGE_OPTS : 0));
    if (!im) {
        return 1;
    }
    /* Unsigned arithmetic, then int64: QEMU's wrap-around without UB. */
    uint64_t total = sign ? img_size(im) + (uint64_t)sign * n : n;
    ret = do_resize(env, &a, im, (int64_t)total);
    img_close(im);
    return ret;
}
