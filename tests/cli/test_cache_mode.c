/* tests/cli/test_cache_mode.c -- the cache modes of -t/-T: QEMU's six
 * names, what each asks for, the open flag "unsafe" adds, and the names
 * refused. */
#include <criterion/criterion.h>

#include "cli/cache_mode.h"
#include "libimg/img.h"

/* Parses name, expecting one of QEMU's modes. */
static cli_cache_mode parse_ok(const char *name)
{
    cli_cache_mode m = { -1, -1, -1 };
    cr_assert_eq(cli_cache_mode_parse(name, &m), 0, "%s refused", name);
    return m;
}

static void expect(const char *name, int direct, int writethrough,
                   int no_flush)
{
    cli_cache_mode m = parse_ok(name);
    cr_expect_eq(m.direct, direct, "%s: direct", name);
    cr_expect_eq(m.writethrough, writethrough, "%s: writethrough", name);
    cr_expect_eq(m.no_flush, no_flush, "%s: no_flush", name);
    cr_expect(cli_cache_mode_valid(name), "%s", name);
}

Test(cache_mode, qemu_names_and_what_they_ask)
{
    expect("none", 1, 0, 0);
    expect("off", 1, 0, 0);
    expect("directsync", 1, 1, 0);
    expect("writeback", 0, 0, 0);
    expect("writethrough", 0, 1, 0);
    expect("unsafe", 0, 0, 1);
}

Test(cache_mode, other_names_are_refused)
{
    static const char *const bad[] = { "", "None", "unsafe ", "direct",
                                       "writeback,", "on", "sync" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cli_cache_mode m;
        unsigned flags = 0;
        cr_expect_eq(cli_cache_mode_parse(bad[i], &m), -1, "'%s'", bad[i]);
        cr_expect(!cli_cache_mode_valid(bad[i]), "'%s'", bad[i]);
        cr_expect_eq(cli_cache_flags(bad[i], &flags), -1, "'%s'", bad[i]);
        cr_expect_eq(flags, 0u, "'%s' changed the flags", bad[i]);
    }
}

Test(cache_mode, only_unsafe_adds_no_flush)
{
    static const char *const names[] = { "none", "off", "directsync",
                                         "writeback", "writethrough" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        unsigned flags = IMG_OPEN_RDWR;
        cr_expect_eq(cli_cache_flags(names[i], &flags), 0, "%s", names[i]);
        cr_expect_eq(flags, (unsigned)IMG_OPEN_RDWR, "%s", names[i]);
    }
    unsigned flags = IMG_OPEN_RDWR;
    cr_expect_eq(cli_cache_flags("unsafe", &flags), 0);
    cr_expect_eq(flags, (unsigned)(IMG_OPEN_RDWR | IMG_OPEN_NO_FLUSH));
}
