/* tests/formats/qcow2/test_qcow2_flags.c -- the header flags the writer
 * keeps: the corrupt bit (set when a write would hit metadata; corrupt
 * images open read/write only for repair), the dirty bit of lazy
 * refcounts (set while written, cleared on close, repaired on the next
 * read/write open after a crash), and the bitmaps autoclear bit (cleared
 * before the first change, since vdisk does not update bitmaps).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qcow2_oracle.h"
#include "qcow2_shadow.h"
#include "support/tmpdir.h"

#define OFFSET_MASK      0x00fffffffffffe00ull
#define INCOMPAT_DIRTY   1ull
#define INCOMPAT_CORRUPT 2ull

static uint64_t get64(const char *path, uint64_t off)
{
    uint8_t b[8];
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pread(fd, b, 8, (off_t)off), 8);
    close(fd);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | b[i];
    }
    return v;
}

static void put16(const char *path, uint64_t off, unsigned v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    int fd = open(path, O_WRONLY);
    cr_assert(fd >= 0);
    cr_assert_eq(pwrite(fd, b, 2, (off_t)off), 2);
    close(fd);
}

static int open_flags(const char *path, unsigned flags, img **im)
{
    img_err err = { 0 };
    return img_open(path, "qcow2", flags | IMG_OPEN_QUIET, im, &err);
}

/* An L2 table counted free is handed out for data: the write is refused
 * before it lands on the table, and the image is marked corrupt. */
Test(qcow2_flags, overlap_marks_the_image_corrupt)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "o.qcow2");
    shadow_img sh;
    shadow_create(path, "cluster_size=4k", 1 << 20, &sh);
    shadow_write(&sh, 0, 8192, 1, 0);
    shadow_free(&sh);
    uint64_t l2 = get64(path, get64(path, 40)) & OFFSET_MASK;
    uint64_t rb = get64(path, get64(path, 48));
    put16(path, rb + 2 * (l2 / 4096), 0);

    img *im = NULL;
    cr_assert_eq(open_flags(path, IMG_OPEN_RDWR, &im), 0);
    uint8_t buf[8192];
    memset(buf, 7, sizeof(buf));
    img_err err = { 0 };
    cr_assert_eq(img_pwrite(im, buf, 4096, 65536, 0, &err), -EIO);
    cr_assert(strstr(err.msg, "overlaps with active L2 table"), "%s", err.msg);
    cr_assert_eq(img_pwrite(im, buf, 4096, 0, 0, &err), -EIO, "no more writes");
    img_close(im);
    cr_assert(get64(path, 72) & INCOMPAT_CORRUPT, "corrupt bit on disk");
    /* the L2 table itself is intact */
    img *ro = oracle_open(path);
    cr_assert_eq(img_pread(ro, buf, 8192, 0, &err), 0);
    img_close(ro);
    oracle_sh("qemu-img info '%s' | grep -q 'corrupt: true'", path);
    cr_assert_eq(open_flags(path, IMG_OPEN_RDWR, &im), -EACCES);
    /* opened for repair, check -r all fixes it and clears the bit */
    cr_assert_eq(open_flags(path, IMG_OPEN_RDWR | IMG_OPEN_CHECK, &im), 0);
    img_check_result res;
    cr_assert_eq(img_check(im, &res, IMG_FIX_LEAKS | IMG_FIX_ERRORS, &err), 0,
                 "%s", err.msg);
    img_close(im);
    cr_assert_eq(get64(path, 72) & INCOMPAT_CORRUPT, 0);
    oracle_qemu_check_clean(path);
    cr_assert_eq(open_flags(path, IMG_OPEN_RDWR, &im), 0);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

/* Lazy refcounts: the dirty bit is set while the image is written and
 * cleared on close. */
Test(qcow2_flags, lazy_refcounts_dirty_bit)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "l.qcow2");
    shadow_img sh;
    shadow_create(path, "lazy_refcounts=on", 1 << 20, &sh);
    cr_assert_eq(get64(path, 72) & INCOMPAT_DIRTY, 0, "clean when made");
    shadow_write(&sh, 0, 100000, 1, 0);
    shadow_flush(&sh);
    cr_assert(get64(path, 72) & INCOMPAT_DIRTY, "dirty while written");
    oracle_sh("cp '%s' '%s/crashed.qcow2'", path, dir);
    shadow_close(&sh);
    cr_assert_eq(get64(path, 72) & INCOMPAT_DIRTY, 0, "clean after close");
    oracle_qemu_check_clean(path);

    /* the copy taken while open is dirty: a read/write open repairs it */
    char *crashed = test_path(dir, "crashed.qcow2");
    img *im = NULL;
    cr_assert_eq(open_flags(crashed, IMG_OPEN_RDWR | IMG_OPEN_CHECK, &im), 0,
                 "opened for check: left dirty");
    img_close(im);
    cr_assert(get64(crashed, 72) & INCOMPAT_DIRTY);
    cr_assert_eq(open_flags(crashed, IMG_OPEN_RDWR, &im), 0);
    img_close(im);
    cr_assert_eq(get64(crashed, 72) & INCOMPAT_DIRTY, 0, "repaired");
    oracle_qemu_check_clean(crashed);
    shadow_free(&sh);
    free(crashed);
    free(path);
    test_tmpdir_free(dir);
}

/* A dirty image whose refcounts are wrong is repaired on open. */
Test(qcow2_flags, dirty_image_refcounts_rebuilt_on_open)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "d.qcow2");
    shadow_img sh;
    shadow_create(path, "lazy_refcounts=on,cluster_size=4k", 1 << 20, &sh);
    shadow_write(&sh, 0, 65536, 1, 0);
    shadow_close(&sh);
    /* what a crash with lazy refcounts leaves: refcounts behind, and the
     * dirty bit */
    uint64_t rb = get64(path, get64(path, 48));
    for (int i = 5; i < 21; i++) {
        put16(path, rb + 2 * (uint64_t)i, 0);
    }
    int fd = open(path, O_WRONLY);
    uint8_t one = 1;
    cr_assert_eq(pwrite(fd, &one, 1, 79), 1); /* incompat bit 0 */
    close(fd);
    img *im = NULL;
    cr_assert_eq(open_flags(path, 0, &im), 0, "read-only: as it is");
    img_check_result res;
    img_err err = { 0 };
    cr_assert_eq(img_check(im, &res, 0, &err), 0);
    cr_assert(res.corruptions > 0);
    img_close(im);
    cr_assert_eq(open_flags(path, IMG_OPEN_RDWR, &im), 0);
    cr_assert_eq(img_check(im, &res, 0, &err), 0);
    cr_assert_eq(res.corruptions + res.leaks, 0, "rebuilt on open");
    sh.im = im;
    shadow_verify(&sh);
    shadow_close(&sh);
    oracle_qemu_check_clean(path);
    shadow_free(&sh);
    free(path);
    test_tmpdir_free(dir);
}

/* Persistent bitmaps are not updated by vdisk: the autoclear bit that
 * vouches for them is cleared before the first change (qemu-img then
 * ignores them). */
Test(qcow2_flags, bitmaps_autoclear_bit_cleared_on_write)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 b.qcow2 1M && "
              "qemu-img bitmap --add b.qcow2 bm",
              dir);
    char *path = test_path(dir, "b.qcow2");
    cr_assert_eq(get64(path, 88) & 1, 1);
    img *im = NULL;
    cr_assert_eq(open_flags(path, IMG_OPEN_RDWR, &im), 0);
    img_close(im);
    cr_assert_eq(get64(path, 88) & 1, 1, "not cleared without a change");
    shadow_img sh;
    shadow_open(path, &sh);
    shadow_write(&sh, 0, 512, 1, 0);
    shadow_close(&sh);
    cr_assert_eq(get64(path, 88) & 1, 0);
    /* both checks now count the bitmap's clusters as leaked */
    img_check_result res;
    img_err err = { 0 };
    cr_assert_eq(open_flags(path, 0, &im), 0);
    cr_assert_eq(img_check(im, &res, 0, &err), 0);
    img_close(im);
    cr_assert(res.leaks > 0);
    oracle_sh("qemu-img check --output=json '%s' 2>/dev/null | grep -q "
              "'\"leaks\": %d,'; test $? = 0",
              path, res.leaks);
    shadow_free(&sh);
    free(path);
    test_tmpdir_free(dir);
}
