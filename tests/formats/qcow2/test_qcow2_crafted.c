/* tests/formats/qcow2/test_qcow2_crafted.c -- hostile and broken qcow2
 * images: a small image made by qemu-img is loaded into memory, one field
 * is corrupted, and opening or reading must fail cleanly with an error
 * (never a crash, hang or huge allocation). */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/file.h"
#include "libimg/img.h"
#include "qcow2_oracle.h"
#include "support/tmpdir.h"

#define CLUSTER 4096u
#define COPIED (1ull << 63)
#define COMPRESSED (1ull << 62)

/* An image in memory with room to append clusters. */
typedef struct mem_img {
    uint8_t *data;
    size_t len;
} mem_img;

static uint64_t get64(const mem_img *m, size_t off)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | m->data[off + i];
    }
    return v;
}

static void put64(mem_img *m, size_t off, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        m->data[off + i] = (uint8_t)v;
        v >>= 8;
    }
}

static void put32(mem_img *m, size_t off, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        m->data[off + i] = (uint8_t)v;
        v >>= 8;
    }
}

/* The pristine images are made once, before the tests run, in a
 * directory passed to the test processes through the environment. */
#define DIR_ENV "VDISK_TEST_QCOW2_CRAFTED_DIR"

/* Makes dir/name: 1 MiB with the given options, 0xab over [0, 8k) and
 * 0xff over [64k, 68k).  A failure shows up in image_copy(). */
static void make_image(const char *dir, const char *name, const char *opts)
{
    test_sh("cd '%s' && qemu-img create -q -f qcow2 %s %s 1M && qemu-io "
            "-f qcow2 -c 'write -P 0xab 0 8k' -c 'write -P 0xff 64k 4k' "
            "%s >/dev/null", dir, opts, name, name);
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    char *dir = test_tmpdir_new();
    if (dir) {
        make_image(dir, "4k.qcow2", "-o cluster_size=4k");
        make_image(dir, "extl2.qcow2", "-o cluster_size=16k,extended_l2=on");
        /* qemu-img times its key derivation and now and then cannot
         * ("Unable to get accurate CPU usage"): tries again. */
        test_sh("cd '%s' && for i in 1 2 3 4 5 6 7 8; do qemu-img create "
                "-q --object secret,id=s0,data=pw -f qcow2 -o cluster_size=4k,"
                "encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time="
                "100 luks.qcow2 1M 2>/dev/null && break; done", dir);
        setenv(DIR_ENV, dir, 1);
        free(dir);
    }
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    const char *dir = getenv(DIR_ENV);
    if (dir) {
        test_tmpdir_free(strdup(dir));
    }
}

/* A private copy of a pristine image with room to append clusters. */
static mem_img image_copy(const char *name)
{
    oracle_require_qemu();
    const char *dir = getenv(DIR_ENV);
    cr_assert_not_null(dir, "no test image directory");
    char *path = test_path(dir, name);
    size_t len;
    uint8_t *bytes = oracle_slurp(path, &len);
    cr_assert(len > 0, "qemu-img could not make %s", path);
    mem_img m;
    m.data = calloc(1, len + 4 * 65536);
    cr_assert_not_null(m.data);
    memcpy(m.data, bytes, len);
    m.len = len;
    free(bytes);
    free(path);
    return m;
}

static mem_img base(void)
{
    return image_copy("4k.qcow2");
}

static mem_img base_extl2(void)
{
    return image_copy("extl2.qcow2");
}

/* Opens the bytes as qcow2 (or by probing when fmt is NULL). */
static int open_mem(const mem_img *m, const char *fmt, unsigned flags,
                    img **out, img_err *err)
{
    img_file *f = img_mem_file_new(m->data, m->len,
                                   (flags & IMG_OPEN_RDWR) != 0);
    cr_assert_not_null(f);
    memset(err, 0, sizeof(*err));
    return img_open_file(f, fmt, flags | IMG_OPEN_NO_LOCK | IMG_OPEN_QUIET,
                         out, err);
}

/* Asserts that opening fails with code and a message containing text. */
static void expect_open_error(const mem_img *m, unsigned flags, int code,
                              const char *text)
{
    img *im = NULL;
    img_err err;
    int r = open_mem(m, "qcow2", flags, &im, &err);
    cr_assert_eq(r, -code, "open returned %d (%s), expected %d", r,
                 err.msg, -code);
    cr_assert_null(im);
    cr_assert_eq(err.code, code);
    cr_assert_not_null(strstr(err.msg, text), "message '%s' lacks '%s'",
                       err.msg, text);
}

static img *open_ok(const mem_img *m, unsigned flags)
{
    img *im = NULL;
    img_err err;
    int r = open_mem(m, "qcow2", flags, &im, &err);
    cr_assert_eq(r, 0, "open failed: %s", err.msg);
    return im;
}

/* Asserts that reading the first cluster fails with EIO. */
static void expect_read_error(const mem_img *m, const char *text)
{
    img *im = open_ok(m, 0);
    uint8_t buf[CLUSTER];
    img_err err = { 0 };
    int r = img_pread(im, buf, sizeof(buf), 0, &err);
    cr_assert_eq(r, -EIO, "read returned %d (%s)", r, err.msg);
    cr_assert_not_null(strstr(err.msg, text), "message '%s' lacks '%s'",
                       err.msg, text);
    img_close(im);
}

/* Offset of the first L2 table (from L1[0]). */
static size_t l2_table(const mem_img *m)
{
    uint64_t l1 = get64(m, 40);
    return (size_t)(get64(m, (size_t)l1) & 0x00fffffffffffe00ull);
}

Test(qcow2_crafted, unmodified_image_opens_and_reads)
{
    mem_img m = base();
    img *im = NULL;
    img_err err;
    cr_assert_eq(open_mem(&m, NULL, 0, &im, &err), 0, "%s", err.msg);
    cr_assert_str_eq(img_format(im), "qcow2");
    cr_assert_eq(img_size(im), 1 << 20);
    uint8_t buf[8192];
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 0, NULL), 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        cr_assert_eq(buf[i], 0xab);
    }
    img_close(im);
    free(m.data);
}

Test(qcow2_crafted, huge_l1_size_is_refused)
{
    mem_img m = base();
    put32(&m, 36, 0x7fffffff);
    expect_open_error(&m, 0, EFBIG, "L1 table too large");
    free(m.data);
}

Test(qcow2_crafted, l1_size_larger_than_the_file_is_refused)
{
    mem_img m = base();
    /* 4 Mi entries (32 MiB, the cap) in a file of a few KiB. */
    put32(&m, 36, 4u << 20);
    expect_open_error(&m, 0, EINVAL, "beyond the end of the file");
    /* Same with a virtual size that really needs that many entries. */
    put64(&m, 24, 1ull << 40);
    put32(&m, 36, 1u << 19);
    expect_open_error(&m, 0, EINVAL, "beyond the end of the file");
    free(m.data);
}

Test(qcow2_crafted, l1_too_small_for_the_size_is_refused)
{
    mem_img m = base();
    put64(&m, 24, 1ull << 40);
    expect_open_error(&m, 0, EINVAL, "L1 table is too small");
    free(m.data);
}

Test(qcow2_crafted, huge_virtual_size_is_refused)
{
    mem_img m = base();
    put64(&m, 24, 1ull << 62);
    expect_open_error(&m, 0, EFBIG, "Image is too big");
    put64(&m, 24, ~0ull);
    expect_open_error(&m, 0, EFBIG, "Image is too big");
    free(m.data);
}

Test(qcow2_crafted, cluster_bits_out_of_range_are_refused)
{
    mem_img m = base();
    put32(&m, 20, 30);
    expect_open_error(&m, 0, EINVAL, "Unsupported cluster size: 2^30");
    put32(&m, 20, 8);
    expect_open_error(&m, 0, EINVAL, "Unsupported cluster size: 2^8");
    put32(&m, 20, 0xffffffff);
    expect_open_error(&m, 0, EINVAL, "Unsupported cluster size");
    free(m.data);
}

Test(qcow2_crafted, l1_offset_past_eof_or_unaligned_is_refused)
{
    mem_img m = base();
    put64(&m, 40, 1ull << 40);
    expect_open_error(&m, 0, EINVAL, "beyond the end of the file");
    put64(&m, 40, ~0ull << 12);
    expect_open_error(&m, 0, EINVAL, "beyond the end of the file");
    put64(&m, 40, 4096 + 8);
    expect_open_error(&m, 0, EINVAL, "Invalid L1 table offset");
    free(m.data);
}

Test(qcow2_crafted, l2_entry_beyond_the_file_reads_as_error)
{
    mem_img m = base();
    put64(&m, l2_table(&m), COPIED | (1ull << 40));
    expect_read_error(&m, "beyond the end of the file");
    /* Block status still describes it, as QEMU's does. */
    img *im = open_ok(&m, 0);
    uint64_t pnum, host;
    int r = img_block_status(im, 0, CLUSTER, &pnum, &host, NULL);
    cr_assert_eq(r, IMG_BS_DATA | IMG_BS_ALLOCATED | IMG_BS_OFFSET_VALID);
    cr_assert_eq(host, 1ull << 40);
    img_close(im);
    free(m.data);
}

/* Writes len bytes of 0x5a at off into a writable copy of m; returns
 * what the write returned, with its message in msg, and the size of the
 * file after the image is closed in *size. */
static int write_and_size(const mem_img *m, uint64_t off, size_t len,
                          char *msg, size_t msg_len, size_t *size)
{
    img *im = NULL;
    img_err err;
    int r = open_mem(m, "qcow2", IMG_OPEN_RDWR, &im, &err);
    cr_assert_eq(r, 0, "open failed: %s", err.msg);
    uint8_t *buf = malloc(len);
    cr_assert_not_null(buf);
    memset(buf, 0x5a, len);
    memset(&err, 0, sizeof(err));
    r = img_pwrite(im, buf, len, off, 0, &err);
    snprintf(msg, msg_len, "%s", err.msg);
    img_file *f = img_get_file(im);
    img_err ferr = { 0 };
    img_flush(im, &ferr); /* a failed write may leave nothing to flush */
    uint64_t bytes = 0;
    cr_assert_eq(img_file_size(f, &bytes, &ferr), 0);
    *size = (size_t)bytes;
    img_close(im);
    free(buf);
    return r;
}

/* Asserts that the write fails with EIO and a message containing text,
 * and that the file keeps its size. */
static void expect_write_refused(const mem_img *m, uint64_t off, size_t len,
                                 const char *text)
{
    char msg[256];
    size_t size;
    int r = write_and_size(m, off, len, msg, sizeof(msg), &size);
    cr_assert_eq(r, -EIO, "write returned %d (%s)", r, msg);
    cr_assert_not_null(strstr(msg, text), "message '%s' lacks '%s'", msg,
                       text);
    cr_assert_eq(size, m->len, "the file grew to %zu bytes", size);
}

/* An L2 entry far past the end of the file (a crafted one): writing in
 * place would grow the file to 1 TiB, which QEMU does.  Refused, and the
 * file keeps its size; so for a preallocated zero cluster (v3). */
Test(qcow2_crafted, l2_entry_far_beyond_the_file_is_not_written)
{
    uint64_t flags[] = { 0, 1 }; /* plain, zero flag */
    for (int i = 0; i < 2; i++) {
        mem_img m = base();
        put64(&m, l2_table(&m), COPIED | (1ull << 40) | flags[i]);
        expect_write_refused(&m, 512, 512, "beyond the end of the file");
        free(m.data);
    }
}

/* One a few clusters past the end (what a crash can leave) is written
 * there, as QEMU writes it. */
Test(qcow2_crafted, l2_entry_just_beyond_the_file_is_written)
{
    mem_img m = base();
    uint64_t at = (m.len + CLUSTER - 1) / CLUSTER * CLUSTER + 4 * CLUSTER;
    put64(&m, l2_table(&m), COPIED | at);
    char msg[256];
    size_t size;
    int r = write_and_size(&m, 0, CLUSTER, msg, sizeof(msg), &size);
    cr_assert_eq(r, 0, "write failed: %s", msg);
    cr_assert_eq(size, at + CLUSTER);
    free(m.data);
}

/* A refcount block far past the end of the file: an allocating write
 * would write it back there, growing the file to 1 TiB (QEMU does).
 * Refused, and the file keeps its size.  fuzz_qcow2 found this one, a
 * bitmap added to an image whose table pointed at 0x2000800000. */
Test(qcow2_crafted, refcount_block_far_beyond_the_file_is_not_written)
{
    mem_img m = base();
    size_t reftable = (size_t)get64(&m, 48);
    put64(&m, reftable, 1ull << 40);
    expect_write_refused(&m, 128 * 1024, CLUSTER,
                         "lies past the end of the file");
    free(m.data);
}

/* A discard frees the cluster an L2 entry gives (when the metadata is
 * flushed).  Here the first entry points where no refcount block counts
 * (8 MiB: reftable entry 1 of a 4k/16-bit image), so that count is 0
 * already.  The flush fails and says so; it used to make a refcount block
 * first and return -EAGAIN without a message (fuzz_qcow2's write walk
 * found it).  The second cluster, discarded after it, is still freed. */
Test(qcow2_crafted, freeing_an_uncounted_cluster_fails_with_a_message)
{
    mem_img m = base();
    put64(&m, l2_table(&m), COPIED | (8ull << 20)); /* orphans one */
    img *im = open_ok(&m, IMG_OPEN_RDWR);
    img_err err = { 0 };
    int r = img_discard(im, 0, 2 * CLUSTER, &err);
    cr_assert_eq(r, 0, "discard failed: %s", err.msg);
    r = img_flush(im, &err);
    cr_assert_eq(r, -EINVAL, "flush returned %d (%s)", r, err.msg);
    cr_assert_eq(err.code, EINVAL);
    cr_assert_not_null(strstr(err.msg, "Refcount of cluster 0x800000 would "
                                       "drop below zero"), "%s", err.msg);
    /* One leak: the cluster the crafted entry orphaned.  Two would mean
     * the second cluster's free was dropped with the failed one. */
    img_check_result res;
    memset(&err, 0, sizeof(err));
    cr_assert_eq(img_check(im, &res, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(res.leaks, 1, "%d clusters leaked", res.leaks);
    cr_assert_eq(res.corruptions, 0);
    img_close(im);
    free(m.data);
}

Test(qcow2_crafted, l2_table_beyond_the_file_reads_as_error)
{
    mem_img m = base();
    put64(&m, (size_t)get64(&m, 40), COPIED | (1ull << 40));
    expect_read_error(&m, "L2 table offset");
    free(m.data);
}

Test(qcow2_crafted, unaligned_offsets_read_as_error)
{
    mem_img m = base();
    size_t l2 = l2_table(&m);
    put64(&m, l2, get64(&m, l2) + 512);
    expect_read_error(&m, "unaligned");
    free(m.data);
    m = base();
    size_t l1 = (size_t)get64(&m, 40);
    put64(&m, l1, get64(&m, l1) + 512);
    expect_read_error(&m, "unaligned");
    free(m.data);
}

/* A compressed descriptor for 4 KiB clusters: offset in the low 58 bits,
 * additional sectors above. */
static uint64_t compressed_desc(uint64_t off, uint64_t extra_sectors)
{
    return COMPRESSED | extra_sectors << 58 | off;
}

Test(qcow2_crafted, compressed_cluster_beyond_the_file_reads_as_error)
{
    mem_img m = base();
    put64(&m, l2_table(&m), compressed_desc(1ull << 50, 0));
    expect_read_error(&m, "beyond the end of the file");
    free(m.data);
}

Test(qcow2_crafted, compressed_size_overflowing_the_file_reads_as_error)
{
    mem_img m = base();
    /* The largest size (16 sectors, two clusters) from the last byte. */
    put64(&m, l2_table(&m), compressed_desc(m.len - 1, 15));
    expect_read_error(&m, "Could not decompress");
    free(m.data);
}

Test(qcow2_crafted, compressed_garbage_reads_as_error)
{
    mem_img m = base();
    /* Point at the 0xff data cluster: not a valid deflate stream. */
    uint64_t ff = get64(&m, l2_table(&m) + 16 * 8) & 0x00fffffffffffe00ull;
    cr_assert_neq(ff, 0);
    put64(&m, l2_table(&m), compressed_desc(ff, 15));
    expect_read_error(&m, "Could not decompress");
    free(m.data);
}

Test(qcow2_crafted, unknown_incompatible_bit_is_refused)
{
    mem_img m = base();
    put64(&m, 72, 1ull << 7);
    expect_open_error(&m, 0, ENOTSUP, "Unsupported qcow2 feature(s): "
                      "Unknown incompatible feature: 80");
    free(m.data);
}

/* Replaces the extension area with one extension and an end marker. */
static void set_extension(mem_img *m, uint32_t type, const void *data,
                          uint32_t len)
{
    memset(m->data + 112, 0, CLUSTER - 112);
    put32(m, 112, type);
    put32(m, 116, len);
    memcpy(m->data + 120, data, len);
}

Test(qcow2_crafted, unknown_bits_are_named_from_the_feature_table)
{
    mem_img m = base();
    uint8_t entry[48] = { 0, 9 };
    memcpy(entry + 2, "shiny", 5);
    set_extension(&m, 0x6803f857, entry, sizeof(entry));
    put64(&m, 72, 1ull << 9 | 1ull << 12);
    expect_open_error(&m, 0, ENOTSUP, "Unsupported qcow2 feature(s): "
                      "shiny, Unknown incompatible feature: 1000");
    free(m.data);
}

Test(qcow2_crafted, oversized_header_extension_is_refused)
{
    mem_img m = base();
    set_extension(&m, 0x12345678, "", 0);
    put32(&m, 116, 0xffffff00);
    expect_open_error(&m, 0, EINVAL, "Header extension too large");
    free(m.data);
}

Test(qcow2_crafted, bad_header_fields_are_refused)
{
    mem_img m = base();
    put32(&m, 96, 7);
    expect_open_error(&m, 0, EINVAL, "Reference count entry width");
    put32(&m, 96, 4);
    put32(&m, 100, 8192);
    expect_open_error(&m, 0, EINVAL, "header exceeds cluster size");
    put32(&m, 100, 50);
    expect_open_error(&m, 0, EINVAL, "header too short");
    put32(&m, 100, 112);
    put32(&m, 32, 9);
    expect_open_error(&m, 0, EINVAL, "Unsupported encryption method");
    put32(&m, 32, 0);
    put32(&m, 56, 0);
    expect_open_error(&m, 0, EINVAL, "reference count table");
    put32(&m, 56, 0x40000);
    expect_open_error(&m, 0, EFBIG, "Reference count table too large");
    free(m.data);
}

Test(qcow2_crafted, bad_backing_name_fields_are_refused)
{
    mem_img m = base();
    put64(&m, 8, 512);
    put32(&m, 16, 2000);
    expect_open_error(&m, 0, EINVAL, "Backing file name too long");
    put64(&m, 8, 4000);
    put32(&m, 16, 200);
    expect_open_error(&m, 0, EINVAL, "Invalid backing file offset");
    put64(&m, 8, 1ull << 60);
    expect_open_error(&m, 0, EINVAL, "Invalid backing file offset");
    free(m.data);
}

Test(qcow2_crafted, snapshot_table_bounds_are_checked)
{
    mem_img m = base();
    put32(&m, 60, 100000);
    put64(&m, 64, 4096);
    expect_open_error(&m, 0, EFBIG, "Too many snapshots");
    put32(&m, 60, 1);
    put64(&m, 64, 1ull << 40);
    expect_open_error(&m, 0, EINVAL, "beyond the end of the file");
    put64(&m, 64, 100);
    expect_open_error(&m, 0, EINVAL, "Invalid snapshot table offset");
    /* An entry at a fresh cluster whose extra data is too big. */
    size_t sn = (m.len + CLUSTER - 1) / CLUSTER * CLUSTER;
    m.len = sn + CLUSTER;
    put64(&m, 64, sn);
    put32(&m, sn + 36, 5000);
    expect_open_error(&m, 0, EFBIG, "Too much extra metadata");
    /* Ids and names running past the end of the file. */
    put32(&m, sn + 36, 0);
    m.data[sn + 12] = 0xff;
    m.data[sn + 13] = 0xff;
    expect_open_error(&m, 0, EINVAL, "beyond the end of the file");
    free(m.data);
}

Test(qcow2_crafted, many_snapshots_stop_at_the_end_of_the_file)
{
    mem_img m = base();
    size_t sn = (m.len + CLUSTER - 1) / CLUSTER * CLUSTER;
    m.len = sn + CLUSTER;
    put64(&m, 64, sn);
    put32(&m, 60, 65536); /* 40-byte zero entries: 1638 fit */
    expect_open_error(&m, 0, EINVAL, "beyond the end of the file");
    put32(&m, 60, 3);
    img *im = open_ok(&m, 0);
    img_close(im);
    free(m.data);
}

Test(qcow2_crafted, compression_type_must_match_its_feature_bit)
{
    mem_img m = base();
    m.data[104] = 1;
    expect_open_error(&m, 0, EINVAL, "must be set");
    m.data[104] = 0;
    put64(&m, 72, 1ull << 3);
    expect_open_error(&m, 0, EINVAL, "must not be set");
    m.data[104] = 7;
    expect_open_error(&m, 0, ENOTSUP, "Unknown compression type 7");
    free(m.data);
}

Test(qcow2_crafted, extended_l2_needs_16k_clusters)
{
    mem_img m = base();
    put64(&m, 72, 1ull << 4);
    expect_open_error(&m, 0, EINVAL, "Extended L2");
    free(m.data);
}

Test(qcow2_crafted, extended_l2_contradictory_bitmap_reads_as_error)
{
    mem_img m = base_extl2();
    size_t l2 = l2_table(&m);
    put64(&m, l2 + 8, 1ull << 32 | 1ull);
    expect_read_error(&m, "Invalid cluster entry");
    /* Allocated subclusters without a host cluster. */
    free(m.data);
    m = base_extl2();
    l2 = l2_table(&m);
    put64(&m, l2 + 16, 0); /* entry 1 (guest 16k): 16 bytes each */
    put64(&m, l2 + 24, 1);
    img *im = open_ok(&m, 0);
    uint8_t buf[512];
    img_err err = { 0 };
    cr_assert_eq(img_pread(im, buf, sizeof(buf), 16384, &err), -EIO);
    img_close(im);
    free(m.data);
}

static void set_data_file(mem_img *m, const char *name)
{
    set_extension(m, 0x44415441, name, (uint32_t)strlen(name));
    put64(m, 72, 1ull << 2);
}

Test(qcow2_crafted, external_data_file_names_are_checked)
{
    mem_img m = base();
    set_data_file(&m, "data.raw");
    expect_open_error(&m, IMG_OPEN_UNTRUSTED, EPERM, "untrusted");
    set_data_file(&m, "json:{\"driver\":\"file\",\"filename\":"
                  "\"/etc/passwd\"}");
    expect_open_error(&m, 0, EPERM, "json:");
    set_data_file(&m, "nbd://localhost/x");
    expect_open_error(&m, 0, EPERM, "protocol");
    set_data_file(&m, "");
    expect_open_error(&m, 0, EINVAL, "'data-file' is required");
    set_data_file(&m, "/nonexistent/vdisk/data.raw");
    expect_open_error(&m, 0, ENOENT, "Could not open data file");
    free(m.data);
}

Test(qcow2_crafted, raw_data_bit_without_data_file_is_refused)
{
    mem_img m = base();
    put64(&m, 88, 1ull << 1);
    expect_open_error(&m, 0, EINVAL, "data-file-raw requires a data file");
    free(m.data);
}

Test(qcow2_crafted, corrupt_image_opens_read_only_only)
{
    mem_img m = base();
    put64(&m, 72, 1ull << 1);
    expect_open_error(&m, IMG_OPEN_RDWR, EACCES, "corrupt");
    img *im = open_ok(&m, 0);
    img_info info;
    cr_assert_eq(img_get_info(im, &info, NULL), 0);
    const img_val *data = img_val_dict_get(info.format_specific, "data");
    cr_assert_eq(img_val_bool(img_val_dict_get(data, "corrupt")), 1);
    img_info_clear(&info);
    img_close(im);
    free(m.data);
}

Test(qcow2_crafted, other_versions_are_not_qcow2)
{
    mem_img m = base();
    put32(&m, 4, 1);
    img *im = NULL;
    img_err err;
    cr_assert_eq(open_mem(&m, NULL, 0, &im, &err), 0);
    cr_assert_str_eq(img_format(im), "raw");
    img_close(im);
    expect_open_error(&m, 0, ENOTSUP, "Unsupported qcow2 version 1");
    put32(&m, 4, 4);
    expect_open_error(&m, 0, ENOTSUP, "Unsupported qcow2 version 4");
    free(m.data);
}

Test(qcow2_crafted, truncated_files_are_refused)
{
    mem_img m = base();
    m.len = 4096; /* the header cluster only */
    expect_open_error(&m, 0, EINVAL, "beyond the end of the file");
    m.len = 100;
    expect_open_error(&m, 0, EINVAL, "header too short");
    m.len = 0;
    expect_open_error(&m, 0, EINVAL, "not in qcow2 format");
    free(m.data);
}

/* Every read during open and a full read fails in turn: each failure is
 * reported, never a crash. */
Test(qcow2_crafted, read_errors_propagate_cleanly)
{
    mem_img m = base();
    for (uint64_t n = 1; n < 16; n++) {
        img_fault_plan plan = { .fail_read_at = n };
        img_file *f = img_fault_file_new(img_mem_file_new(m.data, m.len, 0),
                                         &plan);
        cr_assert_not_null(f);
        img *im = NULL;
        img_err err = { 0 };
        int r = img_open_file(f, "qcow2", IMG_OPEN_NO_LOCK | IMG_OPEN_QUIET,
                              &im, &err);
        if (r == 0) {
            uint8_t *buf = malloc(1 << 20);
            r = img_pread(im, buf, 1 << 20, 0, &err);
            free(buf);
            img_close(im);
        }
        if (r < 0) {
            cr_assert_eq(err.code, EIO, "read %lu: %s", (unsigned long)n,
                         err.msg);
        }
    }
    free(m.data);
}

/* ---- the persistent bitmaps' directory (read by info) ---- */

#define BITMAPS_EXT 0x23852875u
#define AUTOCLEAR_OFF 88

/* Gives m a bitmaps extension (autoclear bit set) for a directory of
 * dsize bytes at the end of the file, which holds one entry named "b"
 * (auto, 64 KiB granularity); returns the directory's offset. */
static size_t add_bitmap_directory(mem_img *m, uint32_t nb, uint64_t dsize)
{
    size_t dir = m->len;
    m->len += CLUSTER;
    uint8_t *e = m->data + dir;
    memset(e, 0, CLUSTER);
    e[15] = 2;                      /* flags: auto */
    e[16] = 1;                      /* type: dirty tracking */
    e[17] = 16;                     /* granularity bits */
    e[19] = 1;                      /* name size */
    e[24] = 'b';
    uint8_t ext[24] = { 0 };
    for (int i = 0; i < 4; i++) {
        ext[i] = (uint8_t)(nb >> (24 - 8 * i));
    }
    for (int i = 0; i < 8; i++) {
        ext[8 + i] = (uint8_t)(dsize >> (56 - 8 * i));
        ext[16 + i] = (uint8_t)((uint64_t)dir >> (56 - 8 * i));
    }
    set_extension(m, BITMAPS_EXT, ext, sizeof(ext));
    put64(m, AUTOCLEAR_OFF, 1);
    return dir;
}

/* Gets m's info into *info: 0, or the error, whose message must then
 * contain text. */
static int info_of(const mem_img *m, const char *text, img_info *info)
{
    img *im = open_ok(m, 0);
    img_err err = { 0 };
    memset(info, 0, sizeof(*info));
    int r = img_get_info(im, info, &err);
    if (r < 0) {
        cr_assert_not_null(strstr(err.msg, text), "message '%s' lacks '%s'",
                           err.msg, text);
    }
    img_close(im);
    return r;
}

/* The number of bitmaps m's info lists (the first must be "b", 64 KiB),
 * or the info's error (see info_of). */
static int bitmaps_info(const mem_img *m, const char *text)
{
    img_info info;
    int r = info_of(m, text, &info);
    if (r == 0) {
        const img_val *data = img_val_dict_get(info.format_specific, "data");
        const img_val *list = img_val_dict_get(data, "bitmaps");
        r = list ? (int)img_val_count(list) : 0;
        if (list) {
            const img_val *b = img_val_at(list, 0);
            cr_assert_str_eq(img_val_str(img_val_dict_get(b, "name")), "b");
            cr_assert_eq(img_val_uint(img_val_dict_get(b, "granularity")),
                         65536);
        }
    }
    img_info_clear(&info);
    return r;
}

Test(qcow2_crafted, bitmap_directory_is_listed)
{
    mem_img m = base();
    add_bitmap_directory(&m, 1, 32);
    cr_assert_eq(bitmaps_info(&m, ""), 1);
    put64(&m, AUTOCLEAR_OFF, 0); /* cleared by a writer: none count */
    cr_assert_eq(bitmaps_info(&m, ""), 0);
    free(m.data);
}

Test(qcow2_crafted, bad_bitmap_directories_are_reported)
{
    static const struct {
        uint32_t nb;
        uint64_t dsize;
        size_t poke;     /* directory byte to change, or 0 */
        uint8_t value;
        const char *text;
    } cases[] = {
        { 0, 32, 0, 0, "bad bitmap count" },
        { 65536, 32, 0, 0, "bad bitmap count" },
        { 1, 1ull << 40, 0, 0, "directory outside the file" },
        { 1, 16, 0, 0, "directory outside the file or too large" },
        { 2, 32, 0, 0, "fewer entries" },
        { 1, 64, 0, 0, "size does not match" },
        { 1, 32, 19, 0, "bad entry" },       /* empty name */
        { 1, 32, 19, 200, "entry past the end" },
        { 1, 32, 16, 2, "bad entry" },       /* unknown type */
        { 1, 32, 17, 40, "bad entry" },      /* granularity 2^40 */
        { 1, 32, 23, 8, "bad entry" },       /* extra data, not allowed */
        { 1, 32, 12, 0x80, "bad entry" },    /* reserved flag */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mem_img m = base();
        size_t dir = add_bitmap_directory(&m, cases[i].nb, cases[i].dsize);
        if (cases[i].poke) {
            m.data[dir + cases[i].poke] = cases[i].value;
        }
        cr_assert_lt(bitmaps_info(&m, cases[i].text), 0, "case %zu", i);
        free(m.data);
    }
}

/* ---- the LUKS header of an encrypted image (read by info) ---- */

/* Offset of the LUKS header, from the crypto header extension. */
static size_t luks_header(const mem_img *m)
{
    size_t off = (size_t)get64(m, 100) >> 32; /* header_length */
    while (off + 8 <= m->len) {
        uint32_t type = (uint32_t)(get64(m, off) >> 32);
        uint32_t len = (uint32_t)get64(m, off);
        cr_assert_neq(type, 0, "no crypto extension");
        if (type == 0x0537be77u) {
            return (size_t)get64(m, off + 8);
        }
        off += 8 + ((len + 7u) & ~7u);
    }
    cr_assert_fail("no crypto extension");
    return 0;
}

/* 0 when m's info describes its LUKS header (aes-256, 8 slots), or the
 * info's error (see info_of). */
static int luks_info(const mem_img *m, const char *text)
{
    img_info info;
    int r = info_of(m, text, &info);
    if (r == 0) {
        const img_val *data = img_val_dict_get(info.format_specific, "data");
        const img_val *enc = img_val_dict_get(data, "encrypt");
        cr_assert_str_eq(img_val_str(img_val_dict_get(enc, "format")),
                         "luks");
        cr_assert_str_eq(img_val_str(img_val_dict_get(enc, "cipher-alg")),
                         "aes-256");
        cr_assert_eq(img_val_count(img_val_dict_get(enc, "slots")), 8);
    }
    img_info_clear(&info);
    return r;
}

Test(qcow2_crafted, luks_header_is_described)
{
    mem_img m = image_copy("luks.qcow2");
    cr_assert_eq(luks_info(&m, ""), 0);
    free(m.data);
}

Test(qcow2_crafted, bad_luks_headers_are_reported)
{
    static const struct {
        size_t at;       /* byte of the LUKS header to change */
        uint8_t value;
        const char *text;
    } cases[] = {
        { 0, 'X', "not a LUKS version 1 header" },
        { 7, 2, "not a LUKS version 1 header" },        /* version 2 */
        { 8, 'z', "unknown cipher" },                  /* "zes" */
        { 111, 7, "unknown cipher or key size" },      /* key bytes */
        { 40, 'q', "unknown cipher mode" },            /* "qts-plain64" */
        { 43, 0, "without an IV generator" },          /* "xts" */
        { 72, 'x', "unknown hash" },
        { 208, 1, "key slot state" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mem_img m = image_copy("luks.qcow2");
        m.data[luks_header(&m) + cases[i].at] = cases[i].value;
        cr_assert_lt(luks_info(&m, cases[i].text), 0, "case %zu", i);
        free(m.data);
    }
    /* Strings must end inside their fields. */
    mem_img m = image_copy("luks.qcow2");
    memset(m.data + luks_header(&m) + 72, 'a', 32);
    cr_assert_lt(luks_info(&m, "unterminated string"), 0);
    /* The header must lie inside the file. */
    size_t hdr = luks_header(&m);
    for (size_t off = 0; off + 16 <= CLUSTER; off += 8) {
        if (get64(&m, off) == hdr) {
            put64(&m, off, (uint64_t)m.len - 100);
        }
    }
    cr_assert_lt(luks_info(&m, "header outside the file"), 0);
    free(m.data);
}

/* A stale bitmaps extension too short for its fields (ignored while the
 * autoclear bit is clear) is replaced by a whole one when a bitmap is
 * added, not written past its end. */
Test(qcow2_crafted, short_stale_bitmaps_extension_is_replaced)
{
    mem_img m = base();
    set_extension(&m, BITMAPS_EXT, "\0\0\0\1", 4);
    img *im = open_ok(&m, IMG_OPEN_RDWR);
    img_bitmap_change c = { .op = IMG_BITMAP_ADD, .name = "b" };
    img_err err = { 0 };
    cr_assert_eq(img_bitmap_change_apply(im, &c, &err), 0, "%s", err.msg);
    img_info info;
    cr_assert_eq(img_get_info(im, &info, &err), 0, "%s", err.msg);
    const img_val *data = img_val_dict_get(info.format_specific, "data");
    const img_val *list = img_val_dict_get(data, "bitmaps");
    cr_assert_eq(img_val_count(list), 1);
    cr_assert_str_eq(img_val_str(img_val_dict_get(img_val_at(list, 0),
                                                  "name")), "b");
    img_info_clear(&info);
    img_close(im);
    free(m.data);
}
