/* The difference between two trees, as a layer: what a sandboxed run
 * changed, to be stacked on the view it ran in.
 *
 * Both manifests are plain trees (version 1) in tree order, so one pass
 * over them in step finds every change: entries only in the new tree, or
 * changed, are added; entries only in the old tree become whiteouts (one
 * for a whole deleted subtree). A directory is added when its mode changed
 * or when anything below it is, since a manifest needs the parents of its
 * entries. The result stacked on the old tree flattens to the new one. */
#include <stdlib.h>
#include <string.h>

#include "base/path.h"
#include "layer/layer.h"

/* The directories of the new tree on the path to the current entry, and
 * whether each has been added to the diff yet. */
typedef struct diff_dir {
    const manifest_entry *en;
    bool added;
} diff_dir;

typedef struct differ {
    manifest_builder *b;
    diff_dir *stack;
    size_t depth;
    layer_diff_stats *st;
} differ;

static bool diff_inside(const manifest_entry *dir, const manifest_entry *en)
{
    return dir->path_len < en->path_len && en->path[dir->path_len] == '/' &&
           memcmp(dir->path, en->path, dir->path_len) == 0;
}

/* Pops the directories that do not contain en (of either tree: both have
 * the same parents for a path that is in the new tree's walk). */
static void diff_enter(differ *d, const manifest_entry *en)
{
    while (d->depth > 0 && !diff_inside(d->stack[d->depth - 1].en, en))
        d->depth--;
}

static strata_err *diff_add_parents(differ *d)
{
    for (size_t i = 0; i < d->depth; i++) {
        diff_dir *dd = &d->stack[i];
        if (dd->added)
            continue;
        strata_err *e =
            manifest_builder_add(d->b, MANIFEST_DIR, dd->en->path, dd->en->mode, 0, NULL, NULL);
        if (e)
            return e;
        dd->added = true;
    }
    return NULL;
}

static strata_err *diff_add(differ *d, const manifest_entry *en)
{
    strata_err *e = diff_add_parents(d);
    if (!e)
        e = manifest_builder_add(d->b, (manifest_kind)en->kind, en->path, en->mode, en->size,
                                 en->kind == MANIFEST_FILE ? &en->digest : NULL, en->target);
    return e;
}

static strata_err *diff_whiteout(differ *d, const manifest_entry *old)
{
    strata_err *e = diff_add_parents(d);
    if (!e)
        e = manifest_builder_add(d->b, MANIFEST_WHITEOUT, old->path, 0, 0, NULL, NULL);
    if (!e)
        d->st->deleted++;
    return e;
}

/* Same kind at the same path: has anything a manifest records changed? */
static bool diff_changed(const manifest_entry *a, const manifest_entry *b)
{
    if (a->mode != b->mode)
        return true;
    switch (a->kind) {
    case MANIFEST_FILE:
        return a->size != b->size || !digest_eq(&a->digest, &b->digest);
    case MANIFEST_SYMLINK:
        return strcmp(a->target, b->target) != 0;
    default:
        return false;
    }
}

strata_err *layer_diff(const manifest *base, const manifest *now, strata_buf *out,
                       layer_diff_stats *st)
{
    layer_diff_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    if (base->version != MANIFEST_VERSION || now->version != MANIFEST_VERSION)
        return strata_err_new(STRATA_E_INVALID, NULL,
                              "a diff compares plain trees (flatten a stack of layers first)");
    differ d = {.b = manifest_builder_new(now->root_mode),
                .stack = calloc(PATH_TREE_MAX / 2 + 2, sizeof(diff_dir)),
                .st = st};
    strata_err *e = NULL;
    if (!d.b || !d.stack) {
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory comparing trees");
        goto done;
    }
    uint32_t i = 0, j = 0; /* cursors in base and now */
    while (!e && (i < base->count || j < now->count)) {
        const manifest_entry *a = i < base->count ? &base->entries[i] : NULL;
        const manifest_entry *b = j < now->count ? &now->entries[j] : NULL;
        int c = !a ? 1 : !b ? -1 : path_cmp(a->path, a->path_len, b->path, b->path_len);
        diff_enter(&d, c <= 0 ? a : b);
        if (c < 0) {
            /* Gone: one whiteout hides the whole subtree. */
            e = diff_whiteout(&d, a);
            i = a->end;
            continue;
        }
        if (c > 0) {
            /* New: added, and a new directory's contents follow as new. */
            e = diff_add(&d, b);
            st->added++;
            if (!e && b->kind == MANIFEST_DIR)
                d.stack[d.depth++] = (diff_dir){.en = b, .added = true};
            j++;
            continue;
        }
        if (a->kind != b->kind) {
            /* Replaced: the new entry hides the old one and all below it. A
             * directory over a file has nothing below it to hide. */
            e = diff_add(&d, b);
            st->changed++;
            i = a->end;
            if (!e && b->kind == MANIFEST_DIR)
                d.stack[d.depth++] = (diff_dir){.en = b, .added = true};
            j++;
            continue;
        }
        if (b->kind == MANIFEST_DIR) {
            bool mode = a->mode != b->mode;
            d.stack[d.depth++] = (diff_dir){.en = b, .added = false};
            if (mode) {
                e = diff_add_parents(&d);
                st->changed++;
            }
        } else if (diff_changed(a, b)) {
            e = diff_add(&d, b);
            st->changed++;
        }
        i++;
        j++;
    }
    if (!e && base->root_mode != now->root_mode)
        st->changed++;
    if (!e)
        e = manifest_builder_encode(d.b, out);
done:
    manifest_builder_free(d.b);
    free(d.stack);
    return e;
}
