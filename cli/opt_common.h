/* cli/opt_common.h -- the getopt skeleton shared by the subcommands that
 * take qemu-img's common options (compare, snapshot, amend, rebase,
 * commit, create, resize, dd, boot): the option loop, -h, getopt's
 * errors, the long options every such command knows (--help, --object,
 * --image-opts and, with -U, --force-share) and the count of file name
 * operands. */
#ifndef CLI_OPT_COMMON_H
#define CLI_OPT_COMMON_H

#include <getopt.h>

#include "cli.h"

/* getopt_long values of the common long options; a command's own long
 * options use CLI_OPT_LOCAL and up. */
enum {
    CLI_OPT_OBJECT = 256,
    CLI_OPT_IMAGE_OPTS,
    CLI_OPT_LOCAL = 272,
};

/* A command's own options: called with each option character (or long
 * option value) the common code does not handle, optarg set.  Returns -1
 * to go on, else the exit status to stop with. */
typedef int (*cli_opt_fn)(const cli_env *env, int c, void *args);

/* cli_opt_spec.flags: common long options a command does not take (an
 * unknown option to it, as getopt reports). */
enum {
    CLI_SPEC_NO_OBJECT = 1u, /* no --object */
};

typedef struct cli_opt_spec {
    const char *cmd;            /* command name, for -h */
    const char *shortopts;      /* getopt string starting with ':'; a 'U'
                                 * in it adds --force-share as -U */
    const struct option *extra; /* more long options (zero-terminated,
                                 * at most 12) or NULL */
    int *image_opts;            /* set to 1 by --image-opts: the file
                                 * names are option strings (cli_open's
                                 * CLI_OPEN_IMAGE_OPTS); NULL: the command
                                 * takes no --image-opts (an unknown
                                 * option to it) */
    cli_opt_fn fn;
    unsigned flags;             /* CLI_SPEC_*, 0 for all common options */
    int (*help)(const cli_env *env); /* -h: prints, returns the status;
                                      * NULL: the usage line */
} cli_opt_spec;

/* Parses argv's options as spec says, passing the command's own to
 * spec->fn with args.  -h runs spec->help, or prints "usage: PROG CMD
 * USAGE" and stops with 0; an unknown option or a missing argument
 * prints qemu-img's message and stops with 1; --object is accepted and
 * ignored.  Returns -1 when
 * all options were read (optind at the first operand), else the exit
 * status. */
int cli_parse_opts(const cli_env *env, int argc, char **argv,
                   const cli_opt_spec *spec, void *args);

/* cli_parse_opts, then cli_expect_files for the one image file name:
 * returns -1 with *filename set, else the exit status. */
int cli_parse_opts_file(const cli_env *env, int argc, char **argv,
                        const cli_opt_spec *spec, void *args,
                        const char **filename);

/* Stores the n (1 or 2) operands left after the options in names; when
 * there are not exactly n, prints qemu-img's "Expecting one image file
 * name" (or "two image file names") usage error and returns 1.  Returns
 * -1 on success. */
int cli_expect_files(const cli_env *env, int argc, char **argv, int n,
                     const char **names);

#endif
