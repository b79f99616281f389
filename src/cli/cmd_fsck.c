/* `strata fsck`: re-hashes every blob and checks every ref's layer; prints
 * each problem, and exits 1 when there is any. */
#include <inttypes.h>
#include <stdio.h>

#include "cli/cli.h"

/* Problems go to stdout as they are found, one line each, so a long check
 * of a damaged store shows its findings early. */
static void cli_fsck_problem(void *ctx, const char *what, const char *problem)
{
    uint64_t *count = ctx;
    (*count)++;
    printf("%s: %s\n", what, problem);
    fflush(stdout);
}

static int cli_fsck_run(cli_ctx *ctx, int argc, char **argv)
{
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "", NULL, &code)) != CLI_OPT_END)
        if (c == CLI_OPT_EXIT)
            return code;
    if (!cli_operands(ctx, argc, argv, 0, 0))
        return CLI_EXIT_USAGE;

    store *s = NULL;
    strata_err *e = cli_open_store(ctx, CLI_STORE_READ, &s);
    layer_fsck_stats st = {0};
    uint64_t problems = 0;
    if (!e)
        e = layer_fsck(s, cli_fsck_problem, &problems, &st);
    if (s)
        store_close(s);
    if (e)
        return cli_report(e);
    if (problems || st.blobs.bad || st.refs_bad) {
        cli_finish_stdout(); /* the problems first, then the verdict */
        if (!problems)
            problems = st.blobs.bad + st.refs_bad;
        fprintf(stderr,
                "strata: fsck found %" PRIu64 " problem%s (%" PRIu64 " bad blob%s, %" PRIu64
                " bad ref%s)\n"
                "hint: re-import the sources of the damaged layers, delete refs that cannot be "
                "repaired ('strata refs delete NAME'), then run 'strata gc'\n",
                problems, cli_plural(problems), st.blobs.bad, cli_plural(st.blobs.bad), st.refs_bad,
                cli_plural(st.refs_bad));
        return CLI_EXIT_FAIL;
    }
    char bytes[CLI_SIZE_LEN];
    printf("store is clean: %" PRIu64 " blob%s, %s, %" PRIu64 " ref%s verified\n", st.blobs.blobs,
           cli_plural(st.blobs.blobs), cli_human_size(st.blobs.bytes, bytes), st.refs,
           cli_plural(st.refs));
    if (st.blobs.temp_files)
        printf("note: %" PRIu64 " temp file%s left by interrupted imports; 'strata gc' removes "
               "them\n",
               st.blobs.temp_files, cli_plural(st.blobs.temp_files));
    return cli_finish_stdout();
}

const cli_command cli_cmd_fsck = {
    .name = "fsck",
    .usage = "fsck",
    .summary = "verify every blob and every ref's layer",
    .help = "Re-hashes every blob in the store and checks that each ref's manifest and\n"
            "all the files it names are present and intact. Prints one line per problem\n"
            "and exits 1 if there was any; otherwise prints a one-line summary. Temp\n"
            "files left by interrupted imports are harmless and noted ('strata gc'\n"
            "removes them).\n",
    .run = cli_fsck_run,
};
