/* fuzz/fuzz_qcow2.c -- libFuzzer harness for the qcow2 driver: the input
 * is opened as "qcow2" whatever it contains, so the header, extension,
 * snapshot table, L1/L2 and compressed-cluster decoders all see it. */
#include "fuzz_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_open_and_walk(data, size, "qcow2");
    return 0;
}
