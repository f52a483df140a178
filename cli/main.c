/* cli/main.c -- vdisk entry point: dispatches qemu-img style subcommands.
 *
 * "vdisk CMD ARGS" and, through a symlink named qemu-img, "qemu-img CMD
 * ARGS" behave the same; only the program name in messages differs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void print_usage(FILE *out, const char *prog)
{
    fprintf(out, "usage: %s [--untrusted] COMMAND [command options]\n"
                 "Disk image utility, compatible with qemu-img\n\n"
                 "Command syntax:\n", prog);
    for (unsigned i = 0; cli_command_at(i); i++) {
        const cli_command *c = cli_command_at(i);
        fprintf(out, "  %s %s\n", c->name, c->usage);
    }
}

static int env_untrusted(void)
{
    const char *v = getenv("VDISK_UNTRUSTED");
    return v && strcmp(v, "0") != 0 && v[0] != '\0';
}

int main(int argc, char **argv)
{
    cli_env env = { .prog = base_name(argc > 0 ? argv[0] : "vdisk"),
                    .untrusted = env_untrusted() };
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--untrusted")) {
            env.untrusted = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_usage(stdout, env.prog);
            return 0;
        } else if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
            printf("%s version 7.2.0 (vdisk %s)\n", env.prog, VDISK_VERSION);
            return 0;
        } else {
            cli_error(&env, "unknown option '%s'", argv[i]);
            return 1;
        }
    }
    if (i >= argc) {
        cli_error(&env, "Not enough arguments\nTry '%s --help' for more "
                  "information", env.prog);
        return 1;
    }
    const cli_command *cmd = cli_find_command(argv[i]);
    if (!cmd) {
        cli_error(&env, "Command not found: %s", argv[i]);
        return 1;
    }
    return cmd->fn(&env, argc - i, argv + i);
}
