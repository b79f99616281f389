/* `strata umount MOUNTPOINT`: ends a strata FUSE mount. The server that
 * serves it sees the unmount and exits by itself. */
#include <stdio.h>

#include "cli/cli.h"
#include "transport/fuse.h"

static int cli_umount_run(cli_ctx *ctx, int argc, char **argv)
{
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "", NULL, &code)) != CLI_OPT_END)
        if (c == CLI_OPT_EXIT)
            return code;
    if (!cli_operands(ctx, argc, argv, 1, 1))
        return CLI_EXIT_USAGE;
    const char *mp = argv[optind];
    strata_err *e = fusefs_unmount_path(mp);
    if (e)
        return cli_report(e);
    if (!ctx->quiet)
        fprintf(stderr, "unmounted %s\n", mp);
    return CLI_EXIT_OK;
}

const cli_command cli_cmd_umount = {
    .name = "umount",
    .usage = "umount MOUNTPOINT",
    .summary = "end a mount made by 'strata mount'",
    .help = "Unmounts the strata mount at MOUNTPOINT, and its server exits. A mount that a\n"
            "process still uses (an open file, a working directory) is busy: strata says\n"
            "so and leaves it mounted, rather than detaching it behind that process's back.\n"
            "A mount whose server has died is unmounted like any other.\n",
    .run = cli_umount_run,
};
