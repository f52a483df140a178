/* tests/formats/qcow2/qcow2_oracle.c -- see qcow2_oracle.h. */
#include "qcow2_oracle.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/tmpdir.h"
#include "support/tools.h"

/* One line of "qemu-img map --output=json". */
typedef struct map_entry {
    uint64_t start, length, offset;
    int present, zero, data, has_offset;
} map_entry;

void oracle_require_qemu(void)
{
    test_require_qemu();
}

void oracle_sh(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    test_vsh_ok(fmt, ap);
    va_end(ap);
}

uint8_t *oracle_slurp(const char *path, size_t *len)
{
    return test_slurp(path, len);
}

img *oracle_open(const char *path)
{
    img *im = NULL;
    img_err err = { 0 };
    int r = img_open(path, NULL, IMG_OPEN_QUIET, &im, &err);
    cr_assert_eq(r, 0, "open %s: %s", path, err.msg);
    cr_assert_str_eq(img_format(im), "qcow2");
    return im;
}

/* Reads [off, off + len) and compares it with the reference bytes. */
static void compare_range(img *im, const uint8_t *ref, uint8_t *buf,
                          uint64_t off, uint64_t len)
{
    img_err err = { 0 };
    int r = img_pread(im, buf, len, off, &err);
    cr_assert_eq(r, 0, "pread at %" PRIu64 ": %s", off, err.msg);
    if (memcmp(buf, ref + off, len) == 0) {
        return;
    }
    uint64_t i = 0;
    while (buf[i] == ref[off + i]) {
        i++;
    }
    cr_assert_fail("byte %" PRIu64 " differs: %#x instead of %#x", off + i,
                   buf[i], ref[off + i]);
}

/* Whole image in big chunks, then in odd-sized ones that straddle
 * cluster and subcluster boundaries. */
void oracle_check_content(img *im, const char *path)
{
    char *raw_path = NULL;
    cr_assert(asprintf(&raw_path, "%s.raw", path) > 0);
    /* QEMU resolves a relative data file name against its working
     * directory; we resolve it against the image's directory. */
    oracle_sh("cd \"$(dirname '%s')\" && qemu-img convert -U -O raw '%s' "
              "'%s'", path, path, raw_path);
    size_t len;
    uint8_t *ref = oracle_slurp(raw_path, &len);
    cr_assert_eq(img_size(im), len, "virtual size %" PRIu64 " vs %zu",
                 img_size(im), len);
    static const uint64_t chunks[] = { 1 << 20, 12345 };
    uint8_t *buf = malloc(1 << 20);
    cr_assert_not_null(buf);
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        for (uint64_t off = 0; off < len; off += chunks[c]) {
            uint64_t n = len - off < chunks[c] ? len - off : chunks[c];
            compare_range(im, ref, buf, off, n);
        }
    }
    free(buf);
    free(ref);
    free(raw_path);
}

/* Reads a "key": value field of a map line; 0 when absent. */
static int map_field(const char *line, const char *key, uint64_t *num,
                     int *flag)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    const char *p = strstr(line, pat);
    if (!p) {
        return 0;
    }
    p += strlen(pat);
    if (flag) {
        *flag = !strncmp(p, "true", 4);
    } else {
        *num = strtoull(p, NULL, 10);
    }
    return 1;
}

static size_t parse_map(char *text, map_entry *out, size_t max)
{
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        map_entry e = { 0 };
        if (!map_field(line, "start", &e.start, NULL)) {
            continue;
        }
        cr_assert(n < max, "too many map entries");
        map_field(line, "length", &e.length, NULL);
        map_field(line, "present", NULL, &e.present);
        map_field(line, "zero", NULL, &e.zero);
        map_field(line, "data", NULL, &e.data);
        e.has_offset = map_field(line, "offset", &e.offset, NULL);
        out[n++] = e;
    }
    return n;
}

/* Our status over one map entry, possibly in several pieces. */
static void compare_entry(img *im, const map_entry *e)
{
    uint64_t pos = e->start, end = e->start + e->length;
    while (pos < end) {
        uint64_t pnum = 0, host = 0;
        int depth = 0;
        img *file_img = NULL;
        img_err err = { 0 };
        int r = img_block_status_above(im, NULL, pos, end - pos, &pnum,
                                       &host, &depth, &file_img, &err);
        cr_assert(r >= 0, "block status at %" PRIu64 ": %s", pos, err.msg);
        cr_assert_eq(!!(r & IMG_BS_DATA), e->data, "data flag at %" PRIu64,
                     pos);
        cr_assert_eq(!!(r & IMG_BS_ZERO), e->zero, "zero flag at %" PRIu64,
                     pos);
        if (e->present && e->has_offset) {
            cr_assert(r & IMG_BS_OFFSET_VALID, "no offset at %" PRIu64, pos);
            cr_assert_eq(host, e->offset + (pos - e->start),
                         "host offset at %" PRIu64, pos);
        }
        pos += pnum;
    }
}

void oracle_check_map(img *im, const char *path)
{
    char *map_path = NULL;
    cr_assert(asprintf(&map_path, "%s.map", path) > 0);
    oracle_sh("cd \"$(dirname '%s')\" && qemu-img map -U --output=json "
              "'%s' >'%s'", path, path, map_path);
    size_t len;
    char *text = (char *)oracle_slurp(map_path, &len);
    enum { MAX_ENTRIES = 65536 };
    map_entry *entries = calloc(MAX_ENTRIES, sizeof(*entries));
    cr_assert_not_null(entries);
    size_t n = parse_map(text, entries, MAX_ENTRIES);
    cr_assert(n > 0, "empty map for %s", path);
    uint64_t covered = 0;
    for (size_t i = 0; i < n; i++) {
        compare_entry(im, &entries[i]);
        covered += entries[i].length;
    }
    cr_assert_eq(covered, img_size(im), "map does not cover the image");
    free(entries);
    free(text);
    free(map_path);
}

void oracle_check_image(const char *dir, const char *name)
{
    char *path = test_path(dir, name);
    img *im = oracle_open(path);
    oracle_check_content(im, path);
    oracle_check_map(im, path);
    img_close(im);
    free(path);
}
