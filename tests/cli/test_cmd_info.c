/* tests/cli/test_cmd_info.c -- the printing half of cli/cmd_info.c.
 *
 * Raw images have no format-specific information and no backing file, so
 * the golden and cross tests cannot reach QEMU's QDict member order, the
 * nested "Format specific information:" dump or the backing-file lines.
 * These tests build the value trees a qcow2 or vmdk driver would report
 * (members in QAPI declaration order, as a driver adds them) and compare
 * what cmd_info.c prints with the real qemu-img 7.2 output for such images
 * ("qemu-img create -f qcow2" + "qemu-img bitmap --add", "qemu-img create
 * -f vmdk", and a qcow2 -> qcow2 -> raw chain).
 *
 * cmd_info.c is included so that its static functions can be called.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_info.c"

/* cmd_info.c only asks for its own usage line ("info -h"). */
const cli_command *cli_find_command(const char *name)
{
    (void)name;
    return NULL;
}

/* ---- helpers ---- */

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

/* Closes the stream; the text stays valid until capture_free. */
static const char *capture_text(capture *c)
{
    fclose(c->f);
    return c->buf;
}

static void capture_free(capture *c)
{
    free(c->buf);
}

/* What print_human() writes for info (reordered first, as cmd_info does). */
static void expect_human(const img_val *info, const char *want)
{
    capture c;
    img_val *ordered = info_qdict_order(info);
    cr_assert_not_null(ordered);
    print_human(capture_open(&c), ordered);
    cr_expect_str_eq(capture_text(&c), want);
    capture_free(&c);
    img_val_free(ordered);
}

static void expect_json(const img_val *info, const char *want)
{
    capture c;
    img_val *ordered = info_qdict_order(info);
    cr_assert_not_null(ordered);
    cli_json_print(capture_open(&c), ordered);
    cr_expect_str_eq(capture_text(&c), want);
    capture_free(&c);
    img_val_free(ordered);
}

/* The common ImageInfo members, in QAPI order. */
static img_val *info_new(const char *filename, const char *format,
                         int64_t actual, int64_t virt, int64_t cluster)
{
    img_val *d = img_val_dict_new();
    img_val_dict_set_str(d, "filename", filename);
    img_val_dict_set_str(d, "format", format);
    img_val_dict_set_bool(d, "dirty-flag", 0);
    img_val_dict_set_int(d, "actual-size", actual);
    img_val_dict_set_int(d, "virtual-size", virt);
    img_val_dict_set_int(d, "cluster-size", cluster);
    return d;
}

static void set_specific(img_val *info, const char *type, img_val *data)
{
    img_val *spec = img_val_dict_new();
    img_val_dict_set_str(spec, "type", type);
    img_val_dict_set(spec, "data", data);
    img_val_dict_set(info, "format-specific", spec);
}

/* ImageInfoSpecificQCow2 (compat 1.1, as qemu-img create makes it). */
static img_val *qcow2_data(img_val *bitmaps)
{
    img_val *d = img_val_dict_new();
    img_val_dict_set_str(d, "compat", "1.1");
    img_val_dict_set_bool(d, "extended-l2", 0);
    img_val_dict_set_bool(d, "lazy-refcounts", 0);
    img_val_dict_set_bool(d, "corrupt", 0);
    img_val_dict_set_int(d, "refcount-bits", 16);
    img_val_dict_set(d, "bitmaps", bitmaps);
    img_val_dict_set_str(d, "compression-type", "zlib");
    return d;
}

static img_val *bitmap_new(const char *name, int64_t granularity,
                           const char *flag)
{
    img_val *b = img_val_dict_new();
    img_val *flags = img_val_list_new();
    img_val_dict_set_str(b, "name", name);
    img_val_dict_set_int(b, "granularity", granularity);
    if (flag) {
        img_val_list_append(flags, img_val_str_new(flag));
    }
    img_val_dict_set(b, "flags", flags);
    return b;
}

/* bm.qcow2: two bitmaps, b2 disabled (no flags). */
static img_val *qcow2_bitmaps_info(void)
{
    img_val *bitmaps = img_val_list_new();
    img_val_list_append(bitmaps, bitmap_new("b1", 65536, "auto"));
    img_val_list_append(bitmaps, bitmap_new("b2", 131072, NULL));
    img_val *info = info_new("bm.qcow2", "qcow2", 229376, 1048576, 65536);
    set_specific(info, "qcow2", qcow2_data(bitmaps));
    return info;
}

/* ---- QEMU's QDict order ---- */

Test(cmd_info, top_level_members_in_qdict_order)
{
    static const char *const want[] = {
        "backing-filename-format",
        "virtual-size",
        "filename",
        "cluster-size",
        "format",
        "actual-size",
        "format-specific",
        "full-backing-filename",
        "backing-filename",
        "dirty-flag",
    };
    img_val *info = info_new("top.qcow2", "qcow2", 200704, 1048576, 65536);
    img_val_dict_set_str(info, "backing-filename", "a.img");
    img_val_dict_set_str(info, "full-backing-filename", "a.img");
    img_val_dict_set_str(info, "backing-filename-format", "raw");
    set_specific(info, "qcow2", qcow2_data(img_val_list_new()));
    img_val *ordered = info_qdict_order(info);
    cr_assert_eq(img_val_count(ordered), 10);
    for (size_t i = 0; i < 10; i++) {
        cr_expect_str_eq(img_val_key_at(ordered, i), want[i]);
    }
    img_val_free(ordered);
    img_val_free(info);
}

Test(cmd_info, order_is_deep_and_copies_values)
{
    img_val *info = qcow2_bitmaps_info();
    img_val *ordered = info_qdict_order(info);
    const img_val *data =
        img_val_dict_get(img_val_dict_get(ordered, "format-specific"), "data");
    const img_val *b1 = img_val_at(img_val_dict_get(data, "bitmaps"), 0);
    cr_expect_str_eq(img_val_key_at(b1, 0), "flags");
    cr_expect_str_eq(img_val_key_at(b1, 1), "name");
    cr_expect_str_eq(img_val_key_at(b1, 2), "granularity");
    img_val_free(info); /* the copy must not share anything */
    cr_expect_eq(img_val_int(img_val_dict_get(b1, "granularity")), 65536);
    cr_expect_str_eq(img_val_str(img_val_dict_get(b1, "name")), "b1");
    img_val_free(ordered);
}

/* ---- human output ---- */

Test(cmd_info, qcow2_bitmaps_human)
{
    img_val *info = qcow2_bitmaps_info();
    expect_human(info, "image: bm.qcow2\n"
                       "file format: qcow2\n"
                       "virtual size: 1 MiB (1048576 bytes)\n"
                       "disk size: 224 KiB\n"
                       "cluster_size: 65536\n"
                       "Format specific information:\n"
                       "    compat: 1.1\n"
                       "    compression type: zlib\n"
                       "    lazy refcounts: false\n"
                       "    bitmaps:\n"
                       "        [0]:\n"
                       "            flags:\n"
                       "                [0]: auto\n"
                       "            name: b1\n"
                       "            granularity: 65536\n"
                       "        [1]:\n"
                       "            flags:\n"
                       "            name: b2\n"
                       "            granularity: 131072\n"
                       "    refcount bits: 16\n"
                       "    corrupt: false\n"
                       "    extended l2: false\n");
    img_val_free(info);
}

Test(cmd_info, qcow2_bitmaps_json)
{
    img_val *info = qcow2_bitmaps_info();
    expect_json(info, "{\n"
                      "    \"virtual-size\": 1048576,\n"
                      "    \"filename\": \"bm.qcow2\",\n"
                      "    \"cluster-size\": 65536,\n"
                      "    \"format\": \"qcow2\",\n"
                      "    \"actual-size\": 229376,\n"
                      "    \"format-specific\": {\n"
                      "        \"type\": \"qcow2\",\n"
                      "        \"data\": {\n"
                      "            \"compat\": \"1.1\",\n"
                      "            \"compression-type\": \"zlib\",\n"
                      "            \"lazy-refcounts\": false,\n"
                      "            \"bitmaps\": [\n"
                      "                {\n"
                      "                    \"flags\": [\n"
                      "                        \"auto\"\n"
                      "                    ],\n"
                      "                    \"name\": \"b1\",\n"
                      "                    \"granularity\": 65536\n"
                      "                },\n"
                      "                {\n"
                      "                    \"flags\": [\n"
                      "                    ],\n"
                      "                    \"name\": \"b2\",\n"
                      "                    \"granularity\": 131072\n"
                      "                }\n"
                      "            ],\n"
                      "            \"refcount-bits\": 16,\n"
                      "            \"corrupt\": false,\n"
                      "            \"extended-l2\": false\n"
                      "        }\n"
                      "    },\n"
                      "    \"dirty-flag\": false\n"
                      "}\n");
    img_val_free(info);
}

/* x.vmdk: a monolithicSparse image; its extent's format is "". */
static img_val *vmdk_info(void)
{
    img_val *extent = img_val_dict_new();
    img_val_dict_set_str(extent, "filename", "x.vmdk");
    img_val_dict_set_str(extent, "format", "");
    img_val_dict_set_int(extent, "virtual-size", 1048576);
    img_val_dict_set_int(extent, "cluster-size", 65536);
    img_val *extents = img_val_list_new();
    img_val_list_append(extents, extent);
    img_val *data = img_val_dict_new();
    img_val_dict_set_str(data, "create-type", "monolithicSparse");
    img_val_dict_set_uint(data, "cid", 4006695364u);
    img_val_dict_set_uint(data, "parent-cid", 4294967295u);
    img_val_dict_set(data, "extents", extents);
    img_val *info = info_new("x.vmdk", "vmdk", 12288, 1048576, 65536);
    set_specific(info, "vmdk", data);
    return info;
}

Test(cmd_info, vmdk_extents_human)
{
    img_val *info = vmdk_info();
    expect_human(info, "image: x.vmdk\n"
                       "file format: vmdk\n"
                       "virtual size: 1 MiB (1048576 bytes)\n"
                       "disk size: 12 KiB\n"
                       "cluster_size: 65536\n"
                       "Format specific information:\n"
                       "    cid: 4006695364\n"
                       "    parent cid: 4294967295\n"
                       "    create type: monolithicSparse\n"
                       "    extents:\n"
                       "        [0]:\n"
                       "            virtual size: 1048576\n"
                       "            filename: x.vmdk\n"
                       "            cluster size: 65536\n"
                       "            format: \n");
    img_val_free(info);
}

Test(cmd_info, vmdk_extents_json)
{
    img_val *info = vmdk_info();
    expect_json(info, "{\n"
                      "    \"virtual-size\": 1048576,\n"
                      "    \"filename\": \"x.vmdk\",\n"
                      "    \"cluster-size\": 65536,\n"
                      "    \"format\": \"vmdk\",\n"
                      "    \"actual-size\": 12288,\n"
                      "    \"format-specific\": {\n"
                      "        \"type\": \"vmdk\",\n"
                      "        \"data\": {\n"
                      "            \"cid\": 4006695364,\n"
                      "            \"parent-cid\": 4294967295,\n"
                      "            \"create-type\": \"monolithicSparse\",\n"
                      "            \"extents\": [\n"
                      "                {\n"
                      "                    \"virtual-size\": 1048576,\n"
                      "                    \"filename\": \"x.vmdk\",\n"
                      "                    \"cluster-size\": 65536,\n"
                      "                    \"format\": \"\"\n"
                      "                }\n"
                      "            ]\n"
                      "        }\n"
                      "    },\n"
                      "    \"dirty-flag\": false\n"
                      "}\n");
    img_val_free(info);
}

/* sub/mid.qcow2 of a chain sub/top2.qcow2 -> sub/mid.qcow2 -> a.img,
 * backing file stored as "../a.img". */
Test(cmd_info, backing_file_with_actual_path)
{
    img_val *info = info_new("sub/mid.qcow2", "qcow2", 200704, 1048576, 65536);
    img_val_dict_set_str(info, "backing-filename", "../a.img");
    img_val_dict_set_str(info, "full-backing-filename", "sub/../a.img");
    img_val_dict_set_str(info, "backing-filename-format", "raw");
    set_specific(info, "qcow2", qcow2_data(NULL));
    expect_human(info, "image: sub/mid.qcow2\n"
                       "file format: qcow2\n"
                       "virtual size: 1 MiB (1048576 bytes)\n"
                       "disk size: 196 KiB\n"
                       "cluster_size: 65536\n"
                       "backing file: ../a.img (actual path: sub/../a.img)\n"
                       "backing file format: raw\n"
                       "Format specific information:\n"
                       "    compat: 1.1\n"
                       "    compression type: zlib\n"
                       "    lazy refcounts: false\n"
                       "    refcount bits: 16\n"
                       "    corrupt: false\n"
                       "    extended l2: false\n");
    img_val_free(info);
}

/* top.qcow2 over a.img: the same name needs no "(actual path: ...)". */
Test(cmd_info, backing_file_same_path_json)
{
    img_val *info = info_new("top.qcow2", "qcow2", 200704, 1048576, 65536);
    img_val_dict_set_str(info, "backing-filename", "a.img");
    img_val_dict_set_str(info, "full-backing-filename", "a.img");
    img_val_dict_set_str(info, "backing-filename-format", "raw");
    set_specific(info, "qcow2", qcow2_data(NULL));
    expect_json(info, "{\n"
                      "    \"backing-filename-format\": \"raw\",\n"
                      "    \"virtual-size\": 1048576,\n"
                      "    \"filename\": \"top.qcow2\",\n"
                      "    \"cluster-size\": 65536,\n"
                      "    \"format\": \"qcow2\",\n"
                      "    \"actual-size\": 200704,\n"
                      "    \"format-specific\": {\n"
                      "        \"type\": \"qcow2\",\n"
                      "        \"data\": {\n"
                      "            \"compat\": \"1.1\",\n"
                      "            \"compression-type\": \"zlib\",\n"
                      "            \"lazy-refcounts\": false,\n"
                      "            \"refcount-bits\": 16,\n"
                      "            \"corrupt\": false,\n"
                      "            \"extended-l2\": false\n"
                      "        }\n"
                      "    },\n"
                      "    \"full-backing-filename\": \"a.img\",\n"
                      "    \"backing-filename\": \"a.img\",\n"
                      "    \"dirty-flag\": false\n"
                      "}\n");
    img_val_free(info);
}
