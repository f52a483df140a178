/* tests/formats/qcow2/qcow2_shadow.h -- helpers for the qcow2 writer
 * tests: an image written through libimg next to a "shadow" buffer that
 * holds what the image must read as, random workloads, and the external
 * readers (qemu-img check/compare, libqcow's qcowinfo) as oracles.
 *
 * Every helper asserts.
 */
#ifndef TESTS_QCOW2_SHADOW_H
#define TESTS_QCOW2_SHADOW_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/img.h"

typedef struct shadow_img {
    img *im;       /* opened read/write */
    uint8_t *data; /* expected guest content */
    uint64_t size;
    uint64_t cluster; /* cluster size */
    int zero_discard; /* discarded clusters read as zeros */
} shadow_img;

/* Creates path with -o style options (may be "") through img_create and
 * opens it read/write; the shadow starts as zeros. */
void shadow_create(const char *path, const char *opts, uint64_t size,
                   shadow_img *sh);
/* Opens an existing image read/write; the shadow is its content. */
void shadow_open(const char *path, shadow_img *sh);
void shadow_write(shadow_img *sh, uint64_t off, uint64_t len, uint8_t seed,
                  unsigned flags);
void shadow_zero(shadow_img *sh, uint64_t off, uint64_t len, unsigned flags);
void shadow_discard(shadow_img *sh, uint64_t off, uint64_t len);
void shadow_flush(shadow_img *sh);
/* Reads the whole image back and compares it with the shadow. */
void shadow_verify(const shadow_img *sh);
/* ops random writes, zero writes, discards, compressed writes and
 * flushes, verified as it goes; deterministic for a seed. */
void shadow_random(shadow_img *sh, unsigned seed, int ops, int compressed);
/* Closes the image (the shadow stays). */
void shadow_close(shadow_img *sh);
void shadow_free(shadow_img *sh);
/* Writes the shadow as a raw file. */
void shadow_dump(const shadow_img *sh, const char *path);

/* qemu-img check must find nothing (exit 0). */
void oracle_qemu_check_clean(const char *path);
/* qemu-img compare of the image with a raw file must find them equal. */
void oracle_qemu_compare(const char *path, const char *raw);
/* libqcow's qcowinfo must read the image. */
void oracle_qcowinfo(const char *path);
/* Our own check must find nothing (and report no cluster errors). */
void oracle_vdisk_check_clean(const char *path);

#endif
