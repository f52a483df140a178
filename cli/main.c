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

/* What the parameters in the command syntax mean (vdisk's own words). */
static const char *const parameter_help[] = {
    "filename, output_filename: an image file; source and target are "
    "the same as filename and output_filename",
    "fmt, output_fmt, backing_fmt: an image format: raw, qcow2, vhdx, "
    "vmdk (probed from the content when -f is not given)",
    "-o options: format options as name=value,...; '-o help' lists them",
    "size, bs, offsets: bytes, or with a suffix k, M, G, T, P, E "
    "(powers of 1024)",
    "cache, src_cache: none, writeback, writethrough, directsync, unsafe",
    "snapshot_param: a snapshot name, or snapshot.id=ID / "
    "snapshot.name=NAME",
    "ofmt: human (the default) or json",
    "-U, --force-share: open without locking out other users",
    "-q: quiet; -p: show progress",
    "-S sparse_size: runs of zeros at least this long (default 4k) are "
    "not written (0: write everything)",
    "-m num_coroutines: parallel workers (1 to 16); -W: write out of order",
    "-r rate_limit: at most this many bytes per second",
    "--object: accepted and ignored (vdisk needs no secrets)",
    "--image-opts: each image is named by options, as "
    "driver=FMT,file.filename=FILE (also file.driver=file, "
    "read-only=on|off; driver=file,filename=FILE reads the file as raw)",
    "--untrusted (or VDISK_UNTRUSTED=1): references inside an image must "
    "be regular files in the image's own directory",
};

static void print_usage(FILE *out, const char *prog)
{
    fprintf(out, "usage: %s [--untrusted] COMMAND [command options]\n"
                 "Disk image utility, compatible with qemu-img\n\n"
                 "Command syntax:\n", prog);
    for (unsigned i = 0; cli_command_at(i); i++) {
        const cli_command *c = cli_command_at(i);
        fprintf(out, "  %s %s\n", c->name, c->usage);
    }
    fprintf(out, "\nParameters:\n");
    for (size_t i = 0; i < sizeof(parameter_help) / sizeof(*parameter_help);
         i++) {
        fprintf(out, "  %s\n", parameter_help[i]);
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
