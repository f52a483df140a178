/* libimg/registry.c -- the explicit table of format drivers and probing.
 *
 * Formats are compiled in by meson features (IMG_HAVE_<FMT>).  raw is always
 * present: it is what an image that matches no other format probes as.
 */
#include <errno.h>
#include <string.h>

#include "driver.h"

static const img_driver *const drivers[] = {
#ifdef IMG_HAVE_QCOW2
    &img_qcow2_driver,
#endif
#ifdef IMG_HAVE_VHDX
    &img_vhdx_driver,
#endif
#ifdef IMG_HAVE_VMDK
    &img_vmdk_driver,
#endif
    &img_raw_driver,
};

#define N_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

const img_driver *img_driver_at(unsigned i)
{
    return i < N_DRIVERS ? drivers[i] : NULL;
}

const img_driver *img_driver_find(const char *name)
{
    for (size_t i = 0; name && i < N_DRIVERS; i++) {
        if (!strcmp(drivers[i]->name, name)) {
            return drivers[i];
        }
    }
    return NULL;
}

/* The highest score wins; raw (score 1) catches everything else. */
const img_driver *img_driver_probe(const uint8_t *buf, size_t len)
{
    const img_driver *best = &img_raw_driver;
    int best_score = 0;
    for (size_t i = 0; i < N_DRIVERS; i++) {
        if (!drivers[i]->probe) {
            continue;
        }
        int score = drivers[i]->probe(buf, len);
        if (score > best_score) {
            best_score = score;
            best = drivers[i];
        }
    }
    return best;
}

const char *img_driver_name(const img_driver *drv)
{
    return drv->name;
}

const img_opt_desc *img_driver_create_opts(const img_driver *drv)
{
    return drv->create_opts;
}

int img_driver_supports_compression(const img_driver *drv)
{
    return (drv->flags & IMG_DRV_COMPRESSION) != 0;
}

int img_driver_supports_backing(const img_driver *drv)
{
    return (drv->flags & IMG_DRV_BACKING) != 0;
}

int img_driver_measure(const img_driver *drv, const img_opts *opts,
                       uint64_t size, img *in, img_measure *out, img_err *err)
{
    if (!drv->measure) {
        return img_err_set(err, ENOTSUP,
                           "Format driver '%s' does not support measure",
                           drv->name);
    }
    return drv->measure(opts, size, in, out, err);
}
