/* formats/vmdk/vmdk_flat.c -- flat extents (FLAT, VMFS: the data of the
 * extent, byte for byte, at an offset in a file) and ZERO extents (no
 * file; reads return zeros).
 *
 * Spec: "Virtual Disk Format 5.0", "Simple Extents".  Reads past the end
 * of a short flat file return zeros (img_file semantics).  Block status
 * reports the file's holes as zero while still data, as QEMU does for
 * flat extents (it looks through to the file).
 */
#include <errno.h>
#include <string.h>

#include "vmdk.h"

/* See vmdk.h. */
int vmdk_flat_read(vmdk_extent *e, void *buf, uint64_t n, uint64_t off,
                   img_err *err)
{
    if (e->type == VMDK_EXT_ZERO) {
        memset(buf, 0, n);
        return 0;
    }
    return img_file_pread(e->file, buf, n, e->flat_off + off, err);
}

/* See vmdk.h.  Zeroes may become holes in the file. */
int vmdk_flat_write(vmdk_extent *e, const void *buf, uint64_t n,
                    uint64_t off, img_err *err)
{
    if (e->type == VMDK_EXT_ZERO) {
        return img_err_set(err, EPERM, "Cannot write to a ZERO extent");
    }
    if (!buf) {
        return img_file_write_zeroes(e->file, e->flat_off + off, n, err);
    }
    return img_file_pwrite(e->file, buf, n, e->flat_off + off, err);
}

/* See vmdk.h.  Holes are data that reads as zeros (QEMU looks
 * through flat extents to the file the same way). */
int vmdk_flat_status(vmdk_extent *e, uint64_t off, uint64_t n,
                     uint64_t *pnum, uint64_t *host_off, img_err *err)
{
    if (e->type == VMDK_EXT_ZERO) {
        *pnum = n;
        return IMG_BS_ZERO | IMG_BS_ALLOCATED;
    }
    int is_data;
    int r = img_file_extent(e->file, e->flat_off + off, n, &is_data, pnum,
                            err);
    if (r < 0) {
        return r;
    }
    *host_off = e->flat_off + off;
    return IMG_BS_DATA | IMG_BS_OFFSET_VALID | IMG_BS_ALLOCATED |
           (is_data ? 0 : IMG_BS_ZERO);
}
