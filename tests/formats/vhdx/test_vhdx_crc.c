/* tests/formats/vhdx/test_vhdx_crc.c -- CRC-32C (known vectors, chained
 * calls, agreement with a bitwise reference over many lengths and
 * alignments), the checksum-field rule and the GUID helpers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "formats/vhdx/vhdx.h"
#include "vhdx_testlib.h"

/* Bit-at-a-time CRC-32C, the definition the fast code must match. */
static uint32_t crc_reference(const uint8_t *p, size_t len)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        }
    }
    return ~c;
}

Test(vhdx_crc, known_vectors)
{
    cr_assert_eq(vhdx_crc32c(0, "123456789", 9), 0xe3069283u);
    cr_assert_eq(vhdx_crc32c(0, "", 0), 0);
    uint8_t zeros[32] = { 0 };
    cr_assert_eq(vhdx_crc32c(0, zeros, sizeof(zeros)), 0x8a9136aau);
}

Test(vhdx_crc, matches_reference_for_lengths_and_alignments)
{
    uint8_t *buf = malloc(5000);
    cr_assert_not_null(buf);
    tl_pattern(buf, 5000, 7);
    for (size_t start = 0; start < 9; start++) {
        for (size_t len = 0; len < 300; len++) {
            cr_assert_eq(vhdx_crc32c(0, buf + start, len),
                         crc_reference(buf + start, len), "start %zu len %zu",
                         start, len);
        }
    }
    cr_assert_eq(vhdx_crc32c(0, buf, 5000), crc_reference(buf, 5000));
    free(buf);
}

Test(vhdx_crc, chained_calls_equal_one_call)
{
    uint8_t buf[4096];
    tl_pattern(buf, sizeof(buf), 3);
    uint32_t c = vhdx_crc32c(0, buf, 13);
    c = vhdx_crc32c(c, buf + 13, 1000);
    c = vhdx_crc32c(c, buf + 1013, sizeof(buf) - 1013);
    cr_assert_eq(c, vhdx_crc32c(0, buf, sizeof(buf)));
}

Test(vhdx_crc, checksum_reads_the_field_as_zero)
{
    uint8_t buf[4096];
    tl_pattern(buf, sizeof(buf), 11);
    uint32_t sum = vhdx_checksum(buf, sizeof(buf), 4);
    memset(buf + 4, 0, 4);
    cr_assert_eq(sum, vhdx_crc32c(0, buf, sizeof(buf)));
}

Test(vhdx_guid, format_and_parse_round_trip)
{
    /* The BAT region GUID of MS-VHDX 2.2.3.2 in its textual form. */
    char text[39];
    vhdx_guid_format(&vhdx_guid_bat, text);
    cr_assert_str_eq(text, "{2dc27766-f623-4200-9d64-115e9bfd4a08}");
    vhdx_guid g;
    cr_assert_eq(vhdx_guid_parse("{2DC27766-F623-4200-9D64-115E9BFD4A08}",
                                 &g), 0);
    cr_assert(vhdx_guid_eq(&g, &vhdx_guid_bat));
    cr_assert_eq(vhdx_guid_parse("2dc27766-f623-4200-9d64-115e9bfd4a08", &g),
                 -EINVAL);
    cr_assert_eq(vhdx_guid_parse("{2dc27766-f623-4200-9d64-115e9bfd4a0g}",
                                 &g), -EINVAL);
}

Test(vhdx_guid, generated_guids_are_random_version_4)
{
    vhdx_guid a, b;
    cr_assert_eq(vhdx_guid_generate(&a, NULL), 0);
    cr_assert_eq(vhdx_guid_generate(&b, NULL), 0);
    cr_assert_not(vhdx_guid_eq(&a, &b));
    char text[39];
    vhdx_guid_format(&a, text);
    cr_assert_eq(text[15], '4', "version nibble: %s", text);
    cr_assert(strchr("89ab", text[20]) != NULL, "variant: %s", text);
}
