/* `strata cat REF PATH`: streams one file of a layer to stdout, in chunks,
 * following symbolic links inside the layer only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"

#define CLI_CAT_CHUNK (1u << 20)

/* Writes all of buf to stdout. EPIPE (the reader left) comes back as is,
 * so the caller can end quietly; other errors become a strata_err. */
static int cli_write_stdout(const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(STDOUT_FILENO, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Copies blob d to stdout without ever holding more than one chunk. */
static strata_err *cli_cat_blob(store *s, const strata_digest *d, const char *what, bool *epipe)
{
    store_reader *r = NULL;
    strata_err *e = store_reader_open(s, d, &r);
    if (e)
        return strata_err_wrap(e, "read %s", what);
    char *buf = malloc(CLI_CAT_CHUNK);
    if (!buf) {
        store_reader_close(r);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    }
    uint64_t size = store_reader_size(r), off = 0;
    while (!e && off < size) {
        size_t got = 0;
        e = store_reader_read(r, buf, CLI_CAT_CHUNK, off, &got);
        if (e) {
            e = strata_err_wrap(e, "read %s", what);
            break;
        }
        if (got == 0) {
            e = strata_err_new(STRATA_E_CORRUPT, NULL, "blob of %s ended early", what);
            break;
        }
        int err = cli_write_stdout(buf, got);
        if (err == EPIPE) {
            *epipe = true;
            break;
        }
        if (err)
            e = strata_err_sys(err, "check where standard output goes (disk full?)",
                               "write %s to standard output", what);
        off += got;
    }
    free(buf);
    store_reader_close(r);
    return e;
}

static int cli_cat_run(cli_ctx *ctx, int argc, char **argv)
{
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "", NULL, &code)) != CLI_OPT_END)
        if (c == CLI_OPT_EXIT)
            return code;
    if (!cli_operands(ctx, argc, argv, 2, 2))
        return CLI_EXIT_USAGE;
    const char *ref = argv[optind], *path = argv[optind + 1];

    store *s = NULL;
    manifest *m = NULL;
    strata_err *e = cli_open_layer(ctx, ref, &s, &m, NULL);
    uint32_t idx = MANIFEST_ROOT;
    if (!e)
        e = cli_layer_lookup(m, ref, path, true, &idx);
    bool epipe = false;
    if (!e) {
        const manifest_entry *en = idx == MANIFEST_ROOT ? NULL : &m->entries[idx];
        if (en && en->kind == MANIFEST_WHITEOUT) {
            e = strata_err_new(STRATA_E_NOTFOUND,
                               "the layer records that the file was deleted; read it from the "
                               "layer below",
                               "'%s' in layer %s is a whiteout (a deletion)", en->path, ref);
        } else if (!en || en->kind == MANIFEST_DIR) {
            e = strata_err_new(STRATA_E_INVALID, NULL, "'%s' in layer %s is a directory",
                               en ? en->path : "/", ref);
            char *hint = NULL;
            if (asprintf(&hint, "list it with 'strata ls %s%s%s'", ref, en ? " " : "",
                         en ? en->path : "") >= 0)
                strata_err_rehint(e, hint);
            free(hint);
        } else {
            char *what = NULL;
            if (asprintf(&what, "%s:%s", ref, en->path) < 0)
                what = NULL;
            e = cli_cat_blob(s, &en->digest, what ? what : en->path, &epipe);
            free(what);
        }
    }
    manifest_free(m);
    if (s)
        store_close(s);
    if (e)
        return cli_report(e);
    /* Stopping because the reader left is no error worth a message. */
    return epipe ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

const cli_command cli_cmd_cat = {
    .name = "cat",
    .usage = "cat REF PATH",
    .summary = "write a file of a layer to stdout",
    .help = "Writes the content of file PATH in layer REF to stdout, streaming. A symbolic\n"
            "link is followed inside the layer: a relative target resolves against the\n"
            "link's directory, for at most 40 links; a target that is absolute or leaves\n"
            "the layer is an error. A directory is an error (use 'strata ls').\n",
    .run = cli_cat_run,
};
