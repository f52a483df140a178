/* cli/cmd_amend.c -- "amend", qemu-img 7.2 compatible.
 *
 *   amend [--object OBJ] [--image-opts] [-p] [-q] [-f FMT] [-t CACHE]
 *         [--force] -o OPTIONS FILENAME
 *
 * Follows qemu-img's img_amend(): -o is required; "-o help" with -f
 * lists the format's amend options without opening anything, without -f
 * the image is opened first and its format's options are listed.  The
 * options are parsed against the format's amend options; one that only
 * "create" knows gets qemu-img's hint.  The change itself is the
 * driver's (img_amend); errors are printed without the file name, as
 * qemu-img does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "edit_util.h"
#include "opt_common.h"

enum { OPT_FORCE = CLI_OPT_LOCAL };

/* Help lines are padded to this column before " - help text". */
#define HELP_COLUMN 24

typedef struct amend_args {
    char *options;          /* joined -o arguments (malloc'd) */
    const char *fmt;        /* -f, or NULL to probe */
    const char *cache;      /* -t */
    const char *filename;   /* NULL unless exactly one operand */
    int progress, quiet, force;
    int image_opts; /* --image-opts */
} amend_args;

/* One of amend's own options; returns -1 to go on, else the status. */
static int parse_option(const cli_env *env, int c, void *args)
{
    amend_args *a = args;
    switch (c) {
    case 'o':
        return cli_opts_accumulate(env, &a->options, optarg) < 0 ? 1 : -1;
    case 'f': a->fmt = optarg; break;
    case 't': a->cache = optarg; break;
    case 'p': a->progress = 1; break;
    case 'q': a->quiet = 1; break;
    case OPT_FORCE: a->force = 1; break;
    default: break;
    }
    return -1;
}

static int parse_args(const cli_env *env, int argc, char **argv, amend_args *a)
{
    static const struct option extra[] = {
        { "force", no_argument, NULL, OPT_FORCE },
        { NULL, 0, NULL, 0 },
    };
    const cli_opt_spec spec = {
        .cmd = "amend",
        .shortopts = ":ho:f:t:pq",
        .extra = extra,
        .image_opts = &a->image_opts,
        .fn = parse_option,
    };
    int r = cli_parse_opts(env, argc, argv, &spec, a);
    if (r >= 0) {
        return r;
    }
    if (!a->options) {
        return cli_usage_error(env, "%s", "Must specify options (-o)");
    }
    a->filename = optind == argc - 1 ? argv[argc - 1] : NULL;
    return -1;
}

/* "  name=<type>" padded, " - help"; malloc'd (QEMU's help format). */
static char *help_line(const img_opt_desc *d)
{
    static const char *const types[] = { "str", "bool (on/off)", "num",
                                         "size" };
    size_t len = strlen(d->name) + strlen(d->help) + HELP_COLUMN + 32;
    char *s = malloc(len);
    if (s) {
        int n = snprintf(s, len, "  %s=<%s>", d->name, types[d->type]);
        int pad = n < HELP_COLUMN ? HELP_COLUMN - n : 0;
        snprintf(s + n, len - (size_t)n, "%*s - %s", pad, "", d->help);
    }
    return s;
}

static int cmp_lines(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The options sorted by their help line, as qemu_opts_print_help(). */
static void print_opts_sorted(const img_opt_desc *desc)
{
    size_t n = 0;
    while (desc[n].name) {
        n++;
    }
    char **lines = calloc(n + 1, sizeof(*lines));
    for (size_t i = 0; lines && i < n; i++) {
        lines[i] = help_line(&desc[i]);
    }
    for (size_t i = 0; lines && i < n; i++) {
        if (!lines[i]) {
            n = i; /* out of memory: print what we have */
        }
    }
    if (lines) {
        qsort(lines, n, sizeof(*lines), cmp_lines);
    }
    for (size_t i = 0; lines && i < n; i++) {
        printf("%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
}

/* qemu-img's print_amend_option_help(). */
static int print_amend_help(const cli_env *env, const char *fmt)
{
    const img_driver *drv = img_driver_find(fmt);
    if (!drv) {
        cli_error(env, "Unknown file format '%s'", fmt);
        return 1;
    }
    const img_opt_desc *desc = img_driver_amend_opts(drv);
    if (!desc) {
        cli_error(env, "Format driver '%s' does not support option "
                  "amendment", fmt);
        return 1;
    }
    printf("Amend options for '%s':\n", fmt);
    print_opts_sorted(desc);
    return 0;
}

/* The amend options followed by the create options not among them
 * (qemu_opts_append()); malloc'd. */
static img_opt_desc *merged_desc(const img_driver *drv)
{
    const img_opt_desc *am = img_driver_amend_opts(drv);
    const img_opt_desc *cr = img_driver_create_opts(drv);
    size_t na = 0, nc = 0;
    while (am[na].name) {
        na++;
    }
    while (cr && cr[nc].name) {
        nc++;
    }
    img_opt_desc *d = calloc(na + nc + 1, sizeof(*d));
    if (!d) {
        return NULL;
    }
    memcpy(d, am, na * sizeof(*d));
    size_t n = na;
    for (size_t i = 0; i < nc; i++) {
        int dup = 0;
        for (size_t j = 0; j < na; j++) {
            dup |= !strcmp(cr[i].name, am[j].name);
        }
        if (!dup) {
            d[n++] = cr[i];
        }
    }
    return d;
}

/* Whether the list parses as create options (for qemu-img's hint). */
static int is_create_only(const img_driver *drv, const char *list)
{
    img_opt_desc *d = merged_desc(drv);
    img_opts *o = d ? img_opts_new(d) : NULL;
    int ok = o && img_opts_parse(o, list, NULL) >= 0;
    img_opts_free(o);
    free(d);
    return ok;
}

/* Parses the list; prints qemu-img's message (and hint) on failure. */
static img_opts *parse_amend_opts(const cli_env *env, const img_driver *drv,
                                  const char *list)
{
    img_err err = { 0 };
    img_opts *o = img_opts_new(img_driver_amend_opts(drv));
    if (!o) {
        cli_error(env, "Out of memory");
        return NULL;
    }
    if (img_opts_parse(o, list, &err) >= 0) {
        return o;
    }
    img_opts_free(o);
    if (is_create_only(drv, list)) {
        cli_error(env, "%s\nThis option is only supported for image "
                  "creation", err.msg);
    } else {
        cli_error(env, "%s", err.msg);
    }
    return NULL;
}

/* Parses the options and amends; returns the exit status. */
static int amend_image(const cli_env *env, const amend_args *a, img *im,
                       cli_progress *prog)
{
    const img_driver *drv = img_get_driver(im);
    if (!img_driver_amend_opts(drv)) {
        cli_error(env, "Format driver '%s' does not support option "
                  "amendment", img_format(im));
        return 1;
    }
    img_opts *o = parse_amend_opts(env, drv, a->options);
    if (!o) {
        return 1;
    }
    img_err err = { 0 };
    cli_progress_set(prog, 0);
    int r = img_amend(im, o, a->force, cli_edit_progress, prog, &err);
    cli_progress_set(prog, 100);
    if (r >= 0) {
        r = img_flush(im, &err);
    }
    img_opts_free(o);
    if (r < 0) {
        cli_error(env, "%s", err.msg);
        return 1;
    }
    return 0;
}

/* After the options: help, the image, the change. */
static int run(const cli_env *env, const amend_args *a, cli_progress *prog)
{
    if (a->fmt && cli_opts_has_help(a->options)) {
        return print_amend_help(env, a->fmt);
    }
    if (!a->filename) {
        cli_error(env, "Expecting one image file name");
        return 1;
    }
    unsigned flags = IMG_OPEN_RDWR;
    if (cli_cache_flags(a->cache ? a->cache : "writeback", &flags) < 0) {
        cli_error(env, "Invalid cache option: %s", a->cache);
        return 1;
    }
    img *im = cli_open(env, a->filename, a->fmt,
                       flags | (a->image_opts ? CLI_OPEN_IMAGE_OPTS : 0));
    if (!im) {
        return 1;
    }
    int ret = cli_opts_has_help(a->options)
                  ? print_amend_help(env, img_format(im))
                  : amend_image(env, a, im, prog);
    img_close(im);
    return ret;
}

int cmd_amend(const cli_env *env, int argc, char **argv)
{
    amend_args a = { 0 };
    int ret = parse_args(env, argc, argv, &a);
    if (ret < 0) {
        cli_progress prog;
        cli_progress_init(&prog, a.progress && !a.quiet, 1.0f);
        ret = run(env, &a, &prog);
        cli_progress_end(&prog);
    }
    free(a.options);
    return ret;
}
