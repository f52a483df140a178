/* cli/cmd_boot.c -- "boot": boot a disk image in the built-in PC emulator.
 *
 *   boot [-f FMT] [-U] IMAGE [--memory SIZE] [--serial FILE|-]
 *        [--timeout SECONDS] [--timeout-wall SECONDS] [--expect TEXT]
 *        [--bios FILE] [--debugcon FILE] [--ns-per-insn N]
 *
 * Opens the image read-only through libimg (any format; --untrusted is
 * honoured), builds the ISA PC of emu/machine/pc.h with it as the IDE
 * master and runs SeaBIOS (or --bios / $VDISK_BIOS).  The serial line is
 * streamed to stdout or FILE, stage reports go to stderr.  --timeout
 * counts virtual seconds (deterministic; default 60 unless only
 * --timeout-wall is given), --timeout-wall host seconds.  Exit status:
 * 0 when TEXT appeared on the serial line (or, without --expect, when the
 * time ran out), 1 when the guest stopped or the time ran out without it,
 * or on errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opt_common.h"
#include "emu/machine/pc.h"

#define BOOT_DEFAULT_TIMEOUT  60.0     /* virtual seconds */
#define BOOT_SLICE_NS         10000000ull   /* 10 ms between wall checks */
#define NS_PER_S              1000000000.0

typedef struct boot_args {
    const char *filename;
    const char *fmt;
    unsigned flags;           /* IMG_OPEN_* */
    const char *serial;       /* NULL or "-": stdout */
    const char *debugcon;     /* NULL: discarded */
    const char *expect;       /* NULL: run until the time is up */
    const char *bios;         /* NULL: $VDISK_BIOS or the default */
    uint64_t memory;          /* bytes */
    uint32_t ns_per_insn;
    double timeout;           /* virtual seconds, < 0: not given */
    double timeout_wall;      /* host seconds, 0 for none */
} boot_args;

/* The state the output callbacks share. */
typedef struct boot_run {
    const cli_env *env;
    emu_pc *pc;
    FILE *serial;             /* where the serial line goes */
    FILE *debugcon;           /* where port 0x402 goes, or NULL */
    const char *expect;
    size_t expect_len;
    char *window;             /* last expect_len serial bytes (ring) */
    size_t filled, pos;       /* bytes in window, next write position */
    bool found;
} boot_run;

static const char usage[] =
    "boot [-f fmt] [-U] filename [--memory size] [--serial file|-] "
    "[--timeout seconds] [--timeout-wall seconds] [--expect text] "
    "[--bios file] [--debugcon file] [--ns-per-insn n]";

static int boot_help(const cli_env *env)
{
    (void)env; /* always "vdisk": boot is not a qemu-img command */
    printf("usage: vdisk %s\n\n"
           "Boots the image in vdisk's PC emulator (ISA PC, SeaBIOS) and "
           "streams its serial\nline.  Exits 0 when TEXT appears, 1 when "
           "the guest stops or the timeout\n(virtual seconds unless "
           "--timeout-wall) passes without it.\n", usage);
    return 0;
}

/* Whether the ring holds exactly the expected text, oldest byte first. */
static bool window_matches(const boot_run *b)
{
    size_t n = b->expect_len;

    for (size_t i = 0; i < n; i++) {
        if (b->window[(b->pos + i) % n] != b->expect[i]) {
            return false;
        }
    }
    return true;
}

static void on_serial(void *opaque, uint8_t byte)
{
    boot_run *b = opaque;

    fputc(byte, b->serial);
    if (byte == '\n') {
        fflush(b->serial);
    }
    if (b->expect_len == 0 || b->found) {
        return;
    }
    b->window[b->pos] = (char)byte;
    b->pos = (b->pos + 1) % b->expect_len;
    b->filled += b->filled < b->expect_len;
    if (b->filled == b->expect_len && window_matches(b)) {
        b->found = true;
        emu_pc_request_stop(b->pc);
    }
}

static void on_debugcon(void *opaque, uint8_t byte)
{
    boot_run *b = opaque;

    if (b->debugcon != NULL) {
        fputc(byte, b->debugcon);
    }
}

static void on_stage(void *opaque, enum emu_pc_stage s, uint64_t now_ns,
                     const char *detail)
{
    boot_run *b = opaque;

    fflush(b->serial);
    fprintf(stderr, "%s: [%11.6f] %s%s%s\n", b->env->prog,
            (double)now_ns / NS_PER_S, emu_pc_stage_name(s),
            *detail ? ": " : "", detail);
}

/* Parses a non-negative number of seconds; -1 when malformed. */
static double parse_seconds(const char *s)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 1e9) {
        return -1;
    }
    return v;
}

/* Parses a memory size as qemu -m does: a number of MiB, or with a
 * K/M/G suffix.  0 when malformed. */
static uint64_t parse_memory(const char *s)
{
    char *end;
    unsigned long long v;
    unsigned shift = 20;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || s[0] == '-') {
        return 0;
    }
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case '\0': break;
    default: return 0;
    }
    if (*end == 'i' || *end == 'B') {
        end += *end == 'i' && end[1] == 'B' ? 2 : 1;
    }
    if (*end != '\0' || v > (EMU_PC_MAX_RAM >> shift)) {
        return 0;
    }
    return (uint64_t)v << shift;
}

enum {
    OPT_MEMORY = CLI_OPT_LOCAL, OPT_SERIAL, OPT_TIMEOUT, OPT_TIMEOUT_WALL,
    OPT_EXPECT, OPT_BIOS, OPT_DEBUGCON, OPT_NS,
};

/* Options with a numeric argument; -1 to go on, else the exit status. */
static int boot_number(const cli_env *env, int c, const char *arg,
                       boot_args *a)
{
    char *end;
    unsigned long ns;

    switch (c) {
    case OPT_MEMORY:
        a->memory = parse_memory(arg);
        if (a->memory == 0) {
            return cli_usage_error(env, "invalid memory size '%s'", arg);
        }
        return -1;
    case OPT_TIMEOUT:
    case OPT_TIMEOUT_WALL:
        *(c == OPT_TIMEOUT ? &a->timeout : &a->timeout_wall) =
            parse_seconds(arg);
        if (parse_seconds(arg) < 0) {
            return cli_usage_error(env, "invalid timeout '%s'", arg);
        }
        return -1;
    default:
        errno = 0;
        ns = strtoul(arg, &end, 10);
        if (errno || end == arg || *end || ns == 0 || ns > 1000000) {
            return cli_usage_error(env, "invalid --ns-per-insn '%s'", arg);
        }
        a->ns_per_insn = (uint32_t)ns;
        return -1;
    }
}

/* One of boot's own options; returns -1 to go on, else the status. */
static int boot_option(const cli_env *env, int c, void *args)
{
    boot_args *a = args;

    switch (c) {
    case 'f':
        a->fmt = optarg;
        return -1;
    case 'U':
        a->flags |= IMG_OPEN_FORCE_SHARE;
        return -1;
    case OPT_SERIAL:
        a->serial = optarg;
        return -1;
    case OPT_DEBUGCON:
        a->debugcon = optarg;
        return -1;
    case OPT_EXPECT:
        a->expect = optarg;
        return -1;
    case OPT_BIOS:
        a->bios = optarg;
        return -1;
    default:
        return boot_number(env, c, optarg, a);
    }
}

/* Returns -1 when the arguments are fine, else the exit status.  Unlike
 * qemu-img's commands, boot knows no --object nor --image-opts. */
static int boot_parse(const cli_env *env, int argc, char **argv,
                      boot_args *a)
{
    static const struct option extra[] = {
        { "format", required_argument, NULL, 'f' },
        { "memory", required_argument, NULL, OPT_MEMORY },
        { "serial", required_argument, NULL, OPT_SERIAL },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "timeout-wall", required_argument, NULL, OPT_TIMEOUT_WALL },
        { "expect", required_argument, NULL, OPT_EXPECT },
        { "bios", required_argument, NULL, OPT_BIOS },
        { "debugcon", required_argument, NULL, OPT_DEBUGCON },
        { "ns-per-insn", required_argument, NULL, OPT_NS },
        { NULL, 0, NULL, 0 },
    };
    static const cli_opt_spec spec = {
        .cmd = "boot",
        .shortopts = ":f:hU",
        .extra = extra,
        .fn = boot_option,
        .flags = CLI_SPEC_NO_OBJECT,
        .help = boot_help,
    };
    int r = cli_parse_opts(env, argc, argv, &spec, a);

    if (r < 0) {
        r = cli_expect_files(env, argc, argv, 1, &a->filename);
    }
    if (r >= 0) {
        return r;
    }
    if (a->expect != NULL && a->expect[0] == '\0') {
        return cli_usage_error(env, "--expect needs a non-empty text");
    }
    return -1;
}

/* Opens FILE for writing, or stdout for NULL and "-". */
static FILE *open_output(const cli_env *env, const char *path)
{
    FILE *f;

    if (path == NULL || strcmp(path, "-") == 0) {
        return stdout;
    }
    f = fopen(path, "wb");
    if (f == NULL) {
        cli_error(env, "%s: %s", path, strerror(errno));
    }
    return f;
}

static double wall_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / NS_PER_S;
}

/* Runs until found, stopped or out of time; returns an emu_pc_status,
 * with EMU_PC_DEADLINE also for the wall-clock limit (*wall set). */
static int boot_loop(boot_run *b, const boot_args *a, bool *wall)
{
    uint64_t limit = a->timeout >= 0 ? (uint64_t)(a->timeout * NS_PER_S)
                     : a->timeout_wall > 0 ? UINT64_MAX
                     : (uint64_t)(BOOT_DEFAULT_TIMEOUT * NS_PER_S);
    double start = wall_seconds();
    int st;

    *wall = false;
    for (;;) {
        uint64_t now = emu_pc_now_ns(b->pc), until = limit;
        if (a->timeout_wall > 0 && limit - now > BOOT_SLICE_NS) {
            until = now + BOOT_SLICE_NS;
        }
        st = emu_pc_run(b->pc, until);
        if (st != EMU_PC_DEADLINE || emu_pc_now_ns(b->pc) >= limit) {
            return st;
        }
        if (wall_seconds() - start >= a->timeout_wall) {
            *wall = true;
            return EMU_PC_DEADLINE;
        }
    }
}

/* The one-line verdict on stderr and the exit status. */
static int boot_verdict(boot_run *b, const boot_args *a, int st,
                        bool wall)
{
    double t = (double)emu_pc_now_ns(b->pc) / NS_PER_S;
    char where[160];

    if (b->found) {
        fprintf(stderr, "%s: %s: found '%s' after %.6f s of guest time "
                "(%" PRIu64 " instructions)\n", b->env->prog, a->filename,
                a->expect, t, emu_pc_retired(b->pc));
        return 0;
    }
    if (st == EMU_PC_STOPPED) {
        fprintf(stderr, "%s: %s: %s after %.6f s of guest time%s%s%s\n",
                b->env->prog, a->filename, emu_pc_stop_reason(b->pc), t,
                a->expect ? " without '" : "", a->expect ? a->expect : "",
                a->expect ? "'" : "");
        return 1;
    }
    emu_pc_describe_cpu(b->pc, where, sizeof(where));
    fprintf(stderr, "%s: %s: timed out after %.6f s of %s time%s%s%s; "
            "CPU %s\n", b->env->prog, a->filename,
            wall ? a->timeout_wall : t, wall ? "wall" : "guest",
            a->expect ? " without '" : "", a->expect ? a->expect : "",
            a->expect ? "'" : "", where);
    return a->expect != NULL;
}

/* Builds the machine around the open image and runs it. */
static int boot_image(const cli_env *env, const boot_args *a, img *disk,
                      boot_run *b)
{
    emu_pc_config cfg;
    img_err err = { 0 };
    bool wall;
    int st;

    emu_pc_config_init(&cfg);
    cfg.ram_size = a->memory;
    cfg.bios_path = a->bios;
    cfg.ns_per_insn = a->ns_per_insn;
    cfg.disk = disk;
    cfg.serial = on_serial;
    cfg.serial_opaque = b;
    cfg.debugcon = on_debugcon;
    cfg.debugcon_opaque = b;
    cfg.stage = on_stage;
    cfg.stage_opaque = b;
    if (emu_pc_new(&cfg, &b->pc, &err) < 0) {
        cli_error_img(env, a->filename, &err);
        return 1;
    }
    st = boot_loop(b, a, &wall);
    fflush(b->serial);
    st = boot_verdict(b, a, st, wall);
    emu_pc_free(b->pc);
    return st;
}

int cmd_boot(const cli_env *env, int argc, char **argv)
{
    boot_args a = { .memory = EMU_PC_DEFAULT_RAM,
                    .ns_per_insn = EMU_PC_DEFAULT_NS,
                    .timeout = -1 };
    boot_run b = { .env = env };
    int r = boot_parse(env, argc, argv, &a);
    img *disk;

    if (r >= 0) {
        return r;
    }
    b.expect = a.expect;
    b.expect_len = a.expect ? strlen(a.expect) : 0;
    b.window = b.expect_len ? malloc(b.expect_len) : NULL;
    b.serial = open_output(env, a.serial);
    b.debugcon = a.debugcon ? open_output(env, a.debugcon) : NULL;
    disk = (b.serial && (b.debugcon || !a.debugcon) &&
            (b.window || !b.expect_len))
           ? cli_open(env, a.filename, a.fmt, a.flags) : NULL;
    r = disk ? boot_image(env, &a, disk, &b) : 1;
    img_close(disk);
    if (b.serial && b.serial != stdout) {
        fclose(b.serial);
    }
    if (b.debugcon && b.debugcon != stdout) {
        fclose(b.debugcon);
    }
    free(b.window);
    return r;
}
