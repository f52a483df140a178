/* tests/formats/qcow2/test_qcow2_info.c -- what open records about an
 * image: the format-specific info dict (compared, keys in order, with
 * "qemu-img info --output=json"), cluster size, dirty flag, backing file
 * names and the snapshot directory. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/qcow2/qcow2.h"
#include "libimg/driver.h"
#include "qcow2_oracle.h"
#include "support/tmpdir.h"

/* Compact JSON of a value (strings here need no escaping). */
static void to_json(const img_val *v, char *out, size_t cap, size_t *pos)
{
    size_t n = img_val_count(v);
    switch (img_val_type_of(v)) {
    case IMG_VAL_INT:
        *pos += snprintf(out + *pos, cap - *pos, "%" PRId64, img_val_int(v));
        break;
    case IMG_VAL_UINT:
        *pos += snprintf(out + *pos, cap - *pos, "%" PRIu64,
                         img_val_uint(v));
        break;
    case IMG_VAL_BOOL:
        *pos += snprintf(out + *pos, cap - *pos, "%s",
                         img_val_bool(v) ? "true" : "false");
        break;
    case IMG_VAL_STR:
        *pos += snprintf(out + *pos, cap - *pos, "\"%s\"", img_val_str(v));
        break;
    case IMG_VAL_LIST:
    case IMG_VAL_DICT:
        *pos += snprintf(out + *pos, cap - *pos, "%c",
                         img_val_type_of(v) == IMG_VAL_DICT ? '{' : '[');
        for (size_t i = 0; i < n; i++) {
            if (img_val_type_of(v) == IMG_VAL_DICT) {
                *pos += snprintf(out + *pos, cap - *pos, "\"%s\":",
                                 img_val_key_at(v, i));
            }
            to_json(img_val_at(v, i), out, cap, pos);
            if (i + 1 < n) {
                *pos += snprintf(out + *pos, cap - *pos, ",");
            }
        }
        *pos += snprintf(out + *pos, cap - *pos, "%c",
                         img_val_type_of(v) == IMG_VAL_DICT ? '}' : ']');
        break;
    }
    cr_assert(*pos < cap);
}

/* qemu-img's "format-specific" object with whitespace removed. */
static char *qemu_specific(const char *dir, const char *name)
{
    oracle_sh("cd '%s' && qemu-img info -U --output=json '%s' >info.json",
              dir, name);
    char *path = test_path(dir, "info.json");
    size_t len;
    char *text = (char *)oracle_slurp(path, &len);
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isspace((unsigned char)text[i])) {
            text[j++] = text[i];
        }
    }
    text[j] = '\0';
    char *p = strstr(text, "\"format-specific\":");
    cr_assert_not_null(p, "no format-specific in %s", text);
    p += strlen("\"format-specific\":");
    int depth = 0;
    size_t k = 0;
    do {
        depth += (p[k] == '{') - (p[k] == '}');
        k++;
    } while (depth > 0 && p[k]);
    char *out = strndup(p, k);
    free(text);
    free(path);
    return out;
}

/* Creates dir/i.qcow2 with opts and compares the info dicts. */
static void info_matches(const char *opts)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 %s i.qcow2 1M", dir,
              opts);
    char *path = test_path(dir, "i.qcow2");
    char *want = qemu_specific(dir, "i.qcow2");
    img *im = oracle_open(path);
    img_info info;
    img_err err = { 0 };
    cr_assert_eq(img_get_info(im, &info, &err), 0, "%s", err.msg);
    char got[2048];
    size_t pos = 0;
    to_json(info.format_specific, got, sizeof(got), &pos);
    cr_assert_str_eq(got, want);
    img_info_clear(&info);
    img_close(im);
    free(want);
    free(path);
    test_tmpdir_free(dir);
}

Test(qcow2_info, v3_default_matches_qemu)
{
    info_matches("");
}

Test(qcow2_info, v2_matches_qemu)
{
    info_matches("-o compat=0.10");
}

Test(qcow2_info, zstd_extended_l2_lazy_refcounts_match_qemu)
{
    info_matches("-o compression_type=zstd,extended_l2=on,"
                 "lazy_refcounts=on,refcount_bits=1");
}

Test(qcow2_info, data_file_matches_qemu)
{
    info_matches("-o data_file=i.data");
}

Test(qcow2_info, raw_data_file_matches_qemu)
{
    info_matches("-o data_file=i.data,data_file_raw=on,refcount_bits=64");
}

Test(qcow2_info, cluster_size_dirty_flag_and_backing_are_reported)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f raw b.raw 1M && "
              "qemu-img create -q -f qcow2 -o cluster_size=8k -b b.raw "
              "-F raw o.qcow2 2M", dir);
    char *path = test_path(dir, "o.qcow2");
    img *im = oracle_open(path);
    img_info info;
    cr_assert_eq(img_get_info(im, &info, NULL), 0);
    cr_assert_eq(info.cluster_size, 8192);
    cr_assert_eq(info.has_dirty_flag, 1);
    cr_assert_eq(info.dirty_flag, 0);
    cr_assert_eq(info.encrypted, 0);
    cr_assert_eq(info.virtual_size, 2 << 20);
    img_info_clear(&info);
    cr_assert_str_eq(img_backing_name(im), "b.raw");
    cr_assert_str_eq(img_backing_format(im), "raw");
    cr_assert_eq(img_size(img_backing(im)), 1 << 20);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

Test(qcow2_info, snapshot_directory_is_loaded)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 s.qcow2 1M && "
              "qemu-img snapshot -c first s.qcow2 && "
              "qemu-img snapshot -c 'second one' s.qcow2", dir);
    char *path = test_path(dir, "s.qcow2");
    img *im = oracle_open(path);
    const qcow2_state *s = im->state;
    cr_assert_eq(s->nb_snapshots, 2);
    cr_assert_str_eq(s->snapshots[0].id, "1");
    cr_assert_str_eq(s->snapshots[0].name, "first");
    cr_assert_str_eq(s->snapshots[1].id, "2");
    cr_assert_str_eq(s->snapshots[1].name, "second one");
    cr_assert_eq(s->snapshots[1].disk_size, 1 << 20);
    cr_assert_eq(s->snapshots[1].vm_state_size, 0);
    cr_assert_neq(s->snapshots[0].l1_offset, 0);
    cr_assert_gt(s->snapshots[0].date_sec, 0);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

/* QEMU's heuristic, as seen through block status: preallocated metadata
 * makes file holes read as zero; an ordinary image is not flagged. */
static int detects_prealloc(const char *opts)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 %s p.qcow2 8M && "
              "qemu-io -f qcow2 -c 'write -P 1 0 64k' p.qcow2 >/dev/null",
              dir, opts);
    char *path = test_path(dir, "p.qcow2");
    img *im = oracle_open(path);
    uint64_t pnum, host;
    int r = img_block_status(im, 0, img_size(im), &pnum, &host, NULL);
    cr_assert(r & IMG_BS_DATA);
    const qcow2_state *s = im->state;
    cr_assert_eq(s->prealloc_checked, 1);
    int found = s->metadata_prealloc;
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
    return found;
}

Test(qcow2_info, metadata_preallocation_is_detected)
{
    cr_assert_eq(detects_prealloc("-o preallocation=metadata"), 1);
    cr_assert_eq(detects_prealloc(""), 0);
    cr_assert_eq(detects_prealloc("-o preallocation=full"), 0);
}
