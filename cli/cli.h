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
void cli_warn(const cli_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --output=human|json */
typedef enum cli_output { CLI_OUTPUT_HUMAN, CLI_OUTPUT_JSON } cli_output;
int cli_parse_output(const char *s, cli_output *out); /* -EINVAL if bad */

/* qemu's size_to_str(): "1 GiB", "4 KiB", "1.5 MiB", "512 B". */
void cli_size_to_str(uint64_t size, char *buf, size_t len);

/* json.c: qemu's pretty JSON (4-space indent), as qemu-img prints it. */
void cli_json_print(FILE *out, const img_val *v);
/* Writes a JSON string literal with qemu's escaping. */
void cli_json_string(FILE *out, const char *s);

/* progress.c: qemu-img's "-p" progress ("    (12.00/100%)\r"). */
typedef struct cli_progress {
    int enabled;
    float current; /* percent shown last */
    float step;    /* minimum change before redrawing */
} cli_progress;
void cli_progress_init(cli_progress *p, int enabled, float step);
void cli_progress_set(cli_progress *p, float percent);
void cli_progress_end(cli_progress *p);

/* Opens an image the way every command does: format or probe, -U, the
 * untrusted mode, and the error printed on failure.  Returns NULL on error
 * (message already printed). */
img *cli_open(const cli_env *env, const char *filename, const char *fmt,
              unsigned flags);

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

#endif
