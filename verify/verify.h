/* verify/verify.h -- is TARGET a faithful conversion of SOURCE? (issue 7)
 *
 * Three independent checks, each a library call that the CLI ("vdisk
 * verify", "vdisk convert --verify") and the tests use:
 *
 *   content    the guest-visible bytes of both images are identical
 *              (content.c): block status on both sides, ranges that both
 *              report as zero are not read, the rest is compared with
 *              large reads; the first differing offset is reported.
 *   structure  the target passes its format's full check (structure.c);
 *              formats without a check are "skipped", never "passed".
 *   boot       both images boot in the PC emulator with the same machine
 *              configuration to the same serial transcript, and to an
 *              expected text when given (boot.c); the first byte and line
 *              where the transcripts diverge are reported.
 *
 * Every function returns 0 when the check ran (whatever its verdict, see
 * the result's status) and -errno with err set when it could not run.
 */
#ifndef VERIFY_VERIFY_H
#define VERIFY_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/img.h"

/* The verdict of one check. */
enum verify_status {
    VERIFY_PASSED,
    VERIFY_FAILED,
    VERIFY_SKIPPED, /* cannot be checked (no format check, no emulator) */
};

/* ---- content (content.c) ---- */

/* Largest single read of each side (bytes). */
#define VERIFY_CONTENT_CHUNK (4u << 20)

typedef struct verify_content_result {
    int status;           /* enum verify_status (never SKIPPED) */
    uint64_t src_size;    /* virtual sizes */
    uint64_t dst_size;
    uint64_t compared;    /* bytes read from both sides and compared */
    uint64_t skipped;     /* bytes both sides reported as zero (not read) */
    uint64_t diff_offset; /* FAILED: first guest offset that differs */
    uint8_t src_byte;     /* FAILED on content: the bytes found there */
    uint8_t dst_byte;
    int size_mismatch;    /* FAILED because the sizes differ */
} verify_content_result;

/* Compares the guest-visible content of src and dst (whole backing
 * chains).  A target larger than the source passes only when its extra
 * tail reads as zeros (formats that round the size up); a smaller one
 * fails at offset dst_size. */
int verify_content(img *src, img *dst, verify_content_result *res,
                   img_err *err);

/* ---- structure (structure.c) ---- */

typedef struct verify_structure_result {
    int status;             /* enum verify_status */
    img_check_result check; /* the format's counters (not SKIPPED) */
} verify_structure_result;

/* Runs the format's full check on im (read-only, nothing repaired).
 * Corruptions, check errors and leaked clusters all fail it. */
int verify_structure(img *im, verify_structure_result *res, img_err *err);

/* ---- boot (boot.c) ---- */

/* The machine both images boot in; pointers are borrowed. */
typedef struct verify_boot_opts {
    uint64_t memory;        /* bytes, 0: the emulator's default */
    uint32_t ns_per_insn;   /* virtual time rate, 0: the default */
    uint64_t timeout_ns;    /* virtual time per boot, 0: the default */
    const char *expect;     /* text both transcripts must reach (or NULL) */
    const char *bios;       /* firmware path, NULL: $VDISK_BIOS/default */
} verify_boot_opts;

/* Virtual time given to each boot when timeout_ns is 0. */
#define VERIFY_BOOT_DEFAULT_TIMEOUT_NS (10ull * 1000000000ull)
/* Serial bytes kept per boot; a longer transcript is compared up to it. */
#define VERIFY_BOOT_MAX_TRANSCRIPT (1u << 20)

/* How one boot ended. */
typedef struct verify_boot_run {
    char *transcript;      /* serial bytes (malloc'd, NUL-terminated) */
    size_t len;            /* bytes in it */
    int expect_seen;       /* the expected text appeared */
    int stopped;           /* the guest stopped (see reason) */
    char reason[160];      /* why it stopped, or "timed out after ..." */
} verify_boot_run;

typedef struct verify_boot_result {
    int status;             /* enum verify_status */
    verify_boot_run src;
    verify_boot_run dst;
    int diverged;           /* the transcripts differ */
    size_t diff_offset;     /* first differing byte of the transcripts */
    unsigned diff_line;     /* its line (1-based) */
} verify_boot_result;

/* Boots src and then dst with the same configuration and compares the
 * two serial transcripts.  Passes when they are identical and both reach
 * o->expect, or, without it, both boots end the same way.  -ENOTSUP when
 * vdisk was built without the emulator; -errno when a machine cannot be
 * built (firmware missing).  Free the result with
 * verify_boot_result_clear. */
int verify_boot(img *src, img *dst, const verify_boot_opts *o,
                verify_boot_result *res, img_err *err);
void verify_boot_result_clear(verify_boot_result *res);

/* The transcript line holding byte off (without its '\n'), shortened to
 * at most cap-1 bytes, without CRs and with other non-printable bytes
 * shown as '.'. */
void verify_boot_line(const verify_boot_run *run, size_t off, char *buf,
                      size_t cap);

/* Whether vdisk was built with the emulator (boot can run). */
int verify_boot_available(void);

#endif /* VERIFY_VERIFY_H */
