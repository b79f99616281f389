/* The vfs object: options, the slot table and counters.
 *
 * Slots exist from the start so that a long-lived server can later show
 * one view per slot directory without renumbering anything: the slot is
 * the top 16 bits of every inode number. Slot pointers are read without a
 * lock on every call, so they are atomics set once by vfs_slot_attach. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "vfs/vfs_internal.h"

/* Upper descriptors cached on inodes: a quarter of the descriptors the
 * process may open, the rest being for open files, blob files and the
 * transport. A server that raises RLIMIT_NOFILE first gets a bigger cache. */
static uint32_t ufd_budget(void)
{
    struct rlimit rl;
    uint64_t n = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        n = rl.rlim_cur;
    n /= 4;
    return n < 64 ? 64 : n > 65536 ? 65536 : (uint32_t)n;
}

strata_err *vfs_new(store *s, const vfs_opts *opts, vfs **out)
{
    *out = NULL;
    vfs_opts o = opts ? *opts : (vfs_opts){.max_idle_inodes = VFS_DEFAULT_IDLE_INODES};
    if (o.max_slots == 0)
        o.max_slots = 1;
    if (o.max_slots > 0x10000u)
        return strata_err_new(STRATA_E_INVALID, "use at most 65536 slots",
                              "vfs: %u slots requested", o.max_slots);
    if (o.max_cached_readers == 0)
        o.max_cached_readers = VFS_DEFAULT_CACHED_READERS;

    vfs *v = calloc(1, sizeof(*v));
    if (!v)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory creating the vfs");
    v->s = s;
    v->max_slots = o.max_slots;
    /* Spread the idle budget over the shards, rounding up so that a small
     * non-zero budget still keeps something. */
    v->idle_per_shard = (o.max_idle_inodes + VFS_SHARDS - 1) / VFS_SHARDS;
    v->max_readers = o.max_cached_readers;
    v->max_ufds = ufd_budget();
    v->compat = o.upper_compat;
    v->slots = calloc(o.max_slots, sizeof(*v->slots));
    if (!v->slots) {
        free(v);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory creating the vfs");
    }
    for (uint32_t i = 0; i < o.max_slots; i++)
        atomic_init(&v->slots[i], NULL);
    strata_err *e = vfs_itable_init(v);
    if (e) {
        free(v->slots);
        free(v);
        return e;
    }
    *out = v;
    return NULL;
}

void vfs_free(vfs *v)
{
    if (!v)
        return;
    /* Inodes point into the views' manifests: drop them first. */
    vfs_itable_destroy(v);
    for (uint32_t i = 0; i < v->max_slots; i++)
        vfs_view_free(atomic_load(&v->slots[i]));
    free(v->slots);
    free(v);
}

vfs_view *vfs_view_of(vfs *v, uint16_t slot)
{
    if (slot >= v->max_slots)
        return NULL;
    return atomic_load_explicit(&v->slots[slot], memory_order_acquire);
}

strata_err *vfs_slot_attach(vfs *v, uint16_t slot, const vfs_view_spec *spec)
{
    if (slot >= v->max_slots)
        return strata_err_new(STRATA_E_INVALID,
                              "create the vfs with more slots (vfs_opts.max_slots)",
                              "slot %u does not exist (the vfs has %u)", slot, v->max_slots);
    if (atomic_load(&v->slots[slot]))
        return strata_err_new(STRATA_E_EXISTS, "attach the view to a free slot",
                              "slot %u already shows a view", slot);
    vfs_view *vw;
    strata_err *e = vfs_view_load(v, slot, spec, &vw);
    if (e)
        return e;
    vfs_view *expect = NULL;
    if (!atomic_compare_exchange_strong(&v->slots[slot], &expect, vw)) {
        vfs_inode_free(v, vw->root);
        vfs_view_free(vw);
        return strata_err_new(STRATA_E_EXISTS, "attach the view to a free slot",
                              "slot %u already shows a view", slot);
    }
    /* The root is pinned only once the view is reachable, so that a
     * failed attach leaves nothing in the table. */
    vfs_itable_pin(v, vw->root);
    return NULL;
}

void vfs_get_stats(vfs *v, vfs_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < VFS_SHARDS; i++) {
        vfs_shard *sh = &v->shards[i];
        pthread_mutex_lock(&sh->mu);
        out->inodes += sh->count;
        out->idle += sh->nidle;
        pthread_mutex_unlock(&sh->mu);
    }
    out->derived = atomic_load(&v->n_derived);
    out->merged_dirs = atomic_load(&v->n_merged);
    out->readers = atomic_load(&v->n_readers);
    out->reader_files = atomic_load(&v->n_files);
    out->copy_ups = atomic_load(&v->n_copy_ups);
    out->upper_fds = atomic_load(&v->n_ufds);
    for (uint32_t i = 0; i < v->max_slots; i++) {
        vfs_view *vw = vfs_view_of(v, (uint16_t)i);
        if (vw && vw->upper)
            out->upper_records += vfs_ut_count(&vw->ut);
    }
}
