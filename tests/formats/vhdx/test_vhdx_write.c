/* tests/formats/vhdx/test_vhdx_write.c -- images we create and write:
 * random unaligned writes and zero writes reread after reopening equal the
 * expected bytes, pass "qemu-img check" and "qemu-img compare", keep the
 * spec's required bits and guids, stay sparse, and the create options
 * behave as qemu-img's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/vhdx/vhdx.h"
#include "support/tmpdir.h"
#include "vhdx_testlib.h"

#define MIB (1u << 20)

/* Writes buf to path (the expected raw image). */
static void save_raw(const char *path, const uint8_t *buf, size_t len)
{
    cr_assert_eq(test_write_file(path, buf, len), 0);
}

/* A random workload on im mirrored into expected: unaligned writes of up
 * to 300 KiB, zero writes (some of whole blocks), one write across the
 * last byte. */
static void workload(img *im, uint8_t *expected, size_t size, uint32_t seed,
                     int rounds)
{
    uint32_t st = seed;
    uint8_t *buf = malloc(3 * MIB);
    cr_assert_not_null(buf);
    for (int i = 0; i < rounds; i++) {
        uint64_t len = 1 + tl_rand(&st) % (300 * 1024);
        uint64_t off = tl_rand(&st) % (size - len);
        img_err err = { 0 };
        if (i % 5 == 4) {
            cr_assert_eq(img_pwrite_zeroes(im, off, len, 0, &err), 0, "%s",
                         err.msg);
            memset(expected + off, 0, len);
            continue;
        }
        tl_pattern(buf, len, st);
        cr_assert_eq(img_pwrite(im, buf, len, off, 0, &err), 0, "%s",
                     err.msg);
        memcpy(expected + off, buf, len);
    }
    /* A whole, aligned block of zeros and a write ending at the end. */
    img_err err = { 0 };
    cr_assert_eq(img_pwrite_zeroes(im, 2 * MIB, 2 * MIB, 0, &err), 0, "%s",
                 err.msg);
    memset(expected + 2 * MIB, 0, 2 * MIB);
    tl_pattern(buf, 1000, 99);
    cr_assert_eq(img_pwrite(im, buf, 1000, size - 1000, 0, &err), 0, "%s",
                 err.msg);
    memcpy(expected + size - 1000, buf, 1000);
    free(buf);
}

/* Creates, writes, reopens and checks one configuration (with qemu-img
 * unless qemu cannot read it). */
static void roundtrip_with(const char *opts, size_t size, int qemu)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "w.vhdx");
    char *raw = test_path(dir, "w.raw");
    uint8_t *expected = calloc(1, size);
    cr_assert_not_null(expected);
    tl_create(path, size, opts);
    img *im = tl_open(path, IMG_OPEN_RDWR);
    workload(im, expected, size, (uint32_t)size, 40);
    tl_expect_content(im, expected, size);
    img_close(im);
    im = tl_open(path, 0);
    tl_expect_content(im, expected, size);
    img_close(im);
    save_raw(raw, expected, size);
    if (qemu) {
        tl_sh("qemu-img check -q -f vhdx '%s'", path);
        tl_sh("qemu-img compare -q -f vhdx -F raw '%s' '%s'", path, raw);
    }
    free(expected);
    free(raw);
    free(path);
    test_tmpdir_free(dir);
}

static void roundtrip(const char *opts, size_t size)
{
    tl_require_qemu();
    roundtrip_with(opts, size, 1);
}

Test(vhdx_write, dynamic_1m_roundtrip_passes_qemu_check_and_compare)
{
    roundtrip("block_size=1M", 24 * MIB);
}

Test(vhdx_write, dynamic_8m_roundtrip_passes_qemu_check_and_compare)
{
    roundtrip("block_size=8M,log_size=2M", 40 * MIB);
}

Test(vhdx_write, dynamic_without_zero_state_roundtrip)
{
    roundtrip("block_size=2M,block_state_zero=off", 20 * MIB);
}

Test(vhdx_write, fixed_roundtrip_keeps_every_block_present)
{
    roundtrip("subformat=fixed,block_size=1M", 16 * MIB);
    /* And the BAT of a fixed file has only FULLY_PRESENT blocks. */
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "f.vhdx");
    tl_create(path, 8 * MIB, "subformat=fixed,block_size=1M");
    img *im = tl_open(path, IMG_OPEN_RDWR);
    cr_assert_eq(img_pwrite_zeroes(im, 0, 8 * MIB, 0, NULL), 0);
    cr_assert_eq(img_discard(im, MIB, MIB, NULL), 0);
    img_close(im);
    for (uint64_t b = 0; b < 8; b++) {
        uint64_t e = tl_bat_entry(path, b);
        cr_assert_eq(e & 7, VHDX_PAYLOAD_FULLY_PRESENT, "block %" PRIu64, b);
    }
    free(path);
    test_tmpdir_free(dir);
}

/* qemu-img 7.2 refuses 4 KiB logical sectors; test_vhdx_libvhdi.c has
 * libvhdi read such an image. */
Test(vhdx_write, logical_sector_4096_roundtrip)
{
    roundtrip_with("block_size=1M,logical_sector_size=4096,"
                   "physical_sector_size=4096", 12 * MIB, 0);
}

Test(vhdx_write, odd_size_rounds_to_the_logical_sector)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "o.vhdx");
    tl_create(path, 1000000, NULL);
    img *im = tl_open(path, 0);
    cr_assert_eq(img_size(im), 1000448, "qemu-img rounds to 512 bytes");
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_write, region_table_marks_bat_and_metadata_required)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "r.vhdx");
    tl_create(path, 8 * MIB, NULL);
    for (int copy = 0; copy < 2; copy++) {
        uint8_t rt[VHDX_RT_SIZE];
        tl_peek(path, copy ? VHDX_RT2_OFFSET : VHDX_RT1_OFFSET, rt,
                sizeof(rt));
        vhdx_region_table t;
        img_err err = { 0 };
        cr_assert_eq(vhdx_region_table_decode(rt, sizeof(rt), &t, &err), 0,
                     "%s", err.msg);
        cr_assert_eq(t.count, 2);
        for (unsigned i = 0; i < t.count; i++) {
            cr_assert_eq(t.entries[i].required_field, 1, "region %u", i);
            cr_assert_eq(t.entries[i].offset % MIB, 0);
        }
    }
    free(path);
    test_tmpdir_free(dir);
}

/* Reads the decoded header h (1 or 2) of path. */
static void read_header(const char *path, int h, vhdx_header *out)
{
    uint8_t buf[VHDX_HEADER_SIZE];
    tl_peek(path, h == 1 ? VHDX_HEADER1_OFFSET : VHDX_HEADER2_OFFSET, buf,
            sizeof(buf));
    img_err err = { 0 };
    cr_assert_eq(vhdx_header_decode(buf, sizeof(buf), out, &err), 0, "%s",
                 err.msg);
}

/* The current header of path. */
static void current_header(const char *path, vhdx_header *out)
{
    vhdx_header a, b;
    read_header(path, 1, &a);
    read_header(path, 2, &b);
    *out = a.seq > b.seq ? a : b;
}

Test(vhdx_write, write_session_renews_guids_and_clears_the_log)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "g.vhdx");
    tl_create(path, 8 * MIB, NULL);
    vhdx_header before, after;
    current_header(path, &before);
    /* A read-only open and a writable open without writes change nothing. */
    size_t len0, len1;
    uint8_t *bytes0 = tl_slurp(path, &len0);
    img_close(tl_open(path, 0));
    img_close(tl_open(path, IMG_OPEN_RDWR));
    uint8_t *bytes1 = tl_slurp(path, &len1);
    cr_assert(len0 == len1 && memcmp(bytes0, bytes1, len0) == 0);
    free(bytes0);
    free(bytes1);
    img *im = tl_open(path, IMG_OPEN_RDWR);
    uint8_t data[4096];
    tl_pattern(data, sizeof(data), 1);
    cr_assert_eq(img_pwrite(im, data, sizeof(data), 4096, 0, NULL), 0);
    img_close(im);
    current_header(path, &after);
    cr_assert_gt(after.seq, before.seq);
    cr_assert_not(vhdx_guid_eq(&after.file_write, &before.file_write));
    cr_assert_not(vhdx_guid_eq(&after.data_write, &before.data_write));
    cr_assert(vhdx_guid_is_zero(&after.log_guid), "log left non-empty");
    vhdx_header h1, h2;
    read_header(path, 1, &h1);
    read_header(path, 2, &h2);
    cr_assert_eq(h1.seq > h2.seq ? h1.seq - h2.seq : h2.seq - h1.seq, 1,
                 "both headers updated in turn");
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_write, untouched_and_zeroed_blocks_take_no_space)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "s.vhdx");
    tl_create(path, 64 * MIB, "block_size=1M");
    img *im = tl_open(path, IMG_OPEN_RDWR);
    uint8_t *buf = malloc(MIB);
    tl_pattern(buf, MIB, 5);
    cr_assert_eq(img_pwrite(im, buf, MIB, 10 * MIB, 0, NULL), 0);
    cr_assert_eq(img_pwrite(im, buf, 4096, 20 * MIB + 5, 0, NULL), 0);
    memset(buf, 0, MIB);
    cr_assert_eq(img_pwrite_zeroes(im, 30 * MIB, 4 * MIB, 0, NULL), 0);
    /* Zeroing an allocated block makes it ZERO and frees its space. */
    cr_assert_eq(img_pwrite_zeroes(im, 20 * MIB, MIB, 0, NULL), 0);
    img_close(im);
    im = tl_open(path, 0);
    uint64_t pnum, host, data = 0;
    for (uint64_t off = 0; off < 64 * MIB; off += pnum) {
        int r = img_block_status(im, off, 64 * MIB - off, &pnum, &host, NULL);
        cr_assert(r >= 0);
        if (r & IMG_BS_DATA) {
            cr_assert(r & IMG_BS_OFFSET_VALID);
            data += pnum;
        }
    }
    cr_assert_eq(data, MIB, "only the written block is data");
    img_close(im);
    cr_assert_eq(tl_bat_entry(path, 20), VHDX_PAYLOAD_ZERO,
                 "a zeroed block is ZERO with no file offset");
    cr_assert_eq(tl_bat_entry(path, 30), VHDX_PAYLOAD_ZERO);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_lt((uint64_t)st.st_blocks * 512, 8 * MIB);
    free(buf);
    free(path);
    test_tmpdir_free(dir);
}

/* Data writes batch their BAT updates: the blocks they allocate are
 * logged on the next flush (after their data is synced), and read back
 * from memory before that. */
Test(vhdx_write, new_blocks_reach_the_bat_on_flush)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "b.vhdx");
    tl_create(path, 16 * MIB, "block_size=1M");
    img *im = tl_open(path, IMG_OPEN_RDWR);
    uint8_t *buf = malloc(3 * MIB), *back = malloc(3 * MIB);
    uint64_t before = tl_bat_entry(path, 4);
    cr_assert_neq(before & VHDX_BAT_STATE_MASK, VHDX_PAYLOAD_FULLY_PRESENT);
    tl_pattern(buf, 3 * MIB, 9);
    cr_assert_eq(img_pwrite(im, buf, 3 * MIB, 4 * MIB, 0, NULL), 0);
    for (uint64_t b = 4; b < 7; b++) {
        cr_assert_eq(tl_bat_entry(path, b), before,
                     "block %d logged before a flush", (int)b);
    }
    cr_assert_eq(img_pread(im, back, 3 * MIB, 4 * MIB, NULL), 0);
    cr_assert(memcmp(back, buf, 3 * MIB) == 0);
    cr_assert_eq(img_flush(im, NULL), 0);
    for (uint64_t b = 4; b < 7; b++) {
        cr_assert_eq(tl_bat_entry(path, b) & VHDX_BAT_STATE_MASK,
                     VHDX_PAYLOAD_FULLY_PRESENT, "block %d after the flush",
                     (int)b);
    }
    img_close(im);
    im = tl_open(path, 0);
    cr_assert_eq(img_pread(im, back, 3 * MIB, 4 * MIB, NULL), 0);
    cr_assert(memcmp(back, buf, 3 * MIB) == 0);
    img_close(im);
    free(buf);
    free(back);
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_write, discard_reads_zero_and_frees_the_block)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "d.vhdx");
    tl_create(path, 8 * MIB, "block_size=1M");
    img *im = tl_open(path, IMG_OPEN_RDWR);
    uint8_t *buf = malloc(2 * MIB);
    tl_pattern(buf, 2 * MIB, 6);
    cr_assert_eq(img_pwrite(im, buf, 2 * MIB, MIB, 0, NULL), 0);
    cr_assert_eq(img_discard(im, MIB, MIB + 4096, NULL), 0);
    /* The freed block is reused by the next allocation. */
    cr_assert_eq(img_pwrite(im, buf, 4096, 5 * MIB, 0, NULL), 0);
    img_close(im);
    cr_assert_eq(tl_bat_entry(path, 1), VHDX_PAYLOAD_UNMAPPED);
    im = tl_open(path, 0);
    uint8_t *back = malloc(2 * MIB);
    cr_assert_eq(img_pread(im, back, 2 * MIB, MIB, NULL), 0);
    uint8_t *zeros = calloc(1, MIB);
    cr_assert_eq(memcmp(back, zeros, MIB), 0, "discarded block not zero");
    free(zeros);
    cr_assert_eq(memcmp(back + MIB, buf + MIB, MIB), 0);
    cr_assert_eq(img_pread(im, back, 4096, 5 * MIB, NULL), 0);
    cr_assert_eq(memcmp(back, buf, 4096), 0);
    img_close(im);
    uint64_t reused = tl_bat_entry(path, 5);
    cr_assert_eq(reused & 7, VHDX_PAYLOAD_FULLY_PRESENT);
    free(back);
    free(buf);
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_write, truncate_grows_and_new_space_reads_zero)
{
    tl_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "t.vhdx");
    char *raw = test_path(dir, "t.raw");
    size_t old = 3 * MIB + 512, grown = 12 * MIB;
    tl_create(path, old, "block_size=2M");
    img *im = tl_open(path, IMG_OPEN_RDWR);
    uint8_t *expected = calloc(1, grown);
    tl_pattern(expected + old - 4096, 4096, 8);
    cr_assert_eq(img_pwrite(im, expected + old - 4096, 4096, old - 4096, 0,
                            NULL), 0);
    img_err err = { 0 };
    cr_assert_eq(img_truncate(im, grown, IMG_PREALLOC_OFF, &err), 0, "%s",
                 err.msg);
    tl_pattern(expected + grown - 100, 100, 9);
    cr_assert_eq(img_pwrite(im, expected + grown - 100, 100, grown - 100, 0,
                            NULL), 0);
    cr_assert_eq(img_truncate(im, MIB, IMG_PREALLOC_OFF, &err), -ENOTSUP);
    img_close(im);
    im = tl_open(path, 0);
    tl_expect_content(im, expected, grown);
    img_close(im);
    save_raw(raw, expected, grown);
    tl_sh("qemu-img check -q -f vhdx '%s'", path);
    tl_sh("qemu-img compare -q -f vhdx -F raw '%s' '%s'", path, raw);
    free(expected);
    free(raw);
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_write, create_options_fail_as_qemu_img_does)
{
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "e.vhdx");
    static const struct {
        const char *opts;
        uint64_t size;
        const char *msg;
    } bad[] = {
        { "block_size=3M", MIB, "Block size must be a power of two" },
        { "log_size=0", MIB, "Log size must be a multiple of 1 MB" },
        { "log_size=5G", MIB, "Log size must be smaller than 4 GB" },
        { "subformat=foo", MIB,
          "Parameter 'subformat' does not accept value 'foo'" },
        { NULL, (64ull << 40) + 512, "Image size too large; max of 64TB" },
        { "logical_sector_size=1024", MIB, "must be 512 or 4096" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        img_err err = { 0 };
        cr_assert_lt(tl_create_err(path, bad[i].size, bad[i].opts, &err), 0);
        cr_assert(strstr(err.msg, bad[i].msg), "%s: %s", bad[i].opts,
                  err.msg);
    }
    /* qemu-img rounds block and log sizes up to 1 MiB, caps at 256 MiB. */
    tl_create(path, 8 * MIB, "block_size=1536K,log_size=1536K");
    img *im = tl_open(path, 0);
    img_info info;
    cr_assert_eq(img_get_info(im, &info, NULL), 0);
    cr_assert_eq(info.cluster_size, 2 * MIB);
    img_close(im);
    vhdx_header h;
    current_header(path, &h);
    cr_assert_eq(h.log_length, 2 * MIB);
    tl_create(path, 8 * MIB, "block_size=512M");
    im = tl_open(path, 0);
    cr_assert_eq(img_get_info(im, &info, NULL), 0);
    cr_assert_eq(info.cluster_size, 256 * MIB);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_write, automatic_block_size_follows_qemu_img)
{
    static const struct {
        uint64_t size;
        uint64_t block;
    } cases[] = {
        { 1ull << 30, 8 * MIB },
        { (1ull << 30) + 512, 16 * MIB },
        { 200ull << 30, 32 * MIB },
    };
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "a.vhdx");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tl_create(path, cases[i].size, NULL);
        img *im = tl_open(path, 0);
        img_info info;
        cr_assert_eq(img_get_info(im, &info, NULL), 0);
        cr_assert_eq(info.cluster_size, cases[i].block);
        img_close(im);
    }
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_write, measure_counts_data_blocks)
{
    const img_driver *drv = img_driver_find("vhdx");
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    cr_assert_eq(img_opts_parse(o, "block_size=1M", NULL), 0);
    img_measure m = { 0 };
    cr_assert_eq(img_driver_measure(drv, o, 16 * MIB, NULL, &m, NULL), 0);
    /* Header section, 1 MiB log, 1 MiB BAT, 1 MiB metadata. */
    cr_assert_eq(m.required, 4 * MIB);
    cr_assert_eq(m.fully_allocated, 20 * MIB);
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "m.vhdx");
    tl_create(path, 16 * MIB, "block_size=1M");
    img *im = tl_open(path, IMG_OPEN_RDWR);
    uint8_t data[512] = { 1 };
    cr_assert_eq(img_pwrite(im, data, 512, 3 * MIB + 7, 0, NULL), 0);
    cr_assert_eq(img_pwrite(im, data, 512, 9 * MIB, 0, NULL), 0);
    memset(&m, 0, sizeof(m));
    cr_assert_eq(img_driver_measure(drv, o, 16 * MIB, im, &m, NULL), 0);
    cr_assert_eq(m.required, 6 * MIB);
    img_close(im);
    img_opts_free(o);
    free(path);
    test_tmpdir_free(dir);
}

Test(vhdx_write, converted_image_equals_its_source_for_qemu)
{
    tl_require_qemu();
    char *dir = test_tmpdir_new();
    char *src = test_path(dir, "src.raw");
    char *path = test_path(dir, "c.vhdx");
    tl_sh("qemu-img create -q -f raw '%s' 32M", src);
    tl_sh("qemu-io -f raw -c 'write -P 0x61 3m 5m' -c 'write -P 0x62 "
          "20000k 77k' '%s' >/dev/null", src);
    img *in = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open(src, "raw", IMG_OPEN_QUIET, &in, &err), 0, "%s",
                 err.msg);
    tl_create(path, img_size(in), "block_size=2M");
    img *out = tl_open(path, IMG_OPEN_RDWR);
    uint8_t *buf = malloc(MIB);
    for (uint64_t off = 0; off < img_size(in); off += MIB) {
        cr_assert_eq(img_pread(in, buf, MIB, off, NULL), 0);
        cr_assert_eq(img_pwrite(out, buf, MIB, off, 0, NULL), 0);
    }
    img_close(out);
    img_close(in);
    tl_sh("qemu-img compare -q -f raw -F vhdx '%s' '%s'", src, path);
    tl_sh("qemu-img check -q '%s'", path);
    free(buf);
    free(src);
    free(path);
    test_tmpdir_free(dir);
}
