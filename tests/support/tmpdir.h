/* tests/support/tmpdir.h -- temporary directories and files for tests. */
#ifndef TESTS_SUPPORT_TMPDIR_H
#define TESTS_SUPPORT_TMPDIR_H

#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a malloc'd
 * path or NULL. */
char *test_tmpdir_new(void);
/* Removes the directory and everything in it; frees path. */
void test_tmpdir_free(char *path);
/* malloc'd "dir/name". */
char *test_path(const char *dir, const char *name);
/* Writes len bytes to path (creating/truncating); 0 or -1. */
int test_write_file(const char *path, const void *data, size_t len);
/* Runs a shell command line; returns its exit status (or -1). */
int test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
