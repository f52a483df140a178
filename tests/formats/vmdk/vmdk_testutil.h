/* tests/formats/vmdk/vmdk_testutil.h -- helpers shared by the VMDK tests:
 * running the reference tools (qemu-img, qemu-io, libyal's vmdkinfo),
 * reading images through libvmdk, and comparing contents.
 *
 * Every helper asserts; a missing tool or library fails the test (they are
 * the oracles: a test without them would prove nothing).
 */
#ifndef TESTS_VMDK_TESTUTIL_H
#define TESTS_VMDK_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/img.h"

/* Asserts that qemu-img, qemu-io and vmdkinfo can be run. */
void vt_require_tools(void);
/* Runs a shell command line built from fmt; asserts exit status 0. */
void vt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit status of a shell command line (no assertion). */
int vt_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a whole file (asserts); *len is set.  Free the result. */
uint8_t *vt_slurp(const char *path, size_t *len);
/* Writes a file (asserts). */
void vt_spit(const char *path, const void *data, size_t len);
/* Opens path with flags (IMG_OPEN_QUIET added); asserts success. */
img *vt_open(const char *path, const char *fmt, unsigned flags);
/* Opens path expecting failure; returns the error (code and message). */
img_err vt_open_fails(const char *path, const char *fmt, unsigned flags);
/* Our whole image content (asserts); *len = virtual size. */
uint8_t *vt_read_all(img *im, size_t *len);
/* Asserts that our reading of dir/name equals "qemu-img convert -O raw". */
void vt_check_against_qemu(const char *dir, const char *name);
/* Asserts that dir/name passes "qemu-img check", reads like ref[0..len)
 * in qemu-img and (with_libvmdk) in libvmdk, and opens in vmdkinfo.
 * libvmdk 20200926 reads zeroed-grain GTEs as sector 1: images that use
 * them are compared in qemu-img only. */
void vt_check_foreign(const char *dir, const char *name, const uint8_t *ref,
                      size_t len, int with_libvmdk);
/* Asserts buf == ref with the first differing offset in the message. */
void vt_assert_same(const uint8_t *buf, const uint8_t *ref, size_t len,
                    const char *what);

#endif
