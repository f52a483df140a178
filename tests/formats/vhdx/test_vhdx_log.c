/* tests/formats/vhdx/test_vhdx_log.c -- the VHDX log (MS-VHDX 2.3).
 *
 * Crash consistency: a write workload runs over the fault-injecting file
 * with every write from number N on dropped (a power cut), for every N; the
 * image reopened read-only (replay in memory) and read-write (replay on
 * disk) holds everything flushed before the cut, and nothing else but data
 * written after it.  QEMU replays the logs our writer leaves the same way.
 * Hand-made logs (built here byte by byte) are replayed as the spec says:
 * sequences, Tail, zero descriptors, wrapping, and invalid entries
 * (checksum, LogGuid, header targets) are ignored; a file shorter than
 * FlushedFileOffset is refused.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/vhdx/vhdx.h"
#include "support/tmpdir.h"
#include "vhdx_testlib.h"

#define MIB (1u << 20)
#define OPS 8            /* operations of the workload */
#define OPS_PER_FLUSH 2  /* a flush after every second one */

/* Expected image after each operation (index 0: before any).  A crash may
 * leave any byte as it was after the last flushed operation or after any
 * later one (a write may reach some blocks and not others). */
typedef struct snapshots {
    uint8_t *data[OPS + 1];
    uint64_t size[OPS + 1];
} snapshots;

/* Image sizes: before and after the workload's truncate. */
#define SIZE0 (4 * MIB)
#define SIZE1 (5 * MIB)

/* Operation k of the workload on im, mirrored into exp (size *size). */
static void op(img *im, int k, uint8_t *exp, uint64_t *size)
{
    static uint8_t buf[1600 * 1024];
    img_err err = { 0 };
    int r = 0;
    switch (k) {
    case 0: /* new blocks */
        tl_pattern(buf, 64 * 1024, 1);
        r = img_pwrite(im, buf, 64 * 1024, 100 * 1024, 0, &err);
        memcpy(exp + 100 * 1024, buf, 64 * 1024);
        break;
    case 1:
        tl_pattern(buf, 4096, 2);
        r = img_pwrite(im, buf, 4096, 2 * MIB + 123, 0, &err);
        memcpy(exp + 2 * MIB + 123, buf, 4096);
        break;
    case 2: /* a block zeroed (ZERO state, its space freed) */
        r = img_pwrite_zeroes(im, 2 * MIB, MIB, 0, &err);
        memset(exp + 2 * MIB, 0, MIB);
        break;
    case 3: /* a write over three blocks, reusing the freed space */
        tl_pattern(buf, 1500 * 1024, 3);
        r = img_pwrite(im, buf, 1500 * 1024, MIB - 100 * 1024, 0, &err);
        memcpy(exp + MIB - 100 * 1024, buf, 1500 * 1024);
        break;
    case 4:
        r = img_discard(im, 0, MIB, &err);
        memset(exp, 0, MIB);
        break;
    case 5:
        tl_pattern(buf, 10 * 1024, 4);
        r = img_pwrite(im, buf, 10 * 1024, 3 * MIB + 1, 0, &err);
        memcpy(exp + 3 * MIB + 1, buf, 10 * 1024);
        break;
    case 6: /* the disk grows (metadata through the log) */
        r = img_truncate(im, SIZE1, IMG_PREALLOC_OFF, &err);
        *size = SIZE1;
        break;
    default:
        tl_pattern(buf, 8192, 5);
        r = img_pwrite(im, buf, 8192, 4 * MIB + 7, 0, &err);
        memcpy(exp + 4 * MIB + 7, buf, 8192);
        break;
    }
    cr_assert_eq(r, 0, "operation %d: %s", k, err.msg);
}

static void snapshots_make(snapshots *sn)
{
    for (int k = 0; k <= OPS; k++) {
        sn->data[k] = calloc(1, SIZE1);
        sn->size[k] = SIZE0;
    }
}

/* Opens the image on d (through a new file over it). */
static img *disk_open(tl_disk *d, unsigned flags)
{
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_eq(img_open_file(tl_disk_file_new(d), "vhdx",
                               flags | IMG_OPEN_NO_LOCK | IMG_OPEN_QUIET,
                               &im, &err), 0, "%s", err.msg);
    return im;
}

/* Runs the workload on d through a fault file that drops every write
 * from number drop_from on (0: none); returns how many operations had
 * been flushed before the cut.  With sn, fills the snapshots. */
static int run_workload(tl_disk *d, uint64_t drop_from, snapshots *sn)
{
    img_err err = { 0 };
    img_fault_plan plan = { .drop_from = drop_from };
    img_file *f = img_fault_file_new(tl_disk_file_new(d), &plan);
    img *im = NULL;
    cr_assert_eq(img_open_file(f, "vhdx", IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK |
                               IMG_OPEN_QUIET, &im, &err), 0, "%s", err.msg);
    int flushed = 0;
    uint8_t *scratch = sn ? NULL : malloc(SIZE1);
    uint64_t size = SIZE0;
    for (int k = 0; k < OPS; k++) {
        if (sn) {
            memcpy(sn->data[k + 1], sn->data[k], SIZE1);
        }
        op(im, k, sn ? sn->data[k + 1] : scratch, &size);
        if (sn) {
            sn->size[k + 1] = size;
        }
        if ((k + 1) % OPS_PER_FLUSH) {
            continue;
        }
        cr_assert_eq(img_flush(im, &err), 0, "%s", err.msg);
        if (drop_from == 0 || img_fault_file_writes(f) < drop_from) {
            flushed = k + 1;
        }
    }
    img_close(im);
    free(scratch);
    return flushed;
}

/* The image holds operation `done` or a later one: its size is one of
 * theirs and each byte is that of operation done or of a later one. */
static void expect_consistent(img *im, const snapshots *sn, int done)
{
    uint64_t size = img_size(im);
    int size_ok = 0;
    for (int m = done; m <= OPS; m++) {
        size_ok |= sn->size[m] == size;
    }
    cr_assert(size_ok, "size %" PRIu64 " after %d flushed operations", size,
              done);
    uint8_t *buf = malloc(size);
    img_err err = { 0 };
    cr_assert_eq(img_pread(im, buf, size, 0, &err), 0, "%s", err.msg);
    if (memcmp(buf, sn->data[done], size) != 0) {
        for (uint64_t i = 0; i < size; i++) {
            int ok = buf[i] == sn->data[done][i];
            for (int m = done + 1; !ok && m <= OPS; m++) {
                ok = buf[i] == sn->data[m][i];
            }
            if (!ok) {
                cr_assert_fail("byte %" PRIu64 " is %#x: neither operation "
                               "%d nor a later one", i, buf[i], done);
            }
        }
    }
    free(buf);
}

/* Whether the current header in the first 192 KiB at p names a log. */
static int log_pending_in(const uint8_t *p)
{
    vhdx_header d[2];
    int ok0 = vhdx_header_decode(p + VHDX_HEADER1_OFFSET, VHDX_HEADER_SIZE,
                                 &d[0], NULL) == 0;
    int ok1 = vhdx_header_decode(p + VHDX_HEADER2_OFFSET, VHDX_HEADER_SIZE,
                                 &d[1], NULL) == 0;
    int cur = !ok0 || (ok1 && d[1].seq > d[0].seq);
    return !vhdx_guid_is_zero(&d[cur].log_guid);
}

static int log_pending(const char *path)
{
    uint8_t *p = malloc(VHDX_RT1_OFFSET);
    tl_peek(path, 0, p, VHDX_RT1_OFFSET);
    int r = log_pending_in(p);
    free(p);
    return r;
}

/* QEMU replays the log of the image file at crashed (check -r all) and
 * then reads what we read from ours. */
static void expect_qemu_agrees(const char *dir, const char *crashed,
                               img *ours)
{
    char copy[512], raw[512];
    snprintf(copy, sizeof(copy), "%s/q.vhdx", dir);
    snprintf(raw, sizeof(raw), "%s/q.raw", dir);
    tl_sh("cp '%s' '%s'", crashed, copy);
    tl_sh("qemu-img check -q -r all -f vhdx '%s' >/dev/null 2>&1 || true",
          copy);
    tl_sh("qemu-img convert -f vhdx -O raw '%s' '%s'", copy, raw);
    tl_expect_raw_file(ours, raw);
}

Test(vhdx_log, every_power_cut_leaves_a_consistent_image)
{
    tl_require_qemu();
    char *dir = test_tmpdir_new();
    char *file = test_path(dir, "work.vhdx");
    tl_disk base = { 0 }, work = { 0 };
    const img_driver *drv = img_driver_find("vhdx");
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    cr_assert_eq(img_opts_parse(o, "block_size=1M,block_state_zero=off",
                                NULL), 0);
    img_create_opts co = { .size = SIZE0, .opts = o };
    img_file *bf = tl_disk_file_new(&base);
    cr_assert_eq(img_create_file(bf, "vhdx", &co, NULL), 0);
    img_file_close(bf);
    img_opts_free(o);
    snapshots sn;
    snapshots_make(&sn);
    tl_disk_copy(&work, &base);
    cr_assert_eq(run_workload(&work, 0, &sn), OPS);
    uint64_t total = work.writes;
    int qemu_runs = 0, pending_seen = 0;
    for (uint64_t n = 1; n <= total + 1; n++) {
        tl_disk_copy(&work, &base);
        int done = run_workload(&work, n, NULL);
        int pending = log_pending_in(work.data);
        pending_seen += pending;
        img *im = disk_open(&work, 0); /* replays in memory */
        expect_consistent(im, &sn, done);
        if (pending && qemu_runs < 2) {
            tl_disk_save(&work, file);
            expect_qemu_agrees(dir, file, im);
            qemu_runs++;
        }
        img_close(im);
        im = disk_open(&work, IMG_OPEN_RDWR); /* replays on disk */
        img_check_result res;
        cr_assert_eq(img_check(im, &res, 0, NULL), 0);
        cr_assert_eq(res.corruptions, 0, "cut at write %" PRIu64, n);
        img_close(im);
        cr_assert_not(log_pending_in(work.data), "log replayed, cleared");
        im = disk_open(&work, 0);
        expect_consistent(im, &sn, done);
        img_close(im);
        if (n % 16 == 0 || n == total + 1) {
            tl_disk_save(&work, file);
            tl_sh("qemu-img check -q -f vhdx '%s'", file);
        }
    }
    cr_log_info("%" PRIu64 " cuts", total + 1);
    cr_assert_gt(pending_seen, 0, "no cut left a log to replay");
    cr_assert_gt(qemu_runs, 0);
    for (int k = 0; k <= OPS; k++) {
        free(sn.data[k]);
    }
    tl_disk_free(&base);
    tl_disk_free(&work);
    free(file);
    test_tmpdir_free(dir);
}

/* ---- hand-made logs ---- */

/* One update of a hand-made entry. */
typedef struct tdesc {
    uint64_t offset;
    uint64_t zero_len;     /* > 0: a zero descriptor */
    const uint8_t *data;   /* 4096 bytes for a data descriptor */
} tdesc;

/* Builds a log entry into buf (zeroed by the caller); returns its length. */
static uint32_t build_entry(uint8_t *buf, uint64_t seq, uint32_t tail,
                            const vhdx_guid *log_guid, uint64_t flushed,
                            uint64_t last, const tdesc *d, int n)
{
    uint32_t ds = (uint32_t)((n + 2 + 127) / 128), nd = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *p = buf + 64 + 32 * i;
        vhdx_put64(p + 16, d[i].offset);
        vhdx_put64(p + 24, seq);
        if (d[i].zero_len) {
            memcpy(p, "zero", 4);
            vhdx_put64(p + 8, d[i].zero_len);
            continue;
        }
        uint8_t *sec = buf + (ds + nd++) * 4096;
        memcpy(p, "desc", 4);
        memcpy(p + 4, d[i].data + 4092, 4);
        memcpy(p + 8, d[i].data, 8);
        memcpy(sec, "data", 4);
        vhdx_put32(sec + 4, (uint32_t)(seq >> 32));
        memcpy(sec + 8, d[i].data + 8, 4084);
        vhdx_put32(sec + 4092, (uint32_t)seq);
    }
    uint32_t len = (ds + nd) * 4096;
    memcpy(buf, "loge", 4);
    vhdx_put32(buf + 8, len);
    vhdx_put32(buf + 12, tail);
    vhdx_put64(buf + 16, seq);
    vhdx_put32(buf + 24, (uint32_t)n);
    memcpy(buf + 32, log_guid->b, 16);
    vhdx_put64(buf + 48, flushed);
    vhdx_put64(buf + 56, last);
    vhdx_put32(buf + 4, vhdx_crc32c(0, buf, len));
    return len;
}

/* Writes an entry at ring offset pos of the 1 MiB log at 1 MiB (wrapping
 * at its end). */
static void put_entry(const char *path, uint32_t pos, const uint8_t *buf,
                      uint32_t len)
{
    uint32_t first = MIB - pos < len ? MIB - pos : len;
    tl_patch(path, MIB + pos, buf, first);
    if (first < len) {
        tl_patch(path, MIB, buf + first, len - first);
    }
}

/* Makes the header naming log_guid current (SequenceNumber + 1). */
static void set_log_guid(const char *path, const vhdx_guid *log_guid)
{
    uint8_t h[2][VHDX_HEADER_SIZE];
    vhdx_header d[2];
    tl_peek(path, VHDX_HEADER1_OFFSET, h[0], VHDX_HEADER_SIZE);
    tl_peek(path, VHDX_HEADER2_OFFSET, h[1], VHDX_HEADER_SIZE);
    cr_assert_eq(vhdx_header_decode(h[0], VHDX_HEADER_SIZE, &d[0], NULL), 0);
    cr_assert_eq(vhdx_header_decode(h[1], VHDX_HEADER_SIZE, &d[1], NULL), 0);
    int cur = d[1].seq > d[0].seq;
    vhdx_header n = d[cur];
    n.seq++;
    n.log_guid = *log_guid;
    vhdx_header_encode(&n, h[0], VHDX_HEADER_SIZE);
    tl_patch(path, cur ? VHDX_HEADER1_OFFSET : VHDX_HEADER2_OFFSET, h[0],
             VHDX_HEADER_SIZE);
}

/* A fresh 8 MiB image (NOT_PRESENT blocks, BAT at 2 MiB) with a 1 MiB
 * pattern at 4 MiB and another at 5 MiB that no BAT entry names yet. */
typedef struct crafted {
    char *dir, *path;
    uint8_t *p4, *p5;
    uint8_t bat[4096];     /* BAT sector 0 as it is */
    vhdx_guid guid;
} crafted;

static void crafted_new(crafted *c)
{
    c->dir = test_tmpdir_new();
    c->path = test_path(c->dir, "l.vhdx");
    tl_create(c->path, 8 * MIB, "block_size=1M,block_state_zero=off");
    c->p4 = malloc(MIB);
    c->p5 = malloc(MIB);
    tl_pattern(c->p4, MIB, 41);
    tl_pattern(c->p5, MIB, 51);
    tl_patch(c->path, 4 * MIB, c->p4, MIB);
    tl_patch(c->path, 5 * MIB, c->p5, MIB);
    tl_peek(c->path, 2 * MIB, c->bat, sizeof(c->bat));
    cr_assert_eq(vhdx_guid_generate(&c->guid, NULL), 0);
}

static void crafted_free(crafted *c)
{
    free(c->p4);
    free(c->p5);
    free(c->path);
    test_tmpdir_free(c->dir);
}

/* A BAT sector with block b FULLY_PRESENT at off (on top of base). */
static void bat_with(uint8_t *sec, const uint8_t *base, int b, uint64_t off)
{
    memcpy(sec, base, 4096);
    vhdx_put64(sec + 8 * b, off | VHDX_PAYLOAD_FULLY_PRESENT);
}

/* Asserts block b of the image reads as want (NULL: zeros). */
static void expect_block(img *im, int b, const uint8_t *want)
{
    uint8_t *buf = malloc(MIB), *zeros = calloc(1, MIB);
    cr_assert_eq(img_pread(im, buf, MIB, (uint64_t)b * MIB, NULL), 0);
    cr_assert(memcmp(buf, want ? want : zeros, MIB) == 0,
              "block %d differs", b);
    free(buf);
    free(zeros);
}

Test(vhdx_log, handmade_entry_replays_in_memory_then_on_disk_as_qemu)
{
    tl_require_qemu();
    crafted c;
    crafted_new(&c);
    uint8_t sec[4096], *e = calloc(1, 64 * 1024);
    bat_with(sec, c.bat, 0, 4 * MIB);
    tdesc d[] = { { .offset = 2 * MIB, .data = sec } };
    uint32_t len = build_entry(e, 7, 0, &c.guid, 6 * MIB, 6 * MIB, d, 1);
    put_entry(c.path, 0, e, len);
    set_log_guid(c.path, &c.guid);
    size_t n0, n1;
    uint8_t *before = tl_slurp(c.path, &n0);
    img *im = tl_open(c.path, 0);
    expect_block(im, 0, c.p4);
    expect_block(im, 1, NULL);
    img_check_result res;
    cr_assert_eq(img_check(im, &res, 0, NULL), 0);
    cr_assert_eq(res.corruptions, 1, "an unreplayed log is reported");
    expect_qemu_agrees(c.dir, c.path, im);
    img_close(im);
    uint8_t *after = tl_slurp(c.path, &n1);
    cr_assert(n0 == n1 && !memcmp(before, after, n0), "read-only open "
              "changed the file");
    im = tl_open(c.path, IMG_OPEN_RDWR);
    cr_assert_eq(img_check(im, &res, 0, NULL), 0);
    cr_assert_eq(res.corruptions, 0);
    cr_assert_eq(res.corruptions_fixed, 1, "replay counts as a repair");
    img_close(im);
    cr_assert_not(log_pending(c.path));
    cr_assert_eq(tl_bat_entry(c.path, 0), 4 * MIB | 6);
    tl_sh("qemu-img check -q -f vhdx '%s'", c.path);
    free(before);
    free(after);
    free(e);
    crafted_free(&c);
}

Test(vhdx_log, sequence_replays_from_the_heads_tail)
{
    crafted c;
    crafted_new(&c);
    uint8_t s1[4096], s2[4096], *e = calloc(1, 64 * 1024);
    bat_with(s1, c.bat, 0, 4 * MIB);
    bat_with(s2, s1, 1, 5 * MIB);
    tdesc d1[] = { { .offset = 2 * MIB, .data = s1 } };
    /* The second entry also zeroes 8 KiB of the block at 5 MiB. */
    tdesc d2[] = { { .offset = 2 * MIB, .data = s2 },
                   { .offset = 5 * MIB + 4096, .zero_len = 8192 } };
    uint32_t l1 = build_entry(e, 20, 0, &c.guid, 6 * MIB, 6 * MIB, d1, 1);
    put_entry(c.path, 0, e, l1);
    memset(e, 0, 64 * 1024);
    uint32_t l2 = build_entry(e, 21, 0, &c.guid, 6 * MIB, 6 * MIB, d2, 2);
    put_entry(c.path, l1, e, l2);
    set_log_guid(c.path, &c.guid);
    memset(c.p5 + 4096, 0, 8192);
    img *im = tl_open(c.path, 0);
    expect_block(im, 0, c.p4);
    expect_block(im, 1, c.p5);
    img_close(im);
    /* Same entries, but the head's Tail points at itself: only the head
     * is replayed (its BAT sector now names block 1 only). */
    bat_with(s2, c.bat, 1, 5 * MIB);
    memset(e, 0, 64 * 1024);
    l2 = build_entry(e, 21, l1, &c.guid, 6 * MIB, 6 * MIB, d2, 2);
    put_entry(c.path, l1, e, l2);
    im = tl_open(c.path, IMG_OPEN_RDWR);
    expect_block(im, 0, NULL);
    expect_block(im, 1, c.p5);
    img_close(im);
    free(e);
    crafted_free(&c);
}

Test(vhdx_log, entry_wrapping_the_ring_end_is_replayed)
{
    crafted c;
    crafted_new(&c);
    uint8_t sec[4096], *e = calloc(1, 64 * 1024);
    bat_with(sec, c.bat, 2, 4 * MIB);
    tdesc d[] = { { .offset = 2 * MIB, .data = sec } };
    uint32_t pos = MIB - 4096; /* header here, data sector at ring 0 */
    uint32_t len = build_entry(e, 3, pos, &c.guid, 6 * MIB, 6 * MIB, d, 1);
    put_entry(c.path, pos, e, len);
    set_log_guid(c.path, &c.guid);
    img *im = tl_open(c.path, 0);
    expect_block(im, 2, c.p4);
    img_close(im);
    free(e);
    crafted_free(&c);
}

/* An entry that must be ignored: the image reads as if the log were
 * empty. */
static void expect_ignored(int variant)
{
    crafted c;
    crafted_new(&c);
    uint8_t sec[4096], *e = calloc(1, 64 * 1024);
    bat_with(sec, c.bat, 0, 4 * MIB);
    tdesc d[] = { { .offset = variant == 2 ? VHDX_HEADER1_OFFSET : 2 * MIB,
                    .data = sec } };
    vhdx_guid other;
    cr_assert_eq(vhdx_guid_generate(&other, NULL), 0);
    uint32_t len = build_entry(e, 9, 0, variant == 1 ? &other : &c.guid,
                               6 * MIB, 6 * MIB, d, 1);
    if (variant == 0) {
        e[len - 1] ^= 1; /* checksum no longer matches */
    }
    put_entry(c.path, 0, e, len);
    set_log_guid(c.path, &c.guid);
    img *im = tl_open(c.path, 0);
    expect_block(im, 0, NULL);
    img_close(im);
    free(e);
    crafted_free(&c);
}

Test(vhdx_log, entry_with_bad_checksum_is_ignored)
{
    expect_ignored(0);
}

Test(vhdx_log, entry_of_another_log_guid_is_ignored)
{
    expect_ignored(1);
}

Test(vhdx_log, entry_writing_a_header_is_ignored)
{
    expect_ignored(2);
}

Test(vhdx_log, file_shorter_than_flushed_offset_is_refused)
{
    crafted c;
    crafted_new(&c);
    uint8_t sec[4096], *e = calloc(1, 64 * 1024);
    bat_with(sec, c.bat, 0, 4 * MIB);
    tdesc d[] = { { .offset = 2 * MIB, .data = sec } };
    uint32_t len = build_entry(e, 9, 0, &c.guid, 64 * MIB, 64 * MIB, d, 1);
    put_entry(c.path, 0, e, len);
    set_log_guid(c.path, &c.guid);
    img *im = NULL;
    img_err err = { 0 };
    cr_assert_lt(tl_open_err(c.path, 0, &im, &err), 0);
    cr_assert(strstr(err.msg, "truncated"), "%s", err.msg);
    free(e);
    crafted_free(&c);
}
