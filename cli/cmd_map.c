/* cli/cmd_map.c -- "map", qemu-img 7.2 compatible.
 *
 *   map [-f FMT] [--start-offset=OFF] [--max-length=LEN]
 *       [--output=human|json] [-U] FILENAME
 *
 * Walks the block status of the whole backing chain (img_block_status_above
 * down to the bottom) and merges neighbouring runs that look the same, as
 * qemu-img's img_map()/entry_mergeable()/dump_map_entry() do: same depth,
 * present, zero and data flags, same file, and host offsets that continue
 * each other.  JSON prints every run; human prints only the runs that hold
 * data at a known host offset.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"
#include "opt_common.h"

/* Status is asked for at most this much at a time (qemu-img: 1 GiB). */
#define MAP_CHUNK (1ull << 30)

/* One run of the map (QAPI MapEntry). */
typedef struct map_entry {
    int64_t start;
    int64_t length;
    int64_t offset; /* host offset, when has_offset */
    int depth;      /* chain layer that decided (0 = top) */
    int data, zero, present;
    int has_offset;
    const char *filename; /* file that offset refers to, or NULL */
} map_entry;

typedef struct map_args {
    const char *filename;
    const char *fmt;
    cli_output output;
    unsigned flags;     /* IMG_OPEN_* */
    int64_t start;      /* --start-offset */
    int64_t max_length; /* --max-length, -1 when not given */
    const char *output_arg; /* --output's value, checked after the options */
    int image_opts; /* --image-opts */
} map_args;

/* Status of [off, off+len) through the chain, as one entry. */
static int map_get_status(img *top, int64_t off, int64_t len, map_entry *e,
                          img_err *err)
{
    uint64_t pnum = 0, host = 0;
    int depth = 0;
    img *file = NULL;
    int r = img_block_status_above(top, NULL, (uint64_t)off, (uint64_t)len,
                                   &pnum, &host, &depth, &file, err);
    if (r < 0) {
        return r;
    }
    int has_offset = (r & IMG_BS_OFFSET_VALID) != 0;
    *e = (map_entry){
        .start = off,
        .length = (int64_t)pnum,
        .offset = has_offset ? (int64_t)host : 0,
        .depth = depth,
        .data = (r & IMG_BS_DATA) != 0,
        .zero = (r & IMG_BS_ZERO) != 0,
        .present = (r & IMG_BS_ALLOCATED) != 0,
        .has_offset = has_offset,
        .filename = has_offset && file ? img_host_file_name(file, off) : NULL,
    };
    return 0;
}

/* qemu-img's entry_mergeable(): next continues cur exactly. */
static int map_mergeable(const map_entry *cur, const map_entry *next)
{
    if (cur->length == 0 || cur->zero != next->zero ||
        cur->data != next->data || cur->depth != next->depth ||
        cur->present != next->present || !cur->filename != !next->filename ||
        cur->has_offset != next->has_offset) {
        return 0;
    }
    if (cur->filename && strcmp(cur->filename, next->filename) != 0) {
        return 0;
    }
    return !cur->has_offset || cur->offset + cur->length == next->offset;
}

/* Prints e (next: the entry that follows, NULL for the last one).  Human
 * output ignores the difference between holes and zeroed data, so next is
 * normalised to allow more merging, as qemu-img does.  Returns -1 on an
 * entry human output cannot show. */
static int map_dump(const cli_env *env, cli_output output, const map_entry *e,
                    map_entry *next)
{
    if (output == CLI_OUTPUT_JSON) {
        printf("{ \"start\": %" PRId64 ", \"length\": %" PRId64 ", "
               "\"depth\": %d, \"present\": %s, \"zero\": %s, "
               "\"data\": %s",
               e->start, e->length, e->depth, e->present ? "true" : "false",
               e->zero ? "true" : "false", e->data ? "true" : "false");
        if (e->has_offset) {
            printf(", \"offset\": %" PRId64, e->offset);
        }
        printf(next ? "},\n" : "}");
        return 0;
    }
    if (e->data && !e->has_offset) {
        cli_error(env, "File contains external, encrypted or compressed "
                       "clusters.");
        return -1;
    }
    if (e->data && !e->zero) {
        printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n",
               (uint64_t)e->start, (uint64_t)e->length, (uint64_t)e->offset,
               e->filename ? e->filename : "");
    }
    if (next && (!next->data || next->zero)) {
        next->data = 0;
        next->zero = 1;
    }
    return 0;
}

/* End of the walk: the image size, cut at start + max_length.  The sum is
 * computed like qemu-img's signed 64-bit one: when it wraps negative the
 * walk is empty. */
static int64_t map_end(const map_args *a, uint64_t size)
{
    int64_t end = (int64_t)size;
    if (a->max_length >= 0) {
        uint64_t lim = (uint64_t)a->start + (uint64_t)a->max_length;
        if (lim > INT64_MAX) {
            return -1;
        }
        end = (int64_t)lim < end ? (int64_t)lim : end;
    }
    return end;
}

/* The walk itself; returns the exit status. */
static int map_walk(const cli_env *env, img *top, const map_args *a)
{
    /* cur is the run being grown; it starts empty at --start-offset, and
     * a start at or past the end prints that single empty run */
    map_entry cur = { .start = a->start }, next;
    int64_t end = map_end(a, img_size(top));
    img_err err = { 0 };
    while (cur.start + cur.length < end) {
        int64_t off = cur.start + cur.length;
        int64_t n = end - off;
        n = (uint64_t)n > MAP_CHUNK ? (int64_t)MAP_CHUNK : n;
        if (map_get_status(top, off, n, &next, &err) < 0) {
            cli_error(env, "Could not read file metadata: %s", err.msg);
            return 1;
        }
        if (map_mergeable(&cur, &next)) {
            cur.length += next.length;
            continue;
        }
        /* a new run: print the finished one (which may adjust next) */
        if (cur.length > 0 && map_dump(env, a->output, &cur, &next) < 0) {
            return 1;
        }
        cur = next;
    }
    int r = map_dump(env, a->output, &cur, NULL);
    if (a->output == CLI_OUTPUT_JSON) {
        printf("]\n");
    }
    return r < 0;
}

/* ---- command line ---- */

/* qemu-img's cvtnum(): a size in [0, INT64_MAX] or -1 (error printed). */
static int64_t map_cvtnum(const cli_env *env, const char *name,
                          const char *value)
{
    uint64_t v;
    int r = img_parse_size(value, &v);
    if (r < 0 && r != -ERANGE) {
        cli_error(env,
                  "Invalid %s specified. You may use k, M, G, T, P or E "
                  "suffixes for",
                  name);
        cli_error(env, "kilobytes, megabytes, gigabytes, terabytes, "
                       "petabytes and exabytes.");
        return -1;
    }
    if (r == -ERANGE || v > INT64_MAX) {
        cli_error(env,
                  "Invalid %s specified. Must be between 0 and %" PRId64 ".",
                  name, INT64_MAX);
        return -1;
    }
    return (int64_t)v;
}

enum { OPT_OUTPUT = CLI_OPT_LOCAL };

/* One of map's own options (cli_opt_fn); -1 to go on, else the status. */
static int map_option(const cli_env *env, int c, void *args)
{
    map_args *a = args;
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
    case 's':
        a->start = map_cvtnum(env, "start offset", optarg);
        return a->start < 0 ? 1 : -1;
    case 'l':
        a->max_length = map_cvtnum(env, "max length", optarg);
        return a->max_length < 0 ? 1 : -1;
    }
    return -1;
}

/* Returns -1 when the arguments are fine, else the exit status. */
static int map_parse(const cli_env *env, int argc, char **argv, map_args *a)
{
    static const struct option extra[] = {
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "start-offset", required_argument, NULL, 's' },
        { "max-length", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    const cli_opt_spec spec = {
        .cmd = "map",
        .shortopts = ":f:s:l:hU",
        .extra = extra,
        .image_opts = &a->image_opts,
        .fn = map_option,
    };
    int r = cli_parse_opts_file(env, argc, argv, &spec, a, &a->filename);
    if (r >= 0) {
        return r;
    }
    return cli_output_option(env, a->output_arg, &a->output) ? 1 : -1;
}

int cmd_map(const cli_env *env, int argc, char **argv)
{
    map_args a = { .output = CLI_OUTPUT_HUMAN, .max_length = -1 };
    int r = map_parse(env, argc, argv, &a);
    if (r >= 0) {
        return r;
    }
    img *top = cli_open(env, a.filename, a.fmt,
                        a.flags | (a.image_opts ? CLI_OPEN_IMAGE_OPTS : 0));
    if (!top) {
        return 1;
    }
    /* the heading comes before any error the walk may print */
    if (a.output == CLI_OUTPUT_HUMAN) {
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    } else {
        printf("[");
    }
    r = map_walk(env, top, &a);
    img_close(top);
    return r;
}
