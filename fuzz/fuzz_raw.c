/* fuzz/fuzz_raw.c -- libFuzzer harness for the raw driver: the input is
 * opened as "raw" whatever it contains. */
#include "fuzz_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_open_and_walk(data, size, "raw");
    return 0;
}
