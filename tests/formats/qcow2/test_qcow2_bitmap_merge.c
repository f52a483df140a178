/* tests/formats/qcow2/test_qcow2_bitmap_merge.c -- merging the contents
 * of persistent bitmaps (img_bitmap_change_apply with IMG_BITMAP_MERGE),
 * on memory images whose bitmap tables the tests set by hand: an
 * all-ones entry, data clusters of other granularities, and invalid
 * entries.  The results are read from the image bytes with the tests' own
 * decoder (qcow2_bitmap_bytes.c); the images, from qemu-img and qemu-io,
 * are in tests/cross/qcow2_bitmap_merge.sh.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "libimg/file.h"
#include "libimg/img.h"
#include "qcow2_bitmap_bytes.h"

#define CLUSTER 4096
#define DISK (32ull << 20)

typedef struct mem_img {
    img_file *mem; /* owned by im */
    img *im;
} mem_img;

/* A qcow2 image of disk bytes in memory, open read/write. */
static mem_img make_sized(uint64_t disk, const char *opts)
{
    mem_img m;
    m.mem = img_mem_file_new(NULL, 0, 1);
    const img_driver *drv = img_driver_find("qcow2");
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    img_err err = { 0 };
    cr_assert_eq(img_opts_parse(o, opts, &err), 0, "%s", err.msg);
    img_create_opts co = { .size = disk, .opts = o };
    cr_assert_eq(img_create_file(m.mem, "qcow2", &co, &err), 0, "%s",
                 err.msg);
    img_opts_free(o);
    cr_assert_eq(img_open_file(m.mem, "qcow2",
                               IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK |
                                   IMG_OPEN_QUIET,
                               &m.im, &err),
                 0, "%s", err.msg);
    return m;
}

/* A 32 MiB qcow2 image of 4 KiB clusters. */
static mem_img make(void)
{
    return make_sized(DISK, "cluster_size=4k");
}

static int change(mem_img *m, img_bitmap_op op, const char *name,
                  uint64_t granularity, const char *src_name, img_err *err)
{
    img_bitmap_change c = { .op = op, .name = name,
                            .granularity = granularity, .src = m->im,
                            .src_name = src_name };
    return img_bitmap_change_apply(m->im, &c, err);
}

static void add(mem_img *m, const char *name, uint64_t granularity)
{
    img_err err = { 0 };
    cr_assert_eq(change(m, IMG_BITMAP_ADD, name, granularity, NULL, &err), 0,
                 "add %s: %s", name, err.msg);
}

static void merge_ok(mem_img *m, const char *src, const char *dst)
{
    img_err err = { 0 };
    cr_assert_eq(change(m, IMG_BITMAP_MERGE, dst, 0, src, &err), 0,
                 "merge %s into %s: %s", src, dst, err.msg);
}

static bitmap_bytes find(mem_img *m, const char *name)
{
    size_t len;
    const uint8_t *d = img_mem_file_data(m->mem, &len);
    bitmap_bytes b;
    cr_assert_eq(bitmap_bytes_find(d, len, name, &b), 0, "no bitmap %s",
                 name);
    return b;
}

/* Sets table entry i of bitmap name to e (big-endian, in place). */
static void set_entry(mem_img *m, const char *name, uint32_t i, uint64_t e)
{
    bitmap_bytes b = find(m, name);
    uint8_t raw[8];
    for (int k = 0; k < 8; k++) {
        raw[k] = (uint8_t)(e >> (56 - 8 * k));
    }
    img_err err = { 0 };
    cr_assert_eq(img_file_pwrite(m->mem, raw, 8, b.table_off + i * 8ull,
                                 &err),
                 0, "%s", err.msg);
}

/* Bitmap name has exactly the bits [first, end) set, of nbits. */
static void expect_bits(mem_img *m, const char *name, uint64_t nbits,
                        uint64_t first, uint64_t end)
{
    size_t len;
    const uint8_t *d = img_mem_file_data(m->mem, &len);
    bitmap_bytes b = find(m, name);
    for (uint64_t i = 0; i < nbits; i++) {
        int want = i >= first && i < end;
        cr_assert_eq(bitmap_bytes_bit(d, len, CLUSTER, &b, i), want,
                     "%s: bit %" PRIu64 " should be %d", name, i, want);
    }
}

/* check finds nothing wrong, not even a leak. */
static void expect_clean(mem_img *m)
{
    img_check_result res;
    img_err err = { 0 };
    cr_assert_eq(img_check(m->im, &res, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(res.corruptions + res.leaks + res.check_errors, 0,
                 "%d corruptions, %d leaks", res.corruptions, res.leaks);
}

/* An all-ones table entry of a 512-byte bitmap (the first 16 MiB) sets
 * the first half of a 64 KiB and of a 1 MiB bitmap; that 1 MiB bitmap,
 * now a data cluster, sets the first 16 MiB of a new 512-byte one. */
Test(qcow2_bitmap_merge, areas_carry_across_granularities)
{
    mem_img m = make();
    add(&m, "fine", 512);
    add(&m, "mid", 65536);
    add(&m, "coarse", 1 << 20);
    add(&m, "fine2", 512);
    cr_assert_eq(find(&m, "fine").table_size, 2);
    set_entry(&m, "fine", 0, 1);
    merge_ok(&m, "fine", "mid");
    merge_ok(&m, "fine", "coarse");
    expect_bits(&m, "mid", 512, 0, 256);
    expect_bits(&m, "coarse", 32, 0, 16);
    merge_ok(&m, "coarse", "fine2");
    expect_bits(&m, "fine2", 65536, 0, 32768);
    /* a data cluster, not an all-ones entry; the rest stays unallocated */
    bitmap_bytes f2 = find(&m, "fine2");
    size_t len;
    const uint8_t *d = img_mem_file_data(m.mem, &len);
    cr_assert_gt(bitmap_bytes_entry(d, &f2, 0), 1);
    cr_assert_eq(bitmap_bytes_entry(d, &f2, 1), 0);
    /* merging again changes nothing and allocates nothing */
    size_t before = len;
    merge_ok(&m, "coarse", "fine2");
    img_mem_file_data(m.mem, &len);
    cr_assert_eq(len, before);
    expect_clean(&m);
    img_close(m.im);
}

/* A source bit sets every destination bit its area meets, also when
 * the area only partly covers them. */
Test(qcow2_bitmap_merge, partial_granules_are_set)
{
    mem_img m = make();
    add(&m, "src", 1 << 20);
    add(&m, "dst", 4 << 20);
    add(&m, "back", 1 << 20);
    /* the 1 MiB source gets bits 5 and 6 through dst (all ones) */
    add(&m, "ones", 512);
    set_entry(&m, "ones", 0, 1);
    merge_ok(&m, "ones", "src");
    expect_bits(&m, "src", 32, 0, 16);
    merge_ok(&m, "src", "dst");
    expect_bits(&m, "dst", 8, 0, 4);
    merge_ok(&m, "dst", "back");
    expect_bits(&m, "back", 32, 0, 16);
    expect_clean(&m);
    img_close(m.im);
}

/* A 64 GiB disk whose 512-byte bitmap (2^27 bits, 16 MiB, 256 all-ones
 * entries) merges into another 512-byte one, which then has every bit
 * set: the merge takes the source by runs and sets whole bytes. */
Test(qcow2_bitmap_merge, all_ones_bitmap_merges_by_runs)
{
    uint64_t disk = (uint64_t)64 << 30;
    mem_img m = make_sized(disk, "cluster_size=64k");
    add(&m, "ones", 512);
    add(&m, "dst", 512);
    uint32_t n = find(&m, "ones").table_size;
    cr_assert_eq(n, 256);
    for (uint32_t i = 0; i < n; i++) {
        set_entry(&m, "ones", i, 1);
    }
    merge_ok(&m, "ones", "dst");
    size_t len;
    const uint8_t *d = img_mem_file_data(m.mem, &len);
    bitmap_bytes b = find(&m, "dst");
    uint64_t nbits = disk / 512;
    for (uint64_t i = 0; i < nbits; i += 4099) {
        cr_assert_eq(bitmap_bytes_bit(d, len, 65536, &b, i), 1, "bit %" PRIu64,
                     i);
    }
    cr_assert_eq(bitmap_bytes_bit(d, len, 65536, &b, nbits - 1), 1);
    expect_clean(&m);
    img_close(m.im);
}

/* Table entries with reserved bits, an unaligned offset, an offset past
 * the end of the file, or the all-ones flag on an offset are refused;
 * the destination is left as it was, with nothing leaked. */
Test(qcow2_bitmap_merge, invalid_table_entries_are_refused)
{
    static const uint64_t bad[] = {
        2, 0x0100000000000000ull, 0x1200, 0x40000000000ull, 0x2001,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mem_img m = make();
        add(&m, "src", 512);
        add(&m, "dst", 65536);
        set_entry(&m, "src", 0, 1);
        set_entry(&m, "src", 1, bad[i]);
        img_err err = { 0 };
        cr_assert_lt(change(&m, IMG_BITMAP_MERGE, "dst", 0, "src", &err), 0,
                     "entry %#" PRIx64 " taken", bad[i]);
        cr_assert(strstr(err.msg, "invalid table entry"), "%s", err.msg);
        expect_bits(&m, "dst", 512, 0, 0);
        set_entry(&m, "src", 1, 0);
        expect_clean(&m);
        img_close(m.im);
    }
}

/* QEMU's refusals: an unknown source, a source left in use, a source of
 * another format. */
Test(qcow2_bitmap_merge, refusals)
{
    mem_img m = make();
    add(&m, "dst", 0);
    img_err err = { 0 };
    cr_assert_eq(change(&m, IMG_BITMAP_MERGE, "dst", 0, "nope", &err),
                 -ENOENT);
    cr_assert_str_eq(err.msg, "Dirty bitmap 'nope' not found");
    cr_assert_eq(change(&m, IMG_BITMAP_MERGE, "nope", 0, "dst", &err),
                 -ENOENT);
    cr_assert_str_eq(err.msg, "Dirty bitmap 'nope' not found");

    img *raw = NULL;
    img_file *rf = img_mem_file_new(NULL, 0, 1);
    cr_assert_eq(img_file_truncate(rf, DISK, &err), 0, "%s", err.msg);
    cr_assert_eq(img_open_file(rf, "raw", IMG_OPEN_NO_LOCK, &raw, &err), 0,
                 "%s", err.msg);
    img_bitmap_change c = { .op = IMG_BITMAP_MERGE, .name = "dst",
                            .src = raw, .src_name = "dst" };
    cr_assert_eq(img_bitmap_change_apply(m.im, &c, &err), -ENOENT);
    cr_assert_str_eq(err.msg, "Dirty bitmap 'dst' not found");
    img_close(raw);
    expect_clean(&m);
    img_close(m.im);
}
