/* cli/edit_util.c -- progress and backing names for amend, rebase and
 * commit (see edit_util.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "edit_util.h"

void cli_edit_progress(void *opaque, uint64_t done, uint64_t total)
{
    /* qemu_progress_print(100.f * offset / total_work_size, 0) */
    cli_progress_set(opaque, 100.f * (float)done / (float)total);
}

char *cli_resolve_name(const char *path, const char *name)
{
    const char *slash = strrchr(path, '/');
    if (name[0] == '/' || !slash) {
        return strdup(name);
    }
    size_t dir = (size_t)(slash - path) + 1;
    char *s = malloc(dir + strlen(name) + 1);
    if (s) {
        memcpy(s, path, dir);
        strcpy(s + dir, name);
    }
    return s;
}

/* Whether both paths exist and are the same file after realpath(). */
static int same_real_path(const char *a, const char *b)
{
    char *ra = a ? realpath(a, NULL) : NULL;
    char *rb = b ? realpath(b, NULL) : NULL;
    int same = ra && rb && !strcmp(ra, rb);
    free(ra);
    free(rb);
    return same;
}

img *cli_find_backing_image(img *top, const char *name)
{
    for (img *p = top, *b = img_backing(top); b; p = b, b = img_backing(b)) {
        char *full = cli_resolve_name(img_filename(p), name);
        int same = same_real_path(full, img_filename(b));
        free(full);
        if (same) {
            return b;
        }
    }
    return NULL;
}
