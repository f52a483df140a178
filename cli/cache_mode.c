/* cli/cache_mode.c -- QEMU's cache modes (see cache_mode.h). */
#include "cache_mode.h"

#include <string.h>

#include "libimg/img.h"

typedef struct named_mode {
    const char *name;
    cli_cache_mode mode;
} named_mode;

/* bdrv_parse_cache_mode(): "off" is an old name of "none". */
static const named_mode modes[] = {
    { "none", { .direct = 1 } },
    { "off", { .direct = 1 } },
    { "directsync", { .direct = 1, .writethrough = 1 } },
    { "writeback", { 0 } },
    { "writethrough", { .writethrough = 1 } },
    { "unsafe", { .no_flush = 1 } },
};

int cli_cache_mode_parse(const char *name, cli_cache_mode *mode)
{
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (!strcmp(name, modes[i].name)) {
            *mode = modes[i].mode;
            return 0;
        }
    }
    return -1;
}

int cli_cache_mode_valid(const char *name)
{
    cli_cache_mode mode;
    return cli_cache_mode_parse(name, &mode) == 0;
}

int cli_cache_flags(const char *name, unsigned *flags)
{
    cli_cache_mode mode;
    if (cli_cache_mode_parse(name, &mode) < 0) {
        return -1;
    }
    if (mode.no_flush) {
        *flags |= IMG_OPEN_NO_FLUSH;
    }
    return 0;
}
