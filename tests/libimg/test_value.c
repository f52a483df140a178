/* tests/libimg/test_value.c -- the ordered value tree (libimg/value.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "libimg/value.h"

Test(value, scalars_keep_type_and_value)
{
    img_val *i = img_val_int_new(-5);
    img_val *u = img_val_uint_new(UINT64_MAX);
    img_val *b = img_val_bool_new(42);
    img_val *s = img_val_str_new("abc");
    cr_assert_eq(img_val_type_of(i), IMG_VAL_INT);
    cr_assert_eq(img_val_int(i), -5);
    cr_assert_eq(img_val_type_of(u), IMG_VAL_UINT);
    cr_assert_eq(img_val_uint(u), UINT64_MAX);
    cr_assert_eq(img_val_type_of(b), IMG_VAL_BOOL);
    cr_assert_eq(img_val_bool(b), 1, "bools are normalised to 0/1");
    cr_assert_eq(img_val_type_of(s), IMG_VAL_STR);
    cr_assert_str_eq(img_val_str(s), "abc");
    cr_assert_null(img_val_str(i), "a number is not a string");
    cr_assert_eq(img_val_count(i), 0);
    img_val_free(i);
    img_val_free(u);
    img_val_free(b);
    img_val_free(s);
}

Test(value, string_is_copied)
{
    char buf[] = "hello";
    img_val *s = img_val_str_new(buf);
    buf[0] = 'j';
    cr_assert_str_eq(img_val_str(s), "hello");
    img_val_free(s);
}

Test(value, dict_keeps_insertion_order)
{
    static const char *const keys[] = { "zeta", "alpha", "mid", "b", "a" };
    img_val *d = img_val_dict_new();
    for (int i = 0; i < 5; i++) {
        img_val_dict_set_int(d, keys[i], i);
    }
    cr_assert_eq(img_val_count(d), 5);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_str_eq(img_val_key_at(d, i), keys[i]);
        cr_assert_eq(img_val_int(img_val_at(d, i)), (int64_t)i);
    }
    cr_assert_eq(img_val_int(img_val_dict_get(d, "mid")), 2);
    cr_assert_null(img_val_dict_get(d, "missing"));
    cr_assert_null(img_val_at(d, 5));
    cr_assert_null(img_val_key_at(d, 5));
    img_val_free(d);
}

Test(value, dict_set_same_key_replaces_in_place)
{
    img_val *d = img_val_dict_new();
    img_val_dict_set_str(d, "a", "one");
    img_val_dict_set_bool(d, "b", 0);
    img_val_dict_set_str(d, "a", "two");
    cr_assert_eq(img_val_count(d), 2);
    cr_assert_str_eq(img_val_key_at(d, 0), "a");
    cr_assert_str_eq(img_val_str(img_val_at(d, 0)), "two");
    img_val_free(d);
}

Test(value, list_grows_past_initial_capacity)
{
    img_val *l = img_val_list_new();
    for (int i = 0; i < 100; i++) {
        img_val_list_append(l, img_val_uint_new((uint64_t)i * 3));
    }
    cr_assert_eq(img_val_count(l), 100);
    for (size_t i = 0; i < 100; i++) {
        cr_assert_eq(img_val_uint(img_val_at(l, i)), i * 3);
    }
    cr_assert_null(img_val_key_at(l, 0), "lists have no keys");
    img_val_free(l);
}

Test(value, nested_containers_are_owned_and_freed)
{
    /* Run under ASan/valgrind this also checks that nothing leaks. */
    img_val *root = img_val_dict_new();
    img_val *list = img_val_list_new();
    img_val *inner = img_val_dict_new();
    img_val_dict_set_str(inner, "name", "x");
    img_val_list_append(list, inner);
    img_val_dict_set(root, "items", list);
    const img_val *got = img_val_dict_get(root, "items");
    cr_assert_eq(img_val_type_of(got), IMG_VAL_LIST);
    cr_assert_str_eq(img_val_str(img_val_dict_get(img_val_at(got, 0),
                                                  "name")), "x");
    img_val_free(root);
}

Test(value, null_child_is_ignored_and_free_null_is_noop)
{
    img_val *d = img_val_dict_new();
    img_val *l = img_val_list_new();
    img_val_dict_set(d, "k", NULL);
    img_val_list_append(l, NULL);
    cr_assert_eq(img_val_count(d), 0);
    cr_assert_eq(img_val_count(l), 0);
    img_val_free(NULL);
    img_val_free(d);
    img_val_free(l);
}

Test(value, child_given_to_wrong_container_is_freed_not_added)
{
    img_val *l = img_val_list_new();
    img_val_dict_set(l, "k", img_val_int_new(1)); /* not a dict */
    cr_assert_eq(img_val_count(l), 0);
    img_val_free(l);
}
