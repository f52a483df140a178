/* cli/snapshot_arg.c -- see snapshot_arg.h. */
#include "snapshot_arg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The value of key in a "snapshot.id=X,snapshot.name=Y" argument: the
 * last one wins and a key without '=' means "on", as QemuOpts reads it.
 * malloc'd, or NULL. */
static char *snapshot_opt(const char *param, const char *key)
{
    char *copy = strdup(param), *val = NULL;
    for (char *save = NULL, *kv = copy ? strtok_r(copy, ",", &save) : NULL;
         kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq) {
            *eq = '\0';
        }
        if (!strcmp(kv, key)) {
            free(val);
            val = strdup(eq ? eq + 1 : "on");
        }
    }
    free(copy);
    return val;
}

int cli_load_snapshot(const cli_env *env, img *im, const char *arg)
{
    img_err err = { 0 };
    int r;

    if (!strncmp(arg, "snapshot.", 9)) {
        char *id = snapshot_opt(arg, "snapshot.id");
        char *name = snapshot_opt(arg, "snapshot.name");
        r = img_snapshot_load_tmp(im, id, name, &err);
        free(id);
        free(name);
    } else {
        r = img_snapshot_load_tmp(im, arg, NULL, &err);
        if (r == -ENOENT || r == -EINVAL) {
            err = (img_err){ 0 };
            r = img_snapshot_load_tmp(im, NULL, arg, &err);
        }
    }
    if (r < 0) {
        cli_error(env, "Failed to load snapshot: %s", err.msg);
        return -1;
    }
    return 0;
}
