/* Decoded manifests, shared by the views of one vfs.
 *
 * A layer never changes and is named by its digest, so one decoded
 * manifest serves every view that shows the layer, in any slot, for as
 * long as the vfs lives. A long-lived server (strata serve) attaches the
 * same dependency layers for action after action: decoding them again on
 * every attach made the cost of a slot grow with the size of its view
 * (docs/PERFORMANCE.md, W2). Manifests no view uses stay, the most
 * recently used first, within a memory budget (and the last one let go in
 * any case), so the next attach of the same layer finds them.
 *
 * The table is small (a few layers per view, few views) and touched only
 * when a view comes or goes, never on a call: a mutex and a linear scan. */
#include <stdlib.h>
#include <string.h>

#include "layer/layer.h"
#include "vfs/vfs_internal.h"

/* Room taken by a decoded manifest: its entries and its strings. Only for
 * the budget, so the padding of the strings is not counted. */
static uint64_t mcache_bytes(const manifest *m)
{
    uint64_t n = sizeof(*m) + (uint64_t)m->count * sizeof(manifest_entry);
    for (uint32_t i = 0; i < m->count; i++) {
        n += m->entries[i].path_len + 1;
        if (m->entries[i].target)
            n += m->entries[i].size + 1;
    }
    return n;
}

/* A view takes ent's manifest; one no view used leaves the kept ones.
 * Under mc_mu. */
static manifest *mcache_take(vfs *v, vfs_mcache_ent *en)
{
    if (en->refs++ == 0)
        v->mc_idle_bytes -= en->bytes;
    return en->m;
}

static vfs_mcache_ent *mcache_find(vfs *v, const strata_digest *d)
{
    for (size_t i = 0; i < v->mc_n; i++)
        if (memcmp(v->mc[i].d.b, d->b, DIGEST_LEN) == 0)
            return &v->mc[i];
    return NULL;
}

/* Drops unused manifests, least recently used first, until those left fit
 * the budget, but always keeps the one let go last, whatever its size: a
 * server showing one view bigger than the budget over and over (a build's
 * actions on the same dependencies) would otherwise decode it every time,
 * and it held that memory anyway while the view was shown. Under mc_mu. */
static void mcache_trim(vfs *v)
{
    while (v->mc_idle_bytes > v->mc_budget) {
        size_t lru = v->mc_n, idle = 0;
        for (size_t i = 0; i < v->mc_n; i++) {
            if (v->mc[i].refs != 0)
                continue;
            idle++;
            if (lru == v->mc_n || v->mc[i].used < v->mc[lru].used)
                lru = i;
        }
        if (idle <= 1)
            return;
        v->mc_idle_bytes -= v->mc[lru].bytes;
        manifest_free(v->mc[lru].m);
        v->mc[lru] = v->mc[--v->mc_n];
    }
}

void vfs_mcache_init(vfs *v, uint64_t budget)
{
    pthread_mutex_init(&v->mc_mu, NULL);
    v->mc = NULL;
    v->mc_n = v->mc_cap = 0;
    v->mc_idle_bytes = 0;
    v->mc_budget = budget;
    v->mc_clock = 0;
}

strata_err *vfs_mcache_get(vfs *v, const strata_digest *d, manifest **out)
{
    pthread_mutex_lock(&v->mc_mu);
    vfs_mcache_ent *en = mcache_find(v, d);
    if (en) {
        *out = mcache_take(v, en);
        pthread_mutex_unlock(&v->mc_mu);
        atomic_fetch_add(&v->n_manifest_hits, 1);
        return NULL;
    }
    pthread_mutex_unlock(&v->mc_mu);
    /* Decoded outside the lock: a big manifest takes milliseconds, and
     * other views may come and go meanwhile. */
    manifest *m;
    strata_err *e = layer_load(v->s, d, &m);
    if (e)
        return e;
    uint64_t bytes = mcache_bytes(m);
    pthread_mutex_lock(&v->mc_mu);
    if ((en = mcache_find(v, d))) {
        /* Another view loaded it first: use that one. */
        *out = mcache_take(v, en);
        pthread_mutex_unlock(&v->mc_mu);
        manifest_free(m);
        return NULL;
    }
    if (v->mc_n == v->mc_cap) {
        size_t cap = v->mc_cap ? v->mc_cap * 2 : 8;
        vfs_mcache_ent *nn = realloc(v->mc, cap * sizeof(*nn));
        if (!nn) {
            pthread_mutex_unlock(&v->mc_mu);
            manifest_free(m);
            return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory loading a layer");
        }
        v->mc = nn;
        v->mc_cap = cap;
    }
    v->mc[v->mc_n++] = (vfs_mcache_ent){.d = *d, .m = m, .refs = 1, .bytes = bytes};
    pthread_mutex_unlock(&v->mc_mu);
    atomic_fetch_add(&v->n_manifest_loads, 1);
    *out = m;
    return NULL;
}

void vfs_mcache_put(vfs *v, manifest *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&v->mc_mu);
    for (size_t i = 0; i < v->mc_n; i++) {
        vfs_mcache_ent *en = &v->mc[i];
        if (en->m != m)
            continue;
        if (--en->refs == 0) {
            en->used = ++v->mc_clock;
            v->mc_idle_bytes += en->bytes;
            mcache_trim(v);
        }
        break;
    }
    pthread_mutex_unlock(&v->mc_mu);
}

void vfs_mcache_destroy(vfs *v)
{
    for (size_t i = 0; i < v->mc_n; i++)
        manifest_free(v->mc[i].m);
    free(v->mc);
    v->mc = NULL;
    v->mc_n = v->mc_cap = 0;
    pthread_mutex_destroy(&v->mc_mu);
}

size_t vfs_mcache_count(vfs *v)
{
    pthread_mutex_lock(&v->mc_mu);
    size_t n = v->mc_n;
    pthread_mutex_unlock(&v->mc_mu);
    return n;
}
