/* Flattening a stack of layers into the one tree it shows.
 *
 * The rules are overlayfs's, applied to manifests: the top layer wins at a
 * path; a file, symlink or whiteout hides everything below it at that path
 * (a whiteout also hides itself); directories at one path merge, down to
 * the first layer whose directory there is opaque, or whose entry there is
 * not a directory.
 *
 * All manifests are in tree order, so one merge pass over them in step
 * decides every path, with a stack of the visible directories above the
 * current path; nothing is looked up and memory stays at the output's size. */
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "layer/layer.h"

/* A visible directory on the path from the root to the current entry, and
 * the lowest layer whose entries inside it can be seen (layers are numbered
 * from the top, 0). */
typedef struct view_dir {
    const manifest_entry *en; /* NULL for the root */
    size_t limit;
} view_dir;

/* Which layer holds the smallest path among the cursors; -1 when all are
 * done. Layers are few, so a linear scan beats a heap. */
static ssize_t view_min(manifest *const *layers, size_t n, const uint32_t *cur)
{
    ssize_t best = -1;
    for (size_t i = 0; i < n; i++) {
        if (cur[i] >= layers[i]->count)
            continue;
        const manifest_entry *en = &layers[i]->entries[cur[i]];
        if (best < 0) {
            best = (ssize_t)i;
            continue;
        }
        const manifest_entry *b = &layers[best]->entries[cur[best]];
        if (path_cmp(en->path, en->path_len, b->path, b->path_len) < 0)
            best = (ssize_t)i;
    }
    return best;
}

static bool view_is_parent(const view_dir *d, const manifest_entry *en)
{
    size_t plen = path_parent_len(en->path, en->path_len);
    if (!d->en)
        return plen == 0;
    return d->en->path_len == plen && memcmp(d->en->path, en->path, plen) == 0;
}

static bool view_is_ancestor(const view_dir *d, const manifest_entry *en)
{
    if (!d->en)
        return true;
    return d->en->path_len < en->path_len && en->path[d->en->path_len] == '/' &&
           memcmp(d->en->path, en->path, d->en->path_len) == 0;
}

static strata_err *view_add(manifest_builder *b, const manifest_entry *en)
{
    return manifest_builder_add(b, (manifest_kind)en->kind, en->path, en->mode, en->size,
                                en->kind == MANIFEST_FILE ? &en->digest : NULL, en->target);
}

strata_err *layer_load_view(store *s, const strata_digest *layers, size_t n, manifest **out)
{
    *out = NULL;
    manifest **ms = calloc(n ? n : 1, sizeof(*ms));
    if (!ms)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory loading %zu layers", n);
    strata_err *e = NULL;
    for (size_t i = 0; !e && i < n; i++)
        e = layer_load(s, &layers[i], &ms[i]);
    /* A diff alone still flattens: that drops its whiteouts and opacity. */
    if (!e && n == 1 && ms[0]->version == MANIFEST_VERSION) {
        *out = ms[0];
        ms[0] = NULL;
    } else if (!e) {
        e = layer_flatten(ms, n, out);
    }
    for (size_t i = 0; i < n; i++)
        manifest_free(ms[i]);
    free(ms);
    return e;
}

strata_err *layer_flatten(manifest *const *layers, size_t n, manifest **out)
{
    *out = NULL;
    if (n == 0)
        return strata_err_new(STRATA_E_INVALID, "give at least one layer",
                              "a view needs at least one layer");
    uint32_t *cur = calloc(n, sizeof(*cur));
    const manifest_entry **at = calloc(n, sizeof(*at));
    /* A path of PATH_TREE_MAX bytes has at most this many components. */
    size_t cap = PATH_TREE_MAX / 2 + 2, depth = 0;
    view_dir *stack = calloc(cap, sizeof(*stack));
    manifest_builder *b = manifest_builder_new(layers[0]->root_mode);
    strata_err *e = NULL;
    if (!cur || !at || !stack || !b) {
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory flattening %zu layers", n);
        goto done;
    }
    stack[depth++] = (view_dir){.en = NULL, .limit = n - 1};
    for (ssize_t m; !e && (m = view_min(layers, n, cur)) >= 0;) {
        const manifest_entry *first = &layers[m]->entries[cur[m]];
        /* Every layer holding this path, top first; advance past it. */
        for (size_t i = 0; i < n; i++) {
            at[i] = NULL;
            if (cur[i] < layers[i]->count) {
                const manifest_entry *en = &layers[i]->entries[cur[i]];
                if (path_cmp(en->path, en->path_len, first->path, first->path_len) == 0) {
                    at[i] = en;
                    cur[i]++;
                }
            }
        }
        while (depth > 1 && !view_is_ancestor(&stack[depth - 1], first))
            depth--;
        view_dir *parent = &stack[depth - 1];
        if (!view_is_parent(parent, first))
            continue; /* its directory is hidden, so is it */
        /* The topmost layer that may show something here decides. */
        size_t top = 0;
        while (top <= parent->limit && !at[top])
            top++;
        if (top > parent->limit)
            continue; /* only in layers the parent hides */
        const manifest_entry *en = at[top];
        if (en->kind == MANIFEST_WHITEOUT)
            continue;
        e = view_add(b, en);
        if (e || en->kind != MANIFEST_DIR)
            continue;
        /* A directory: its contents merge down to an opaque directory, or
         * to just above a layer where this path is not a directory. */
        size_t limit = top;
        if (!(en->flags & MANIFEST_F_OPAQUE)) {
            for (size_t i = top + 1; i <= parent->limit; i++) {
                if (!at[i])
                    continue;
                if (at[i]->kind != MANIFEST_DIR)
                    break;
                limit = i;
                if (at[i]->flags & MANIFEST_F_OPAQUE)
                    break;
            }
            /* Layers with nothing at this path have nothing inside it. */
        }
        stack[depth++] = (view_dir){.en = en, .limit = limit};
    }
    if (!e) {
        strata_buf enc;
        buf_init(&enc);
        e = manifest_builder_encode(b, &enc);
        if (!e && enc.oom)
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory flattening %zu layers", n);
        if (!e)
            e = manifest_decode(enc.data, enc.len, out);
        buf_free(&enc);
    }
done:
    manifest_builder_free(b);
    free(stack);
    free(at);
    free(cur);
    return e;
}
