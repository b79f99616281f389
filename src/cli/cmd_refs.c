/* `strata refs` lists the named layers; `strata refs delete NAME` removes a
 * name (the layer's blobs stay until `strata gc`). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static int cli_refs_list(cli_ctx *ctx)
{
    store *s = NULL;
    strata_err *e = cli_open_store(ctx, CLI_STORE_READ, &s);
    layer_refs refs = {0};
    if (!e)
        e = layer_refs_list(s, &refs);
    if (s)
        store_close(s);
    if (e)
        return cli_report(e);
    for (size_t i = 0; i < refs.n && !ferror(stdout); i++) {
        char d[DIGEST_STR_LEN + 1];
        digest_format(&refs.digests[i], d);
        printf("%s %s\n", refs.names[i], d);
    }
    layer_refs_free(&refs);
    return cli_finish_stdout();
}

static int cli_refs_delete(cli_ctx *ctx, const char *name)
{
    store *s = NULL;
    strata_err *e = cli_open_store(ctx, CLI_STORE_WRITE, &s);
    if (!e)
        e = store_ref_delete(s, name);
    if (e && e->code == STRATA_E_NOTFOUND)
        strata_err_rehint(e, "'strata refs' lists the refs in the store");
    if (s)
        store_close(s);
    if (e)
        return cli_report(strata_err_wrap(e, "delete ref '%s'", name));
    if (!ctx->quiet)
        fprintf(stderr, "deleted ref %s; 'strata gc' frees what only it used\n", name);
    return CLI_EXIT_OK;
}

static int cli_refs_run(cli_ctx *ctx, int argc, char **argv)
{
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "", NULL, &code)) != CLI_OPT_END)
        if (c == CLI_OPT_EXIT)
            return code;
    int n = argc - optind;
    if (n == 0)
        return cli_refs_list(ctx);
    const char *sub = argv[optind];
    if (strcmp(sub, "delete") != 0)
        return cli_usage_error(ctx, "unknown refs subcommand '%s'", sub);
    if (n != 2)
        return cli_usage_error(ctx, n < 2 ? "missing ref name; usage: strata refs delete NAME"
                                          : "too many arguments; usage: strata refs delete NAME");
    return cli_refs_delete(ctx, argv[optind + 1]);
}

const cli_command cli_cmd_refs = {
    .name = "refs",
    .usage = "refs [delete NAME]",
    .summary = "list the named layers, or delete a name",
    .help = "Without arguments, lists every ref as 'NAME DIGEST', one per line, in name\n"
            "order. 'strata refs delete NAME' removes the ref NAME; the blobs of its layer\n"
            "stay in the store until 'strata gc' finds that no ref reaches them.\n",
    .run = cli_refs_run,
};
