/* Garbage collection: a blob lives while some ref reaches it, either as a
 * layer's manifest or as a file in one. The store does the sweeping; this
 * file knows what manifests mean. A ref whose manifest cannot be read stops
 * the collection before anything is deleted: guessing reachability wrong
 * would destroy data. */
#include <stdlib.h>
#include <string.h>

#include "layer/layer.h"

static strata_err *gc_mark_layer(store *s, store_gc *g, const char *ref, const strata_digest *d)
{
    strata_err *e = store_gc_mark(g, d);
    if (e)
        return e;
    manifest *m = NULL;
    e = layer_load(s, d, &m);
    if (e)
        return strata_err_rehint(strata_err_wrap(e, "ref %s", ref),
                                 "nothing was deleted; run 'strata fsck' and repair or delete "
                                 "the ref ('strata refs delete NAME'), then run gc again");
    for (uint32_t i = 0; !e && i < m->count; i++)
        if (m->entries[i].kind == MANIFEST_FILE)
            e = store_gc_mark(g, &m->entries[i].digest);
    manifest_free(m);
    return e;
}

strata_err *layer_gc(store *s, bool dry_run, store_gc_stats *stats)
{
    store_gc *g = NULL;
    strata_err *e = store_gc_begin(s, &g);
    if (e)
        return e;
    /* Refs are read after the exclusive lock is held, so no import can add
     * one that this collection does not see. */
    layer_refs refs;
    e = layer_refs_list(s, &refs);
    for (size_t i = 0; !e && i < refs.n; i++)
        e = gc_mark_layer(s, g, refs.names[i], &refs.digests[i]);
    layer_refs_free(&refs);
    if (e) {
        store_gc_abort(g);
        return e;
    }
    store_gc_stats local;
    memset(&local, 0, sizeof(local));
    e = store_gc_sweep(g, dry_run, &local);
    if (stats)
        *stats = local;
    return e;
}
