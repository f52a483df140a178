/* tests/support/tools.h -- asserting helpers for the format tests that
 * check our images against reference tools: that the tools are there,
 * running shell command lines, and reading whole files.
 *
 * Every helper asserts (Criterion).  A missing reference tool fails the
 * test: the tools are the oracle, so a test without them proves nothing.
 */
#ifndef TESTS_SUPPORT_TOOLS_H
#define TESTS_SUPPORT_TOOLS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Asserts that qemu-img and qemu-io (qemu-utils) can be run. */
void test_require_qemu(void);
/* Runs the command line fmt/ap (asserts it fits in 4 KiB); asserts that
 * it exits with status 0. */
void test_vsh_ok(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));
/* Same, returning the exit status (-1 when it did not exit). */
int test_vsh_status(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));
/* Whole file, NUL-terminated (asserts); *len is set.  Free the result. */
uint8_t *test_slurp(const char *path, size_t *len);

#endif
