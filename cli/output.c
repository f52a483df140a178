/* cli/output.c -- error/warning printing and size formatting.
 *
 * Messages go to stderr as one line, "PROG: FILE: msg" or "PROG: msg", the
 * shape of QEMU's error_report() with our program name.  cli_size_to_str()
 * reproduces QEMU's size_to_str() (util/cutils.c), used by "qemu-img info".
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_error(const cli_env *env, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", env->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* An err without a message (a bug elsewhere) still says something useful:
 * strerror() of its code. */
void cli_error_img(const cli_env *env, const char *file, const img_err *err)
{
    const char *msg = "Unknown error";
    if (err && err->msg[0]) {
        msg = err->msg;
    } else if (err && err->code) {
        msg = strerror(err->code);
    }
    if (file) {
        fprintf(stderr, "%s: %s: %s\n", env->prog, file, msg);
    } else {
        fprintf(stderr, "%s: %s\n", env->prog, msg);
    }
}

/* QEMU's warn_report(): "PROG: warning: msg". */
void cli_warn(const cli_env *env, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: warning: ", env->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Exactly "human" or "json", as qemu-img compares them. */
int cli_parse_output(const char *s, cli_output *out)
{
    if (s && strcmp(s, "human") == 0) {
        *out = CLI_OUTPUT_HUMAN;
    } else if (s && strcmp(s, "json") == 0) {
        *out = CLI_OUTPUT_JSON;
    } else {
        return -EINVAL;
    }
    return 0;
}

int cli_output_option(const cli_env *env, const char *arg, cli_output *out)
{
    if (arg && cli_parse_output(arg, out) < 0) {
        cli_error(env, "--output must be used with human or json as "
                       "argument.");
        return 1;
    }
    return 0;
}

/* Three significant digits in the largest binary unit that keeps the
 * number below 1000 ("1000 B" is already "0.977 KiB"): the exponent of
 * size * 1024 / 1000 picks the unit, as in QEMU. */
void cli_size_to_str(uint64_t size, char *buf, size_t len)
{
    static const char *const units[] = {
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"
    };
    int exp;
    frexp(size / (1000.0 / 1024.0), &exp);
    int i = (exp - 1) / 10; /* C division: 0 for size 0 (exp 0) */
    uint64_t div = (uint64_t)1 << (i * 10);
    snprintf(buf, len, "%0.3g %sB", (double)size / div, units[i]);
}

/* Written straight to stderr, so that no message is cut short: qemu-img
 * prints an unknown option of any length whole. */
int cli_usage_error(const cli_env *env, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", env->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information\n", env->prog);
    return 1;
}

int cli_bad_option(const cli_env *env, const char *what, const char *opt)
{
    return cli_usage_error(env, "%s option '%s'", what, opt);
}
