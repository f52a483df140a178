/* tests/formats/qcow2/qcow2_bitmap_bytes.c -- see qcow2_bitmap_bytes.h.
 * Follows qcow2.txt: header extensions from byte 72 (v3: from the header
 * length at byte 100), the bitmaps extension (type 0x23852875) giving the
 * directory, whose entries are 24 fixed bytes, extra data and the name,
 * padded to 8. */
#include "qcow2_bitmap_bytes.h"

#include <string.h>

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

int bitmap_bytes_find(const uint8_t *img, size_t len, const char *name,
                      bitmap_bytes *out)
{
    uint64_t p = be(img + 100, 4);
    uint64_t dir_off = 0, dir_size = 0, nb = 0;
    while (p + 8 <= len) {
        uint64_t type = be(img + p, 4), elen = be(img + p + 4, 4);
        if (type == 0) {
            break;
        }
        if (type == 0x23852875 && p + 8 + 24 <= len) {
            nb = be(img + p + 8, 4);
            dir_size = be(img + p + 16, 8);
            dir_off = be(img + p + 24, 8);
        }
        p += 8 + ((elen + 7) & ~(uint64_t)7);
    }
    if (dir_off + dir_size > len) {
        return -1;
    }
    for (uint64_t i = 0, e = dir_off; i < nb && e + 24 <= dir_off + dir_size;
         i++) {
        const uint8_t *d = img + e;
        uint64_t name_len = be(d + 18, 2), extra = be(d + 20, 4);
        if (name_len == strlen(name) &&
            !memcmp(d + 24 + extra, name, name_len)) {
            out->table_off = be(d, 8);
            out->table_size = (uint32_t)be(d + 8, 4);
            out->gbits = d[17];
            return 0;
        }
        e += (24 + extra + name_len + 7) & ~(uint64_t)7;
    }
    return -1;
}

uint64_t bitmap_bytes_entry(const uint8_t *img, const bitmap_bytes *b,
                            uint32_t i)
{
    return be(img + b->table_off + (uint64_t)i * 8, 8);
}

int bitmap_bytes_bit(const uint8_t *img, size_t len, uint64_t cluster_size,
                     const bitmap_bytes *b, uint64_t bit)
{
    uint64_t per_cluster = cluster_size * 8;
    uint64_t e = bitmap_bytes_entry(img, b, (uint32_t)(bit / per_cluster));
    uint64_t off = e & 0x00fffffffffffe00ull;
    if (off == 0) {
        return (int)(e & 1);
    }
    uint64_t in = bit % per_cluster;
    if (off + in / 8 >= len) {
        return -1;
    }
    return img[off + in / 8] >> (in % 8) & 1;
}
