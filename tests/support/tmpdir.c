/* tests/support/tmpdir.c -- see tmpdir.h. */
#include "tmpdir.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *test_tmpdir_new(void)
{
    const char *base = getenv("TMPDIR");
    char *path = test_path(base && *base ? base : "/tmp", "vdisk-test-XXXXXX");
    if (path && !mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

void test_tmpdir_free(char *path)
{
    if (path) {
        test_sh("rm -rf '%s'", path);
        free(path);
    }
}

char *test_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) {
        snprintf(p, n, "%s/%s", dir, name);
    }
    return p;
}

int test_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = write(fd, data, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

int test_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st < 0 || !WIFEXITED(st)) {
        return -1;
    }
    return WEXITSTATUS(st);
}
