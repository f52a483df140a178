/* cli/cmd_convert.c -- "convert", qemu-img 7.2 compatible.
 *
 *   convert [-U] [-C] [-c] [-p] [-q] [-n] [-W] [-f FMT] [-t CACHE]
 *           [-T SRC_CACHE] [-O OUT_FMT] [-B BACKING [-F BACKING_FMT]]
 *           [-o OPTIONS] [-l SNAPSHOT] [-S SPARSE_SIZE] [-r RATE]
 *           [-m NUM] [--target-is-zero] [--salvage] FILE... OUTPUT
 *
 * Follows qemu-img's img_convert(): the same option checks in the same
 * order with the same messages, then opens the sources, creates the target
 * (size = the sources' total) unless -n, opens it and hands the copy to
 * the engine (convert/engine.h).  Differences: a failed conversion removes
 * the output file when this run created it, and an output that is one of
 * the inputs (or their backing files) is refused before anything is
 * truncated.  Cache modes are validated; the only one with an effect is
 * the default "unsafe" (QEMU's BDRV_O_NO_FLUSH, what qemu-img convert
 * uses for its target): the target opens with IMG_OPEN_NO_FLUSH, so its
 * driver writes its metadata back at the end but never syncs the file;
 * a raw target is not flushed at all.  vdisk's own --verify[=boot]
 * runs "vdisk verify" (cmd_verify.c) on the closed output afterwards; a
 * failed verification exits 1 and keeps the output.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache_mode.h"
#include "cli.h"
#include "snapshot_arg.h"
#include "convert/engine.h"

enum {
    OPT_OBJECT = 256,
    OPT_IMAGE_OPTS,
    OPT_TARGET_IMAGE_OPTS,
    OPT_SALVAGE,
    OPT_TARGET_IS_ZERO,
    OPT_BITMAPS,
    OPT_SKIP_BROKEN,
    OPT_VERIFY,
};

/* QEMU's internal_snapshot_opts prefix for -l. */
#define SNAPSHOT_PREFIX "snapshot."

typedef struct convert_args {
    const char *fmt;       /* -f: source format, NULL probes */
    const char *out_fmt;   /* -O, "raw" by default */
    const char *base;      /* -B */
    const char *base_fmt;  /* -F */
    char *options;         /* every -o joined with ','; owned */
    const char *snapshot;  /* -l SNAPSHOT_NAME */
    int snapshot_opts;     /* -l snapshot.id=...,snapshot.name=... */
    const char *snapshot_param; /* that -l argument */
    const char *cache;     /* -t, "unsafe" by default */
    const char *src_cache; /* -T, checked and ignored */
    int64_t min_sparse;    /* -S in bytes */
    int explicit_sparse;   /* -S was given */
    int workers;           /* -m, 0: engine default */
    int64_t rate;          /* -r in bytes per second, 0: unlimited */
    int progress, quiet, skip_create, out_of_order, force_share;
    int compress, copy_offload, salvage, target_is_zero;
    int image_opts, tgt_image_opts, bitmaps, skip_broken;
    char **srcs; /* source file names (into argv) */
    int nsrc;
    const char *out; /* output file name, NULL without operands */
    int verify;      /* --verify: 1, --verify=boot: 2 (vdisk only) */
} convert_args;

/* What the run has opened and created, released by convert_cleanup. */
typedef struct convert_state {
    img **src; /* nsrc slots, NULL until opened */
    img *dst;
    img_opts *create_opts; /* target creation options, NULL with -n */
    const img_driver *drv; /* target driver, NULL with -n */
    const char *backing;   /* target backing file name, or NULL */
    int created;           /* this run created the output file */
    int removable;         /* it was a regular file or did not exist */
    cli_progress progress;
} convert_state;

/* ---- command line ---- */

/* -m: qemu_strtol(base 0) of the whole argument, 1..CVT_MAX_WORKERS. */
static int parse_workers(const cli_env *env, const char *s, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 0);
    if (errno || end == s || *end || n < 1 || n > CVT_MAX_WORKERS) {
        cli_error(env,
                  "Invalid number of coroutines. Allowed number of "
                  "coroutines is between 1 and %d",
                  CVT_MAX_WORKERS);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* -S: a size that is a multiple of 512 up to CVT_MAX_CHUNK. */
static int parse_sparse(const cli_env *env, const char *s, int64_t *out)
{
    if (cli_cvtnum(env, "buffer size for sparse output", s, 0, INT64_MAX, out) <
        0) {
        return -1;
    }
    if (*out % 512 != 0 || (uint64_t)*out > CVT_MAX_CHUNK) {
        cli_error(env,
                  "Invalid buffer size for sparse output specified. "
                  "Valid sizes are multiples of 512 up to %llu. Select 0 "
                  "to disable sparse detection (fully allocates output).",
                  (unsigned long long)CVT_MAX_CHUNK);
        return -1;
    }
    return 0;
}

/* -l snapshot.id=X,snapshot.name=Y: only those two keys exist. */
static int parse_snapshot_opts(const cli_env *env, const char *s)
{
    char *copy = strdup(s);
    int r = copy ? 0 : -1;
    for (char *save = NULL, *kv = copy ? strtok_r(copy, ",", &save) : NULL;
         kv && r == 0; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq) {
            *eq = '\0';
        }
        if (strcmp(kv, "snapshot.id") && strcmp(kv, "snapshot.name")) {
            cli_error(env, "Invalid parameter '%s'", kv);
            r = -1;
        } else if (!eq) {
            cli_warn(env, "short-form boolean option '%s' deprecated\n"
                     "Please use %s=on instead", kv, kv);
        }
    }
    free(copy);
    if (r < 0) {
        cli_error(env, "Failed in parsing snapshot param '%s'", s);
    }
    return r;
}

/* Options that take no argument; returns 0 if c was one of them. */
static int parse_flag(int c, convert_args *a)
{
    switch (c) {
    case 'C':
        a->copy_offload = 1;
        break;
    case 'c':
        a->compress = 1;
        break;
    case 'p':
        a->progress = 1;
        break;
    case 'q':
        a->quiet = 1;
        break;
    case 'n':
        a->skip_create = 1;
        break;
    case 'W':
        a->out_of_order = 1;
        break;
    case 'U':
        a->force_share = 1;
        break;
    case OPT_IMAGE_OPTS:
        a->image_opts = 1;
        break;
    case OPT_TARGET_IMAGE_OPTS:
        a->tgt_image_opts = 1;
        break;
    case OPT_SALVAGE:
        a->salvage = 1;
        break;
    case OPT_TARGET_IS_ZERO:
        a->target_is_zero = 1;
        break;
    case OPT_BITMAPS:
        a->bitmaps = 1;
        break;
    case OPT_SKIP_BROKEN:
        a->skip_broken = 1;
        break;
    default:
        return -1;
    }
    return 0;
}

/* Options with a value; returns -1 to go on, else the exit status. */
static int parse_value(const cli_env *env, int c, const char *v,
                       convert_args *a)
{
    switch (c) {
    case 'f':
        a->fmt = v;
        break;
    case 'O':
        a->out_fmt = v;
        break;
    case 'B':
        a->base = v;
        break;
    case 'F':
        a->base_fmt = v;
        break;
    case 't':
        a->cache = v;
        break;
    case 'T':
        a->src_cache = v;
        break;
    case 'o':
        return cli_opts_accumulate(env, &a->options, v) < 0 ? 1 : -1;
    case 'l':
        if (strncmp(v, SNAPSHOT_PREFIX, strlen(SNAPSHOT_PREFIX)) != 0) {
            a->snapshot = v;
            return -1;
        }
        a->snapshot_opts = 1;
        a->snapshot_param = v;
        return parse_snapshot_opts(env, v) < 0 ? 1 : -1;
    case 'S':
        a->explicit_sparse = 1;
        return parse_sparse(env, v, &a->min_sparse) < 0 ? 1 : -1;
    case 'm':
        return parse_workers(env, v, &a->workers) < 0 ? 1 : -1;
    case 'r':
        return cli_cvtnum(env, "rate limit", v, 0, INT64_MAX, &a->rate) < 0
                   ? 1
                   : -1;
    case OPT_OBJECT: /* accepted and ignored, as by the other commands */
        break;
    case OPT_VERIFY:
        if (v != NULL && strcmp(v, "boot") != 0) {
            return cli_usage_error(env, "--verify takes no value or 'boot'");
        }
        a->verify = v != NULL ? 2 : 1;
        break;
    }
    return -1;
}

/* getopt_long; returns -1 to go on, else the exit status. */
static int parse_options(const cli_env *env, int argc, char **argv,
                         convert_args *a)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPT_OBJECT },
        { "image-opts", no_argument, NULL, OPT_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { "target-image-opts", no_argument, NULL, OPT_TARGET_IMAGE_OPTS },
        { "salvage", no_argument, NULL, OPT_SALVAGE },
        { "target-is-zero", no_argument, NULL, OPT_TARGET_IS_ZERO },
        { "bitmaps", no_argument, NULL, OPT_BITMAPS },
        { "skip-broken-bitmaps", no_argument, NULL, OPT_SKIP_BROKEN },
        { "verify", optional_argument, NULL, OPT_VERIFY },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:",
                            longopts, NULL)) != -1) {
        if (c == ':') {
            return cli_bad_option(env, "missing argument for", argv[optind - 1]);
        }
        if (c == '?') {
            return cli_bad_option(env, "unrecognized", argv[optind - 1]);
        }
        if (c == 'h') {
            printf("usage: %s convert %s\n", env->prog,
                   cli_find_command("convert")->usage);
            return 0;
        }
        int r = parse_flag(c, a) == 0 ? -1 : parse_value(env, c, optarg, a);
        if (r >= 0) {
            return r;
        }
    }
    a->nsrc = argc - optind - 1;
    a->srcs = argv + optind;
    a->out = a->nsrc >= 1 ? argv[argc - 1] : NULL;
    if (!a->out_fmt && !a->tgt_image_opts) {
        a->out_fmt = "raw";
    }
    return -1;
}

/* The option combinations qemu-img refuses, in its order; returns -1 to
 * go on, else the exit status. */
static int check_combinations(const cli_env *env, const convert_args *a)
{
    const char *msg = NULL;
    if (a->skip_broken && !a->bitmaps) {
        msg = "Use of --skip-broken-bitmaps requires --bitmaps";
    } else if (a->compress && a->copy_offload) {
        msg = "Cannot enable copy offloading when -c is used";
    } else if (a->explicit_sparse && a->copy_offload) {
        msg = "Cannot enable copy offloading when -S is used";
    } else if (a->copy_offload && a->salvage) {
        msg = "Cannot use copy offloading in salvaging mode";
    } else if (a->tgt_image_opts && !a->skip_create) {
        msg = "--target-image-opts requires use of -n flag";
    } else if (a->skip_create && a->options) {
        msg = "-o has no effect when skipping image creation";
    } else if (a->target_is_zero && !a->skip_create) {
        msg = "--target-is-zero requires use of -n flag";
    }
    if (msg) {
        cli_error(env, "%s", msg);
        return 1;
    }
    return -1;
}

/* Everything decided before any image is opened: help, operands, source
 * cache.  Returns -1 to go on, else the exit status. */
static int check_early(const cli_env *env, const convert_args *a)
{
    int r = check_combinations(env, a);
    if (r >= 0) {
        return r;
    }
    if (cli_opts_has_help(a->options)) {
        if (!a->out_fmt) {
            cli_error(env, "Option help requires a format be specified");
            return 1;
        }
        return cli_opts_print_help(env, a->out_fmt, a->out);
    }
    if (a->nsrc < 1) {
        cli_error(env, "Must specify image file name");
        return 1;
    }
    if (a->src_cache && !cli_cache_mode_valid(a->src_cache)) {
        cli_error(env, "Invalid source cache option: %s", a->src_cache);
        return 1;
    }
    if (a->tgt_image_opts) {
        cli_error(env, "--target-image-opts is not supported");
        return 1;
    }
    return -1;
}

/* ---- sources ---- */

/* Sources are read once (IMG_OPEN_READ_ONCE): the pages of a source that
 * was not in the page cache leave it once copied, so converting a big
 * image does not push the machine's cache out, and the pages freed are
 * reused for the next reads and writes (touching fresh memory costs much
 * on virtual machines: full 2 GiB conversions ran 1.6-2.2x as fast). */
static int open_sources(const cli_env *env, const convert_args *a,
                        convert_state *s)
{
    unsigned flags = IMG_OPEN_READ_ONCE;
    flags |= a->force_share ? IMG_OPEN_FORCE_SHARE : 0;
    flags |= a->image_opts ? CLI_OPEN_IMAGE_OPTS : 0;
    s->src = calloc((size_t)a->nsrc, sizeof(*s->src));
    if (!s->src) {
        cli_error(env, "Out of memory");
        return -1;
    }
    for (int i = 0; i < a->nsrc; i++) {
        s->src[i] = cli_open(env, a->srcs[i], a->fmt, flags);
        if (!s->src[i]) {
            return -1;
        }
    }
    return 0;
}

/* -l: the first source shows the snapshot (QEMU's
 * bdrv_snapshot_load_tmp; a bare name is tried as an id, then as a
 * name). */
static int check_snapshot(const cli_env *env, const convert_args *a,
                          const convert_state *s)
{
    if (!a->snapshot && !a->snapshot_opts) {
        return 0;
    }
    if (a->snapshot && a->nsrc > 1) {
        cli_error(env, "No support for concatenating multiple snapshot");
        return -1;
    }
    return cli_load_snapshot(env, s->src[0], a->snapshot_opts
                                                ? a->snapshot_param
                                                : a->snapshot);
}

/* ---- the target's creation options ---- */

/* -B and -F as backing_file/backing_fmt (add_old_style_options). */
static int add_backing_opts(const cli_env *env, const convert_args *a,
                            img_opts *o)
{
    if (a->base && (!cli_opts_has(o, "backing_file") ||
                    img_opts_set(o, "backing_file", a->base, NULL) < 0)) {
        cli_error(env, "Backing file not supported for file format '%s'",
                  a->out_fmt);
        return -1;
    }
    if (a->base_fmt &&
        (!cli_opts_has(o, "backing_fmt") ||
         img_opts_set(o, "backing_fmt", a->base_fmt, NULL) < 0)) {
        cli_error(env,
                  "Backing file format not supported for file format "
                  "'%s'",
                  a->out_fmt);
        return -1;
    }
    return 0;
}

/* Finds the target driver and parses -o, -B and -F against it. */
static int prepare_create(const cli_env *env, const convert_args *a,
                          convert_state *s)
{
    img_err err = { 0 };
    s->drv = img_driver_find(a->out_fmt);
    if (!s->drv) {
        cli_error(env, "Unknown file format '%s'", a->out_fmt);
        return -1;
    }
    if (!img_driver_create_opts(s->drv)) {
        cli_error(env, "Format driver '%s' does not support image creation",
                  a->out_fmt);
        return -1;
    }
    s->create_opts = cli_create_opts_new(s->drv, a->options, &err);
    if (!s->create_opts) {
        cli_error_img(env, NULL, &err);
        return -1;
    }
    if (add_backing_opts(env, a, s->create_opts) < 0) {
        return -1;
    }
    s->backing = img_opts_value(s->create_opts, "backing_file");
    return 0;
}

/* Checks on the target's backing file (after -o is known). */
static int check_backing(const cli_env *env, const convert_args *a,
                         const convert_state *s)
{
    if (a->target_is_zero && s->backing) {
        cli_error(env, "Cannot use --target-is-zero when the destination "
                       "image has a backing file");
        return -1;
    }
    if (a->nsrc > 1 && s->backing) {
        cli_error(env, "Having a backing file for the target makes no sense "
                       "when concatenating multiple input images");
        return -1;
    }
    if (s->create_opts && s->backing &&
        !img_opts_value(s->create_opts, "backing_fmt")) {
        cli_error(env, "Use of backing file requires explicit backing "
                       "format");
        return -1;
    }
    return 0;
}

/* -c needs a format that compresses, no encryption, no preallocation. */
static int check_compress(const cli_env *env, const convert_args *a,
                          const convert_state *s)
{
    if (!a->compress) {
        return 0;
    }
    const img_opts *o = s->create_opts;
    const char *prealloc = o ? img_opts_value(o, "preallocation") : NULL;
    if (s->drv && !img_driver_supports_compression(s->drv)) {
        cli_error(env, "Compression not supported for this file format");
        return -1;
    }
    if (o && (img_opts_get_bool(o, "encryption", 0) ||
              img_opts_value(o, "encrypt.format"))) {
        cli_error(env, "Compression and encryption not supported at the "
                       "same time");
        return -1;
    }
    if (prealloc && strcmp(prealloc, "off") != 0) {
        cli_error(env, "Compression and preallocation not supported at the "
                       "same time");
        return -1;
    }
    return 0;
}

/* --bitmaps, before anything is created: one source, which can hold
 * persistent bitmaps, none of them inconsistent unless they are to be
 * skipped (qemu-img's convert_check_bitmaps). */
static int check_bitmaps(const cli_env *env, const convert_args *a,
                         const convert_state *s)
{
    if (!a->bitmaps) {
        return 0;
    }
    if (a->nsrc > 1) {
        cli_error(env, "Copying bitmaps only possible with single source");
        return -1;
    }
    img_bitmap_info *l;
    size_t n;
    img_err err = { 0 };
    if (img_bitmap_list(s->src[0], &l, &n, &err) < 0) {
        if (err.code == ENOTSUP) {
            cli_error(env, "Source lacks bitmap support");
        } else {
            cli_error_img(env, a->srcs[0], &err);
        }
        return -1;
    }
    /* qemu-img names them last to first */
    int r = 0;
    for (size_t i = n; r == 0 && i-- > 0;) {
        if (l[i].inconsistent && !a->skip_broken) {
            cli_error(env, "Cannot copy inconsistent bitmap '%s'\nTry "
                      "--skip-broken-bitmaps, or use 'vdisk bitmap "
                      "--remove' to delete it", l[i].name);
            r = -1;
        }
    }
    img_bitmap_list_free(l, n);
    return r;
}

/* --bitmaps, after the copy: each persistent bitmap of the source is
 * added to the target (same name, granularity and enabled state) and
 * filled from the source's (qemu-img's convert_copy_bitmaps). */
static int copy_bitmaps(const cli_env *env, const convert_args *a,
                        convert_state *s)
{
    img_bitmap_info *l;
    size_t n;
    img_err err = { 0 };
    if (img_bitmap_list(s->src[0], &l, &n, &err) < 0) {
        cli_error_img(env, a->srcs[0], &err);
        return -1;
    }
    for (size_t i = n; i-- > 0;) {
        if (l[i].inconsistent) {
            cli_warn(env, "Skipping inconsistent bitmap '%s'", l[i].name);
        }
    }
    /* added first to last: the target lists them as the source does */
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (l[i].inconsistent) {
            continue;
        }
        img_bitmap_change add = { .op = IMG_BITMAP_ADD, .name = l[i].name,
                                  .granularity = l[i].granularity,
                                  .disabled = !l[i].enabled };
        img_bitmap_change merge = { .op = IMG_BITMAP_MERGE,
                                    .name = l[i].name, .src = s->src[0],
                                    .src_name = l[i].name };
        img_bitmap_change remove = { .op = IMG_BITMAP_REMOVE,
                                     .name = l[i].name };
        if (img_bitmap_change_apply(s->dst, &add, &err) < 0) {
            cli_error(env, "Failed to create bitmap %s: %s", l[i].name,
                      err.msg);
            r = -1;
        } else if (img_bitmap_change_apply(s->dst, &merge, &err) < 0) {
            cli_error(env, "Failed to populate bitmap %s: %s", l[i].name,
                      err.msg);
            (void)img_bitmap_change_apply(s->dst, &remove, NULL);
            r = -1;
        }
    }
    img_bitmap_list_free(l, n);
    return r;
}

/* ---- the target ---- */

/* True when path names the file of im or of an image in its chain. */
static int chain_uses(img *im, const struct stat *st)
{
    for (; im; im = img_backing(im)) {
        uint64_t dev, ino;
        if (img_file_identity(img_get_file(im), &dev, &ino) == 0 &&
            dev == (uint64_t)st->st_dev && ino == (uint64_t)st->st_ino) {
            return 1;
        }
    }
    return 0;
}

/* Creating the output truncates it: refuse when it is an input.  The
 * message is the lock failure qemu-img reports in this case.  Also notes
 * whether a failed run may remove the output: only a regular file (or
 * none) is, never a device node. */
static int check_not_input(const cli_env *env, const convert_args *a,
                           convert_state *s)
{
    struct stat st;
    if (stat(a->out, &st) != 0) {
        s->removable = 1;
        return 0;
    }
    s->removable = S_ISREG(st.st_mode);
    for (int i = 0; i < a->nsrc; i++) {
        if (chain_uses(s->src[i], &st)) {
            cli_error(env,
                      "%s: error while converting %s: Failed to get "
                      "\"write\" lock\nIs another process using the image "
                      "[%s]?",
                      a->out, a->out_fmt, a->out);
            return -1;
        }
    }
    return 0;
}

/* img_create() with the sources' total size and the parsed options; the
 * error is qemu-img's "OUT: error while converting FMT: ..." */
static int create_target(const cli_env *env, const convert_args *a,
                         convert_state *s, uint64_t total)
{
    img_create_opts co = {
        .size = total,
        .backing_file = s->backing,
        .backing_fmt = img_opts_value(s->create_opts, "backing_fmt"),
        .opts = s->create_opts,
    };
    img_err err = { 0 };
    if (check_not_input(env, a, s) < 0) {
        return -1;
    }
    if (img_create(a->out, a->out_fmt, &co, &err) < 0) {
        cli_error(env, "%s: error while converting %s: %s", a->out, a->out_fmt,
                  err.msg);
        return -1;
    }
    s->created = 1;
    return 0;
}

/* Opens the target with its format given, and checks it can take the
 * copy. */
static int open_target(const cli_env *env, const convert_args *a,
                       convert_state *s, uint64_t total)
{
    unsigned flags = IMG_OPEN_RDWR | (a->quiet ? IMG_OPEN_QUIET : 0);
    if (cli_cache_flags(a->cache, &flags) < 0) {
        cli_error(env, "Invalid cache option: %s", a->cache);
        return -1;
    }
    s->dst = cli_open(env, a->out, a->out_fmt, flags);
    if (!s->dst) {
        return -1;
    }
    if (a->compress &&
        !img_driver_supports_compression(img_get_driver(s->dst))) {
        cli_error(env, "Compression not supported for this file format");
        return -1;
    }
    img_bitmap_info *l;
    size_t n;
    if (a->bitmaps && img_bitmap_list(s->dst, &l, &n, NULL) < 0) {
        cli_error(env, "Format driver '%s' does not support bitmaps",
                  img_format(s->dst));
        return -1;
    }
    if (a->bitmaps) {
        img_bitmap_list_free(l, n);
    }
    if (a->skip_create && img_size(s->dst) < total) {
        cli_error(env, "output file is smaller than input file");
        return -1;
    }
    return 0;
}

/* ---- the copy ---- */

static void on_progress(void *opaque, float percent)
{
    cli_progress_set(opaque, percent);
}

/* --salvage warnings (not with -q, as in qemu-img). */
static void on_warn(void *opaque, const char *msg)
{
    cli_warn(opaque, "%s", msg);
}

/* Target cluster size, which compressed writes need. */
static int target_cluster(const cli_env *env, const convert_args *a, img *dst,
                          uint64_t *cluster)
{
    img_info info;
    *cluster = 0;
    if (img_get_info(dst, &info, NULL) < 0) {
        if (a->compress) {
            cli_error(env, "could not get block driver info");
            return -1;
        }
        return 0;
    }
    *cluster = info.cluster_size;
    img_info_clear(&info);
    return 0;
}

/* Maps the options onto the engine (convert/engine.h) and runs it.  The
 * target reads as zeros when the user says so (--target-is-zero) or when
 * this run created it with a zero-initialising driver, without a backing
 * file and with sparse detection on (QEMU's has_zero_init rule). */
static int run_copy(const cli_env *env, const convert_args *a, convert_state *s)
{
    cvt_params p;
    cvt_params_init(&p);
    p.src = s->src;
    p.nsrc = a->nsrc;
    p.dst = s->dst;
    p.workers = a->workers;
    p.out_of_order = a->out_of_order;
    p.min_sparse = (uint64_t)a->min_sparse;
    p.compress = a->compress;
    p.copy_offload = a->copy_offload;
    p.rate_limit = (uint64_t)a->rate;
    cli_cache_mode cache;
    p.no_flush = cli_cache_mode_parse(a->cache, &cache) == 0 &&
                 cache.no_flush && !strcmp(img_format(s->dst), "raw");
    p.target_has_backing = s->backing != NULL || a->base != NULL;
    p.target_is_zero = a->target_is_zero ||
                       (s->created && p.min_sparse && !p.target_has_backing &&
                        img_has_zero_init(s->dst));
    if (s->created && p.target_has_backing && img_backing(s->dst)) {
        p.target_backing_size = img_size(img_backing(s->dst));
    }
    /* qemu-img walks the sources' block status before copying, for its
     * progress count.  vdisk does that only for a progress bar, or when
     * the target existed (-n): a corrupt source map then fails before
     * the target changes.  A target made here is removed on failure. */
    p.progress = s->progress.enabled ? on_progress : NULL;
    p.progress_opaque = &s->progress;
    p.prescan = !s->created;
    p.salvage = a->salvage;
    p.warn = a->quiet ? NULL : on_warn;
    p.warn_opaque = (void *)env;
    if (target_cluster(env, a, s->dst, &p.cluster_size) < 0) {
        return -1;
    }
    img_err err = { 0 };
    if (cvt_run(&p, NULL, &err) < 0) {
        cli_error_img(env, NULL, &err);
        return -1;
    }
    return 0;
}

/* Opens, creates and copies; returns 0 or -1 (error printed). */
static int convert(const cli_env *env, const convert_args *a, convert_state *s)
{
    if (open_sources(env, a, s) < 0 || check_snapshot(env, a, s) < 0) {
        return -1;
    }
    uint64_t total = cvt_total_size(s->src, a->nsrc);
    if (!a->skip_create && prepare_create(env, a, s) < 0) {
        return -1;
    }
    if (a->skip_create) {
        s->backing = a->base;
    }
    if (check_backing(env, a, s) < 0 || check_compress(env, a, s) < 0 ||
        check_bitmaps(env, a, s) < 0) {
        return -1;
    }
    if (!a->skip_create && create_target(env, a, s, total) < 0) {
        return -1;
    }
    if (open_target(env, a, s, total) < 0) {
        return -1;
    }
    if (run_copy(env, a, s) < 0) {
        return -1;
    }
    return a->bitmaps ? copy_bitmaps(env, a, s) : 0;
}

/* Closes everything; removes the output of a failed run that created
 * it (unless it is not a regular file). */
static void convert_cleanup(const convert_args *a, convert_state *s, int ok)
{
    img_close(s->dst);
    if (!ok && s->created && s->removable) {
        unlink(a->out);
    }
    for (int i = 0; s->src && i < a->nsrc; i++) {
        img_close(s->src[i]);
    }
    free(s->src);
    img_opts_free(s->create_opts);
}

/* --verify[=boot]: "vdisk verify" of the closed output against its
 * source.  A failed verification exits 1 but keeps the output, so that
 * it can be inspected. */
static int convert_verify(const cli_env *env, const convert_args *a)
{
    cli_verify_opts o = { .boot = a->verify == 2, .quiet = a->quiet };
    int st = cli_verify_files(env, a->srcs[0], a->fmt, a->out, a->out_fmt,
                              a->force_share ? IMG_OPEN_FORCE_SHARE : 0,
                              &o);

    if (st != 0) {
        cli_error(env, "%s: verification failed; the output is kept",
                  a->out);
    }
    return st == 0 ? 0 : 1;
}

/* Options, early checks, then progress around the conversion; exit
 * status 0 or 1. */
int cmd_convert(const cli_env *env, int argc, char **argv)
{
    convert_args a = { .min_sparse = CVT_DEFAULT_MIN_SPARSE,
                       .cache = "unsafe" };
    convert_state s = { 0 };
    int ret = parse_options(env, argc, argv, &a);
    if (ret < 0) {
        ret = check_early(env, &a);
    }
    if (ret < 0 && a.verify && (a.nsrc != 1 || a.snapshot ||
                                a.snapshot_opts)) {
        ret = cli_usage_error(env, "--verify needs one source and no -l");
    }
    if (ret >= 0) {
        free(a.options);
        return ret;
    }
    cli_progress_init(&s.progress, a.progress && !a.quiet, 1.0f);
    cli_progress_set(&s.progress, 0);
    int ok = convert(env, &a, &s) == 0;
    if (ok) {
        cli_progress_finish(&s.progress);
    } else {
        cli_progress_end(&s.progress);
    }
    convert_cleanup(&a, &s, ok);
    free(a.options);
    return ok && a.verify ? convert_verify(env, &a) : ok ? 0 : 1;
}
