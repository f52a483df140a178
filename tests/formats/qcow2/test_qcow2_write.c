/* tests/formats/qcow2/test_qcow2_write.c -- the qcow2 writer: random
 * workloads (writes, zero writes, discards, compressed writes, flushes)
 * against a shadow buffer, for each kind of image; copy-on-write from a
 * backing file, from compressed clusters and from clusters shared with a
 * qemu-made snapshot.  Every image written is then read by the other
 * implementations: qemu-img check and compare, and libqcow's qcowinfo
 * (which cannot read zstd or extended-L2 images: those are skipped for
 * it only).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2_oracle.h"
#include "qcow2_shadow.h"
#include "support/tmpdir.h"

/* Random workload on a new image, then every oracle. */
static void workload(const char *opts, uint64_t size, int ops, int libqcow)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "w.qcow2");
    char *raw = test_path(dir, "w.raw");
    shadow_img sh;
    shadow_create(path, opts, size, &sh);
    shadow_random(&sh, 12345, ops, 1);
    shadow_close(&sh);
    shadow_dump(&sh, raw);
    oracle_qemu_check_clean(path);
    oracle_qemu_compare(path, raw);
    oracle_vdisk_check_clean(path);
    if (libqcow) {
        oracle_qcowinfo(path);
    }
    shadow_free(&sh);
    free(raw);
    free(path);
    test_tmpdir_free(dir);
}

Test(qcow2_write, random_default)
{
    workload("", 4 << 20, 300, 1);
}

Test(qcow2_write, random_small_clusters_unaligned_size)
{
    workload("cluster_size=4k", (3 << 20) + 1536, 300, 1);
}

Test(qcow2_write, random_512_byte_clusters)
{
    workload("cluster_size=512", 1 << 20, 300, 1);
}

Test(qcow2_write, random_v2)
{
    workload("compat=0.10,cluster_size=8k", 2 << 20, 300, 1);
}

Test(qcow2_write, random_refcount_bits_1)
{
    workload("refcount_bits=1,cluster_size=4k", 2 << 20, 200, 1);
}

Test(qcow2_write, random_refcount_bits_64)
{
    workload("refcount_bits=64,cluster_size=1k", 1 << 20, 200, 1);
}

/* libqcow (2020) cannot read extended L2 entries or zstd: the oracle's
 * limit, so qcowinfo is skipped for these two only. */
Test(qcow2_write, random_extended_l2)
{
    workload("extended_l2=on,cluster_size=32k", 4 << 20, 300, 0);
}

Test(qcow2_write, random_zstd)
{
    workload("compression_type=zstd,cluster_size=4k", 2 << 20, 200, 0);
}

Test(qcow2_write, random_lazy_refcounts)
{
    workload("lazy_refcounts=on,cluster_size=4k", 2 << 20, 200, 1);
}

Test(qcow2_write, random_metadata_preallocated)
{
    workload("preallocation=metadata,cluster_size=4k", 1 << 20, 200, 1);
}

/* Many small clusters: the refcount table must grow past one cluster. */
Test(qcow2_write, refcount_table_grows)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "g.qcow2");
    char *raw = test_path(dir, "g.raw");
    shadow_img sh;
    /* 512-byte clusters, 64-bit refcounts: 8 clusters per refcount block,
     * 64 blocks per table cluster, so 512 clusters need a second one */
    shadow_create(path, "cluster_size=512,refcount_bits=64", 1 << 20, &sh);
    shadow_write(&sh, 0, 1 << 20, 7, 0);
    shadow_verify(&sh);
    shadow_close(&sh);
    shadow_dump(&sh, raw);
    oracle_qemu_check_clean(path);
    oracle_qemu_compare(path, raw);
    oracle_sh("qemu-img info --output=json '%s' | grep -q "
              "'\"refcount-bits\": 64'",
              path);
    shadow_free(&sh);
    free(raw);
    free(path);
    test_tmpdir_free(dir);
}

/* Partial writes to an overlay fill the rest of each cluster (or
 * subcluster) from the backing file. */
static void backing_cow(const char *opts, int libqcow)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f raw base.raw 1M && qemu-io "
              "-f raw -c 'write -P 0x5a 0 1M' base.raw >/dev/null",
              dir);
    char *path = test_path(dir, "top.qcow2");
    img_create_opts co = { .size = 1 << 20,
                           .backing_file = "base.raw",
                           .backing_fmt = "raw" };
    const img_driver *drv = img_driver_find("qcow2");
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    img_err err = { 0 };
    cr_assert_eq(img_opts_parse(o, opts, &err), 0, "%s", err.msg);
    co.opts = o;
    cr_assert_eq(img_create(path, "qcow2", &co, &err), 0, "%s", err.msg);
    img_opts_free(o);
    shadow_img sh;
    shadow_open(path, &sh);
    cr_assert_eq(sh.data[0], 0x5a, "the shadow starts as the backing file");
    shadow_write(&sh, 1000, 3000, 1, 0);       /* inside one cluster */
    shadow_write(&sh, 65536 - 100, 300, 2, 0); /* across two */
    shadow_zero(&sh, 300000, 100, 0);          /* partial: real zeros */
    shadow_zero(&sh, 196608, 65536, IMG_WRITE_MAY_UNMAP);
    shadow_discard(&sh, 393216, 65536); /* reads zeros (v3) */
    shadow_verify(&sh);
    shadow_close(&sh);
    char *raw = test_path(dir, "top.raw");
    shadow_dump(&sh, raw);
    oracle_sh("cd '%s' && qemu-img check -q top.qcow2 && qemu-img compare "
              "-q -F raw top.qcow2 top.raw",
              dir);
    if (libqcow) {
        oracle_qcowinfo(path);
    }
    shadow_free(&sh);
    free(raw);
    free(path);
    test_tmpdir_free(dir);
}

Test(qcow2_write, copy_on_write_from_backing)
{
    backing_cow("", 1);
}

Test(qcow2_write, copy_on_write_subclusters_from_backing)
{
    backing_cow("extended_l2=on,cluster_size=64k", 0); /* libqcow: no ext L2 */
}

/* Overwriting parts of compressed clusters: each is decompressed into a
 * new cluster, and the space of the old one is freed. */
Test(qcow2_write, overwrite_compressed_clusters)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "c.qcow2");
    char *raw = test_path(dir, "c.raw");
    shadow_img sh;
    shadow_create(path, "cluster_size=4k", 1 << 20, &sh);
    shadow_write(&sh, 0, 1 << 20, 3, IMG_WRITE_COMPRESSED);
    shadow_write(&sh, 5000, 10000, 4, 0);
    shadow_zero(&sh, 40960, 8192, 0);
    shadow_discard(&sh, 65536, 65536);
    shadow_write(&sh, 200000, 4096 * 3, 5, 0);
    shadow_verify(&sh);
    shadow_close(&sh);
    shadow_dump(&sh, raw);
    oracle_qemu_check_clean(path);
    oracle_qemu_compare(path, raw);
    oracle_vdisk_check_clean(path);
    shadow_free(&sh);
    free(raw);
    free(path);
    test_tmpdir_free(dir);
}

/* Clusters shared with an internal snapshot (made by qemu-img) are
 * copied before they change; the snapshot keeps its data. */
Test(qcow2_write, snapshot_clusters_are_copied)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 -o cluster_size=4k "
              "s.qcow2 1M && qemu-io -c 'write -P 0x11 0 512k' -c "
              "'write -c -P 0x22 512k 64k' s.qcow2 >/dev/null && qemu-img "
              "convert -O raw s.qcow2 before.raw && qemu-img snapshot -c "
              "snap s.qcow2",
              dir);
    char *path = test_path(dir, "s.qcow2");
    char *raw = test_path(dir, "after.raw");
    shadow_img sh;
    shadow_open(path, &sh);
    shadow_write(&sh, 100, 5000, 9, 0);
    shadow_write(&sh, 512 * 1024 + 10, 20000, 8, 0);
    shadow_zero(&sh, 8192, 8192, IMG_WRITE_MAY_UNMAP);
    shadow_discard(&sh, 65536, 8192);
    shadow_verify(&sh);
    shadow_close(&sh);
    shadow_dump(&sh, raw);
    oracle_qemu_check_clean(path);
    oracle_qemu_compare(path, raw);
    /* the snapshot still reads as before */
    oracle_sh("cd '%s' && qemu-img convert -l snapshot.name=snap -O raw "
              "s.qcow2 snap.raw && cmp -s snap.raw before.raw",
              dir);
    shadow_free(&sh);
    free(raw);
    free(path);
    test_tmpdir_free(dir);
}

/* Zero writes become zero clusters (version 3) that qemu-img map shows
 * as zero. */
Test(qcow2_write, zero_clusters_in_v3)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "z.qcow2");
    shadow_img sh;
    shadow_create(path, "", 1 << 20, &sh);
    shadow_write(&sh, 0, 1 << 20, 1, 0);
    shadow_zero(&sh, 0, 65536, IMG_WRITE_MAY_UNMAP);
    shadow_zero(&sh, 65536, 65536, 0);
    shadow_close(&sh);
    oracle_qemu_check_clean(path);
    /* the first is a plain zero cluster, the second keeps its space */
    oracle_sh("qemu-img map --output=json '%s' | head -1 | grep -q "
              "'\"length\": 65536, .*\"zero\": true, \"data\": false}'",
              path);
    oracle_sh("qemu-img check --output=json '%s' | grep -q "
              "'\"allocated-clusters\": 15'",
              path);
    shadow_free(&sh);
    free(path);
    test_tmpdir_free(dir);
}

/* External data files: guest clusters live in the data file at their
 * guest offset; with data_file_raw the data file alone is the disk. */
static void data_file_workload(const char *opts, int raw)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    char *path = test_path(dir, "x.qcow2");
    char *data = test_path(dir, "x.data");
    char *expect = test_path(dir, "x.raw");
    shadow_img sh;
    shadow_create(path, opts, 2 << 20, &sh);
    shadow_random(&sh, 777, 200, 0);
    shadow_close(&sh);
    shadow_dump(&sh, expect);
    /* qemu-img resolves the data file name against its working
     * directory */
    oracle_sh("cd '%s' && qemu-img check -q x.qcow2 && qemu-img compare -q "
              "-F raw x.qcow2 x.raw",
              dir);
    oracle_vdisk_check_clean(path);
    if (raw) {
        oracle_sh("cmp -s '%s' '%s'", data, expect);
    }
    shadow_free(&sh);
    free(expect);
    free(data);
    free(path);
    test_tmpdir_free(dir);
}

Test(qcow2_write, external_data_file)
{
    data_file_workload("data_file=x.data,cluster_size=4k", 0);
}

Test(qcow2_write, external_raw_data_file_stays_raw)
{
    data_file_workload("data_file=x.data,data_file_raw=on,cluster_size=4k", 1);
}

/* Images qemu-img and qemu-io made (subclusters partly allocated and
 * zero, zstd clusters, internal snapshots, version 2) take a random
 * workload; qemu-img must still find them consistent and equal to the
 * shadow. */
static void workload_on_qemu_image(const char *create, const char *io,
                                   const char *then)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 %s q.qcow2 2M && "
              "qemu-io %s q.qcow2 >/dev/null && %s",
              dir, create, io, then);
    char *path = test_path(dir, "q.qcow2");
    char *raw = test_path(dir, "q.raw");
    shadow_img sh;
    shadow_open(path, &sh);
    shadow_random(&sh, 4242, 150, 1);
    shadow_close(&sh);
    shadow_dump(&sh, raw);
    oracle_qemu_check_clean(path);
    oracle_qemu_compare(path, raw);
    oracle_vdisk_check_clean(path);
    shadow_free(&sh);
    free(raw);
    free(path);
    test_tmpdir_free(dir);
}

Test(qcow2_write, qemu_made_extended_l2_image)
{
    workload_on_qemu_image("-o extended_l2=on,cluster_size=16k",
                           "-c 'write -P 1 1k 3k' -c 'write -z 8k 4k' "
                           "-c 'write -P 2 100k 50k' -c 'write -c 1M 16k'",
                           "true");
}

Test(qcow2_write, qemu_made_zstd_image)
{
    workload_on_qemu_image("-o compression_type=zstd,cluster_size=4k",
                           "-c 'write -c -P 1 0 256k' "
                           "-c 'write -c -P 2 1M 64k'",
                           "true");
}

Test(qcow2_write, qemu_made_v2_image_with_snapshot)
{
    workload_on_qemu_image("-o compat=0.10,cluster_size=4k",
                           "-c 'write -P 1 0 512k' -c 'write -c 1M 64k'",
                           "qemu-img snapshot -c s1 q.qcow2");
}
