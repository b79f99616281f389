/* `strata capture [--layer REF]... [--name REF] UPPER`: turns the upper
 * directory of a writable view (`strata mount --upper`, or the NFS
 * server's) into a layer: what was created, changed and deleted over the
 * view of the given layers, said the same way as `strata run` says it, so
 * the same changes give the same digest whatever showed the view. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli/cli.h"
#include "layer/upper.h"

enum { CLI_OPT_LAYER = CLI_OPT_BASE, CLI_OPT_NAME };

#define CLI_CAPTURE_MAX_LAYERS 256

/* A view still using the upper holds the lock on its scratch directory
 * (vfs/upper.c): its changes may still be landing, so nothing is
 * captured then. The lock is kept until the capture is done. */
static strata_err *cli_capture_lock(const char *upper, int *fd)
{
    *fd = -1;
    int dfd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return strata_err_sys(errno, "give the upper directory of a view", "open %s", upper);
    int w = openat(dfd, UPPER_WORK, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(dfd);
    if (w < 0)
        return errno == ENOENT ? NULL
                               : strata_err_sys(errno, NULL, "open %s/%s", upper, UPPER_WORK);
    if (flock(w, LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        close(w);
        return err == EWOULDBLOCK
                   ? strata_err_new(STRATA_E_BUSY, "unmount the view first ('strata umount')",
                                    "the upper directory %s is in use by a mount", upper)
                   : strata_err_sys(err, NULL, "lock %s/%s", upper, UPPER_WORK);
    }
    *fd = w;
    return NULL;
}

static int cli_capture_run(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"layer", required_argument, NULL, CLI_OPT_LAYER},
        {"name", required_argument, NULL, CLI_OPT_NAME},
        {0},
    };
    static const char *refs[CLI_CAPTURE_MAX_LAYERS];
    size_t nrefs = 0;
    const char *name = NULL;
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "l:", longopts, &code)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return code;
        case 'l':
        case CLI_OPT_LAYER:
            if (nrefs == CLI_CAPTURE_MAX_LAYERS)
                return cli_usage_error(ctx, "at most %d layers", CLI_CAPTURE_MAX_LAYERS);
            refs[nrefs++] = optarg;
            break;
        case CLI_OPT_NAME:
            name = optarg;
            break;
        }
    }
    if (!cli_operands(ctx, argc, argv, 1, 1))
        return CLI_EXIT_USAGE;
    if (nrefs == 0)
        return cli_usage_error(ctx, "give the view's layers with --layer REF, top first");
    if (name && !store_ref_name_valid(name))
        return cli_report(strata_err_new(STRATA_E_INVALID,
                                         "a ref is 1-255 characters of letters, digits and ._+@/:-",
                                         "'%s' is not a valid ref name", name));
    const char *upper = argv[optind];
    store *s = NULL;
    strata_digest *ds = calloc(nrefs, sizeof(*ds));
    strata_buf enc;
    buf_init(&enc);
    layer_diff_stats st = {0};
    strata_digest out;
    int lock = -1;
    strata_err *e =
        ds ? cli_capture_lock(upper, &lock) : strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    if (!e)
        e = cli_open_store(ctx, CLI_STORE_WRITE, &s);
    for (size_t i = 0; !e && i < nrefs; i++)
        e = layer_resolve(s, refs[i], &ds[i]);
    if (!e)
        e = layer_capture_view(s, ds, nrefs, upper, &enc, &st);
    if (!e)
        e = store_put_buf(s, enc.data, enc.len, &out, NULL);
    if (!e && name)
        e = store_ref_set(s, name, &out);
    if (lock >= 0)
        close(lock);
    buf_free(&enc);
    free(ds);
    if (s)
        store_close(s);
    if (e)
        return cli_report(strata_err_wrap(e, "capture %s", upper));
    char hex[DIGEST_STR_LEN + 1];
    digest_format(&out, hex);
    printf("%s\n", hex);
    if (!ctx->quiet)
        fprintf(stderr,
                "captured %s%s%s: %" PRIu64 " added, %" PRIu64 " changed, %" PRIu64 " deleted\n",
                hex, name ? " as " : "", name ? name : "", st.added, st.changed, st.deleted);
    return cli_finish_stdout();
}

const cli_command cli_cmd_capture = {
    .name = "capture",
    .usage = "capture [--layer REF]... [--name REF] UPPER",
    .summary = "store the changes in a view's upper directory as a layer",
    .help = "Reads UPPER, the upper directory of a writable view of the given layers\n"
            "('strata mount --upper UPPER', the first --layer on top, as they were\n"
            "mounted), and stores what was created, changed and deleted over the view as\n"
            "a new layer, to stack on it. Prints its digest on stdout. The same changes\n"
            "give the same layer as 'strata run' captures, digest for digest. A view that\n"
            "still uses UPPER must be unmounted first; UPPER itself is left as it is.\n"
            "\n"
            "Options:\n"
            "  -l, --layer REF   a layer of the view; repeat, top first\n"
            "  --name REF        name the captured layer REF\n",
    .run = cli_capture_run,
};
