/* cli/open.c -- opening images the same way in every command. */
#include <errno.h>

#include "cli.h"

/* Opens the image an --image-opts string names. */
static img *open_image_opts(const cli_env *env, const char *spec,
                            const char *fmt, unsigned flags)
{
    if (fmt) {
        cli_error(env, "--image-opts and --format are mutually exclusive");
        return NULL;
    }
    cli_image_ref ref;
    img_err err = { 0 };
    if (cli_image_opts_parse(spec, &ref, &err) < 0) {
        cli_error_img(env, spec, &err);
        return NULL;
    }
    img *im = NULL;
    if (ref.read_only && (flags & IMG_OPEN_RDWR)) {
        img_err_set(&err, EROFS, "Block node is read-only (read-only=on)");
        cli_error_img(env, spec, &err);
    } else {
        im = cli_open(env, ref.filename, ref.fmt, flags);
    }
    cli_image_ref_free(&ref);
    return im;
}

img *cli_open(const cli_env *env, const char *filename, const char *fmt,
              unsigned flags)
{
    if (flags & CLI_OPEN_IMAGE_OPTS) {
        return open_image_opts(env, filename, fmt,
                               flags & ~CLI_OPEN_IMAGE_OPTS);
    }
    img *im = NULL;
    img_err err = { 0 };
    if (env->untrusted) {
        flags |= IMG_OPEN_UNTRUSTED;
    }
    if (img_open(filename, fmt, flags, &im, &err) < 0) {
        cli_error_img(env, filename, &err);
        return NULL;
    }
    return im;
}
