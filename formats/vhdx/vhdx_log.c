/* formats/vhdx/vhdx_log.c -- the VHDX log: finding and replaying the
 * active sequence when a file is opened, and writing metadata updates
 * through the log.
 *
 * Spec: [MS-VHDX] 2.3 (the log is a ring of 4 KiB sectors; updates are
 * written to the log, flushed, applied, flushed), 2.3.1 (entry: header and
 * descriptors in the first sectors, then one data sector per data
 * descriptor; CRC-32C over the whole entry), 2.3.2 (a sequence is entries
 * with consecutive sequence numbers and the header's LogGuid), 2.3.3
 * (replay the newest valid sequence whose head's Tail lies inside it,
 * before any other I/O; refuse a file shorter than FlushedFileOffset;
 * extend it to LastFileOffset).  A read-only open replays into memory
 * (note 5): vhdx_read() lays the recorded updates over the file's bytes.
 *
 * Our own rules on untrusted logs: the log lies inside the file, no update
 * may touch the file identifier or the headers (2.2.1, 2.2.2 say these are
 * never written through the log) or the log itself, updates end within
 * LastFileOffset, a read-only replay holds at most VHDX_MAX_RO_REPLAY bytes
 * of data, and the search for the active sequence has a work bound.
 *
 * Writing: each entry's Tail is the previous entry while that entry's
 * applied updates are not yet flushed, else the entry itself, so a crash at
 * any point leaves a sequence whose replay restores every update.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"

/* Descriptor slots per log sector; the entry header takes two. */
#define DESC_PER_SECTOR (VHDX_LOG_SECTOR / VHDX_DESC_SIZE)

/* One validated log entry. */
typedef struct log_entry {
    uint32_t pos;      /* ring offset */
    uint32_t length;   /* EntryLength */
    uint32_t tail;     /* Tail */
    uint32_t n_desc;   /* DescriptorCount */
    uint64_t seq;      /* SequenceNumber */
    uint64_t flushed;  /* FlushedFileOffset */
    uint64_t last;     /* LastFileOffset */
} log_entry;

/* The search state: what is known about each 4 KiB position. */
enum { POS_UNKNOWN, POS_INVALID, POS_VALID };
typedef struct log_scan {
    vhdx_state *s;
    uint32_t n_pos;        /* log sectors */
    uint8_t *known;        /* POS_* per position */
    log_entry *at;         /* the entry starting there, when POS_VALID */
    uint64_t budget;       /* entry steps left before giving up */
    uint8_t *sec;          /* one sector of scratch */
} log_scan;

/* One descriptor, decoded. */
typedef struct log_desc {
    int is_data;
    uint32_t trailing;
    uint64_t leading;      /* data: LeadingBytes; zero: ZeroLength */
    uint64_t offset;
    uint64_t seq;
} log_desc;

static uint32_t desc_sectors(uint64_t n_desc)
{
    return (uint32_t)((n_desc + 2 + DESC_PER_SECTOR - 1) / DESC_PER_SECTOR);
}

/* Reads len bytes at ring offset pos, wrapping at the end of the log. */
static int ring_read(vhdx_state *s, uint32_t pos, uint8_t *buf, uint32_t len,
                     img_err *err)
{
    uint32_t first = s->log_length - pos < len ? s->log_length - pos : len;
    int r = img_file_pread(s->file, buf, first, s->log_offset + pos, err);
    if (r >= 0 && first < len) {
        r = img_file_pread(s->file, buf + first, len - first, s->log_offset,
                           err);
    }
    return r;
}

static int ring_write(vhdx_state *s, uint32_t pos, const uint8_t *buf,
                      uint32_t len, img_err *err)
{
    uint32_t first = s->log_length - pos < len ? s->log_length - pos : len;
    int r = img_file_pwrite(s->file, buf, first, s->log_offset + pos, err);
    if (r >= 0 && first < len) {
        r = img_file_pwrite(s->file, buf + first, len - first, s->log_offset,
                            err);
    }
    return r;
}

/* ---- validation (2.3.1) ---- */

/* The entry header's own fields; fills e.  1 valid, 0 not. */
static int header_ok(const vhdx_state *s, const uint8_t *p, uint32_t pos,
                     log_entry *e)
{
    e->pos = pos;
    e->length = vhdx_le32(p + VHDX_LOGE_LENGTH);
    e->tail = vhdx_le32(p + VHDX_LOGE_TAIL);
    e->seq = vhdx_le64(p + VHDX_LOGE_SEQ);
    e->n_desc = vhdx_le32(p + VHDX_LOGE_DESC_COUNT);
    e->flushed = vhdx_le64(p + VHDX_LOGE_FLUSHED);
    e->last = vhdx_le64(p + VHDX_LOGE_LAST);
    return memcmp(p + VHDX_LOGE_SIG, VHDX_LOG_ENTRY_SIG, 4) == 0 &&
           e->length % VHDX_LOG_SECTOR == 0 && e->length != 0 &&
           e->length <= s->log_length && e->tail % VHDX_LOG_SECTOR == 0 &&
           e->tail < s->log_length && e->seq != 0 &&
           vhdx_le32(p + VHDX_LOGE_RESERVED) == 0 &&
           memcmp(p + VHDX_LOGE_LOG_GUID, s->hdr[s->cur].log_guid.b, 16) ==
               0 &&
           (uint64_t)desc_sectors(e->n_desc) * VHDX_LOG_SECTOR <= e->length &&
           e->flushed <= VHDX_MAX_FILE_SIZE && e->last <= VHDX_MAX_FILE_SIZE;
}

static void desc_decode(const uint8_t *p, log_desc *d)
{
    d->is_data = memcmp(p + VHDX_DESC_SIG, VHDX_DATA_DESC_SIG, 4) == 0;
    d->trailing = vhdx_le32(p + VHDX_DESC_TRAILING);
    d->leading = vhdx_le64(p + VHDX_DESC_LEADING);
    d->offset = vhdx_le64(p + VHDX_DESC_OFFSET);
    d->seq = vhdx_le64(p + VHDX_DESC_SEQ);
}

/* A descriptor's rules (2.3.1.2, 2.3.1.3) and ours on its target. */
static int desc_ok(const vhdx_state *s, const uint8_t *p, const log_entry *e)
{
    log_desc d;
    desc_decode(p, &d);
    int is_zero = memcmp(p + VHDX_DESC_SIG, VHDX_ZERO_DESC_SIG, 4) == 0;
    uint64_t len = d.is_data ? VHDX_LOG_SECTOR : d.leading;
    uint64_t limit = vhdx_round_up(e->last, VHDX_MIB);
    if ((!d.is_data && !is_zero) || d.seq != e->seq ||
        d.offset % VHDX_LOG_SECTOR || len % VHDX_LOG_SECTOR || len == 0 ||
        (is_zero && d.trailing != 0)) {
        return 0;
    }
    return d.offset >= VHDX_RT1_OFFSET && d.offset <= limit &&
           len <= limit - d.offset &&
           !vhdx_overlaps(d.offset, len, s->log_offset, s->log_length);
}

/* Data sector k of an entry: signature and both sequence halves. */
static int data_ok(const uint8_t *p, uint64_t seq)
{
    return memcmp(p + VHDX_DATA_SIG, VHDX_DATA_SECTOR_SIG, 4) == 0 &&
           vhdx_le32(p + VHDX_DATA_SEQ_HIGH) == (uint32_t)(seq >> 32) &&
           vhdx_le32(p + VHDX_DATA_SEQ_LOW) == (uint32_t)seq;
}

/* Checks the descriptors held in one descriptor sector; counts the data
 * descriptors.  first: index of the first slot's descriptor. */
static int desc_sector_ok(const vhdx_state *s, const uint8_t *sec,
                          unsigned slot0, uint64_t first, const log_entry *e,
                          uint64_t *n_data)
{
    for (unsigned k = slot0; k < DESC_PER_SECTOR; k++) {
        uint64_t i = first + k - slot0;
        if (i >= e->n_desc) {
            break;
        }
        const uint8_t *p = sec + k * VHDX_DESC_SIZE;
        if (!desc_ok(s, p, e)) {
            return 0;
        }
        *n_data += memcmp(p, VHDX_DATA_DESC_SIG, 4) == 0;
    }
    return 1;
}

/* Validates the entry at pos completely: header, every descriptor, every
 * data sector, the number of data sectors and the checksum.  Returns 1
 * valid (e filled), 0 not, < 0 on I/O errors. */
static int entry_validate(log_scan *sc, uint32_t pos, log_entry *e,
                          img_err *err)
{
    vhdx_state *s = sc->s;
    static const uint8_t zero[4];
    int r = ring_read(s, pos, sc->sec, VHDX_LOG_SECTOR, err);
    if (r < 0 || !header_ok(s, sc->sec, pos, e)) {
        return r < 0 ? r : 0;
    }
    uint32_t stored = vhdx_le32(sc->sec + VHDX_LOGE_CHECKSUM);
    uint32_t crc = vhdx_crc32c(0, sc->sec, VHDX_LOGE_CHECKSUM);
    crc = vhdx_crc32c(crc, zero, 4);
    crc = vhdx_crc32c(crc, sc->sec + 8, VHDX_LOG_SECTOR - 8);
    uint32_t ds = desc_sectors(e->n_desc), total = e->length / VHDX_LOG_SECTOR;
    uint64_t n_data = 0;
    int ok = desc_sector_ok(s, sc->sec, 2, 0, e, &n_data);
    for (uint32_t k = 1; ok && k < total; k++) {
        uint32_t at = (uint32_t)((pos + (uint64_t)k * VHDX_LOG_SECTOR) %
                                 s->log_length);
        r = ring_read(s, at, sc->sec, VHDX_LOG_SECTOR, err);
        if (r < 0) {
            return r;
        }
        crc = vhdx_crc32c(crc, sc->sec, VHDX_LOG_SECTOR);
        if (k < ds) {
            ok = desc_sector_ok(s, sc->sec, 0,
                                (uint64_t)k * DESC_PER_SECTOR - 2, e, &n_data);
        } else {
            ok = data_ok(sc->sec, e->seq);
        }
    }
    return ok && n_data == total - ds && crc == stored;
}

/* The entry at pos, validated once and remembered. */
static int entry_at(log_scan *sc, uint32_t pos, log_entry **e, img_err *err)
{
    uint32_t i = pos / VHDX_LOG_SECTOR;
    if (sc->known[i] == POS_UNKNOWN) {
        int r = entry_validate(sc, pos, &sc->at[i], err);
        if (r < 0) {
            return r;
        }
        sc->known[i] = r ? POS_VALID : POS_INVALID;
    }
    *e = sc->known[i] == POS_VALID ? &sc->at[i] : NULL;
    return 0;
}

/* ---- finding the active sequence (2.3.3) ---- */

/* A sequence: its entries' positions in order (into sc->at). */
typedef struct log_seq {
    uint32_t *pos;
    uint32_t n;
    uint64_t bytes;        /* ring bytes it covers */
} log_seq;

/* Step 3: extends cur from its start while entries follow each other with
 * consecutive sequence numbers. */
static int seq_extend(log_scan *sc, uint32_t start, log_seq *cur,
                      img_err *err)
{
    vhdx_state *s = sc->s;
    uint32_t pos = start;
    uint64_t want = 0;
    cur->n = 0;
    cur->bytes = 0;
    for (;;) {
        log_entry *e;
        if (sc->budget-- == 0) {
            return img_err_set(err, EINVAL, "Log search gave up: too many "
                               "entries to examine (MS-VHDX 2.3.3)");
        }
        int r = entry_at(sc, pos, &e, err);
        if (r < 0) {
            return r;
        }
        if (!e || (want && e->seq != want) ||
            cur->bytes + e->length > s->log_length) {
            return 0;
        }
        cur->pos[cur->n++] = pos;
        cur->bytes += e->length;
        want = e->seq + 1;
        pos = (uint32_t)((pos + (uint64_t)e->length) % s->log_length);
    }
}

/* Step 4: the head's Tail is the start of one of the entries. */
static int seq_valid(const log_scan *sc, const log_seq *cur)
{
    if (cur->n == 0) {
        return 0;
    }
    uint32_t tail = sc->at[cur->pos[cur->n - 1] / VHDX_LOG_SECTOR].tail;
    for (uint32_t i = 0; i < cur->n; i++) {
        if (cur->pos[i] == tail) {
            return 1;
        }
    }
    return 0;
}

static uint64_t seq_head_seq(const log_scan *sc, const log_seq *q)
{
    return sc->at[q->pos[q->n - 1] / VHDX_LOG_SECTOR].seq;
}

/* Steps 1-7: scans the whole ring, keeping the best valid sequence. */
static int seq_search(log_scan *sc, log_seq *best, img_err *err)
{
    vhdx_state *s = sc->s;
    log_seq cur = { .pos = malloc(sc->n_pos * sizeof(uint32_t)) };
    if (!cur.pos) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    uint64_t tail = 0, old_tail = 0, scanned = 0;
    int r = 0;
    while (r >= 0) {
        r = seq_extend(sc, (uint32_t)tail, &cur, err);
        int valid = r >= 0 && seq_valid(sc, &cur);
        if (valid && (best->n == 0 ||
                      seq_head_seq(sc, &cur) > seq_head_seq(sc, best))) {
            memcpy(best->pos, cur.pos, cur.n * sizeof(uint32_t));
            best->n = cur.n;
            best->bytes = cur.bytes;
        }
        uint64_t step = valid ? cur.bytes : VHDX_LOG_SECTOR;
        scanned += step;
        tail = (tail + step) % s->log_length;
        if (tail < old_tail || scanned >= s->log_length) {
            break;
        }
        old_tail = tail;
    }
    free(cur.pos);
    return r;
}

/* ---- replay ---- */

/* Where a replayed update goes: the file, or the in-memory overlay. */
static int replay_update(vhdx_state *s, uint64_t off, const uint8_t *data,
                         uint64_t len, uint64_t *ro_bytes, img_err *err)
{
    if (s->writable) {
        return data ? img_file_pwrite(s->file, data, len, off, err)
                    : img_file_write_zeroes(s->file, off, len, err);
    }
    if ((data && (*ro_bytes += len) > VHDX_MAX_RO_REPLAY) ||
        s->n_ovl >= VHDX_MAX_RO_REPLAY / VHDX_LOG_SECTOR) {
        return img_err_set(err, ENOTSUP, "The log holds more than %llu MiB "
                           "of updates to replay read-only; open the image "
                           "read-write to replay it",
                           VHDX_MAX_RO_REPLAY / VHDX_MIB);
    }
    vhdx_overlay_op *ops = realloc(s->ovl, (s->n_ovl + 1) * sizeof(*ops));
    uint8_t *copy = data ? malloc(len) : NULL;
    if (!ops || (data && !copy)) {
        free(copy);
        s->ovl = ops ? ops : s->ovl;
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    if (copy) {
        memcpy(copy, data, len);
    }
    s->ovl = ops;
    ops[s->n_ovl++] = (vhdx_overlay_op){ off, len, copy };
    s->ovl_lo = s->n_ovl == 1 || off < s->ovl_lo ? off : s->ovl_lo;
    s->ovl_hi = off + len > s->ovl_hi ? off + len : s->ovl_hi;
    return 0;
}

/* Replays one validated entry's descriptors in order (2.3.3). */
static int entry_replay(vhdx_state *s, const log_entry *e, uint64_t *ro,
                        img_err *err)
{
    uint8_t *dsec = malloc(VHDX_LOG_SECTOR), *data = malloc(VHDX_LOG_SECTOR);
    int r = dsec && data ? 0 : img_err_set(err, ENOMEM, "Out of memory");
    uint32_t ds = desc_sectors(e->n_desc), loaded = UINT32_MAX, k = 0;
    for (uint64_t i = 0; r >= 0 && i < e->n_desc; i++) {
        uint32_t sector = (uint32_t)((i + 2) / DESC_PER_SECTOR);
        uint64_t at = e->pos + (uint64_t)sector * VHDX_LOG_SECTOR;
        if (sector != loaded) {
            r = ring_read(s, (uint32_t)(at % s->log_length), dsec,
                          VHDX_LOG_SECTOR, err);
            loaded = sector;
        }
        log_desc d;
        desc_decode(dsec + ((i + 2) % DESC_PER_SECTOR) * VHDX_DESC_SIZE, &d);
        if (r >= 0 && d.is_data) {
            at = e->pos + (uint64_t)(ds + k++) * VHDX_LOG_SECTOR;
            r = ring_read(s, (uint32_t)(at % s->log_length), data,
                          VHDX_LOG_SECTOR, err);
            vhdx_put64(data, d.leading);
            vhdx_put32(data + VHDX_DATA_SEQ_LOW, d.trailing);
        }
        if (r >= 0) {
            r = replay_update(s, d.offset, d.is_data ? data : NULL,
                              d.is_data ? VHDX_LOG_SECTOR : d.leading, ro,
                              err);
        }
    }
    free(dsec);
    free(data);
    return r;
}

/* Replays entries from the head's Tail to the head, then extends the file
 * to the head's LastFileOffset (2.3.3). */
static int seq_replay(log_scan *sc, const log_seq *q, uint64_t *file_size,
                      img_err *err)
{
    vhdx_state *s = sc->s;
    const log_entry *head = &sc->at[q->pos[q->n - 1] / VHDX_LOG_SECTOR];
    if (*file_size < head->flushed) {
        return img_err_set(err, EINVAL, "File is %" PRIu64 " bytes, shorter "
                           "than the log's FlushedFileOffset %" PRIu64
                           ": truncated (MS-VHDX 2.3.3)", *file_size,
                           head->flushed);
    }
    uint32_t first = 0;
    while (q->pos[first] != head->tail) {
        first++;
    }
    uint64_t ro = 0;
    int r = 0;
    for (uint32_t i = first; r >= 0 && i < q->n; i++) {
        r = entry_replay(s, &sc->at[q->pos[i] / VHDX_LOG_SECTOR], &ro, err);
    }
    if (r >= 0 && *file_size < head->last) {
        if (s->writable) {
            r = img_file_truncate(s->file, head->last, err);
        }
        *file_size = head->last;
    }
    s->log_seq = head->seq + 1;
    return r;
}

/* Replays on the file: headers first (new FileWriteGuid), then the
 * updates, a flush, and a cleared LogGuid (2.2.2, 2.3.3). */
static int replay_writable(log_scan *sc, const log_seq *q,
                           uint64_t *file_size, img_err *err)
{
    vhdx_state *s = sc->s;
    vhdx_guid keep = s->hdr[s->cur].log_guid;
    static const vhdx_guid none;
    int r = vhdx_headers_update(s, 0, &keep, err);
    if (r >= 0) {
        r = seq_replay(sc, q, file_size, err);
    }
    if (r >= 0) {
        r = vhdx_flush_file(s, err);
    }
    if (r >= 0) {
        r = vhdx_headers_update(s, 0, &none, err);
    }
    s->replayed_on_open = r >= 0;
    return r;
}

/* LogGuid names a log without a valid sequence.  2.3.3 calls such a file
 * corrupt, but a writer cut off between setting LogGuid and writing its
 * first entry leaves exactly this, with nothing to replay: we read it as
 * an empty log, and a writable open clears LogGuid (a repair). */
static int log_stale(vhdx_state *s, img_err *err)
{
    static const vhdx_guid none;
    s->log_stale = 1;
    if (!s->writable) {
        return 0;
    }
    int r = vhdx_headers_update(s, 0, &none, err);
    s->replayed_on_open = r >= 0;
    return r;
}

static void scan_free(log_scan *sc)
{
    free(sc->known);
    free(sc->at);
    free(sc->sec);
}

int vhdx_log_open(vhdx_state *s, uint64_t *file_size, img_err *err)
{
    const vhdx_header *h = &s->hdr[s->cur];
    s->log_offset = h->log_offset;
    s->log_length = h->log_length;
    s->log_seq = 1;
    if (vhdx_guid_is_zero(&h->log_guid) || h->log_length == 0) {
        return 0; /* empty log: nothing to replay */
    }
    log_scan sc = { .s = s, .n_pos = h->log_length / VHDX_LOG_SECTOR };
    sc.known = calloc(sc.n_pos, 1);
    sc.at = malloc(sc.n_pos * sizeof(*sc.at));
    sc.sec = malloc(VHDX_LOG_SECTOR);
    sc.budget = 8 * (uint64_t)sc.n_pos + 4096;
    log_seq best = { .pos = malloc(sc.n_pos * sizeof(uint32_t)) };
    int r = sc.known && sc.at && sc.sec && best.pos
                ? seq_search(&sc, &best, err)
                : img_err_set(err, ENOMEM, "Out of memory");
    if (r >= 0 && best.n > 0) {
        r = s->writable ? replay_writable(&sc, &best, file_size, err)
                        : seq_replay(&sc, &best, file_size, err);
    } else if (r >= 0) {
        r = log_stale(s, err);
    }
    if (r < 0) {
        img_err_prepend(err, "Log replay: ");
    }
    free(best.pos);
    scan_free(&sc);
    return r;
}

void vhdx_overlay_apply(const vhdx_state *s, uint8_t *buf, uint64_t len,
                        uint64_t off)
{
    if (s->n_ovl == 0 || off >= s->ovl_hi || off + len <= s->ovl_lo) {
        return;
    }
    for (size_t i = 0; i < s->n_ovl; i++) {
        const vhdx_overlay_op *op = &s->ovl[i];
        uint64_t lo = op->offset > off ? op->offset : off;
        uint64_t hi = op->offset + op->length < off + len
                          ? op->offset + op->length : off + len;
        if (lo >= hi) {
            continue;
        }
        if (op->data) {
            memcpy(buf + (lo - off), op->data + (lo - op->offset), hi - lo);
        } else {
            memset(buf + (lo - off), 0, hi - lo);
        }
    }
}

void vhdx_overlay_free(vhdx_state *s)
{
    for (size_t i = 0; i < s->n_ovl; i++) {
        free(s->ovl[i].data);
    }
    free(s->ovl);
    s->ovl = NULL;
    s->n_ovl = 0;
}

/* ---- writing (2.3) ---- */

/* Data descriptors that fit one entry in an empty log of n sectors. */
static size_t max_per_entry(uint32_t n_sectors)
{
    size_t n = n_sectors > 1 ? n_sectors - 1 : 0;
    while (n > 0 && desc_sectors(n) + n > n_sectors) {
        n--;
    }
    return n;
}

/* Builds one entry for updates u[0..n) into buf (zeroed, len bytes). */
static void entry_build(vhdx_state *s, const vhdx_log_update *u, size_t n,
                        uint32_t tail, uint8_t *buf, uint32_t len)
{
    uint32_t ds = desc_sectors(n);
    uint64_t last = vhdx_round_up(s->file_end, VHDX_MIB);
    for (size_t i = 0; i < n; i++) {
        uint8_t *d = buf + (i + 2) * VHDX_DESC_SIZE;
        uint8_t *sec = buf + (ds + i) * (size_t)VHDX_LOG_SECTOR;
        memcpy(d + VHDX_DESC_SIG, VHDX_DATA_DESC_SIG, 4);
        vhdx_put32(d + VHDX_DESC_TRAILING, vhdx_le32(u[i].data + 4092));
        vhdx_put64(d + VHDX_DESC_LEADING, vhdx_le64(u[i].data));
        vhdx_put64(d + VHDX_DESC_OFFSET, u[i].offset);
        vhdx_put64(d + VHDX_DESC_SEQ, s->log_seq);
        memcpy(sec + VHDX_DATA_SIG, VHDX_DATA_SECTOR_SIG, 4);
        vhdx_put32(sec + VHDX_DATA_SEQ_HIGH, (uint32_t)(s->log_seq >> 32));
        memcpy(sec + VHDX_DATA_BYTES, u[i].data + VHDX_DATA_BYTES, 4084);
        vhdx_put32(sec + VHDX_DATA_SEQ_LOW, (uint32_t)s->log_seq);
        if (u[i].offset + VHDX_LOG_SECTOR > last) {
            last = vhdx_round_up(u[i].offset + VHDX_LOG_SECTOR, VHDX_MIB);
        }
    }
    memcpy(buf + VHDX_LOGE_SIG, VHDX_LOG_ENTRY_SIG, 4);
    vhdx_put32(buf + VHDX_LOGE_LENGTH, len);
    vhdx_put32(buf + VHDX_LOGE_TAIL, tail);
    vhdx_put64(buf + VHDX_LOGE_SEQ, s->log_seq);
    vhdx_put32(buf + VHDX_LOGE_DESC_COUNT, (uint32_t)n);
    memcpy(buf + VHDX_LOGE_LOG_GUID, s->hdr[s->cur].log_guid.b, 16);
    vhdx_put64(buf + VHDX_LOGE_FLUSHED,
               s->flushed_size / VHDX_MIB * VHDX_MIB);
    vhdx_put64(buf + VHDX_LOGE_LAST, last);
    vhdx_put32(buf + VHDX_LOGE_CHECKSUM,
               vhdx_checksum(buf, len, VHDX_LOGE_CHECKSUM));
}

/* Writes one entry: log, flush, apply (2.3 steps 1-3; step 4 is the next
 * flush, until which this entry stays the Tail of the next one). */
static int entry_write(vhdx_state *s, const vhdx_log_update *u, size_t n,
                       img_err *err)
{
    uint32_t len = (desc_sectors(n) + (uint32_t)n) * VHDX_LOG_SECTOR;
    int r = 0;
    if (s->pend_len + (uint64_t)len > s->log_length) {
        r = vhdx_flush_file(s, err); /* the pending entry is done with */
    }
    uint8_t *buf = r >= 0 ? calloc(1, len) : NULL;
    if (r >= 0 && !buf) {
        r = img_err_set(err, ENOMEM, "Out of memory");
    }
    uint32_t pos = s->log_head;
    if (r >= 0) {
        entry_build(s, u, n, s->pend_len ? s->pend_pos : pos, buf, len);
        r = ring_write(s, pos, buf, len, err);
    }
    free(buf);
    if (r >= 0) {
        r = vhdx_flush_file(s, err);
    }
    for (size_t i = 0; r >= 0 && i < n; i++) {
        r = img_file_pwrite(s->file, u[i].data, VHDX_LOG_SECTOR, u[i].offset,
                            err);
    }
    if (r >= 0) {
        s->pend_pos = pos;
        s->pend_len = len;
        s->log_head = (uint32_t)((pos + (uint64_t)len) % s->log_length);
        s->log_seq++;
    }
    return r;
}

int vhdx_log_write(vhdx_state *s, const vhdx_log_update *u, size_t n,
                   img_err *err)
{
    size_t per = max_per_entry(s->log_length / VHDX_LOG_SECTOR);
    if (!s->log_active || per == 0) {
        return img_err_set(err, EINVAL, "The image has no usable log "
                           "(MS-VHDX 2.3)");
    }
    for (size_t done = 0; done < n;) {
        size_t k = n - done < per ? n - done : per;
        int r = entry_write(s, u + done, k, err);
        if (r < 0) {
            img_err_prepend(err, "Log write: ");
            return r;
        }
        done += k;
    }
    return 0;
}
