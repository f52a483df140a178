/* formats/vhdx/vhdx_check.c -- consistency check and repair of a VHDX
 * image (qemu-img check).
 *
 * Open already refuses what a reader cannot live with (bad signatures and
 * checksums, out-of-range sizes and offsets, blocks beyond the file or on
 * top of the header section, the log or a region, unknown required
 * regions and items).  This file checks the remaining MUSTs of [MS-VHDX],
 * one static function per rule family, and prints one "ERROR" line per
 * violation naming the rule and its section:
 *   - 2.2.2   the non-current header is valid; reserved bytes are zero;
 *   - 2.2.3   both region table copies are valid and equal; reserved
 *             fields are zero;
 *   - 2.3.3   a non-empty log was replayed (as qemu-img, a replay done by
 *             a writable open counts as a repaired corruption);
 *   - 2.5.1   BAT reserved bits are zero; FileOffsetMB of NOT_PRESENT and
 *             ZERO blocks and absent sector bitmaps is zero (Hyper-V fails
 *             files where it is not); no block overlaps another;
 *   - 2.6.1/2.6.2 metadata reserved fields are zero;
 *   - 2.6.2.6.3 the parent's DataWriteGuid is a parent_linkage value.
 * Space after the last structure is leaked.  With fix: leaks are cut off
 * (IMG_FIX_LEAKS); a bad non-current header is rewritten from the current
 * one, a bad region table copy from the good one (through the log), and
 * reserved BAT bits and offsets are cleared (through the log)
 * (IMG_FIX_ERRORS).  check returns 0 when it could run, even on a corrupt
 * image; counts go to img_check_result.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"

/* Prints one finding on stderr (not for quiet opens). */
__attribute__((format(printf, 3, 4))) static void report(
    const vhdx_state *s, const char *kind, const char *fmt, ...)
{
    if (s->quiet) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s ", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* A corruption; returns whether the caller should repair it. */
static int corrupt(img_check_result *res, unsigned fix)
{
    res->corruptions++;
    return (fix & IMG_FIX_ERRORS) != 0;
}

/* Records the outcome of a repair. */
static void repaired(img_check_result *res, int r)
{
    if (r >= 0) {
        res->corruptions--;
        res->corruptions_fixed++;
    } else {
        res->check_errors++;
    }
}

/* ---- 2.2.2 headers ---- */

static void check_headers(vhdx_state *s, img_check_result *res, unsigned fix)
{
    int other = 1 - s->cur;
    int found = 0;
    if (!s->hdr_valid[other]) {
        report(s, "ERROR", "header %d is not valid: a second valid header "
               "is kept for power-failure safety (MS-VHDX 2.2.2, 2.2.2.1)",
               other + 1);
        found++;
    }
    if (s->hdr[s->cur].reserved_nonzero) {
        report(s, "ERROR", "header %d: Reserved bytes are not zero "
               "(MS-VHDX 2.2.2)", s->cur + 1);
        found++;
    }
    for (int i = 0; i < found; i++) {
        corrupt(res, fix);
    }
    if (found && (fix & IMG_FIX_ERRORS)) {
        /* The update procedure rewrites both from the current one. */
        int r = vhdx_begin_write(s, 0, NULL);
        if (r >= 0) {
            vhdx_guid keep = s->hdr[s->cur].log_guid;
            r = vhdx_headers_update(s, 0, &keep, NULL);
        }
        for (int i = 0; i < found; i++) {
            repaired(res, r);
        }
    }
}

/* ---- 2.2.3 region tables ---- */

/* Rewrites region table copy `bad` with the table in use, via the log. */
static int rewrite_region_table(vhdx_state *s, int bad, const uint8_t *good)
{
    vhdx_log_update u[VHDX_RT_SIZE / VHDX_LOG_SECTOR];
    uint64_t base = bad ? VHDX_RT2_OFFSET : VHDX_RT1_OFFSET;
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
        u[i].offset = base + i * VHDX_LOG_SECTOR;
        u[i].data = good + i * VHDX_LOG_SECTOR;
    }
    int r = vhdx_begin_write(s, 0, NULL);
    return r < 0 ? r : vhdx_log_write(s, u, sizeof(u) / sizeof(u[0]), NULL);
}

/* The copy not in use is valid and equal to the one in use. */
static void check_rt_copies(vhdx_state *s, img_check_result *res,
                            unsigned fix, uint8_t *a, uint8_t *b)
{
    static const uint64_t where[2] = { VHDX_RT1_OFFSET, VHDX_RT2_OFFSET };
    int other = 1 - s->rt_used;
    if (vhdx_read(s, a, VHDX_RT_SIZE, where[s->rt_used], NULL) < 0 ||
        vhdx_read(s, b, VHDX_RT_SIZE, where[other], NULL) < 0) {
        res->check_errors++;
        return;
    }
    if (memcmp(a, b, VHDX_RT_SIZE) == 0) {
        return;
    }
    report(s, "ERROR", "region table copy %d is not valid or differs from "
           "copy %d: both copies must hold the table (MS-VHDX 2.2.3)",
           other + 1, s->rt_used + 1);
    if (corrupt(res, fix)) {
        repaired(res, rewrite_region_table(s, other, a));
    }
}

static void check_regions(vhdx_state *s, img_check_result *res, unsigned fix)
{
    if (s->rt.reserved_nonzero) {
        report(s, "ERROR", "region table Reserved field is not zero "
               "(MS-VHDX 2.2.3.1)");
        corrupt(res, 0);
    }
    for (unsigned i = 0; i < s->rt.count; i++) {
        const vhdx_region *e = &s->rt.entries[i];
        if (e->required_field & ~1u) {
            report(s, "ERROR", "region %u: reserved bits of the Required "
                   "field are set (MS-VHDX 2.2.3.2)", i);
            corrupt(res, 0);
        }
        int known = vhdx_guid_eq(&e->guid, &vhdx_guid_bat) ||
                    vhdx_guid_eq(&e->guid, &vhdx_guid_metadata);
        if (known && !(e->required_field & 1)) {
            report(s, "Note:", "region %u (%s) does not have its Required "
                   "bit set; the specification lists it as required "
                   "(MS-VHDX 2.2.3.2)", i,
                   vhdx_guid_eq(&e->guid, &vhdx_guid_bat) ? "BAT"
                                                           : "metadata");
        }
    }
    uint8_t *a = malloc(VHDX_RT_SIZE), *b = malloc(VHDX_RT_SIZE);
    if (a && b) {
        check_rt_copies(s, res, fix, a, b);
    } else {
        res->check_errors++;
    }
    free(a);
    free(b);
}

/* ---- 2.3.3 log ---- */

static void check_log(vhdx_state *s, img_check_result *res)
{
    if (s->log_stale) {
        report(s, s->replayed_on_open ? "Repaired:" : "ERROR", "LogGuid is "
               "set but the log holds no valid sequence (MS-VHDX 2.3.3)%s",
               s->replayed_on_open ? "; LogGuid cleared" : "");
        res->corruptions_fixed += s->replayed_on_open;
        res->corruptions += !s->replayed_on_open;
    } else if (s->replayed_on_open) {
        report(s, "Repaired:", "the log was replayed when the image was "
               "opened (MS-VHDX 2.3.3)");
        res->corruptions_fixed++;
    } else if (s->n_ovl > 0) {
        report(s, "ERROR", "the log holds updates that were not written to "
               "their place; they were replayed in memory, a writable open "
               "(check -r) replays them into the file (MS-VHDX 2.3.3)");
        res->corruptions++;
    }
}

/* ---- 2.6 metadata ---- */

static void check_metadata(vhdx_state *s, img_check_result *res)
{
    if (s->mt.reserved_nonzero) {
        report(s, "ERROR", "metadata table Reserved fields are not zero "
               "(MS-VHDX 2.6.1.1)");
        res->corruptions++;
    }
    for (unsigned i = 0; i < s->mt.count; i++) {
        const vhdx_meta_entry *e = &s->mt.entries[i];
        if ((e->flags & ~VHDX_MTE_FLAGS_KNOWN) || e->reserved2) {
            report(s, "ERROR", "metadata entry %u: reserved bits are set "
                   "(MS-VHDX 2.6.1.2)", i);
            res->corruptions++;
        }
    }
    if (s->p.fp_flags & ~(VHDX_FP_LEAVE_ALLOC | VHDX_FP_HAS_PARENT)) {
        report(s, "ERROR", "File Parameters: reserved bits are set "
               "(MS-VHDX 2.6.2.1)");
        res->corruptions++;
    }
}

/* ---- 2.6.2.6.3 parent ---- */

static void check_parent(vhdx_state *s, img_check_result *res)
{
    img *parent = s->im->backing;
    if (!s->p.has_parent || !parent) {
        return;
    }
    if (img_get_driver(parent) == &img_vhdx_driver) {
        const vhdx_state *ps = parent->state;
        if (ps->p.logical_sector != s->p.logical_sector) {
            report(s, "ERROR", "the parent's logical sector size %" PRIu32
                   " differs from the child's %" PRIu32 " (MS-VHDX 2.6.2.4)",
                   ps->p.logical_sector, s->p.logical_sector);
            res->corruptions++;
        }
    }
    img_err err = { 0 };
    s->parent_checked = 0;
    if (vhdx_parent_linkage_check(s, &err) < 0) {
        report(s, "ERROR", "%s", err.msg);
        res->corruptions++;
    }
}

/* ---- 2.5 BAT ---- */

/* One allocated extent of the file, for the overlap check. */
typedef struct used {
    uint64_t start, end;
    uint64_t index;   /* BAT index, or UINT64_MAX for fixed structures */
} used;

static int used_cmp(const void *a, const void *b)
{
    const used *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The rules on one entry's bits; returns the repaired entry (or e). */
static uint64_t check_entry_bits(vhdx_state *s, uint64_t i, uint64_t e,
                                 int is_sb, img_check_result *res,
                                 unsigned fix)
{
    uint64_t good = e & ~VHDX_BAT_RESERVED;
    unsigned st = vhdx_bat_state(e);
    if (e & VHDX_BAT_RESERVED) {
        report(s, "ERROR", "BAT entry %" PRIu64 ": reserved bits 3-19 are "
               "set (MS-VHDX 2.5.1)", i);
        corrupt(res, fix);
    }
    int offset_reserved = is_sb ? st == VHDX_SB_NOT_PRESENT
                                : st == VHDX_PAYLOAD_NOT_PRESENT ||
                                      st == VHDX_PAYLOAD_ZERO;
    if (offset_reserved && vhdx_bat_offset(e)) {
        report(s, "ERROR", "BAT entry %" PRIu64 ": FileOffsetMB of a %s "
               "entry is reserved and must be zero; Hyper-V fails such "
               "files (MS-VHDX 2.5.1.%d)", i,
               is_sb ? "SB_BLOCK_NOT_PRESENT"
                     : st ? "PAYLOAD_BLOCK_ZERO" : "PAYLOAD_BLOCK_NOT_PRESENT",
               is_sb ? 2 : 1);
        corrupt(res, fix);
        good = st;
    }
    if (!is_sb && st == VHDX_PAYLOAD_UNMAPPED_V095) {
        report(s, "ERROR", "BAT entry %" PRIu64 ": state 5 is reserved (it "
               "was UNMAPPED in draft 0.95) (MS-VHDX 2.5.1.1)", i);
        corrupt(res, fix);
        good = VHDX_PAYLOAD_UNMAPPED;
    }
    return good;
}

/* The extent an entry occupies in the file, if any. */
static int entry_extent(const vhdx_state *s, uint64_t i, uint64_t e,
                        int is_sb, used *u)
{
    unsigned st = vhdx_bat_state(e);
    uint64_t off = vhdx_bat_offset(e);
    int occupies = is_sb ? st == VHDX_SB_PRESENT
                         : st == VHDX_PAYLOAD_FULLY_PRESENT ||
                               st == VHDX_PAYLOAD_PARTIALLY_PRESENT ||
                               ((st == VHDX_PAYLOAD_UNDEFINED ||
                                 st == VHDX_PAYLOAD_UNMAPPED) && off);
    if (!occupies) {
        return 0;
    }
    *u = (used){ off, off + (is_sb ? VHDX_SB_BLOCK_SIZE : s->p.block_size),
                 i };
    return 1;
}

/* Fixed structures: header section, log, regions. */
static size_t fixed_used(const vhdx_state *s, used *u)
{
    size_t n = 0;
    u[n++] = (used){ 0, VHDX_HEADER_SECTION, UINT64_MAX };
    if (s->log_length) {
        u[n++] = (used){ s->log_offset, s->log_offset + s->log_length,
                         UINT64_MAX };
    }
    for (unsigned i = 0; i < s->rt.count; i++) {
        const vhdx_region *e = &s->rt.entries[i];
        if (e->length) {
            u[n++] = (used){ e->offset, e->offset + e->length, UINT64_MAX };
        }
    }
    return n;
}

/* Overlaps between sorted extents; returns the end of the last one. */
static uint64_t check_overlaps(vhdx_state *s, used *u, size_t n,
                               img_check_result *res)
{
    qsort(u, n, sizeof(*u), used_cmp);
    uint64_t end = 0;
    size_t last = 0;
    for (size_t k = 0; k < n; k++) {
        if (k > 0 && u[k].start < end) {
            report(s, "ERROR", "BAT entry %" PRIu64 " at %#" PRIx64
                   " overlaps %s%" PRIu64 ": blocks must not overlap each "
                   "other or any structure (MS-VHDX 2.5.1)", u[k].index,
                   u[k].start, u[last].index == UINT64_MAX
                                   ? "a header/log/region structure ending at "
                                   : "BAT entry ",
                   u[last].index == UINT64_MAX ? end : u[last].index);
            res->corruptions++;
        }
        if (u[k].end > end) {
            end = u[k].end;
            last = k;
        }
    }
    return end;
}

/* Entry rules, repairs and the overlap check; *end gets the end of the
 * last structure. */
static void check_bat(vhdx_state *s, img_check_result *res, unsigned fix,
                      uint64_t *end)
{
    used *u = malloc((s->bat_needed + s->rt.count + 2) * sizeof(*u));
    if (!u) {
        res->check_errors++;
        return;
    }
    size_t n = fixed_used(s, u);
    uint64_t cr = s->chunk_ratio;
    int changed = 0;
    for (uint64_t i = 0; i < s->bat_needed; i++) {
        int is_sb = i % (cr + 1) == cr;
        uint64_t b = i / (cr + 1) * cr + i % (cr + 1);
        if (!is_sb && b >= s->n_payload) {
            continue;
        }
        uint64_t good = check_entry_bits(s, i, s->bat[i], is_sb, res, fix);
        if (good != s->bat[i] && (fix & IMG_FIX_ERRORS)) {
            vhdx_bat_set(s, i, good);
            changed++;
        }
        n += entry_extent(s, i, s->bat[i], is_sb, &u[n]);
    }
    *end = check_overlaps(s, u, n, res);
    free(u);
    if (changed) {
        int r = vhdx_begin_write(s, 0, NULL);
        r = r < 0 ? r : vhdx_bat_commit(s, NULL);
        res->corruptions -= r >= 0 ? changed : 0;
        res->corruptions_fixed += r >= 0 ? changed : 0;
        res->check_errors += r < 0;
    }
}

/* ---- leaks ---- */

static void check_leaks(vhdx_state *s, img_check_result *res, unsigned fix,
                        uint64_t end)
{
    uint64_t size;
    if (img_file_size(s->file, &size, NULL) < 0) {
        res->check_errors++;
        return;
    }
    end = vhdx_round_up(end, VHDX_MIB);
    if (size <= end) {
        return;
    }
    uint64_t mib = (size - end + VHDX_MIB - 1) / VHDX_MIB;
    report(s, "Leaked", "space: %" PRIu64 " bytes after the last structure "
           "at %#" PRIx64, size - end, end);
    res->leaks += (int)(mib > INT32_MAX ? INT32_MAX : mib);
    if (!(fix & IMG_FIX_LEAKS)) {
        return;
    }
    /* The log must not name a size above the new one (2.3.1.1): empty it
     * first. */
    int r = vhdx_end_write(s, NULL);
    if (r >= 0) {
        r = img_file_truncate(s->file, end, NULL);
    }
    if (r >= 0) {
        r = vhdx_flush_file(s, NULL);
        s->file_end = end;
        s->n_free = 0;
    }
    if (r >= 0) {
        res->leaks_fixed += res->leaks;
        res->leaks = 0;
    } else {
        res->check_errors++;
    }
}

int vhdx_check(img *im, img_check_result *res, unsigned fix, img_err *err)
{
    (void)err;
    vhdx_state *s = im->state;
    uint64_t end = 0;
    check_log(s, res);
    check_headers(s, res, fix);
    check_regions(s, res, fix);
    check_metadata(s, res);
    check_bat(s, res, fix, &end);
    check_parent(s, res);
    check_leaks(s, res, fix, end);
    return 0;
}
