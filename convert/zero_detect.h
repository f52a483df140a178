/* convert/zero_detect.h -- finding zero blocks in data buffers, so that a
 * conversion can leave them as holes (qemu-img's -S sparse detection).
 */
#ifndef CVT_ZERO_DETECT_H
#define CVT_ZERO_DETECT_H

#include <stddef.h>
#include <stdint.h>

/* True when all len bytes at buf are zero (len 0: true).  Checks the head
 * word-wise, then compares the buffer with itself shifted, so the bulk
 * goes through the C library's vectorised memcmp. */
int cvt_is_zero(const void *buf, size_t len);

/* Describes the first piece of buf, which holds len bytes of the target at
 * offset off.  Blocks are gran bytes (a power of two) aligned on the
 * target, the first and last possibly partial; a block is zero when all
 * its bytes are.  Returns 0 when the piece is a run of zero blocks (any
 * length), or 1 when it is data: data blocks together with the zero runs
 * between them shorter than min bytes, ending before a zero run of at
 * least min bytes or before the trailing zero blocks.  Sets *pnum to the
 * piece's length (>= 1 when len >= 1).  This is qemu-img's
 * is_allocated_sectors_min() rule, so holes land where qemu-img puts
 * them. */
int cvt_zero_split(const uint8_t *buf, size_t len, uint64_t off, size_t gran,
                   size_t min, size_t *pnum);

/* Largest power of two <= x (x >= 1), the block size for a -S value. */
size_t cvt_zero_granularity(uint64_t min_sparse);

#endif
