/* tests/libimg/test_file_host.c -- the POSIX host file backend
 * (libimg/file_host.c) and the img_file_* wrappers (libimg/file.c). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "libimg/file.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* Temporary files of the running test, removed by fini. */
static char tmp_paths[2][64];

/* Creates an empty temporary file; returns its path. */
static const char *make_tmp(int slot)
{
    snprintf(tmp_paths[slot], sizeof(tmp_paths[slot]),
             "/tmp/vdisk-host-XXXXXX");
    int fd = mkstemp(tmp_paths[slot]);
    cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
    close(fd);
    return tmp_paths[slot];
}

static void remove_tmps(void)
{
    for (int i = 0; i < 2; i++) {
        if (tmp_paths[i][0]) {
            unlink(tmp_paths[i]);
            tmp_paths[i][0] = '\0';
        }
    }
}

TestSuite(file_host, .fini = remove_tmps);

/* Opens path read-write and asserts success. */
static img_file *open_rw(const char *path)
{
    img_file *f = NULL;
    img_err err = { 0 };
    int r = img_file_open_host(path, IMG_FILE_RDWR, &f, &err);
    cr_assert_eq(r, 0, "open %s: %s", path, err.msg);
    return f;
}

static uint64_t size_of(img_file *f)
{
    uint64_t size = 0;
    cr_assert_eq(img_file_size(f, &size, NULL), 0);
    return size;
}

/* True when len bytes at buf all equal c. */
static int all_bytes(const uint8_t *buf, size_t len, uint8_t c)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != c) {
            return 0;
        }
    }
    return 1;
}

/* Writes len bytes of value c at off. */
static void fill(img_file *f, uint64_t off, size_t len, uint8_t c)
{
    uint8_t *buf = malloc(len);
    cr_assert(buf);
    memset(buf, c, len);
    img_err err = { 0 };
    cr_assert_eq(img_file_pwrite(f, buf, len, off, &err), 0, "%s", err.msg);
    free(buf);
}

Test(file_host, open_missing_file_reports_path_and_errno)
{
    img_file *f = NULL;
    img_err err = { 0 };
    int r = img_file_open_host("/nonexistent-dir/x.img", 0, &f, &err);
    cr_assert_eq(r, -ENOENT);
    cr_assert_eq(err.code, ENOENT);
    cr_assert_str_eq(err.msg, "Could not open '/nonexistent-dir/x.img': "
                              "No such file or directory");
    cr_assert_null(f);
}

Test(file_host, create_in_missing_dir_says_create)
{
    img_file *f = NULL;
    img_err err = { 0 };
    int r = img_file_open_host("/nonexistent-dir/x.img",
                               IMG_FILE_RDWR | IMG_FILE_CREATE, &f, &err);
    cr_assert_eq(r, -ENOENT);
    cr_assert_str_eq(err.msg, "Could not create '/nonexistent-dir/x.img': "
                              "No such file or directory");
}

Test(file_host, directory_is_refused_cleanly)
{
    img_file *f = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_file_open_host("/tmp", 0, &f, &err), -EISDIR);
    cr_assert_null(f);
    cr_assert_str_eq(err.msg,
                     "'file' driver requires '/tmp' to be a regular file");
    /* Read-write: the kernel refuses first, same errno. */
    cr_assert_eq(img_file_open_host("/tmp", IMG_FILE_RDWR, &f, &err), -EISDIR);
    cr_assert_str_eq(err.msg, "Could not open '/tmp': Is a directory");
}

Test(file_host, fifo_is_refused_without_blocking)
{
    const char *path = make_tmp(0);
    unlink(path);
    cr_assert_eq(mkfifo(path, 0600), 0);
    img_file *f = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_file_open_host(path, 0, &f, &err), -EINVAL);
    cr_assert(strstr(err.msg, "to be a regular file"), "%s", err.msg);
}

Test(file_host, char_device_opens_with_size_zero)
{
    img_file *f = NULL;
    cr_assert_eq(img_file_open_host("/dev/null", 0, &f, NULL), 0);
    cr_assert_eq(size_of(f), 0);
    uint8_t buf[16];
    memset(buf, 0xaa, sizeof(buf));
    cr_assert_eq(img_file_pread(f, buf, sizeof(buf), 0, NULL), 0);
    cr_assert(all_bytes(buf, sizeof(buf), 0));
    img_file_close(f);
}

Test(file_host, fd_is_close_on_exec)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    char want[PATH_MAX], link[64], got[PATH_MAX];
    cr_assert(realpath(path, want));
    int found = 0;
    for (int fd = 3; fd < 1024 && !found; fd++) {
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, got, sizeof(got) - 1);
        if (n > 0) {
            got[n] = '\0';
            if (strcmp(got, want) == 0) {
                found = 1;
                cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
            }
        }
    }
    cr_assert(found, "no fd refers to %s", want);
    img_file_close(f);
}

Test(file_host, pread_past_eof_zero_fills)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    fill(f, 0, 100, 0x5a);
    uint8_t buf[300];
    memset(buf, 0xff, sizeof(buf));
    /* Straddles EOF: 50 data bytes then zeros. */
    cr_assert_eq(img_file_pread(f, buf, 200, 50, NULL), 0);
    cr_assert(all_bytes(buf, 50, 0x5a));
    cr_assert(all_bytes(buf + 50, 150, 0));
    /* Entirely past EOF. */
    memset(buf, 0xff, sizeof(buf));
    cr_assert_eq(img_file_pread(f, buf, sizeof(buf), 10 * MIB, NULL), 0);
    cr_assert(all_bytes(buf, sizeof(buf), 0));
    cr_assert_eq(size_of(f), 100);
    img_file_close(f);
}

Test(file_host, pwrite_grows_and_reads_back)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    cr_assert_eq(size_of(f), 0);
    fill(f, MIB, 4 * KIB, 0x11);
    cr_assert_eq(size_of(f), MIB + 4 * KIB);
    uint8_t buf[8 * KIB];
    cr_assert_eq(img_file_pread(f, buf, sizeof(buf), MIB - 4 * KIB, NULL), 0);
    cr_assert(all_bytes(buf, 4 * KIB, 0), "gap before the write is zero");
    cr_assert(all_bytes(buf + 4 * KIB, 4 * KIB, 0x11));
    img_file_close(f);
}

Test(file_host, create_truncates_existing_file)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    fill(f, 0, 4096, 1);
    img_file_close(f);
    cr_assert_eq(
        img_file_open_host(path, IMG_FILE_RDWR | IMG_FILE_CREATE, &f, NULL), 0);
    cr_assert_eq(size_of(f), 0);
    img_file_close(f);
}

Test(file_host, truncate_shrinks_and_grows_with_zeros)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    fill(f, 0, 8192, 0x77);
    cr_assert_eq(img_file_truncate(f, 1000, NULL), 0);
    cr_assert_eq(size_of(f), 1000);
    cr_assert_eq(img_file_truncate(f, 3 * MIB, NULL), 0);
    cr_assert_eq(size_of(f), 3 * MIB);
    uint8_t buf[2000];
    cr_assert_eq(img_file_pread(f, buf, sizeof(buf), 0, NULL), 0);
    cr_assert(all_bytes(buf, 1000, 0x77));
    cr_assert(all_bytes(buf + 1000, 1000, 0), "old bytes must not return");
    cr_assert_eq(img_file_flush(f, NULL), 0);
    img_file_close(f);
}

Test(file_host, read_only_file_refuses_writes)
{
    const char *path = make_tmp(0);
    img_file *f = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_file_open_host(path, 0, &f, NULL), 0);
    uint8_t b = 1;
    cr_assert_eq(img_file_pwrite(f, &b, 1, 0, &err), -EPERM);
    cr_assert_eq(err.code, EPERM);
    cr_assert_eq(img_file_truncate(f, 10, NULL), -EPERM);
    cr_assert_eq(img_file_write_zeroes(f, 0, 10, NULL), -EPERM);
    cr_assert_eq(size_of(f), 0);
    img_file_close(f);
}

/* Asserts that [off, off+len) reads as zeros. */
static void assert_zero_range(img_file *f, uint64_t off, size_t len)
{
    uint8_t *buf = malloc(len);
    cr_assert(buf);
    memset(buf, 0xee, len);
    cr_assert_eq(img_file_pread(f, buf, len, off, NULL), 0);
    cr_assert(all_bytes(buf, len, 0), "range at %llu not zero",
              (unsigned long long)off);
    free(buf);
}

Test(file_host, punch_hole_reads_zero_and_shows_as_hole)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    fill(f, 0, MIB, 0x33);
    cr_assert_eq(img_file_flush(f, NULL), 0);
    uint64_t before = 0, after = 0;
    cr_assert_eq(img_file_allocated_size(f, &before, NULL), 0);
    cr_assert_geq(before, MIB);
    img_err err = { 0 };
    cr_assert_eq(img_file_punch_hole(f, 256 * KIB, 256 * KIB, &err), 0, "%s",
                 err.msg);
    assert_zero_range(f, 256 * KIB, 256 * KIB);
    cr_assert_eq(size_of(f), MIB, "KEEP_SIZE");
    /* Neighbours keep their data. */
    uint8_t b = 0;
    cr_assert_eq(img_file_pread(f, &b, 1, 256 * KIB - 1, NULL), 0);
    cr_assert_eq(b, 0x33);
    cr_assert_eq(img_file_pread(f, &b, 1, 512 * KIB, NULL), 0);
    cr_assert_eq(b, 0x33);
    cr_assert_eq(img_file_allocated_size(f, &after, NULL), 0);
    int is_data = -1;
    uint64_t pnum = 0;
    cr_assert_eq(img_file_extent(f, 256 * KIB, MIB, &is_data, &pnum, NULL), 0);
    if (after < before) {
        /* The filesystem deallocated: the map must say so exactly. */
        cr_assert_eq(is_data, 0);
        cr_assert_eq(pnum, 256 * KIB);
        cr_assert_eq(img_file_extent(f, 512 * KIB, MIB, &is_data, &pnum, NULL),
                     0);
        cr_assert_eq(is_data, 1);
        cr_assert_eq(pnum, 512 * KIB, "data runs to the end of range");
    } else {
        cr_assert_eq(is_data, 1, "no hole support: everything is data");
    }
    img_file_close(f);
}

Test(file_host, extent_maps_sparse_file)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    cr_assert_eq(img_file_truncate(f, 2 * MIB, NULL), 0);
    fill(f, MIB, 64 * KIB, 0x44);
    uint64_t alloc = 0;
    cr_assert_eq(img_file_allocated_size(f, &alloc, NULL), 0);
    int is_data = -1;
    uint64_t pnum = 0;
    cr_assert_eq(img_file_extent(f, 0, 2 * MIB, &is_data, &pnum, NULL), 0);
    if (alloc >= 2 * MIB) {
        cr_skip_test("filesystem does not keep files sparse");
    }
    cr_assert_eq(is_data, 0);
    cr_assert_eq(pnum, MIB);
    cr_assert_eq(img_file_extent(f, MIB, 2 * MIB, &is_data, &pnum, NULL), 0);
    cr_assert_eq(is_data, 1);
    cr_assert_geq(pnum, 64 * KIB);
    cr_assert_lt(pnum, MIB);
    /* pnum never exceeds the asked length. */
    cr_assert_eq(img_file_extent(f, 0, 4096, &is_data, &pnum, NULL), 0);
    cr_assert_eq(is_data, 0);
    cr_assert_eq(pnum, 4096);
    /* Past EOF is a hole. */
    cr_assert_eq(img_file_extent(f, 4 * MIB, 8192, &is_data, &pnum, NULL), 0);
    cr_assert_eq(is_data, 0);
    cr_assert_eq(pnum, 8192);
    img_file_close(f);
}

Test(file_host, write_zeroes_clears_and_grows)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    fill(f, 0, 64 * KIB, 0x55);
    img_err err = { 0 };
    cr_assert_eq(img_file_write_zeroes(f, 4 * KIB, 8 * KIB, &err), 0, "%s",
                 err.msg);
    assert_zero_range(f, 4 * KIB, 8 * KIB);
    uint8_t b = 0;
    cr_assert_eq(img_file_pread(f, &b, 1, 12 * KIB, NULL), 0);
    cr_assert_eq(b, 0x55);
    /* Straddling EOF grows the file like a write of zeros would. */
    cr_assert_eq(img_file_write_zeroes(f, 60 * KIB, 100 * KIB, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(size_of(f), 160 * KIB);
    assert_zero_range(f, 60 * KIB, 100 * KIB);
    img_file_close(f);
}

Test(file_host, allocate_reserves_and_grows)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    img_err err = { 0 };
    cr_assert_eq(img_file_allocate(f, 0, MIB, &err), 0, "%s", err.msg);
    cr_assert_eq(size_of(f), MIB);
    uint64_t alloc = 0;
    cr_assert_eq(img_file_allocated_size(f, &alloc, NULL), 0);
    cr_assert_geq(alloc, MIB);
    assert_zero_range(f, 0, MIB);
    img_file_close(f);
}

Test(file_host, copy_range_copies_and_zero_fills_past_source_eof)
{
    img_file *src = open_rw(make_tmp(0));
    img_file *dst = open_rw(make_tmp(1));
    fill(src, 0, 100 * KIB, 0x66);
    fill(dst, 0, 300 * KIB, 0x99);
    img_err err = { 0 };
    /* 200 KiB from offset 50 KiB: 50 KiB of data, then the source ends. */
    int r = img_file_copy_range(src, 50 * KIB, dst, 8 * KIB, 200 * KIB, &err);
    cr_assert_eq(r, 0, "%s", err.msg);
    uint8_t *buf = malloc(300 * KIB);
    cr_assert(buf);
    cr_assert_eq(img_file_pread(dst, buf, 300 * KIB, 0, NULL), 0);
    cr_assert(all_bytes(buf, 8 * KIB, 0x99));
    cr_assert(all_bytes(buf + 8 * KIB, 50 * KIB, 0x66));
    cr_assert(all_bytes(buf + 58 * KIB, 150 * KIB, 0));
    cr_assert(all_bytes(buf + 208 * KIB, 92 * KIB, 0x99));
    free(buf);
    img_file_close(src);
    img_file_close(dst);
}

Test(file_host, copy_range_to_other_backend_is_not_supported)
{
    img_file *src = open_rw(make_tmp(0));
    img_file *mem = img_mem_file_new(NULL, 0, 1);
    cr_assert(mem);
    img_err err = { 0 };
    cr_assert_eq(img_file_copy_range(src, 0, mem, 0, 10, &err), -ENOTSUP);
    cr_assert_eq(err.code, ENOTSUP);
    img_file_close(src);
    img_file_close(mem);
}

/* Pages of the first len bytes of fd that are in the page cache. */
static size_t resident_pages(int fd, size_t len)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t n = (len + (size_t)page - 1) / (size_t)page;
    unsigned char vec[(4 * MIB) / 4096 + 1];
    cr_assert(n <= sizeof(vec));
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert(map != MAP_FAILED, "mmap: %s", strerror(errno));
    cr_assert_eq(mincore(map, len, vec), 0, "mincore: %s", strerror(errno));
    munmap(map, len);
    size_t in = 0;
    for (size_t i = 0; i < n; i++) {
        in += vec[i] & 1;
    }
    return in;
}

/* The hint really starts reading: after the file's pages are dropped from
 * the page cache, prefetch brings them back without any read. */
Test(file_host, prefetch_reads_into_the_page_cache)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    static uint8_t data[MIB];
    memset(data, 0x3c, sizeof(data));
    cr_assert_eq(img_file_pwrite(f, data, sizeof(data), 0, NULL), 0);
    cr_assert_eq(img_file_flush(f, NULL), 0);
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    posix_fadvise(fd, 0, MIB, POSIX_FADV_DONTNEED);
    if (resident_pages(fd, MIB) != 0) {
        close(fd);
        img_file_close(f);
        cr_skip_test("this file system keeps the pages: nothing to observe");
    }
    img_file_prefetch(f, 0, MIB);
    size_t in = 0;
    for (int i = 0; i < 500 && in < MIB / 4096; i++) {
        struct timespec ms10 = { .tv_nsec = 10 * 1000 * 1000 };
        nanosleep(&ms10, NULL);
        in = resident_pages(fd, MIB);
    }
    cr_assert_eq(in, MIB / 4096, "%zu of %u pages read ahead", in,
                 MIB / 4096);
    close(fd);
    img_file_close(f);
}

/* A dense file of 4 MiB written and flushed, then evicted from the page
 * cache; skips the test where eviction or cachestat(2) (Linux 6.5+, what
 * tells a read-once file that it is cold) is not available. */
static const char *make_cold_file(size_t len, int dense)
{
    const char *path = make_tmp(0);
    img_file *f = open_rw(path);
    static uint8_t data[4 * MIB];
    cr_assert(len <= sizeof(data));
    memset(data, 0x5a, sizeof(data));
    size_t data_len = dense ? len : MIB;
    cr_assert_eq(img_file_pwrite(f, data, data_len, 0, NULL), 0);
    cr_assert_eq(img_file_truncate(f, len, NULL), 0);
    cr_assert_eq(img_file_flush(f, NULL), 0);
    img_file_close(f);
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    posix_fadvise(fd, 0, (off_t)len, POSIX_FADV_DONTNEED);
    size_t in = resident_pages(fd, len);
    struct { uint64_t off, len; } range = { 0, 0 };
    uint64_t cs[5];
    long have_cachestat = syscall(451, fd, &range, cs, 0) == 0;
    close(fd);
    if (in != 0 || !have_cachestat) {
        cr_skip_test("cannot make a cold file here (%zu pages stay, "
                     "cachestat %s)", in, have_cachestat ? "works" : "absent");
    }
    return path;
}

/* Reads the len bytes of a file make_cold_file made, opened with flags,
 * 1 MiB at a time (so that reads start and end inside 2 MiB blocks), and
 * returns how many of its pages are then in the page cache. */
static size_t pages_after_reading(const char *path, unsigned flags,
                                  size_t len, int dense)
{
    img_file *f = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_file_open_host(path, flags, &f, &err), 0, "%s",
                 err.msg);
    static uint8_t buf[MIB];
    for (size_t off = 0; off < len; off += MIB) {
        cr_assert_eq(img_file_pread(f, buf, MIB, off, NULL), 0);
        cr_assert_eq(buf[MIB - 1], dense || off < MIB ? 0x5a : 0);
    }
    img_file_close(f);
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    size_t in = resident_pages(fd, len);
    close(fd);
    return in;
}

Test(file_host, read_once_drops_what_it_read_from_a_cold_file)
{
    const char *path = make_cold_file(4 * MIB, 1);
    cr_assert_eq(pages_after_reading(path, IMG_FILE_READ_ONCE, 4 * MIB, 1),
                 0);
}

Test(file_host, plain_reads_keep_what_they_read)
{
    const char *path = make_cold_file(4 * MIB, 1);
    cr_assert_eq(pages_after_reading(path, 0, 4 * MIB, 1), 4 * MIB / 4096);
}

/* A file already in the cache stays there: somebody else uses it. */
Test(file_host, read_once_leaves_a_cached_file_cached)
{
    const char *path = make_cold_file(4 * MIB, 1);
    cr_assert_eq(pages_after_reading(path, 0, 4 * MIB, 1), 4 * MIB / 4096);
    cr_assert_eq(pages_after_reading(path, IMG_FILE_READ_ONCE, 4 * MIB, 1),
                 4 * MIB / 4096);
}

/* A sparse file keeps its pages (the rule and its reason are at
 * should_drop_behind in file_host.c). */
Test(file_host, read_once_leaves_a_sparse_file_alone)
{
    const char *path = make_cold_file(4 * MIB, 0);
    cr_assert_gt(pages_after_reading(path, IMG_FILE_READ_ONCE, 4 * MIB, 0),
                 0);
}

Test(file_host, identity_matches_same_inode_only)
{
    const char *a = make_tmp(0), *b = make_tmp(1);
    img_file *f1 = open_rw(a), *f2 = open_rw(a), *f3 = open_rw(b);
    uint64_t d1, i1, d2, i2, d3, i3;
    cr_assert_eq(img_file_identity(f1, &d1, &i1), 0);
    cr_assert_eq(img_file_identity(f2, &d2, &i2), 0);
    cr_assert_eq(img_file_identity(f3, &d3, &i3), 0);
    struct stat st;
    cr_assert_eq(stat(a, &st), 0);
    cr_assert_eq(i1, (uint64_t)st.st_ino);
    cr_assert(d1 == d2 && i1 == i2);
    cr_assert(d1 != d3 || i1 != i3);
    img_file_close(f1);
    img_file_close(f2);
    img_file_close(f3);
}

/* Each thread writes its own 64 KiB slice of one file. */
struct slice_job {
    img_file *f;
    unsigned index;
};

static void *write_slice(void *arg)
{
    struct slice_job *job = arg;
    for (unsigned i = 0; i < 16; i++) {
        uint8_t buf[4 * KIB];
        memset(buf, (int)(job->index + 1), sizeof(buf));
        uint64_t off = (uint64_t)job->index * 64 * KIB + i * sizeof(buf);
        if (img_file_pwrite(job->f, buf, sizeof(buf), off, NULL) < 0) {
            return (void *)1;
        }
    }
    return NULL;
}

Test(file_host, concurrent_writers_do_not_interfere)
{
    img_file *f = open_rw(make_tmp(0));
    pthread_t th[4];
    struct slice_job jobs[4];
    for (unsigned i = 0; i < 4; i++) {
        jobs[i] = (struct slice_job){ f, i };
        cr_assert_eq(pthread_create(&th[i], NULL, write_slice, &jobs[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        void *res;
        pthread_join(th[i], &res);
        cr_assert_null(res);
    }
    cr_assert_eq(size_of(f), 256 * KIB);
    uint8_t buf[64 * KIB];
    for (unsigned i = 0; i < 4; i++) {
        cr_assert_eq(img_file_pread(f, buf, sizeof(buf), i * 64 * KIB, NULL),
                     0);
        cr_assert(all_bytes(buf, sizeof(buf), (uint8_t)(i + 1)));
    }
    img_file_close(f);
}

Test(file_host, close_null_is_noop)
{
    img_file_close(NULL);
}
