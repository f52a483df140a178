/* tests/formats/qcow2/test_qcow2_flags.c -- the header flags the writer
 * keeps: the corrupt bit (set when a write would hit metadata; corrupt
 * images open read/write only for repair), the dirty bit of lazy
 * refcounts (set while written, cleared on close, repaired on the next
 * read/write open after a crash), and the bitmaps autoclear bit (cleared
 * before the first change, since vdisk does not update bitmaps).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2_fixture.h"
#include "qcow2_oracle.h"
#include "support/tmpdir.h"

#define OFFSET_MASK      0x00fffffffffffe00ull
#define INCOMPAT_DIRTY   1ull
#define INCOMPAT_CORRUPT 2ull

/* The 64-bit header field (or table entry) at off of the file. */
static uint64_t get64(const char *path, uint64_t off)
{
    return qfix_peek(path, off, 8);
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
    qfix f;
    qfix_init(&f, "o", 1);
    shadow_create(f.path, "cluster_size=4k", 1 << 20, &f.sh);
    shadow_write(&f.sh, 0, 8192, 1, 0);
    shadow_free(&f.sh);
    uint64_t l2 = get64(f.path, get64(f.path, 40)) & OFFSET_MASK;
    uint64_t rb = get64(f.path, get64(f.path, 48));
    qfix_poke(f.path, rb + 2 * (l2 / 4096), 0, 2);

    img *im = NULL;
    cr_assert_eq(open_flags(f.path, IMG_OPEN_RDWR, &im), 0);
    uint8_t buf[8192];
    memset(buf, 7, sizeof(buf));
    img_err err = { 0 };
    cr_assert_eq(img_pwrite(im, buf, 4096, 65536, 0, &err), -EIO);
    cr_assert(strstr(err.msg, "overlaps with active L2 table"), "%s", err.msg);
    cr_assert_eq(img_pwrite(im, buf, 4096, 0, 0, &err), -EIO, "no more writes");
    img_close(im);
    cr_assert(get64(f.path, 72) & INCOMPAT_CORRUPT, "corrupt bit on disk");
    /* the L2 table itself is intact */
    img *ro = oracle_open(f.path);
    cr_assert_eq(img_pread(ro, buf, 8192, 0, &err), 0);
    img_close(ro);
    oracle_sh("qemu-img info '%s' | grep -q 'corrupt: true'", f.path);
    cr_assert_eq(open_flags(f.path, IMG_OPEN_RDWR, &im), -EACCES);
    /* opened for repair, check -r all fixes it and clears the bit */
    cr_assert_eq(open_flags(f.path, IMG_OPEN_RDWR | IMG_OPEN_CHECK, &im), 0);
    img_check_result res;
    cr_assert_eq(img_check(im, &res, IMG_FIX_LEAKS | IMG_FIX_ERRORS, &err), 0,
                 "%s", err.msg);
    img_close(im);
    cr_assert_eq(get64(f.path, 72) & INCOMPAT_CORRUPT, 0);
    oracle_qemu_check_clean(f.path);
    cr_assert_eq(open_flags(f.path, IMG_OPEN_RDWR, &im), 0);
    img_close(im);
    qfix_fini(&f);
}

/* Lazy refcounts: the dirty bit is set while the image is written and
 * cleared on close. */
Test(qcow2_flags, lazy_refcounts_dirty_bit)
{
    qfix f;
    qfix_init(&f, "l", 1);
    shadow_create(f.path, "lazy_refcounts=on", 1 << 20, &f.sh);
    cr_assert_eq(get64(f.path, 72) & INCOMPAT_DIRTY, 0, "clean when made");
    shadow_write(&f.sh, 0, 100000, 1, 0);
    shadow_flush(&f.sh);
    cr_assert(get64(f.path, 72) & INCOMPAT_DIRTY, "dirty while written");
    oracle_sh("cp '%s' '%s/crashed.qcow2'", f.path, f.dir);
    shadow_close(&f.sh);
    cr_assert_eq(get64(f.path, 72) & INCOMPAT_DIRTY, 0, "clean after close");
    oracle_qemu_check_clean(f.path);

    /* the copy taken while open is dirty: a read/write open repairs it */
    char *crashed = test_path(f.dir, "crashed.qcow2");
    img *im = NULL;
    cr_assert_eq(open_flags(crashed, IMG_OPEN_RDWR | IMG_OPEN_CHECK, &im), 0,
                 "opened for check: left dirty");
    img_close(im);
    cr_assert(get64(crashed, 72) & INCOMPAT_DIRTY);
    cr_assert_eq(open_flags(crashed, IMG_OPEN_RDWR, &im), 0);
    img_close(im);
    cr_assert_eq(get64(crashed, 72) & INCOMPAT_DIRTY, 0, "repaired");
    oracle_qemu_check_clean(crashed);
    shadow_free(&f.sh);
    free(crashed);
    qfix_fini(&f);
}

/* A dirty image whose refcounts are wrong is repaired on open. */
Test(qcow2_flags, dirty_image_refcounts_rebuilt_on_open)
{
    qfix f;
    qfix_init(&f, "d", 1);
    shadow_create(f.path, "lazy_refcounts=on,cluster_size=4k", 1 << 20, &f.sh);
    shadow_write(&f.sh, 0, 65536, 1, 0);
    shadow_close(&f.sh);
    /* what a crash with lazy refcounts leaves: refcounts behind, and the
     * dirty bit */
    uint64_t rb = get64(f.path, get64(f.path, 48));
    for (int i = 5; i < 21; i++) {
        qfix_poke(f.path, rb + 2 * (uint64_t)i, 0, 2);
    }
    qfix_poke(f.path, 79, 1, 1); /* incompat bit 0 */
    img *im = NULL;
    cr_assert_eq(open_flags(f.path, 0, &im), 0, "read-only: as it is");
    img_check_result res;
    img_err err = { 0 };
    cr_assert_eq(img_check(im, &res, 0, &err), 0);
    cr_assert(res.corruptions > 0);
    img_close(im);
    cr_assert_eq(open_flags(f.path, IMG_OPEN_RDWR, &im), 0);
    cr_assert_eq(img_check(im, &res, 0, &err), 0);
    cr_assert_eq(res.corruptions + res.leaks, 0, "rebuilt on open");
    f.sh.im = im;
    shadow_verify(&f.sh);
    shadow_close(&f.sh);
    oracle_qemu_check_clean(f.path);
    qfix_fini(&f);
}

/* Persistent bitmaps are not updated by vdisk: the autoclear bit that
 * vouches for them is cleared before the first change (qemu-img then
 * ignores them). */
Test(qcow2_flags, bitmaps_autoclear_bit_cleared_on_write)
{
    qfix f;
    qfix_init(&f, "b", 1);
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 b.qcow2 1M && "
              "qemu-img bitmap --add b.qcow2 bm",
              f.dir);
    cr_assert_eq(get64(f.path, 88) & 1, 1);
    img *im = NULL;
    cr_assert_eq(open_flags(f.path, IMG_OPEN_RDWR, &im), 0);
    img_close(im);
    cr_assert_eq(get64(f.path, 88) & 1, 1, "not cleared without a change");
    shadow_open(f.path, &f.sh);
    shadow_write(&f.sh, 0, 512, 1, 0);
    shadow_close(&f.sh);
    cr_assert_eq(get64(f.path, 88) & 1, 0);
    /* both checks now count the bitmap's clusters as leaked */
    img_check_result res;
    img_err err = { 0 };
    cr_assert_eq(open_flags(f.path, 0, &im), 0);
    cr_assert_eq(img_check(im, &res, 0, &err), 0);
    img_close(im);
    cr_assert(res.leaks > 0);
    oracle_sh("qemu-img check --output=json '%s' 2>/dev/null | grep -q "
              "'\"leaks\": %d,'; test $? = 0",
              f.path, res.leaks);
    qfix_fini(&f);
}
