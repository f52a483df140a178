/* cli/cli.h -- shared pieces of the qemu-img compatible command line.
 *
 * One file per subcommand (cmd_<name>.c), listed in commands.c.  Each command
 * prints qemu-img 7.2's exact stdout for the same input and returns its exit
 * code.  Errors go to stderr as one line: "PROG: FILE: what is wrong".
 */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "libimg/img.h"

/* What every command gets from main(). */
typedef struct cli_env {
    const char *prog; /* "vdisk" or "qemu-img" (basename of argv[0]) */
    int untrusted;    /* --untrusted or VDISK_UNTRUSTED=1 */
} cli_env;

typedef int (*cli_cmd_fn)(const cli_env *env, int argc, char **argv);

typedef struct cli_command {
    const char *name;
    cli_cmd_fn fn;
    const char *usage; /* one line, after the command name */
} cli_command;

/* commands.c */
const cli_command *cli_find_command(const char *name);
const cli_command *cli_command_at(unsigned i);

/* output.c: errors and warnings. */
void cli_error(const cli_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "PROG: FILE: msg" from an img_err. */
void cli_error_img(const cli_env *env, const char *file, const img_err *err);
/* qemu-img's error_exit(): "PROG: msg", then "Try 'PROG --help' for more
 * information".  Returns the exit status, 1. */
int cli_usage_error(const cli_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* getopt failures: what is "unrecognized" or "missing argument for";
 * prints "PROG: WHAT option 'OPT'" and the --help hint.  Returns 1. */
int cli_bad_option(const cli_env *env, const char *what, const char *opt);
void cli_warn(const cli_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --output=human|json */
typedef enum cli_output { CLI_OUTPUT_HUMAN, CLI_OUTPUT_JSON } cli_output;
int cli_parse_output(const char *s, cli_output *out); /* -EINVAL if bad */
/* --output's value (arg NULL: not given, *out unchanged): 0, or 1 after
 * printing qemu-img's "--output must be used with human or json" error. */
int cli_output_option(const cli_env *env, const char *arg, cli_output *out);

/* qemu's size_to_str(): "1 GiB", "4 KiB", "1.5 MiB", "512 B". */
void cli_size_to_str(uint64_t size, char *buf, size_t len);

/* json.c: qemu's pretty JSON (4-space indent), as qemu-img prints it. */
void cli_json_print(FILE *out, const img_val *v);
/* Writes a JSON string literal with qemu's escaping. */
void cli_json_string(FILE *out, const char *s);

/* progress.c: qemu-img's "-p" progress ("    (12.00/100%)\r"), modelled
 * on QEMU's qemu_progress_*: init prints nothing; set prints when percent
 * is more than step past the last print, or is 0 or 100 (every time); end
 * prints only "\n".  qemu-img convert does init + set(0) before opening
 * anything and ends with set(100) + end (= cli_progress_finish) on
 * success, just end on failure; compare does init, opens both images, set(0), and ends with just
 * end.  Disabled progress prints nothing. */
typedef struct cli_progress {
    int enabled;
    float current; /* percent shown last */
    float step;    /* minimum change before redrawing */
    FILE *out;     /* stdout, set by init (tests may redirect it) */
} cli_progress;
void cli_progress_init(cli_progress *p, int enabled, float step);
void cli_progress_set(cli_progress *p, float percent);
void cli_progress_end(cli_progress *p);
void cli_progress_finish(cli_progress *p); /* set(100), then end */

/* A cli_open flag, above libimg's IMG_OPEN_* bits: filename is an
 * --image-opts option string (see image_opts.c), and fmt must be NULL. */
#define CLI_OPEN_IMAGE_OPTS (1u << 31)

/* The file and format an --image-opts string names. */
typedef struct cli_image_ref {
    char *filename;
    char *fmt;     /* NULL: probe */
    int read_only; /* read-only=on */
} cli_image_ref;

/* Parses an --image-opts string; 0, or -errno with QEMU's message (or
 * ours, for what QEMU would do and vdisk does not) in err. */
int cli_image_opts_parse(const char *spec, cli_image_ref *out,
                         img_err *err);
void cli_image_ref_free(cli_image_ref *r);

/* Opens an image the way every command does: format or probe, -U, the
 * untrusted mode, --image-opts (CLI_OPEN_IMAGE_OPTS in flags), and the
 * error printed on failure.  Returns NULL on error (message already
 * printed). */
img *cli_open(const cli_env *env, const char *filename, const char *fmt,
              unsigned flags);

/* create_opts.c: the "-o" options of create, convert and dd. */
/* Appends one -o argument to *list (malloc'd, free it), joined with ','
 * as qemu-img does.  An argument qemu-img rejects up front prints "Invalid
 * option list: ARG" and returns -1. */
int cli_opts_accumulate(const cli_env *env, char **list, const char *arg);
/* Whether an element of list (may be NULL) is "help" or "?". */
int cli_opts_has_help(const char *list);
/* qemu-img's "-o help" for format fmt: the format's options, plus the
 * protocol (host file) options when filename is not NULL.  Returns the
 * exit status: 0, or 1 after printing an error. */
int cli_opts_print_help(const cli_env *env, const char *fmt,
                        const char *filename);
/* New option set for drv's create options with list (may be NULL) parsed
 * into it; NULL with err set when an option is unknown or malformed. */
img_opts *cli_create_opts_new(const img_driver *drv, const char *list,
                              img_err *err);
/* Whether o's option table has an option called name. */
int cli_opts_has(const img_opts *o, const char *name);
/* "Formatting 'FILE', fmt=FMT size=N ...\n": every option that is set or
 * has a default, in table order, as qemu-img create prints it. */
void cli_print_formatting(FILE *out, const char *filename, const char *fmt,
                          const img_opts *o);
/* qemu-img's cvtnum(): a size argument ("64k") that must lie in
 * [min, max] (max >= 0).  Prints qemu-img's "Invalid NAME specified..."
 * message and returns -1 otherwise; 0 and *out on success. */
int cli_cvtnum(const cli_env *env, const char *name, const char *value,
               int64_t min, int64_t max, int64_t *out);

/* One prototype per subcommand. */
int cmd_create(const cli_env *env, int argc, char **argv);
int cmd_info(const cli_env *env, int argc, char **argv);
int cmd_convert(const cli_env *env, int argc, char **argv);
int cmd_compare(const cli_env *env, int argc, char **argv);
int cmd_map(const cli_env *env, int argc, char **argv);
int cmd_check(const cli_env *env, int argc, char **argv);
int cmd_measure(const cli_env *env, int argc, char **argv);
int cmd_resize(const cli_env *env, int argc, char **argv);
int cmd_dd(const cli_env *env, int argc, char **argv);
int cmd_boot(const cli_env *env, int argc, char **argv); /* emu only */
int cmd_snapshot(const cli_env *env, int argc, char **argv);
int cmd_bitmap(const cli_env *env, int argc, char **argv);
int cmd_bench(const cli_env *env, int argc, char **argv);

/* cmd_info.c: bdrv_snapshot_dump()'s "Snapshot list:" table (shared
 * by "info" and "snapshot -l"). */
void cli_print_snapshot_table(FILE *out, const img_snapshot_info *list,
                              size_t n);
int cmd_amend(const cli_env *env, int argc, char **argv);
int cmd_rebase(const cli_env *env, int argc, char **argv);
int cmd_commit(const cli_env *env, int argc, char **argv);
int cmd_verify(const cli_env *env, int argc, char **argv);

/* cmd_verify.c: the checks of "verify", shared with "convert --verify". */
typedef struct cli_verify_opts {
    int boot;              /* also boot both images (--boot) */
    const char *expect;    /* text both boots must print, or NULL */
    uint64_t timeout_ns;   /* virtual time per boot, 0: default */
    cli_output output;     /* report format */
    int quiet;             /* print no report, only errors */
} cli_verify_opts;
/* Runs the checks on two open images and prints the report.  Returns the
 * exit status: 0 all passed, 1 a check failed, 2 a check could not run. */
int cli_verify_images(const cli_env *env, img *src, img *dst,
                      const char *src_name, const char *dst_name,
                      const cli_verify_opts *o);
/* Same, opening both files first (2 when one cannot be opened). */
int cli_verify_files(const cli_env *env, const char *src_name,
                     const char *src_fmt, const char *dst_name,
                     const char *dst_fmt, unsigned flags,
                     const cli_verify_opts *o);

#endif
