/* tests/libimg/test_backing.c -- backing name resolution and the
 * untrusted-mode rule that references stay inside the image directory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libimg/backing.h"
#include "support/tmpdir.h"

Test(backing, relative_name_is_joined_to_overlay_directory)
{
    char *p = img_backing_resolve("/images/vm/top.qcow2", "base.qcow2");
    cr_assert_str_eq(p, "/images/vm/base.qcow2");
    free(p);
    p = img_backing_resolve("top.qcow2", "base.qcow2");
    cr_assert_str_eq(p, "base.qcow2");
    free(p);
    p = img_backing_resolve("dir/top.qcow2", "../base.qcow2");
    cr_assert_str_eq(p, "dir/../base.qcow2");
    free(p);
}

Test(backing, absolute_name_is_kept)
{
    char *p = img_backing_resolve("/images/top.qcow2", "/etc/base.img");
    cr_assert_str_eq(p, "/etc/base.img");
    free(p);
}

static char *make_file(const char *dir, const char *name)
{
    char *p = test_path(dir, name);
    cr_assert_eq(test_write_file(p, "x", 1), 0);
    return p;
}

Test(backing, untrusted_allows_regular_file_in_same_directory)
{
    char *dir = test_tmpdir_new();
    char *top = make_file(dir, "top.img");
    char *base = make_file(dir, "base.img");
    cr_assert_eq(img_check_reference_inside(top, base, NULL), 0);
    free(top);
    free(base);
    test_tmpdir_free(dir);
}

Test(backing, untrusted_refuses_parent_directory_and_absolute_paths)
{
    char *dir = test_tmpdir_new();
    cr_assert_eq(test_sh("mkdir '%s/sub'", dir), 0);
    char *top = make_file(dir, "sub/top.img");
    char *outside = make_file(dir, "secret.img");
    char *dotdot = test_path(dir, "sub/../secret.img");
    img_err err = { 0 };
    cr_assert_eq(img_check_reference_inside(top, dotdot, &err), -EPERM);
    cr_assert(strstr(err.msg, "outside") != NULL, "%s", err.msg);
    cr_assert_eq(img_check_reference_inside(top, "/etc/passwd", NULL),
                 -EPERM);
    free(top);
    free(outside);
    free(dotdot);
    test_tmpdir_free(dir);
}

Test(backing, untrusted_refuses_symlink_escaping_directory)
{
    char *dir = test_tmpdir_new();
    char *top = make_file(dir, "top.img");
    char *link = test_path(dir, "base.img");
    cr_assert_eq(symlink("/etc/passwd", link), 0);
    cr_assert_eq(img_check_reference_inside(top, link, NULL), -EPERM);
    free(top);
    free(link);
    test_tmpdir_free(dir);
}

Test(backing, untrusted_refuses_devices_and_directories)
{
    char *dir = test_tmpdir_new();
    char *top = make_file(dir, "top.img");
    cr_assert_eq(test_sh("mkdir '%s/d'", dir), 0);
    char *sub = test_path(dir, "d");
    cr_assert_eq(img_check_reference_inside(top, sub, NULL), -EPERM);
    char *dev = test_path(dir, "null");
    cr_assert_eq(symlink("/dev/null", dev), 0);
    cr_assert_eq(img_check_reference_inside(top, dev, NULL), -EPERM);
    free(top);
    free(sub);
    free(dev);
    test_tmpdir_free(dir);
}

Test(backing, missing_reference_is_an_error)
{
    char *dir = test_tmpdir_new();
    char *top = make_file(dir, "top.img");
    char *missing = test_path(dir, "missing.img");
    cr_assert_eq(img_check_reference_inside(top, missing, NULL), -ENOENT);
    free(top);
    free(missing);
    test_tmpdir_free(dir);
}
