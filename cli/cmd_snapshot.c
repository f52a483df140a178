/* cli/cmd_snapshot.c -- "snapshot", qemu-img 7.2 compatible.
 *
 *   snapshot [--object objectdef] [-U] [-q]
 *            [-l | -a SNAPSHOT | -c SNAPSHOT | -d SNAPSHOT] FILENAME
 *
 * Follows qemu-img's img_snapshot(): one action at most (none: open the
 * image and do nothing), -l opens read-only and prints the table of
 * bdrv_snapshot_dump() (nothing when there are no snapshots or the format
 * has none), -c names the snapshot (at most 255 bytes) and dates it with
 * the wall clock in microseconds, -a applies by id or else by name, -d
 * deletes the first snapshot with that name.  Like qemu-img 7.2 there is
 * no -f; --object is accepted and ignored (nothing here needs secrets);
 * Exit status 0, or 1 on any failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opt_common.h"

/* qemu-img's QEMUSnapshotInfo name buffer is 256 bytes. */
#define SNAPSHOT_NAME_MAX 255

typedef enum snap_action {
    SNAP_NONE,
    SNAP_LIST,
    SNAP_APPLY,
    SNAP_CREATE,
    SNAP_DELETE,
} snap_action;

typedef struct snap_args {
    snap_action action;
    const char *name;     /* argument of -a, -c or -d */
    const char *filename;
    unsigned flags;       /* IMG_OPEN_* */
    int quiet;            /* -q: accepted, nothing to silence */
    int image_opts; /* --image-opts */
} snap_args;

/* -l, -a, -c, -d: only one of them. */
static int set_action(const cli_env *env, snap_args *a, snap_action act,
                      const char *name)
{
    if (a->action != SNAP_NONE) {
        return cli_usage_error(env, "%s", "Cannot mix '-l', '-a', '-c', "
                               "'-d'");
    }
    a->action = act;
    a->name = name;
    if (act != SNAP_LIST) {
        a->flags |= IMG_OPEN_RDWR;
    }
    return -1;
}

/* One of snapshot's own options; returns -1 to go on, else the status. */
static int parse_option(const cli_env *env, int c, void *args)
{
    snap_args *a = args;
    switch (c) {
    case 'l':
        return set_action(env, a, SNAP_LIST, NULL);
    case 'a':
        return set_action(env, a, SNAP_APPLY, optarg);
    case 'c':
        return set_action(env, a, SNAP_CREATE, optarg);
    case 'd':
        return set_action(env, a, SNAP_DELETE, optarg);
    case 'q':
        a->quiet = 1;
        return -1;
    case 'U':
        a->flags |= IMG_OPEN_FORCE_SHARE;
        return -1;
    default:
        return -1;
    }
}

/* Options and the file name; returns -1 to go on, else the status. */
static int parse_args(const cli_env *env, int argc, char **argv,
                      snap_args *a)
{
    const cli_opt_spec spec = {
        .cmd = "snapshot",
        .shortopts = ":la:c:d:hqU",
        .image_opts = &a->image_opts,
        .fn = parse_option,
    };
    int r = cli_parse_opts(env, argc, argv, &spec, a);
    if (r >= 0) {
        return r;
    }
    return cli_expect_files(env, argc, argv, 1, &a->filename);
}

/* -l: qemu-img's dump_snapshots() prints nothing on failure. */
static int do_list(img *im)
{
    img_snapshot_info *list;
    size_t n;
    if (img_snapshot_list(im, &list, &n, NULL) >= 0 && n > 0) {
        cli_print_snapshot_table(stdout, list, n);
    }
    img_snapshot_list_free(list, n);
    return 0;
}

/* -c: errors are "Could not create snapshot 'X': -ERRNO (strerror)". */
static int do_create(const cli_env *env, img *im, const char *name)
{
    char tag[SNAPSHOT_NAME_MAX + 1];
    snprintf(tag, sizeof(tag), "%s", name);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    img_snapshot_info sn = {
        .name = tag,
        .date_sec = (uint32_t)now.tv_sec,
        .date_nsec = (uint32_t)(now.tv_nsec / 1000 * 1000),
        .icount = 0, /* qemu-img zeroes its QEMUSnapshotInfo */
    };
    img_err err = { 0 };
    int r = img_snapshot_create(im, &sn, &err);
    if (r >= 0) {
        r = img_flush(im, &err);
    }
    if (r < 0) {
        cli_error(env, "Could not create snapshot '%s': %d (%s)", name, r,
                  strerror(-r));
        return 1;
    }
    return 0;
}

/* -a: by id, else by name. */
static int do_apply(const cli_env *env, img *im, const char *name)
{
    img_err err = { 0 };
    int r = img_snapshot_apply(im, name, &err);
    if (r >= 0) {
        r = img_flush(im, &err);
    }
    if (r < 0) {
        cli_error(env, "Could not apply snapshot '%s': %s", name, err.msg);
        return 1;
    }
    return 0;
}

/* -d: the first snapshot with that name (bdrv_snapshot_find). */
static int do_delete(const cli_env *env, img *im, const char *name)
{
    img_snapshot_info *list;
    size_t n, i;
    img_err err = { 0 };
    int r = img_snapshot_list(im, &list, &n, NULL);
    for (i = 0; r >= 0 && i < n && strcmp(list[i].name, name); i++) {
    }
    if (r < 0 || i == n) {
        img_snapshot_list_free(list, n);
        cli_error(env, "Could not delete snapshot '%s': snapshot not found",
                  name);
        return 1;
    }
    r = img_snapshot_delete(im, list[i].id, list[i].name, &err);
    img_snapshot_list_free(list, n);
    if (r >= 0) {
        r = img_flush(im, &err);
    }
    if (r < 0) {
        cli_error(env, "Could not delete snapshot '%s': %s", name, err.msg);
        return 1;
    }
    return 0;
}

int cmd_snapshot(const cli_env *env, int argc, char **argv)
{
    snap_args a = { .action = SNAP_NONE };
    int ret = parse_args(env, argc, argv, &a);
    if (ret >= 0) {
        return ret;
    }
    img *im = cli_open(env, a.filename, NULL,
                       a.flags | (a.image_opts ? CLI_OPEN_IMAGE_OPTS : 0));
    if (!im) {
        return 1;
    }
    switch (a.action) {
    case SNAP_NONE:
        ret = 0;
        break;
    case SNAP_LIST:
        ret = do_list(im);
        break;
    case SNAP_CREATE:
        ret = do_create(env, im, a.name);
        break;
    case SNAP_APPLY:
        ret = do_apply(env, im, a.name);
        break;
    case SNAP_DELETE:
        ret = do_delete(env, im, a.name);
        break;
    }
    img_close(im);
    return ret;
}
