/* formats/vmdk/vmdk_descriptor.c -- the VMDK descriptor: a small text file
 * (or text embedded in a sparse extent) naming the disk's extents.
 *
 * Spec: "Virtual Disk Format 5.0", "The Descriptor File": a header
 * (version, CID, parentCID, createType, parentFileNameHint), extent lines
 * "ACCESS SECTORS TYPE "FILE" [OFFSET]" and the disk database (ddb.*).
 * The text is untrusted: lines are parsed with explicit bounds, counts and
 * sizes are capped, and keys that decide what gets opened (createType,
 * parentFileNameHint, CID) may appear only once, so that no two readers
 * can disagree about which value counts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmdk.h"

/* Longest file name we accept in a descriptor. */
#define DESC_NAME_MAX 4096
/* Longest createType value. */
#define DESC_TYPE_MAX 64

/* ---- probing (QEMU's vmdk_probe for text) ---- */

/* Skips "# comment\n" and lines of spaces; then wants "version=N". */
int vmdk_desc_probe(const uint8_t *buf, size_t len)
{
    const char *p = (const char *)buf;
    const char *end = p + len;
    while (p < end) {
        if (*p == '#') {
            while (p < end && *p != '\n') {
                p++;
            }
            p++;
            continue;
        }
        if (*p == ' ') {
            while (p < end && *p == ' ') {
                p++;
            }
            if (p < end && *p == '\r') {
                p++;
            }
            if (p == end || *p != '\n') {
                return 0;
            }
            p++;
            continue;
        }
        size_t left = (size_t)(end - p);
        if (left >= 10 && !strncmp(p, "version=", 8) && p[8] >= '1' &&
            p[8] <= '3' &&
            (p[9] == '\n' || (left >= 11 && p[9] == '\r' && p[10] == '\n'))) {
            return 100;
        }
        return 0;
    }
    return 0;
}

/* ---- small lexing helpers over [p, end) ---- */

/* Blanks separate tokens; line ends are handled by the caller. */
static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* First non-blank at or after p. */
static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && is_blank(*p)) {
        p++;
    }
    return p;
}

/* Trims trailing blanks and '\r'. */
static const char *trim_end(const char *p, const char *end)
{
    while (end > p && (is_blank(end[-1]) || end[-1] == '\r')) {
        end--;
    }
    return end;
}

/* Length of the token at p (up to a blank or end). */
static size_t token_len(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && !is_blank(*q)) {
        q++;
    }
    return (size_t)(q - p);
}

/* Whether the n-byte token at p is word. */
static int token_is(const char *p, size_t n, const char *word)
{
    return n == strlen(word) && !strncmp(p, word, n);
}

/* Decimal number of n characters; -ERANGE past max, -EINVAL if not one. */
static int parse_dec(const char *p, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0) {
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -EINVAL;
        }
        unsigned d = (unsigned)(p[i] - '0');
        if (d > max || v > (max - d) / 10) {
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Hexadecimal 32-bit number (1..8 digits). */
static int parse_hex32(const char *p, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    if (n == 0 || n > 8) {
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            d = (unsigned)(c - 'A' + 10);
        } else {
            return -EINVAL;
        }
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* A copy of [p, p+n) if it is printable text without quotes. */
static char *dup_text(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f || c == '"') {
            return NULL;
        }
    }
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* ---- extent lines ---- */

static const struct {
    const char *name;
    vmdk_ext_type type;
} ext_types[] = {
    { "FLAT", VMDK_EXT_FLAT },
    { "SPARSE", VMDK_EXT_SPARSE },
    { "ZERO", VMDK_EXT_ZERO },
    { "VMFS", VMDK_EXT_VMFS },
    { "VMFSSPARSE", VMDK_EXT_VMFSSPARSE },
};

/* See vmdk.h. */
const char *vmdk_ext_type_name(vmdk_ext_type t)
{
    for (size_t i = 0; i < sizeof(ext_types) / sizeof(ext_types[0]); i++) {
        if (ext_types[i].type == t) {
            return ext_types[i].name;
        }
    }
    return "";
}

/* RW, RDONLY or NOACCESS; -EINVAL for anything else. */
static int access_of(const char *p, size_t n, vmdk_access *out)
{
    if (token_is(p, n, "RW")) {
        *out = VMDK_ACCESS_RW;
    } else if (token_is(p, n, "RDONLY")) {
        *out = VMDK_ACCESS_RDONLY;
    } else if (token_is(p, n, "NOACCESS")) {
        *out = VMDK_ACCESS_NOACCESS;
    } else {
        return -EINVAL;
    }
    return 0;
}

/* An extent type we support; -ENOTSUP for the others (VMFSRDM...). */
static int type_of(const char *p, size_t n, vmdk_ext_type *out)
{
    for (size_t i = 0; i < sizeof(ext_types) / sizeof(ext_types[0]); i++) {
        if (token_is(p, n, ext_types[i].name)) {
            *out = ext_types[i].type;
            return 0;
        }
    }
    return -ENOTSUP;
}

/* The quoted file name at *pp; advances past the closing quote. */
static int parse_name(const char **pp, const char *end, char **out,
                      unsigned line, img_err *err)
{
    const char *p = *pp;
    if (p >= end || *p != '"') {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: extent "
                           "file name must be quoted", line);
    }
    const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
    size_t n = q ? (size_t)(q - p - 1) : 0;
    if (!q || n == 0 || n > DESC_NAME_MAX) {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: bad "
                           "extent file name", line);
    }
    *out = dup_text(p + 1, n);
    if (!*out) {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: extent "
                           "file name has control characters", line);
    }
    *pp = q + 1;
    return 0;
}

/* The optional sector offset after the name, then nothing else. */
static int parse_offset(const char *p, const char *end, vmdk_desc_extent *x,
                        unsigned line, img_err *err)
{
    p = skip_blanks(p, end);
    if (p == end) {
        return 0;
    }
    size_t n = token_len(p, end);
    if (parse_dec(p, n, VMDK_MAX_SECTORS * 8, &x->offset) < 0 ||
        skip_blanks(p + n, end) != end) {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: bad "
                           "extent offset", line);
    }
    if (x->offset && x->type != VMDK_EXT_FLAT && x->type != VMDK_EXT_VMFS) {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: only flat "
                           "extents have an offset", line);
    }
    return 0;
}

/* "ACCESS SECTORS TYPE ["FILE" [OFFSET]]" into *x (name owned by x). */
static int parse_extent(const char *p, const char *end, vmdk_desc_extent *x,
                        unsigned line, img_err *err)
{
    memset(x, 0, sizeof(*x));
    size_t n = token_len(p, end);
    access_of(p, n, &x->access); /* the caller checked it */
    p = skip_blanks(p + n, end);
    n = token_len(p, end);
    int r = parse_dec(p, n, VMDK_MAX_SECTORS, &x->sectors);
    if (r < 0) {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: bad "
                           "extent size (0 to %" PRIu64 " sectors)", line,
                           (uint64_t)VMDK_MAX_SECTORS);
    }
    p = skip_blanks(p + n, end);
    n = token_len(p, end);
    if (type_of(p, n, &x->type) < 0) {
        return img_err_set(err, ENOTSUP, "VMDK descriptor line %u: "
                           "unsupported extent type '%.*s'", line,
                           (int)(n < 32 ? n : 32), p);
    }
    p = skip_blanks(p + n, end);
    if (x->type == VMDK_EXT_ZERO && p == end) {
        return 0;
    }
    r = parse_name(&p, end, &x->name, line, err);
    if (r >= 0) {
        r = parse_offset(p, end, x, line, err);
    }
    if (r >= 0 && x->type == VMDK_EXT_ZERO) {
        free(x->name); /* a ZERO extent has no file */
        x->name = NULL;
    }
    return r;
}

/* Appends x (taking its name), within VMDK_MAX_EXTENTS. */
static int add_extent(vmdk_desc *d, const vmdk_desc_extent *x, size_t *cap,
                      img_err *err)
{
    if (d->n_extents >= VMDK_MAX_EXTENTS) {
        return img_err_set(err, E2BIG, "VMDK descriptor has more than %d "
                           "extents", VMDK_MAX_EXTENTS);
    }
    if (d->n_extents == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        vmdk_desc_extent *n = realloc(d->extents, ncap * sizeof(*n));
        if (!n) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        d->extents = n;
        *cap = ncap;
    }
    d->extents[d->n_extents++] = *x;
    return 0;
}

/* ---- key = value lines ---- */

/* Value of a key=value line with blanks and one pair of quotes removed. */
static void unquote(const char **v, const char **vend)
{
    *v = skip_blanks(*v, *vend);
    *vend = trim_end(*v, *vend);
    if (*vend - *v >= 2 && **v == '"' && (*vend)[-1] == '"') {
        (*v)++;
        (*vend)--;
    }
}

/* A string key that may appear once. */
static int set_string(char **slot, const char *key, const char *v,
                      size_t n, size_t max, unsigned line, img_err *err)
{
    if (*slot) {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: "
                           "duplicate '%s'", line, key);
    }
    if (n == 0 || n > max || !(*slot = dup_text(v, n))) {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: bad "
                           "value for '%s'", line, key);
    }
    return 0;
}

/* Seen flags for keys that must appear at most once. */
enum { SEEN_VERSION = 1, SEEN_CID = 2, SEEN_PCID = 4 };

/* A hexadecimal key (CID, parentCID) that may appear once. */
static int set_hex(uint32_t *slot, unsigned *seen, unsigned bit,
                   const char *key, const char *v, size_t n, unsigned line,
                   img_err *err)
{
    if (*seen & bit) {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: "
                           "duplicate '%s'", line, key);
    }
    *seen |= bit;
    if (parse_hex32(v, n, slot) < 0) {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: bad "
                           "value for '%s'", line, key);
    }
    return 0;
}

/* "version" (1 to 3), once. */
static int parse_version(vmdk_desc *d, unsigned *seen, const char *v,
                         size_t n, unsigned line, img_err *err)
{
    uint64_t ver;
    if (*seen & SEEN_VERSION) {
        return img_err_set(err, EINVAL, "VMDK descriptor line %u: "
                           "duplicate 'version'", line);
    }
    *seen |= SEEN_VERSION;
    if (parse_dec(v, n, 3, &ver) < 0 || ver < 1) {
        return img_err_set(err, ENOTSUP, "VMDK descriptor line %u: "
                           "unsupported version", line);
    }
    d->version = (unsigned)ver;
    return 0;
}

/* A "key = value" line; keys we do not need are ignored. */
static int parse_key(vmdk_desc *d, unsigned *seen, const char *p,
                     const char *eq, const char *end, unsigned line,
                     img_err *err)
{
    const char *kend = trim_end(p, eq);
    size_t kn = (size_t)(kend - p);
    const char *v = eq + 1, *vend = end;
    unquote(&v, &vend);
    size_t vn = (size_t)(vend - v);
    if (token_is(p, kn, "version")) {
        return parse_version(d, seen, v, vn, line, err);
    }
    if (token_is(p, kn, "CID")) {
        return set_hex(&d->cid, seen, SEEN_CID, "CID", v, vn, line, err);
    }
    if (token_is(p, kn, "parentCID")) {
        return set_hex(&d->parent_cid, seen, SEEN_PCID, "parentCID", v, vn,
                       line, err);
    }
    if (token_is(p, kn, "createType")) {
        return set_string(&d->create_type, "createType", v, vn,
                          DESC_TYPE_MAX, line, err);
    }
    if (token_is(p, kn, "parentFileNameHint")) {
        return set_string(&d->parent_hint, "parentFileNameHint", v, vn,
                          DESC_NAME_MAX, line, err);
    }
    return 0; /* encoding, ddb.*, changeTrackPath...: not needed */
}

/* One line (without its '\n'). */
static int parse_line(vmdk_desc *d, unsigned *seen, size_t *cap,
                      const char *p, const char *end, unsigned line,
                      img_err *err)
{
    p = skip_blanks(p, end);
    end = trim_end(p, end);
    if (p == end || *p == '#') {
        return 0;
    }
    vmdk_access acc;
    if (access_of(p, token_len(p, end), &acc) == 0) {
        vmdk_desc_extent x;
        int r = parse_extent(p, end, &x, line, err);
        if (r >= 0) {
            r = add_extent(d, &x, cap, err);
        }
        if (r < 0) {
            free(x.name);
        }
        return r;
    }
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (eq) {
        return parse_key(d, seen, p, eq, end, line, err);
    }
    return 0; /* QEMU and VMware ignore lines they do not know */
}

/* See vmdk.h.  Line by line; CID and parentCID default to
 * ffffffff; a version line is required. */
int vmdk_desc_parse(const char *text, size_t len, vmdk_desc *out,
                    img_err *err)
{
    memset(out, 0, sizeof(*out));
    out->cid = 0xffffffffu;
    out->parent_cid = 0xffffffffu;
    const char *nul = memchr(text, '\0', len);
    const char *end = nul ? nul : text + len;
    const char *p = text;
    unsigned seen = 0, line = 1;
    size_t cap = 0;
    int r = 0;
    while (p < end && r >= 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *lend = nl ? nl : end;
        r = parse_line(out, &seen, &cap, p, lend, line++, err);
        p = nl ? nl + 1 : end;
    }
    if (r >= 0 && !(seen & SEEN_VERSION)) {
        r = img_err_set(err, EINVAL, "VMDK descriptor has no version");
    }
    if (r < 0) {
        vmdk_desc_clear(out);
    }
    return r;
}

/* See vmdk.h. */
void vmdk_desc_clear(vmdk_desc *d)
{
    for (size_t i = 0; i < d->n_extents; i++) {
        free(d->extents[i].name);
    }
    free(d->extents);
    free(d->create_type);
    free(d->parent_hint);
    memset(d, 0, sizeof(*d));
}

/* ---- create types ---- */

static const char *const known_types[] = {
    "monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
    "twoGbMaxExtentFlat", "streamOptimized", "vmfs", "vmfsSparse",
};

/* See vmdk.h. */
int vmdk_create_type_known(const char *ct)
{
    for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]);
         i++) {
        if (ct && !strcmp(ct, known_types[i])) {
            return 1;
        }
    }
    return 0;
}

/* See vmdk.h. */
int vmdk_create_type_untrusted_ok(const char *ct)
{
    return ct && (!strcmp(ct, "monolithicSparse") ||
                  !strcmp(ct, "streamOptimized"));
}

/* ---- writing ---- */

/* CHS as VMware reports it: 16 heads for IDE, 255 for SCSI, 63 sectors
 * per track, cylinders capped at 16383 (IDE) or 65535 (SCSI). */
static void geometry(const char *adapter, uint64_t sectors, uint64_t *cyl,
                     unsigned *heads)
{
    int ide = !strcmp(adapter, "ide");
    *heads = ide ? 16 : 255;
    uint64_t max = ide ? 16383 : 65535;
    *cyl = sectors / ((uint64_t)*heads * 63);
    if (*cyl > max) {
        *cyl = max;
    }
}

/* The extent lines (flat extents carry offset 0). */
static void format_extents(FILE *f, const vmdk_desc_out *d)
{
    for (size_t i = 0; i < d->n_extents; i++) {
        const vmdk_desc_extent *x = &d->extents[i];
        fprintf(f, "RW %" PRIu64 " %s \"%s\"", x->sectors,
                vmdk_ext_type_name(x->type), x->name);
        if (x->type == VMDK_EXT_FLAT) {
            fprintf(f, " %" PRIu64, x->offset);
        }
        fputc('\n', f);
    }
}

/* The disk database, with the ID keys vSphere looks for. */
static void format_ddb(FILE *f, const vmdk_desc_out *d)
{
    uint64_t cyl;
    unsigned heads;
    geometry(d->adapter, d->sectors, &cyl, &heads);
    fprintf(f, "# The Disk Data Base\n#DDB\n\n"
            "ddb.virtualHWVersion = \"%s\"\n"
            "ddb.geometry.cylinders = \"%" PRIu64 "\"\n"
            "ddb.geometry.heads = \"%u\"\n"
            "ddb.geometry.sectors = \"63\"\n"
            "ddb.adapterType = \"%s\"\n"
            "ddb.toolsVersion = \"%s\"\n", d->hwversion, cyl, heads,
            d->adapter, d->tools);
    fprintf(f, "ddb.longContentID = \"");
    for (int i = 0; i < 12; i++) {
        fprintf(f, "%02x", d->uuid[i]);
    }
    fprintf(f, "%08" PRIx32 "\"\nddb.uuid = \"", d->cid);
    for (int i = 0; i < 16; i++) {
        fprintf(f, "%02x%s", d->uuid[i], i < 15 ? " " : "\"\n");
    }
}

/* See vmdk.h.  The layout of QEMU's and VMware's descriptors. */
char *vmdk_desc_format(const vmdk_desc_out *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        return NULL;
    }
    fprintf(f, "# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\n"
            "CID=%08" PRIx32 "\nparentCID=%08" PRIx32 "\n"
            "createType=\"%s\"\n", d->cid, d->parent_cid, d->create_type);
    if (d->parent_hint) {
        fprintf(f, "parentFileNameHint=\"%s\"\n", d->parent_hint);
    }
    fprintf(f, "\n# Extent description\n");
    format_extents(f, d);
    fputc('\n', f);
    format_ddb(f, d);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Is [p, end) a "CID=" line (blanks allowed around the key)? Sets *v to
 * the value's start and *vend to its end. */
static int is_cid_line(const char *p, const char *end, const char **v,
                       const char **vend)
{
    p = skip_blanks(p, end);
    if (end - p < 4 || strncmp(p, "CID", 3) != 0) {
        return 0;
    }
    const char *q = skip_blanks(p + 3, end);
    if (q == end || *q != '=') {
        return 0;
    }
    *v = skip_blanks(q + 1, end);
    *vend = *v + token_len(*v, end);
    while (*vend > *v && (*vend)[-1] == '\r') {
        (*vend)--;
    }
    return 1;
}

/* See vmdk.h.  NULL also when there is no CID line. */
char *vmdk_desc_set_cid(const char *text, size_t len, uint32_t cid)
{
    const char *nul = memchr(text, '\0', len);
    const char *end = nul ? nul : text + len;
    for (const char *p = text; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *lend = nl ? nl : end;
        const char *v, *vend;
        if (is_cid_line(p, lend, &v, &vend)) {
            size_t head = (size_t)(v - text), tail = (size_t)(end - vend);
            char *out = malloc(head + 8 + tail + 1);
            if (out) {
                memcpy(out, text, head);
                snprintf(out + head, 9, "%08" PRIx32, cid);
                memcpy(out + head + 8, vend, tail);
                out[head + 8 + tail] = '\0';
            }
            return out;
        }
        p = nl ? nl + 1 : end;
    }
    return NULL;
}
