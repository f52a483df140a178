/* cli/cmd_verify.c -- "verify": is TARGET a faithful conversion of
 * SOURCE? (issue 7; a vdisk command, qemu-img has none)
 *
 *   verify [-f FMT] [-F FMT] [-U] [--boot] [--expect TEXT]
 *          [--timeout SECONDS] [--output=human|json] SOURCE TARGET
 *
 * Runs the checks of verify/verify.h: content (always), the target's
 * format check (always; "skipped" for formats without one) and, with
 * --boot (implied by --expect), a boot of both images in the emulator.
 * One report line per check on stdout, or a JSON object.  Exit status:
 * 0 when every requested check passed (a skipped format check does not
 * fail), 1 when one failed, 2 for usage errors, images that cannot be
 * opened and checks that cannot run (no emulator, no firmware, I/O
 * errors).  "convert --verify[=boot]" calls cli_verify_files().
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "verify/verify.h"

static const char usage[] =
    "verify [-f fmt] [-F fmt] [-U] [--boot] [--expect text] "
    "[--timeout seconds] [--output=ofmt] source target";

typedef struct verify_args {
    const char *names[2];       /* SOURCE, TARGET */
    const char *fmts[2];        /* -f, -F (NULL: probe) */
    unsigned flags;             /* IMG_OPEN_* */
    cli_verify_opts v;          /* what to check and how to print */
} verify_args;

/* Everything the checks found, for the printers. */
typedef struct verify_report {
    const char *names[2];
    const cli_verify_opts *o;
    const char *target_fmt;
    verify_content_result content;
    verify_structure_result check;
    verify_boot_result boot;
} verify_report;

enum { OPT_BOOT = 256, OPT_EXPECT, OPT_TIMEOUT, OPT_OUTPUT };

/* ---- human report ---- */

/* "content: ...": identical, or where and how the images differ. */
static void print_content(const verify_report *r)
{
    const verify_content_result *c = &r->content;

    if (c->status == VERIFY_PASSED) {
        printf("content: identical (%" PRIu64 " bytes compared, %" PRIu64
               " skipped as zero)\n", c->compared, c->skipped);
    } else if (c->size_mismatch && c->dst_size < c->src_size) {
        printf("content: target is smaller (%" PRIu64 " bytes) than the "
               "source (%" PRIu64 " bytes)\n", c->dst_size, c->src_size);
    } else if (c->size_mismatch) {
        printf("content: differ at offset %" PRIu64 " (target 0x%02x, "
               "past the source's %" PRIu64 " bytes)\n", c->diff_offset,
               c->dst_byte, c->src_size);
    } else {
        printf("content: differ at offset %" PRIu64 " (source 0x%02x, "
               "target 0x%02x)\n", c->diff_offset, c->src_byte,
               c->dst_byte);
    }
}

/* "check: ...": the target format's check, or why it was skipped. */
static void print_check(const verify_report *r)
{
    const img_check_result *c = &r->check.check;

    if (r->check.status == VERIFY_SKIPPED) {
        printf("check: skipped (format %s has no consistency check)\n",
               r->target_fmt);
    } else if (r->check.status == VERIFY_PASSED) {
        printf("check: no errors\n");
    } else {
        printf("check: %d corruptions, %d leaked clusters, %d check "
               "errors\n", c->corruptions, c->leaks, c->check_errors);
    }
}

/* Why one side did not reach the text. */
static void print_missing(const char *side, const verify_boot_run *run,
                          const char *expect)
{
    if (!run->expect_seen) {
        printf("boot: '%s' not seen on the %s: %s\n", expect, side,
               run->reason);
    }
}

/* "boot: ...": the transcripts' verdict; when they diverge, the first
 * differing byte, its line on both sides and how each boot ended. */
static void print_boot(const verify_report *r)
{
    const verify_boot_result *b = &r->boot;
    char ls[80], ld[80];

    if (b->diverged) {
        verify_boot_line(&b->src, b->diff_offset, ls, sizeof(ls));
        verify_boot_line(&b->dst, b->diff_offset, ld, sizeof(ld));
        printf("boot: transcripts differ at byte %zu (line %u): "
               "source \"%s\", target \"%s\"\n", b->diff_offset,
               b->diff_line, ls, ld);
        printf("boot: source %s; target %s\n",
               b->src.expect_seen ? "saw the text" : b->src.reason,
               b->dst.expect_seen ? "saw the text" : b->dst.reason);
    } else if (b->status == VERIFY_PASSED && r->o->expect != NULL) {
        printf("boot: identical transcripts (%zu bytes), '%s' seen\n",
               b->src.len, r->o->expect);
    } else if (b->status == VERIFY_PASSED) {
        /* No text to wait for: say how the (identical) boots ended. */
        printf("boot: identical transcripts (%zu bytes); both ended: %s\n",
               b->src.len, b->src.reason);
    } else if (r->o->expect != NULL) {
        printf("boot: identical transcripts (%zu bytes)\n", b->src.len);
        print_missing("source", &b->src, r->o->expect);
        print_missing("target", &b->dst, r->o->expect);
    } else {
        printf("boot: identical transcripts (%zu bytes), but the boots "
               "ended differently: source %s; target %s\n", b->src.len,
               b->src.reason, b->dst.reason);
    }
}

/* ---- JSON report ---- */

/* "passed", "failed" or "skipped" (the JSON "result" members). */
static const char *status_name(int status)
{
    return status == VERIFY_PASSED ? "passed"
           : status == VERIFY_FAILED ? "failed" : "skipped";
}

/* {"result", "compared", "skipped-zero", sizes[, "offset"]}. */
static img_val *json_content(const verify_content_result *c)
{
    img_val *d = img_val_dict_new();

    img_val_dict_set_str(d, "result", status_name(c->status));
    img_val_dict_set_uint(d, "compared", c->compared);
    img_val_dict_set_uint(d, "skipped-zero", c->skipped);
    img_val_dict_set_uint(d, "source-size", c->src_size);
    img_val_dict_set_uint(d, "target-size", c->dst_size);
    if (c->status == VERIFY_FAILED) {
        img_val_dict_set_uint(d, "offset", c->diff_offset);
        img_val_dict_set_bool(d, "size-mismatch", c->size_mismatch);
    }
    return d;
}

/* {"result", "format"[, the check's counters]}. */
static img_val *json_check(const verify_report *r)
{
    img_val *d = img_val_dict_new();
    const img_check_result *c = &r->check.check;

    img_val_dict_set_str(d, "result", status_name(r->check.status));
    img_val_dict_set_str(d, "format", r->target_fmt);
    if (r->check.status != VERIFY_SKIPPED) {
        img_val_dict_set_int(d, "corruptions", c->corruptions);
        img_val_dict_set_int(d, "leaks", c->leaks);
        img_val_dict_set_int(d, "check-errors", c->check_errors);
    }
    return d;
}

/* One boot: transcript length, whether the text came, how it ended. */
static img_val *json_run(const verify_boot_run *run)
{
    img_val *d = img_val_dict_new();

    img_val_dict_set_uint(d, "transcript-bytes", run->len);
    img_val_dict_set_bool(d, "expect-seen", run->expect_seen);
    img_val_dict_set_str(d, "end", run->expect_seen ? "text seen"
                                                    : run->reason);
    return d;
}

/* {"result"[, "expect"], "source", "target"[, "offset", "line",
 * "source-line", "target-line"]}: the lines where the transcripts first
 * differ, as the human report shows them. */
static img_val *json_boot(const verify_report *r)
{
    img_val *d = img_val_dict_new();
    const verify_boot_result *b = &r->boot;

    img_val_dict_set_str(d, "result", status_name(b->status));
    if (r->o->expect != NULL) {
        img_val_dict_set_str(d, "expect", r->o->expect);
    }
    img_val_dict_set(d, "source", json_run(&b->src));
    img_val_dict_set(d, "target", json_run(&b->dst));
    if (b->diverged) {
        char ls[80], ld[80];

        verify_boot_line(&b->src, b->diff_offset, ls, sizeof(ls));
        verify_boot_line(&b->dst, b->diff_offset, ld, sizeof(ld));
        img_val_dict_set_uint(d, "offset", b->diff_offset);
        img_val_dict_set_uint(d, "line", b->diff_line);
        img_val_dict_set_str(d, "source-line", ls);
        img_val_dict_set_str(d, "target-line", ld);
    }
    return d;
}

/* The whole report as one object, qemu's pretty JSON layout. */
static void print_json(const verify_report *r, int passed)
{
    img_val *d = img_val_dict_new();

    img_val_dict_set_str(d, "source", r->names[0]);
    img_val_dict_set_str(d, "target", r->names[1]);
    img_val_dict_set(d, "content", json_content(&r->content));
    img_val_dict_set(d, "check", json_check(r));
    if (r->o->boot) {
        img_val_dict_set(d, "boot", json_boot(r));
    }
    img_val_dict_set_bool(d, "passed", passed);
    cli_json_print(stdout, d);
    img_val_free(d);
}

/* ---- running the checks ---- */

/* Runs every requested check; returns 0, or 2 after printing an error. */
static int run_checks(const cli_env *env, img *src, img *dst,
                      verify_report *r)
{
    verify_boot_opts bo = { .expect = r->o->expect,
                            .timeout_ns = r->o->timeout_ns };
    img_err err = { 0 };

    if (verify_content(src, dst, &r->content, &err) < 0) {
        cli_error_img(env, r->names[1], &err);
        return 2;
    }
    if (verify_structure(dst, &r->check, &err) < 0) {
        cli_error_img(env, r->names[1], &err);
        return 2;
    }
    if (r->o->boot && verify_boot(src, dst, &bo, &r->boot, &err) < 0) {
        cli_error_img(env, r->names[1], &err);
        return 2;
    }
    return 0;
}

/* Whether every requested check passed (a skipped format check is not a
 * failure). */
static int report_passed(const verify_report *r)
{
    return r->content.status == VERIFY_PASSED &&
           r->check.status != VERIFY_FAILED &&
           (!r->o->boot || r->boot.status == VERIFY_PASSED);
}

/* Checks, then the report (nothing is printed when a check cannot run:
 * its error is, and the status is 2). */
int cli_verify_images(const cli_env *env, img *src, img *dst,
                      const char *src_name, const char *dst_name,
                      const cli_verify_opts *o)
{
    verify_report r = { .names = { src_name, dst_name }, .o = o,
                        .target_fmt = img_format(dst) };
    int st, passed;

    if (o->boot && !verify_boot_available()) {
        cli_error(env, "--boot needs the emulator, which this vdisk was "
                  "built without");
        return 2;
    }
    st = run_checks(env, src, dst, &r);
    if (st == 0) {
        passed = report_passed(&r);
        if (o->quiet) {
            /* exit status only */
        } else if (o->output == CLI_OUTPUT_JSON) {
            print_json(&r, passed);
        } else {
            print_content(&r);
            print_check(&r);
            if (o->boot) {
                print_boot(&r);
            }
        }
        st = passed ? 0 : 1;
    }
    verify_boot_result_clear(&r.boot);
    return st;
}

/* Opens both images read-only (flags: -U) and verifies them. */
int cli_verify_files(const cli_env *env, const char *src_name,
                     const char *src_fmt, const char *dst_name,
                     const char *dst_fmt, unsigned flags,
                     const cli_verify_opts *o)
{
    img *src = cli_open(env, src_name, src_fmt, flags);
    img *dst = src ? cli_open(env, dst_name, dst_fmt, flags) : NULL;
    int st = 2;

    if (dst != NULL) {
        st = cli_verify_images(env, src, dst, src_name, dst_name, o);
    }
    img_close(dst);
    img_close(src);
    return st;
}

/* ---- command line ---- */

/* Parses --timeout (virtual seconds, > 0); 0 when malformed. */
static uint64_t parse_timeout(const char *s)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 1e6) {
        return 0;
    }
    return (uint64_t)(v * 1e9);
}

/* One option; returns -1 to go on, else the exit status. */
static int verify_option(const cli_env *env, int c, char **argv,
                         verify_args *a)
{
    switch (c) {
    case 'f':
    case 'F':
        a->fmts[c == 'F'] = optarg;
        return -1;
    case 'U':
        a->flags |= IMG_OPEN_FORCE_SHARE;
        return -1;
    case OPT_EXPECT:
        a->v.expect = optarg;
        a->v.boot = 1; /* --expect implies --boot */
        return -1;
    case OPT_BOOT:
        a->v.boot = 1;
        return -1;
    case OPT_TIMEOUT:
        a->v.timeout_ns = parse_timeout(optarg);
        if (a->v.timeout_ns == 0) {
            cli_usage_error(env, "invalid timeout '%s'", optarg);
            return 2;
        }
        return -1;
    case OPT_OUTPUT:
        if (cli_parse_output(optarg, &a->v.output) < 0) {
            cli_usage_error(env, "--output must be used with human or "
                            "json as argument.");
            return 2;
        }
        return -1;
    case 'h':
        printf("usage: %s %s\n\n"
               "Checks that TARGET is a faithful conversion of SOURCE: same "
               "content, TARGET\npasses its format's check and, with "
               "--boot, both boot to the same serial\ntranscript.  Exit "
               "status 0 passed, 1 failed, 2 usage or open error.\n",
               env->prog, usage);
        return 0;
    case ':':
        cli_bad_option(env, "missing argument for", argv[optind - 1]);
        return 2;
    default:
        cli_bad_option(env, "unrecognized", argv[optind - 1]);
        return 2;
    }
}

/* getopt_long and the operands; returns -1 to go on, else the status. */
static int verify_parse(const cli_env *env, int argc, char **argv,
                        verify_args *a)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "force-share", no_argument, NULL, 'U' },
        { "boot", no_argument, NULL, OPT_BOOT },
        { "expect", required_argument, NULL, OPT_EXPECT },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { NULL, 0, NULL, 0 },
    };
    int c;

    optind = 0;
    while ((c = getopt_long(argc, argv, ":f:F:hU", longopts, NULL)) != -1) {
        int r = verify_option(env, c, argv, a);
        if (r >= 0) {
            return r;
        }
    }
    if (argc - optind != 2) {
        cli_usage_error(env, "Expecting two image file names");
        return 2;
    }
    if (a->v.expect != NULL && a->v.expect[0] == '\0') {
        cli_usage_error(env, "--expect needs a non-empty text");
        return 2;
    }
    a->names[0] = argv[optind];
    a->names[1] = argv[optind + 1];
    return -1;
}

/* "vdisk verify": exit status 0 passed, 1 failed, 2 usage/open error. */
int cmd_verify(const cli_env *env, int argc, char **argv)
{
    verify_args a = { .v = { .output = CLI_OUTPUT_HUMAN } };
    int r = verify_parse(env, argc, argv, &a);

    if (r >= 0) {
        return r;
    }
    return cli_verify_files(env, a.names[0], a.fmts[0], a.names[1],
                            a.fmts[1], a.flags, &a.v);
}
