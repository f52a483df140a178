/* tests/cli/test_output.c -- cli/output.c, cli/json.c and cli/progress.c.
 *
 * Every expected string below was produced by the real qemu-img 7.2:
 * sizes from "qemu-img info" ("virtual size:"), JSON from "qemu-img info
 * --output=json", progress from "qemu-img convert -p" / "compare -p".
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* ---- capturing a FILE* ---- */

typedef struct capture {
    FILE *f;
    char *buf;
    size_t len;
} capture;

static FILE *capture_open(capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    cr_assert_not_null(c->f);
    return c->f;
}

/* Closes the stream and returns its text (freed by capture_free). */
static const char *capture_text(capture *c)
{
    fclose(c->f);
    c->f = NULL;
    return c->buf;
}

static void capture_free(capture *c)
{
    free(c->buf);
}

/* ---- cli_size_to_str ---- */

static void check_size(uint64_t size, const char *want)
{
    char buf[32];
    cli_size_to_str(size, buf, sizeof(buf));
    cr_expect_str_eq(buf, want, "%llu", (unsigned long long)size);
}

Test(size_to_str, matches_qemu_info)
{
    check_size(0, "0 B");
    check_size(512, "512 B");
    check_size(1024, "1 KiB");
    check_size(4096, "4 KiB");
    check_size(197120, "192 KiB");       /* 192.5: round half to even */
    check_size(1023488, "1e+03 KiB");    /* 999.5 KiB: qemu's %0.3g */
    check_size(1024000, "0.977 MiB");
    check_size(1572864, "1.5 MiB");
    check_size(1073741824, "1 GiB");
    check_size(1099511628288, "1 TiB");
    check_size(2305843009213693952u, "2 EiB");
}

Test(size_to_str, unit_switches_at_1000_not_1024)
{
    check_size(1, "1 B");
    check_size(999, "999 B");
    check_size(1000, "0.977 KiB");
    check_size(1023, "0.999 KiB");
    check_size(1025, "1 KiB");
    check_size(10000, "9.77 KiB");
    check_size(123456789, "118 MiB");
    check_size(1125899906842624, "1 PiB");
    check_size(UINT64_MAX, "16 EiB");
}

Test(size_to_str, truncates_to_buffer)
{
    char buf[4];
    cli_size_to_str(1572864, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1.5");
}

/* ---- cli_parse_output ---- */

Test(parse_output, human_and_json_only)
{
    cli_output o = CLI_OUTPUT_JSON;
    cr_assert_eq(cli_parse_output("human", &o), 0);
    cr_assert_eq(o, CLI_OUTPUT_HUMAN);
    cr_assert_eq(cli_parse_output("json", &o), 0);
    cr_assert_eq(o, CLI_OUTPUT_JSON);
    cr_assert_eq(cli_parse_output("JSON", &o), -EINVAL);
    cr_assert_eq(cli_parse_output("", &o), -EINVAL);
    cr_assert_eq(cli_parse_output(NULL, &o), -EINVAL);
    cr_assert_eq(o, CLI_OUTPUT_JSON, "unchanged on error");
}

/* ---- stderr messages ---- */

static const cli_env env = { "qemu-img", 0 };

Test(messages, error_has_prog_prefix, .init = cr_redirect_stderr)
{
    cli_error(&env, "Invalid option list: %s", ",x");
    fflush(stderr);
    cr_assert_stderr_eq_str("qemu-img: Invalid option list: ,x\n");
}

Test(messages, error_img_with_file, .init = cr_redirect_stderr)
{
    img_err err = { 0 };
    img_err_set(&err, EINVAL, "Invalid parameter '%s'", "foo");
    cli_error_img(&env, "/tmp/x.raw", &err);
    fflush(stderr);
    cr_assert_stderr_eq_str("qemu-img: /tmp/x.raw: Invalid parameter 'foo'\n");
}

Test(messages, error_img_without_file, .init = cr_redirect_stderr)
{
    img_err err = { 0 };
    img_err_set(&err, EINVAL, "Invalid parameter 'foo'");
    cli_error_img(&env, NULL, &err);
    fflush(stderr);
    cr_assert_stderr_eq_str("qemu-img: Invalid parameter 'foo'\n");
}

Test(messages, error_img_without_message_uses_strerror,
     .init = cr_redirect_stderr)
{
    img_err err = { ENOENT, "" };
    cli_error_img(&env, "f", &err);
    fflush(stderr);
    cr_assert_stderr_eq_str("qemu-img: f: No such file or directory\n");
}

Test(messages, warning_format, .init = cr_redirect_stderr)
{
    cli_env v = { "vdisk", 0 };
    cli_warn(&v, "Using a multiplier suffix on hex numbers is deprecated: "
             "%s", "0x10k");
    fflush(stderr);
    cr_assert_stderr_eq_str("vdisk: warning: Using a multiplier suffix on "
                            "hex numbers is deprecated: 0x10k\n");
}

/* ---- JSON ---- */

static void check_json(const img_val *v, const char *want)
{
    capture c;
    cli_json_print(capture_open(&c), v);
    cr_expect_str_eq(capture_text(&c), want);
    capture_free(&c);
}

static void check_json_string(const char *s, const char *want)
{
    capture c;
    cli_json_string(capture_open(&c), s);
    cr_expect_str_eq(capture_text(&c), want);
    capture_free(&c);
}

/* The qcow2 "format-specific" dict of a fresh image with one bitmap. */
static img_val *qcow2_specific(int with_bitmap)
{
    img_val *data = img_val_dict_new();
    img_val_dict_set_str(data, "compat", "1.1");
    img_val_dict_set_str(data, "compression-type", "zlib");
    img_val_dict_set_bool(data, "lazy-refcounts", 0);
    if (with_bitmap) {
        img_val *bm = img_val_dict_new();
        img_val_dict_set(bm, "flags", img_val_list_new());
        img_val_dict_set_str(bm, "name", "b0");
        img_val_dict_set_uint(bm, "granularity", 65536);
        img_val *list = img_val_list_new();
        img_val_list_append(list, bm);
        img_val_dict_set(data, "bitmaps", list);
    }
    img_val_dict_set_int(data, "refcount-bits", 16);
    img_val_dict_set_bool(data, "corrupt", 0);
    img_val_dict_set_bool(data, "extended-l2", 0);
    img_val *fs = img_val_dict_new();
    img_val_dict_set_str(fs, "type", "qcow2");
    img_val_dict_set(fs, "data", data);
    return fs;
}

Test(json, qemu_img_info_qcow2_nested)
{
    img_val *root = img_val_dict_new();
    img_val_dict_set_uint(root, "virtual-size", 1048576);
    img_val_dict_set_str(root, "filename", "j.qcow2");
    img_val_dict_set_uint(root, "cluster-size", 65536);
    img_val_dict_set_str(root, "format", "qcow2");
    img_val_dict_set_int(root, "actual-size", 208896);
    img_val_dict_set(root, "format-specific", qcow2_specific(1));
    img_val_dict_set_bool(root, "dirty-flag", 0);
    check_json(root,
               "{\n"
               "    \"virtual-size\": 1048576,\n"
               "    \"filename\": \"j.qcow2\",\n"
               "    \"cluster-size\": 65536,\n"
               "    \"format\": \"qcow2\",\n"
               "    \"actual-size\": 208896,\n"
               "    \"format-specific\": {\n"
               "        \"type\": \"qcow2\",\n"
               "        \"data\": {\n"
               "            \"compat\": \"1.1\",\n"
               "            \"compression-type\": \"zlib\",\n"
               "            \"lazy-refcounts\": false,\n"
               "            \"bitmaps\": [\n"
               "                {\n"
               "                    \"flags\": [\n"
               "                    ],\n"
               "                    \"name\": \"b0\",\n"
               "                    \"granularity\": 65536\n"
               "                }\n"
               "            ],\n"
               "            \"refcount-bits\": 16,\n"
               "            \"corrupt\": false,\n"
               "            \"extended-l2\": false\n"
               "        }\n"
               "    },\n"
               "    \"dirty-flag\": false\n"
               "}\n");
    img_val_free(root);
}

Test(json, qemu_img_info_backing_chain_list)
{
    img_val *top = img_val_dict_new();
    img_val_dict_set_str(top, "backing-filename-format", "raw");
    img_val_dict_set_uint(top, "virtual-size", 1048576);
    img_val_dict_set_str(top, "filename", "ov.qcow2");
    img_val_dict_set_uint(top, "cluster-size", 65536);
    img_val_dict_set_str(top, "format", "qcow2");
    img_val_dict_set_int(top, "actual-size", 200704);
    img_val_dict_set(top, "format-specific", qcow2_specific(0));
    img_val_dict_set_str(top, "full-backing-filename", "base.raw");
    img_val_dict_set_str(top, "backing-filename", "base.raw");
    img_val_dict_set_bool(top, "dirty-flag", 0);
    img_val *base = img_val_dict_new();
    img_val_dict_set_uint(base, "virtual-size", 1048576);
    img_val_dict_set_str(base, "filename", "base.raw");
    img_val_dict_set_str(base, "format", "raw");
    img_val_dict_set_int(base, "actual-size", 4096);
    img_val_dict_set_bool(base, "dirty-flag", 0);
    img_val *chain = img_val_list_new();
    img_val_list_append(chain, top);
    img_val_list_append(chain, base);
    check_json(chain,
               "[\n"
               "    {\n"
               "        \"backing-filename-format\": \"raw\",\n"
               "        \"virtual-size\": 1048576,\n"
               "        \"filename\": \"ov.qcow2\",\n"
               "        \"cluster-size\": 65536,\n"
               "        \"format\": \"qcow2\",\n"
               "        \"actual-size\": 200704,\n"
               "        \"format-specific\": {\n"
               "            \"type\": \"qcow2\",\n"
               "            \"data\": {\n"
               "                \"compat\": \"1.1\",\n"
               "                \"compression-type\": \"zlib\",\n"
               "                \"lazy-refcounts\": false,\n"
               "                \"refcount-bits\": 16,\n"
               "                \"corrupt\": false,\n"
               "                \"extended-l2\": false\n"
               "            }\n"
               "        },\n"
               "        \"full-backing-filename\": \"base.raw\",\n"
               "        \"backing-filename\": \"base.raw\",\n"
               "        \"dirty-flag\": false\n"
               "    },\n"
               "    {\n"
               "        \"virtual-size\": 1048576,\n"
               "        \"filename\": \"base.raw\",\n"
               "        \"format\": \"raw\",\n"
               "        \"actual-size\": 4096,\n"
               "        \"dirty-flag\": false\n"
               "    }\n"
               "]\n");
    img_val_free(chain);
}

Test(json, empty_containers_and_scalars)
{
    img_val *d = img_val_dict_new();
    check_json(d, "{\n}\n");
    img_val_dict_set(d, "l", img_val_list_new());
    img_val_dict_set(d, "d", img_val_dict_new());
    img_val_dict_set_int(d, "neg", INT64_MIN);
    img_val_dict_set_uint(d, "big", UINT64_MAX);
    img_val_dict_set_bool(d, "t", 7);
    check_json(d, "{\n"
                  "    \"l\": [\n"
                  "    ],\n"
                  "    \"d\": {\n"
                  "    },\n"
                  "    \"neg\": -9223372036854775808,\n"
                  "    \"big\": 18446744073709551615,\n"
                  "    \"t\": true\n"
                  "}\n");
    img_val_free(d);
    img_val *s = img_val_str_new("x");
    check_json(s, "\"x\"\n");
    img_val_free(s);
}

Test(json, string_escapes_like_qemu)
{
    /* The file name qemu-img info printed for this exact byte string. */
    check_json_string(
        "a\"b\\c\nd\te\001f\177g\xc3\xa9h\xe2\x82\xaci\xf0\x9f\x98\x80j"
        "\xffk\xc3l\xc0\x80m\xef\xbf\xben\xed\xa0\x80o\xe0\x80\xafp\x80q"
        "\b\f\r\037z",
        "\"a\\\"b\\\\c\\nd\\te\\u0001f\\u007Fg\\u00E9h\\u20ACi"
        "\\uD83D\\uDE00j\\uFFFDk\\uFFFDl\\u0000m\\uFFFDn\\uFFFDo\\uFFFDp"
        "\\uFFFDq\\b\\f\\r\\u001Fz\"");
}

Test(json, invalid_utf8_consumes_like_qemu)
{
    /* A truncated sequence eats only its lead and continuation bytes. */
    check_json_string("\xe2\x82" "A", "\"\\uFFFDA\"");
    check_json_string("\xe2", "\"\\uFFFD\"");
    /* Beyond U+10FFFF, five-byte forms and noncharacters are replaced. */
    check_json_string("\xf4\x90\x80\x80", "\"\\uFFFD\"");
    check_json_string("\xf8\x88\x80\x80\x80", "\"\\uFFFD\"");
    check_json_string("\xef\xb7\x90", "\"\\uFFFD\"");     /* U+FDD0 */
    check_json_string("\xf4\x8f\xbf\xbd", "\"\\uDBFF\\uDFFD\"");
    check_json_string("", "\"\"");
    check_json_string("/ ~", "\"/ ~\"");
}

/* ---- progress ---- */

Test(progress, convert_sequence_matches_qemu)
{
    /* qemu-img convert -p of a 64 MiB raw image: 32 chunks of 2 MiB,
     * step 1.0, then set(100) + end. */
    capture c;
    cli_progress p;
    cli_progress_init(&p, 1, 1.0f);
    p.out = capture_open(&c);
    cli_progress_set(&p, 0);
    for (int i = 1; i <= 32; i++) {
        cli_progress_set(&p, (float)(100.0 * i / 32));
    }
    cli_progress_finish(&p);
    char want[2048] = "";
    static const char *const shown[] = {
        "0.00", "3.12", "6.25", "9.38", "12.50", "15.62", "18.75", "21.88",
        "25.00", "28.12", "31.25", "34.38", "37.50", "40.62", "43.75",
        "46.88", "50.00", "53.12", "56.25", "59.38", "62.50", "65.62",
        "68.75", "71.88", "75.00", "78.12", "81.25", "84.38", "87.50",
        "90.62", "93.75", "96.88", "100.00", "100.00",
    };
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        strcat(want, "    (");
        strcat(want, shown[i]);
        strcat(want, "/100%)\r");
    }
    strcat(want, "\n");
    cr_assert_str_eq(capture_text(&c), want);
    capture_free(&c);
}

Test(progress, init_prints_nothing_and_end_only_newline)
{
    /* qemu-img compare -p of two empty images: "(0.00/100%)\r" is printed
     * by set(0) after opening, then "Images are identical." and end. */
    capture c;
    cli_progress p;
    cli_progress_init(&p, 1, 2.0f);
    p.out = capture_open(&c);
    cli_progress_end(&p);
    cr_assert_str_eq(capture_text(&c), "\n");
    capture_free(&c);
}

Test(progress, redraws_only_after_step)
{
    capture c;
    cli_progress p;
    cli_progress_init(&p, 1, 1.0f);
    p.out = capture_open(&c);
    cli_progress_set(&p, 0.5f);  /* not past 0 + 1 */
    cli_progress_set(&p, 1.0f);  /* equal is not past */
    cli_progress_set(&p, 1.5f);  /* printed */
    cli_progress_set(&p, 2.5f);  /* not past 1.5 + 1 */
    cli_progress_set(&p, 2.75f); /* printed */
    cli_progress_set(&p, 0);     /* 0 always prints */
    cli_progress_set(&p, 150);   /* clamped to 100, always prints */
    cli_progress_set(&p, 100);
    cr_assert_str_eq(capture_text(&c),
                     "    (1.50/100%)\r    (2.75/100%)\r    (0.00/100%)\r"
                     "    (100.00/100%)\r    (100.00/100%)\r");
    capture_free(&c);
}

Test(progress, disabled_prints_nothing)
{
    capture c;
    cli_progress p;
    cli_progress_init(&p, 0, 1.0f);
    p.out = capture_open(&c);
    cli_progress_set(&p, 0);
    cli_progress_set(&p, 50);
    cli_progress_finish(&p);
    cr_assert_str_eq(capture_text(&c), "");
    capture_free(&c);
}

Test(progress, init_defaults_to_stdout)
{
    cli_progress p;
    cli_progress_init(&p, 1, 1.0f);
    cr_assert_eq(p.out, stdout);
    cr_assert_float_eq(p.current, 0.0f, 0.0001);
    cr_assert_float_eq(p.step, 1.0f, 0.0001);
}
