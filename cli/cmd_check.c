/* cli/cmd_check.c -- "check", qemu-img 7.2 compatible.
 *
 *   check [-q] [-f FMT] [--output=human|json] [-r leaks|all] [-T CACHE]
 *         [-U] FILENAME
 *
 * Runs the driver's consistency check (img_check), repairing with -r, and
 * prints qemu-img's report.  Exit status as qemu-img: 0 clean, 1 the check
 * could not complete (or found internal errors), 2 corruptions, 3 leaks
 * only, 63 the format has no check.  After a repair the image is checked
 * again and that second result is reported, with the repair counts of the
 * first (qemu-img's img_check()).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cache_mode.h"
#include "cli.h"
#include "opt_common.h"

/* qemu-img's exit status for a format without checks. */
#define CHECK_EXIT_NOTSUP 63

typedef struct check_args {
    const char *filename;
    const char *fmt;
    cli_output output;
    unsigned flags; /* IMG_OPEN_* */
    unsigned fix;   /* IMG_FIX_* */
    int quiet;      /* -q: errors only */
    const char *output_arg; /* --output's value, checked after the options */
    const char *cache;      /* -T's value, checked after the options */
    int image_opts; /* --image-opts */
} check_args;

/* ---- printing ---- */

/* QAPI ImageCheck as qemu-img prints it.  Members are added in the order
 * QEMU's QDict iterates them (its hash order, see cmd_info.c), and the
 * optional ones only when non-zero, as in collect_image_check(). */
static img_val *check_to_val(const img_check_result *r, const char *filename,
                             const char *format)
{
    img_val *d = img_val_dict_new();
    if (!d) {
        return NULL;
    }
    if (r->image_end_offset) {
        img_val_dict_set_int(d, "image-end-offset", r->image_end_offset);
    }
    if (r->compressed_clusters) {
        img_val_dict_set_uint(d, "compressed-clusters", r->compressed_clusters);
    }
    if (r->total_clusters) {
        img_val_dict_set_uint(d, "total-clusters", r->total_clusters);
    }
    if (r->corruptions) {
        img_val_dict_set_int(d, "corruptions", r->corruptions);
    }
    if (r->corruptions_fixed) {
        img_val_dict_set_int(d, "corruptions-fixed", r->corruptions_fixed);
    }
    img_val_dict_set_int(d, "check-errors", r->check_errors);
    if (r->leaks) {
        img_val_dict_set_int(d, "leaks", r->leaks);
    }
    if (r->leaks_fixed) {
        img_val_dict_set_int(d, "leaks-fixed", r->leaks_fixed);
    }
    if (r->allocated_clusters) {
        img_val_dict_set_uint(d, "allocated-clusters", r->allocated_clusters);
    }
    img_val_dict_set_str(d, "filename", filename);
    img_val_dict_set_str(d, "format", format);
    if (r->fragmented_clusters) {
        img_val_dict_set_uint(d, "fragmented-clusters", r->fragmented_clusters);
    }
    return d;
}

/* The summary of what was wrong (qemu-img's dump_human_image_check). */
static void check_print_problems(const img_check_result *r)
{
    if (!(r->corruptions || r->leaks || r->check_errors)) {
        printf("No errors were found on the image.\n");
        return;
    }
    if (r->corruptions) {
        printf("\n%d errors were found on the image.\n"
               "Data may be corrupted, or further writes to the image may "
               "corrupt it.\n",
               r->corruptions);
    }
    if (r->leaks) {
        printf("\n%d leaked clusters were found on the image.\n"
               "This means waste of disk space, but no harm to data.\n",
               r->leaks);
    }
    if (r->check_errors) {
        printf("\n%d internal errors have occurred during the check.\n",
               r->check_errors);
    }
}

static void check_print_human(const img_check_result *r)
{
    check_print_problems(r);
    if (r->total_clusters != 0 && r->allocated_clusters != 0) {
        printf("%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% "
               "fragmented, %0.2f%% compressed clusters\n",
               r->allocated_clusters, r->total_clusters,
               (double)r->allocated_clusters * 100.0 /
                   (double)r->total_clusters,
               (double)r->fragmented_clusters * 100.0 /
                   (double)r->allocated_clusters,
               (double)r->compressed_clusters * 100.0 /
                   (double)r->allocated_clusters);
    }
    if (r->image_end_offset) {
        printf("Image end offset: %" PRId64 "\n", r->image_end_offset);
    }
}

static int check_print(const cli_env *env, const check_args *a,
                       const img_check_result *r, const char *format)
{
    if (a->quiet) {
        return 0;
    }
    if (a->output == CLI_OUTPUT_HUMAN) {
        check_print_human(r);
        return 0;
    }
    img_val *v = check_to_val(r, a->filename, format);
    if (!v) {
        cli_error(env, "Out of memory");
        return -1;
    }
    cli_json_print(stdout, v);
    img_val_free(v);
    return 0;
}

/* ---- checking ---- */

/* Checks (and with a->fix repairs) im into *res.  After a repair the image
 * is checked again; *res is that second result with the repair counts of
 * the first.  Returns 0 or -errno with err set. */
static int check_run(img *im, const check_args *a, img_check_result *res,
                     img_err *err)
{
    int r = img_check(im, res, a->fix, err);
    if (r < 0 || !(res->corruptions_fixed || res->leaks_fixed)) {
        return r;
    }
    int leaks_fixed = res->leaks_fixed;
    int corruptions_fixed = res->corruptions_fixed;
    if (a->output == CLI_OUTPUT_HUMAN && !a->quiet) {
        printf("The following inconsistencies were found and repaired:\n\n"
               "    %d leaked clusters\n"
               "    %d corruptions\n\n"
               "Double checking the fixed image now...\n",
               leaks_fixed, corruptions_fixed);
    }
    r = img_check(im, res, 0, err);
    res->leaks_fixed = leaks_fixed;
    res->corruptions_fixed = corruptions_fixed;
    return r;
}

/* Maps a finished check to qemu-img's exit status. */
static int check_status(const cli_env *env, const img_check_result *res)
{
    if (res->check_errors) {
        cli_error(env, "Check failed");
        return 1;
    }
    if (res->corruptions) {
        return 2;
    }
    return res->leaks ? 3 : 0;
}

static int check_image(const cli_env *env, img *im, const check_args *a)
{
    img_check_result res;
    img_err err = { 0 };
    int r = check_run(im, a, &res, &err);
    if (r == -ENOTSUP) {
        cli_error(env, "This image format does not support checks");
        return CHECK_EXIT_NOTSUP;
    }
    if (r < 0) {
        cli_error(env, "Check failed: %s", err.msg);
        return 1;
    }
    if (check_print(env, a, &res, img_format(im)) < 0) {
        return 1;
    }
    return check_status(env, &res);
}

/* ---- command line ---- */

static int check_repair_mode(const cli_env *env, const char *s, check_args *a)
{
    a->flags |= IMG_OPEN_RDWR;
    if (!strcmp(s, "leaks")) {
        a->fix = IMG_FIX_LEAKS;
    } else if (!strcmp(s, "all")) {
        a->fix = IMG_FIX_LEAKS | IMG_FIX_ERRORS;
    } else {
        cli_error(env,
                  "Unknown option value for -r (expecting 'leaks' or "
                  "'all'): %s\nTry '%s --help' for more information",
                  s, env->prog);
        return 1;
    }
    return -1;
}

enum { OPT_OUTPUT = CLI_OPT_LOCAL };

/* One of check's own options (cli_opt_fn); -1 to go on, else the
 * status. */
static int check_option(const cli_env *env, int c, void *args)
{
    check_args *a = args;
    switch (c) {
    case 'f':
        a->fmt = optarg;
        break;
    case 'r':
        return check_repair_mode(env, optarg, a);
    case OPT_OUTPUT:
        a->output_arg = optarg;
        break;
    case 'T':
        a->cache = optarg;
        break;
    case 'q':
        a->quiet = 1;
        break;
    case 'U':
        a->flags |= IMG_OPEN_FORCE_SHARE;
        break;
    }
    return -1;
}

/* Returns -1 when the arguments are fine, else the exit status. */
static int check_parse(const cli_env *env, int argc, char **argv, check_args *a)
{
    static const struct option extra[] = {
        { "format", required_argument, NULL, 'f' },
        { "repair", required_argument, NULL, 'r' },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { NULL, 0, NULL, 0 },
    };
    const cli_opt_spec spec = {
        .cmd = "check",
        .shortopts = ":hf:r:T:qU",
        .extra = extra,
        .image_opts = &a->image_opts,
        .fn = check_option,
    };
    int r = cli_parse_opts_file(env, argc, argv, &spec, a, &a->filename);
    if (r >= 0) {
        return r;
    }
    if (cli_output_option(env, a->output_arg, &a->output)) {
        return 1;
    }
    if (!cli_cache_mode_valid(a->cache)) {
        cli_error(env, "Invalid source cache option: %s", a->cache);
        return 1;
    }
    return -1;
}

int cmd_check(const cli_env *env, int argc, char **argv)
{
    check_args a = { .output = CLI_OUTPUT_HUMAN, .cache = "writeback" };
    int r = check_parse(env, argc, argv, &a);
    if (r >= 0) {
        return r;
    }
    img *im = cli_open(env, a.filename, a.fmt,
                       a.flags | (a.image_opts ? CLI_OPEN_IMAGE_OPTS : 0));
    if (!im) {
        return 1;
    }
    r = check_image(env, im, &a);
    img_close(im);
    return r;
}
