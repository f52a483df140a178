/* fuzz/fuzz_vmdk.c -- libFuzzer harness for the VMDK driver: the input
 * goes through the descriptor parser directly, then is opened as "vmdk"
 * from memory (a sparse or COWD extent, or a descriptor: extent files
 * cannot be opened from memory, ZERO extents can) and walked, then a
 * writable copy is written to. */
#include "fuzz_walk.h"

#include <stdlib.h>

#include "formats/vmdk/vmdk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmdk_desc d;
    img_err err = { 0 };
    if (vmdk_desc_parse((const char *)data, size, &d, &err) == 0) {
        vmdk_desc_clear(&d);
    } else if (err.code <= 0) {
        abort(); /* a failure must say why */
    }
    (void)vmdk_desc_probe(data, size);
    fuzz_open_and_walk(data, size, "vmdk");
    fuzz_write_walk(data, size, "vmdk");
    return 0;
}
