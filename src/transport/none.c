/* The `none` transport: materialize a view, let a command change it, and
 * capture the changes as a layer (see none.h). */
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "transport/none.h"

struct none_sandbox {
    store *s;
    char *dir;
    manifest *base; /* the view, flattened: what the directory started as */
};

strata_err *none_prepare(store *s, manifest *const *layers, size_t n, const char *dir,
                         none_sandbox **out)
{
    *out = NULL;
    none_sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb || !(sb->dir = strdup(dir))) {
        free(sb);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory preparing %s", dir);
    }
    sb->s = s;
    strata_err *e = layer_flatten(layers, n, &sb->base);
    /* Reflinks or copies, never hardlinks: the command may write to any
     * file, and a hardlinked one is the store's own. */
    layer_export_stats st;
    if (!e)
        e = layer_materialize(s, sb->base, dir, LAYER_SHARE_REFLINK, &st);
    if (e) {
        manifest_free(sb->base);
        free(sb->dir);
        free(sb);
        return strata_err_wrap(e, "prepare a sandbox without a mount");
    }
    *out = sb;
    return NULL;
}

const char *none_dir(const none_sandbox *sb)
{
    return sb->dir;
}

strata_err *none_capture(none_sandbox *sb, const layer_import_opts *opts, strata_digest *out,
                         layer_diff_stats *st)
{
    strata_digest now_d;
    layer_import_stats is;
    strata_err *e = layer_import(sb->s, sb->dir, opts, &now_d, &is);
    manifest *now = NULL;
    if (!e)
        e = layer_load(sb->s, &now_d, &now);
    strata_buf enc;
    buf_init(&enc);
    if (!e)
        e = layer_diff(sb->base, now, &enc, st);
    if (!e && enc.oom)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory capturing %s", sb->dir);
    if (!e)
        e = store_put_buf(sb->s, enc.data, enc.len, out, NULL);
    buf_free(&enc);
    manifest_free(now);
    return e ? strata_err_wrap(e, "capture the changes in %s", sb->dir) : NULL;
}

strata_err *none_destroy(none_sandbox *sb, bool remove)
{
    if (!sb)
        return NULL;
    strata_err *e = NULL;
    if (remove)
        e = fs_remove_tree(sb->dir);
    manifest_free(sb->base);
    free(sb->dir);
    free(sb);
    return e;
}
