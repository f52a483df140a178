/* cli/snapshot_arg.h -- the -l SNAPSHOT argument of convert and measure
 * (cli/snapshot_arg.c). */
#ifndef CLI_SNAPSHOT_ARG_H
#define CLI_SNAPSHOT_ARG_H

#include "cli.h"
#include "libimg/img.h"

/*
 * Makes reads of im show the snapshot named by arg from now on (QEMU's
 * bdrv_snapshot_load_tmp): "snapshot.id=ID,snapshot.name=NAME" (already
 * checked by the caller), or a bare argument tried as an id, then as a
 * name.  Returns 0, or -1 after printing "Failed to load snapshot: ...".
 */
int cli_load_snapshot(const cli_env *env, img *im, const char *arg);

#endif
