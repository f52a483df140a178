/* cli/edit_util.h -- pieces shared by the commands that change images in
 * place: amend, rebase and commit (cli/edit_util.c). */
#ifndef CLI_EDIT_UTIL_H
#define CLI_EDIT_UTIL_H

#include "cache_mode.h"
#include "cli.h"

/* An img_progress_fn that prints percent done on a cli_progress
 * (opaque), as qemu-img's status callbacks do. */
void cli_edit_progress(void *opaque, uint64_t done, uint64_t total);

/* name resolved against the directory of path, as QEMU resolves backing
 * file names (absolute names stay); malloc'd, NULL when out of memory. */
char *cli_resolve_name(const char *path, const char *name);

/* QEMU's bdrv_find_backing_image(): the image below top whose file name
 * resolves to the same file as name does, resolved against the directory
 * of the image above it (realpath()s compared).  NULL when none. */
img *cli_find_backing_image(img *top, const char *name);

#endif
