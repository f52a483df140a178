/* cli/cmd_measure.c -- "measure", qemu-img 7.2 compatible.
 *
 *   measure [--output=human|json] [-O FMT] [-o OPTIONS]
 *           [--size N | [-f FMT] [-l SNAPSHOT] [-U] FILENAME]
 *
 * Asks the output format's driver how large a new image would be
 * (img_driver_measure), either for an empty image of --size bytes or for a
 * copy of FILENAME (of its internal snapshot SNAPSHOT with -l, loaded
 * read-only as qemu-img does).  -o options are checked against the output
 * driver's create options plus the host-file ones, as qemu-img appends
 * bdrv_file's create options to the format's.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "snapshot_arg.h"

typedef struct measure_args {
    const char *filename;
    const char *fmt;      /* -f */
    const char *out_fmt;  /* -O, default raw */
    char *options;        /* -o, accumulated "a,b"; owned */
    const char *snapshot; /* -l */
    cli_output output;
    unsigned flags; /* IMG_OPEN_*, CLI_OPEN_IMAGE_OPTS */
    int has_size;
    uint64_t size; /* --size */
} measure_args;

/* ---- options for the output format ---- */

static int desc_has(const img_opt_desc *d, const char *name)
{
    for (; d && d->name; d++) {
        if (!strcmp(d->name, name)) {
            return 1;
        }
    }
    return 0;
}

/* The driver's create options followed by the host-file (protocol) ones it
 * does not list itself.  Returns a malloc'd table ending in name NULL. */
static img_opt_desc *measure_desc_new(const img_driver *drv)
{
    const img_opt_desc *fmt = img_driver_create_opts(drv);
    const img_driver *raw = img_driver_find("raw");
    const img_opt_desc *proto = raw ? img_driver_create_opts(raw) : NULL;
    size_t n = 0, m = 0;
    for (const img_opt_desc *d = fmt; d && d->name; d++) {
        n++;
    }
    for (const img_opt_desc *d = proto; d && d->name; d++) {
        m++;
    }
    img_opt_desc *out = calloc(n + m + 1, sizeof(*out));
    if (!out) {
        return NULL;
    }
    memcpy(out, fmt, n * sizeof(*out));
    for (const img_opt_desc *d = proto; d && d->name; d++) {
        if ((d->flags & IMG_OPT_PROTOCOL) && !desc_has(fmt, d->name)) {
            out[n++] = *d;
        }
    }
    return out;
}

/* Parses -o against the output driver; prints the error on failure. */
static int measure_opts(const cli_env *env, const measure_args *a,
                        const img_driver *drv, const img_opt_desc *desc,
                        img_opts **out)
{
    img_err err = { 0 };
    *out = img_opts_new(desc);
    if (!*out) {
        cli_error(env, "Out of memory");
        return -1;
    }
    if (a->options && img_opts_parse(*out, a->options, &err) < 0) {
        cli_error_img(env, NULL, &err);
        cli_error(env, "Invalid options for file format '%s'",
                  img_driver_name(drv));
        return -1;
    }
    return 0;
}

/* ---- measuring and printing ---- */

/* Prints the result; -1 when out of memory.  JSON members are added in
 * the order QEMU's QDict iterates them (its hash order, see cmd_info.c):
 * "bitmaps", "required", "fully-allocated". */
static int measure_print(const cli_env *env, const img_measure *m,
                         cli_output output)
{
    if (output == CLI_OUTPUT_HUMAN) {
        printf("required size: %" PRIu64 "\n", m->required);
        printf("fully allocated size: %" PRIu64 "\n", m->fully_allocated);
        if (m->has_bitmaps) {
            printf("bitmaps size: %" PRIu64 "\n", m->bitmaps);
        }
        return 0;
    }
    img_val *d = img_val_dict_new();
    if (!d) {
        cli_error(env, "Out of memory");
        return -1;
    }
    if (m->has_bitmaps) {
        img_val_dict_set_uint(d, "bitmaps", m->bitmaps);
    }
    img_val_dict_set_uint(d, "required", m->required);
    img_val_dict_set_uint(d, "fully-allocated", m->fully_allocated);
    cli_json_print(stdout, d);
    img_val_free(d);
    return 0;
}

/* The output driver, as qemu-img checks it: known and able to create. */
static const img_driver *measure_driver(const cli_env *env, const char *name)
{
    const img_driver *drv = img_driver_find(name);
    if (!drv) {
        cli_error(env, "Unknown file format '%s'", name);
        return NULL;
    }
    if (!img_driver_create_opts(drv)) {
        cli_error(env, "Format driver '%s' does not support image creation",
                  name);
        return NULL;
    }
    return drv;
}

/* Measures for the (already opened, or NULL) input; returns exit status. */
static int measure_run(const cli_env *env, const measure_args *a, img *in)
{
    const img_driver *drv = measure_driver(env, a->out_fmt);
    if (!drv) {
        return 1;
    }
    img_opt_desc *desc = measure_desc_new(drv);
    img_opts *opts = NULL;
    img_measure m;
    img_err err = { 0 };
    int r = desc ? measure_opts(env, a, drv, desc, &opts) : -1;
    if (!desc) {
        cli_error(env, "Out of memory");
    }
    if (r >= 0) {
        /* drivers fill only what they know (has_bitmaps stays 0) */
        memset(&m, 0, sizeof(m));
        uint64_t size = in ? img_size(in) : a->size;
        r = img_driver_measure(drv, opts, size, in, &m, &err);
        if (r < 0) {
            cli_error_img(env, NULL, &err);
        }
    }
    if (r >= 0) {
        r = measure_print(env, &m, a->output);
    }
    img_opts_free(opts);
    free(desc);
    return r < 0;
}

/* ---- command line ---- */

/* qemu-img's cvtnum(): a size in [0, INT64_MAX] or -1 (error printed). */
static int measure_cvtnum(const cli_env *env, const char *name,
                          const char *value, uint64_t *out)
{
    int r = img_parse_size(value, out);
    if (r < 0 && r != -ERANGE) {
        cli_error(env,
                  "Invalid %s specified. You may use k, M, G, T, P or E "
                  "suffixes for",
                  name);
        cli_error(env, "kilobytes, megabytes, gigabytes, terabytes, "
                       "petabytes and exabytes.");
        return -1;
    }
    if (r == -ERANGE || *out > INT64_MAX) {
        cli_error(env,
                  "Invalid %s specified. Must be between 0 and %" PRId64 ".",
                  name, INT64_MAX);
        return -1;
    }
    return 0;
}

/* -o values accumulate as "first,second" (qemu-img accumulate_options). */
static int measure_add_options(const cli_env *env, measure_args *a,
                               const char *s)
{
    if (!img_opts_list_valid(s)) {
        cli_error(env, "Invalid option list: %s", s);
        return -1;
    }
    size_t len = (a->options ? strlen(a->options) + 1 : 0) + strlen(s) + 1;
    char *joined = malloc(len);
    if (!joined) {
        cli_error(env, "Out of memory");
        return -1;
    }
    snprintf(joined, len, "%s%s%s", a->options ? a->options : "",
             a->options ? "," : "", s);
    free(a->options);
    a->options = joined;
    return 0;
}

/* -l: "snapshot.id=ID,snapshot.name=NAME" or a bare ID or name. */
static int measure_snapshot_arg(const cli_env *env, const char *s)
{
    if (strncmp(s, "snapshot.", 9) != 0) {
        return 0;
    }
    static const img_opt_desc desc[] = {
        { .name = "snapshot.id", .type = IMG_OPT_STRING },
        { .name = "snapshot.name", .type = IMG_OPT_STRING },
        { .name = NULL },
    };
    img_opts *o = img_opts_new(desc);
    img_err err = { 0 };
    int r = o ? img_opts_parse(o, s, &err) : -ENOMEM;
    img_opts_free(o);
    if (r < 0) {
        cli_error_img(env, NULL, &err);
        cli_error(env, "Failed in parsing snapshot param '%s'", s);
    }
    return r;
}

static int measure_help(const cli_env *env)
{
    const cli_command *c = cli_find_command("measure");
    printf("usage: %s measure %s\n", env->prog, c ? c->usage : "");
    return 0;
}

enum { OPT_OUTPUT = 256, OPT_SIZE, OPT_OBJECT, OPT_IMAGE_OPTS };

static int measure_output_arg(const cli_env *env, const char *s,
                              measure_args *a)
{
    return cli_output_option(env, s, &a->output) ? -1 : 0;
}

/* One option; returns -1 to go on, else the exit status.  Like qemu-img,
 * an unknown option (reported by getopt) prints the help and succeeds. */
static int measure_option(const cli_env *env, int c, measure_args *a)
{
    int r = 0;
    switch (c) {
    case '?':
    case 'h':
        return measure_help(env);
    case 'f':
        a->fmt = optarg;
        break;
    case 'O':
        a->out_fmt = optarg;
        break;
    case 'o':
        r = measure_add_options(env, a, optarg);
        break;
    case 'l':
        a->snapshot = optarg;
        r = measure_snapshot_arg(env, optarg);
        break;
    case 'U':
        a->flags |= IMG_OPEN_FORCE_SHARE;
        break;
    case OPT_OUTPUT:
        r = measure_output_arg(env, optarg, a);
        break;
    case OPT_SIZE:
        r = measure_cvtnum(env, "image size", optarg, &a->size);
        a->has_size = 1;
        break;
    case OPT_OBJECT: /* accepted and ignored, as by the other commands */
        break;
    case OPT_IMAGE_OPTS:
        a->flags |= CLI_OPEN_IMAGE_OPTS;
        break;
    }
    return r < 0 ? 1 : -1;
}

/* The combinations qemu-img refuses, in its order. */
static int measure_check_args(const cli_env *env, const measure_args *a)
{
    const char *msg = NULL;
    if (!a->filename &&
        (a->fmt || a->snapshot || (a->flags & CLI_OPEN_IMAGE_OPTS))) {
        msg = "--image-opts, -f, and -l require a filename argument.";
    } else if (a->filename && a->has_size) {
        msg = "--size N cannot be used together with a filename.";
    } else if (!a->filename && !a->has_size) {
        msg = "Either --size N or one filename must be specified.";
    }
    if (msg) {
        cli_error(env, "%s", msg);
        return 1;
    }
    return -1;
}

/* Returns -1 when the arguments are fine, else the exit status. */
static int measure_parse(const cli_env *env, int argc, char **argv,
                         measure_args *a)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "size", required_argument, NULL, OPT_SIZE },
        { "force-share", no_argument, NULL, 'U' },
        { "object", required_argument, NULL, OPT_OBJECT },
        { "image-opts", no_argument, NULL, OPT_IMAGE_OPTS },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "hf:o:O:l:U", longopts, NULL)) != -1) {
        int r = measure_option(env, c, a);
        if (r >= 0) {
            return r;
        }
    }
    if (argc - optind > 1) {
        cli_error(env, "At most one filename argument is allowed.");
        return 1;
    }
    a->filename = argc - optind == 1 ? argv[optind] : NULL;
    return measure_check_args(env, a);
}

int cmd_measure(const cli_env *env, int argc, char **argv)
{
    measure_args a = { .out_fmt = "raw", .output = CLI_OUTPUT_HUMAN };
    int r = measure_parse(env, argc, argv, &a);
    img *in = NULL;
    /* the input is opened (and its snapshot looked at) before the output
     * format is, as qemu-img does: that decides which error comes first */
    if (r < 0 && a.filename) {
        in = cli_open(env, a.filename, a.fmt, a.flags);
        if (!in) {
            r = 1;
        } else if (a.snapshot) {
            r = cli_load_snapshot(env, in, a.snapshot) < 0 ? 1 : -1;
        }
    }
    if (r < 0) {
        r = measure_run(env, &a, in);
    }
    img_close(in);
    free(a.options);
    return r;
}
