/* tests/support/tools.c -- see tools.h. */
#include "tools.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "tmpdir.h"

/* Longest command line the helpers run. */
#define TOOLS_CMD_MAX 4096

void test_require_qemu(void)
{
    cr_assert_eq(test_sh("command -v qemu-img >/dev/null && "
                         "command -v qemu-io >/dev/null"), 0,
                 "qemu-img and qemu-io (qemu-utils) are needed: they are "
                 "the reference these tests compare against");
}

/* Formats a command line into cmd (asserts it fits). */
static void format_cmd(char *cmd, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(cmd, size, fmt, ap);
    cr_assert(n > 0 && (size_t)n < size, "command too long");
}

void test_vsh_ok(const char *fmt, va_list ap)
{
    char cmd[TOOLS_CMD_MAX];
    format_cmd(cmd, sizeof(cmd), fmt, ap);
    cr_assert_eq(test_sh("%s", cmd), 0, "command failed: %s", cmd);
}

int test_vsh_status(const char *fmt, va_list ap)
{
    char cmd[TOOLS_CMD_MAX];
    format_cmd(cmd, sizeof(cmd), fmt, ap);
    return test_sh("%s", cmd);
}

uint8_t *test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert(n >= 0);
    rewind(f);
    /* one more byte for the NUL that lets text files be used as strings */
    uint8_t *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}
