/* cli/image_opts.c -- --image-opts: an image named by a QEMU option string
 * ("driver=qcow2,file.filename=disk.qcow2") instead of a file name.
 *
 * vdisk opens local files only, so it understands the keys that name one:
 *   driver         the image format, or file / host_device for the file
 *                  itself read as raw; without it the format is probed
 *   file.filename  the file holding the image
 *   file.driver    file or host_device
 *   filename       the file, with driver=file or driver=host_device
 *   read-only      on or off; on refuses commands that write
 * Any other key is refused with QEMU's message rather than ignored, so an
 * option that would change what is opened never goes unnoticed.  Values
 * are quoted as QEMU quotes them: ",," is a comma inside a value.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The keys, as given (NULL: absent). */
typedef struct opts_seen {
    char *driver;
    char *file_filename;
    char *file_driver;
    char *filename;
    char *read_only;
} opts_seen;

static void seen_free(opts_seen *s)
{
    free(s->driver);
    free(s->file_filename);
    free(s->file_driver);
    free(s->filename);
    free(s->read_only);
}

/* Copies the text at *p up to a single comma (",," is a comma) or the end
 * into a new string, and moves *p past the comma; NULL when out of
 * memory. */
static char *take_value(const char **p)
{
    const char *s = *p;
    size_t len = strlen(s);
    char *out = malloc(len + 1);
    if (!out) {
        return NULL;
    }
    size_t n = 0;
    while (*s) {
        if (*s == ',' && s[1] == ',') {
            out[n++] = ',';
            s += 2;
        } else if (*s == ',') {
            s++;
            break;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    *p = s;
    return out;
}

/* The slot for a key, or NULL when vdisk does not know it. */
static char **slot_of(opts_seen *s, const char *key, size_t len)
{
    static const struct {
        const char *name;
        size_t offset;
    } keys[] = {
        { "driver", offsetof(opts_seen, driver) },
        { "file.filename", offsetof(opts_seen, file_filename) },
        { "file.driver", offsetof(opts_seen, file_driver) },
        { "filename", offsetof(opts_seen, filename) },
        { "read-only", offsetof(opts_seen, read_only) },
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i].name) == len && !memcmp(keys[i].name, key, len)) {
            return (char **)((char *)s + keys[i].offset);
        }
    }
    return NULL;
}

/* Reads every key=value of spec into s (a repeated key: the last wins). */
static int read_keys(const char *spec, opts_seen *s, img_err *err)
{
    const char *p = spec;
    while (*p) {
        size_t klen = strcspn(p, "=,");
        if (p[klen] != '=') {
            return img_err_set(err, EINVAL,
                        "'%.*s' is not a key=value option; name the file "
                        "with file.filename=",
                        (int)klen, p);
        }
        char **slot = slot_of(s, p, klen);
        if (!slot && klen > 5 && !memcmp(p, "file.", 5)) {
            return img_err_set(err, EINVAL,
                        "Block protocol 'file' doesn't support the option "
                        "'%.*s'",
                        (int)(klen - 5), p + 5);
        }
        if (!slot) {
            return img_err_set(err, EINVAL,
                        "Block format '%s' does not support the option "
                        "'%.*s'",
                        s->driver ? s->driver : "(probed)", (int)klen, p);
        }
        p += klen + 1;
        char *value = take_value(&p);
        if (!value) {
            return img_err_set(err, ENOMEM, "Out of memory");
        }
        free(*slot);
        *slot = value;
    }
    return 0;
}

static int is_protocol(const char *driver)
{
    return !strcmp(driver, "file") || !strcmp(driver, "host_device");
}

static int parse_on_off(const char *v, int *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "true")) {
        *out = 1;
    } else if (!strcmp(v, "off") || !strcmp(v, "false")) {
        *out = 0;
    } else {
        return -1;
    }
    return 0;
}

/* Which file and format the keys name. */
static int resolve(opts_seen *s, cli_image_ref *out, img_err *err)
{
    if (s->read_only && parse_on_off(s->read_only, &out->read_only) < 0) {
        return img_err_set(err, EINVAL,
                    "Parameter 'read-only' expects 'on' or 'off'");
    }
    if (s->driver && is_protocol(s->driver)) {
        if (s->file_filename || s->file_driver) {
            return img_err_set(err, EINVAL,
                        "Block protocol '%s' doesn't support the option "
                        "'file'",
                        s->driver);
        }
        if (!s->filename) {
            return img_err_set(err, EINVAL, "The '%s' block driver requires a file "
                        "name", s->driver);
        }
        out->filename = s->filename;
        s->filename = NULL;
        out->fmt = strdup("raw");
        return out->fmt ? 0 : img_err_set(err, ENOMEM, "Out of memory");
    }
    if (s->file_driver && !is_protocol(s->file_driver)) {
        return img_err_set(err, EINVAL,
                    "Protocol driver '%s' is not supported: vdisk opens "
                    "local files only",
                    s->file_driver);
    }
    if (!s->file_filename) {
        return img_err_set(err, EINVAL,
                    "A block device must be specified for \"file\"");
    }
    out->filename = s->file_filename;
    s->file_filename = NULL;
    out->fmt = s->driver;
    s->driver = NULL;
    return 0;
}

int cli_image_opts_parse(const char *spec, cli_image_ref *out, img_err *err)
{
    memset(out, 0, sizeof(*out));
    opts_seen s = { 0 };
    int r = read_keys(spec, &s, err);
    if (r == 0) {
        r = resolve(&s, out, err);
    }
    seen_free(&s);
    if (r < 0) {
        cli_image_ref_free(out);
    }
    return r;
}

void cli_image_ref_free(cli_image_ref *r)
{
    free(r->filename);
    free(r->fmt);
    r->filename = NULL;
    r->fmt = NULL;
}
