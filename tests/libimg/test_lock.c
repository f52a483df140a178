/* tests/libimg/test_lock.c -- QEMU-compatible OFD image locking
 * (host_set_perm in libimg/file_host.c).
 *
 * Two img_files on one path conflict inside one process because OFD locks
 * belong to the open file description.  The interop tests run the real
 * qemu-io/qemu-img (from qemu-utils) against the same file; they fail, not
 * skip, when those programs are missing.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libimg/file.h"

/* State of the running test, cleaned up by fini even after a failure. */
static char tmp_path[64];
static char err_path[64];
static pid_t child = -1;

static void cleanup(void)
{
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    if (tmp_path[0]) {
        unlink(tmp_path);
        tmp_path[0] = '\0';
    }
    if (err_path[0]) {
        unlink(err_path);
        err_path[0] = '\0';
    }
}

TestSuite(lock, .fini = cleanup);

/* Creates a 1 MiB temporary image file and returns its path. */
static const char *make_image(void)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/vdisk-lock-XXXXXX");
    int fd = mkstemp(tmp_path);
    cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
    cr_assert_eq(ftruncate(fd, 1 << 20), 0);
    close(fd);
    return tmp_path;
}

static img_file *open_path(const char *path, unsigned flags)
{
    img_file *f = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_file_open_host(path, flags, &f, &err), 0, "%s", err.msg);
    return f;
}

/* True when some open file description holds a lock on byte off. */
static int byte_locked(const char *path, int off)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0);
    struct flock fl = {
        .l_type = F_WRLCK,
        .l_whence = SEEK_SET,
        .l_start = off,
        .l_len = 1,
    };
    cr_assert_eq(fcntl(fd, F_OFD_GETLK, &fl), 0, "%s", strerror(errno));
    close(fd);
    return fl.l_type != F_UNLCK;
}

/* Bitmask of locked bytes base+0 .. base+4. */
static unsigned locked_bits(const char *path, int base)
{
    unsigned bits = 0;
    for (int i = 0; i < 5; i++) {
        bits |= byte_locked(path, base + i) ? 1u << i : 0;
    }
    return bits;
}

/* The exact message QEMU prints for a conflict on permission name. */
static void expect_conflict(const img_err *err, int shared, const char *name,
                            const char *path)
{
    char want[512];
    snprintf(want, sizeof(want),
             "Failed to get %s\"%s\" lock\n"
             "Is another process using the image [%s]?",
             shared ? "shared " : "", name, path);
    cr_assert_str_eq(err->msg, want);
    cr_assert_eq(err->code, EAGAIN);
}

Test(lock, bytes_follow_perm_and_shared)
{
    const char *path = make_image();
    img_file *f = open_path(path, IMG_FILE_RDWR);
    unsigned perm = IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE;
    unsigned shared = IMG_PERM_ALL & ~IMG_PERM_RESIZE;
    cr_assert_eq(img_file_set_perm(f, perm, shared, NULL), 0);
    cr_assert_eq(locked_bits(path, 100), perm);
    cr_assert_eq(locked_bits(path, 200), IMG_PERM_RESIZE);
    /* Narrowing releases the bytes no longer wanted. */
    cr_assert_eq(
        img_file_set_perm(f, IMG_PERM_CONSISTENT_READ, IMG_PERM_ALL, NULL), 0);
    cr_assert_eq(locked_bits(path, 100), IMG_PERM_CONSISTENT_READ);
    cr_assert_eq(locked_bits(path, 200), 0);
    cr_assert_eq(img_file_set_perm(f, 0, IMG_PERM_ALL, NULL), 0);
    cr_assert_eq(locked_bits(path, 100), 0);
    cr_assert_eq(img_file_set_perm(f, IMG_PERM_ALL, 0, NULL), 0);
    cr_assert_eq(locked_bits(path, 100), IMG_PERM_ALL);
    cr_assert_eq(locked_bits(path, 200), IMG_PERM_ALL);
    img_file_close(f);
    cr_assert_eq(locked_bits(path, 100), 0, "close drops the locks");
    cr_assert_eq(locked_bits(path, 200), 0);
}

Test(lock, unsharing_what_another_holds_fails)
{
    const char *path = make_image();
    img_file *writer = open_path(path, IMG_FILE_RDWR);
    img_file *reader = open_path(path, 0);
    cr_assert_eq(img_file_set_perm(writer,
                                   IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE,
                                   IMG_PERM_ALL, NULL),
                 0);
    img_err err = { 0 };
    int r = img_file_set_perm(reader, IMG_PERM_CONSISTENT_READ,
                              IMG_PERM_ALL & ~IMG_PERM_WRITE, &err);
    cr_assert_eq(r, -EAGAIN);
    expect_conflict(&err, 1, "write", path);
    /* Sharing write is fine. */
    cr_assert_eq(
        img_file_set_perm(reader, IMG_PERM_CONSISTENT_READ, IMG_PERM_ALL, NULL),
        0);
    img_file_close(reader);
    img_file_close(writer);
}

Test(lock, holding_what_another_refuses_fails)
{
    const char *path = make_image();
    img_file *owner = open_path(path, 0);
    img_file *other = open_path(path, IMG_FILE_RDWR);
    unsigned shared = IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE_UNCHANGED;
    cr_assert_eq(
        img_file_set_perm(owner, IMG_PERM_CONSISTENT_READ, shared, NULL), 0);
    img_err err = { 0 };
    int r = img_file_set_perm(other, IMG_PERM_CONSISTENT_READ | IMG_PERM_RESIZE,
                              IMG_PERM_ALL, &err);
    cr_assert_eq(r, -EAGAIN);
    expect_conflict(&err, 0, "resize", path);
    /* The failed attempt left nothing behind: only the owner's bytes. */
    cr_assert_eq(locked_bits(path, 100), IMG_PERM_CONSISTENT_READ);
    cr_assert_eq(
        img_file_set_perm(other, IMG_PERM_CONSISTENT_READ, IMG_PERM_ALL, NULL),
        0);
    img_file_close(owner);
    img_file_close(other);
}

Test(lock, failed_update_keeps_previous_locks)
{
    const char *path = make_image();
    img_file *a = open_path(path, IMG_FILE_RDWR);
    img_file *b = open_path(path, IMG_FILE_RDWR);
    cr_assert_eq(img_file_set_perm(a, IMG_PERM_CONSISTENT_READ,
                                   IMG_PERM_ALL & ~IMG_PERM_WRITE, NULL),
                 0);
    cr_assert_eq(img_file_set_perm(b, IMG_PERM_CONSISTENT_READ,
                                   IMG_PERM_ALL & ~IMG_PERM_RESIZE, NULL),
                 0);
    /* b asks for write, which a refuses: b must keep its old locks. */
    cr_assert_eq(img_file_set_perm(b, IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE,
                                   0, NULL),
                 -EAGAIN);
    cr_assert_eq(locked_bits(path, 100), IMG_PERM_CONSISTENT_READ);
    cr_assert_eq(locked_bits(path, 200), IMG_PERM_WRITE | IMG_PERM_RESIZE);
    img_file_close(a);
    /* b still refuses resize. */
    img_file *c = open_path(path, IMG_FILE_RDWR);
    cr_assert_eq(img_file_set_perm(c, IMG_PERM_RESIZE, IMG_PERM_ALL, NULL),
                 -EAGAIN);
    cr_assert_eq(img_file_set_perm(c, IMG_PERM_WRITE, IMG_PERM_ALL, NULL), 0);
    img_file_close(b);
    img_file_close(c);
}

Test(lock, create_keeps_an_image_in_use_intact)
{
    const char *path = make_image();
    img_file *vm = open_path(path, IMG_FILE_RDWR);
    cr_assert_eq(img_file_pwrite(vm, "data", 4, 0, NULL), 0);
    /* What QEMU holds for a running guest's qcow2 disk. */
    unsigned perm = IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE | IMG_PERM_RESIZE;
    unsigned shared = IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE_UNCHANGED;
    cr_assert_eq(img_file_set_perm(vm, perm, shared, NULL), 0);
    img_file *f = NULL;
    img_err err = { 0 };
    int r = img_file_open_host(path, IMG_FILE_RDWR | IMG_FILE_CREATE, &f, &err);
    cr_assert_eq(r, -EAGAIN);
    cr_assert_null(f);
    expect_conflict(&err, 0, "write", path);
    uint64_t size = 0;
    cr_assert_eq(img_file_size(vm, &size, NULL), 0);
    cr_assert_eq(size, 1 << 20, "create truncated an image in use");
    /* Once the guest is gone, creating works and leaves no locks. */
    img_file_close(vm);
    cr_assert_eq(
        img_file_open_host(path, IMG_FILE_RDWR | IMG_FILE_CREATE, &f, &err), 0,
        "%s", err.msg);
    cr_assert_eq(img_file_size(f, &size, NULL), 0);
    cr_assert_eq(size, 0);
    cr_assert_eq(locked_bits(path, 100), 0);
    cr_assert_eq(locked_bits(path, 200), 0);
    img_file_close(f);
}

/* ---- interop with the real QEMU tools ---------------------------------- */

/* Asserts that prog is an executable in $PATH. */
static void require_program(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/bin:/bin");
    for (char *save, *dir = strtok_r(buf, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        char full[4096 + 64];
        snprintf(full, sizeof(full), "%s/%s", dir, prog);
        if (access(full, X_OK) == 0) {
            return;
        }
    }
    cr_assert_fail("%s not found in PATH: install qemu-utils to run the "
                   "QEMU lock interop tests",
                   prog);
}

/* Starts argv with stdout to /dev/null and stderr to errfile (or
 * /dev/null); the child dies with the test process. */
static pid_t spawn(char *const argv[], const char *errfile)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int out = open("/dev/null", O_WRONLY);
        int err = open(errfile ? errfile : "/dev/null",
                       O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(out, 1);
        dup2(err, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Runs argv to completion; returns its exit status and the start of its
 * stderr in errbuf. */
static int run(char *const argv[], char *errbuf, size_t errlen)
{
    snprintf(err_path, sizeof(err_path), "/tmp/vdisk-lock-err-XXXXXX");
    int fd = mkstemp(err_path);
    cr_assert(fd >= 0);
    pid_t pid = spawn(argv, err_path);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    ssize_t n = read(fd, errbuf, errlen - 1);
    errbuf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(err_path);
    err_path[0] = '\0';
    cr_assert(WIFEXITED(status), "%s did not exit", argv[0]);
    return WEXITSTATUS(status);
}

/* Waits (bounded, by polling) until someone locks byte off of path; fails
 * if the child exits first or the lock never shows. */
static void wait_for_lock(const char *path, int off)
{
    struct timespec pause = { 0, 10 * 1000 * 1000 };
    for (int i = 0; i < 1000; i++) {
        if (byte_locked(path, off)) {
            return;
        }
        int status;
        cr_assert_eq(waitpid(child, &status, WNOHANG), 0,
                     "qemu-io exited before taking its lock");
        nanosleep(&pause, NULL);
    }
    cr_assert_fail("qemu-io never locked byte %d of %s", off, path);
}

Test(lock, refuses_image_qemu_io_is_writing)
{
    require_program("qemu-io");
    const char *path = make_image();
    char *argv[] = { "qemu-io",    "-f",         "raw", "-c",
                     "sleep 3000", (char *)path, NULL };
    child = spawn(argv, NULL);
    wait_for_lock(path, 101); /* qemu-io holds "write" */
    img_file *f = open_path(path, 0);
    img_err err = { 0 };
    int r = img_file_set_perm(f, IMG_PERM_CONSISTENT_READ,
                              IMG_PERM_ALL & ~IMG_PERM_WRITE, &err);
    cr_assert_eq(r, -EAGAIN);
    expect_conflict(&err, 1, "write", path);
    /* Sharing write with it is allowed (like qemu-img -U would). */
    cr_assert_eq(
        img_file_set_perm(f, IMG_PERM_CONSISTENT_READ, IMG_PERM_ALL, NULL), 0);
    img_file_close(f);
}

Test(lock, qemu_img_refuses_image_we_are_writing)
{
    require_program("qemu-img");
    const char *path = make_image();
    char *create[] = { "qemu-img", "create",     "-q", "-f",
                       "qcow2",    (char *)path, "1M", NULL };
    char msg[1024];
    cr_assert_eq(run(create, msg, sizeof(msg)), 0, "%s", msg);
    img_file *f = open_path(path, IMG_FILE_RDWR);
    /* What a VM's disk holds: read+write, sharing only reads. */
    cr_assert_eq(img_file_set_perm(
                     f, IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE,
                     IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE_UNCHANGED, NULL),
                 0);
    char *info[] = { "qemu-img", "info", (char *)path, NULL };
    cr_assert_neq(run(info, msg, sizeof(msg)), 0, "qemu-img info ignored us");
    cr_assert(strstr(msg, "Failed to get shared \"write\" lock"), "%s", msg);
    char *info_u[] = { "qemu-img", "info", "-U", (char *)path, NULL };
    cr_assert_eq(run(info_u, msg, sizeof(msg)), 0, "%s", msg);
    /* Once we give write up, qemu-img may look again. */
    cr_assert_eq(
        img_file_set_perm(f, IMG_PERM_CONSISTENT_READ, IMG_PERM_ALL, NULL), 0);
    cr_assert_eq(run(info, msg, sizeof(msg)), 0, "%s", msg);
    img_file_close(f);
}
