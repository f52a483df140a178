/* cli/open.c -- opening images the same way in every command. */
#include "cli.h"

img *cli_open(const cli_env *env, const char *filename, const char *fmt,
              unsigned flags)
{
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
