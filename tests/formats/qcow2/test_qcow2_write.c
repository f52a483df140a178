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

#include "qcow2_fixture.h"
#include "qcow2_oracle.h"
#include "support/tmpdir.h"

/* Random workload on a new image, then every oracle. */
static void workload(const char *opts, uint64_t size, int ops, int libqcow)
{
    qfix f;
    qfix_init(&f, "w", 1);
    shadow_create(f.path, opts, size, &f.sh);
    shadow_random(&f.sh, 12345, ops, 1);
    qfix_close_check(&f, 1);
    if (libqcow) {
        oracle_qcowinfo(f.path);
    }
    qfix_fini(&f);
}

/* A random-workload test: its name, the image's creation options and
 * size, the number of operations, and whether libqcow reads the result. */
#define WORKLOAD_TEST(name, opts, size, ops, libqcow)                       \
    Test(qcow2_write, name)                                                 \
    {                                                                       \
        workload(opts, size, ops, libqcow);                                 \
    }

WORKLOAD_TEST(random_default, "", 4 << 20, 300, 1)
WORKLOAD_TEST(random_small_clusters_unaligned_size, "cluster_size=4k",
              (3 << 20) + 1536, 300, 1)
WORKLOAD_TEST(random_512_byte_clusters, "cluster_size=512", 1 << 20, 300, 1)
WORKLOAD_TEST(random_v2, "compat=0.10,cluster_size=8k", 2 << 20, 300, 1)
WORKLOAD_TEST(random_refcount_bits_1, "refcount_bits=1,cluster_size=4k",
              2 << 20, 200, 1)
WORKLOAD_TEST(random_refcount_bits_64, "refcount_bits=64,cluster_size=1k",
              1 << 20, 200, 1)
/* libqcow (2020) cannot read extended L2 entries or zstd: the oracle's
 * limit, so qcowinfo is skipped for these two only. */
WORKLOAD_TEST(random_extended_l2, "extended_l2=on,cluster_size=32k",
              4 << 20, 300, 0)
WORKLOAD_TEST(random_zstd, "compression_type=zstd,cluster_size=4k",
              2 << 20, 200, 0)
WORKLOAD_TEST(random_lazy_refcounts, "lazy_refcounts=on,cluster_size=4k",
              2 << 20, 200, 1)
WORKLOAD_TEST(random_metadata_preallocated,
              "preallocation=metadata,cluster_size=4k", 1 << 20, 200, 1)

/* Many small clusters: the refcount table must grow past one cluster. */
Test(qcow2_write, refcount_table_grows)
{
    qfix f;
    qfix_init(&f, "g", 1);
    /* 512-byte clusters, 64-bit refcounts: 8 clusters per refcount block,
     * 64 blocks per table cluster, so 512 clusters need a second one */
    shadow_create(f.path, "cluster_size=512,refcount_bits=64", 1 << 20,
                  &f.sh);
    shadow_write(&f.sh, 0, 1 << 20, 7, 0);
    shadow_verify(&f.sh);
    qfix_close_check(&f, 0);
    oracle_sh("qemu-img info --output=json '%s' | grep -q "
              "'\"refcount-bits\": 64'",
              f.path);
    qfix_fini(&f);
}

/* Partial writes to an overlay fill the rest of each cluster (or
 * subcluster) from the backing file. */
static void backing_cow(const char *opts, int libqcow)
{
    qfix f;
    qfix_init(&f, "top", 1);
    oracle_sh("cd '%s' && qemu-img create -q -f raw base.raw 1M && qemu-io "
              "-f raw -c 'write -P 0x5a 0 1M' base.raw >/dev/null",
              f.dir);
    img_create_opts co = { .size = 1 << 20,
                           .backing_file = "base.raw",
                           .backing_fmt = "raw" };
    const img_driver *drv = img_driver_find("qcow2");
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    img_err err = { 0 };
    cr_assert_eq(img_opts_parse(o, opts, &err), 0, "%s", err.msg);
    co.opts = o;
    cr_assert_eq(img_create(f.path, "qcow2", &co, &err), 0, "%s", err.msg);
    img_opts_free(o);
    shadow_open(f.path, &f.sh);
    cr_assert_eq(f.sh.data[0], 0x5a, "the shadow starts as the backing file");
    shadow_write(&f.sh, 1000, 3000, 1, 0);       /* inside one cluster */
    shadow_write(&f.sh, 65536 - 100, 300, 2, 0); /* across two */
    shadow_zero(&f.sh, 300000, 100, 0);          /* partial: real zeros */
    shadow_zero(&f.sh, 196608, 65536, IMG_WRITE_MAY_UNMAP);
    shadow_discard(&f.sh, 393216, 65536); /* reads zeros (v3) */
    shadow_verify(&f.sh);
    /* the backing file name resolves against the image's directory */
    qfix_close_check(&f, 0);
    if (libqcow) {
        oracle_qcowinfo(f.path);
    }
    qfix_fini(&f);
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
    qfix f;
    qfix_init(&f, "c", 1);
    shadow_create(f.path, "cluster_size=4k", 1 << 20, &f.sh);
    shadow_write(&f.sh, 0, 1 << 20, 3, IMG_WRITE_COMPRESSED);
    shadow_write(&f.sh, 5000, 10000, 4, 0);
    shadow_zero(&f.sh, 40960, 8192, 0);
    shadow_discard(&f.sh, 65536, 65536);
    shadow_write(&f.sh, 200000, 4096 * 3, 5, 0);
    shadow_verify(&f.sh);
    qfix_close_check(&f, 1);
    qfix_fini(&f);
}

/* Clusters shared with an internal snapshot (made by qemu-img) are
 * copied before they change; the snapshot keeps its data. */
Test(qcow2_write, snapshot_clusters_are_copied)
{
    qfix f;
    qfix_init(&f, "s", 1);
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 -o cluster_size=4k "
              "s.qcow2 1M && qemu-io -c 'write -P 0x11 0 512k' -c "
              "'write -c -P 0x22 512k 64k' s.qcow2 >/dev/null && qemu-img "
              "convert -O raw s.qcow2 before.raw && qemu-img snapshot -c "
              "snap s.qcow2",
              f.dir);
    shadow_open(f.path, &f.sh);
    shadow_write(&f.sh, 100, 5000, 9, 0);
    shadow_write(&f.sh, 512 * 1024 + 10, 20000, 8, 0);
    shadow_zero(&f.sh, 8192, 8192, IMG_WRITE_MAY_UNMAP);
    shadow_discard(&f.sh, 65536, 8192);
    shadow_verify(&f.sh);
    qfix_close_check(&f, 0);
    /* the snapshot still reads as before */
    oracle_sh("cd '%s' && qemu-img convert -l snapshot.name=snap -O raw "
              "s.qcow2 snap.raw && cmp -s snap.raw before.raw",
              f.dir);
    qfix_fini(&f);
}

/* Zero writes become zero clusters (version 3) that qemu-img map shows
 * as zero. */
Test(qcow2_write, zero_clusters_in_v3)
{
    qfix f;
    qfix_init(&f, "z", 1);
    shadow_create(f.path, "", 1 << 20, &f.sh);
    shadow_write(&f.sh, 0, 1 << 20, 1, 0);
    shadow_zero(&f.sh, 0, 65536, IMG_WRITE_MAY_UNMAP);
    shadow_zero(&f.sh, 65536, 65536, 0);
    shadow_close(&f.sh);
    oracle_qemu_check_clean(f.path);
    /* the first is a plain zero cluster, the second keeps its space */
    oracle_sh("qemu-img map --output=json '%s' | head -1 | grep -q "
              "'\"length\": 65536, .*\"zero\": true, \"data\": false}'",
              f.path);
    oracle_sh("qemu-img check --output=json '%s' | grep -q "
              "'\"allocated-clusters\": 15'",
              f.path);
    qfix_fini(&f);
}

/* External data files: guest clusters live in the data file at their
 * guest offset; with data_file_raw the data file alone is the disk. */
static void data_file_workload(const char *opts, int raw)
{
    qfix f;
    qfix_init(&f, "x", 1);
    char *data = test_path(f.dir, "x.data");
    shadow_create(f.path, opts, 2 << 20, &f.sh);
    shadow_random(&f.sh, 777, 200, 0);
    shadow_close(&f.sh);
    shadow_dump(&f.sh, f.raw);
    /* qemu-img resolves the data file name against its working
     * directory */
    oracle_sh("cd '%s' && qemu-img check -q x.qcow2 && qemu-img compare -q "
              "-F raw x.qcow2 x.raw",
              f.dir);
    oracle_vdisk_check_clean(f.path);
    if (raw) {
        oracle_sh("cmp -s '%s' '%s'", data, f.raw);
    }
    free(data);
    qfix_fini(&f);
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
    qfix f;
    qfix_init(&f, "q", 1);
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 %s q.qcow2 2M && "
              "qemu-io %s q.qcow2 >/dev/null && %s",
              f.dir, create, io, then);
    shadow_open(f.path, &f.sh);
    shadow_random(&f.sh, 4242, 150, 1);
    qfix_close_check(&f, 1);
    qfix_fini(&f);
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
