/* tests/support/mem_image.c -- see mem_image.h. */
#include "mem_image.h"

#include <criterion/criterion.h>

#include "libimg/file.h"

img *test_mem_image_new(const char *fmt, uint64_t size, const char *opts)
{
    const img_driver *drv = img_driver_find(fmt);
    cr_assert(drv, "no driver %s", fmt);
    img_err err = { 0 };
    img_opts *o = NULL;
    if (opts) {
        o = img_opts_new(img_driver_create_opts(drv));
        cr_assert_eq(img_opts_parse(o, opts, &err), 0, "%s", err.msg);
    }
    img_file *f = img_mem_file_new(NULL, 0, 1);
    cr_assert(f);
    img_create_opts co = { .size = size, .opts = o };
    cr_assert_eq(img_create_file(f, fmt, &co, &err), 0, "%s", err.msg);
    img_opts_free(o);
    img *im = NULL;
    cr_assert_eq(img_open_file(f, fmt, IMG_OPEN_RDWR | IMG_OPEN_NO_LOCK, &im,
                               &err), 0, "%s", err.msg);
    return im;
}
