/* `strata ls REF [PATH] [-R] [-l]`: lists a directory of a layer (or one
 * entry), straight from its manifest; no file content is read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "cli/cli.h"

/* "drwxr-xr-x" style, as people know it from ls -l. */
static void cli_mode_string(const manifest_entry *en, char out[11])
{
    static const char rwx[] = "rwxrwxrwx";
    /* A whiteout shows as overlayfs stores it: a character device. */
    out[0] = en->kind == MANIFEST_DIR        ? 'd'
             : en->kind == MANIFEST_SYMLINK  ? 'l'
             : en->kind == MANIFEST_WHITEOUT ? 'c'
                                             : '-';
    for (int i = 0; i < 9; i++)
        out[1 + i] = (en->mode & (0400 >> i)) ? rwx[i] : '-';
    out[10] = '\0';
}

/* One line of output; shown is the entry's name as the listing presents it
 * (a bare name, a path relative to the listed directory, or the user's). */
static void cli_ls_entry(const manifest_entry *en, const char *shown, bool longfmt)
{
    if (longfmt) {
        char mode[11], size[24], digest[DIGEST_STR_LEN + 1] = "-";
        cli_mode_string(en, mode);
        if (en->kind == MANIFEST_DIR || en->kind == MANIFEST_WHITEOUT)
            snprintf(size, sizeof(size), "-");
        else
            snprintf(size, sizeof(size), "%" PRIu64, en->size);
        if (en->kind == MANIFEST_FILE)
            digest_format(&en->digest, digest);
        printf("%s %12s %-*s ", mode, size, DIGEST_STR_LEN, digest);
    }
    fputs(shown, stdout);
    if (en->kind == MANIFEST_DIR)
        fputs((en->flags & MANIFEST_F_OPAQUE) ? "/ (opaque)" : "/", stdout);
    else if (en->kind == MANIFEST_SYMLINK)
        printf(" -> %s", en->target);
    else if (en->kind == MANIFEST_WHITEOUT)
        fputs(" (whiteout)", stdout);
    putchar('\n');
}

/* Lists directory dir (an index, or MANIFEST_ROOT): its children, or with
 * recursive its whole subtree in tree order, paths relative to dir. */
static void cli_ls_dir(const manifest *m, uint32_t dir, bool recursive, bool longfmt)
{
    if (!recursive) {
        for (uint32_t c = manifest_child_first(m, dir); c != MANIFEST_ROOT && !ferror(stdout);
             c = manifest_child_next(m, c)) {
            const manifest_entry *en = &m->entries[c];
            cli_ls_entry(en, en->path + en->name_off, longfmt);
        }
        return;
    }
    uint32_t begin = dir == MANIFEST_ROOT ? 0 : dir + 1;
    uint32_t end = dir == MANIFEST_ROOT ? m->count : m->entries[dir].end;
    size_t skip = dir == MANIFEST_ROOT ? 0 : m->entries[dir].path_len + 1;
    for (uint32_t i = begin; i < end && !ferror(stdout); i++)
        cli_ls_entry(&m->entries[i], m->entries[i].path + skip, longfmt);
}

static int cli_ls_run(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"recursive", no_argument, NULL, 'R'},
        {"long", no_argument, NULL, 'l'},
        {0},
    };
    bool recursive = false, longfmt = false;
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "Rl", longopts, &code)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return code;
        case 'R':
            recursive = true;
            break;
        case 'l':
            longfmt = true;
            break;
        }
    }
    if (!cli_operands(ctx, argc, argv, 1, 2))
        return CLI_EXIT_USAGE;
    const char *ref = argv[optind];
    const char *raw = optind + 1 < argc ? argv[optind + 1] : "";

    char *path = NULL;
    strata_err *e = path_normalize(raw, &path);
    if (e)
        return cli_report(strata_err_wrap(e, "ls %s", ref));
    /* Like ls, show a link itself, unless a trailing '/' asks for what it
     * points to. */
    size_t rl = strlen(raw);
    bool follow_last = rl > 0 && raw[rl - 1] == '/';

    store *s = NULL;
    manifest *m = NULL;
    e = cli_open_layer(ctx, ref, &s, &m, NULL);
    uint32_t idx = MANIFEST_ROOT;
    if (!e)
        e = cli_layer_lookup(m, ref, path, follow_last, &idx);
    if (!e) {
        if (idx == MANIFEST_ROOT || m->entries[idx].kind == MANIFEST_DIR)
            cli_ls_dir(m, idx, recursive, longfmt);
        else
            cli_ls_entry(&m->entries[idx], path, longfmt);
    }
    manifest_free(m);
    if (s)
        store_close(s);
    free(path);
    if (e)
        return cli_report(e);
    return cli_finish_stdout();
}

const cli_command cli_cmd_ls = {
    .name = "ls",
    .usage = "ls REF [PATH] [-R] [-l]",
    .summary = "list a directory of a layer",
    .help = "Lists the entries of directory PATH (default: the root) in the layer REF,\n"
            "one per line in byte order: directories with a trailing '/', symbolic links\n"
            "as 'name -> target'. When PATH is a file or a link, lists just that entry.\n"
            "A link is shown, not followed, unless PATH ends in '/'. REF is a ref name\n"
            "or a layer digest (sha256:...); PATH is relative to the layer's root and\n"
            "may not contain '..'.\n"
            "\n"
            "Options:\n"
            "  -R, --recursive     list the whole subtree, paths relative to PATH\n"
            "  -l, --long          also show mode, size and content digest\n",
    .run = cli_ls_run,
};
