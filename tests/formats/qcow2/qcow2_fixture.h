/* tests/formats/qcow2/qcow2_fixture.h -- small helpers shared by the
 * qcow2 writer, flag and amend tests: a test's temporary image with its
 * shadow (qcow2_shadow.h), and peeks and pokes of big-endian header
 * fields in an image file.
 *
 * Every helper asserts.
 */
#ifndef TESTS_QCOW2_FIXTURE_H
#define TESTS_QCOW2_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "qcow2_shadow.h"

/* A temporary directory holding NAME.qcow2 (the image under test) and
 * NAME.raw (where the shadow is dumped), and the image's shadow. */
typedef struct qfix {
    char *dir;
    char *path; /* dir/NAME.qcow2 */
    char *raw;  /* dir/NAME.raw */
    shadow_img sh;
} qfix;

/* Asserts that qemu-img is there (with_qemu), makes the directory and
 * the two names; the shadow is empty until created or opened. */
void qfix_init(qfix *f, const char *name, int with_qemu);
/* Closes the image and dumps the shadow to f->raw; qemu-img check must
 * find the image clean and compare it equal to the dump, and so must our
 * own check when vdisk_check is set. */
void qfix_close_check(qfix *f, int vdisk_check);
/* Frees the shadow and the names, removes the directory. */
void qfix_fini(qfix *f);

/* The big-endian field of n (1..8) bytes at off of the file. */
uint64_t qfix_peek(const char *path, uint64_t off, unsigned n);
/* Stores v as a big-endian field of n (1..8) bytes at off of the file. */
void qfix_poke(const char *path, uint64_t off, uint64_t v, unsigned n);
/* Writes len bytes at off of the file. */
void qfix_poke_bytes(const char *path, uint64_t off, const void *buf,
                     size_t len);

#endif
