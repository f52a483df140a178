/* libimg/value.c -- the ordered value tree of value.h.
 *
 * Scalars hold their value inline; lists and dicts hold a growable array of
 * children (dicts add a parallel array of owned keys).  Insertion order is
 * kept because qemu-img prints keys in a fixed order.
 */
#include "value.h"

#include <stdlib.h>
#include <string.h>

struct img_val {
    img_val_type type;
    union {
        int64_t i;  /* IMG_VAL_INT */
        uint64_t u; /* IMG_VAL_UINT */
        int b;      /* IMG_VAL_BOOL, 0 or 1 */
        char *s;    /* IMG_VAL_STR, owned */
    } v;
    img_val **items; /* LIST, DICT: owned children */
    char **keys;     /* DICT: owned keys, parallel to items */
    size_t count;    /* children in use */
    size_t cap;      /* children allocated */
};

static img_val *val_new(img_val_type type)
{
    img_val *v = calloc(1, sizeof(*v));
    if (v) {
        v->type = type;
    }
    return v;
}

img_val *img_val_int_new(int64_t i)
{
    img_val *v = val_new(IMG_VAL_INT);
    if (v) {
        v->v.i = i;
    }
    return v;
}

img_val *img_val_uint_new(uint64_t u)
{
    img_val *v = val_new(IMG_VAL_UINT);
    if (v) {
        v->v.u = u;
    }
    return v;
}

img_val *img_val_bool_new(int b)
{
    img_val *v = val_new(IMG_VAL_BOOL);
    if (v) {
        v->v.b = b != 0;
    }
    return v;
}

img_val *img_val_str_new(const char *s)
{
    img_val *v = val_new(IMG_VAL_STR);
    if (v) {
        v->v.s = strdup(s ? s : "");
        if (!v->v.s) {
            free(v);
            return NULL;
        }
    }
    return v;
}

img_val *img_val_list_new(void)
{
    return val_new(IMG_VAL_LIST);
}

img_val *img_val_dict_new(void)
{
    return val_new(IMG_VAL_DICT);
}

void img_val_free(img_val *v)
{
    if (!v) {
        return;
    }
    for (size_t i = 0; i < v->count; i++) {
        img_val_free(v->items[i]);
        if (v->keys) {
            free(v->keys[i]);
        }
    }
    free(v->items);
    free(v->keys);
    if (v->type == IMG_VAL_STR) {
        free(v->v.s);
    }
    free(v);
}

/* Makes room for one more child; returns 0 or -1 (out of memory). */
static int val_grow(img_val *v)
{
    if (v->count < v->cap) {
        return 0;
    }
    size_t cap = v->cap ? v->cap * 2 : 4;
    img_val **items = realloc(v->items, cap * sizeof(*items));
    if (!items) {
        return -1;
    }
    v->items = items;
    if (v->type == IMG_VAL_DICT) {
        char **keys = realloc(v->keys, cap * sizeof(*keys));
        if (!keys) {
            return -1;
        }
        v->keys = keys;
    }
    v->cap = cap;
    return 0;
}

void img_val_list_append(img_val *list, img_val *child)
{
    if (!child) {
        return;
    }
    if (!list || list->type != IMG_VAL_LIST || val_grow(list) < 0) {
        img_val_free(child); /* ownership was passed: don't leak it */
        return;
    }
    list->items[list->count++] = child;
}

/* Index of key in dict, or -1. */
static long dict_find(const img_val *dict, const char *key)
{
    for (size_t i = 0; i < dict->count; i++) {
        if (strcmp(dict->keys[i], key) == 0) {
            return (long)i;
        }
    }
    return -1;
}

void img_val_dict_set(img_val *dict, const char *key, img_val *child)
{
    if (!child) {
        return;
    }
    if (!dict || dict->type != IMG_VAL_DICT || !key) {
        img_val_free(child);
        return;
    }
    long i = dict_find(dict, key);
    if (i >= 0) {
        /* Replacing keeps the key's original position. */
        img_val_free(dict->items[i]);
        dict->items[i] = child;
        return;
    }
    char *k = strdup(key);
    if (!k || val_grow(dict) < 0) {
        free(k);
        img_val_free(child);
        return;
    }
    dict->keys[dict->count] = k;
    dict->items[dict->count++] = child;
}

void img_val_dict_set_int(img_val *dict, const char *key, int64_t v)
{
    img_val_dict_set(dict, key, img_val_int_new(v));
}

void img_val_dict_set_uint(img_val *dict, const char *key, uint64_t v)
{
    img_val_dict_set(dict, key, img_val_uint_new(v));
}

void img_val_dict_set_bool(img_val *dict, const char *key, int v)
{
    img_val_dict_set(dict, key, img_val_bool_new(v));
}

void img_val_dict_set_str(img_val *dict, const char *key, const char *s)
{
    img_val_dict_set(dict, key, img_val_str_new(s));
}

img_val_type img_val_type_of(const img_val *v)
{
    return v->type;
}

/* Numeric getters convert between INT, UINT and BOOL; other types give 0. */
int64_t img_val_int(const img_val *v)
{
    switch (v ? v->type : IMG_VAL_STR) {
    case IMG_VAL_INT:
        return v->v.i;
    case IMG_VAL_UINT:
        return (int64_t)v->v.u;
    case IMG_VAL_BOOL:
        return v->v.b;
    default:
        return 0;
    }
}

uint64_t img_val_uint(const img_val *v)
{
    return (uint64_t)img_val_int(v);
}

int img_val_bool(const img_val *v)
{
    return img_val_int(v) != 0;
}

/* NULL unless v is a string. */
const char *img_val_str(const img_val *v)
{
    return v && v->type == IMG_VAL_STR ? v->v.s : NULL;
}

/* 0 for scalars. */
size_t img_val_count(const img_val *v)
{
    return v ? v->count : 0;
}

/* NULL when i is out of range. */
const img_val *img_val_at(const img_val *v, size_t i)
{
    return v && i < v->count ? v->items[i] : NULL;
}

const char *img_val_key_at(const img_val *v, size_t i)
{
    if (!v || v->type != IMG_VAL_DICT || i >= v->count) {
        return NULL;
    }
    return v->keys[i];
}

const img_val *img_val_dict_get(const img_val *dict, const char *key)
{
    if (!dict || dict->type != IMG_VAL_DICT || !key) {
        return NULL;
    }
    long i = dict_find(dict, key);
    return i >= 0 ? dict->items[i] : NULL;
}
