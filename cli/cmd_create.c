/* cli/cmd_create.c -- "create", qemu-img 7.2 compatible.
 *
 *   create [-q] [-f FMT] [-b BACKING [-F BACKING_FMT]] [-u] [-o OPTIONS]
 *          FILENAME [SIZE]
 *
 * Follows qemu-img's img_create() and the block layer's bdrv_img_create():
 * "-o help" lists the options; the size comes from the argument or from
 * "-o size=" (not both), else from the backing image; the new image is
 * announced with "Formatting ..." (unless -q) before it is created.
 * --object definitions are accepted and ignored: no format here has
 * encryption, the only user of the objects (secrets) qemu-img creates.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "opt_common.h"

/* No size given yet (QEMU's -1). */
#define NO_SIZE UINT64_MAX

typedef struct create_args {
    const char *fmt;      /* -f, "raw" by default */
    const char *base;     /* -b, or NULL */
    const char *base_fmt; /* -F, or NULL */
    char *options;        /* every -o joined with ',', owned */
    int quiet;            /* -q */
    int no_backing;       /* -u: do not open the backing image */
    const char *filename;
    uint64_t size; /* from the command line, or NO_SIZE */
} create_args;

/* One of create's own options; returns -1 to go on, else the status. */
static int parse_option(const cli_env *env, int c, void *args)
{
    create_args *a = args;
    switch (c) {
    case 'F': a->base_fmt = optarg; break;
    case 'b': a->base = optarg; break;
    case 'f': a->fmt = optarg; break;
    case 'q': a->quiet = 1; break;
    case 'u': a->no_backing = 1; break;
    case 'o':
        if (cli_opts_accumulate(env, &a->options, optarg) < 0) {
            return 1;
        }
        break;
    default: break;
    }
    return -1;
}

/* getopt_long; returns -1 to go on, else the exit status.  --object
 * definitions (secrets etc.) are accepted and ignored: no format here
 * uses them; --image-opts is an unknown option to create. */
static int parse_options(const cli_env *env, int argc, char **argv,
                         create_args *a)
{
    static const cli_opt_spec spec = {
        .cmd = "create",
        .shortopts = ":F:b:f:ho:qu",
        .fn = parse_option,
    };
    return cli_parse_opts(env, argc, argv, &spec, a);
}

/* The positional arguments: FILENAME [SIZE].  Returns -1 to go on. */
static int parse_operands(const cli_env *env, int argc, char **argv,
                          create_args *a)
{
    if (optind >= argc) {
        return cli_usage_error(env, "%s%s", "Expecting image file name", "");
    }
    a->filename = argv[optind++];
    if (optind < argc) {
        int64_t v;
        if (cli_cvtnum(env, "image size", argv[optind++], 0, INT64_MAX, &v) <
            0) {
            return 1;
        }
        a->size = (uint64_t)v;
    }
    if (optind != argc) {
        return cli_usage_error(env, "%s%s", "Unexpected argument: ",
                               argv[optind]);
    }
    return -1;
}

/* Records size as the "size" option, which the Formatting line shows. */
static int set_size(img_opts *o, uint64_t size, img_err *err)
{
    char num[32];
    snprintf(num, sizeof(num), "%" PRIu64, size);
    return img_opts_set(o, "size", num, err);
}

/* -b and -F become the backing_file/backing_fmt options, which only
 * formats with backing files have. */
static int add_backing_opts(const create_args *a, img_opts *o, img_err *err)
{
    if (a->base && (!cli_opts_has(o, "backing_file") ||
                    img_opts_set(o, "backing_file", a->base, NULL) < 0)) {
        return img_err_set(err, ENOTSUP,
                           "Backing file not supported for file format '%s'",
                           a->fmt);
    }
    if (a->base_fmt &&
        (!cli_opts_has(o, "backing_fmt") ||
         img_opts_set(o, "backing_fmt", a->base_fmt, NULL) < 0)) {
        return img_err_set(
            err, ENOTSUP,
            "Backing file format not supported for file format '%s'", a->fmt);
    }
    /* -o backing_file= counts as well as -b from here on. */
    const char *bf = img_opts_value(o, "backing_file");
    if (bf && !strcmp(bf, a->filename)) {
        return img_err_set(err, EINVAL,
                           "Error: Trying to create an image with the same "
                           "filename as the backing file");
    }
    if (bf && !bf[0]) {
        return img_err_set(err, EINVAL,
                           "Expected backing file name, got empty string");
    }
    return 0;
}

/* name relative to the directory of the new image, as QEMU resolves it;
 * malloc'd. */
static char *backing_path(const char *filename, const char *name)
{
    const char *slash = strrchr(filename, '/');
    size_t dir = name[0] == '/' || !slash ? 0 : (size_t)(slash - filename) + 1;
    char *p = malloc(dir + strlen(name) + 1);
    if (p) {
        memcpy(p, filename, dir);
        strcpy(p + dir, name);
    }
    return p;
}

/* Opens the backing image to check it and, when no size was given, to
 * take its size.  Prints QEMU's hint line after the error. */
static int probe_backing(const cli_env *env, const create_args *a, img_opts *o,
                         uint64_t *size)
{
    const char *bf = img_opts_value(o, "backing_file");
    const char *bfmt = img_opts_value(o, "backing_fmt");
    /* Read-only and sharing, as QEMU opens it; its own chain is opened
     * too, so a broken chain below is an error here already. */
    unsigned flags = IMG_OPEN_FORCE_SHARE | IMG_OPEN_QUIET |
                     (env->untrusted ? IMG_OPEN_UNTRUSTED : 0);
    img_err err = { 0 };
    img *bk = NULL;
    char *path = backing_path(a->filename, bf);
    int r = path ? img_open(path, bfmt, flags, &bk, &err)
                 : img_err_set(&err, ENOMEM, "Out of memory");
    free(path);
    if (r < 0) {
        cli_error_img(env, a->filename, &err);
        fprintf(stderr, "Could not open backing image.\n");
        return -1;
    }
    if (!bfmt) {
        cli_error(env, "%s: Backing file specified without backing format",
                  a->filename);
        fprintf(stderr, "Detected format of %s.\n", img_format(bk));
        img_close(bk);
        return -1;
    }
    if (*size == NO_SIZE) {
        *size = img_size(bk);
        r = set_size(o, *size, &err);
    }
    img_close(bk);
    if (r < 0) {
        cli_error_img(env, a->filename, &err);
    }
    return r < 0 ? -1 : 0;
}

/* Parses -o, merges -b/-F and the size, and checks the backing image:
 * everything QEMU does before "Formatting".  Returns 0 and *size, or -1
 * after printing the error. */
static int prepare_opts(const cli_env *env, const create_args *a, img_opts *o,
                        uint64_t *size)
{
    img_err err = { 0 };
    int r = 0;
    if (img_opts_is_set(o, "size")) {
        if (a->size != NO_SIZE) {
            r = img_err_set(&err, EINVAL,
                            "The image size must be specified only once");
        }
    } else if (a->size != NO_SIZE) {
        r = set_size(o, a->size, &err);
    }
    if (r >= 0) {
        r = add_backing_opts(a, o, &err);
    }
    if (r < 0) {
        cli_error_img(env, a->filename, &err);
        return -1;
    }
    *size =
        img_opts_is_set(o, "size") ? img_opts_get_size(o, "size", 0) : NO_SIZE;
    const char *bf = img_opts_value(o, "backing_file");
    if (bf && !a->no_backing) {
        return probe_backing(env, a, o, size);
    }
    /* With -u the backing image is not opened, so its format cannot be
     * probed: it must be given. */
    if (bf && !img_opts_value(o, "backing_fmt")) {
        cli_error(env, "%s: Backing file specified without backing format",
                  a->filename);
        return -1;
    }
    return 0;
}

/* Creates the image once the options are complete. */
static int do_create(const cli_env *env, const create_args *a,
                     const img_opts *o, uint64_t size)
{
    if (!a->quiet) {
        cli_print_formatting(stdout, a->filename, a->fmt, o);
    }
    img_create_opts co = {
        .size = size,
        .backing_file = img_opts_value(o, "backing_file"),
        .backing_fmt = img_opts_value(o, "backing_fmt"),
        .opts = o,
    };
    img_err err = { 0 };
    int r = img_create(a->filename, a->fmt, &co, &err);
    /* QEMU replaces a driver's "too big" with its own wording. */
    if (r == -EFBIG) {
        int hint = img_opts_get_size(o, "cluster_size", 0) != 0;
        img_err_set(&err, EFBIG,
                    "The image size is too large for file format '%s'%s",
                    a->fmt, hint ? " (try using a larger cluster size)" : "");
    }
    if (r < 0) {
        cli_error_img(env, a->filename, &err);
        return 1;
    }
    return 0;
}

/* bdrv_img_create(): format, options, size, backing, then creation. */
static int create_image(const cli_env *env, const create_args *a)
{
    const img_driver *drv = img_driver_find(a->fmt);
    if (!drv) {
        cli_error(env, "%s: Unknown file format '%s'", a->filename, a->fmt);
        return 1;
    }
    if (!img_driver_create_opts(drv)) {
        cli_error(env, "%s: Format driver '%s' does not support image creation",
                  a->filename, a->fmt);
        return 1;
    }
    img_err err = { 0 };
    img_opts *o = cli_create_opts_new(drv, a->options, &err);
    if (!o) {
        cli_error_img(env, a->filename, &err);
        return 1;
    }
    uint64_t size = NO_SIZE;
    int ret = 1;
    if (prepare_opts(env, a, o, &size) == 0) {
        if (size == NO_SIZE) {
            cli_error(env, "%s: Image creation needs a size parameter",
                      a->filename);
        } else {
            ret = do_create(env, a, o, size);
        }
    }
    img_opts_free(o);
    return ret;
}

int cmd_create(const cli_env *env, int argc, char **argv)
{
    create_args a = { .fmt = "raw", .size = NO_SIZE };
    int ret = parse_options(env, argc, argv, &a);
    /* "-o help" wins over every other check but the option syntax; the
     * first operand, if any, is the target that adds protocol options. */
    if (ret < 0 && cli_opts_has_help(a.options)) {
        const char *file = optind < argc ? argv[optind] : NULL;
        ret = cli_opts_print_help(env, a.fmt, file);
    }
    if (ret < 0) {
        ret = parse_operands(env, argc, argv, &a);
    }
    if (ret < 0) {
        ret = create_image(env, &a);
    }
    free(a.options);
    return ret;
}
