/* libimg/opts.h -- "-o key=value,..." option strings, as qemu-img takes them.
 *
 * A driver declares the options it accepts with an img_opt_desc table; the
 * CLI parses the user's strings against it (unknown or malformed options are
 * errors that name the option) and the driver reads typed values back.
 */
#ifndef IMG_OPTS_H
#define IMG_OPTS_H

#include <stdint.h>

#include "err.h"

typedef enum img_opt_type {
    IMG_OPT_STRING,
    IMG_OPT_BOOL,   /* on/off (also yes/no, true/false accepted on input) */
    IMG_OPT_NUMBER, /* unsigned decimal */
    IMG_OPT_SIZE,   /* with k/K, M, G, T, P, E suffix, 1024-based */
} img_opt_type;

typedef struct img_opt_desc {
    const char *name;
    img_opt_type type;
    const char *help;
    const char *def;  /* default shown by "create" ("Formatting ... x=def"),
                         or NULL when the option is not shown unless set */
    unsigned flags;   /* IMG_OPT_* below */
} img_opt_desc;

/* Option belongs to the host-file protocol (QEMU's file-posix options):
 * "-o help" lists it only when a target filename is given. */
#define IMG_OPT_PROTOCOL 1u

/* A parsed option list; entries keep the order of the desc table. */
typedef struct img_opts img_opts;

img_opts *img_opts_new(const img_opt_desc *desc); /* desc ends with name NULL */
void img_opts_free(img_opts *o);

/* Parses "a=1,b=on" (",," is a literal comma) into o.  Later values replace
 * earlier ones.  "help" and "?" are not handled here (see img_opts_help). */
int img_opts_parse(img_opts *o, const char *str, img_err *err);
/* Sets one option from text, validating it against its type. */
int img_opts_set(img_opts *o, const char *name, const char *value,
                 img_err *err);
int img_opts_is_set(const img_opts *o, const char *name);
/* Typed getters return the set value, else the desc default, else def. */
const char *img_opts_get_str(const img_opts *o, const char *name,
                             const char *def);
int img_opts_get_bool(const img_opts *o, const char *name, int def);
uint64_t img_opts_get_size(const img_opts *o, const char *name, uint64_t def);
uint64_t img_opts_get_number(const img_opts *o, const char *name,
                             uint64_t def);
/* Iterates the options that are set, in desc order (i from 0 while >= 0). */
const img_opt_desc *img_opts_desc(const img_opts *o);
const char *img_opts_value(const img_opts *o, const char *name); /* raw text */

/* True when str asks for help: "help", "?", or contains ",help". */
int img_opts_wants_help(const char *str);
/* False for a "-o" argument qemu-img rejects up front with "Invalid option
 * list: STR": empty, starting with ',' or ending in an odd run of ','. */
int img_opts_list_valid(const char *str);

/* Size parsing shared with the CLI: "10G", "512", "1.5M" (qemu_strtosz).
 * Returns 0 or -EINVAL / -ERANGE. */
int img_parse_size(const char *str, uint64_t *out);

#endif
