/* fuzz/fuzz_walk.h -- the body shared by the libFuzzer harnesses.
 *
 * Each fuzz/fuzz_<target>.c opens the fuzzer's input as a memory file with
 * one format (or by probing) and hands it to fuzz_open_and_walk(), which
 * exercises the read-only API the way the CLI does and frees everything.
 */
#ifndef FUZZ_FUZZ_WALK_H
#define FUZZ_FUZZ_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "libimg/img.h"

/* libFuzzer's entry point, defined once per harness. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Opens data[0..size) as an image of format (NULL: probe) and walks info,
 * block status, reads and check.  Never exits; aborts (a finding) only
 * when libimg breaks its own API contract. */
void fuzz_open_and_walk(const uint8_t *data, size_t size, const char *format);

/* The two halves of fuzz_open_and_walk, for harnesses that do more with
 * the image: fuzz_open returns a read-only image (close it with
 * img_close) or NULL when it does not open; fuzz_walk walks it. */
img *fuzz_open(const uint8_t *data, size_t size, const char *format);
void fuzz_walk(img *im);

/* Aborts unless a failed call kept libimg's contract: ret is -errno and
 * err holds a positive code and a terminated message. */
void fuzz_failed(int ret, const img_err *err);

/* Opens a writable copy of data[0..size) as format (in a memory file
 * that cannot grow past 64 MiB) and writes, writes zeros, discards and
 * flushes a few pieces (fuzz_write.c).  Aborts only when a failure does
 * not say why. */
void fuzz_write_walk(const uint8_t *data, size_t size, const char *format);

#endif
