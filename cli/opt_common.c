/* cli/opt_common.c -- the shared getopt skeleton (see opt_common.h). */
#include <stdlib.h>
#include <string.h>

#include "opt_common.h"

/* Common long options, plus up to twelve of the command's, plus the end. */
#define OPT_COMMON_MAX 4
#define OPT_EXTRA_MAX 12

/* Returned by common_option() for an option that is the command's. */
#define OPT_NOT_COMMON (-2)

/* The long options: the common ones first, then spec->extra. */
static void build_longopts(const cli_opt_spec *spec, struct option *out)
{
    static const struct option help = { "help", no_argument, NULL, 'h' };
    static const struct option object = {
        "object", required_argument, NULL, CLI_OPT_OBJECT
    };
    static const struct option image_opts = {
        "image-opts", no_argument, NULL, CLI_OPT_IMAGE_OPTS
    };
    static const struct option force_share = {
        "force-share", no_argument, NULL, 'U'
    };
    size_t n = 0;
    out[n++] = help;
    if (!(spec->flags & CLI_SPEC_NO_OBJECT)) {
        out[n++] = object;
    }
    if (spec->image_opts) {
        out[n++] = image_opts;
    }
    if (strchr(spec->shortopts, 'U')) {
        out[n++] = force_share;
    }
    for (size_t i = 0; spec->extra && spec->extra[i].name; i++) {
        if (i == OPT_EXTRA_MAX) {
            abort(); /* programmer error: raise OPT_EXTRA_MAX */
        }
        out[n++] = spec->extra[i];
    }
    out[n] = (struct option){ NULL, 0, NULL, 0 };
}

/* -h without a help function: "usage: PROG CMD USAGE". */
static int usage_line(const cli_env *env, const char *name)
{
    const cli_command *cmd = cli_find_command(name);
    printf("usage: %s %s %s\n", env->prog, name, cmd ? cmd->usage : "");
    return 0;
}

/* An option every such command treats alike: -1 to go on, the exit
 * status to stop with, or OPT_NOT_COMMON. */
static int common_option(const cli_env *env, int c, char **argv,
                         const cli_opt_spec *spec)
{
    switch (c) {
    case ':':
        return cli_bad_option(env, "missing argument for", argv[optind - 1]);
    case '?':
        return cli_bad_option(env, "unrecognized", argv[optind - 1]);
    case 'h':
        if (spec->help) {
            return spec->help(env);
        }
        return usage_line(env, spec->cmd);
    case CLI_OPT_OBJECT:
        return -1; /* accepted and ignored: nothing here needs secrets */
    case CLI_OPT_IMAGE_OPTS: /* offered only with spec->image_opts */
        *spec->image_opts = 1;
        return -1;
    default:
        return OPT_NOT_COMMON;
    }
}

int cli_parse_opts(const cli_env *env, int argc, char **argv,
                   const cli_opt_spec *spec, void *args)
{
    struct option longopts[OPT_COMMON_MAX + OPT_EXTRA_MAX + 1];
    int c;
    build_longopts(spec, longopts);
    optind = 0; /* full reinitialisation: commands may run repeatedly */
    while ((c = getopt_long(argc, argv, spec->shortopts, longopts, NULL)) !=
           -1) {
        int r = common_option(env, c, argv, spec);
        if (r == OPT_NOT_COMMON) {
            r = spec->fn(env, c, args);
        }
        if (r >= 0) {
            return r;
        }
    }
    return -1;
}

int cli_parse_opts_file(const cli_env *env, int argc, char **argv,
                        const cli_opt_spec *spec, void *args,
                        const char **filename)
{
    int r = cli_parse_opts(env, argc, argv, spec, args);
    return r >= 0 ? r : cli_expect_files(env, argc, argv, 1, filename);
}

int cli_expect_files(const cli_env *env, int argc, char **argv, int n,
                     const char **names)
{
    if (optind != argc - n) {
        return cli_usage_error(env, "%s", n == 1 ?
                               "Expecting one image file name" :
                               "Expecting two image file names");
    }
    for (int i = 0; i < n; i++) {
        names[i] = argv[optind + i];
    }
    return -1;
}
