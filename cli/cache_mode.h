/* cli/cache_mode.h -- QEMU's cache modes, the values of -t and -T
 * (bdrv_parse_cache_mode()), in one table for every command. */
#ifndef CLI_CACHE_MODE_H
#define CLI_CACHE_MODE_H

/* What a cache mode asks for.  vdisk always goes through the host page
 * cache, so `direct` changes nothing in what vdisk does; the commands
 * use it where QEMU's behaviour depends on it (bench's aio=native). */
typedef struct cli_cache_mode {
    int direct;       /* bypass the host page cache (cache.direct=on) */
    int writethrough; /* every write flushed before it completes */
    int no_flush;     /* flushes ignored: "unsafe" */
} cli_cache_mode;

/* 0 with *mode filled for one of QEMU's names (none, off, writeback,
 * writethrough, directsync, unsafe); -1 for any other name. */
int cli_cache_mode_parse(const char *name, cli_cache_mode *mode);

/* Whether name is one of QEMU's cache modes. */
int cli_cache_mode_valid(const char *name);

/* -1 for an unknown mode, else 0 with the open flags the mode adds
 * (IMG_OPEN_NO_FLUSH for "unsafe") or'ed into *flags. */
int cli_cache_flags(const char *name, unsigned *flags);

#endif
