/* tests/formats/vhdx/vhdx_testlib.h -- helpers shared by the VHDX tests:
 * the reference tools (qemu-img, qemu-io, vhdiinfo), images made with our
 * driver, whole-image comparisons and byte patches of image files.
 *
 * Every helper asserts.  A missing reference tool fails the test: the
 * tools are the oracle, so a test without them would prove nothing.
 */
#ifndef TESTS_VHDX_TESTLIB_H
#define TESTS_VHDX_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/img.h"

/* Asserts that qemu-img and qemu-io can be run. */
void tl_require_qemu(void);
/* Asserts that vhdiinfo (libvhdi-utils) can be run. */
void tl_require_vhdiinfo(void);
/* Runs a shell command line; asserts exit status 0. */
void tl_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a shell command line and returns its exit status. */
int tl_sh_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whole file (asserts); *len set; free the result. */
uint8_t *tl_slurp(const char *path, size_t *len);
/* Writes len bytes at off of an existing file (asserts). */
void tl_patch(const char *path, uint64_t off, const void *buf, size_t len);
/* Reads len bytes at off of a file (asserts). */
void tl_peek(const char *path, uint64_t off, void *buf, size_t len);
/* Recomputes the CRC-32C of the 4 KiB header or 64 KiB region table at
 * off (the checksum field is at offset 4 in both). */
void tl_fix_crc(const char *path, uint64_t off, size_t len);

/* Creates path as VHDX with -o style options (may be NULL). */
void tl_create(const char *path, uint64_t size, const char *opts);
/* Same, returning the error instead of asserting success. */
int tl_create_err(const char *path, uint64_t size, const char *opts,
                  img_err *err);
/* Opens a VHDX image (asserts success and the format). */
img *tl_open(const char *path, unsigned flags);
/* Opens with the error returned. */
int tl_open_err(const char *path, unsigned flags, img **out, img_err *err);
/* Asserts that all of im reads as expected[0..len). */
void tl_expect_content(img *im, const uint8_t *expected, size_t len);
/* Asserts that all of im equals the raw file at raw_path. */
void tl_expect_raw_file(img *im, const char *raw_path);
/* Fills buf with a pattern derived from seed (deterministic). */
void tl_pattern(uint8_t *buf, size_t len, uint32_t seed);
/* A small deterministic PRNG step. */
uint32_t tl_rand(uint32_t *state);
/* A memory disk that outlives the img_file over it (crash tests reopen
 * what a closed image left behind).  Counts the writes that reached it. */
typedef struct tl_disk {
    uint8_t *data;
    size_t len, cap;
    uint64_t writes;   /* pwrite, truncate, flush and punch_hole calls */
} tl_disk;
/* A writable img_file over disk (borrowed; closing the file keeps it). */
img_file *tl_disk_file_new(tl_disk *disk);
/* Copies src into dst (dst's old bytes are freed). */
void tl_disk_copy(tl_disk *dst, const tl_disk *src);
void tl_disk_free(tl_disk *disk);
/* Writes the disk's bytes to a file. */
void tl_disk_save(const tl_disk *disk, const char *path);

/* The BAT entry at index i of the image file (read from the file). */
uint64_t tl_bat_entry(const char *path, uint64_t i);

#endif
