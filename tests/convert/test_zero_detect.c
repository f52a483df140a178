/* tests/convert/test_zero_detect.c -- zero detection for sparse output
 * (convert/zero_detect.c): cvt_is_zero on every length and position, and
 * the piece rule cvt_zero_split shares with qemu-img.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "convert/zero_detect.h"

Test(zero_detect, zero_buffers_of_every_small_length_are_zero)
{
    static uint8_t buf[600];
    for (size_t len = 0; len <= sizeof(buf) - 3; len++) {
        for (size_t shift = 0; shift < 3; shift++) {
            cr_assert(cvt_is_zero(buf + shift, len), "len %zu", len);
        }
    }
}

/* One non-zero byte anywhere, at any alignment, is seen. */
Test(zero_detect, a_single_nonzero_byte_is_found_anywhere)
{
    static uint8_t buf[600];
    for (size_t len = 1; len <= 300; len += 7) {
        for (size_t shift = 0; shift < 3; shift++) {
            for (size_t pos = 0; pos < len; pos++) {
                buf[shift + pos] = 0x80;
                cr_assert_not(cvt_is_zero(buf + shift, len),
                              "len %zu pos %zu shift %zu", len, pos, shift);
                buf[shift + pos] = 0;
            }
        }
    }
}

Test(zero_detect, large_buffers_with_a_late_byte)
{
    static uint8_t buf[1 << 21];
    cr_assert(cvt_is_zero(buf, sizeof(buf)));
    buf[sizeof(buf) - 1] = 1;
    cr_assert_not(cvt_is_zero(buf, sizeof(buf)));
    buf[sizeof(buf) - 1] = 0;
    buf[65] = 1; /* just past the word-wise head */
    cr_assert_not(cvt_is_zero(buf, sizeof(buf)));
    buf[65] = 0;
}

Test(zero_detect, granularity_is_the_power_of_two_below)
{
    cr_assert_eq(cvt_zero_granularity(0), 1);
    cr_assert_eq(cvt_zero_granularity(512), 512);
    cr_assert_eq(cvt_zero_granularity(4096), 4096);
    cr_assert_eq(cvt_zero_granularity(12288), 8192);
    cr_assert_eq(cvt_zero_granularity(16 << 20), 16 << 20);
}

#define BLK 512
static uint8_t sbuf[64 * BLK];

/* Builds sbuf from a pattern: one char per 512-byte block, 'D' data and
 * '.' zero. */
static size_t build(const char *pattern)
{
    size_t n = strlen(pattern);
    memset(sbuf, 0, sizeof(sbuf));
    for (size_t i = 0; i < n; i++) {
        if (pattern[i] == 'D') {
            memset(sbuf + i * BLK, 0x5a, BLK);
        }
    }
    return n * BLK;
}

/* The pieces of pattern as "D3.2D1" style text (kind, length in blocks). */
static void split_all(const char *pattern, uint64_t off, size_t gran,
                      size_t min, char *out, size_t outlen)
{
    size_t len = build(pattern), pos = 0;
    out[0] = '\0';
    while (pos < len) {
        size_t n = 0;
        int data =
            cvt_zero_split(sbuf + pos, len - pos, off + pos, gran, min, &n);
        cr_assert_gt(n, 0);
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, "%c%zu", data ? 'D' : '.', n / BLK);
        pos += n;
    }
    cr_assert_eq(pos, len);
}

static void check(const char *pattern, uint64_t off, size_t gran, size_t min,
                  const char *want)
{
    char got[256];
    split_all(pattern, off, gran, min, got, sizeof(got));
    cr_assert_str_eq(got, want, "pattern %s off %llu gran %zu min %zu", pattern,
                     (unsigned long long)off, gran, min);
}

Test(zero_detect, split_on_sectors)
{
    /* -S 512: every zero block at the edges is a hole, interior runs of
     * one block or more too. */
    check("..DD.DD..", 0, BLK, BLK, ".2D2.1D2.2");
    check("DDDD", 0, BLK, BLK, "D4");
    check("....", 0, BLK, BLK, ".4");
}

Test(zero_detect, short_interior_runs_stay_in_the_data)
{
    /* min 4 blocks: a 2-block gap is written, a 4-block gap is not. */
    check("DD..DD....DD", 0, BLK, 4 * BLK, "D6.4D2");
    /* Trailing zeros are a hole even when short. */
    check("DD..DD..", 0, BLK, 4 * BLK, "D6.2");
    /* Leading zeros too. */
    check(".DD", 0, BLK, 4 * BLK, ".1D2");
}

Test(zero_detect, blocks_follow_the_target_alignment)
{
    /* 4-block granules: a granule with any data is data. */
    check("D.......", 0, 4 * BLK, 4 * BLK, "D4.4");
    check("...D....", 0, 4 * BLK, 4 * BLK, "D4.4");
    check("....D...", 0, 4 * BLK, 4 * BLK, ".4D4");
    /* Buffer starting 2 blocks into a granule: partial first granule. */
    check("..D.....", 2 * BLK, 4 * BLK, 4 * BLK, ".2D4.2");
    check("D.....", 2 * BLK, 4 * BLK, 4 * BLK, "D2.4");
}

Test(zero_detect, a_large_min_keeps_interior_zeros_only)
{
    /* Interior gaps shorter than min are data; trailing ones never are. */
    check("D..", 0, BLK, 64 * BLK, "D1.2");
    check("D.D", 0, BLK, 64 * BLK, "D3");
}
