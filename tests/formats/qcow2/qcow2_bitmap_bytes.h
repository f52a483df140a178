/* tests/formats/qcow2/qcow2_bitmap_bytes.h -- persistent bitmaps read
 * straight from the bytes of a qcow2 image, written for the tests
 * independently of the driver: where a bitmap's table is, and whether a
 * bit of its data is set. */
#ifndef TESTS_QCOW2_BITMAP_BYTES_H
#define TESTS_QCOW2_BITMAP_BYTES_H

#include <stddef.h>
#include <stdint.h>

typedef struct bitmap_bytes {
    uint64_t table_off;  /* in the image */
    uint32_t table_size; /* entries */
    unsigned gbits;      /* granularity 1 << gbits */
} bitmap_bytes;

/* Finds the bitmap called name; 0, or -1 when the image has none such. */
int bitmap_bytes_find(const uint8_t *img, size_t len, const char *name,
                      bitmap_bytes *out);
/* Table entry i of the bitmap. */
uint64_t bitmap_bytes_entry(const uint8_t *img, const bitmap_bytes *b,
                            uint32_t i);
/* Bit bit of the bitmap's data (clusters of cluster_size bytes). */
int bitmap_bytes_bit(const uint8_t *img, size_t len, uint64_t cluster_size,
                     const bitmap_bytes *b, uint64_t bit);

#endif
