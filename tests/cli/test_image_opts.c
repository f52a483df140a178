/* tests/cli/test_image_opts.c -- cli_image_opts_parse: which file and
 * format an --image-opts string names, QEMU's quoting, and the keys and
 * forms it refuses with a message. */
#include <criterion/criterion.h>
#include <string.h>

#include "cli/cli.h"

/* Parses spec, expecting success; the caller frees *ref. */
static void parse_ok(const char *spec, cli_image_ref *ref)
{
    img_err err = { 0 };
    int r = cli_image_opts_parse(spec, ref, &err);
    cr_assert_eq(r, 0, "%s: %s", spec, err.msg);
}

/* Parses spec, expecting failure with a message containing want. */
static void parse_fails(const char *spec, const char *want)
{
    cli_image_ref ref;
    img_err err = { 0 };
    cr_assert_lt(cli_image_opts_parse(spec, &ref, &err), 0,
                 "%s was accepted", spec);
    cr_assert(strstr(err.msg, want), "%s: message '%s' lacks '%s'", spec,
              err.msg, want);
    cr_assert_null(ref.filename);
    cr_assert_null(ref.fmt);
}

Test(image_opts, driver_and_file_filename)
{
    cli_image_ref ref;
    parse_ok("driver=qcow2,file.filename=/tmp/a.qcow2", &ref);
    cr_assert_str_eq(ref.filename, "/tmp/a.qcow2");
    cr_assert_str_eq(ref.fmt, "qcow2");
    cr_assert_eq(ref.read_only, 0);
    cli_image_ref_free(&ref);
}

Test(image_opts, no_driver_probes)
{
    cli_image_ref ref;
    parse_ok("file.driver=file,file.filename=disk.img", &ref);
    cr_assert_str_eq(ref.filename, "disk.img");
    cr_assert_null(ref.fmt);
    cli_image_ref_free(&ref);
}

Test(image_opts, protocol_driver_is_raw)
{
    cli_image_ref ref;
    parse_ok("driver=file,filename=disk.qcow2", &ref);
    cr_assert_str_eq(ref.filename, "disk.qcow2");
    cr_assert_str_eq(ref.fmt, "raw");
    cli_image_ref_free(&ref);
}

Test(image_opts, double_comma_is_a_comma_and_last_key_wins)
{
    cli_image_ref ref;
    parse_ok("driver=raw,file.filename=a,,b.img,read-only=off,"
             "read-only=on",
             &ref);
    cr_assert_str_eq(ref.filename, "a,b.img");
    cr_assert_eq(ref.read_only, 1);
    cli_image_ref_free(&ref);
}

Test(image_opts, unknown_keys_are_refused)
{
    parse_fails("driver=qcow2,file.filename=a,foo=1",
                "Block format 'qcow2' does not support the option 'foo'");
    parse_fails("driver=qcow2,file.filename=a,file.aio=native",
                "Block protocol 'file' doesn't support the option 'aio'");
    parse_fails("driver=qcow2,file.filename=a,backing.file.filename=/etc/x",
                "does not support the option 'backing.file.filename'");
}

Test(image_opts, missing_or_remote_file_is_refused)
{
    parse_fails("driver=qcow2",
                "A block device must be specified for \"file\"");
    parse_fails("driver=qcow2,filename=a.qcow2",
                "A block device must be specified for \"file\"");
    parse_fails("driver=qcow2,file.driver=nbd,file.filename=a",
                "Protocol driver 'nbd' is not supported");
    parse_fails("driver=file", "requires a file name");
}

Test(image_opts, bare_words_and_bad_values_are_refused)
{
    parse_fails("a.qcow2", "'a.qcow2' is not a key=value option");
    parse_fails("driver=raw,file.filename=a,x", "'x' is not a key=value");
    parse_fails("driver=raw,file.filename=a,read-only=maybe",
                "expects 'on' or 'off'");
}
