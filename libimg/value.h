/* libimg/value.h -- a small ordered value tree (QAPI-like) for info output.
 *
 * Drivers describe format-specific information as a dict of typed values;
 * the CLI prints it either as qemu-img's human text or as JSON, keeping
 * insertion order (qemu-img's key order).
 */
#ifndef IMG_VALUE_H
#define IMG_VALUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum img_val_type {
    IMG_VAL_INT,
    IMG_VAL_UINT,
    IMG_VAL_BOOL,
    IMG_VAL_STR,
    IMG_VAL_LIST,
    IMG_VAL_DICT,
} img_val_type;

typedef struct img_val img_val;

img_val *img_val_int_new(int64_t v);
img_val *img_val_uint_new(uint64_t v);
img_val *img_val_bool_new(int v);
img_val *img_val_str_new(const char *s); /* copies s */
img_val *img_val_list_new(void);
img_val *img_val_dict_new(void);
void img_val_free(img_val *v); /* frees children; NULL is a no-op */

/* Containers take ownership of the child.  NULL children are ignored
 * (allocation failures surface as a missing key, never a crash). */
void img_val_list_append(img_val *list, img_val *child);
void img_val_dict_set(img_val *dict, const char *key, img_val *child);
void img_val_dict_set_int(img_val *dict, const char *key, int64_t v);
void img_val_dict_set_uint(img_val *dict, const char *key, uint64_t v);
void img_val_dict_set_bool(img_val *dict, const char *key, int v);
void img_val_dict_set_str(img_val *dict, const char *key, const char *s);

img_val_type img_val_type_of(const img_val *v);
int64_t img_val_int(const img_val *v);
uint64_t img_val_uint(const img_val *v);
int img_val_bool(const img_val *v);
const char *img_val_str(const img_val *v);
/* Lists and dicts: number of children, and the i-th child (and its key). */
size_t img_val_count(const img_val *v);
const img_val *img_val_at(const img_val *v, size_t i);
const char *img_val_key_at(const img_val *v, size_t i); /* dicts only */
const img_val *img_val_dict_get(const img_val *dict, const char *key);

#endif
