/* cli/commands.c -- the table of subcommands (qemu-img's img_cmd_t). */
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    { "amend", cmd_amend,
      "[--object objectdef] [--image-opts] [-p] [-q] [-f fmt] [-t cache] "
      "[--force] -o options filename" },
    { "bench", cmd_bench,
      "[-c count] [-d depth] [-f fmt] [--flush-interval=flush_interval] "
      "[-i aio] [-n] [--no-drain] [-o offset] [--pattern=pattern] [-q] "
      "[-s buffer_size] [-S step_size] [-t cache] [-w] [-U] filename" },
    { "bitmap", cmd_bitmap,
      "(--merge SOURCE | --add | --remove | --clear | --enable | --disable)"
      "... [-b source_file [-F source_fmt]] [-g granularity] "
      "[--object objectdef] [--image-opts | -f fmt] filename bitmap" },
#ifdef VDISK_HAVE_EMU
    { "boot", cmd_boot,
      "[-f fmt] [-U] filename [--memory size] [--serial file|-] "
      "[--timeout seconds] [--timeout-wall seconds] [--expect text] "
      "[--bios file] [--debugcon file] [--ns-per-insn n]" },
#endif
    { "check", cmd_check,
      "[--object objectdef] [--image-opts] [-q] [-f fmt] [--output=ofmt] "
      "[-r [leaks | all]] [-T src_cache] [-U] filename" },
    { "commit", cmd_commit,
      "[--object objectdef] [--image-opts] [-q] [-f fmt] [-t cache] "
      "[-b base] [-r rate_limit] [-d] [-p] filename" },
    { "compare", cmd_compare,
      "[--object objectdef] [--image-opts] [-f fmt] [-F fmt] [-T src_cache] "
      "[-p] [-q] [-s] [-U] filename1 filename2" },
    { "convert", cmd_convert,
      "[--object objectdef] [--image-opts] [--target-image-opts] "
      "[--target-is-zero] [--bitmaps] [-U] [-C] [-c] [-p] [-q] [-n] "
      "[-f fmt] [-t cache] [-T src_cache] [-O output_fmt] [-B backing_file "
      "[-F backing_fmt]] [-o options] [-l snapshot_param] [-S sparse_size] "
      "[-r rate_limit] [-m num_coroutines] [-W] [--salvage] filename "
      "[filename2 [...]] output_filename" },
    { "create", cmd_create,
      "[--object objectdef] [-q] [-f fmt] [-b backing_file [-F backing_fmt]] "
      "[-u] [-o options] filename [size]" },
    { "dd", cmd_dd,
      "[--image-opts] [-U] [-f fmt] [-O output_fmt] [bs=block_size] "
      "[count=blocks] [skip=blocks] if=input of=output" },
    { "info", cmd_info,
      "[--object objectdef] [--image-opts] [-f fmt] [--output=ofmt] "
      "[--backing-chain] [-U] filename" },
    { "map", cmd_map,
      "[--object objectdef] [--image-opts] [-f fmt] [--start-offset=offset] "
      "[--max-length=len] [--output=ofmt] [-U] filename" },
    { "measure", cmd_measure,
      "[--output=ofmt] [-O output_fmt] [-o options] [--size N | "
      "[--object objectdef] [--image-opts] [-f fmt] [-l snapshot_param] "
      "filename]" },
    { "rebase", cmd_rebase,
      "[--object objectdef] [--image-opts] [-U] [-q] [-f fmt] [-t cache] "
      "[-T src_cache] [-p] [-u] -b backing_file [-F backing_fmt] filename" },
    { "resize", cmd_resize,
      "[--object objectdef] [--image-opts] [-f fmt] [--preallocation=prealloc] "
      "[-q] [--shrink] filename [+ | -]size" },
    { "snapshot", cmd_snapshot,
      "[--object objectdef] [--image-opts] [-U] [-q] [-l | -a snapshot | "
      "-c snapshot | -d snapshot] filename" },
    { "verify", cmd_verify,
      "[-f fmt] [-F fmt] [-U] [--boot] [--expect text] "
      "[--timeout seconds] [--output=ofmt] source target" },
};

const cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (!strcmp(commands[i].name, name)) {
            return &commands[i];
        }
    }
    return NULL;
}

const cli_command *cli_command_at(unsigned i)
{
    if (i >= sizeof(commands) / sizeof(commands[0])) {
        return NULL;
    }
    return &commands[i];
}
