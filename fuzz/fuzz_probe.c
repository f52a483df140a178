/* fuzz/fuzz_probe.c -- libFuzzer harness for format probing: the input is
 * opened with no format given, so every driver's probe and then the
 * winning driver's open, block status, read and check parse it. */
#include "fuzz_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_open_and_walk(data, size, NULL);
    return 0;
}
