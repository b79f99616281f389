/* The inode table: which inodes are in memory, their lookup counts and
 * references, and which of them may be dropped.
 *
 * The table is split into VFS_SHARDS shards by a hash of the number, each
 * with its own mutex, so unrelated calls never wait for each other and no
 * lock is held while anything slow runs (deriving an inode, merging a
 * directory, reading). An inode with no lookups and no references is idle:
 * it goes to its shard's idle list, oldest first, and is freed when the
 * list outgrows its budget. Dropping one costs nothing lasting, because a
 * lower inode is rebuilt from its number alone (lower.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfs/vfs_internal.h"

#define INITIAL_BUCKETS 64

/* A strong mix (murmur3's finalizer): inode numbers are dense in their low
 * bits and share their high bits, and both the shard and the bucket must
 * spread well. */
static uint64_t ino_hash(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static vfs_shard *shard_of(vfs *v, uint64_t ino, uint64_t *hash)
{
    uint64_t h = ino_hash(ino);
    *hash = h >> 8;
    return &v->shards[h & (VFS_SHARDS - 1)];
}

strata_err *vfs_itable_init(vfs *v)
{
    for (int i = 0; i < VFS_SHARDS; i++) {
        vfs_shard *sh = &v->shards[i];
        sh->buckets = calloc(INITIAL_BUCKETS, sizeof(*sh->buckets));
        if (!sh->buckets) {
            for (int j = 0; j < i; j++) {
                free(v->shards[j].buckets);
                pthread_mutex_destroy(&v->shards[j].mu);
            }
            return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory creating the inode table");
        }
        sh->nbuckets = INITIAL_BUCKETS;
        pthread_mutex_init(&sh->mu, NULL);
    }
    return NULL;
}

void vfs_itable_destroy(vfs *v)
{
    for (int i = 0; i < VFS_SHARDS; i++) {
        vfs_shard *sh = &v->shards[i];
        for (size_t b = 0; b < sh->nbuckets; b++) {
            vfs_inode *in = sh->buckets[b];
            while (in) {
                vfs_inode *next = in->hnext;
                vfs_inode_free(v, in);
                in = next;
            }
        }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->mu);
    }
}

vfs_inode *vfs_inode_alloc(vfs_view *vw, uint64_t ino, uint64_t parent, const vfs_lref *stack,
                           uint32_t nstack)
{
    vfs_inode *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    in->ino = ino;
    atomic_init(&in->parent, parent);
    in->view = vw;
    atomic_fetch_add(&vw->refs, 1);
    in->nstack = nstack;
    if (nstack <= 1) {
        in->stack = &in->one;
    } else if (!(in->stack = malloc(nstack * sizeof(*stack)))) {
        free(in);
        return NULL;
    }
    if (nstack)
        memcpy(in->stack, stack, nstack * sizeof(*stack));
    in->en = nstack ? vfs_lref_entry(vw, stack[0]) : NULL;
    in->mode = in->en ? vfs_entry_mode(in->en) : (S_IFDIR | vw->root_mode);
    atomic_init(&in->children, NULL);
    atomic_init(&in->nlink, 0);
    atomic_init(&in->reader, NULL);
    atomic_init(&in->has_upper, false);
    atomic_init(&in->dead, false);
    atomic_init(&in->ufd, -1);
    pthread_mutex_init(&in->cu_mu, NULL);
    pthread_rwlock_init(&in->dlock, NULL);
    return in;
}

void vfs_inode_free(vfs *v, vfs_inode *in)
{
    if (!in)
        return;
    free(atomic_load(&in->children));
    store_reader *r = atomic_load(&in->reader);
    if (r) {
        if (store_reader_path(r))
            atomic_fetch_sub(&v->n_files, 1);
        atomic_fetch_sub(&v->n_readers, 1);
        store_reader_close(r);
    }
    int fd = atomic_load(&in->ufd);
    /* A root's descriptor is the view's (vfs_upper_detach closes it). */
    if (fd >= 0 && in != in->view->root) {
        close(fd);
        atomic_fetch_sub(&v->n_ufds, 1);
    }
    pthread_mutex_destroy(&in->cu_mu);
    pthread_rwlock_destroy(&in->dlock);
    if (in->stack != &in->one)
        free(in->stack);
    vfs_view *vw = in->view;
    free(in);
    vfs_view_put(vw);
}

/* ---- one shard, its mutex held ---------------------------------------- */

/* Keyed by (number, view): after a detach and a new attach, both views
 * of a slot may briefly have inodes of the same number, and a call of
 * the old view must never be handed one of the new (nor the reverse). A
 * view is freed only after its last inode, so the pointer is unambiguous. */
static vfs_inode *find_locked(vfs_shard *sh, uint64_t hash, const vfs_view *vw, uint64_t ino)
{
    for (vfs_inode *in = sh->buckets[hash & (sh->nbuckets - 1)]; in; in = in->hnext)
        if (in->ino == ino && in->view == vw)
            return in;
    return NULL;
}

/* Doubles the buckets when chains grow long; on failure the table just
 * stays slower. */
static void grow_locked(vfs_shard *sh)
{
    size_t n = sh->nbuckets * 2;
    vfs_inode **b = calloc(n, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < sh->nbuckets; i++) {
        vfs_inode *in = sh->buckets[i];
        while (in) {
            vfs_inode *next = in->hnext;
            size_t k = (ino_hash(in->ino) >> 8) & (n - 1);
            in->hnext = b[k];
            b[k] = in;
            in = next;
        }
    }
    free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = n;
}

static void insert_locked(vfs_shard *sh, uint64_t hash, vfs_inode *in)
{
    if (sh->count >= sh->nbuckets * 2)
        grow_locked(sh);
    vfs_inode **head = &sh->buckets[hash & (sh->nbuckets - 1)];
    in->hnext = *head;
    *head = in;
    sh->count++;
}

static void unlink_locked(vfs_shard *sh, vfs_inode *in)
{
    vfs_inode **pp = &sh->buckets[(ino_hash(in->ino) >> 8) & (sh->nbuckets - 1)];
    while (*pp && *pp != in)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = in->hnext;
        sh->count--;
    }
}

static void idle_remove(vfs_shard *sh, vfs_inode *in)
{
    if (in->iprev)
        in->iprev->inext = in->inext;
    else
        sh->idle_head = in->inext;
    if (in->inext)
        in->inext->iprev = in->iprev;
    else
        sh->idle_tail = in->iprev;
    in->iprev = in->inext = NULL;
    in->idle = false;
    sh->nidle--;
}

static void idle_append(vfs_shard *sh, vfs_inode *in)
{
    in->inext = NULL;
    in->iprev = sh->idle_tail;
    if (sh->idle_tail)
        sh->idle_tail->inext = in;
    else
        sh->idle_head = in;
    sh->idle_tail = in;
    in->idle = true;
    sh->nidle++;
}

static void take_locked(vfs_shard *sh, vfs_inode *in)
{
    if (in->idle)
        idle_remove(sh, in);
    in->refs++;
}

/* Called when in may have become unused: parks it on the idle list and
 * returns whatever must now be freed (outside the lock), or NULL. */
static vfs_inode *release_locked(vfs *v, vfs_shard *sh, vfs_inode *in)
{
    if (in->orphan)
        return in->refs ? NULL : in; /* not in the table any more */
    if (in->refs || in->nlookup || in->pinned || in->idle)
        return NULL;
    if (v->idle_per_shard == 0) {
        unlink_locked(sh, in);
        return in;
    }
    idle_append(sh, in);
    if (sh->nidle <= v->idle_per_shard)
        return NULL;
    vfs_inode *victim = sh->idle_head;
    idle_remove(sh, victim);
    unlink_locked(sh, victim);
    return victim;
}

/* ---- references --------------------------------------------------------- */

void vfs_itable_pin(vfs *v, vfs_inode *fresh)
{
    uint64_t h;
    vfs_shard *sh = shard_of(v, fresh->ino, &h);
    pthread_mutex_lock(&sh->mu);
    insert_locked(sh, h, fresh);
    pthread_mutex_unlock(&sh->mu);
}

/* Takes a reference on ino if it is in memory. */
vfs_inode *vfs_itable_find(vfs *v, const vfs_view *vw, uint64_t ino)
{
    uint64_t h;
    vfs_shard *sh = shard_of(v, ino, &h);
    pthread_mutex_lock(&sh->mu);
    vfs_inode *in = find_locked(sh, h, vw, ino);
    if (in)
        take_locked(sh, in);
    pthread_mutex_unlock(&sh->mu);
    return in;
}

/* Adds a freshly built inode, unless another thread added the same number
 * meanwhile: then that one is taken and fresh is freed. Both describe the
 * same immutable entry, so either is right. */
vfs_inode *vfs_itable_insert(vfs *v, vfs_inode *fresh)
{
    uint64_t h;
    vfs_shard *sh = shard_of(v, fresh->ino, &h);
    pthread_mutex_lock(&sh->mu);
    vfs_inode *in = find_locked(sh, h, fresh->view, fresh->ino);
    if (in) {
        take_locked(sh, in);
    } else if (vfs_view_gone(fresh->view)) {
        /* Made by a call that began before its view was detached: the
         * purge may have passed this shard already, so it stays out. */
        fresh->refs = 1;
        fresh->orphan = true;
    } else {
        fresh->refs = 1;
        insert_locked(sh, h, fresh);
    }
    pthread_mutex_unlock(&sh->mu);
    if (in)
        vfs_inode_free(v, fresh);
    return in ? in : fresh;
}

/* vfs_iget's work once the slot is entered: the view stays alive until
 * the result (which references it) is in hand. */
static strata_err *iget_entered(vfs *v, vfs_view *vw, uint64_t ino, vfs_inode **out)
{
    if (ino == vw->root->ino) {
        /* Straight from the view: no table lookup needed. */
        uint64_t h;
        vfs_shard *sh = shard_of(v, ino, &h);
        pthread_mutex_lock(&sh->mu);
        take_locked(sh, vw->root);
        pthread_mutex_unlock(&sh->mu);
        *out = vw->root;
        return NULL;
    }
    vfs_inode *in = vfs_itable_find(v, vw, ino);
    if (in) {
        *out = in;
        return NULL;
    }
    if (vw->upper) {
        /* Entries move, so the upper table comes first (namei.c). */
        strata_err *e = vfs_upper_derive(v, vw, ino, out);
        if (!e)
            atomic_fetch_add_explicit(&v->n_derived, 1, memory_order_relaxed);
        return e;
    }
    vfs_inode *fresh;
    strata_err *e = vfs_lower_derive(vw, ino, &fresh);
    if (e)
        return e;
    atomic_fetch_add_explicit(&v->n_derived, 1, memory_order_relaxed);
    *out = vfs_itable_insert(v, fresh);
    return NULL;
}

static strata_err *iget(vfs *v, const vfs_view *want, uint64_t ino, vfs_inode **out)
{
    *out = NULL;
    uint16_t slot = vfs_ino_slot(ino);
    if (slot >= v->max_slots)
        return vfs_err(ESTALE, "look the path up again from the root of the mount",
                       "inode %#llx: slot %u does not exist", (unsigned long long)ino, slot);
    unsigned t = vfs_slot_enter(v, slot);
    vfs_view *vw = vfs_view_of(v, slot);
    strata_err *e;
    if (!vw || (want && want->slot == slot && want != vw))
        e = vfs_err(ESTALE, "look the path up again from the root of the mount",
                    "inode %#llx: slot %u shows no view, or another one", (unsigned long long)ino,
                    slot);
    else
        e = iget_entered(v, vw, ino, out);
    vfs_slot_leave(v, slot, t);
    return e;
}

strata_err *vfs_iget(vfs *v, uint64_t ino, vfs_inode **out)
{
    return iget(v, NULL, ino, out);
}

strata_err *vfs_iget_in(vfs *v, const vfs_view *vw, uint64_t ino, vfs_inode **out)
{
    return iget(v, vw, ino, out);
}

void vfs_itable_purge(vfs *v, vfs_view *vw)
{
    for (int i = 0; i < VFS_SHARDS; i++) {
        vfs_shard *sh = &v->shards[i];
        vfs_inode *drop = NULL;
        pthread_mutex_lock(&sh->mu);
        for (size_t b = 0; b < sh->nbuckets; b++) {
            vfs_inode **pp = &sh->buckets[b];
            while (*pp) {
                vfs_inode *in = *pp;
                if (in->view != vw) {
                    pp = &in->hnext;
                    continue;
                }
                *pp = in->hnext;
                sh->count--;
                if (in->idle)
                    idle_remove(sh, in);
                in->pinned = false;
                in->nlookup = 0; /* the transport's counts died with the view */
                if (in->refs) {
                    in->orphan = true;
                } else {
                    in->hnext = drop;
                    drop = in;
                }
            }
        }
        pthread_mutex_unlock(&sh->mu);
        while (drop) {
            vfs_inode *next = drop->hnext;
            vfs_inode_free(v, drop);
            drop = next;
        }
    }
}

strata_err *vfs_iget_child(vfs *v, vfs_inode *dir, const vfs_dent *d, vfs_inode **out)
{
    *out = NULL;
    vfs_inode *in = vfs_itable_find(v, dir->view, vfs_dent_ino(dir->view, d));
    if (in) {
        *out = in;
        return NULL;
    }
    vfs_inode *fresh;
    strata_err *e = vfs_lower_child(dir->view, dir, d, &fresh);
    if (e)
        return e;
    *out = vfs_itable_insert(v, fresh);
    return NULL;
}

static void put(vfs *v, vfs_inode *in, uint64_t lookups)
{
    uint64_t h;
    vfs_shard *sh = shard_of(v, in->ino, &h);
    pthread_mutex_lock(&sh->mu);
    in->refs--;
    in->nlookup += lookups;
    vfs_inode *drop = release_locked(v, sh, in);
    pthread_mutex_unlock(&sh->mu);
    vfs_inode_free(v, drop);
}

void vfs_ilookups(vfs *v, vfs_inode *in, uint64_t n)
{
    uint64_t h;
    vfs_shard *sh = shard_of(v, in->ino, &h);
    pthread_mutex_lock(&sh->mu);
    in->nlookup += n;
    pthread_mutex_unlock(&sh->mu);
}

uint32_t vfs_irefs(vfs *v, vfs_inode *in)
{
    uint64_t h;
    vfs_shard *sh = shard_of(v, in->ino, &h);
    pthread_mutex_lock(&sh->mu);
    uint32_t n = in->refs ? in->refs - 1 : 0;
    pthread_mutex_unlock(&sh->mu);
    return n;
}

bool vfs_iheld(vfs *v, vfs_inode *in)
{
    uint64_t h;
    vfs_shard *sh = shard_of(v, in->ino, &h);
    pthread_mutex_lock(&sh->mu);
    bool held = in->nlookup > 0 || in->refs > 1;
    pthread_mutex_unlock(&sh->mu);
    return held;
}

void vfs_iput(vfs *v, vfs_inode *in)
{
    if (in)
        put(v, in, 0);
}

void vfs_iput_lookups(vfs *v, vfs_inode *in, uint64_t n)
{
    put(v, in, n);
}

void vfs_forget(vfs *v, uint64_t ino, uint64_t n)
{
    uint16_t slot = vfs_ino_slot(ino);
    if (slot >= v->max_slots)
        return;
    /* The slot's view now: counts of a detached view died with it. */
    unsigned t = vfs_slot_enter(v, slot);
    vfs_view *vw = vfs_view_of(v, slot);
    uint64_t h;
    vfs_shard *sh = shard_of(v, ino, &h);
    pthread_mutex_lock(&sh->mu);
    vfs_inode *in = vw ? find_locked(sh, h, vw, ino) : NULL;
    vfs_slot_leave(v, slot, t);
    vfs_inode *drop = NULL;
    if (in) {
        /* A transport that forgets more than it looked up has a bug, but
         * clamping keeps the table consistent. */
        in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
        drop = release_locked(v, sh, in);
    }
    pthread_mutex_unlock(&sh->mu);
    vfs_inode_free(v, drop);
}
