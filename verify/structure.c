/* verify/structure.c -- "check" part of vdisk verify (issue 7): the
 * target passes its format's full consistency check.
 *
 * Runs the driver's check (qemu-img check without -r) and judges its
 * counters: any corruption, check error or leaked cluster fails, since a
 * fresh conversion has no reason to contain any.  A format without a
 * check (raw) is reported as skipped, not as passed.
 */
#include <errno.h>
#include <string.h>

#include "verify.h"

int verify_structure(img *im, verify_structure_result *res, img_err *err)
{
    img_check_result *c = &res->check;
    int r;

    memset(res, 0, sizeof(*res));
    r = img_check(im, c, 0, err);
    if (r == -ENOTSUP) {
        /* Not an error of the image: this format cannot be checked. */
        if (err != NULL) {
            memset(err, 0, sizeof(*err));
        }
        res->status = VERIFY_SKIPPED;
        return 0;
    }
    if (r < 0) {
        return r;
    }
    res->status = c->corruptions || c->check_errors || c->leaks
                      ? VERIFY_FAILED
                      : VERIFY_PASSED;
    return 0;
}
