/* cli/json.c -- qemu-style pretty JSON, as "qemu-img ... --output=json"
 * prints it.
 *
 * Layout of QEMU 7.2's qobject_to_json_pretty() (qobject/json-writer.c):
 * every member on its own line indented 4 spaces per level, "key": value,
 * "," at the end of all but the last member, and the closing bracket on its
 * own line -- also for an empty container, which is "[" NEWLINE "]".
 * Strings are decoded as (modified) UTF-8 and everything outside printable
 * ASCII is written as \uXXXX (upper-case hex, surrogate pairs above the
 * BMP); invalid sequences become U+FFFD.
 */
#include <inttypes.h>

#include "cli.h"

/* Decodes one modified UTF-8 sequence at s (not at its NUL).  Sets *len to
 * the bytes it covers and returns the code point, or -1 when invalid --
 * QEMU's mod_utf8_codepoint() rules, which decide how many bytes an invalid
 * sequence swallows. */
static long utf8_decode(const unsigned char *s, size_t *len)
{
    static const long min_cp[5] = { 0x80, 0x800, 0x10000, 0x200000, 0x4000000 };
    unsigned c = s[0], n = 0;
    *len = 1;
    if (c < 0x80) {
        return c;
    }
    if (c >= 0xFE || !(c & 0x40)) {
        return -1; /* 0xFE/0xFF, or a stray continuation byte */
    }
    for (unsigned mask = 0x80; c & mask; mask >>= 1) {
        n++;
    }
    long cp = c & ((0x80u >> n) - 1);
    for (unsigned i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return -1; /* truncated: the bytes so far are consumed */
        }
        cp = (cp << 6) | (s[i] & 0x3F);
        *len = i + 1;
    }
    if (cp > 0x10FFFF || (cp >= 0xFDD0 && cp <= 0xFDEF) ||
        (cp & 0xFFFE) == 0xFFFE || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return -1; /* out of range, noncharacter or surrogate */
    }
    if (cp < min_cp[n - 2] && !(cp == 0 && n == 2)) {
        return -1; /* overlong, except C0 80 for U+0000 */
    }
    return cp;
}

/* Writes one code point the way QEMU's quoted_str() does. */
static void json_put_cp(FILE *out, long cp)
{
    static const char esc_from[] = "\"\\\b\f\n\r\t";
    static const char esc_to[] = "\"\\bfnrt";
    for (size_t i = 0; i < sizeof(esc_from) - 1; i++) {
        if (cp == esc_from[i]) {
            fprintf(out, "\\%c", esc_to[i]);
            return;
        }
    }
    if (cp < 0) {
        cp = 0xFFFD; /* replacement character */
    }
    if (cp > 0xFFFF) {
        cp -= 0x10000;
        fprintf(out, "\\u%04lX\\u%04lX", 0xD800 + (cp >> 10),
                0xDC00 + (cp & 0x3FF));
    } else if (cp < 0x20 || cp >= 0x7F) {
        fprintf(out, "\\u%04lX", cp);
    } else {
        fputc((int)cp, out);
    }
}

void cli_json_string(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    fputc('"', out);
    while (*p) {
        size_t len;
        long cp = utf8_decode(p, &len);
        json_put_cp(out, cp);
        p += len;
    }
    fputc('"', out);
}

/* Newline plus the indentation of nesting level depth. */
static void json_newline(FILE *out, int depth)
{
    fprintf(out, "\n%*s", depth * 4, "");
}

static void json_value(FILE *out, const img_val *v, int depth);

/* A list or dict: members one per line at depth + 1. */
static void json_container(FILE *out, const img_val *v, int depth)
{
    int is_dict = img_val_type_of(v) == IMG_VAL_DICT;
    size_t n = img_val_count(v);
    fputc(is_dict ? '{' : '[', out);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            fputc(',', out);
        }
        json_newline(out, depth + 1);
        if (is_dict) {
            cli_json_string(out, img_val_key_at(v, i));
            fputs(": ", out);
        }
        json_value(out, img_val_at(v, i), depth + 1);
    }
    json_newline(out, depth);
    fputc(is_dict ? '}' : ']', out);
}

static void json_value(FILE *out, const img_val *v, int depth)
{
    switch (img_val_type_of(v)) {
    case IMG_VAL_INT:
        fprintf(out, "%" PRId64, img_val_int(v));
        break;
    case IMG_VAL_UINT:
        fprintf(out, "%" PRIu64, img_val_uint(v));
        break;
    case IMG_VAL_BOOL:
        fputs(img_val_bool(v) ? "true" : "false", out);
        break;
    case IMG_VAL_STR:
        cli_json_string(out, img_val_str(v));
        break;
    case IMG_VAL_LIST:
    case IMG_VAL_DICT:
        json_container(out, v, depth);
        break;
    }
}

/* Prints v and the newline qemu-img puts after it (printf("%s\n")). */
void cli_json_print(FILE *out, const img_val *v)
{
    if (v) {
        json_value(out, v, 0);
    } else {
        fputs("null", out); /* QEMU's QNull; never printed by qemu-img */
    }
    fputc('\n', out);
}
