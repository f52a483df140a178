/* verify/boot.c -- "boot" check of vdisk verify (issue 7): both images
 * boot in the PC emulator (emu/machine/pc.h) to the same serial
 * transcript.
 *
 * Each image becomes the IDE master of its own machine built from one
 * configuration (same RAM, firmware, RTC epoch and virtual time rate), so
 * that a faithful copy must produce the very same bytes on COM1: the
 * emulator's time is virtual, hence deterministic.  A boot ends when the
 * expected text appears, when the guest stops (halt with interrupts off,
 * triple fault) or at the virtual timeout.  The two machines share
 * nothing, so they boot side by side on two threads.  The transcripts
 * are then compared byte by byte; the first differing byte and its line
 * are kept for the report.  Without the emulator (meson -Demu=disabled) the check
 * returns -ENOTSUP.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

#ifdef VDISK_HAVE_EMU
#include "emu/machine/pc.h"

/* What the serial callback fills for one boot. */
typedef struct boot_capture {
    emu_pc *pc;
    verify_boot_run *run;
    size_t cap;              /* bytes allocated for the transcript */
    const char *expect;
    size_t expect_len;
} boot_capture;

/* Appends one serial byte; stops the run when the expected text ends
 * the transcript. */
static void capture_byte(void *opaque, uint8_t byte)
{
    boot_capture *c = opaque;
    verify_boot_run *run = c->run;

    if (run->len + 1 >= c->cap) {
        return; /* full: the rest is not kept */
    }
    run->transcript[run->len++] = (char)byte;
    run->transcript[run->len] = '\0';
    if (c->expect_len == 0 || run->expect_seen ||
        run->len < c->expect_len) {
        return;
    }
    if (memcmp(run->transcript + run->len - c->expect_len, c->expect,
               c->expect_len) == 0) {
        run->expect_seen = 1;
        emu_pc_request_stop(c->pc);
    }
}

/* The machine configuration shared by both boots. */
static void boot_config(const verify_boot_opts *o, img *disk,
                        boot_capture *c, emu_pc_config *cfg)
{
    emu_pc_config_init(cfg);
    if (o->memory != 0) {
        cfg->ram_size = o->memory;
    }
    if (o->ns_per_insn != 0) {
        cfg->ns_per_insn = o->ns_per_insn;
    }
    cfg->bios_path = o->bios;
    cfg->disk = disk;
    cfg->serial = capture_byte;
    cfg->serial_opaque = c;
}

/* Runs the machine to the text, a stop or the timeout. */
static void boot_until_done(boot_capture *c, uint64_t limit)
{
    verify_boot_run *run = c->run;
    int st = emu_pc_run(c->pc, limit);

    /* A stop request comes only from capture_byte, once the text was
     * seen; keep going on any other (spurious) one. */
    while (st == EMU_PC_REQUESTED && !run->expect_seen) {
        st = emu_pc_run(c->pc, limit);
    }
    if (st == EMU_PC_STOPPED) {
        run->stopped = 1;
        snprintf(run->reason, sizeof(run->reason), "%s after %.6f s",
                 emu_pc_stop_reason(c->pc),
                 (double)emu_pc_now_ns(c->pc) / 1e9);
    } else if (!run->expect_seen) {
        snprintf(run->reason, sizeof(run->reason),
                 "timed out after %.6f s", (double)limit / 1e9);
    }
}

/* Boots one image and fills run. */
static int boot_one(img *disk, const verify_boot_opts *o,
                    verify_boot_run *run, img_err *err)
{
    boot_capture c = { .run = run, .cap = VERIFY_BOOT_MAX_TRANSCRIPT + 1,
                       .expect = o->expect,
                       .expect_len = o->expect ? strlen(o->expect) : 0 };
    uint64_t limit = o->timeout_ns ? o->timeout_ns
                                   : VERIFY_BOOT_DEFAULT_TIMEOUT_NS;
    emu_pc_config cfg;
    int r;

    /* One byte more than the limit for the terminating NUL. */
    run->transcript = calloc(1, c.cap);
    if (run->transcript == NULL) {
        return img_err_set(err, ENOMEM, "out of memory for the transcript");
    }
    boot_config(o, disk, &c, &cfg);
    r = emu_pc_new(&cfg, &c.pc, err);
    if (r < 0) {
        return r;
    }
    boot_until_done(&c, limit);
    emu_pc_free(c.pc);
    return 0;
}

int verify_boot_available(void)
{
    return 1;
}
#else  /* !VDISK_HAVE_EMU */

/* Without the emulator nothing can boot. */
static int boot_one(img *disk, const verify_boot_opts *o,
                    verify_boot_run *run, img_err *err)
{
    (void)disk;
    (void)o;
    (void)run;
    return img_err_set(err, ENOTSUP, "vdisk was built without the emulator");
}

int verify_boot_available(void)
{
    return 0;
}
#endif /* VDISK_HAVE_EMU */

/* Finds where the transcripts first differ (sets diverged/offset/line). */
static void compare_transcripts(verify_boot_result *res)
{
    const verify_boot_run *a = &res->src, *b = &res->dst;
    size_t n = a->len < b->len ? a->len : b->len, i = 0;
    unsigned line = 1;

    while (i < n && a->transcript[i] == b->transcript[i]) {
        line += a->transcript[i] == '\n';
        i++;
    }
    res->diverged = i < a->len || i < b->len;
    res->diff_offset = i;
    res->diff_line = line;
}

/* The verdict: same transcript, and the text on both when asked for
 * (else the same end: stop reason and time, or the timeout). */
static int boot_verdict(const verify_boot_opts *o,
                        const verify_boot_result *res)
{
    if (res->diverged) {
        return VERIFY_FAILED;
    }
    if (o->expect != NULL) {
        return res->src.expect_seen && res->dst.expect_seen
                   ? VERIFY_PASSED
                   : VERIFY_FAILED;
    }
    /* Without a text, the boots must also end the same way. */
    return strcmp(res->src.reason, res->dst.reason) == 0 ? VERIFY_PASSED
                                                         : VERIFY_FAILED;
}

/* One boot run on a thread of its own. */
typedef struct boot_job {
    img *disk;
    const verify_boot_opts *o;
    verify_boot_run *run;
    img_err err;
    int r;
} boot_job;

static void *boot_job_run(void *arg)
{
    boot_job *j = arg;

    j->r = boot_one(j->disk, j->o, j->run, &j->err);
    return NULL;
}

int verify_boot(img *src, img *dst, const verify_boot_opts *o,
                verify_boot_result *res, img_err *err)
{
    boot_job job;
    pthread_t thread;
    bool threaded;
    int r;

    memset(res, 0, sizeof(*res));
    /* The two machines share nothing, so the target boots on a second
     * thread while the source boots here: one boot's wall time. */
    job = (boot_job){ .disk = dst, .o = o, .run = &res->dst };
    threaded = pthread_create(&thread, NULL, boot_job_run, &job) == 0;
    r = boot_one(src, o, &res->src, err);
    if (threaded) {
        pthread_join(thread, NULL);
    } else {
        boot_job_run(&job);
    }
    if (r < 0) {
        img_err_prepend(err, "booting the source: ");
        return r;
    }
    if (job.r < 0) {
        *err = job.err;
        img_err_prepend(err, "booting the target: ");
        return job.r;
    }
    compare_transcripts(res);
    res->status = boot_verdict(o, res);
    return 0;
}

void verify_boot_result_clear(verify_boot_result *res)
{
    free(res->src.transcript);
    free(res->dst.transcript);
    res->src.transcript = NULL;
    res->dst.transcript = NULL;
}

void verify_boot_line(const verify_boot_run *run, size_t off, char *buf,
                      size_t cap)
{
    size_t start = off, end = off, n = 0;

    if (cap == 0) {
        return;
    }
    /* Back to the start of the line, then forward to its end. */
    while (start > 0 && start <= run->len &&
           run->transcript[start - 1] != '\n') {
        start--;
    }
    while (end < run->len && run->transcript[end] != '\n') {
        end++;
    }
    for (size_t i = start; i < end && n + 1 < cap; i++) {
        unsigned char ch = (unsigned char)run->transcript[i];
        if (ch != '\r') { /* serial consoles end lines with CR LF */
            buf[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '.';
        }
    }
    buf[n] = '\0';
}
