/* Private to src/vfs: the vfs, view and inode structures and the helpers
 * that the vfs/ sources share. Nothing outside src/vfs includes this. */
#ifndef STRATA_VFS_VFS_INTERNAL_H
#define STRATA_VFS_VFS_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "layer/manifest.h"
#include "vfs/vfs.h"

#define VFS_SHARDS 64 /* inode table shards; a power of two */

/* One place in one lower layer: entry idx of layer (MANIFEST_ROOT for the
 * layer's root directory). */
typedef struct vfs_lref {
    uint32_t layer;
    uint32_t idx;
} vfs_lref;

/* One child of a merged directory: its topmost occurrence. name points into
 * that layer's manifest, which lives as long as the view. */
typedef struct vfs_dent {
    const char *name;
    uint32_t idx;
    uint16_t layer;
    uint16_t name_len;
} vfs_dent;

/* A merged directory's children in name order; immutable once published. */
typedef struct vfs_children {
    uint32_t n;
    uint32_t nsubdirs;
    vfs_dent d[];
} vfs_children;

typedef struct vfs_view vfs_view;

typedef struct vfs_inode {
    uint64_t ino;
    /* The directory it was found in (the root: itself). Only a directory's
     * changes, when it is renamed, and only under the rename's locks. */
    _Atomic uint64_t parent;
    vfs_view *view;
    /* Topmost lower entry: for a lower-only entry what it shows; for a
     * copied-up one its origin; NULL for a root and for upper entries with
     * nothing below them. */
    const manifest_entry *en;
    uint32_t mode; /* type | permission bits (an upper entry's: at creation) */
    /* Where the entry lives in the lower layers, top first: for a
     * directory every lower directory merged into it (none when it is
     * opaque or new), for anything else its one entry. Fixed for the
     * inode's life, also across renames (a redirect keeps it). */
    uint32_t nstack;
    vfs_lref *stack;
    vfs_lref one; /* stack storage for a single entry */

    /* The upper side (upper.c). has_upper is set once, after real, and
     * never cleared; dead once the last name is gone. */
    _Atomic bool has_upper;
    _Atomic bool dead;
    uint64_t real;          /* st_ino of the upper entry */
    _Atomic int ufd;        /* cached O_PATH descriptor of the upper entry, or -1 */
    pthread_mutex_t cu_mu;  /* one copy-up at a time */
    pthread_rwlock_t dlock; /* directories: shared for lookups and listings,
                               exclusive for changes of their entries */

    /* Computed from the lower layers on first use and then published; a
     * racing loser frees its copy. Never reset while the inode lives. */
    _Atomic(vfs_children *) children;
    _Atomic uint32_t nlink; /* 0: not computed yet */
    _Atomic(store_reader *) reader;

    /* Guarded by the shard's mutex. */
    uint64_t nlookup; /* lookups the transport holds */
    uint32_t refs;    /* open handles and calls in progress */
    bool pinned;      /* a slot root: never dropped */
    bool idle;        /* on the shard's idle list */
    bool orphan;      /* its view was detached: out of the table, freed
                         with its last reference */
    struct vfs_inode *hnext;
    struct vfs_inode *iprev, *inext;
} vfs_inode;

/* One name of an upper entry: (directory number, name). */
typedef struct vfs_uloc {
    uint64_t parent;
    char *name;
} vfs_uloc;

/* The upper table's record of one number: where its upper entry is. */
typedef struct vfs_urec {
    uint64_t ino, real;
    uint64_t gen; /* directories: namespace changes */
    uint32_t nloc, cap;
    vfs_uloc *loc; /* loc[0] first; more for hard links */
    struct vfs_urec *next_ino, *next_real;
} vfs_urec;

/* number -> names, real inode -> number; for the whole mount (utable.c). */
typedef struct vfs_utable {
    pthread_rwlock_t lock;
    vfs_urec **by_ino, **by_real;
    size_t nbuckets, count;
} vfs_utable;

enum { VFS_XATTR_NONE, VFS_XATTR_TRUSTED, VFS_XATTR_USER };

struct vfs_view {
    vfs *v;
    uint16_t slot;
    uint32_t gen;          /* the slot's attach count when this view came */
    bool slotdir;          /* slot 0 in a vfs with vfs_opts.slot_dir */
    _Atomic uint64_t refs; /* the slot's one, plus one per inode in memory */
    _Atomic bool detached; /* vfs_slot_detach took it out of its slot */
    uint32_t nlayers;
    manifest **layers; /* top first */
    char *upper;       /* the upper directory's path, or NULL */
    uint32_t uid, gid;
    uint32_t root_mode;
    vfs_inode *root;

    /* With an upper directory (upper.c). */
    int upper_fd;         /* O_PATH of the upper root */
    int work_fd;          /* O_PATH of UPPER_WORK */
    bool wh_chardev;      /* whiteouts are 0/0 character devices */
    bool check_whfiles;   /* ".wh." whiteouts may exist: look for them */
    bool rename_whiteout; /* renameat2(RENAME_WHITEOUT) works */
    int xattrs;           /* VFS_XATTR_*: where opaque and redirect go */
    bool root_owner;      /* the server runs as root: may chown */
    vfs_utable ut;
    _Atomic uint32_t next_upper; /* last upper index handed out */
    _Atomic uint64_t tmp_seq;    /* temp names in UPPER_WORK */
    pthread_mutex_t rename_mu;   /* renames between two directories */
    _Atomic uint64_t renames;    /* renames done, for finding moved entries */

    /* statfs totals, summed over the layers on first use. */
    _Atomic bool totals_done;
    _Atomic uint64_t total_blocks, total_files;
};

/* One slot: its view, published with an atomic store, and the count of
 * threads that may have read the pointer and not yet referenced an inode
 * of it (vfs_slot_enter). Two counters, chosen by epoch, so that detach
 * waits only for threads that came before it (see vfs.c). */
typedef struct vfs_slot {
    _Alignas(64) _Atomic(vfs_view *) view;
    _Atomic uint64_t users[2];
    _Atomic uint32_t epoch;
    uint32_t gen; /* attaches so far; under vfs.admin_mu */
} vfs_slot;

typedef struct vfs_shard {
    _Alignas(64) pthread_mutex_t mu;
    vfs_inode **buckets;
    size_t nbuckets, count;
    vfs_inode *idle_head, *idle_tail; /* oldest at the head */
    size_t nidle;
} vfs_shard;

/* A decoded manifest shared by the views showing its layer (mcache.c). */
typedef struct vfs_mcache_ent {
    strata_digest d;
    manifest *m;
    uint32_t refs; /* views holding it; 0: kept for the next one */
    uint64_t bytes;
    uint64_t used; /* mc_clock when its last view let go */
} vfs_mcache_ent;

struct vfs {
    store *s;
    uint32_t max_slots;
    uint32_t idle_per_shard;
    uint32_t max_readers;
    uint32_t max_ufds; /* upper descriptors cached on inodes */
    uint32_t compat;   /* VFS_COMPAT_* */
    vfs_slot *slots;
    bool slot_dir;                /* slot 0 is the directory of slots */
    pthread_mutex_t admin_mu;     /* attach and detach (never a call) */
    _Atomic uint32_t n_attached;  /* views in slots 1.. (slot_dir) */
    _Atomic uint64_t slotdir_mns; /* the slot directory's mtime, ns */
    vfs_shard shards[VFS_SHARDS];

    _Atomic uint64_t n_derived, n_merged;
    _Atomic uint64_t n_readers; /* readers cached on inodes */
    _Atomic uint64_t n_files;   /* ... of which hold an open blob file (capped) */
    _Atomic uint64_t n_ufds;    /* upper descriptors cached on inodes (capped) */
    _Atomic uint64_t n_copy_ups;
    _Atomic uint64_t n_manifest_loads, n_manifest_hits;

    pthread_mutex_t mc_mu; /* the manifest cache (mcache.c) */
    vfs_mcache_ent *mc;
    size_t mc_n, mc_cap;
    uint64_t mc_idle_bytes, mc_budget, mc_clock;
};

/* An open file: a lower one reads from the store, an upper one through
 * its own descriptor (read.c, write.c). */
struct vfs_file {
    vfs_inode *in;   /* referenced for the handle's life */
    store_reader *r; /* lower content; NULL for an empty or upper file */
    bool own;        /* r is the handle's own, closed on release */
    int flags;       /* the open(2) flags */
    _Atomic int fd;  /* the upper file, or -1; for a read-only handle on a
                        lower file opened once the file was copied up */
};

/* ---- views (view.c) ---- */

/* A thread reads a slot's view pointer only between vfs_slot_enter and
 * vfs_slot_leave (given enter's token); the view stays alive meanwhile,
 * and after leave as long as the thread references one of its inodes. */
unsigned vfs_slot_enter(vfs *v, uint16_t slot);
void vfs_slot_leave(vfs *v, uint16_t slot, unsigned token);
/* The view of slot, or NULL; only between enter and leave. */
vfs_view *vfs_view_of(vfs *v, uint16_t slot);
/* Drops a reference; the last one frees the view. */
void vfs_view_put(vfs_view *vw);
static inline bool vfs_view_gone(const vfs_view *vw)
{
    return atomic_load_explicit(&vw->detached, memory_order_acquire);
}
strata_err *vfs_view_load(vfs *v, uint16_t slot, const vfs_view_spec *spec, vfs_view **out);
void vfs_view_free(vfs_view *vw);

/* ---- decoded manifests (mcache.c) ---- */

void vfs_mcache_init(vfs *v, uint64_t budget);
/* The layer's manifest, decoded once for every view of this vfs; give it
 * back with vfs_mcache_put. */
strata_err *vfs_mcache_get(vfs *v, const strata_digest *d, manifest **out);
void vfs_mcache_put(vfs *v, manifest *m);
/* Frees them all; no view may hold one. */
void vfs_mcache_destroy(vfs *v);
/* Decoded manifests held, in use or kept. */
size_t vfs_mcache_count(vfs *v);

static inline const manifest_entry *vfs_lref_entry(const vfs_view *vw, vfs_lref r)
{
    return r.idx == MANIFEST_ROOT ? NULL : &vw->layers[r.layer]->entries[r.idx];
}

/* ---- inode table (inode.c) ---- */

strata_err *vfs_itable_init(vfs *v);
void vfs_itable_destroy(vfs *v);
/* A new inode, not yet in the table; stack is copied. */
vfs_inode *vfs_inode_alloc(vfs_view *vw, uint64_t ino, uint64_t parent, const vfs_lref *stack,
                           uint32_t nstack);
void vfs_inode_free(vfs *v, vfs_inode *in);
/* Adds fresh (a pinned root) to the table for good. */
void vfs_itable_pin(vfs *v, vfs_inode *fresh);
/* Finds ino in memory or rebuilds it from its number; the result holds one
 * reference, given back with vfs_iput or vfs_iput_lookups. */
strata_err *vfs_iget(vfs *v, uint64_t ino, vfs_inode **out);
/* ino of view vw with a reference if it is in memory, else NULL. */
vfs_inode *vfs_itable_find(vfs *v, const vfs_view *vw, uint64_t ino);
/* Takes every inode of a detached view out of the table: unused ones are
 * freed, used ones become orphans, freed with their last reference. */
void vfs_itable_purge(vfs *v, vfs_view *vw);
/* vfs_iget for a number met inside view vw (a parent, a place): ESTALE
 * when its slot now shows another view, so that a call that began before
 * a detach never crosses into the next view of the slot. */
strata_err *vfs_iget_in(vfs *v, const vfs_view *vw, uint64_t ino, vfs_inode **out);
/* Adds fresh (one reference) unless the number is in memory already: then
 * that inode is referenced and returned, and fresh freed. */
vfs_inode *vfs_itable_insert(vfs *v, vfs_inode *fresh);
/* Adds n lookups to an inode the caller holds a reference on. */
void vfs_ilookups(vfs *v, vfs_inode *in, uint64_t n);
/* The inode's references beyond the caller's one (handles, calls). */
uint32_t vfs_irefs(vfs *v, vfs_inode *in);
/* Whether anyone but the caller holds in: a lookup the transport keeps
 * (the kernel does for every file open by path), a handle, a call. */
bool vfs_iheld(vfs *v, vfs_inode *in);
/* The same for a child of dir whose topmost entry is d: cheaper than
 * vfs_iget because dir's merge stack is at hand. */
strata_err *vfs_iget_child(vfs *v, vfs_inode *dir, const vfs_dent *d, vfs_inode **out);
void vfs_iput(vfs *v, vfs_inode *in);
/* Gives back the reference and adds n lookups in one step (a successful
 * lookup). */
void vfs_iput_lookups(vfs *v, vfs_inode *in, uint64_t n);

static inline bool vfs_inode_is_dir(const vfs_inode *in)
{
    return S_ISDIR(in->mode);
}
static inline bool vfs_has_upper(const vfs_inode *in)
{
    return atomic_load_explicit(&in->has_upper, memory_order_acquire);
}
static inline bool vfs_is_dead(const vfs_inode *in)
{
    return atomic_load_explicit(&in->dead, memory_order_acquire);
}
static inline uint64_t vfs_parent_of(const vfs_inode *in)
{
    return atomic_load_explicit(&in->parent, memory_order_acquire);
}

/* ---- the merged lower index (lower.c) ---- */

/* The number of the child whose topmost occurrence is d. */
uint64_t vfs_dent_ino(const vfs_view *vw, const vfs_dent *d);
/* Builds (not in the table) the inode for ino from the manifests alone;
 * ESTALE when the number names nothing visible in the view. */
strata_err *vfs_lower_derive(vfs_view *vw, uint64_t ino, vfs_inode **out);
/* Builds the inode for dir's child d. */
strata_err *vfs_lower_child(vfs_view *vw, const vfs_inode *dir, const vfs_dent *d, vfs_inode **out);
/* dir's merged children, computed on first use. */
strata_err *vfs_lower_children(vfs_view *vw, vfs_inode *dir, const vfs_children **out);
/* The child named name, or NULL. */
const vfs_dent *vfs_children_find(const vfs_children *c, const char *name, size_t len);
/* Subdirectories of dir in the merged view (for nlink). */
strata_err *vfs_lower_nsubdirs(vfs_view *vw, vfs_inode *dir, uint32_t *out);
/* Type and permission bits of an entry. */
uint32_t vfs_entry_mode(const manifest_entry *en);
/* The number of a lower place. */
uint64_t vfs_lref_ino(const vfs_view *vw, vfs_lref r);
/* Resolves a view path in the lower layers alone, from the root, with the
 * merge rules: writes its stack (room for nlayers entries) and returns its
 * length, 0 when nothing is there. */
uint32_t vfs_lower_resolve(const vfs_view *vw, const char *path, size_t len, vfs_lref *out);
/* The same for name inside directory dir (by dir's merge stack). */
uint32_t vfs_lower_resolve_in(const vfs_view *vw, const vfs_inode *dir, const char *name,
                              size_t len, vfs_lref *out);
/* Whether the lower layers hold a directory at dir/name (which a new or
 * moved directory there must hide, or merge with). */
bool vfs_lower_dir_at(const vfs_view *vw, const vfs_inode *dir, const char *name, size_t len);
/* Where a lower number sits among the lower layers alone: the number of
 * the directory holding it and its name; ESTALE when the number names
 * nothing visible there. */
strata_err *vfs_lower_place(const vfs_view *vw, uint64_t ino, uint64_t *parent, const char **name,
                            size_t *len);

/* ---- lookups (namei.c) ---- */

/* dir's child name with a reference (no lookup counted). locked: the
 * caller holds dir->dlock (shared or exclusive). */
strata_err *vfs_child_get(vfs *v, vfs_inode *dir, const char *name, size_t len, bool locked,
                          vfs_inode **out);
/* Rebuilds ino from its number in a view with an upper directory: through
 * the upper table where it has a record, else from its lower place. The
 * result is in the table and referenced. */
strata_err *vfs_upper_derive(vfs *v, vfs_view *vw, uint64_t ino, vfs_inode **out);
/* Checks a name for a new entry: a component, not reserved. */
strata_err *vfs_check_new_name(const vfs_inode *dir, const char *name, size_t len, const char *op);
/* Whether the lower layers show name in dir (so removing it needs a
 * whiteout). */
bool vfs_lower_has(vfs *v, vfs_inode *dir, const char *name, size_t len);
/* Whether directory dir shows no entry, upper or lower; dir->dlock held. */
strata_err *vfs_dir_empty(vfs *v, vfs_inode *dir, bool *empty);

/* ---- the directory of slots (slots.c) ---- */

/* Slot N's root for the name "N" in the slot directory; ENOENT for any
 * other name or an empty slot. Referenced. */
strata_err *vfs_slotdir_child(vfs *v, const char *name, size_t len, vfs_inode **out);
/* Lists the slot directory (in, referenced by the caller). */
strata_err *vfs_slotdir_list(vfs *v, vfs_inode *in, uint64_t cookie, bool plus, bool count_lookups,
                             vfs_dirent_fn fn, void *ctx, bool *eof);
void vfs_slotdir_attr(vfs_inode *in, vfs_attr *out);
/* Records that the slot directory's entries changed (its mtime). */
void vfs_slotdir_touch(vfs *v);

/* ---- attributes (attr.c) ---- */

strata_err *vfs_fill_attr(vfs_inode *in, vfs_attr *out);
/* A lower-only entry that is not a directory has attributes that are a
 * pure function of its manifest entry (see attr.c): filled without an
 * inode, for listings that keep no lookups (NFS's READDIRPLUS). False for
 * a directory, whose link count takes a merge. */
bool vfs_lower_leaf_attr(const vfs_view *vw, const manifest_entry *en, uint64_t ino, vfs_attr *out);
/* Attributes from an upper entry's stat. */
void vfs_attr_from_stat(const vfs_inode *in, const struct stat *st, vfs_attr *out);

/* ---- the upper table (utable.c) ---- */

strata_err *vfs_ut_init(vfs_utable *t);
void vfs_ut_destroy(vfs_utable *t);
/* The number recorded for real inode real, or 0. */
uint64_t vfs_ut_by_real(vfs_utable *t, uint64_t real);
bool vfs_ut_has(vfs_utable *t, uint64_t ino);
/* Records ino (real inode real) at (parent, name), unless real has a
 * record already; *got (may be NULL) gets the number recorded for real. */
strata_err *vfs_ut_add(vfs_utable *t, uint64_t ino, uint64_t real, uint64_t parent,
                       const char *name, size_t len, uint64_t *got);
/* Adds a name (a hard link) to ino's record, unless it is there. */
strata_err *vfs_ut_add_loc(vfs_utable *t, uint64_t ino, uint64_t parent, const char *name,
                           size_t len);
/* Takes a name away; returns how many remain. The record goes with its
 * last name, unless keep (the entry has names the table has not met yet:
 * its number must stay). */
uint32_t vfs_ut_del_loc(vfs_utable *t, uint64_t ino, uint64_t parent, const char *name, size_t len,
                        bool keep);
/* Moves one of ino's names (or adds it, if the old one is not recorded). */
strata_err *vfs_ut_move(vfs_utable *t, uint64_t ino, uint64_t oldparent, const char *oldname,
                        size_t oldlen, uint64_t newparent, const char *newname, size_t newlen);
/* Copies ino's i-th name; false when it has none such. */
bool vfs_ut_loc(vfs_utable *t, uint64_t ino, uint32_t i, uint64_t *parent, char *name, size_t cap);
/* ino's path below the upper root, malloc'd ("." for the root), by its
 * first name at every level; ESTALE when a level has no record. */
strata_err *vfs_ut_path(vfs_utable *t, uint64_t ino, char **out);
/* ino's real inode, if it has a record. */
bool vfs_ut_real(vfs_utable *t, uint64_t ino, uint64_t *real);
uint64_t vfs_ut_gen(vfs_utable *t, uint64_t ino);
void vfs_ut_bump(vfs_utable *t, uint64_t ino);
uint64_t vfs_ut_count(vfs_utable *t);

/* ---- the upper directory (upper.c) ---- */

strata_err *vfs_upper_attach(vfs_view *vw, const char *dir);
void vfs_upper_detach(vfs_view *vw);
/* An O_PATH descriptor of in's upper entry: the inode's cached one, or
 * (*own) the caller's, to close with vfs_upper_fd_done. */
strata_err *vfs_upper_fd(vfs_inode *in, int *fd, bool *own);
void vfs_upper_fd_done(int fd, bool own);
/* Keeps in's descriptor cached (past the cap if need be) while someone
 * still uses in, so it stays reachable once its last name is gone. */
void vfs_upper_fd_keep(vfs_inode *in);
/* Caches fd (the upper entry of in) on in if there is room; else closes it. */
void vfs_upper_fd_offer(vfs_inode *in, int fd);
/* Opens in's upper entry afresh with flags (through /proc/self/fd). */
strata_err *vfs_upper_reopen(vfs_inode *in, int flags, int *out);
strata_err *vfs_upper_stat(vfs_inode *in, struct stat *st);
/* "/proc/self/fd/N" */
void vfs_fd_path(int fd, char buf[32]);
bool vfs_is_whiteout(const struct stat *st);

enum { VFS_UP_NONE, VFS_UP_ENTRY, VFS_UP_WHITEOUT, VFS_UP_WHFILE };
/* What the upper directory dfd holds at name: an entry (*st filled), a
 * 0/0 whiteout, a ".wh." whiteout, or nothing; or -errno. */
int vfs_upper_probe(vfs_view *vw, int dfd, const char *name, struct stat *st);
/* The inode of the upper entry name (NUL-terminated, len bytes; stat st)
 * in dir, whose upper is dfd: found by its real inode, or numbered now.
 * Referenced. */
strata_err *vfs_upper_child(vfs *v, vfs_inode *dir, int dfd, const char *name, size_t len,
                            const struct stat *st, vfs_inode **out);
/* A fresh temp name in UPPER_WORK. */
void vfs_tmpname(vfs_view *vw, char buf[48]);
/* Removes what UPPER_WORK holds at name (a file or a whole tree). */
void vfs_work_remove(vfs_view *vw, const char *name);
/* Leaves a whiteout at name in dfd, where nothing is. */
strata_err *vfs_make_whiteout(vfs_view *vw, int dfd, const char *name);
/* Marks the directory (an O_PATH descriptor) opaque / redirected. */
strata_err *vfs_set_opaque(vfs_view *vw, int fd);
strata_err *vfs_set_redirect(vfs_view *vw, int fd, const char *origin);
/* Removes the upper entry name of dfd, leaving a whiteout when wh. */
strata_err *vfs_upper_remove(vfs_view *vw, int dfd, const char *name, bool isdir, bool wh);
/* Gives a new entry the caller as owner (when the server is root). */
void vfs_upper_chown_new(vfs_view *vw, int dfd, const char *name, const vfs_cred *cred);
/* Takes dir->dlock exclusively after checking dir can hold new entries:
 * it has an upper and is not dead; *dfd gets its upper (own says whether
 * to close it). */
strata_err *vfs_dir_lock(vfs *v, vfs_inode *dir, int *dfd, bool *own);
void vfs_dir_unlock(vfs_inode *dir, int dfd, bool own);
/* A new upper number. */
strata_err *vfs_upper_number(vfs_view *vw, uint64_t *out);
/* EROFS unless the view has an upper directory. */
strata_err *vfs_need_upper(const vfs_view *vw, const char *op);
/* An error for a failed system call on the upper filesystem. */
strata_err *vfs_err_sys(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- copy-up (copy_up.c) ---- */

/* Gives in an upper copy, parents first, unless it has one. A file keeps
 * at most limit bytes of its content (UINT64_MAX: all of it). */
strata_err *vfs_copy_up(vfs *v, vfs_inode *in, uint64_t limit);

/* ---- errors (error.c) ---- */

/* A new error for errno errnum (code chosen to match), with a hint. */
strata_err *vfs_err(int errnum, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Marks a store error met while reading content as EIO for transports:
 * the entry exists, its bytes are what failed. Returns e. */
strata_err *vfs_err_content(strata_err *e);

#endif
