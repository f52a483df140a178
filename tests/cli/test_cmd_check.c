/* tests/cli/test_cmd_check.c -- the report and exit status of "check".
 *
 * raw has no check, so the golden tests only reach exit status 63.  Here a
 * stand-in driver returns the results the real qcow2 check returned for
 * images damaged on purpose (a leaked cluster; a cluster with refcount 0
 * and one with refcount 2), and cmd_check.c's output is compared with what
 * qemu-img 7.2 printed for those images, with and without -r, human and
 * JSON, exit status included.
 *
 * cmd_check.c is included so that its static functions can be called.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>

#include "cli/cmd_check.c"
#include "libimg/driver.h"

/* Only "check -h" (opt_common.c) asks for a usage line. */
const cli_command *cli_find_command(const char *name)
{
    (void)name;
    return NULL;
}

/* What the stand-in driver returns: first (the check asked for), then,
 * after a repair, second (the double check). */
typedef struct script {
    img_check_result first, second;
    int error; /* first check fails with -error */
    unsigned fix_seen;
    int calls;
} script;

static int fake_check(img *im, img_check_result *res, unsigned fix,
                      img_err *err)
{
    script *s = im->state;
    if (s->calls++ == 0) {
        s->fix_seen = fix;
        if (s->error) {
            return img_err_set(err, s->error, "Input/output error");
        }
        *res = s->first;
    } else {
        cr_expect_eq(fix, 0, "the double check must not repair");
        *res = s->second;
    }
    return 0;
}

static int fake_open(img *im, img_file *f, unsigned flags, img_err *err)
{
    (void)im, (void)f, (void)flags, (void)err;
    return 0;
}

static int fake_pread(img *im, void *buf, uint64_t len, uint64_t off,
                      img_err *err)
{
    (void)im, (void)buf, (void)len, (void)off, (void)err;
    return 0;
}

static const img_driver fake_qcow2 = {
    .abi = IMG_DRIVER_ABI,
    .name = "qcow2",
    .open = fake_open,
    .pread = fake_pread,
    .check = fake_check,
};

static const cli_env env = { .prog = "vdisk" };

static void redirect(void)
{
    cr_redirect_stdout();
    cr_redirect_stderr();
}

/* Runs check_image() on an image of the stand-in format. */
static int run(script *s, const char *filename, cli_output output, unsigned fix)
{
    img im = { .drv = &fake_qcow2, .state = s, .flags = IMG_OPEN_RDWR };
    check_args a = { .filename = filename, .output = output, .fix = fix };
    int status = check_image(&env, &im, &a);
    fflush(stdout);
    fflush(stderr);
    return status;
}

/* q.qcow2: 128 KiB written to a fresh 1 MiB image. */
static const img_check_result clean = {
    .image_end_offset = 458752,
    .total_clusters = 16,
    .allocated_clusters = 2,
};

/* l.qcow2: an unused cluster's refcount set to 1. */
static const img_check_result leaky = {
    .leaks = 1,
    .image_end_offset = 589824,
    .total_clusters = 16,
    .allocated_clusters = 3,
    .fragmented_clusters = 1,
};

/* c.qcow2: data cluster 5 at refcount 0, cluster 6 at 2. */
static const img_check_result corrupt = {
    .corruptions = 3,
    .leaks = 1,
    .image_end_offset = 458752,
    .total_clusters = 16,
    .allocated_clusters = 2,
};

Test(cmd_check, clean_human, .init = redirect)
{
    script s = { .first = clean };
    cr_expect_eq(run(&s, "q.qcow2", CLI_OUTPUT_HUMAN, 0), 0);
    cr_expect_stdout_eq_str(
        "No errors were found on the image.\n"
        "2/16 = 12.50% allocated, 0.00% fragmented, 0.00% compressed "
        "clusters\n"
        "Image end offset: 458752\n");
}

Test(cmd_check, clean_json, .init = redirect)
{
    script s = { .first = clean };
    cr_expect_eq(run(&s, "q.qcow2", CLI_OUTPUT_JSON, 0), 0);
    cr_expect_stdout_eq_str("{\n"
                            "    \"image-end-offset\": 458752,\n"
                            "    \"total-clusters\": 16,\n"
                            "    \"check-errors\": 0,\n"
                            "    \"allocated-clusters\": 2,\n"
                            "    \"filename\": \"q.qcow2\",\n"
                            "    \"format\": \"qcow2\"\n"
                            "}\n");
}

Test(cmd_check, leaks_exit_3, .init = redirect)
{
    script s = { .first = leaky };
    cr_expect_eq(run(&s, "l.qcow2", CLI_OUTPUT_HUMAN, 0), 3);
    cr_expect_stdout_eq_str(
        "\n1 leaked clusters were found on the image.\n"
        "This means waste of disk space, but no harm to data.\n"
        "3/16 = 18.75% allocated, 33.33% fragmented, 0.00% compressed "
        "clusters\n"
        "Image end offset: 589824\n");
}

Test(cmd_check, leaks_json, .init = redirect)
{
    script s = { .first = leaky };
    cr_expect_eq(run(&s, "l.qcow2", CLI_OUTPUT_JSON, 0), 3);
    cr_expect_stdout_eq_str("{\n"
                            "    \"image-end-offset\": 589824,\n"
                            "    \"total-clusters\": 16,\n"
                            "    \"check-errors\": 0,\n"
                            "    \"leaks\": 1,\n"
                            "    \"allocated-clusters\": 3,\n"
                            "    \"filename\": \"l.qcow2\",\n"
                            "    \"format\": \"qcow2\",\n"
                            "    \"fragmented-clusters\": 1\n"
                            "}\n");
}

Test(cmd_check, corruptions_exit_2, .init = redirect)
{
    script s = { .first = corrupt };
    cr_expect_eq(run(&s, "c.qcow2", CLI_OUTPUT_HUMAN, 0), 2);
    cr_expect_stdout_eq_str(
        "\n3 errors were found on the image.\n"
        "Data may be corrupted, or further writes to the image may "
        "corrupt it.\n"
        "\n1 leaked clusters were found on the image.\n"
        "This means waste of disk space, but no harm to data.\n"
        "2/16 = 12.50% allocated, 0.00% fragmented, 0.00% compressed "
        "clusters\n"
        "Image end offset: 458752\n");
}

Test(cmd_check, corruptions_json, .init = redirect)
{
    script s = { .first = corrupt };
    cr_expect_eq(run(&s, "c.qcow2", CLI_OUTPUT_JSON, 0), 2);
    cr_expect_stdout_eq_str("{\n"
                            "    \"image-end-offset\": 458752,\n"
                            "    \"total-clusters\": 16,\n"
                            "    \"corruptions\": 3,\n"
                            "    \"check-errors\": 0,\n"
                            "    \"leaks\": 1,\n"
                            "    \"allocated-clusters\": 2,\n"
                            "    \"filename\": \"c.qcow2\",\n"
                            "    \"format\": \"qcow2\"\n"
                            "}\n");
}

/* check -r leaks l.qcow2 */
Test(cmd_check, repaired_leak_is_double_checked, .init = redirect)
{
    script s = { .first = leaky, .second = leaky };
    s.first.leaks_fixed = 1;
    s.second.leaks = 0;
    cr_expect_eq(run(&s, "l2.qcow2", CLI_OUTPUT_HUMAN, IMG_FIX_LEAKS), 0);
    cr_expect_eq(s.fix_seen, IMG_FIX_LEAKS);
    cr_expect_eq(s.calls, 2);
    cr_expect_stdout_eq_str(
        "The following inconsistencies were found and repaired:\n\n"
        "    1 leaked clusters\n"
        "    0 corruptions\n\n"
        "Double checking the fixed image now...\n"
        "No errors were found on the image.\n"
        "3/16 = 18.75% allocated, 33.33% fragmented, 0.00% compressed "
        "clusters\n"
        "Image end offset: 589824\n");
}

/* check -r all --output=json c3.qcow2: the repair counts of the first
 * check are reported with the result of the second. */
Test(cmd_check, repaired_json_keeps_fixed_counts, .init = redirect)
{
    script s = { .first = corrupt, .second = clean };
    s.first.corruptions_fixed = 1;
    s.first.leaks_fixed = 1;
    s.second.image_end_offset = 589824;
    cr_expect_eq(
        run(&s, "c3.qcow2", CLI_OUTPUT_JSON, IMG_FIX_LEAKS | IMG_FIX_ERRORS),
        0);
    cr_expect_stdout_eq_str("{\n"
                            "    \"image-end-offset\": 589824,\n"
                            "    \"total-clusters\": 16,\n"
                            "    \"corruptions-fixed\": 1,\n"
                            "    \"check-errors\": 0,\n"
                            "    \"leaks-fixed\": 1,\n"
                            "    \"allocated-clusters\": 2,\n"
                            "    \"filename\": \"c3.qcow2\",\n"
                            "    \"format\": \"qcow2\"\n"
                            "}\n");
}

/* check -r leaks c4.qcow2: qcow2 gives up (EIO); nothing on stdout. */
Test(cmd_check, failed_check_exit_1, .init = redirect)
{
    script s = { .error = EIO };
    cr_expect_eq(run(&s, "c4.qcow2", CLI_OUTPUT_HUMAN, IMG_FIX_LEAKS), 1);
    cr_expect_stdout_eq_str("");
    cr_expect_stderr_eq_str("vdisk: Check failed: Input/output error\n");
}

/* Internal errors: the report is printed, then "Check failed", exit 1. */
Test(cmd_check, check_errors_exit_1, .init = redirect)
{
    script s = { .first = { .check_errors = 2 } };
    cr_expect_eq(run(&s, "e.qcow2", CLI_OUTPUT_HUMAN, 0), 1);
    cr_expect_stdout_eq_str(
        "\n2 internal errors have occurred during the check.\n");
    cr_expect_stderr_eq_str("vdisk: Check failed\n");
}

Test(cmd_check, quiet_prints_nothing, .init = redirect)
{
    script s = { .first = leaky };
    img im = { .drv = &fake_qcow2, .state = &s, .flags = IMG_OPEN_RDWR };
    check_args a = { .filename = "l.qcow2", .quiet = 1 };
    cr_expect_eq(check_image(&env, &im, &a), 3);
    fflush(stdout);
    cr_expect_stdout_eq_str("");
}

Test(cmd_check, no_check_hook_exit_63, .init = redirect)
{
    img_driver no_check = fake_qcow2;
    no_check.check = NULL;
    img im = { .drv = &no_check, .flags = 0 };
    check_args a = { .filename = "a.img" };
    cr_expect_eq(check_image(&env, &im, &a), CHECK_EXIT_NOTSUP);
    fflush(stderr);
    cr_expect_stderr_eq_str(
        "vdisk: This image format does not support checks\n");
}
