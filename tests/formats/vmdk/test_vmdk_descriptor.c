/* tests/formats/vmdk/test_vmdk_descriptor.c -- the descriptor parser and
 * writer (formats/vmdk/vmdk_descriptor.c): header keys, extent lines,
 * quoting, CRLF, comments, the limits on untrusted text, duplicate keys,
 * probing as QEMU probes, and a format/parse round trip.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/vmdk/vmdk.h"

static vmdk_desc parse_ok(const char *text)
{
    vmdk_desc d;
    img_err err = { 0 };
    int r = vmdk_desc_parse(text, strlen(text), &d, &err);
    cr_assert_eq(r, 0, "parse failed: %s", err.msg);
    return d;
}

static img_err parse_fails(const char *text)
{
    vmdk_desc d;
    img_err err = { 0 };
    int r = vmdk_desc_parse(text, strlen(text), &d, &err);
    cr_assert_lt(r, 0, "parse of %s should fail", text);
    cr_assert_eq(-r, err.code);
    return err;
}

Test(vmdk_descriptor, header_and_extents)
{
    vmdk_desc d = parse_ok(
        "# Disk DescriptorFile\nversion=1\nCID=a07ae884\n"
        "parentCID=ffffffff\ncreateType=\"monolithicFlat\"\n"
        "parentFileNameHint=\"base dir/b.vmdk\"\n\n# Extent description\n"
        "RW 6291456 FLAT \"x y-flat.vmdk\" 0\nRDONLY 100 SPARSE \"s.vmdk\"\n"
        "NOACCESS 7 ZERO\nRW 9 VMFS \"v.vmdk\" 12\n"
        "RW 3 VMFSSPARSE \"d.vmdk\"\n\nddb.adapterType = \"ide\"\n");
    cr_assert_eq(d.version, 1);
    cr_assert_eq(d.cid, 0xa07ae884u);
    cr_assert_eq(d.parent_cid, 0xffffffffu);
    cr_assert_str_eq(d.create_type, "monolithicFlat");
    cr_assert_str_eq(d.parent_hint, "base dir/b.vmdk");
    cr_assert_eq(d.n_extents, 5);
    cr_assert_eq(d.extents[0].access, VMDK_ACCESS_RW);
    cr_assert_eq(d.extents[0].sectors, 6291456);
    cr_assert_eq(d.extents[0].type, VMDK_EXT_FLAT);
    cr_assert_str_eq(d.extents[0].name, "x y-flat.vmdk");
    cr_assert_eq(d.extents[1].access, VMDK_ACCESS_RDONLY);
    cr_assert_eq(d.extents[1].type, VMDK_EXT_SPARSE);
    cr_assert_eq(d.extents[2].access, VMDK_ACCESS_NOACCESS);
    cr_assert_eq(d.extents[2].type, VMDK_EXT_ZERO);
    cr_assert_null(d.extents[2].name);
    cr_assert_eq(d.extents[3].type, VMDK_EXT_VMFS);
    cr_assert_eq(d.extents[3].offset, 12);
    cr_assert_eq(d.extents[4].type, VMDK_EXT_VMFSSPARSE);
    vmdk_desc_clear(&d);
}

Test(vmdk_descriptor, crlf_blanks_and_unknown_lines)
{
    vmdk_desc d = parse_ok(
        "  version = 2 \r\n\tCID = 0000000f\r\ncreateType =  "
        "\"streamOptimized\" \r\nisNativeSnapshot=\"no\"\r\nsome junk\r\n"
        "  RW\t2048\tSPARSE\t\"a.vmdk\"\r\n");
    cr_assert_eq(d.version, 2);
    cr_assert_eq(d.cid, 15);
    cr_assert_str_eq(d.create_type, "streamOptimized");
    cr_assert_eq(d.n_extents, 1);
    cr_assert_str_eq(d.extents[0].name, "a.vmdk");
    vmdk_desc_clear(&d);
}

Test(vmdk_descriptor, nul_ends_the_text)
{
    const char text[] = "version=1\nCID=1\n\0RW 1 FLAT \"x\"\n";
    vmdk_desc d;
    cr_assert_eq(vmdk_desc_parse(text, sizeof(text), &d, NULL), 0);
    cr_assert_eq(d.n_extents, 0);
    vmdk_desc_clear(&d);
}

Test(vmdk_descriptor, bad_extent_lines_refused)
{
    parse_fails("version=1\nRW -5 FLAT \"x\"\n");
    parse_fails("version=1\nRW 99999999999999999999 FLAT \"x\"\n");
    parse_fails("version=1\nRW 274877906945 FLAT \"x\"\n"); /* > 64 TiB */
    parse_fails("version=1\nRW 10 FLAT x\n");
    parse_fails("version=1\nRW 10 FLAT \"x\n");
    parse_fails("version=1\nRW 10 FLAT \"\"\n");
    parse_fails("version=1\nRW 10 FLAT \"x\" 5 junk\n");
    parse_fails("version=1\nRW 10 SPARSE \"x\" 5\n");
    parse_fails("version=1\nRW 10 FLAT \"a\tb\"\n");
    img_err e = parse_fails("version=1\nRW 10 VMFSRDM \"x\"\n");
    cr_assert_eq(e.code, ENOTSUP);
    cr_assert(strstr(e.msg, "VMFSRDM"), "%s", e.msg);
}

Test(vmdk_descriptor, keys_checked)
{
    parse_fails("CID=1\n"); /* no version */
    parse_fails("version=4\n");
    parse_fails("version=1\nCID=123456789\n");
    parse_fails("version=1\nCID=xyz\n");
    img_err e = parse_fails("version=1\ncreateType=\"monolithicSparse\"\n"
                            "createType=\"monolithicFlat\"\n");
    cr_assert(strstr(e.msg, "duplicate"), "%s", e.msg);
    parse_fails("version=1\nCID=1\nCID=2\n");
    parse_fails("version=1\nparentFileNameHint=\"a\"\n"
                "parentFileNameHint=\"b\"\n");
    parse_fails("version=1\nversion=1\n");
    parse_fails("version=1\ncreateType=\"\"\n");
}

Test(vmdk_descriptor, extent_count_capped)
{
    size_t n = VMDK_MAX_EXTENTS + 1, cap = 32 + n * 20;
    char *text = malloc(cap), *p = text;
    p += sprintf(p, "version=1\n");
    for (size_t i = 0; i < n; i++) {
        p += sprintf(p, "RW 1 ZERO\n");
    }
    vmdk_desc d;
    img_err err = { 0 };
    cr_assert_eq(vmdk_desc_parse(text, strlen(text), &d, &err), -E2BIG);
    text[strlen(text) - strlen("RW 1 ZERO\n")] = '\0';
    cr_assert_eq(vmdk_desc_parse(text, strlen(text), &d, &err), 0);
    cr_assert_eq(d.n_extents, VMDK_MAX_EXTENTS);
    vmdk_desc_clear(&d);
    free(text);
}

Test(vmdk_descriptor, probe_like_qemu)
{
    const char *yes[] = { "version=1\n", "# Disk DescriptorFile\nversion=2\n",
                          "   \r\nversion=3\r\n", "#x\n#y\n   \nversion=1\n" };
    const char *no[] = { "\nversion=1\n", "version=4\n", "CID=1\n",
                         "version=1", "xversion=1\n" };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        cr_assert_eq(vmdk_desc_probe((const uint8_t *)yes[i], strlen(yes[i])),
                     100, "%s", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        cr_assert_eq(vmdk_desc_probe((const uint8_t *)no[i], strlen(no[i])),
                     0, "%s", no[i]);
    }
}

Test(vmdk_descriptor, format_parses_back)
{
    uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
    vmdk_desc_extent x[2] = {
        { .sectors = 4194304, .type = VMDK_EXT_FLAT, .name = "a-f001.vmdk" },
        { .sectors = 100, .type = VMDK_EXT_FLAT, .name = "a-f002.vmdk" },
    };
    vmdk_desc_out o = {
        .cid = 0xdeadbeef, .parent_cid = 0x12, .create_type =
        "twoGbMaxExtentFlat", .parent_hint = "p.vmdk", .extents = x,
        .n_extents = 2, .hwversion = "4", .adapter = "lsilogic",
        .tools = "2147483647", .sectors = 4194404, .uuid = uuid,
    };
    char *text = vmdk_desc_format(&o);
    cr_assert_not_null(text);
    cr_assert(strstr(text, "ddb.geometry.cylinders = \"261\"\n"), "%s",
              text);
    cr_assert(strstr(text, "ddb.geometry.heads = \"255\"\n"));
    cr_assert(strstr(text, "ddb.toolsVersion = \"2147483647\"\n"));
    cr_assert(strstr(text, "ddb.longContentID = \"0102030405060708090a0b0c"
                           "deadbeef\"\n"), "%s", text);
    cr_assert(strstr(text, "ddb.uuid = \"01 02 03 04 05 06 07 08 09 0a 0b "
                           "0c 0d 0e 0f 00\"\n"), "%s", text);
    vmdk_desc d = parse_ok(text);
    cr_assert_eq(d.cid, 0xdeadbeef);
    cr_assert_eq(d.parent_cid, 0x12);
    cr_assert_str_eq(d.parent_hint, "p.vmdk");
    cr_assert_eq(d.n_extents, 2);
    cr_assert_eq(d.extents[1].sectors, 100);
    vmdk_desc_clear(&d);
    char *t2 = vmdk_desc_set_cid(text, strlen(text), 0x0badf00d);
    cr_assert_not_null(t2);
    cr_assert_eq(strlen(t2), strlen(text), "same length");
    d = parse_ok(t2);
    cr_assert_eq(d.cid, 0x0badf00d);
    cr_assert_eq(d.parent_cid, 0x12, "parentCID untouched");
    vmdk_desc_clear(&d);
    free(t2);
    free(text);
}

Test(vmdk_descriptor, ide_geometry_capped)
{
    uint8_t uuid[16] = { 0 };
    vmdk_desc_extent x = { .sectors = 1, .type = VMDK_EXT_SPARSE,
                           .name = "a" };
    vmdk_desc_out o = { .create_type = "monolithicSparse", .extents = &x,
                        .n_extents = 1, .hwversion = "4", .adapter = "ide",
                        .tools = "1", .sectors = 100ull << 21, .uuid = uuid };
    char *text = vmdk_desc_format(&o);
    cr_assert(strstr(text, "ddb.geometry.cylinders = \"16383\"\n"), "%s",
              text);
    cr_assert(strstr(text, "ddb.geometry.heads = \"16\"\n"));
    free(text);
}
