/* libimg/opts.c -- "-o key=value,..." option strings (see opts.h).
 *
 * The syntax and the error messages follow QEMU 7.2's QemuOpts as qemu-img
 * uses it (util/qemu-option.c): options are separated by ',', a ',' inside a
 * value is written ",,", a name without '=' is a flag ("foo" means foo=on,
 * "nofoo" means foo=off), and the last value given for a name wins.  Sizes
 * follow qemu_strtosz() (util/cutils.c), checked against qemu-img 7.2.
 */
#include "opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One slot per desc entry. */
typedef struct opt_slot {
    char *raw;    /* text as given, owned; NULL when not set */
    uint64_t num; /* parsed NUMBER / SIZE */
    int flag;     /* parsed BOOL */
} opt_slot;

struct img_opts {
    const img_opt_desc *desc; /* borrowed, terminated by name NULL */
    size_t n;                 /* entries in desc */
    opt_slot *slot;           /* n slots, parallel to desc */
};

/* Error message formats (QEMU's QERR_INVALID_PARAMETER_VALUE & co). */
#define EXPECTS      "Parameter '%s' expects "
#define TOO_LARGE    "Value '%s' is too large for parameter '%s'"
#define OUT_OF_RANGE "Value '%s' is out of range for parameter '%s'"
/* qemu-img follows a bad size with this hint (error_append_hint). */
#define SIZE_HINT \
    "a non-negative number below 2^64\nOptional suffix k, M, G, T, P or E " \
    "means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively."

img_opts *img_opts_new(const img_opt_desc *desc)
{
    static const img_opt_desc none[1]; /* empty table: name NULL */
    img_opts *o = calloc(1, sizeof(*o));
    if (!o) {
        return NULL;
    }
    o->desc = desc ? desc : none;
    while (o->desc[o->n].name) {
        o->n++;
    }
    o->slot = calloc(o->n + 1, sizeof(*o->slot));
    if (!o->slot) {
        free(o);
        return NULL;
    }
    return o;
}

void img_opts_free(img_opts *o)
{
    if (!o) {
        return;
    }
    for (size_t i = 0; i < o->n; i++) {
        free(o->slot[i].raw);
    }
    free(o->slot);
    free(o);
}

/* Index of name in the desc table, or -1. */
static long opts_find(const img_opts *o, const char *name)
{
    for (size_t i = 0; o && name && i < o->n; i++) {
        if (strcmp(o->desc[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* ---- value parsers ---- */

/* qapi_bool_parse(): exact, case-sensitive words.  Returns 0/1, or -1. */
static int parse_bool(const char *s)
{
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            return 1;
        }
        if (strcmp(s, no[i]) == 0) {
            return 0;
        }
    }
    return -1;
}

/* qemu_strtou64(s, NULL, 0): strtoull rules (leading blanks, 0x, octal,
 * "-1" wraps), whole string consumed.  Returns 0, -EINVAL or -ERANGE. */
static int parse_number(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    int e = errno;
    if ((e == 0 && end == s) || *end) {
        return -EINVAL;
    }
    if (e) {
        return -e;
    }
    *out = v;
    return 0;
}

/* Multiplier exponent (bits) of a size suffix, or -1 when c is none. */
static int size_suffix_shift(char c)
{
    static const char units[] = "BKMGTPE";
    const char *p = strchr(units, toupper((unsigned char)c));
    return c && p ? (int)(p - units) * 10 : -1;
}

/* The fraction after the '.' at *p as a 0.64 fixed-point number.  On
 * return *p points after what was used.  Returns 0 or -EINVAL. */
static int parse_fraction(const char **p, uint64_t *frac)
{
    const char *f = *p;
    char *end;
    errno = 0;
    double d = strtod(f, &end);
    *frac = 0;
    if (end == f) {
        *p = f + 1; /* no digits ("1.k"): just step over the '.' */
        return 0;
    }
    if (errno) {
        /* Underflow (a very long fraction): qemu then skips one more char
         * after the digits, normally the suffix, and reads a whole size;
         * without a suffix it would overrun, so refuse that. */
        *p = end + 1;
        return *end ? 0 : -EINVAL;
    }
    if (memchr(f, 'e', (size_t)(end - f)) ||
        memchr(f, 'E', (size_t)(end - f))) {
        return -EINVAL; /* exponents are refused */
    }
    d *= 0x1p64;
    /* A fraction that rounds to 1.0 counts as 0, as in qemu-img on x86. */
    *frac = d >= 0x1p64 ? 0 : (uint64_t)d;
    *p = end;
    return 0;
}

/* val.frac * 2^shift, rounding half up; -ERANGE past 64 bits. */
static int scale_size(uint64_t val, uint64_t frac, int shift, uint64_t *out)
{
    if (shift == 0) {
        *out = val;
        return frac ? -EINVAL : 0; /* a fraction needs a unit above B */
    }
    uint64_t hi = val >> (64 - shift);
    uint64_t lo = val << shift;
    uint64_t fint = frac >> (64 - shift);  /* whole part of frac * mul */
    uint64_t half = (frac << shift) >> 63; /* its rest is >= 0.5 */
    lo += fint;
    hi += lo < fint;
    lo += half;
    hi += lo < half;
    if (hi) {
        return -ERANGE;
    }
    *out = lo;
    return 0;
}

/* The integer part: decimal, or hex after "0x".  *p is advanced.  Sets
 * *is_hex.  Returns 0, -EINVAL or -ERANGE. */
static int parse_size_int(const char **p, uint64_t *val, int *is_hex)
{
    const char *s = *p;
    char *end;
    errno = 0;
    *val = strtoull(s, &end, 10);
    *p = end;
    if (errno == ERANGE) {
        return -ERANGE;
    }
    if (end == s || memchr(s, '-', (size_t)(end - s))) {
        return -EINVAL;
    }
    *is_hex = *val == 0 && (*end == 'x' || *end == 'X');
    if (*is_hex) {
        errno = 0;
        *val = strtoull(s, &end, 16);
        *p = end;
        if (errno == ERANGE) {
            return -ERANGE;
        }
        if (*end == '.') {
            return -EINVAL; /* no hex fractions */
        }
    }
    return 0;
}

int img_parse_size(const char *str, uint64_t *out)
{
    const char *p = str;
    uint64_t val = 0, frac = 0;
    int is_hex = 0;
    int rc = str ? parse_size_int(&p, &val, &is_hex) : -EINVAL;
    if (rc == 0 && !is_hex && *p == '.') {
        rc = parse_fraction(&p, &frac);
    }
    if (rc == -EINVAL || !str) {
        return -EINVAL;
    }
    if (rc == 0) {
        /* qemu-img also warns about a suffix on a hex number, then
         * accepts it. */
        int shift = size_suffix_shift(*p);
        p += shift >= 0;
        rc = scale_size(val, frac, shift > 0 ? shift : 0, &val);
    }
    if (*p) {
        return -EINVAL; /* trailing text beats -ERANGE, as in qemu */
    }
    if (rc == 0) {
        *out = val;
    }
    return rc;
}

/* ---- setting and parsing ---- */

/* Validates value for d; on success fills slot's parsed fields.  The
 * messages are QEMU's (qemu-img prints them after "FILE: "). */
static int opts_check(const img_opt_desc *d, const char *value, opt_slot *slot,
                      img_err *err)
{
    const char *name = d->name;
    int rc = 0;
    switch (d->type) {
    case IMG_OPT_BOOL:
        slot->flag = parse_bool(value);
        if (slot->flag < 0) {
            return img_err_set(err, EINVAL, EXPECTS "'on' or 'off'", name);
        }
        break;
    case IMG_OPT_NUMBER:
        rc = parse_number(value, &slot->num);
        if (rc == -ERANGE) {
            return img_err_set(err, ERANGE, TOO_LARGE, value, name);
        } else if (rc < 0) {
            return img_err_set(err, EINVAL, EXPECTS "a number", name);
        }
        break;
    case IMG_OPT_SIZE:
        rc = img_parse_size(value, &slot->num);
        if (rc == -ERANGE) {
            return img_err_set(err, ERANGE, OUT_OF_RANGE, value, name);
        } else if (rc < 0) {
            return img_err_set(err, EINVAL, EXPECTS SIZE_HINT, name);
        }
        break;
    case IMG_OPT_STRING:
        break;
    }
    return 0;
}

int img_opts_set(img_opts *o, const char *name, const char *value, img_err *err)
{
    long i = opts_find(o, name);
    if (i < 0) {
        return img_err_set(err, EINVAL, "Invalid parameter '%s'",
                           name ? name : "");
    }
    opt_slot tmp = { 0 };
    int rc = opts_check(&o->desc[i], value ? value : "", &tmp, err);
    if (rc < 0) {
        return rc;
    }
    tmp.raw = strdup(value ? value : "");
    if (!tmp.raw) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    free(o->slot[i].raw);
    o->slot[i] = tmp;
    return 0;
}

/* Copies the value at p up to an unescaped ',' or the end, turning ",,"
 * into ','.  Returns the copy (NULL: no memory); *next is where it ended. */
static char *opt_value_dup(const char *p, const char **next)
{
    char *v = malloc(strlen(p) + 1);
    size_t n = 0;
    for (; *p; p++) {
        if (*p == ',') {
            if (p[1] != ',') {
                break;
            }
            p++;
        }
        if (v) {
            v[n++] = *p;
        }
    }
    if (v) {
        v[n] = '\0';
    }
    *next = p;
    return v;
}

/* Splits one "name=value" or flag at *p into new strings and advances *p
 * past it and its ','.  Returns 0 or -ENOMEM. */
static int opt_next(const char **p, char **name, char **value)
{
    const char *s = *p;
    size_t len = strcspn(s, "=,");
    const char *end = s + len;
    if (*end == '=') {
        *name = strndup(s, len);
        *value = opt_value_dup(end + 1, &end);
    } else if (len >= 2 && strncmp(s, "no", 2) == 0) {
        *name = strndup(s + 2, len - 2); /* "nofoo" is foo=off */
        *value = strdup("off");
    } else {
        *name = strndup(s, len); /* "foo" is foo=on */
        *value = strdup("on");
    }
    *p = *end == ',' ? end + 1 : end;
    return *name && *value ? 0 : -ENOMEM;
}

int img_opts_parse(img_opts *o, const char *str, img_err *err)
{
    const char *p = str ? str : "";
    while (*p) {
        char *name, *value;
        int rc = opt_next(&p, &name, &value);
        if (rc == 0) {
            rc = img_opts_set(o, name, value, err);
        } else {
            img_err_set(err, ENOMEM, "Out of memory");
        }
        free(name);
        free(value);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int img_opts_list_valid(const char *str)
{
    if (!str || !str[0] || str[0] == ',') {
        return 0;
    }
    size_t len = strlen(str), i = len;
    while (i > 0 && str[i - 1] == ',') {
        i--;
    }
    return (len - i) % 2 == 0; /* an odd trailing ',' is not an escape */
}

/* ---- reading back ---- */

int img_opts_is_set(const img_opts *o, const char *name)
{
    long i = opts_find(o, name);
    return i >= 0 && o->slot[i].raw != NULL;
}

const char *img_opts_value(const img_opts *o, const char *name)
{
    long i = opts_find(o, name);
    return i >= 0 ? o->slot[i].raw : NULL;
}

const img_opt_desc *img_opts_desc(const img_opts *o)
{
    return o ? o->desc : NULL;
}

/* The slot to read name from: the set value, else the desc default parsed
 * into tmp.  NULL when neither exists (or the default does not parse). */
static const opt_slot *opts_lookup(const img_opts *o, const char *name,
                                   opt_slot *tmp)
{
    long i = opts_find(o, name);
    if (i < 0) {
        return NULL;
    }
    if (o->slot[i].raw) {
        return &o->slot[i];
    }
    const img_opt_desc *d = &o->desc[i];
    if (!d->def || opts_check(d, d->def, tmp, NULL) < 0) {
        return NULL;
    }
    return tmp;
}

const char *img_opts_get_str(const img_opts *o, const char *name,
                             const char *def)
{
    long i = opts_find(o, name);
    if (i < 0) {
        return def;
    }
    if (o->slot[i].raw) {
        return o->slot[i].raw;
    }
    return o->desc[i].def ? o->desc[i].def : def;
}

int img_opts_get_bool(const img_opts *o, const char *name, int def)
{
    opt_slot tmp = { 0 };
    const opt_slot *s = opts_lookup(o, name, &tmp);
    return s ? s->flag : def;
}

uint64_t img_opts_get_size(const img_opts *o, const char *name, uint64_t def)
{
    opt_slot tmp = { 0 };
    const opt_slot *s = opts_lookup(o, name, &tmp);
    return s ? s->num : def;
}

uint64_t img_opts_get_number(const img_opts *o, const char *name, uint64_t def)
{
    return img_opts_get_size(o, name, def);
}

/* ---- help ---- */

int img_opts_wants_help(const char *str)
{
    const char *p = str ? str : "";
    int found = 0;
    while (*p && !found) {
        char *v = opt_value_dup(p, &p);
        found = v && (strcmp(v, "help") == 0 || strcmp(v, "?") == 0);
        free(v);
        if (*p) {
            p++;
        }
    }
    return found;
}
