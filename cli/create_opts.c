/* cli/create_opts.c -- the "-o options" of create, convert and dd.
 *
 * qemu-img 7.2 joins every -o argument with ',' (after rejecting the ones
 * that would change meaning when joined), answers "-o help" by listing the
 * format's creation options -- with the host-file protocol's options only
 * when a target filename is given -- and announces a new image with
 * "Formatting 'FILE', fmt=FMT opt=value ...".  That line lists, in the
 * driver's option order, each option that is set or has a default, the way
 * QEMU's qemu_opts_print() does (util/qemu-option.c).  cli_cvtnum() is
 * qemu-img's cvtnum(), the size parser of its command-line arguments.
 *
 * The protocol options (IMG_OPT_PROTOCOL: nocow, preallocation, ...) sit
 * in each driver's single option table; only the help output separates
 * them, as QEMU separates the format's list from file-posix's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Help lines are padded to this column before " - help text". */
#define HELP_COLUMN 24

int cli_opts_accumulate(const cli_env *env, char **list, const char *arg)
{
    if (!img_opts_list_valid(arg)) {
        cli_error(env, "Invalid option list: %s", arg);
        return -1;
    }
    /* qemu-img's accumulate_options(): "a,b" + "c" -> "a,b,c", so later
     * -o values override earlier ones when parsed. */
    size_t old = *list ? strlen(*list) + 1 : 0; /* with the ',' */
    char *s = realloc(*list, old + strlen(arg) + 1);
    if (!s) {
        cli_error(env, "Out of memory");
        return -1;
    }
    if (old) {
        s[old - 1] = ',';
    }
    strcpy(s + old, arg);
    *list = s;
    return 0;
}

/* "help" or "?" as a whole element, wherever it is in the list, turns
 * the whole command into a help request. */
int cli_opts_has_help(const char *list)
{
    return list && img_opts_wants_help(list);
}

/* QEMU's names for the option types in help output. */
static const char *opt_type_name(img_opt_type type)
{
    switch (type) {
    case IMG_OPT_BOOL:
        return "bool (on/off)";
    case IMG_OPT_NUMBER:
        return "num";
    case IMG_OPT_SIZE:
        return "size";
    case IMG_OPT_STRING:
    default:
        return "str";
    }
}

/* One help line, "  name=<type>" padded, then " - help"; malloc'd. */
static char *help_line(const img_opt_desc *d)
{
    const char *help = d->help ? d->help : "";
    size_t len = strlen(d->name) + strlen(help) + HELP_COLUMN + 32;
    char *s = malloc(len);
    if (!s) {
        return NULL;
    }
    int n = snprintf(s, len, "  %s=<%s>", d->name, opt_type_name(d->type));
    if (d->help) {
        int pad = n < HELP_COLUMN ? HELP_COLUMN - n : 0;
        snprintf(s + n, len - (size_t)n, "%*s - %s", pad, "", help);
    }
    return s;
}

/* qsort() comparator over the malloc'd help lines. */
static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints the help lines of desc sorted as QEMU sorts them (the formatted
 * lines, not the names), leaving out protocol options unless asked. */
static int print_opt_lines(const img_opt_desc *desc, int with_protocol)
{
    size_t n = 0, count = 0;
    while (desc[count].name) {
        count++;
    }
    char **lines = calloc(count + 1, sizeof(*lines));
    if (!lines) {
        return -1;
    }
    int r = 0;
    for (size_t i = 0; i < count && r == 0; i++) {
        if (!with_protocol && (desc[i].flags & IMG_OPT_PROTOCOL)) {
            continue;
        }
        lines[n] = help_line(&desc[i]);
        r = lines[n] ? 0 : -1;
        n += lines[n] != NULL;
    }
    if (r == 0) {
        qsort(lines, n, sizeof(*lines), cmp_lines);
        for (size_t i = 0; i < n; i++) {
            printf("%s\n", lines[i]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(lines[i]);
    }
    free(lines);
    return r;
}

/* qemu-img's print_block_option_help(): the format must exist and be
 * able to create images; the heading names the format only when the
 * protocol options are left out. */
int cli_opts_print_help(const cli_env *env, const char *fmt,
                        const char *filename)
{
    const img_driver *drv = img_driver_find(fmt);
    if (!drv) {
        cli_error(env, "Unknown file format '%s'", fmt);
        return 1;
    }
    const img_opt_desc *desc = img_driver_create_opts(drv);
    if (!desc) {
        cli_error(env, "Format driver '%s' does not support image creation",
                  fmt);
        return 1;
    }
    if (filename) {
        printf("Supported options:\n");
    } else {
        printf("Supported %s options:\n", fmt);
    }
    if (print_opt_lines(desc, filename != NULL) < 0) {
        cli_error(env, "Out of memory");
        return 1;
    }
    if (!filename) {
        printf("\nThe protocol level may support further options.\nSpecify the "
               "target filename to include those options.\n");
    }
    return 0;
}

/* The option set starts empty (defaults come from the table when read)
 * and takes the -o list; the parser names any bad option in err. */
img_opts *cli_create_opts_new(const img_driver *drv, const char *list,
                              img_err *err)
{
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    if (!o) {
        img_err_set(err, ENOMEM, "Out of memory");
        return NULL;
    }
    if (list && img_opts_parse(o, list, err) < 0) {
        img_opts_free(o);
        return NULL;
    }
    return o;
}

/* Whether the table offers name at all, set or not (qemu_opt_set()
 * fails for an option its list does not declare). */
int cli_opts_has(const img_opts *o, const char *name)
{
    const img_opt_desc *d = img_opts_desc(o);
    for (size_t i = 0; d && d[i].name; i++) {
        if (!strcmp(d[i].name, name)) {
            return 1;
        }
    }
    return 0;
}

/* A string value with ',' doubled, so the line reads back as options. */
static void print_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == ',') {
            fputc(',', out);
        }
        fputc(*s, out);
    }
}

/* " name=value" for one option, or nothing when it is unset without a
 * default.  Set numbers print as QEMU's parsed int64 (9E is negative). */
static void print_opt(FILE *out, const img_opts *o, const img_opt_desc *d)
{
    const char *set = img_opts_value(o, d->name);
    const char *value = set ? set : d->def;
    if (!value) {
        return;
    }
    fprintf(out, " %s=", d->name);
    /* Strings are escaped, parsed numbers reprinted, and everything else
     * (bools as typed: "yes" stays "yes", defaults) shown as text. */
    if (d->type == IMG_OPT_STRING) {
        print_escaped(out, value);
    } else if (set && (d->type == IMG_OPT_SIZE || d->type == IMG_OPT_NUMBER)) {
        fprintf(out, "%" PRId64, (int64_t)img_opts_get_size(o, d->name, 0));
    } else {
        fputs(value, out);
    }
}

/* bdrv_img_create()'s announcement; flushed so that it precedes any
 * error the creation prints on stderr. */
void cli_print_formatting(FILE *out, const char *filename, const char *fmt,
                          const img_opts *o)
{
    const img_opt_desc *d = img_opts_desc(o);
    fprintf(out, "Formatting '%s', fmt=%s", filename, fmt);
    for (size_t i = 0; d && d[i].name; i++) {
        print_opt(out, o, &d[i]);
    }
    fputc('\n', out);
    fflush(out);
}

/* A malformed number gets qemu-img's two-line suffix reminder; a number
 * out of [min, max], including one past 2^64, gets the range. */
int cli_cvtnum(const cli_env *env, const char *name, const char *value,
               int64_t min, int64_t max, int64_t *out)
{
    uint64_t v = 0;
    int r = img_parse_size(value, &v);
    if (r < 0 && r != -ERANGE) {
        cli_error(
            env,
            "Invalid %s specified. You may use k, M, G, T, P or E suffixes for",
            name);
        cli_error(env, "kilobytes, megabytes, gigabytes, terabytes, petabytes "
                       "and exabytes.");
        return -1;
    }
    if (r == -ERANGE || v > (uint64_t)max || (int64_t)v < min) {
        cli_error(env,
                  "Invalid %s specified. Must be between %" PRId64
                  " and %" PRId64 ".",
                  name, min, max);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}
