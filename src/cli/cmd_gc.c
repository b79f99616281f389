/* `strata gc [--dry-run]`: removes the blobs no ref reaches, and temp files
 * left by killed imports. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"

static int cli_gc_run(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {0},
    };
    bool dry_run = false;
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "n", longopts, &code)) != CLI_OPT_END) {
        if (c == CLI_OPT_EXIT)
            return code;
        if (c == 'n')
            dry_run = true;
    }
    if (!cli_operands(ctx, argc, argv, 0, 0))
        return CLI_EXIT_USAGE;

    store *s = NULL;
    strata_err *e = cli_open_store(ctx, CLI_STORE_WRITE, &s);
    store_gc_stats st = {0};
    if (!e)
        e = layer_gc(s, dry_run, &st);
    if (s)
        store_close(s);
    if (e)
        return cli_report(e);
    char removed[CLI_SIZE_LEN], kept[CLI_SIZE_LEN];
    printf("%s %" PRIu64 " blob%s (%s) and %" PRIu64 " temp file%s; kept %" PRIu64 " blob%s (%s)\n",
           dry_run ? "would remove" : "removed", st.blobs_removed, cli_plural(st.blobs_removed),
           cli_human_size(st.bytes_removed, removed), st.temp_files_removed,
           cli_plural(st.temp_files_removed), st.blobs_kept, cli_plural(st.blobs_kept),
           cli_human_size(st.bytes_kept, kept));
    return cli_finish_stdout();
}

const cli_command cli_cmd_gc = {
    .name = "gc",
    .usage = "gc [--dry-run]",
    .summary = "remove blobs that no ref reaches",
    .help = "Marks every blob reachable from a ref (each layer's manifest and the files\n"
            "in it), then removes every other blob, and the temp files that interrupted\n"
            "imports leave behind. Prints what it removed and what it kept. Fails, and\n"
            "changes nothing, while an import is writing to the store.\n"
            "\n"
            "Options:\n"
            "  -n, --dry-run   only count what would be removed\n",
    .run = cli_gc_run,
};
