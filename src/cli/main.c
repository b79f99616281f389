/* The strata command: global options, the command table, help and
 * dispatch. Each command lives in its own cmd_*.c file. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const cli_command *const cli_commands[] = {
    &cli_cmd_import, &cli_cmd_ls,     &cli_cmd_cat, &cli_cmd_export,  &cli_cmd_refs,
    &cli_cmd_gc,     &cli_cmd_fsck,   &cli_cmd_run, &cli_cmd_capture, &cli_cmd_mount,
    &cli_cmd_serve,  &cli_cmd_umount, &cli_cmd_ps,  &cli_cmd_sweep,   &cli_cmd_doctor,
};
#define CLI_N_COMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

static const cli_command *cli_find_command(const char *name)
{
    for (size_t i = 0; i < CLI_N_COMMANDS; i++)
        if (strcmp(cli_commands[i]->name, name) == 0)
            return cli_commands[i];
    return NULL;
}

void cli_print_help(const cli_command *cmd, FILE *out)
{
    if (cmd) {
        fprintf(out,
                "usage: strata %s\n\n%s\n"
                "Common options:\n"
                "  --store DIR   use the store in DIR (default: see 'strata --help')\n"
                "  -q, --quiet   print no summary or progress on stderr\n"
                "  -h, --help    print this help\n",
                cmd->usage, cmd->help);
        return;
    }
    fputs("usage: strata [--store DIR] [-q] COMMAND [ARG]...\n"
          "\n"
          "strata keeps file trees as immutable, content-addressed layers in a local\n"
          "store, and lists, reads and exports them again.\n"
          "\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < CLI_N_COMMANDS; i++)
        fprintf(out, "  %-8s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
    fputs("  help     print the help of a command: strata help COMMAND\n"
          "\n"
          "Global options:\n"
          "  --store DIR   the store to use; default $STRATA_STORE, else\n"
          "                $XDG_DATA_HOME/strata, else ~/.local/share/strata\n"
          "  -q, --quiet   print no summary or progress on stderr\n"
          "  -h, --help    print this help ('strata COMMAND --help' for a command)\n"
          "  --version     print the version\n"
          "\n"
          "Exit status: 0 success, 1 strata failed, 2 usage error. See strata(1).\n",
          out);
}

/* `strata help [COMMAND]`: the same text as --help, for people who type it
 * that way round. */
static int cli_help_command(cli_ctx *ctx, int argc, char **argv)
{
    if (argc > 2)
        return cli_usage_error(ctx, "unexpected argument '%s'; usage: strata help [COMMAND]",
                               argv[2]);
    if (argc < 2) {
        cli_print_help(NULL, stdout);
        return cli_finish_stdout();
    }
    const cli_command *cmd = cli_find_command(argv[1]);
    if (!cmd)
        return cli_usage_error(ctx, "unknown command '%s'", argv[1]);
    cli_print_help(cmd, stdout);
    return cli_finish_stdout();
}

enum { CLI_OPT_VERSION = CLI_OPT_BASE, CLI_OPT_GSTORE };

int main(int argc, char **argv)
{
    /* A reader that goes away (strata cat ... | head) must show up as a
     * write error (EPIPE) that the command handles, not kill strata midway. */
    signal(SIGPIPE, SIG_IGN);

    cli_ctx ctx = {0};
    static const struct option longopts[] = {
        {"store", required_argument, NULL, CLI_OPT_GSTORE},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, CLI_OPT_VERSION},
        {0},
    };
    /* '+' stops at the command name: everything after it is the
     * command's to parse. */
    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'q':
            ctx.quiet = true;
            break;
        case 'h':
            cli_print_help(NULL, stdout);
            return cli_finish_stdout();
        case CLI_OPT_VERSION:
            printf("strata %s\n", STRATA_VERSION);
            return cli_finish_stdout();
        case CLI_OPT_GSTORE:
            if (!optarg[0])
                return cli_usage_error(&ctx, "--store needs a directory, not ''");
            ctx.store_dir = optarg;
            break;
        case ':':
            return cli_usage_error(&ctx, "option '%s' needs a value", argv[optind - 1]);
        default: {
            const char *arg = argv[optind - 1];
            int len = (int)strcspn(arg, "=");
            if (arg[0] == '-' && arg[1] == '-' && optopt)
                return cli_usage_error(&ctx, "option '%.*s' takes no value", len, arg);
            if (arg[0] == '-' && arg[1] == '-')
                return cli_usage_error(&ctx, "unknown option '%.*s'", len, arg);
            return cli_usage_error(&ctx, "unknown option '-%c'", optopt);
        }
        }
    }
    if (optind >= argc)
        return cli_usage_error(&ctx, "no command given");
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0)
        return cli_help_command(&ctx, argc - optind, argv + optind);
    const cli_command *cmd = cli_find_command(name);
    if (!cmd)
        return cli_usage_error(&ctx, "unknown command '%s'", name);
    ctx.cmd = cmd;
    return cmd->run(&ctx, argc - optind, argv + optind);
}
