/* libimg/backing.c -- resolving and opening backing files.
 *
 * A name stored inside an image is untrusted input.  By default it is
 * resolved as qemu-img does (relative to the image's directory); protocol
 * and "json:" names are refused always (CVE-2024-4467 leaked host files
 * that way).  With IMG_OPEN_UNTRUSTED the target must also be a regular file
 * inside the referring image's own directory.  Chains are bounded by
 * IMG_MAX_BACKING_DEPTH and loops (same device and inode) are errors.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backing.h"
#include "driver.h"

char *img_backing_resolve(const char *overlay_path, const char *name)
{
    const char *slash = overlay_path ? strrchr(overlay_path, '/') : NULL;
    if (name[0] == '/' || !slash) {
        return strdup(name);
    }
    size_t dir_len = (size_t)(slash - overlay_path) + 1;
    char *out = malloc(dir_len + strlen(name) + 1);
    if (out) {
        memcpy(out, overlay_path, dir_len);
        strcpy(out + dir_len, name);
    }
    return out;
}

/* "json:{...}", "nbd://", "http://" and friends: anything before a ':'
 * that looks like a protocol prefix.  "./a:b" or "/x/a:b" are file names. */
static int is_protocol_name(const char *name)
{
    const char *colon = strchr(name, ':');
    if (!colon || colon == name) {
        return 0;
    }
    for (const char *p = name; p < colon; p++) {
        if (*p == '/' || *p == '.') {
            return 0;
        }
    }
    return 1;
}

static char *dir_of(const char *path)
{
    char *dir = img_backing_resolve(path, ".");
    if (!dir) {
        return NULL;
    }
    char *real = realpath(dir, NULL);
    free(dir);
    return real;
}

int img_check_reference_inside(const char *referrer, const char *path,
                               img_err *err)
{
    char *dir = dir_of(referrer);
    char *real = realpath(path, NULL);
    int r = 0;
    struct stat st;
    if (!dir || !real) {
        r = img_err_errno(err, errno ? errno : ENOMEM,
                          "Could not resolve '%s'", path);
    } else if (strncmp(real, dir, strlen(dir)) != 0 ||
               real[strlen(dir)] != '/') {
        r = img_err_set(err, EPERM, "'%s' is outside the image's directory "
                        "(refused in untrusted mode)", path);
    } else if (stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
        r = img_err_set(err, EPERM, "'%s' is not a regular file (refused in "
                        "untrusted mode)", path);
    }
    free(dir);
    free(real);
    return r;
}

static int check_loop(img_file *file, const img_chain_seen *seen,
                      img_chain_seen *self, img_err *err)
{
    self->valid = img_file_identity(file, &self->dev, &self->ino) >= 0;
    for (const img_chain_seen *s = seen; self->valid && s; s = s->next) {
        if (s->valid && s->dev == self->dev && s->ino == self->ino) {
            return img_err_set(err, ELOOP, "Backing chain loop: '%s' is "
                               "already part of the chain", file->path);
        }
    }
    return 0;
}

static int open_backing_file(img *im, const char *path,
                             const img_chain_seen *seen, img_err *err)
{
    unsigned flags = (im->flags & (IMG_OPEN_FORCE_SHARE | IMG_OPEN_UNTRUSTED |
                                   IMG_OPEN_NO_LOCK | IMG_OPEN_QUIET |
                                   IMG_OPEN_READ_ONCE));
    img_file *file;
    int r = img_file_open_host(path, img_file_flags(flags, 0), &file, err);
    if (r < 0) {
        return r;
    }
    img_chain_seen self = { .next = seen };
    r = check_loop(file, seen, &self, err);
    if (r < 0) {
        img_file_close(file);
        return r;
    }
    return img_open_at_depth(file, path, im->backing_fmt, flags,
                             im->depth + 1, &self, &im->backing, err);
}

int img_backing_open(img *im, const img_chain_seen *seen, img_err *err)
{
    if (!im->backing_name || !im->backing_name[0] ||
        (im->flags & IMG_OPEN_NO_BACKING)) {
        return 0;
    }
    if (is_protocol_name(im->backing_name)) {
        return img_err_set(err, EPERM, "Backing file name '%s' is a "
                           "protocol or json: string; refused",
                           im->backing_name);
    }
    if (im->depth + 1 >= IMG_MAX_BACKING_DEPTH) {
        return img_err_set(err, ELOOP, "Backing chain is longer than %d "
                           "images", IMG_MAX_BACKING_DEPTH);
    }
    im->backing_path = img_backing_resolve(im->filename, im->backing_name);
    if (!im->backing_path) {
        return img_err_set(err, ENOMEM, "Out of memory");
    }
    int r = 0;
    if (im->flags & IMG_OPEN_UNTRUSTED) {
        r = img_check_reference_inside(im->filename, im->backing_path, err);
    }
    img_chain_seen top = { .next = NULL };
    if (r >= 0 && !seen) {
        /* The top image starts the list of files seen. */
        top.valid = img_file_identity(im->file, &top.dev, &top.ino) >= 0;
        seen = &top;
    }
    if (r >= 0) {
        r = open_backing_file(im, im->backing_path, seen, err);
    }
    if (r < 0) {
        img_err_prepend(err, "Could not open backing file '%s': ",
                        im->backing_name);
    }
    return r;
}
