/* fuzz/fuzz_qcow2.c -- libFuzzer harness for the qcow2 driver: the input
 * is opened as "qcow2" whatever it contains, so the header, extension,
 * snapshot table, L1/L2 and compressed-cluster decoders all see it.
 *
 * After the common walk (fuzz_walk.h) the snapshot table is listed and
 * each of the first few snapshots is loaded in turn as a temporary
 * read-only view (img_snapshot_load_tmp, as "convert -l" and "measure -l"
 * do) and walked again, so a snapshot's L1 table and disk size are
 * decoded and used for reads.  Then the persistent bitmaps are listed
 * and, on a writable copy in memory, the first is merged into a new
 * bitmap and into the last (convert --bitmaps and bitmap --merge), so
 * that the bitmap directory and tables decode as untrusted input.  Last,
 * another writable copy takes a few writes, zeros and a discard
 * (fuzz_write.c): allocation, copy-on-write and refcount updates over
 * untrusted tables.
 * Aborts when libimg breaks its contract: a failure without err set, or
 * a listed snapshot or bitmap without id or name.
 */
#include "fuzz_walk.h"

#include <stdlib.h>
#include <string.h>

enum {
    QF_MAX_SNAPSHOTS = 4, /* snapshots loaded and walked per input */
};

static void qf_require(int cond)
{
    if (!cond) {
        abort();
    }
}

/* Listed snapshots have terminated ids and names. */
static void qf_check_list(const img_snapshot_info *list, size_t n)
{
    volatile size_t total = 0; /* reads every byte; ASan checks them */
    for (size_t i = 0; i < n; i++) {
        qf_require(list[i].id != NULL && list[i].name != NULL);
        total += strlen(list[i].id) + strlen(list[i].name);
    }
    (void)total;
}

/* Shows snapshot (id, name) on im and walks it when that worked. */
static void qf_load(img *im, const char *id, const char *name)
{
    img_err err;
    memset(&err, 0, sizeof(err));
    int ret = img_snapshot_load_tmp(im, id, name, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
        return;
    }
    fuzz_walk(im);
}

/* Lists the snapshots, then loads the first few by id (the first also by
 * name and by both) one after the other on the same image. */
static void qf_snapshots(const uint8_t *data, size_t size)
{
    img *im = fuzz_open(data, size, "qcow2");
    img_snapshot_info *list = NULL;
    size_t n = 0;
    img_err err;
    if (!im) {
        return;
    }
    memset(&err, 0, sizeof(err));
    int ret = img_snapshot_list(im, &list, &n, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
        img_close(im);
        return;
    }
    qf_check_list(list, n);
    for (size_t i = 0; i < n && i < QF_MAX_SNAPSHOTS; i++) {
        qf_load(im, list[i].id, NULL);
    }
    if (n > 0) {
        qf_load(im, NULL, list[0].name);
        qf_load(im, list[0].id, list[0].name);
    }
    img_snapshot_list_free(list, n);
    img_close(im);
}

/* One bitmap change; a failure must be reported properly. */
static void qf_bitmap_change(img *im, const img_bitmap_change *c)
{
    img_err err;
    memset(&err, 0, sizeof(err));
    int ret = img_bitmap_change_apply(im, c, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
    }
}

/* Lists the bitmaps of a writable copy, adds one like the first and
 * merges the first into it and into the last. */
static void qf_bitmaps(const uint8_t *data, size_t size)
{
    img_file *file = img_mem_file_new(data, size, 1);
    img *im = NULL;
    img_err err;
    memset(&err, 0, sizeof(err));
    if (!file || img_open_file(file, "qcow2",
                               IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK |
                                   IMG_OPEN_NO_BACKING | IMG_OPEN_QUIET,
                               &im, &err) < 0) {
        return;
    }
    img_bitmap_info *list = NULL;
    size_t n = 0;
    int ret = img_bitmap_list(im, &list, &n, &err);
    if (ret < 0) {
        fuzz_failed(ret, &err);
    }
    for (size_t i = 0; i < n; i++) {
        qf_require(list[i].name != NULL && list[i].granularity >= 512);
    }
    if (n > 0) {
        img_bitmap_change add = { .op = IMG_BITMAP_ADD, .name = "fuzz",
                                  .granularity = list[0].granularity };
        img_bitmap_change into_new = { .op = IMG_BITMAP_MERGE,
                                       .name = "fuzz", .src = im,
                                       .src_name = list[0].name };
        img_bitmap_change into_last = { .op = IMG_BITMAP_MERGE,
                                        .name = list[n - 1].name,
                                        .src = im,
                                        .src_name = list[0].name };
        qf_bitmap_change(im, &add);
        qf_bitmap_change(im, &into_new);
        qf_bitmap_change(im, &into_last);
    }
    img_bitmap_list_free(list, n);
    img_close(im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_open_and_walk(data, size, "qcow2");
    qf_snapshots(data, size);
    qf_bitmaps(data, size);
    fuzz_write_walk(data, size, "qcow2");
    return 0;
}
