/* tests/formats/qcow2/qcow2_oracle.h -- helpers shared by the qcow2
 * tests: running qemu-img/qemu-io (the reference implementation) and
 * comparing our reads and block status with what they report.
 *
 * Every helper asserts; a missing qemu-img fails the test (it is the
 * oracle, so a test without it would prove nothing).
 */
#ifndef TESTS_QCOW2_ORACLE_H
#define TESTS_QCOW2_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/img.h"

/* Asserts that qemu-img and qemu-io can be run. */
void oracle_require_qemu(void);
/* Runs a shell command line built from fmt; asserts exit status 0. */
void oracle_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a whole file (asserts); *len is set.  Free the result. */
uint8_t *oracle_slurp(const char *path, size_t *len);
/* Opens path by probing, read-only, without warnings (asserts). */
img *oracle_open(const char *path);
/* Asserts that img_pread of all of im equals "qemu-img convert -O raw". */
void oracle_check_content(img *im, const char *path);
/* Asserts that block status through the chain agrees with "qemu-img map
 * --output=json": data and zero per range, and host offsets where QEMU
 * reports one for an allocated range. */
void oracle_check_map(img *im, const char *path);
/* Both checks on the image at dir/name. */
void oracle_check_image(const char *dir, const char *name);

#endif
