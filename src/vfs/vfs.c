/* The vfs object: options, the slot table, attaching and detaching views,
 * and counters.
 *
 * The slot is the top 16 bits of every inode number, so a long-lived
 * server shows one view per slot (and, with vfs_opts.slot_dir, the
 * directory of slots in slot 0) without renumbering anything. Slot
 * pointers are read without a lock on every call.
 *
 * Detaching, and why freeing a view is safe. A view is referenced by its
 * slot and by each of its inodes in memory (vfs_view.refs); it is freed
 * with the last reference. The one unreferenced use is the moment between
 * reading the slot's pointer and referencing an inode (vfs_iget): that is
 * bracketed by vfs_slot_enter/leave, two per-slot counters (no lock, no
 * shared line between slots). Detach unpublishes the pointer, flips the
 * slot's epoch and waits for the old epoch's counter to drain: a thread
 * counted after that reads the new pointer (every access is seq_cst), and
 * one counted before has by then referenced an inode or given up. Threads
 * arriving meanwhile count in the other epoch, so detach cannot be starved.
 * Then the view's inodes leave the table (vfs_itable_purge); those still
 * in use (an open handle, a call under way) are orphans that keep the view
 * alive until their last reference goes. A view is thus freed only once
 * no inode points to it, so a new view at the same address is never
 * confused with an old one. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <time.h>

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
    if (o.slot_dir && o.max_slots < 2)
        return strata_err_new(STRATA_E_INVALID, "give a vfs with a slot directory 2 or more slots",
                              "vfs: slot_dir needs max_slots >= 2, not %u", o.max_slots);
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
    v->slot_dir = o.slot_dir;
    v->slots = aligned_alloc(_Alignof(vfs_slot), o.max_slots * sizeof(*v->slots));
    if (!v->slots) {
        free(v);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory creating the vfs");
    }
    for (uint32_t i = 0; i < o.max_slots; i++) {
        atomic_init(&v->slots[i].view, NULL);
        atomic_init(&v->slots[i].users[0], 0);
        atomic_init(&v->slots[i].users[1], 0);
        atomic_init(&v->slots[i].epoch, 0);
        v->slots[i].gen = 0;
    }
    pthread_mutex_init(&v->admin_mu, NULL);
    vfs_mcache_init(v,
                    o.manifest_cache_bytes ? o.manifest_cache_bytes : VFS_DEFAULT_MANIFEST_CACHE);
    atomic_init(&v->n_attached, 0);
    atomic_init(&v->slotdir_mns, 0);
    strata_err *e = vfs_itable_init(v);
    if (!e && o.slot_dir) {
        /* Slot 0 shows an empty view marked as the directory of slots:
         * the inode table, lookups of "." and "..", access and statfs
         * then need nothing of their own. */
        vfs_view *vw;
        vfs_view_spec spec = {.uid = o.slot_dir_uid, .gid = o.slot_dir_gid};
        e = vfs_view_load(v, 0, &spec, &vw);
        if (!e) {
            vw->slotdir = true;
            vw->root_mode = 0555;
            vw->root->mode = S_IFDIR | 0555;
            vw->gen = ++v->slots[0].gen;
            atomic_store(&v->slots[0].view, vw);
            vfs_itable_pin(v, vw->root);
            vfs_slotdir_touch(v);
        } else {
            vfs_itable_destroy(v);
        }
    }
    if (e) {
        vfs_mcache_destroy(v);
        pthread_mutex_destroy(&v->admin_mu);
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
    /* Inodes point into the views' manifests: drop them first. Each
     * gives back its view reference; the slots' ones go last. Detached
     * views are gone by now: no handle or call outlives vfs_free. */
    vfs_itable_destroy(v);
    for (uint32_t i = 0; i < v->max_slots; i++) {
        vfs_view *vw = atomic_load(&v->slots[i].view);
        if (vw)
            vfs_view_put(vw);
    }
    vfs_mcache_destroy(v);
    pthread_mutex_destroy(&v->admin_mu);
    free(v->slots);
    free(v);
}

unsigned vfs_slot_enter(vfs *v, uint16_t slot)
{
    vfs_slot *s = &v->slots[slot];
    unsigned t = atomic_load(&s->epoch) & 1;
    atomic_fetch_add(&s->users[t], 1);
    return t;
}

void vfs_slot_leave(vfs *v, uint16_t slot, unsigned token)
{
    atomic_fetch_sub(&v->slots[slot].users[token], 1);
}

vfs_view *vfs_view_of(vfs *v, uint16_t slot)
{
    if (slot >= v->max_slots)
        return NULL;
    return atomic_load(&v->slots[slot].view);
}

void vfs_view_put(vfs_view *vw)
{
    if (vw && atomic_fetch_sub(&vw->refs, 1) == 1)
        vfs_view_free(vw);
}

/* Waits until no thread can still be using a pointer read from slot
 * before its view was unpublished (see the top of this file). */
static void slot_quiesce(vfs *v, uint16_t slot)
{
    vfs_slot *s = &v->slots[slot];
    unsigned old = atomic_fetch_add(&s->epoch, 1) & 1;
    for (unsigned spins = 0; atomic_load(&s->users[old]) != 0; spins++) {
        if (spins < 64)
            sched_yield();
        else
            nanosleep(&(struct timespec){.tv_nsec = 50000}, NULL);
    }
}

strata_err *vfs_slot_attach(vfs *v, uint16_t slot, const vfs_view_spec *spec)
{
    if (slot >= v->max_slots)
        return strata_err_new(STRATA_E_INVALID,
                              "create the vfs with more slots (vfs_opts.max_slots)",
                              "slot %u does not exist (the vfs has %u)", slot, v->max_slots);
    if (v->slot_dir && slot == 0)
        return strata_err_new(STRATA_E_EXISTS, "attach views to slots 1 and up",
                              "slot 0 is the directory of slots");
    if (atomic_load(&v->slots[slot].view))
        return strata_err_new(STRATA_E_EXISTS, "attach the view to a free slot",
                              "slot %u already shows a view", slot);
    vfs_view *vw;
    strata_err *e = vfs_view_load(v, slot, spec, &vw);
    if (e)
        return e;
    pthread_mutex_lock(&v->admin_mu);
    if (atomic_load(&v->slots[slot].view)) {
        pthread_mutex_unlock(&v->admin_mu);
        vfs_inode_free(v, vw->root);
        vfs_view_free(vw);
        return strata_err_new(STRATA_E_EXISTS, "attach the view to a free slot",
                              "slot %u already shows a view", slot);
    }
    vw->gen = ++v->slots[slot].gen;
    /* The root goes into the table before the view is reachable; nothing
     * can find it by number until then, and a failed attach never got
     * here. */
    vfs_itable_pin(v, vw->root);
    atomic_store(&v->slots[slot].view, vw);
    if (v->slot_dir) {
        atomic_fetch_add(&v->n_attached, 1);
        vfs_slotdir_touch(v);
    }
    pthread_mutex_unlock(&v->admin_mu);
    return NULL;
}

strata_err *vfs_slot_detach(vfs *v, uint16_t slot)
{
    if (slot >= v->max_slots)
        return strata_err_new(STRATA_E_INVALID, "pass a slot of this vfs",
                              "slot %u does not exist (the vfs has %u)", slot, v->max_slots);
    if (v->slot_dir && slot == 0)
        return strata_err_new(STRATA_E_INVALID, "detach views from slots 1 and up",
                              "slot 0 is the directory of slots");
    pthread_mutex_lock(&v->admin_mu);
    vfs_view *vw = atomic_load(&v->slots[slot].view);
    if (!vw) {
        pthread_mutex_unlock(&v->admin_mu);
        return strata_err_new(STRATA_E_NOTFOUND, "detach a slot that shows a view",
                              "slot %u shows no view", slot);
    }
    /* Marked first: an inode made from here on (by a call holding one of
     * the view's inodes) is an orphan at once (vfs_itable_insert). */
    atomic_store(&vw->detached, true);
    atomic_store(&v->slots[slot].view, NULL);
    slot_quiesce(v, slot);
    vfs_itable_purge(v, vw);
    /* The lock goes now, the descriptors with the view: closing them
     * under a call still running could hand their numbers to another
     * file. */
    if (vw->upper && vw->work_fd >= 0)
        flock(vw->work_fd, LOCK_UN);
    if (v->slot_dir) {
        atomic_fetch_sub(&v->n_attached, 1);
        vfs_slotdir_touch(v);
    }
    pthread_mutex_unlock(&v->admin_mu);
    vfs_view_put(vw);
    return NULL;
}

uint32_t vfs_slot_generation(vfs *v, uint16_t slot)
{
    if (slot >= v->max_slots)
        return 0;
    unsigned t = vfs_slot_enter(v, slot);
    vfs_view *vw = vfs_view_of(v, slot);
    uint32_t gen = vw ? vw->gen : 0;
    vfs_slot_leave(v, slot, t);
    return gen;
}

uint32_t vfs_max_slots(const vfs *v)
{
    return v->max_slots;
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
    out->manifest_loads = atomic_load(&v->n_manifest_loads);
    out->manifest_hits = atomic_load(&v->n_manifest_hits);
    out->manifests = vfs_mcache_count(v);
    for (uint32_t i = 0; i < v->max_slots; i++) {
        /* Entered for the whole count: the view cannot go meanwhile. */
        unsigned t = vfs_slot_enter(v, (uint16_t)i);
        vfs_view *vw = vfs_view_of(v, (uint16_t)i);
        if (vw && vw->upper)
            out->upper_records += vfs_ut_count(&vw->ut);
        vfs_slot_leave(v, (uint16_t)i, t);
    }
}

/* ---- the directory of slots (vfs_opts.slot_dir) --------------------------
 *
 * Slot 0's root lists the occupied slots by number. Its cookies: "." 1,
 * ".." 2, slot N's entry N + 2, so a cookie resumes after its slot
 * whatever was attached or detached meanwhile. It is read-only because
 * its view has no upper directory (every write answers EROFS there). */

#define SLOTDIR_HINT "name a slot by its number, as the slot directory lists them"

void vfs_slotdir_touch(vfs *v)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    /* Strictly growing, so that a client comparing mtimes sees every
     * change even within one clock tick. */
    uint64_t old = atomic_load(&v->slotdir_mns);
    while (!atomic_compare_exchange_weak(&v->slotdir_mns, &old, ns > old ? ns : old + 1))
        ;
}

/* The slot a name of the slot directory means: canonical decimal only
 * ("1", never "01" or "+1"), 1..max_slots-1; 0 for anything else. */
static uint32_t slot_of_name(const vfs *v, const char *name, size_t len)
{
    if (len == 0 || len > 5 || name[0] == '0')
        return 0;
    uint32_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        n = n * 10 + (uint32_t)(name[i] - '0');
    }
    return n < v->max_slots ? n : 0;
}

strata_err *vfs_slotdir_child(vfs *v, const char *name, size_t len, vfs_inode **out)
{
    *out = NULL;
    uint32_t slot = slot_of_name(v, name, len);
    strata_err *e = slot ? vfs_iget(v, vfs_root_ino((uint16_t)slot), out) : NULL;
    if (!slot || e) {
        strata_err_free(e);
        return vfs_err(ENOENT, SLOTDIR_HINT, "lookup '%.*s': no such slot", (int)len, name);
    }
    return NULL;
}

void vfs_slotdir_attr(vfs_inode *in, vfs_attr *out)
{
    vfs *v = in->view->v;
    uint64_t ns = atomic_load(&v->slotdir_mns);
    vfs_time t = {.sec = (int64_t)(ns / 1000000000u), .nsec = (uint32_t)(ns % 1000000000u)};
    *out = (vfs_attr){
        .ino = in->ino,
        .mode = in->mode,
        .nlink = 2 + atomic_load(&v->n_attached), /* each slot's root is a subdirectory */
        .uid = in->view->uid,
        .gid = in->view->gid,
        .size = VFS_DIR_SIZE,
        .blocks = VFS_DIR_SIZE / 512,
        .blksize = VFS_BLKSIZE,
        .atime = t,
        .mtime = t,
        .ctime = t,
    };
}

strata_err *vfs_slotdir_list(vfs *v, vfs_inode *in, uint64_t cookie, bool plus, bool count_lookups,
                             vfs_dirent_fn fn, void *ctx, bool *eof)
{
    if (eof)
        *eof = false;
    vfs_attr attr;
    char name[8];
    bool any = false;
    /* "." and "..", both the slot directory itself. */
    for (uint64_t pos = cookie; pos < 2; pos++) {
        vfs_slotdir_attr(in, &attr);
        vfs_dirent de = {.name = pos == 0 ? "." : "..",
                         .name_len = pos + 1,
                         .ino = in->ino,
                         .type = S_IFDIR,
                         .cookie = pos + 1,
                         .attr = plus ? &attr : NULL};
        if (!fn(ctx, &de))
            return NULL;
        any = true;
    }
    uint64_t first = cookie < 2 ? 1 : cookie - 1;
    for (uint64_t slot = first; slot < v->max_slots; slot++) {
        if (!atomic_load(&v->slots[slot].view))
            continue; /* only compared, never followed: no need to enter */
        vfs_inode *root;
        strata_err *e = vfs_iget(v, vfs_root_ino((uint16_t)slot), &root);
        if (e) {
            strata_err_free(e); /* empty, or detached meanwhile */
            continue;
        }
        if (plus)
            e = vfs_fill_attr(root, &attr);
        if (e) {
            vfs_iput(v, root);
            if (any)
                strata_err_free(e); /* the caller replies with what it has */
            return any ? NULL : e;
        }
        int n = snprintf(name, sizeof(name), "%u", (unsigned)slot);
        vfs_dirent de = {.name = name,
                         .name_len = (size_t)n,
                         .ino = root->ino,
                         .type = S_IFDIR,
                         .cookie = slot + 2,
                         .attr = plus ? &attr : NULL};
        bool taken = fn(ctx, &de);
        if (taken && plus && count_lookups)
            vfs_iput_lookups(v, root, 1);
        else
            vfs_iput(v, root);
        if (!taken)
            return NULL;
        any = true;
    }
    if (eof)
        *eof = true;
    return NULL;
}
