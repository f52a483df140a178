/* tests/cli/test_create_opts.c -- the "-o" helpers of cli/create_opts.c:
 * joining -o arguments, spotting "help", qemu-img's help layout and
 * order, the "Formatting" line (order, defaults, escaping, int64
 * printing) and cvtnum's range checks.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const cli_env env = { .prog = "vdisk" };

/* A table with every type, defaults and a string needing escapes. */
static const img_opt_desc test_desc[] = {
    { .name = "size", .type = IMG_OPT_SIZE, .help = "Virtual disk size" },
    { .name = "cluster_size",
      .type = IMG_OPT_SIZE,
      .def = "65536",
      .help = "Cluster size" },
    { .name = "lazy", .type = IMG_OPT_BOOL, .def = "off", .help = "Lazy" },
    { .name = "bits", .type = IMG_OPT_NUMBER, .help = "Bits" },
    { .name = "file", .type = IMG_OPT_STRING, .help = "A file name" },
    { .name = NULL },
};

/* Runs cli_print_formatting for opts parsed from list; returns the line
 * (malloc'd). */
static char *formatting(const char *list)
{
    img_opts *o = img_opts_new(test_desc);
    cr_assert_not_null(o);
    cr_assert_eq(img_opts_parse(o, list, NULL), 0, "parsing %s", list);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    cli_print_formatting(f, "t.img", "fmt", o);
    fclose(f);
    img_opts_free(o);
    return buf;
}

Test(create_opts, accumulate_joins_with_comma)
{
    char *list = NULL;
    cr_assert_eq(cli_opts_accumulate(&env, &list, "size=1M"), 0);
    cr_assert_eq(cli_opts_accumulate(&env, &list, "nocow=on,,x"), 0);
    cr_assert_str_eq(list, "size=1M,nocow=on,,x");
    free(list);
}

Test(create_opts, accumulate_rejects_ambiguous_lists,
     .init = cr_redirect_stderr)
{
    char *list = NULL;
    cr_assert_eq(cli_opts_accumulate(&env, &list, ",size=1M"), -1);
    cr_assert_eq(cli_opts_accumulate(&env, &list, "size=1M,"), -1);
    cr_assert_eq(cli_opts_accumulate(&env, &list, ""), -1);
    cr_assert_null(list);
    fflush(stderr);
    cr_assert_stderr_eq_str("vdisk: Invalid option list: ,size=1M\n"
                            "vdisk: Invalid option list: size=1M,\n"
                            "vdisk: Invalid option list: \n");
}

Test(create_opts, help_is_a_whole_element)
{
    cr_assert(cli_opts_has_help("help"));
    cr_assert(cli_opts_has_help("?"));
    cr_assert(cli_opts_has_help("size=1M,help"));
    cr_assert_not(cli_opts_has_help("helpx"));
    cr_assert_not(cli_opts_has_help("file=help,,x"));
    cr_assert_not(cli_opts_has_help(NULL));
}

Test(create_opts, help_without_file_hides_protocol_options,
     .init = cr_redirect_stdout)
{
    cr_assert_eq(cli_opts_print_help(&env, "raw", NULL), 0);
    fflush(stdout);
    cr_assert_stdout_eq_str(
        "Supported raw options:\n"
        "  size=<size>            - Virtual disk size\n"
        "\n"
        "The protocol level may support further options.\n"
        "Specify the target filename to include those options.\n");
}

Test(create_opts, help_with_file_lists_all_sorted_and_padded,
     .init = cr_redirect_stdout)
{
    cr_assert_eq(cli_opts_print_help(&env, "raw", "x.raw"), 0);
    fflush(stdout);
    cr_assert_stdout_eq_str(
        "Supported options:\n"
        "  extent_size_hint=<size> - Extent size hint for the image file, "
        "0 to disable\n"
        "  nocow=<bool (on/off)>  - Turn off copy-on-write (valid only on "
        "btrfs)\n"
        "  preallocation=<str>    - Preallocation mode (allowed values: "
        "off, falloc, full)\n"
        "  size=<size>            - Virtual disk size\n");
}

Test(create_opts, help_for_unknown_format_fails, .init = cr_redirect_stderr)
{
    cr_assert_eq(cli_opts_print_help(&env, "nosuchfmt", NULL), 1);
    fflush(stderr);
    cr_assert_stderr_eq_str("vdisk: Unknown file format 'nosuchfmt'\n");
}

Test(create_opts, formatting_prints_set_and_default_in_table_order)
{
    char *s = formatting("file=a,,b,size=1k,bits=0x10");
    cr_assert_str_eq(s, "Formatting 't.img', fmt=fmt size=1024 "
                        "cluster_size=65536 lazy=off bits=16 file=a,,b\n");
    free(s);
}

Test(create_opts, formatting_keeps_bool_text_and_parses_sizes)
{
    char *s = formatting("lazy=yes,cluster_size=4k,size=1");
    cr_assert_str_eq(s, "Formatting 't.img', fmt=fmt size=1 "
                        "cluster_size=4096 lazy=yes\n");
    free(s);
}

Test(create_opts, formatting_prints_sizes_as_int64)
{
    char *s = formatting("size=9E");
    cr_assert_str_eq(s, "Formatting 't.img', fmt=fmt "
                        "size=-8070450532247928832 cluster_size=65536 "
                        "lazy=off\n");
    free(s);
}

Test(create_opts, create_opts_parse_errors_name_the_option)
{
    img_err err = { 0 };
    const img_driver *raw = img_driver_find("raw");
    cr_assert_null(cli_create_opts_new(raw, "foo=bar", &err));
    cr_assert_str_eq(err.msg, "Invalid parameter 'foo'");
    img_opts *o = cli_create_opts_new(raw, "size=1M", &err);
    cr_assert_not_null(o);
    cr_assert(cli_opts_has(o, "preallocation"));
    cr_assert_not(cli_opts_has(o, "backing_file"));
    cr_assert_eq(img_opts_get_size(o, "size", 0), 1048576);
    img_opts_free(o);
}

Test(create_opts, cvtnum_ranges, .init = cr_redirect_stderr)
{
    int64_t v = -1;
    cr_assert_eq(cli_cvtnum(&env, "bs", "4k", 1, 1 << 30, &v), 0);
    cr_assert_eq(v, 4096);
    cr_assert_eq(cli_cvtnum(&env, "bs", "0", 1, 1 << 30, &v), -1);
    cr_assert_eq(cli_cvtnum(&env, "count", "16E", 0, INT64_MAX, &v), -1);
    cr_assert_eq(cli_cvtnum(&env, "skip", "-1", 0, INT64_MAX, &v), -1);
    cr_assert_eq(v, 4096);
    fflush(stderr);
    cr_assert_stderr_eq_str(
        "vdisk: Invalid bs specified. Must be between 1 and 1073741824.\n"
        "vdisk: Invalid count specified. Must be between 0 and "
        "9223372036854775807.\n"
        "vdisk: Invalid skip specified. You may use k, M, G, T, P or E "
        "suffixes for\n"
        "vdisk: kilobytes, megabytes, gigabytes, terabytes, petabytes and "
        "exabytes.\n");
}
