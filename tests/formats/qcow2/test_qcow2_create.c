/* tests/formats/qcow2/test_qcow2_create.c -- creating qcow2 images
 * through the library: the option table qemu-img 7.2 has (in the order of
 * its "Formatting" line), the files of each option (qemu-img makes the
 * same bytes; tests/cross/qcow2_create.sh compares them for many more
 * combinations), creation into memory files, and the errors.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qcow2_oracle.h"
#include "support/tmpdir.h"

static img_opts *opts_of(const char *s)
{
    const img_driver *drv = img_driver_find("qcow2");
    img_opts *o = img_opts_new(img_driver_create_opts(drv));
    img_err err = { 0 };
    cr_assert_not_null(o);
    cr_assert_eq(img_opts_parse(o, s, &err), 0, "%s: %s", s, err.msg);
    return o;
}

/* Creates into a memory file; returns the result, err filled. */
static int create_mem(const char *opts, uint64_t size, img_err *err,
                      img_file **out)
{
    img_opts *o = opts_of(opts);
    img_create_opts co = { .size = size, .opts = o };
    img_file *mem = img_mem_file_new(NULL, 0, 1);
    int r = img_create_file(mem, "qcow2", &co, err);
    img_opts_free(o);
    if (out && r >= 0) {
        *out = mem;
    } else {
        img_file_close(mem);
    }
    return r;
}

Test(qcow2_create, option_order_matches_qemu_img)
{
    static const char *const order[] = {
        "encryption",
        "encrypt.format",
        "encrypt.key-secret",
        "encrypt.cipher-alg",
        "encrypt.cipher-mode",
        "encrypt.ivgen-alg",
        "encrypt.ivgen-hash-alg",
        "encrypt.hash-alg",
        "encrypt.iter-time",
        "cluster_size",
        "extended_l2",
        "preallocation",
        "compression_type",
        "size",
        "compat",
        "backing_file",
        "backing_fmt",
        "data_file",
        "data_file_raw",
        "lazy_refcounts",
        "refcount_bits",
        "nocow",
        "extent_size_hint",
        NULL,
    };
    const img_opt_desc *d = img_driver_create_opts(img_driver_find("qcow2"));
    for (int i = 0; order[i]; i++) {
        cr_assert_not_null(d[i].name, "option %s missing", order[i]);
        cr_assert_str_eq(d[i].name, order[i]);
    }
    cr_assert_str_eq(d[9].def, "65536");
    cr_assert(d[21].flags & IMG_OPT_PROTOCOL, "nocow is the host file's");
}

/* The default image, made in memory, is qemu-img's to the byte. */
Test(qcow2_create, memory_file_equals_qemu_img)
{
    oracle_require_qemu();
    char *dir = test_tmpdir_new();
    oracle_sh("cd '%s' && qemu-img create -q -f qcow2 -o "
              "cluster_size=16k,lazy_refcounts=on q.qcow2 100M",
              dir);
    char *path = test_path(dir, "q.qcow2");
    size_t qlen, vlen;
    uint8_t *q = oracle_slurp(path, &qlen);
    img_file *mem = NULL;
    img_err err = { 0 };
    cr_assert_eq(
        create_mem("cluster_size=16k,lazy_refcounts=on", 100 << 20, &err, &mem),
        0, "%s", err.msg);
    const uint8_t *v = img_mem_file_data(mem, &vlen);
    cr_assert_eq(vlen, qlen);
    cr_assert_eq(memcmp(v, q, qlen), 0);
    img_file_close(mem);
    free(q);
    free(path);
    test_tmpdir_free(dir);
}

/* A new image reads as zeros and opens clean. */
Test(qcow2_create, new_image_reads_zeros)
{
    img_file *mem = NULL;
    img_err err = { 0 };
    cr_assert_eq(create_mem("preallocation=metadata,cluster_size=4k", 1 << 20,
                            &err, &mem),
                 0, "%s", err.msg);
    img *im = NULL;
    cr_assert_eq(img_open_file(mem, "qcow2", IMG_OPEN_NO_LOCK | IMG_OPEN_QUIET,
                               &im, &err),
                 0, "%s", err.msg);
    cr_assert_eq(img_size(im), 1 << 20);
    uint8_t *buf = malloc(1 << 20), *zero = calloc(1, 1 << 20);
    cr_assert_eq(img_pread(im, buf, 1 << 20, 0, &err), 0);
    cr_assert_eq(memcmp(buf, zero, 1 << 20), 0);
    img_check_result res;
    cr_assert_eq(img_check(im, &res, 0, &err), 0);
    cr_assert_eq(res.corruptions + res.leaks, 0);
    cr_assert_eq(res.allocated_clusters, 256, "data clusters preallocated");
    img_close(im);
    free(buf);
    free(zero);
}

/* Errors name the problem as qemu-img does. */
Test(qcow2_create, invalid_options_refused)
{
    static const struct {
        const char *opts;
        const char *msg;
    } cases[] = {
        { "cluster_size=1000", "Cluster size must be a power of two" },
        { "cluster_size=4M", "Cluster size must be a power of two" },
        { "refcount_bits=3", "Refcount width must be a power of two" },
        { "compat=2.0", "does not accept value '2.0'" },
        { "compat=0.10,refcount_bits=8", "Different refcount widths" },
        { "compat=0.10,lazy_refcounts=on", "Lazy refcounts only" },
        { "compat=0.10,extended_l2=on", "Extended L2 entries are only" },
        { "extended_l2=on,cluster_size=8k", "at least 16384 bytes" },
        { "data_file_raw=on", "data-file-raw requires data-file" },
        { "preallocation=bogus", "'preallocation' does not accept" },
        { "compression_type=lz4", "'compression-type' does not accept" },
        { "backing_fmt=raw", "Backing format cannot be used" },
        { "encryption=on", "not supported" },
        { "encrypt.format=luks", "not supported" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        img_err err = { 0 };
        int r = create_mem(cases[i].opts, 1 << 20, &err, NULL);
        cr_assert(r < 0, "%s accepted", cases[i].opts);
        cr_assert(strstr(err.msg, cases[i].msg), "%s: %s", cases[i].opts,
                  err.msg);
    }
    img_err err = { 0 };
    cr_assert_eq(create_mem("cluster_size=512", 1ull << 40, &err, NULL),
                 -EFBIG);
}
