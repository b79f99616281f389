/* `strata import DIR [--name REF] [--threads N]`: a directory becomes a
 * layer. The manifest digest goes to stdout (for scripts); progress and a
 * one-line summary go to stderr (for people). */
#include <inttypes.h>
#include <stdio.h>

#include "base/digest.h"
#include "cli/cli.h"

#define CLI_MAX_THREADS 256

static int cli_import_run(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"name", required_argument, NULL, 'n'},
        {"threads", required_argument, NULL, 'j'},
        {0},
    };
    const char *name = NULL;
    uint64_t threads = 0;
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "n:j:", longopts, &code)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return code;
        case 'n':
            /* Checked before the work, not after an import of an hour. */
            if (!store_ref_name_valid(optarg))
                return cli_usage_error(ctx,
                                       "'%s' is not a valid ref name (1-255 characters of "
                                       "letters, digits and ._+@/:-)",
                                       optarg);
            name = optarg;
            break;
        case 'j':
            if (!cli_parse_uint(optarg, 1, CLI_MAX_THREADS, &threads))
                return cli_usage_error(ctx, "--threads wants a number from 1 to %d, not '%s'",
                                       CLI_MAX_THREADS, optarg);
            break;
        }
    }
    if (!cli_operands(ctx, argc, argv, 1, 1))
        return CLI_EXIT_USAGE;
    const char *dir = argv[optind];

    store *s = NULL;
    strata_err *e = cli_open_store(ctx, CLI_STORE_CREATE, &s);
    if (e)
        return cli_report(e);

    cli_progress *prog = cli_progress_new(!ctx->quiet);
    layer_import_opts opts = {
        .threads = (int)threads,
        .progress = prog ? cli_progress_update : NULL,
        .progress_ctx = prog,
    };
    strata_digest d;
    layer_import_stats st = {0};
    double t0 = cli_now();
    e = layer_import(s, dir, &opts, &d, &st);
    double secs = cli_now() - t0;
    cli_progress_free(prog);
    if (!e && name)
        e = strata_err_wrap(store_ref_set(s, name, &d), "name the imported layer '%s'", name);
    store_close(s);
    if (e)
        return cli_report(e);

    char ds[DIGEST_STR_LEN + 1];
    digest_format(&d, ds);
    printf("%s\n", ds);
    if (!ctx->quiet) {
        char bytes[CLI_SIZE_LEN], newb[CLI_SIZE_LEN];
        fprintf(stderr,
                "imported %s: %" PRIu64 " file%s, %" PRIu64 " dir%s, %" PRIu64 " symlink%s, "
                "%s in %.2f s (%.1f MB/s); new: %" PRIu64 " blob%s, %s\n",
                dir, st.files, cli_plural(st.files), st.dirs, cli_plural(st.dirs), st.symlinks,
                cli_plural(st.symlinks), cli_human_size(st.bytes, bytes), secs,
                cli_mb_per_s(st.bytes, secs), st.new_blobs, cli_plural(st.new_blobs),
                cli_human_size(st.new_bytes, newb));
    }
    return cli_finish_stdout();
}

const cli_command cli_cmd_import = {
    .name = "import",
    .usage = "import DIR [--name REF] [--threads N]",
    .summary = "import a directory as a layer; prints its digest",
    .help = "Imports the tree under DIR into the store as an immutable layer and prints\n"
            "the layer's digest (sha256:...) on stdout. File contents are stored once,\n"
            "whatever their number of copies. Symbolic links are stored as links and\n"
            "never followed; sockets, fifos and devices are refused. Permission bits\n"
            "(0777) are kept; owners, mtimes and setuid/setgid/sticky bits are not.\n"
            "\n"
            "Options:\n"
            "  -n, --name REF      also name the layer REF (1-255 characters of letters,\n"
            "                      digits and ._+@/:-); an existing REF is replaced\n"
            "  -j, --threads N     hash and store with N threads (default: one per core)\n",
    .run = cli_import_run,
};
