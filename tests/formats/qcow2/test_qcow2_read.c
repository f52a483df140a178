/* tests/formats/qcow2/test_qcow2_read.c -- reading qcow2 images made by
 * qemu-img/qemu-io: every image is read whole and compared byte for byte
 * with "qemu-img convert -O raw", and block status is compared with
 * "qemu-img map --output=json".  Covers versions 2 and 3, cluster sizes
 * from 512 bytes to 2 MiB, refcount widths, zlib and zstd compression,
 * zero clusters, extended L2 subclusters, backing chains and external
 * data files. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "libimg/img.h"
#include "qcow2_oracle.h"
#include "support/tmpdir.h"

/* Writes through qemu-io; ops is a list of -c arguments. */
static void qio(const char *dir, const char *name, const char *ops)
{
    oracle_sh("cd '%s' && qemu-io -f qcow2 %s '%s' >/dev/null", dir, ops,
              name);
}

/* The standard write pattern for a 4 MiB image: full and partial
 * clusters, unaligned writes, zeroes over data and over nothing, the
 * last sector. */
static const char std_ops[] =
    "-c 'write -P 0x11 0 64k' -c 'write -P 0x22 100k 3000' "
    "-c 'write -P 0x33 1M 200k' -c 'write -z 1100k 64k' "
    "-c 'write -z 2M 128k' -c 'write -P 0x44 4095k 512' "
    "-c 'write -P 0x55 3M 1536'";

/* Creates dir/name with options, writes the standard pattern, checks. */
static void create_write_check(const char *opts)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    cr_assert_not_null(dir);
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 %s t.qcow2 4M", dir,
              opts);
    qio(dir, "t.qcow2", std_ops);
    oracle_check_image(dir, "t.qcow2");
    test_tmpdir_free(dir);
}

Test(qcow2_read, v3_default_clusters_match_qemu)
{
    create_write_check("");
}

Test(qcow2_read, v2_image_matches_qemu)
{
    create_write_check("-o compat=0.10");
}

Test(qcow2_read, cluster_size_512_matches_qemu)
{
    create_write_check("-o cluster_size=512");
}

Test(qcow2_read, cluster_size_4k_matches_qemu)
{
    create_write_check("-o cluster_size=4k");
}

Test(qcow2_read, cluster_size_2m_matches_qemu)
{
    create_write_check("-o cluster_size=2M");
}

Test(qcow2_read, refcount_bits_1_matches_qemu)
{
    create_write_check("-o refcount_bits=1");
}

Test(qcow2_read, refcount_bits_64_matches_qemu)
{
    create_write_check("-o refcount_bits=64");
}

Test(qcow2_read, metadata_preallocation_matches_qemu)
{
    /* Holes in the file under allocated clusters are reported as zero. */
    create_write_check("-o preallocation=metadata");
}

Test(qcow2_read, full_preallocation_matches_qemu)
{
    create_write_check("-o preallocation=full,cluster_size=16k");
}

Test(qcow2_read, v2_with_512_byte_clusters_matches_qemu)
{
    create_write_check("-o compat=0.10,cluster_size=512");
}

Test(qcow2_read, zero_clusters_over_data_and_holes_match_qemu)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 z.qcow2 2M", dir);
    qio(dir, "z.qcow2", "-c 'write -P 0x66 0 1M' -c 'write -z 64k 128k' "
        "-c 'write -z -u 256k 64k' -c 'write -z 1536k 64k' "
        "-c 'write -z 1000k 10k'");
    oracle_check_image(dir, "z.qcow2");
    test_tmpdir_free(dir);
}

/* Ranges that are data without a host offset: compressed clusters. */
static int count_compressed(img *im)
{
    int n = 0;
    uint64_t off = 0, size = img_size(im);
    while (off < size) {
        uint64_t pnum = 0, host = 0;
        int r = img_block_status(im, off, size - off, &pnum, &host, NULL);
        cr_assert(r >= 0);
        n += (r & IMG_BS_DATA) && !(r & IMG_BS_OFFSET_VALID);
        off += pnum;
    }
    return n;
}

/* A raw source with patterns, random (incompressible) data and zeros,
 * converted with compression. */
static void compressed_check(const char *opts)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f raw src.raw 3M && "
              "qemu-io -f raw -c 'write -P 0x77 0 1M' "
              "-c 'write -P 0x78 1500k 5000' src.raw >/dev/null && "
              "head -c 300000 /dev/urandom >rnd && dd if=rnd of=src.raw "
              "bs=300000 seek=2000000 oflag=seek_bytes conv=notrunc "
              "status=none && "
              "qemu-img convert -c -O qcow2 %s src.raw c.qcow2", dir, opts);
    oracle_check_image(dir, "c.qcow2");
    char *path = test_path(dir, "c.qcow2");
    img *im = oracle_open(path);
    cr_assert_gt(count_compressed(im), 0, "no compressed cluster made");
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

Test(qcow2_read, zlib_compressed_matches_qemu)
{
    compressed_check("");
}

Test(qcow2_read, zlib_compressed_512_byte_clusters_match_qemu)
{
    compressed_check("-o cluster_size=512");
}

Test(qcow2_read, zlib_compressed_v2_matches_qemu)
{
    compressed_check("-o compat=0.10,cluster_size=4k");
}

Test(qcow2_read, zstd_compressed_matches_qemu)
{
    compressed_check("-o compression_type=zstd");
}

Test(qcow2_read, zstd_compressed_2m_clusters_match_qemu)
{
    compressed_check("-o compression_type=zstd,cluster_size=2M");
}

Test(qcow2_read, extended_l2_partial_subclusters_match_qemu)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 -o extended_l2=on "
              "e.qcow2 2M", dir);
    qio(dir, "e.qcow2", "-c 'write -P 0x11 0 512' -c 'write -P 0x22 5k 1k' "
        "-c 'write -z 8k 2k' -c 'write -P 0x33 64k 64k' "
        "-c 'write -z 128k 4k' -c 'write -P 0x44 129k 1k' "
        "-c 'write -P 0x55 1000k 10k' -c 'write -z 1500k 100k'");
    oracle_check_image(dir, "e.qcow2");
    test_tmpdir_free(dir);
}

Test(qcow2_read, extended_l2_overlay_reads_backing_subclusters)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 b.qcow2 1M && "
              "qemu-io -f qcow2 -c 'write -P 0xbb 0 1M' b.qcow2 >/dev/null "
              "&& qemu-img create -q -f qcow2 -o extended_l2=on,"
              "cluster_size=32k -b b.qcow2 -F qcow2 e.qcow2 1M", dir);
    qio(dir, "e.qcow2", "-c 'write -P 0x11 1k 1k' -c 'write -z 40k 2k' "
        "-c 'write -P 0x22 100k 3k'");
    oracle_check_image(dir, "e.qcow2");
    test_tmpdir_free(dir);
}

Test(qcow2_read, backing_chain_matches_qemu)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    /* raw base (2 MiB) <- qcow2 mid (3 MiB) <- qcow2 top (4 MiB) */
    oracle_sh("cd '%s' && qemu-img create -q -f raw base.raw 2M && "
              "qemu-io -f raw -c 'write -P 0xa1 0 2M' base.raw >/dev/null "
              "&& qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2 "
              "3M && qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 "
              "top.qcow2 4M", dir);
    qio(dir, "mid.qcow2", "-c 'write -P 0xb2 64k 64k' "
        "-c 'write -P 0xb3 2500k 10k' -c 'write -z 1M 64k'");
    qio(dir, "top.qcow2", "-c 'write -P 0xc3 70k 1k' "
        "-c 'write -z 1500k 64k' -c 'write -P 0xc4 3500k 4k'");
    oracle_check_image(dir, "top.qcow2");
    oracle_check_image(dir, "mid.qcow2");
    test_tmpdir_free(dir);
}

Test(qcow2_read, v2_overlay_over_qcow2_base_matches_qemu)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 -o cluster_size=4k "
              "b.qcow2 1M && qemu-io -f qcow2 -c 'write -P 0x31 0 1M' "
              "b.qcow2 >/dev/null && qemu-img create -q -f qcow2 -o "
              "compat=0.10 -b b.qcow2 -F qcow2 o.qcow2 1M", dir);
    qio(dir, "o.qcow2", "-c 'write -P 0x41 10k 1k' -c 'write -z 300k 64k'");
    oracle_check_image(dir, "o.qcow2");
    img *im = NULL;
    char *path = test_path(dir, "o.qcow2");
    cr_assert_eq(img_open(path, NULL, IMG_OPEN_QUIET, &im, NULL), 0);
    cr_assert_str_eq(img_backing_name(im), "b.qcow2");
    cr_assert_str_eq(img_backing_format(im), "qcow2");
    cr_assert_not_null(img_backing(im));
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}

static void data_file_check(const char *raw_opt)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 -o data_file=d.data"
              "%s x.qcow2 4M", dir, raw_opt);
    qio(dir, "x.qcow2", std_ops);
    oracle_check_image(dir, "x.qcow2");
    test_tmpdir_free(dir);
}

Test(qcow2_read, external_data_file_matches_qemu)
{
    data_file_check("");
}

Test(qcow2_read, external_raw_data_file_matches_qemu)
{
    data_file_check(",data_file_raw=on");
}

Test(qcow2_read, image_with_internal_snapshots_reads_active_state)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 s.qcow2 1M && "
              "qemu-io -f qcow2 -c 'write -P 0x01 0 128k' s.qcow2 >/dev/null"
              " && qemu-img snapshot -c first s.qcow2 && qemu-io -f qcow2 "
              "-c 'write -P 0x02 64k 128k' s.qcow2 >/dev/null && "
              "qemu-img snapshot -c second s.qcow2", dir);
    oracle_check_image(dir, "s.qcow2");
    test_tmpdir_free(dir);
}

Test(qcow2_read, dirty_image_opens_read_only)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    /* Lazy refcounts set the dirty bit on the first write; killing
     * qemu-io leaves it set. */
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 -o lazy_refcounts=on "
              "d.qcow2 1M && (qemu-io -f qcow2 -c 'write -P 0x5d 0 64k' "
              "-c 'sigraise 9' d.qcow2 >/dev/null 2>&1; true)", dir);
    char *path = test_path(dir, "d.qcow2");
    img *im = oracle_open(path);
    img_info info;
    cr_assert_eq(img_get_info(im, &info, NULL), 0);
    cr_assert_eq(info.dirty_flag, 1);
    img_info_clear(&info);
    oracle_check_content(im, path);
    img_close(im);
    free(path);
    test_tmpdir_free(dir);
}
