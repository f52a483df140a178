/* cli/cmd_info.c -- "info", qemu-img 7.2 compatible.
 *
 *   info [-f FMT] [--output=human|json] [--backing-chain] [-U] FILENAME
 *
 * Human output is QEMU's bdrv_image_info_dump() (block/qapi.c); JSON is the
 * QAPI ImageInfo struct as qobject_to_json_pretty() prints it.  QEMU builds
 * both from a QDict, whose iteration order is its hash table's order, not
 * the order members were added: info_qdict_order() reproduces that order
 * for every dict we print (the top-level info and the driver's
 * format-specific tree alike).  Internal snapshots appear as the
 * "snapshots" list (QAPI SnapshotInfo) and, in human output, as
 * bdrv_snapshot_dump()'s "Snapshot list:" table, dates in local time.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "opt_common.h"
#include "libimg/backing.h"

/* QEMU's QDICT_BUCKET_MAX. */
#define QDICT_BUCKETS 512

typedef struct info_args {
    const char *filename;
    const char *fmt;
    cli_output output;
    int chain;      /* --backing-chain */
    unsigned flags; /* IMG_OPEN_* for the top image */
    const char *output_arg; /* --output's value, checked after the options */
    int image_opts; /* --image-opts */
} info_args;

/* ---- QEMU's QDict iteration order ---- */

/* tdb_hash() of qobject/qdict.c reduced to a bucket: 32-bit arithmetic. */
static unsigned qdict_bucket(const char *key)
{
    uint32_t v = (uint32_t)(0x238F13AFu * (uint32_t)strlen(key));
    for (uint32_t i = 0; key[i]; i++) {
        v += (uint32_t)(unsigned char)key[i] << (i * 5 % 24);
    }
    return (1103515243u * v + 12345u) % QDICT_BUCKETS;
}

static img_val *info_qdict_order(const img_val *v);

/* Buckets are walked in ascending order; inside a bucket the member added
 * last comes first (QLIST_INSERT_HEAD). */
static int qdict_before(const img_val *d, size_t a, size_t b)
{
    unsigned ba = qdict_bucket(img_val_key_at(d, a));
    unsigned bb = qdict_bucket(img_val_key_at(d, b));
    return ba < bb || (ba == bb && a > b);
}

static img_val *qdict_order_dict(const img_val *d)
{
    size_t n = img_val_count(d);
    size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    img_val *out = img_val_dict_new();
    if (!idx || !out) {
        free(idx);
        img_val_free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) { /* insertion sort: dicts are small */
        size_t j = i;
        for (; j > 0 && qdict_before(d, i, idx[j - 1]); j--) {
            idx[j] = idx[j - 1];
        }
        idx[j] = i;
    }
    for (size_t i = 0; i < n; i++) {
        img_val_dict_set(out, img_val_key_at(d, idx[i]),
                         info_qdict_order(img_val_at(d, idx[i])));
    }
    free(idx);
    return out;
}

/* A deep copy of v with every dict's members in QDict order (NULL on
 * allocation failure). */
static img_val *info_qdict_order(const img_val *v)
{
    img_val *out = NULL;
    switch (img_val_type_of(v)) {
    case IMG_VAL_INT:
        return img_val_int_new(img_val_int(v));
    case IMG_VAL_UINT:
        return img_val_uint_new(img_val_uint(v));
    case IMG_VAL_BOOL:
        return img_val_bool_new(img_val_bool(v));
    case IMG_VAL_STR:
        return img_val_str_new(img_val_str(v));
    case IMG_VAL_LIST:
        out = img_val_list_new();
        for (size_t i = 0; out && i < img_val_count(v); i++) {
            img_val_list_append(out, info_qdict_order(img_val_at(v, i)));
        }
        return out;
    case IMG_VAL_DICT:
        return qdict_order_dict(v);
    }
    return NULL;
}

/* ---- human output of a value tree (block/qapi.c dump_qobject) ---- */

static void dump_value(FILE *out, const img_val *v, int indent);

static int is_composite(const img_val *v)
{
    img_val_type t = img_val_type_of(v);
    return t == IMG_VAL_DICT || t == IMG_VAL_LIST;
}

/* "key: value" lines, dashes in keys shown as spaces. */
static void dump_dict(FILE *out, const img_val *d, int indent)
{
    for (size_t i = 0; i < img_val_count(d); i++) {
        const img_val *child = img_val_at(d, i);
        int composite = is_composite(child);
        fprintf(out, "%*s", indent * 4, "");
        for (const char *k = img_val_key_at(d, i); *k; k++) {
            fputc(*k == '-' ? ' ' : *k, out);
        }
        fprintf(out, ":%c", composite ? '\n' : ' ');
        dump_value(out, child, indent + 1);
        if (!composite) {
            fputc('\n', out);
        }
    }
}

/* "[i]: value" lines. */
static void dump_list(FILE *out, const img_val *l, int indent)
{
    for (size_t i = 0; i < img_val_count(l); i++) {
        const img_val *child = img_val_at(l, i);
        int composite = is_composite(child);
        fprintf(out, "%*s[%zu]:%c", indent * 4, "", i, composite ? '\n' : ' ');
        dump_value(out, child, indent + 1);
        if (!composite) {
            fputc('\n', out);
        }
    }
}

static void dump_value(FILE *out, const img_val *v, int indent)
{
    switch (img_val_type_of(v)) {
    case IMG_VAL_INT:
        fprintf(out, "%" PRId64, img_val_int(v));
        break;
    case IMG_VAL_UINT:
        fprintf(out, "%" PRIu64, img_val_uint(v));
        break;
    case IMG_VAL_BOOL:
        fputs(img_val_bool(v) ? "true" : "false", out);
        break;
    case IMG_VAL_STR:
        fputs(img_val_str(v), out);
        break;
    case IMG_VAL_LIST:
        dump_list(out, v, indent);
        break;
    case IMG_VAL_DICT:
        dump_dict(out, v, indent);
        break;
    }
}

/* ---- collecting: one QAPI ImageInfo dict per image ---- */

/* Adds the backing-file members; full-backing-filename is the name
 * resolved against the image's directory, as QEMU reports it even when
 * the backing file was not opened. */
static int add_backing(img_val *d, const img *im)
{
    const char *name = img_backing_name(im);
    if (!name || !name[0]) {
        return 0;
    }
    char *full = img_backing_path(im)
                     ? strdup(img_backing_path(im))
                     : img_backing_resolve(img_filename(im), name);
    if (!full) {
        return -1;
    }
    img_val_dict_set_str(d, "backing-filename", name);
    img_val_dict_set_str(d, "full-backing-filename", full);
    free(full);
    if (img_backing_format(im) && img_backing_format(im)[0]) {
        img_val_dict_set_str(d, "backing-filename-format",
                             img_backing_format(im));
    }
    return 0;
}

/* One QAPI SnapshotInfo dict (members in QAPI order). */
static img_val *snapshot_to_val(const img_snapshot_info *sn)
{
    img_val *d = img_val_dict_new();
    if (!d) {
        return NULL;
    }
    img_val_dict_set_str(d, "id", sn->id);
    img_val_dict_set_str(d, "name", sn->name);
    img_val_dict_set_int(d, "vm-state-size", (int64_t)sn->vm_state_size);
    img_val_dict_set_int(d, "date-sec", sn->date_sec);
    img_val_dict_set_int(d, "date-nsec", sn->date_nsec);
    img_val_dict_set_int(d, "vm-clock-sec",
                         (int64_t)(sn->vm_clock_nsec / 1000000000u));
    img_val_dict_set_int(d, "vm-clock-nsec",
                         (int64_t)(sn->vm_clock_nsec % 1000000000u));
    if (sn->icount != -1) {
        img_val_dict_set_int(d, "icount", sn->icount);
    }
    return d;
}

/* "snapshots": present when the format lists at least one (QEMU's
 * bdrv_query_snapshot_info_list; a format without snapshots has none). */
static int add_snapshots(img_val *d, img *im)
{
    img_snapshot_info *list;
    size_t n;
    if (img_snapshot_list(im, &list, &n, NULL) < 0 || n == 0) {
        return 0;
    }
    img_val *l = img_val_list_new();
    for (size_t i = 0; l && i < n; i++) {
        img_val *v = snapshot_to_val(&list[i]);
        if (!v) {
            img_val_free(l);
            l = NULL;
            break;
        }
        img_val_list_append(l, v);
    }
    img_snapshot_list_free(list, n);
    if (!l) {
        return -1;
    }
    img_val_dict_set(d, "snapshots", l);
    return 0;
}

/* The ImageInfo dict of im, in QDict order; takes info's format-specific
 * tree.  Members are added in QAPI ImageInfo order (which decides between
 * members sharing a hash bucket).  QEMU reports dirty-flag whenever the
 * driver's get_info succeeds, which it does for every format we support,
 * so it is always present here. */
static img_val *info_to_val(img *im, img_info *info)
{
    img_val *d = img_val_dict_new();
    if (!d) {
        return NULL;
    }
    img_val_dict_set_str(d, "filename", img_filename(im));
    img_val_dict_set_str(d, "format", img_format(im));
    img_val_dict_set_bool(d, "dirty-flag", info->dirty_flag);
    if (info->actual_size >= 0) {
        img_val_dict_set_int(d, "actual-size", info->actual_size);
    }
    img_val_dict_set_int(d, "virtual-size", (int64_t)info->virtual_size);
    if (info->cluster_size) {
        img_val_dict_set_int(d, "cluster-size", (int64_t)info->cluster_size);
    }
    if (info->encrypted) {
        img_val_dict_set_bool(d, "encrypted", 1);
    }
    if (add_backing(d, im) < 0 || add_snapshots(d, im) < 0) {
        img_val_free(d);
        return NULL;
    }
    if (info->format_specific) {
        /* moved, not copied: the whole tree is reordered once below (a
         * second pass would swap members that share a bucket back) */
        img_val_dict_set(d, "format-specific", info->format_specific);
        info->format_specific = NULL;
    }
    img_val *ordered = info_qdict_order(d);
    img_val_free(d);
    return ordered;
}

/* Appends the ImageInfo of im to list; prints the error on failure. */
static int collect_one(const cli_env *env, img *im, img_val *list)
{
    img_info info;
    img_err err = { 0 };
    if (img_get_info(im, &info, &err) < 0) {
        cli_error_img(env, img_filename(im), &err);
        return -1;
    }
    img_val *v = info_to_val(im, &info);
    img_info_clear(&info);
    if (!v) {
        cli_error(env, "Out of memory");
        return -1;
    }
    img_val_list_append(list, v);
    return 0;
}

/* A list of ImageInfo dicts: the image, and with --backing-chain each
 * image below it (opened by libimg, which bounds the chain and refuses
 * loops). */
static img_val *collect_info_list(const cli_env *env, const info_args *a)
{
    unsigned flags = a->flags | (a->chain ? 0 : IMG_OPEN_NO_BACKING);
    img *top = cli_open(env, a->filename, a->fmt,
                   flags | (a->image_opts ? CLI_OPEN_IMAGE_OPTS : 0));
    img_val *list = top ? img_val_list_new() : NULL;
    if (top && !list) {
        cli_error(env, "Out of memory");
    }
    for (img *im = top; list && im; im = a->chain ? img_backing(im) : NULL) {
        if (collect_one(env, im, list) < 0) {
            img_val_free(list);
            list = NULL;
        }
    }
    img_close(top);
    return list;
}

/* ---- printing ---- */

static void print_human_one(FILE *out, const img_val *d)
{
    const img_val *v;
    char vsize[64], dsize[64] = "unavailable";
    uint64_t virt = img_val_uint(img_val_dict_get(d, "virtual-size"));
    cli_size_to_str(virt, vsize, sizeof(vsize));
    if ((v = img_val_dict_get(d, "actual-size")) != NULL) {
        cli_size_to_str(img_val_uint(v), dsize, sizeof(dsize));
    }
    fprintf(out,
            "image: %s\nfile format: %s\nvirtual size: %s (%" PRIu64
            " bytes)\ndisk size: %s\n",
            img_val_str(img_val_dict_get(d, "filename")),
            img_val_str(img_val_dict_get(d, "format")), vsize, virt, dsize);
    if ((v = img_val_dict_get(d, "encrypted")) && img_val_bool(v)) {
        fprintf(out, "encrypted: yes\n");
    }
    if ((v = img_val_dict_get(d, "cluster-size")) != NULL) {
        fprintf(out, "cluster_size: %" PRId64 "\n", img_val_int(v));
    }
    if ((v = img_val_dict_get(d, "dirty-flag")) && img_val_bool(v)) {
        fprintf(out, "cleanly shut down: no\n");
    }
}

static void print_human_backing(FILE *out, const img_val *d)
{
    const img_val *name = img_val_dict_get(d, "backing-filename");
    const img_val *full = img_val_dict_get(d, "full-backing-filename");
    const img_val *fmt = img_val_dict_get(d, "backing-filename-format");
    if (!name) {
        return;
    }
    fprintf(out, "backing file: %s", img_val_str(name));
    if (!full) {
        fprintf(out, " (cannot determine actual path)");
    } else if (strcmp(img_val_str(name), img_val_str(full)) != 0) {
        fprintf(out, " (actual path: %s)", img_val_str(full));
    }
    fprintf(out, "\n");
    if (fmt) {
        fprintf(out, "backing file format: %s\n", img_val_str(fmt));
    }
}

/* One row of bdrv_snapshot_dump(); the date in local time. */
static void print_row(FILE *out, const img_snapshot_info *sn)
{
    char vmsize[64], date[32] = "", clock_buf[64], icount[32] = "";
    time_t t = (time_t)sn->date_sec;
    struct tm tm;
    if (localtime_r(&t, &tm)) {
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
    }
    uint64_t secs = sn->vm_clock_nsec / 1000000000u;
    snprintf(clock_buf, sizeof(clock_buf), "%02d:%02d:%02d.%03d",
             (int)(secs / 3600), (int)((secs / 60) % 60), (int)(secs % 60),
             (int)((sn->vm_clock_nsec / 1000000) % 1000));
    cli_size_to_str(sn->vm_state_size, vmsize, sizeof(vmsize));
    if (sn->icount != -1) {
        snprintf(icount, sizeof(icount), "%" PRId64, sn->icount);
    }
    fprintf(out, "%-9s %-16s %8s%20s%13s%11s\n", sn->id, sn->name, vmsize,
            date, clock_buf, icount);
}

/* Also used by "snapshot -l" (cmd_snapshot.c). */
void cli_print_snapshot_table(FILE *out, const img_snapshot_info *list,
                              size_t n)
{
    fprintf(out, "Snapshot list:\n");
    fprintf(out, "%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE",
            "DATE", "VM CLOCK", "ICOUNT");
    for (size_t i = 0; i < n; i++) {
        print_row(out, &list[i]);
    }
}

/* The "Snapshot list:" table from the "snapshots" member. */
static void print_human_snapshots(FILE *out, const img_val *d)
{
    const img_val *l = img_val_dict_get(d, "snapshots");
    size_t n = l ? img_val_count(l) : 0;
    img_snapshot_info *sns = n ? calloc(n, sizeof(*sns)) : NULL;
    if (!sns) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const img_val *v = img_val_at(l, i), *ic;
        sns[i].id = (char *)img_val_str(img_val_dict_get(v, "id"));
        sns[i].name = (char *)img_val_str(img_val_dict_get(v, "name"));
        sns[i].vm_state_size =
            img_val_uint(img_val_dict_get(v, "vm-state-size"));
        sns[i].date_sec =
            (uint32_t)img_val_int(img_val_dict_get(v, "date-sec"));
        sns[i].vm_clock_nsec =
            img_val_uint(img_val_dict_get(v, "vm-clock-sec")) * 1000000000u +
            img_val_uint(img_val_dict_get(v, "vm-clock-nsec"));
        ic = img_val_dict_get(v, "icount");
        sns[i].icount = ic ? img_val_int(ic) : -1;
    }
    cli_print_snapshot_table(out, sns, n);
    free(sns); /* the strings belong to d */
}

/* bdrv_image_info_dump() for one image. */
static void print_human(FILE *out, const img_val *d)
{
    print_human_one(out, d);
    print_human_backing(out, d);
    print_human_snapshots(out, d);
    const img_val *spec = img_val_dict_get(d, "format-specific");
    if (spec) {
        fprintf(out, "Format specific information:\n");
        const img_val *data = img_val_dict_get(spec, "data");
        if (data) {
            dump_value(out, data, 1);
        }
    }
}

static void print_info_list(const img_val *list, const info_args *a)
{
    if (a->output == CLI_OUTPUT_JSON) {
        /* a single image is printed as a dict, a chain as a list */
        cli_json_print(stdout, a->chain ? list : img_val_at(list, 0));
        return;
    }
    for (size_t i = 0; i < img_val_count(list); i++) {
        if (i > 0) {
            printf("\n");
        }
        print_human(stdout, img_val_at(list, i));
    }
}

/* ---- command line ---- */

enum { OPT_OUTPUT = CLI_OPT_LOCAL, OPT_BACKING_CHAIN };

/* One of info's own options (cli_opt_fn); -1 to go on. */
static int info_option(const cli_env *env, int c, void *args)
{
    info_args *a = args;
    (void)env;
    switch (c) {
    case 'f':
        a->fmt = optarg;
        break;
    case 'U':
        a->flags |= IMG_OPEN_FORCE_SHARE;
        break;
    case OPT_OUTPUT:
        a->output_arg = optarg;
        break;
    case OPT_BACKING_CHAIN:
        a->chain = 1;
        break;
    }
    return -1;
}

/* Returns -1 when the arguments are fine, else the exit status. */
static int info_parse(const cli_env *env, int argc, char **argv, info_args *a)
{
    static const struct option extra[] = {
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "backing-chain", no_argument, NULL, OPT_BACKING_CHAIN },
        { NULL, 0, NULL, 0 },
    };
    const cli_opt_spec spec = {
        .cmd = "info",
        .shortopts = ":f:hU",
        .extra = extra,
        .image_opts = &a->image_opts,
        .fn = info_option,
    };
    int r = cli_parse_opts_file(env, argc, argv, &spec, a, &a->filename);
    if (r >= 0) {
        return r;
    }
    return cli_output_option(env, a->output_arg, &a->output) ? 1 : -1;
}

int cmd_info(const cli_env *env, int argc, char **argv)
{
    info_args a = { .output = CLI_OUTPUT_HUMAN };
    int r = info_parse(env, argc, argv, &a);
    if (r >= 0) {
        return r;
    }
    img_val *list = collect_info_list(env, &a);
    if (!list) {
        return 1;
    }
    print_info_list(list, &a);
    img_val_free(list);
    return 0;
}
