/* `strata export REF DIR [--link|--copy]`: materializes a layer as a plain
 * directory, for access without any mount. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"

enum { CLI_OPT_LINK = CLI_OPT_BASE, CLI_OPT_COPY, CLI_OPT_REFLINK };

static int cli_export_run(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"link", no_argument, NULL, CLI_OPT_LINK},
        {"copy", no_argument, NULL, CLI_OPT_COPY},
        {"reflink", no_argument, NULL, CLI_OPT_REFLINK},
        {0},
    };
    layer_share share = LAYER_SHARE_REFLINK;
    int modes = 0;
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "", longopts, &code)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return code;
        case CLI_OPT_LINK:
            share = LAYER_SHARE_LINK;
            modes |= 1;
            break;
        case CLI_OPT_COPY:
            share = LAYER_SHARE_COPY;
            modes |= 2;
            break;
        case CLI_OPT_REFLINK:
            share = LAYER_SHARE_REFLINK;
            modes |= 4;
            break;
        }
    }
    if (modes & (modes - 1))
        return cli_usage_error(ctx, "--link, --copy and --reflink exclude each other");
    if (!cli_operands(ctx, argc, argv, 2, 2))
        return CLI_EXIT_USAGE;
    const char *ref = argv[optind], *dir = argv[optind + 1];

    store *s = NULL;
    manifest *m = NULL;
    strata_err *e = cli_open_layer(ctx, ref, &s, &m, NULL);
    layer_export_stats st = {0};
    double t0 = cli_now();
    if (!e)
        e = strata_err_wrap(layer_materialize(s, m, dir, share, &st), "export %s", ref);
    double secs = cli_now() - t0;
    manifest_free(m);
    if (s)
        store_close(s);
    if (e)
        return cli_report(e);
    if (!ctx->quiet) {
        char bytes[CLI_SIZE_LEN];
        fprintf(stderr,
                "exported %s to %s: %" PRIu64 " file%s, %" PRIu64 " dir%s, %" PRIu64
                " symlink%s, %s in %.2f s (%" PRIu64 " reflinked, %" PRIu64 " hardlinked, %" PRIu64
                " copied)\n",
                ref, dir, st.files, cli_plural(st.files), st.dirs, cli_plural(st.dirs), st.symlinks,
                cli_plural(st.symlinks), cli_human_size(st.bytes, bytes), secs, st.reflinked,
                st.hardlinked, st.copied);
    }
    return CLI_EXIT_OK;
}

const cli_command cli_cmd_export = {
    .name = "export",
    .usage = "export REF DIR [--reflink | --link | --copy]",
    .summary = "materialize a layer as a plain directory",
    .help = "Recreates layer REF as an ordinary directory tree at DIR, which must be\n"
            "empty or absent; on failure DIR is left as it was. Content, symbolic links,\n"
            "permission bits and empty files and directories come out exactly; every\n"
            "mtime is 1 second after the epoch, so anything built from the tree is newer.\n"
            "\n"
            "Options:\n"
            "  --reflink   share large files with the store by reflink where the\n"
            "              filesystem can, else copy them (the default): an exact,\n"
            "              independent tree\n"
            "  --link      share large non-executable files with the store by hardlink:\n"
            "              fastest, but read-only. Their write bits are dropped, and\n"
            "              writing to them anyway (after chmod) would corrupt the store\n"
            "  --copy      always copy bytes\n",
    .run = cli_export_run,
};
