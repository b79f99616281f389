/* The merged lower index: how a stack of immutable layers looks as one
 * tree, computed lazily from the manifests.
 *
 * Merge rules (overlayfs semantics, layers top first):
 *  - a directory present in several layers is merged: the union of their
 *    children, the highest layer winning for a name present in several;
 *  - a non-directory hides everything below it at its path;
 *  - a directory over a non-directory hides the non-directory (and so
 *    everything below that too);
 *  - a whiteout (manifest version 2) hides the name in its layer and below;
 *  - an opaque directory (version 2) hides the directories below it.
 * A directory's "merge stack" lists, top first, every lower directory that
 * contributes to it. The rules for one path are applied in exactly one
 * place, resolve_in(); listing a directory merges the children of exactly
 * the directories in its stack and keeps each name's topmost entry, so the
 * two always agree.
 *
 * Nothing here takes a lock: manifests never change, so results are pure
 * functions of them, and a directory's children are published once with an
 * atomic compare-and-swap. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vfs/vfs_internal.h"

#define STALE_HINT                                                                                 \
    "the handle is from an earlier mount or names nothing here; look the path up again"

/* Stacks of up to this many layers live on the C stack while a number is
 * resolved; deeper views allocate. */
#define SMALL_STACK 64

uint32_t vfs_entry_mode(const manifest_entry *en)
{
    switch (en->kind) {
    case MANIFEST_DIR:
        return S_IFDIR | en->mode;
    case MANIFEST_SYMLINK:
        return S_IFLNK | 0777;
    default:
        return S_IFREG | en->mode;
    }
}

uint64_t vfs_dent_ino(const vfs_view *vw, const vfs_dent *d)
{
    return vfs_ino_make(vw->slot, (uint16_t)(d->layer + 1), d->idx);
}

uint64_t vfs_lref_ino(const vfs_view *vw, vfs_lref r)
{
    return r.idx == MANIFEST_ROOT ? vw->root->ino
                                  : vfs_ino_make(vw->slot, (uint16_t)(r.layer + 1), r.idx);
}

/* The merge rules, in one place. Given the merge stack of a directory and
 * the full path of a name in it (the same bytes in every layer), writes the
 * name's own stack to out (room for np entries) and returns its length; 0
 * when the name does not exist in the merged view. Only layers from
 * pstack[from] down are searched: the caller knows nothing is above. When
 * known is not NULL it is the entry's occurrence in pstack[from]'s layer,
 * which saves a search. */
static uint32_t resolve_in(const vfs_view *vw, const vfs_lref *pstack, uint32_t np, uint32_t from,
                           const vfs_lref *known, const char *path, size_t len, vfs_lref *out)
{
    uint32_t n = 0;
    for (uint32_t j = from; j < np; j++) {
        uint32_t layer = pstack[j].layer;
        const manifest *m = vw->layers[layer];
        int64_t i;
        if (j == from && known)
            i = known->idx;
        else
            i = manifest_find(m, path, len);
        if (i < 0)
            continue;
        const manifest_entry *en = &m->entries[i];
        /* A whiteout hides the name in this layer and below: the name is
         * gone, unless a directory above it merges (and stops here). */
        if (en->kind == MANIFEST_WHITEOUT)
            break;
        if (en->kind != MANIFEST_DIR) {
            /* A non-directory hides what is below it; under a directory
             * it is itself hidden. */
            if (n == 0)
                out[n++] = (vfs_lref){.layer = layer, .idx = (uint32_t)i};
            break;
        }
        out[n++] = (vfs_lref){.layer = layer, .idx = (uint32_t)i};
        /* An opaque directory hides the directories below it. */
        if (en->flags & MANIFEST_F_OPAQUE)
            break;
    }
    return n;
}

strata_err *vfs_lower_child(vfs_view *vw, const vfs_inode *dir, const vfs_dent *d, vfs_inode **out)
{
    *out = NULL;
    uint32_t from = 0;
    while (from < dir->nstack && dir->stack[from].layer != d->layer)
        from++;
    if (from == dir->nstack)
        return strata_err_new(STRATA_E_INTERNAL, NULL,
                              "vfs: child of inode %#llx in layer %u not in its merge stack",
                              (unsigned long long)dir->ino, d->layer);
    const manifest_entry *en = &vw->layers[d->layer]->entries[d->idx];
    vfs_lref small[SMALL_STACK], *buf = small;
    uint32_t room = dir->nstack - from;
    if (room > SMALL_STACK && !(buf = malloc(room * sizeof(*buf))))
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory looking up %s", en->path);
    vfs_lref known = {.layer = d->layer, .idx = d->idx};
    uint32_t n = resolve_in(vw, dir->stack, dir->nstack, from, &known, en->path, en->path_len, buf);
    /* A lower entry shows in one directory only, so its parent is dir. */
    *out = vfs_inode_alloc(vw, vfs_dent_ino(vw, d), dir->ino, buf, n);
    if (buf != small)
        free(buf);
    if (!*out)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory looking up %s", en->path);
    return NULL;
}

/* Resolving a number alone: walk the entry's path from the root through
 * the merge rules, one component at a time, and accept the number only if
 * the walk ends at that very entry. So a number whose entry is hidden (by
 * a higher layer's file, or by a copy of the same path higher up) is
 * stale, exactly as if it had never been handed out. */
strata_err *vfs_lower_derive(vfs_view *vw, uint64_t ino, vfs_inode **out)
{
    *out = NULL;
    uint32_t src = vfs_ino_src(ino), idx = vfs_ino_index(ino);
    /* Views with an upper directory derive through vfs_upper_derive. */
    if (src == VFS_SRC_SPECIAL || src == VFS_SRC_UPPER || src > vw->nlayers ||
        idx >= vw->layers[src - 1]->count)
        return vfs_err(ESTALE, STALE_HINT, "inode %#llx names nothing in slot %u",
                       (unsigned long long)ino, vw->slot);
    uint32_t layer = src - 1;
    const manifest_entry *en = &vw->layers[layer]->entries[idx];
    const char *path = en->path;
    size_t len = en->path_len;

    uint32_t nl = vw->nlayers;
    vfs_lref small[2][SMALL_STACK], *a = small[0], *b = small[1], *heap = NULL;
    if (nl > SMALL_STACK) {
        if (!(heap = malloc(2 * (size_t)nl * sizeof(*heap))))
            return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory resolving inode %#llx",
                                  (unsigned long long)ino);
        a = heap;
        b = heap + nl;
    }
    memcpy(a, vw->root->stack, nl * sizeof(*a));
    uint32_t na = nl;
    uint64_t parent = vw->root->ino;
    strata_err *e = NULL;
    for (size_t p = 0;; p++) {
        if (p < len && path[p] != '/')
            continue;
        uint32_t nb = resolve_in(vw, a, na, 0, NULL, path, p, b);
        bool last = p == len;
        const manifest_entry *top = nb ? vfs_lref_entry(vw, b[0]) : NULL;
        if (!top || (last && (b[0].layer != layer || b[0].idx != idx)) ||
            (!last && top->kind != MANIFEST_DIR)) {
            e = vfs_err(ESTALE, STALE_HINT, "inode %#llx (%s) is hidden or gone in slot %u",
                        (unsigned long long)ino, path, vw->slot);
            break;
        }
        if (last) {
            *out = vfs_inode_alloc(vw, ino, parent, b, nb);
            if (!*out)
                e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory resolving %s", path);
            break;
        }
        parent = vfs_lref_ino(vw, b[0]);
        vfs_lref *t = a;
        a = b;
        b = t;
        na = nb;
    }
    free(heap);
    return e;
}

uint32_t vfs_lower_resolve(const vfs_view *vw, const char *path, size_t len, vfs_lref *out)
{
    uint32_t nl = vw->nlayers;
    if (nl == 0)
        return 0;
    vfs_lref small[SMALL_STACK], *a = small, *heap = NULL;
    if (nl > SMALL_STACK) {
        if (!(heap = malloc((size_t)nl * sizeof(*heap))))
            return 0;
        a = heap;
    }
    memcpy(a, vw->root->stack, nl * sizeof(*a));
    uint32_t na = nl, nb = 0;
    for (size_t p = 0; p <= len; p++) {
        if (p < len && path[p] != '/')
            continue;
        nb = resolve_in(vw, a, na, 0, NULL, path, p, out);
        if (nb == 0)
            break;
        if (p < len) {
            if (vfs_lref_entry(vw, out[0])->kind != MANIFEST_DIR) {
                nb = 0;
                break;
            }
            memcpy(a, out, nb * sizeof(*a));
            na = nb;
        }
    }
    free(heap);
    return nb;
}

uint32_t vfs_lower_resolve_in(const vfs_view *vw, const vfs_inode *dir, const char *name,
                              size_t len, vfs_lref *out)
{
    if (dir->nstack == 0)
        return 0;
    /* Every layer in the stack has the directory at the same path. */
    const manifest_entry *den = vfs_lref_entry(vw, dir->stack[0]);
    size_t dl = den ? den->path_len : 0;
    char small[512], *path = small;
    if (dl + 1 + len + 1 > sizeof(small) && !(path = malloc(dl + 1 + len + 1)))
        return 0;
    size_t pl = 0;
    if (dl) {
        memcpy(path, den->path, dl);
        path[dl] = '/';
        pl = dl + 1;
    }
    memcpy(path + pl, name, len);
    pl += len;
    uint32_t n = resolve_in(vw, dir->stack, dir->nstack, 0, NULL, path, pl, out);
    if (path != small)
        free(path);
    return n;
}

bool vfs_lower_dir_at(const vfs_view *vw, const vfs_inode *dir, const char *name, size_t len)
{
    if (dir->nstack == 0)
        return false;
    vfs_lref small[SMALL_STACK], *buf = small;
    if (vw->nlayers > SMALL_STACK && !(buf = malloc(vw->nlayers * sizeof(*buf))))
        return true; /* opaque is always safe */
    uint32_t n = vfs_lower_resolve_in(vw, dir, name, len, buf);
    bool yes = n > 0 && vfs_lref_entry(vw, buf[0])->kind == MANIFEST_DIR;
    if (buf != small)
        free(buf);
    return yes;
}

strata_err *vfs_lower_place(const vfs_view *vw, uint64_t ino, uint64_t *parent, const char **name,
                            size_t *len)
{
    uint32_t src = vfs_ino_src(ino), idx = vfs_ino_index(ino);
    if (src == VFS_SRC_SPECIAL || src == VFS_SRC_UPPER || src > vw->nlayers ||
        idx >= vw->layers[src - 1]->count)
        return vfs_err(ESTALE, STALE_HINT, "inode %#llx names nothing in slot %u",
                       (unsigned long long)ino, vw->slot);
    const manifest_entry *en = &vw->layers[src - 1]->entries[idx];
    uint32_t nl = vw->nlayers;
    vfs_lref small[SMALL_STACK], *buf = small;
    if (nl > SMALL_STACK && !(buf = malloc(nl * sizeof(*buf))))
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory resolving %s", en->path);
    strata_err *e = NULL;
    /* The entry must be the topmost at its own path... */
    uint32_t n = vfs_lower_resolve(vw, en->path, en->path_len, buf);
    if (n == 0 || buf[0].layer != src - 1 || buf[0].idx != idx)
        e = vfs_err(ESTALE, STALE_HINT, "inode %#llx (%s) is hidden or gone in slot %u",
                    (unsigned long long)ino, en->path, vw->slot);
    /* ... and its directory is the topmost directory at the parent path. */
    if (!e && en->parent == MANIFEST_ROOT) {
        *parent = vw->root->ino;
    } else if (!e) {
        const manifest_entry *pen = &vw->layers[src - 1]->entries[en->parent];
        n = vfs_lower_resolve(vw, pen->path, pen->path_len, buf);
        if (n == 0)
            e = vfs_err(ESTALE, STALE_HINT, "inode %#llx (%s) is hidden in slot %u",
                        (unsigned long long)ino, en->path, vw->slot);
        else
            *parent = vfs_lref_ino(vw, buf[0]);
    }
    if (buf != small)
        free(buf);
    if (!e) {
        *name = en->path + en->name_off;
        *len = en->path_len - en->name_off;
    }
    return e;
}

/* ---- merged children ---------------------------------------------------- */

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* One layer's position in a k-way merge of sorted child lists. rank is the
 * position in the merge stack, so equal names pop highest layer first. */
typedef struct cursor {
    const manifest *m;
    uint32_t layer, rank, child;
    const char *name;
    size_t len;
} cursor;

static bool cursor_set(cursor *c, uint32_t child)
{
    if (child == MANIFEST_ROOT)
        return false;
    const manifest_entry *en = &c->m->entries[child];
    c->child = child;
    c->name = en->path + en->name_off;
    c->len = en->path_len - en->name_off;
    return true;
}

static bool cursor_less(const cursor *a, const cursor *b)
{
    int c = name_cmp(a->name, a->len, b->name, b->len);
    return c < 0 || (c == 0 && a->rank < b->rank);
}

static void sift_down(cursor *h, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && cursor_less(&h[l], &h[m]))
            m = l;
        if (r < n && cursor_less(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        cursor t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static uint32_t count_children(const manifest *m, uint32_t dir)
{
    uint32_t n = 0;
    for (uint32_t c = manifest_child_first(m, dir); c != MANIFEST_ROOT;
         c = manifest_child_next(m, c))
        n++;
    return n;
}

/* Merges the sorted child lists of every directory in dir's stack: a heap
 * of one cursor per layer, popping names in order and keeping only the
 * first (highest) occurrence of each. O(total children x log layers). */
static strata_err *merge_children(vfs_view *vw, const vfs_inode *dir, vfs_children **out)
{
    *out = NULL;
    uint32_t np = dir->nstack;
    uint64_t total = 0;
    for (uint32_t j = 0; j < np; j++)
        total += count_children(vw->layers[dir->stack[j].layer], dir->stack[j].idx);
    vfs_children *c = malloc(sizeof(*c) + total * sizeof(c->d[0]));
    cursor *heap = malloc((np ? np : 1) * sizeof(*heap));
    if (!c || !heap) {
        free(c);
        free(heap);
        return strata_err_new(STRATA_E_NOMEM, NULL,
                              "out of memory listing a directory of %llu "
                              "entries",
                              (unsigned long long)total);
    }
    uint32_t hn = 0;
    for (uint32_t j = 0; j < np; j++) {
        cursor *cu = &heap[hn];
        cu->m = vw->layers[dir->stack[j].layer];
        cu->layer = dir->stack[j].layer;
        cu->rank = j;
        if (cursor_set(cu, manifest_child_first(cu->m, dir->stack[j].idx)))
            hn++;
    }
    for (uint32_t i = hn / 2; i-- > 0;)
        sift_down(heap, hn, i);

    uint32_t n = 0, nsub = 0;
    while (hn > 0) {
        const cursor top = heap[0];
        const manifest_entry *en = &top.m->entries[top.child];
        /* A whiteout on top hides the name: nothing is listed. */
        if (en->kind != MANIFEST_WHITEOUT) {
            c->d[n++] = (vfs_dent){.name = top.name,
                                   .idx = top.child,
                                   .layer = (uint16_t)top.layer,
                                   .name_len = (uint16_t)top.len};
            nsub += en->kind == MANIFEST_DIR;
        }
        /* Advance past this name in every layer that has it. */
        while (hn > 0 && name_cmp(heap[0].name, heap[0].len, top.name, top.len) == 0) {
            if (!cursor_set(&heap[0], manifest_child_next(heap[0].m, heap[0].child)))
                heap[0] = heap[--hn];
            sift_down(heap, hn, 0);
        }
    }
    free(heap);
    c->n = n;
    c->nsubdirs = nsub;
    *out = c;
    return NULL;
}

strata_err *vfs_lower_children(vfs_view *vw, vfs_inode *dir, const vfs_children **out)
{
    vfs_children *c = atomic_load_explicit(&dir->children, memory_order_acquire);
    if (c) {
        *out = c;
        return NULL;
    }
    vfs_children *fresh;
    strata_err *e = merge_children(vw, dir, &fresh);
    if (e)
        return e;
    vfs_children *expect = NULL;
    if (atomic_compare_exchange_strong_explicit(&dir->children, &expect, fresh,
                                                memory_order_acq_rel, memory_order_acquire)) {
        atomic_fetch_add_explicit(&vw->v->n_merged, 1, memory_order_relaxed);
        *out = fresh;
    } else {
        free(fresh); /* another thread merged the same directory first */
        *out = expect;
    }
    return NULL;
}

const vfs_dent *vfs_children_find(const vfs_children *c, const char *name, size_t len)
{
    uint32_t lo = 0, hi = c->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int r = name_cmp(c->d[mid].name, c->d[mid].name_len, name, len);
        if (r == 0)
            return &c->d[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

strata_err *vfs_lower_nsubdirs(vfs_view *vw, vfs_inode *dir, uint32_t *out)
{
    const vfs_children *c = atomic_load_explicit(&dir->children, memory_order_acquire);
    if (!c && dir->nstack <= 1) {
        /* One layer: count in the manifest rather than build a list that
         * may never be needed (readdirplus asks this of every subdir). */
        uint32_t n = 0;
        if (dir->nstack == 1) {
            const manifest *m = vw->layers[dir->stack[0].layer];
            for (uint32_t i = manifest_child_first(m, dir->stack[0].idx); i != MANIFEST_ROOT;
                 i = manifest_child_next(m, i))
                n += m->entries[i].kind == MANIFEST_DIR;
        }
        *out = n;
        return NULL;
    }
    if (!c) {
        strata_err *e = vfs_lower_children(vw, dir, &c);
        if (e)
            return e;
    }
    *out = c->nsubdirs;
    return NULL;
}
