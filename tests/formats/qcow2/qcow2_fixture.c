/* tests/formats/qcow2/qcow2_fixture.c -- see qcow2_fixture.h. */
#include "qcow2_fixture.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qcow2_oracle.h"
#include "support/tmpdir.h"

/* dir/NAME.ext, malloc'd. */
static char *fix_name(const char *dir, const char *name, const char *ext)
{
    char file[64];
    int n = snprintf(file, sizeof(file), "%s.%s", name, ext);
    cr_assert(n > 0 && (size_t)n < sizeof(file), "name too long");
    return test_path(dir, file);
}

void qfix_init(qfix *f, const char *name, int with_qemu)
{
    if (with_qemu) {
        oracle_require_qemu();
    }
    f->dir = test_tmpdir_new();
    f->path = fix_name(f->dir, name, "qcow2");
    f->raw = fix_name(f->dir, name, "raw");
    memset(&f->sh, 0, sizeof(f->sh));
}

void qfix_close_check(qfix *f, int vdisk_check)
{
    shadow_close(&f->sh);
    shadow_dump(&f->sh, f->raw);
    oracle_qemu_check_clean(f->path);
    oracle_qemu_compare(f->path, f->raw);
    if (vdisk_check) {
        oracle_vdisk_check_clean(f->path);
    }
}

void qfix_fini(qfix *f)
{
    shadow_free(&f->sh);
    free(f->raw);
    free(f->path);
    test_tmpdir_free(f->dir);
}

uint64_t qfix_peek(const char *path, uint64_t off, unsigned n)
{
    uint8_t b[8];
    cr_assert(n >= 1 && n <= sizeof(b));
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0, "cannot open %s", path);
    cr_assert_eq(pread(fd, b, n, (off_t)off), (ssize_t)n);
    close(fd);
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

void qfix_poke(const char *path, uint64_t off, uint64_t v, unsigned n)
{
    uint8_t b[8];
    cr_assert(n >= 1 && n <= sizeof(b));
    for (unsigned i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> 8 * (n - 1 - i)); /* most significant first */
    }
    qfix_poke_bytes(path, off, b, n);
}

void qfix_poke_bytes(const char *path, uint64_t off, const void *buf,
                     size_t len)
{
    int fd = open(path, O_WRONLY);
    cr_assert(fd >= 0, "cannot open %s", path);
    cr_assert_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}
