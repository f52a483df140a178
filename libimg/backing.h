/* libimg/backing.h -- backing chains (internal). */
#ifndef IMG_BACKING_H
#define IMG_BACKING_H

#include <stdint.h>

#include "img.h"

/* The files already in a chain, top first, for loop detection. */
typedef struct img_chain_seen {
    const struct img_chain_seen *next; /* the overlay above, or NULL */
    uint64_t dev, ino;
    int valid;                         /* identity known */
} img_chain_seen;

/* Opens im's backing image when the driver named one (and the open flags
 * allow it).  Resolves the name relative to im's directory, enforces the
 * untrusted-mode rules, the depth bound and loop detection. */
int img_backing_open(img *im, const img_chain_seen *seen, img_err *err);

/* Resolves name against the directory of overlay_path, as QEMU does:
 * absolute names stay, relative ones are joined to the overlay's dir.
 * Returns a malloc'd path or NULL (ENOMEM). */
char *img_backing_resolve(const char *overlay_path, const char *name);

/* Untrusted-mode rule: path must be a regular file inside dir_of
 * (the referring image's directory), after resolving symlinks. */
int img_check_reference_inside(const char *referrer, const char *path,
                               img_err *err);

/* Opens one layer of a chain (img.c). */
int img_open_at_depth(img_file *file, const char *filename,
                      const char *format, unsigned flags, int depth,
                      const img_chain_seen *seen, img **out, img_err *err);

#endif
