/* formats/vhdx/vhdx_header.c -- the VHDX header section: GUIDs, the file
 * type identifier, the two headers and the two region tables.
 *
 * Spec: [MS-VHDX] 2.2.1 (file type identifier), 2.2.2 (headers: CRC-32C
 * with the checksum field zeroed; the valid header with the greater
 * SequenceNumber is current), 2.2.2.1 (updating the headers), 2.2.3
 * (region table: at most 2047 entries, MB-aligned non-overlapping regions,
 * unknown required regions refuse the file).  Decoders take a buffer and
 * its length and range-check every field; the load functions read the
 * file and apply the rules that need more than one structure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "vhdx.h"

/* A GUID from its textual parts, in binary (Data1-3 little-endian). */
#define GUID_LE(d1, d2, d3, a, b, c, d, e, f, g, h)                        \
    { { (d1) & 0xff, ((d1) >> 8) & 0xff, ((d1) >> 16) & 0xff,              \
        ((d1) >> 24) & 0xff, (d2) & 0xff, ((d2) >> 8) & 0xff, (d3) & 0xff,   \
        ((d3) >> 8) & 0xff, a, b, c, d, e, f, g, h } }

const vhdx_guid vhdx_guid_bat = GUID_LE(
    0x2dc27766, 0xf623, 0x4200, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a,
    0x08);
const vhdx_guid vhdx_guid_metadata = GUID_LE(
    0x8b7ca206, 0x4790, 0x4b9a, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88,
    0x6e);
const vhdx_guid vhdx_guid_file_params = GUID_LE(
    0xcaa16737, 0xfa36, 0x4d43, 0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7,
    0x6b);
const vhdx_guid vhdx_guid_disk_size = GUID_LE(
    0x2fa54224, 0xcd1b, 0x4876, 0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4,
    0xb8);
const vhdx_guid vhdx_guid_page83 = GUID_LE(
    0xbeca12ab, 0xb2e6, 0x4523, 0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7,
    0x46);
const vhdx_guid vhdx_guid_logical_sector = GUID_LE(
    0x8141bf1d, 0xa96f, 0x4709, 0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab,
    0x5f);
const vhdx_guid vhdx_guid_physical_sector = GUID_LE(
    0xcda348c7, 0x445d, 0x4471, 0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5,
    0x56);
const vhdx_guid vhdx_guid_parent_locator = GUID_LE(
    0xa8d35f2d, 0xb30b, 0x454d, 0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab,
    0x0c);
const vhdx_guid vhdx_guid_parent_vhdx = GUID_LE(
    0xb04aefb7, 0xd19e, 0x4a81, 0xb7, 0x89, 0x25, 0xb8, 0xe9, 0x44, 0x59,
    0x13);

/* ---- GUIDs ---- */

int vhdx_guid_is_zero(const vhdx_guid *g)
{
    static const vhdx_guid zero;
    return memcmp(g, &zero, sizeof(zero)) == 0;
}

int vhdx_guid_eq(const vhdx_guid *a, const vhdx_guid *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

/* Fills buf from the kernel's random source: getrandom(), or /dev/urandom
 * where the system call is missing (old kernels, seccomp filters).  GUIDs
 * must be unique across files and opens (2.2.2), so there is no weaker
 * fallback. */
static int random_bytes(uint8_t *buf, size_t len, img_err *err)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(buf + done, len - done, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        done += (size_t)n;
    }
    if (done == len) {
        return 0;
    }
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, len);
    if (fd >= 0) {
        close(fd);
    }
    if (n != (ssize_t)len) {
        return img_err_errno(err, EIO, "Could not get random bytes for a "
                             "GUID");
    }
    return 0;
}

/* A version 4 GUID in its binary form: the version lives in the high
 * nibble of Data3 (byte 7, little-endian) and the variant in byte 8. */
int vhdx_guid_generate(vhdx_guid *g, img_err *err)
{
    int r = random_bytes(g->b, sizeof(g->b), err);
    if (r < 0) {
        return r;
    }
    g->b[7] = (uint8_t)((g->b[7] & 0x0f) | 0x40); /* version 4 (Data3) */
    g->b[8] = (uint8_t)((g->b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    return 0;
}

/* Data1-3 are little-endian on disk but printed as numbers; Data4 is
 * printed byte by byte. */
void vhdx_guid_format(const vhdx_guid *g, char out[39])
{
    const uint8_t *b = g->b;
    snprintf(out, 39,
             "{%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}",
             vhdx_le32(b), vhdx_le16(b + 4), vhdx_le16(b + 6), b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Value of one hex digit, or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int vhdx_guid_parse(const char *s, vhdx_guid *g)
{
    /* Byte positions of the 16 bytes in "{01234567-...}" text order. */
    static const int text_to_bin[16] = { 3, 2, 1, 0, 5, 4, 7, 6,
                                         8, 9, 10, 11, 12, 13, 14, 15 };
    if (strlen(s) != 38 || s[0] != '{' || s[37] != '}') {
        return -EINVAL;
    }
    int byte = 0;
    /* Two hex digits per byte; dashes only at their four places. */
    for (int i = 1; i < 37; i++) {
        if (i == 9 || i == 14 || i == 19 || i == 24) {
            if (s[i] != '-') {
                return -EINVAL;
            }
            continue;
        }
        int hi = hex_value(s[i]);
        int lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0) {
            return -EINVAL;
        }
        g->b[text_to_bin[byte++]] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    return 0;
}

/* ---- 2.2.1 file type identifier ---- */

/* Only the signature is checked: the creator string is diagnostic and
 * MUST NOT influence behaviour (2.2.1). */
int vhdx_file_id_decode(const uint8_t *buf, size_t len, img_err *err)
{
    if (len < 8 || memcmp(buf + VHDX_FID_SIG, VHDX_FILE_SIG, 8) != 0) {
        return img_err_set(err, EINVAL, "File type identifier signature is "
                           "not 'vhdxfile' (MS-VHDX 2.2.1)");
    }
    return 0;
}

void vhdx_file_id_encode(uint8_t *buf, size_t len, const char *creator)
{
    memset(buf, 0, len);
    memcpy(buf + VHDX_FID_SIG, VHDX_FILE_SIG, 8);
    /* The creator is diagnostic only; ASCII widened to UTF-16LE. */
    for (size_t i = 0; creator[i] && 2 * i + 2 < VHDX_FID_CREATOR_LEN; i++) {
        buf[VHDX_FID_CREATOR + 2 * i] = (uint8_t)creator[i];
    }
}

/* ---- 2.2.2 headers ---- */

int vhdx_header_decode(const uint8_t *buf, size_t len, vhdx_header *out,
                       img_err *err)
{
    if (len < VHDX_HEADER_SIZE) {
        return img_err_set(err, EINVAL, "truncated");
    }
    if (memcmp(buf + VHDX_HDR_SIG, VHDX_HEADER_SIG, 4) != 0) {
        return img_err_set(err, EINVAL, "signature is not 'head' "
                           "(MS-VHDX 2.2.2)");
    }
    uint32_t stored = vhdx_le32(buf + VHDX_HDR_CHECKSUM);
    uint32_t crc = vhdx_checksum(buf, VHDX_HEADER_SIZE, VHDX_HDR_CHECKSUM);
    if (stored != crc) {
        return img_err_set(err, EINVAL, "checksum %#" PRIx32 " does not "
                           "match the CRC-32C %#" PRIx32 " (MS-VHDX 2.2.2)",
                           stored, crc);
    }
    /* Valid (signature and checksum): decode every field; the rules on
     * their values apply to the current header only (validate below). */
    memset(out, 0, sizeof(*out));
    out->seq = vhdx_le64(buf + VHDX_HDR_SEQ);
    memcpy(out->file_write.b, buf + VHDX_HDR_FILE_WRITE, 16);
    memcpy(out->data_write.b, buf + VHDX_HDR_DATA_WRITE, 16);
    memcpy(out->log_guid.b, buf + VHDX_HDR_LOG_GUID, 16);
    out->log_version = vhdx_le16(buf + VHDX_HDR_LOG_VERSION);
    out->version = vhdx_le16(buf + VHDX_HDR_VERSION);
    out->log_length = vhdx_le32(buf + VHDX_HDR_LOG_LENGTH);
    out->log_offset = vhdx_le64(buf + VHDX_HDR_LOG_OFFSET);
    /* "MUST be set to 0 and ignored": noted for check, not refused. */
    for (size_t i = VHDX_HDR_RESERVED; i < VHDX_HEADER_SIZE; i++) {
        out->reserved_nonzero |= buf[i] != 0;
    }
    return 0;
}

/* The whole 4 KiB (len bytes) is written: reserved bytes are zero and the
 * checksum covers all of them. */
void vhdx_header_encode(const vhdx_header *h, uint8_t *buf, size_t len)
{
    memset(buf, 0, len);
    memcpy(buf + VHDX_HDR_SIG, VHDX_HEADER_SIG, 4);
    vhdx_put64(buf + VHDX_HDR_SEQ, h->seq);
    memcpy(buf + VHDX_HDR_FILE_WRITE, h->file_write.b, 16);
    memcpy(buf + VHDX_HDR_DATA_WRITE, h->data_write.b, 16);
    memcpy(buf + VHDX_HDR_LOG_GUID, h->log_guid.b, 16);
    vhdx_put16(buf + VHDX_HDR_LOG_VERSION, h->log_version);
    vhdx_put16(buf + VHDX_HDR_VERSION, h->version);
    vhdx_put32(buf + VHDX_HDR_LOG_LENGTH, h->log_length);
    vhdx_put64(buf + VHDX_HDR_LOG_OFFSET, h->log_offset);
    vhdx_put32(buf + VHDX_HDR_CHECKSUM,
               vhdx_checksum(buf, VHDX_HEADER_SIZE, VHDX_HDR_CHECKSUM));
}

int vhdx_header_validate(const vhdx_header *h, uint64_t file_size,
                         img_err *err)
{
    if (h->version != VHDX_VERSION) {
        return img_err_set(err, ENOTSUP, "VHDX version %u is not supported "
                           "(MS-VHDX 2.2.2: Version MUST be 1)", h->version);
    }
    if (h->log_version != VHDX_LOG_VERSION &&
        !vhdx_guid_is_zero(&h->log_guid)) {
        return img_err_set(err, ENOTSUP, "Log version %u is not supported "
                           "and the log is not empty (MS-VHDX 2.2.2)",
                           h->log_version);
    }
    if (h->log_length % VHDX_MIB || h->log_offset % VHDX_MIB) {
        return img_err_set(err, EINVAL, "Log offset %#" PRIx64 " or length "
                           "%#" PRIx32 " is not a multiple of 1 MiB "
                           "(MS-VHDX 2.2.2)", h->log_offset, h->log_length);
    }
    if (h->log_length == 0) {
        return 0; /* no log at all: nothing to place */
    }
    /* Our rule on untrusted files: the log lies after the header section
     * and inside the file, so scanning it reads only real bytes. */
    if (h->log_offset < VHDX_HEADER_SECTION ||
        h->log_offset > file_size || h->log_length > file_size -
        h->log_offset) {
        return img_err_set(err, EINVAL, "Log at %#" PRIx64 " (length %#"
                           PRIx32 ") is not between the header section and "
                           "the end of the file (MS-VHDX 2.2.2, 2.3)",
                           h->log_offset, h->log_length);
    }
    return 0;
}

/* Whether two valid headers say the same (Disk2VHD writes such twins). */
static int headers_identical(const vhdx_header *a, const vhdx_header *b)
{
    return a->seq == b->seq && vhdx_guid_eq(&a->file_write, &b->file_write) &&
           vhdx_guid_eq(&a->data_write, &b->data_write) &&
           vhdx_guid_eq(&a->log_guid, &b->log_guid) &&
           a->log_version == b->log_version && a->version == b->version &&
           a->log_length == b->log_length && a->log_offset == b->log_offset;
}

/* Picks the current header of two decoded ones (2.2.2). */
static int pick_current(vhdx_state *s, const img_err *why, img_err *err)
{
    if (!s->hdr_valid[0] && !s->hdr_valid[1]) {
        return img_err_set(err, EINVAL, "No valid header: header 1: %s; "
                           "header 2: %s (MS-VHDX 2.2.2)", why[0].msg,
                           why[1].msg);
    }
    if (s->hdr_valid[0] != s->hdr_valid[1]) {
        s->cur = s->hdr_valid[0] ? 0 : 1;
        return 0;
    }
    if (s->hdr[0].seq != s->hdr[1].seq) {
        s->cur = s->hdr[0].seq > s->hdr[1].seq ? 0 : 1;
        return 0;
    }
    /* Equal numbers leave no current header; identical twins are the one
     * tolerated exception (both say the same, so either is current). */
    if (headers_identical(&s->hdr[0], &s->hdr[1])) {
        s->cur = 0;
        return 0;
    }
    return img_err_set(err, EINVAL, "Both headers have sequence number %"
                       PRIu64 " but differ: no current header "
                       "(MS-VHDX 2.2.2)", s->hdr[0].seq);
}

int vhdx_headers_load(vhdx_state *s, img_err *err)
{
    static const uint64_t where[2] = { VHDX_HEADER1_OFFSET,
                                       VHDX_HEADER2_OFFSET };
    uint8_t buf[VHDX_HEADER_SIZE];
    img_err why[2] = { { 0 }, { 0 } };
    for (int i = 0; i < 2; i++) {
        int r = img_file_pread(s->file, buf, sizeof(buf), where[i], err);
        if (r < 0) {
            img_err_prepend(err, "Could not read header %d: ", i + 1);
            return r;
        }
        s->hdr_valid[i] = vhdx_header_decode(buf, sizeof(buf), &s->hdr[i],
                                             &why[i]) == 0;
    }
    return pick_current(s, why, err);
}

/* Both rounds carry the same new GUIDs: the session's FileWriteGuid is
 * made once per open, a DataWriteGuid once per call that asks for one. */
int vhdx_headers_update(vhdx_state *s, int new_data_guid,
                        const vhdx_guid *log_guid, img_err *err)
{
    static const uint64_t where[2] = { VHDX_HEADER1_OFFSET,
                                       VHDX_HEADER2_OFFSET };
    uint8_t buf[VHDX_HEADER_SIZE];
    int r = 0;
    if (vhdx_guid_is_zero(&s->session_file_guid)) {
        r = vhdx_guid_generate(&s->session_file_guid, err);
    }
    vhdx_guid data_guid = s->hdr[s->cur].data_write;
    if (r >= 0 && new_data_guid) {
        r = vhdx_guid_generate(&data_guid, err);
    }
    for (int round = 0; r >= 0 && round < 2; round++) {
        vhdx_header h = s->hdr[s->cur];
        if (h.seq == UINT64_MAX) {
            return img_err_set(err, EOVERFLOW, "Header sequence number "
                               "cannot grow (MS-VHDX 2.2.2.1)");
        }
        h.seq++;
        h.file_write = s->session_file_guid;
        h.data_write = data_guid;
        h.log_guid = *log_guid;
        h.log_version = VHDX_LOG_VERSION;
        h.reserved_nonzero = 0;
        vhdx_header_encode(&h, buf, sizeof(buf));
        /* Overwrite the non-current copy and flush: until the flush the
         * current one still describes the file (2.2.2.1 step 5). */
        int slot = 1 - s->cur;
        r = img_file_pwrite(s->file, buf, sizeof(buf), where[slot], err);
        if (r >= 0) {
            r = vhdx_flush_file(s, err);
        }
        if (r >= 0) {
            s->hdr[slot] = h;
            s->hdr_valid[slot] = 1;
            s->cur = slot;
        }
    }
    if (r < 0) {
        img_err_prepend(err, "Could not update the headers: ");
    }
    return r;
}

/* ---- 2.2.3 region table ---- */

/* Empty ranges overlap nothing; callers keep the ends below 2^63. */
int vhdx_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* Checks one entry's own fields (2.2.3.2). */
static int region_entry_check(const vhdx_region *e, unsigned i, img_err *err)
{
    if (e->offset % VHDX_MIB || e->offset < VHDX_HEADER_SECTION) {
        return img_err_set(err, EINVAL, "region %u offset %#" PRIx64 " is "
                           "not a multiple of 1 MiB of at least 1 MiB "
                           "(MS-VHDX 2.2.3.2)", i, e->offset);
    }
    if (e->length % VHDX_MIB) {
        return img_err_set(err, EINVAL, "region %u length %#" PRIx32 " is "
                           "not a multiple of 1 MiB (MS-VHDX 2.2.3.2)", i,
                           e->length);
    }
    if (e->offset > VHDX_MAX_FILE_SIZE) {
        return img_err_set(err, EINVAL, "region %u offset %#" PRIx64 " is "
                           "beyond any VHDX file", i, e->offset);
    }
    return 0;
}

int vhdx_region_table_decode(const uint8_t *buf, size_t len,
                             vhdx_region_table *out, img_err *err)
{
    if (len < VHDX_RT_SIZE) {
        return img_err_set(err, EINVAL, "truncated");
    }
    if (memcmp(buf + VHDX_RT_SIG, VHDX_RT_SIGNATURE, 4) != 0) {
        return img_err_set(err, EINVAL, "signature is not 'regi' "
                           "(MS-VHDX 2.2.3.1)");
    }
    uint32_t stored = vhdx_le32(buf + VHDX_RT_CHECKSUM);
    uint32_t crc = vhdx_checksum(buf, VHDX_RT_SIZE, VHDX_RT_CHECKSUM);
    if (stored != crc) {
        return img_err_set(err, EINVAL, "checksum %#" PRIx32 " does not "
                           "match the CRC-32C %#" PRIx32 " (MS-VHDX 2.2.3.1)",
                           stored, crc);
    }
    uint32_t count = vhdx_le32(buf + VHDX_RT_COUNT);
    if (count > VHDX_RT_MAX_ENTRIES) {
        return img_err_set(err, EINVAL, "%" PRIu32 " entries, more than "
                           "2047 (MS-VHDX 2.2.3.1)", count);
    }
    out->count = count;
    out->reserved_nonzero = vhdx_le32(buf + VHDX_RT_RESERVED) != 0;
    /* Each entry is checked alone, then against every earlier one:
     * GUIDs unique, regions not overlapping (at most 2047^2 / 2 pairs). */
    for (unsigned i = 0; i < count; i++) {
        const uint8_t *p = buf + VHDX_RT_HEADER_SIZE + i * VHDX_RT_ENTRY_SIZE;
        vhdx_region *e = &out->entries[i];
        memcpy(e->guid.b, p + VHDX_RTE_GUID, 16);
        e->offset = vhdx_le64(p + VHDX_RTE_OFFSET);
        e->length = vhdx_le32(p + VHDX_RTE_LENGTH);
        e->required_field = vhdx_le32(p + VHDX_RTE_REQUIRED);
        int r = region_entry_check(e, i, err);
        if (r < 0) {
            return r;
        }
        for (unsigned j = 0; j < i; j++) {
            if (vhdx_guid_eq(&out->entries[j].guid, &e->guid)) {
                return img_err_set(err, EINVAL, "regions %u and %u have "
                                   "the same GUID (MS-VHDX 2.2.3.2)", j, i);
            }
            if (vhdx_overlaps(out->entries[j].offset, out->entries[j].length,
                              e->offset, e->length)) {
                return img_err_set(err, EINVAL, "regions %u and %u overlap "
                                   "(MS-VHDX 2.2.3.2)", j, i);
            }
        }
    }
    return 0;
}

void vhdx_region_table_encode(const vhdx_region_table *rt, uint8_t *buf,
                              size_t len)
{
    memset(buf, 0, len);
    memcpy(buf + VHDX_RT_SIG, VHDX_RT_SIGNATURE, 4);
    vhdx_put32(buf + VHDX_RT_COUNT, rt->count);
    for (unsigned i = 0; i < rt->count; i++) {
        uint8_t *p = buf + VHDX_RT_HEADER_SIZE + i * VHDX_RT_ENTRY_SIZE;
        const vhdx_region *e = &rt->entries[i];
        memcpy(p + VHDX_RTE_GUID, e->guid.b, 16);
        vhdx_put64(p + VHDX_RTE_OFFSET, e->offset);
        vhdx_put32(p + VHDX_RTE_LENGTH, e->length);
        vhdx_put32(p + VHDX_RTE_REQUIRED, e->required_field);
    }
    vhdx_put32(buf + VHDX_RT_CHECKSUM,
               vhdx_checksum(buf, VHDX_RT_SIZE, VHDX_RT_CHECKSUM));
}

/* Takes the known regions out of the table; refuses unknown required
 * ones (2.2.3.2) and checks the BAT and metadata regions' sizes. */
static int regions_known(vhdx_state *s, img_err *err)
{
    int have_bat = 0, have_meta = 0;
    for (unsigned i = 0; i < s->rt.count; i++) {
        const vhdx_region *e = &s->rt.entries[i];
        if (vhdx_guid_eq(&e->guid, &vhdx_guid_bat)) {
            s->bat_offset = e->offset;
            s->bat_length = e->length;
            have_bat = 1;
        } else if (vhdx_guid_eq(&e->guid, &vhdx_guid_metadata)) {
            s->meta_offset = e->offset;
            s->meta_length = e->length;
            have_meta = 1;
        } else if (e->required_field & 1) {
            char g[39];
            vhdx_guid_format(&e->guid, g);
            return img_err_set(err, ENOTSUP, "Region %s is required but not "
                               "known to this implementation "
                               "(MS-VHDX 2.2.3.2)", g);
        }
    }
    if (!have_bat || !have_meta) {
        return img_err_set(err, EINVAL, "Region table has no %s region "
                           "(MS-VHDX 2.2.3.2)", have_bat ? "metadata"
                                                         : "BAT");
    }
    if (s->bat_length == 0 || s->meta_length < VHDX_MT_SIZE) {
        return img_err_set(err, EINVAL, "BAT or metadata region is empty "
                           "(MS-VHDX 2.5, 2.6)");
    }
    return 0;
}

/* Every region lies inside the file and clear of the log (2.2.3.2). */
static int regions_placed(vhdx_state *s, uint64_t file_size, img_err *err)
{
    const vhdx_header *h = &s->hdr[s->cur];
    for (unsigned i = 0; i < s->rt.count; i++) {
        const vhdx_region *e = &s->rt.entries[i];
        if (e->offset > file_size || e->length > file_size - e->offset) {
            return img_err_set(err, EINVAL, "Region %u at %#" PRIx64
                               " (length %#" PRIx32 ") is beyond the end of "
                               "the file", i, e->offset, e->length);
        }
        if (vhdx_overlaps(e->offset, e->length, h->log_offset,
                          h->log_length)) {
            return img_err_set(err, EINVAL, "Region %u overlaps the log "
                               "(MS-VHDX 2.2.3.2)", i);
        }
    }
    return 0;
}

/* Copy 1 is used when valid, else copy 2 (2.2.3 does not say which; both
 * are written through the same log entries, so they only differ after
 * damage, which check reports). */
int vhdx_regions_load(vhdx_state *s, uint64_t file_size, img_err *err)
{
    static const uint64_t where[2] = { VHDX_RT1_OFFSET, VHDX_RT2_OFFSET };
    uint8_t *buf = malloc(VHDX_RT_SIZE);
    vhdx_region_table *other = malloc(sizeof(*other));
    img_err why[2] = { { 0 }, { 0 } };
    int r = buf && other ? 0 : img_err_set(err, ENOMEM, "Out of memory");
    int valid[2] = { 0, 0 };
    for (int i = 0; r >= 0 && i < 2; i++) {
        r = vhdx_read(s, buf, VHDX_RT_SIZE, where[i], err);
        vhdx_region_table *t = i == 0 ? &s->rt : other;
        if (r >= 0) {
            valid[i] = vhdx_region_table_decode(buf, VHDX_RT_SIZE, t,
                                                &why[i]) == 0;
        }
    }
    if (r >= 0 && !valid[0] && !valid[1]) {
        r = img_err_set(err, EINVAL, "No valid region table: copy 1: %s; "
                        "copy 2: %s (MS-VHDX 2.2.3)", why[0].msg,
                        why[1].msg);
    }
    if (r >= 0 && !valid[0]) {
        memcpy(&s->rt, other, sizeof(*other));
        s->rt_used = 1;
    }
    free(buf);
    free(other);
    if (r >= 0) {
        r = regions_known(s, err);
    }
    if (r >= 0) {
        r = regions_placed(s, file_size, err);
    }
    return r;
}
