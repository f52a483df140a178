/* tests/support/mem_image.h -- a new image of any format in a memory
 * file, for the tests that need a qcow2 (or other) image without a host
 * file.  Asserts (Criterion).
 */
#ifndef TESTS_SUPPORT_MEM_IMAGE_H
#define TESTS_SUPPORT_MEM_IMAGE_H

#include <stdint.h>

#include "libimg/img.h"

/* Creates an image of format fmt and size bytes with the -o options opts
 * (NULL: none) in a memory file, and opens it read-write (no lock). */
img *test_mem_image_new(const char *fmt, uint64_t size, const char *opts);

#endif
