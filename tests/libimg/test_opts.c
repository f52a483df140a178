/* tests/libimg/test_opts.c -- option strings and size parsing
 * (libimg/opts.c).  Expected values and messages were taken from
 * qemu-img 7.2 ("qemu-img create -f raw|qcow2 -o ..."). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "libimg/opts.h"

static const img_opt_desc test_desc[] = {
    { "size", IMG_OPT_SIZE, "Virtual disk size", NULL, 0 },
    { "compat", IMG_OPT_STRING, "Compatibility level", NULL, 0 },
    { "cluster_size", IMG_OPT_SIZE, "qcow2 cluster size", "65536", 0 },
    { "lazy_refcounts", IMG_OPT_BOOL, "Postpone refcount updates", "off", 0 },
    { "refcount_bits", IMG_OPT_NUMBER, "Width of a reference count", "16",
      0 },
    { "nocow", IMG_OPT_BOOL, "Turn off copy-on-write", NULL, 0 },
    { NULL, IMG_OPT_STRING, NULL, NULL, 0 },
};

static img_opts *opts;

static void setup(void)
{
    opts = img_opts_new(test_desc);
    cr_assert_not_null(opts);
}

static void teardown(void)
{
    img_opts_free(opts);
}

/* Parses str expecting failure; checks the code and the message. */
static void parse_fails(const char *str, int code, const char *msg)
{
    img_err err = { 0 };
    int rc = img_opts_parse(opts, str, &err);
    cr_assert_eq(rc, -code, "'%s': rc %d", str, rc);
    cr_assert_eq(err.code, code);
    cr_assert_str_eq(err.msg, msg, "'%s'", str);
}

TestSuite(opts, .init = setup, .fini = teardown);

Test(opts, parses_typed_values)
{
    img_err err = { 0 };
    cr_assert_eq(img_opts_parse(opts, "size=1.5G,compat=1.1,lazy_refcounts=on,"
                                "refcount_bits=0x10", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(img_opts_get_size(opts, "size", 0), 1610612736);
    cr_assert_str_eq(img_opts_get_str(opts, "compat", NULL), "1.1");
    cr_assert_eq(img_opts_get_bool(opts, "lazy_refcounts", 0), 1);
    cr_assert_eq(img_opts_get_number(opts, "refcount_bits", 0), 16);
    cr_assert_str_eq(img_opts_value(opts, "refcount_bits"), "0x10",
                     "the raw text is kept");
    cr_assert(img_opts_is_set(opts, "size"));
    cr_assert_not(img_opts_is_set(opts, "nocow"));
    cr_assert_null(img_opts_value(opts, "nocow"));
}

Test(opts, double_comma_is_a_literal_comma)
{
    cr_assert_eq(img_opts_parse(opts, "compat=a,,b,,,,c,nocow=on", NULL), 0);
    cr_assert_str_eq(img_opts_value(opts, "compat"), "a,b,,c");
    cr_assert(img_opts_get_bool(opts, "nocow", 0));
}

Test(opts, equals_sign_inside_value_is_kept)
{
    cr_assert_eq(img_opts_parse(opts, "compat=x=y", NULL), 0);
    cr_assert_str_eq(img_opts_value(opts, "compat"), "x=y");
}

Test(opts, later_value_wins)
{
    cr_assert_eq(img_opts_parse(opts, "compat=1.1,compat=0.10", NULL), 0);
    cr_assert_str_eq(img_opts_value(opts, "compat"), "0.10");
    cr_assert_eq(img_opts_parse(opts, "compat=again", NULL), 0);
    cr_assert_str_eq(img_opts_value(opts, "compat"), "again");
}

Test(opts, trailing_comma_is_tolerated_by_the_parser)
{
    /* (qemu-img rejects it before parsing: see img_opts_list_valid). */
    cr_assert_eq(img_opts_parse(opts, "compat=1,", NULL), 0);
    cr_assert_str_eq(img_opts_value(opts, "compat"), "1");
}

Test(opts, unknown_option_is_named)
{
    parse_fails("foo=1", EINVAL, "Invalid parameter 'foo'");
    parse_fails("size=1M,foo", EINVAL, "Invalid parameter 'foo'");
    parse_fails("=1", EINVAL, "Invalid parameter ''");
    parse_fails("a,,b=1", EINVAL, "Invalid parameter 'a'");
    parse_fails("help", EINVAL, "Invalid parameter 'help'");
}

Test(opts, first_error_wins_and_earlier_options_stay_set)
{
    parse_fails("compat=x,foo=1,size=abc", EINVAL, "Invalid parameter 'foo'");
    cr_assert_str_eq(img_opts_value(opts, "compat"), "x");
}

Test(opts, flag_without_value_means_on_and_no_prefix_off)
{
    cr_assert_eq(img_opts_parse(opts, "lazy_refcounts", NULL), 0);
    cr_assert_str_eq(img_opts_value(opts, "lazy_refcounts"), "on");
    cr_assert_eq(img_opts_parse(opts, "nolazy_refcounts", NULL), 0);
    cr_assert_str_eq(img_opts_value(opts, "lazy_refcounts"), "off");
    cr_assert_eq(img_opts_get_bool(opts, "lazy_refcounts", 1), 0);
    /* A string option takes "on" too (qemu: "preallocation" -> "on"). */
    cr_assert_eq(img_opts_parse(opts, "compat", NULL), 0);
    cr_assert_str_eq(img_opts_value(opts, "compat"), "on");
}

Test(opts, no_prefix_is_stripped_even_from_real_names)
{
    /* qemu-img 7.2: "-o nocow" sets option "cow" to off. */
    parse_fails("nocow", EINVAL, "Invalid parameter 'cow'");
    parse_fails("no", EINVAL, "Invalid parameter ''");
}

Test(opts, bool_words)
{
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(img_opts_set(opts, "nocow", yes[i], NULL), 0);
        cr_assert_eq(img_opts_get_bool(opts, "nocow", 0), 1, "%s", yes[i]);
        cr_assert_str_eq(img_opts_value(opts, "nocow"), yes[i]);
        cr_assert_eq(img_opts_set(opts, "nocow", no[i], NULL), 0);
        cr_assert_eq(img_opts_get_bool(opts, "nocow", 1), 0, "%s", no[i]);
    }
    parse_fails("nocow=ON", EINVAL, "Parameter 'nocow' expects 'on' or 'off'");
    parse_fails("nocow=1", EINVAL, "Parameter 'nocow' expects 'on' or 'off'");
    parse_fails("nocow=", EINVAL, "Parameter 'nocow' expects 'on' or 'off'");
}

Test(opts, failed_set_keeps_previous_value)
{
    cr_assert_eq(img_opts_set(opts, "size", "1M", NULL), 0);
    cr_assert_lt(img_opts_set(opts, "size", "bad", NULL), 0);
    cr_assert_eq(img_opts_get_size(opts, "size", 0), 1048576);
    cr_assert_str_eq(img_opts_value(opts, "size"), "1M");
}

Test(opts, size_errors_match_qemu)
{
    parse_fails("size=abc", EINVAL,
                "Parameter 'size' expects a non-negative number below 2^64\n"
                "Optional suffix k, M, G, T, P or E means kilo-, mega-, "
                "giga-, tera-, peta-\nand exabytes, respectively.");
    parse_fails("size=1M,,x", EINVAL,
                "Parameter 'size' expects a non-negative number below 2^64\n"
                "Optional suffix k, M, G, T, P or E means kilo-, mega-, "
                "giga-, tera-, peta-\nand exabytes, respectively.");
    parse_fails("size=99999999999E", ERANGE,
                "Value '99999999999E' is out of range for parameter 'size'");
    parse_fails("cluster_size=16E", ERANGE,
                "Value '16E' is out of range for parameter 'cluster_size'");
}

Test(opts, number_parsing_matches_qemu)
{
    cr_assert_eq(img_opts_set(opts, "refcount_bits", "010", NULL), 0);
    cr_assert_eq(img_opts_get_number(opts, "refcount_bits", 0), 8, "octal");
    cr_assert_eq(img_opts_set(opts, "refcount_bits", " 16", NULL), 0);
    cr_assert_eq(img_opts_get_number(opts, "refcount_bits", 0), 16);
    cr_assert_eq(img_opts_set(opts, "refcount_bits", "-1", NULL), 0);
    cr_assert_eq(img_opts_get_number(opts, "refcount_bits", 0), UINT64_MAX);
    parse_fails("refcount_bits=abc", EINVAL,
                "Parameter 'refcount_bits' expects a number");
    parse_fails("refcount_bits=", EINVAL,
                "Parameter 'refcount_bits' expects a number");
    parse_fails("refcount_bits=16k", EINVAL,
                "Parameter 'refcount_bits' expects a number");
    parse_fails("refcount_bits=99999999999999999999", ERANGE,
                "Value '99999999999999999999' is too large for parameter "
                "'refcount_bits'");
}

Test(opts, getters_fall_back_to_desc_default_then_def)
{
    cr_assert_eq(img_opts_get_size(opts, "cluster_size", 1), 65536);
    cr_assert_eq(img_opts_get_bool(opts, "lazy_refcounts", 1), 0);
    cr_assert_eq(img_opts_get_number(opts, "refcount_bits", 0), 16);
    cr_assert_eq(img_opts_get_size(opts, "size", 777), 777);
    cr_assert_eq(img_opts_get_bool(opts, "nocow", 1), 1);
    cr_assert_str_eq(img_opts_get_str(opts, "compat", "dflt"), "dflt");
    cr_assert_str_eq(img_opts_get_str(opts, "refcount_bits", NULL), "16");
    cr_assert_eq(img_opts_get_size(opts, "no_such_option", 5), 5);
    cr_assert_not(img_opts_is_set(opts, "cluster_size"),
                  "a default is not a set value");
}

Test(opts, desc_is_returned)
{
    cr_assert_eq(img_opts_desc(opts), test_desc);
}

Test(opts_list, wants_help)
{
    cr_assert(img_opts_wants_help("help"));
    cr_assert(img_opts_wants_help("?"));
    cr_assert(img_opts_wants_help("size=1M,help"));
    cr_assert(img_opts_wants_help("size=1M,?"));
    cr_assert(img_opts_wants_help("help,size=1M"));
    cr_assert(img_opts_wants_help("foo=1,help"));
    cr_assert_not(img_opts_wants_help("foo=help"));
    cr_assert_not(img_opts_wants_help("compat=a,,help"), "escaped comma");
    cr_assert_not(img_opts_wants_help("helpme"));
    cr_assert_not(img_opts_wants_help(""));
    cr_assert_not(img_opts_wants_help(NULL));
}

Test(opts_list, valid_option_list)
{
    cr_assert(img_opts_list_valid("size=1M"));
    cr_assert(img_opts_list_valid("size=1M,,"), "escaped comma");
    cr_assert(img_opts_list_valid("size=1M,,,,"));
    cr_assert(img_opts_list_valid("a"));
    cr_assert_not(img_opts_list_valid(""));
    cr_assert_not(img_opts_list_valid(","));
    cr_assert_not(img_opts_list_valid(",size=1M"));
    cr_assert_not(img_opts_list_valid(",,size=1M"));
    cr_assert_not(img_opts_list_valid("size=1M,"));
    cr_assert_not(img_opts_list_valid("size=1M,,,"));
}

Test(opts_list, empty_desc_rejects_everything)
{
    img_opts *o = img_opts_new(NULL);
    img_err err = { 0 };
    cr_assert_not_null(o);
    cr_assert_eq(img_opts_parse(o, "size=1", &err), -EINVAL);
    cr_assert_str_eq(err.msg, "Invalid parameter 'size'");
    cr_assert_eq(img_opts_parse(o, "", NULL), 0);
    img_opts_free(o);
    img_opts_free(NULL);
}

/* ---- img_parse_size (qemu_strtosz as in qemu-img 7.2) ---- */

typedef struct size_case {
    const char *in;
    int rc;
    uint64_t want;
} size_case;

static const size_case size_cases[] = {
    { "0", 0, 0 },
    { "1", 0, 1 },
    { "1000", 0, 1000 },
    { "1b", 0, 1 },
    { "1B", 0, 1 },
    { "1k", 0, 1024 },
    { "1K", 0, 1024 },
    { "2m", 0, 2097152 },
    { "1G", 0, 1073741824 },
    { "1T", 0, 1099511627776 },
    { "1P", 0, 1125899906842624 },
    { "1E", 0, 1152921504606846976 },
    { "1.5G", 0, 1610612736 },
    { "1.5k", 0, 1536 },
    { "0.5k", 0, 512 },
    { "0.3k", 0, 307 },
    { "0.1k", 0, 102 },
    { "0.7k", 0, 717 },
    { "0.1M", 0, 104858 },
    { "12.345M", 0, 12944671 },            /* rounded half up */
    { "0.000488281k", 0, 0 },              /* 0.49999974 rounds down */
    { "0.0004882813k", 0, 1 },             /* 0.50000005 rounds up */
    { "0.9999999999999999k", 0, 1024 },
    { "0.99999999999999999k", 0, 0 },      /* fraction rounds to 1.0 */
    { "1.", 0, 1 },
    { "1.k", 0, 1024 },
    { "1.0", 0, 1 },
    { "1.0b", 0, 1 },
    { "0.0k", 0, 0 },
    { "1.5e", 0, 1729382256910270464 },    /* 'e' is exabytes here */
    { "1.5E", 0, 1729382256910270464 },
    { "15.9999999E", 0, 18446743958417401216u },
    { "16777215T", 0, 18446742974197923840u },
    { "18446744073709551615", 0, UINT64_MAX },
    { "18446744073709551615b", 0, UINT64_MAX },
    { "010", 0, 10 },                      /* decimal, not octal */
    { "08", 0, 8 },
    { "0x10", 0, 16 },
    { "0X1f", 0, 31 },
    { "0x10k", 0, 16384 },                 /* qemu also warns */
    { "0xffffffffffffffff", 0, UINT64_MAX },
    { " 1k", 0, 1024 },
    { " 0x10", 0, 16 },
    { "+1", 0, 1 },
    { "", -EINVAL, 0 },
    { "abc", -EINVAL, 0 },
    { "-1", -EINVAL, 0 },
    { "-5", -EINVAL, 0 },
    { " -0", -EINVAL, 0 },
    { "1.5", -EINVAL, 0 },                 /* fraction needs a unit */
    { "0.5", -EINVAL, 0 },
    { "1.5b", -EINVAL, 0 },
    { "0.5b", -EINVAL, 0 },
    { ".5k", -EINVAL, 0 },
    { "1e3", -EINVAL, 0 },
    { "1.5e3", -EINVAL, 0 },
    { "1.5e3k", -EINVAL, 0 },
    { "1kB", -EINVAL, 0 },
    { "1KiB", -EINVAL, 0 },
    { "1kk", -EINVAL, 0 },
    { "1Z", -EINVAL, 0 },
    { "1k ", -EINVAL, 0 },
    { "1.5 k", -EINVAL, 0 },
    { "1,5k", -EINVAL, 0 },
    { "1.x", -EINVAL, 0 },
    { "1..5k", -EINVAL, 0 },
    { "1.-5k", -EINVAL, 0 },
    { "1.+5k", -EINVAL, 0 },
    { "0x", -EINVAL, 0 },
    { "0xk", -EINVAL, 0 },
    { "0x.5", -EINVAL, 0 },
    { "0x10.5", -EINVAL, 0 },
    { "0x1p3", -EINVAL, 0 },
    { "00x10", -EINVAL, 0 },
    { "0x-1", -EINVAL, 0 },
    { "nan", -EINVAL, 0 },
    { "inf", -EINVAL, 0 },
    { "16Ex", -EINVAL, 0 },                /* trailing junk beats range */
    { "99999999999999999999k", -EINVAL, 0 },
    { "18446744073709551615.5", -EINVAL, 0 },
    { "16E", -ERANGE, 0 },
    { "16777216T", -ERANGE, 0 },
    { "99999999999E", -ERANGE, 0 },
    { "18446744073709551616", -ERANGE, 0 },
    { "99999999999999999999", -ERANGE, 0 },
    { "-99999999999999999999", -ERANGE, 0 },
    { "0x10000000000000000", -ERANGE, 0 },
    { "0x1ffffffffffffffff", -ERANGE, 0 },
};

Test(parse_size, matches_qemu_strtosz)
{
    for (size_t i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]); i++) {
        const size_case *c = &size_cases[i];
        uint64_t v = 12345;
        int rc = img_parse_size(c->in, &v);
        cr_expect_eq(rc, c->rc, "'%s': rc %d, want %d", c->in, rc, c->rc);
        if (c->rc == 0) {
            cr_expect_eq(v, c->want, "'%s': %llu, want %llu", c->in,
                         (unsigned long long)v,
                         (unsigned long long)c->want);
        } else {
            cr_expect_eq(v, 12345, "'%s': output untouched on error", c->in);
        }
    }
}

Test(parse_size, fraction_underflow_skips_suffix_like_qemu)
{
    /* A fraction too small for a double: qemu-img 7.2 skips the char after
     * the digits and yields the integer part ("1.<400 zeros>1k" -> 1). */
    char buf[512] = "1.";
    memset(buf + 2, '0', 400);
    strcpy(buf + 402, "1k");
    uint64_t v = 0;
    cr_assert_eq(img_parse_size(buf, &v), 0);
    cr_assert_eq(v, 1);
    buf[403] = '\0'; /* no suffix: qemu would read past the end */
    cr_assert_eq(img_parse_size(buf, &v), -EINVAL);
}

Test(parse_size, null_is_invalid)
{
    uint64_t v;
    cr_assert_eq(img_parse_size(NULL, &v), -EINVAL);
}
