/* What the vfs says about an inode and about the filesystem: attributes,
 * permission checks, statfs and directory generations.
 *
 * A lower entry's attributes are a pure function of its manifest entry and
 * the view's owner: no owner, link count or time is stored in a layer (see
 * docs/FORMAT.md), so every entry shows the view's uid/gid and mtime
 * MANIFEST_MTIME, and transports may cache them for as long as they like.
 * An upper entry's are the real ones of its upper file, read each time. */
#include <errno.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/path.h"
#include "vfs/vfs_internal.h"

#define STATFS_BSIZE 4096u

/* Bytes a file of size takes on a typical local filesystem (4 KiB
 * blocks), in 512-byte units, so that du over the mount looks like du over
 * an exported copy. */
static uint64_t blocks_of(uint64_t size)
{
    return (size + STATFS_BSIZE - 1) / STATFS_BSIZE * (STATFS_BSIZE / 512);
}

void vfs_attr_from_stat(const vfs_inode *in, const struct stat *st, vfs_attr *out)
{
    *out = (vfs_attr){
        .ino = in->ino,
        .mode = st->st_mode & (S_IFMT | 07777),
        .nlink = (uint32_t)st->st_nlink,
        .uid = st->st_uid,
        .gid = st->st_gid,
        .size = (uint64_t)st->st_size,
        .blocks = (uint64_t)st->st_blocks,
        .blksize = VFS_BLKSIZE,
        .flags = 0,
        .atime = {.sec = st->st_atim.tv_sec, .nsec = (uint32_t)st->st_atim.tv_nsec},
        .mtime = {.sec = st->st_mtim.tv_sec, .nsec = (uint32_t)st->st_mtim.tv_nsec},
        .ctime = {.sec = st->st_ctim.tv_sec, .nsec = (uint32_t)st->st_ctim.tv_nsec},
    };
    /* A directory merged with lower ones has subdirectories the upper one
     * does not count: 1 says "unknown" to find(1) and fts, as overlayfs
     * says. */
    if (S_ISDIR(st->st_mode) && in->nstack > 0)
        out->nlink = 1;
}

/* The attributes of a lower entry that nothing removed: the view's
 * owner, MANIFEST_MTIME, immutable; size and link count for all but
 * directories (the caller's). */
static void lower_attr(const vfs_view *vw, uint64_t ino, uint32_t mode, bool dead,
                       const manifest_entry *en, vfs_attr *out)
{
    *out = (vfs_attr){
        .ino = ino,
        .mode = mode,
        .nlink = dead ? 0 : 1,
        .uid = vw->uid,
        .gid = vw->gid,
        .blksize = VFS_BLKSIZE,
        .flags = dead ? 0 : VFS_ATTR_IMMUTABLE,
        .atime = {.sec = MANIFEST_MTIME},
        .mtime = {.sec = MANIFEST_MTIME},
        .ctime = {.sec = MANIFEST_MTIME},
    };
    if (en && !S_ISDIR(mode)) {
        out->size = en->size; /* a symlink's size is its target's length */
        out->blocks = en->kind == MANIFEST_FILE ? blocks_of(en->size) : 0;
    }
}

bool vfs_lower_leaf_attr(const vfs_view *vw, const manifest_entry *en, uint64_t ino, vfs_attr *out)
{
    uint32_t mode = vfs_entry_mode(en);
    if (S_ISDIR(mode))
        return false;
    lower_attr(vw, ino, mode, false, en, out);
    return true;
}

strata_err *vfs_fill_attr(vfs_inode *in, vfs_attr *out)
{
    vfs_view *vw = in->view;
    if (vw->slotdir) {
        vfs_slotdir_attr(in, out);
        return NULL;
    }
    if (vfs_has_upper(in)) {
        struct stat st;
        strata_err *e = vfs_upper_stat(in, &st);
        if (e)
            return e;
        vfs_attr_from_stat(in, &st, out);
        return NULL;
    }
    /* A removed lower entry that something still holds (a lookup the
     * kernel keeps for an open file, a handle) keeps its attributes, with
     * no name left (nlink 0) and no promise of never changing (a write
     * copies it up), as an upper one does (vfs_upper_fd_keep). Held by
     * nobody, its number is stale. */
    bool dead = vfs_is_dead(in);
    if (dead && (!in->en || !vfs_iheld(vw->v, in)))
        return vfs_err(ESTALE, "look the path up again", "inode %#llx was removed",
                       (unsigned long long)in->ino);
    lower_attr(vw, in->ino, in->mode, dead, in->en, out);
    if (vfs_inode_is_dir(in) && dead) {
        out->size = VFS_DIR_SIZE;
        out->blocks = blocks_of(VFS_DIR_SIZE);
    } else if (vfs_inode_is_dir(in)) {
        /* nlink = 2 + subdirectories, as find(1) and fts expect; computed
         * once, because in a merged directory it takes the merge. */
        uint32_t nlink = atomic_load_explicit(&in->nlink, memory_order_relaxed);
        if (nlink == 0) {
            uint32_t nsub;
            strata_err *e = vfs_lower_nsubdirs(vw, in, &nsub);
            if (e)
                return e;
            nlink = 2 + nsub;
            atomic_store_explicit(&in->nlink, nlink, memory_order_relaxed);
        }
        out->nlink = nlink;
        out->size = VFS_DIR_SIZE;
        out->blocks = blocks_of(VFS_DIR_SIZE);
    }
    return NULL;
}

strata_err *vfs_getattr(vfs *v, uint64_t ino, vfs_attr *out)
{
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    e = vfs_fill_attr(in, out);
    vfs_iput(v, in);
    return e;
}

/* The usual owner/group/other check, against the view's owner: root may
 * read and search anything, and execute what has any x bit. */
strata_err *vfs_access(vfs *v, uint64_t ino, int mask, uint32_t uid, uint32_t gid)
{
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    vfs_view *vw = in->view;
    /* A lower-only entry's owner and mode need no stat (nor a merge). */
    vfs_attr a = {.mode = in->mode, .uid = vw->uid, .gid = vw->gid};
    if (vfs_has_upper(in) || vfs_is_dead(in))
        e = vfs_fill_attr(in, &a);
    vfs_iput(v, in);
    if (e)
        return e;
    uint32_t mode = a.mode;
    bool dir = S_ISDIR(a.mode);
    if (mask == F_OK)
        return NULL;
    if ((mask & W_OK) && !vw->upper)
        return vfs_err(EROFS,
                       "write to the mount's upper directory, or export the layers "
                       "('strata export') and work on the copy",
                       "inode %#llx: the view is read-only (no upper directory)",
                       (unsigned long long)ino);
    unsigned bits;
    if (uid == 0)
        bits = (!(mask & X_OK) || dir || (mode & 0111)) ? 07 : 06;
    else if (uid == a.uid)
        bits = (mode >> 6) & 07;
    else if (gid == a.gid)
        bits = (mode >> 3) & 07;
    else
        bits = mode & 07;
    if ((unsigned)mask & 07 & ~bits)
        return vfs_err(EACCES,
                       "access it as its owner (the mount's owner, for entries of the "
                       "layers)",
                       "inode %#llx: access %o denied by mode %o", (unsigned long long)ino,
                       (unsigned)mask, mode & 07777);
    return NULL;
}

/* Sums entries and file blocks over every layer, once per view. Layers may
 * hide each other's entries, so this is an upper bound; df needs no more.
 * Two threads racing here store the same numbers. */
static void view_totals(vfs_view *vw, uint64_t *blocks, uint64_t *files)
{
    if (!atomic_load_explicit(&vw->totals_done, memory_order_acquire)) {
        uint64_t b = 0, f = 1; /* the root */
        for (uint32_t i = 0; i < vw->nlayers; i++) {
            const manifest *m = vw->layers[i];
            for (uint32_t k = 0; k < m->count; k++) {
                const manifest_entry *en = &m->entries[k];
                f += en->kind != MANIFEST_WHITEOUT;
                if (en->kind == MANIFEST_FILE)
                    b += blocks_of(en->size) / (STATFS_BSIZE / 512);
            }
        }
        atomic_store_explicit(&vw->total_blocks, b, memory_order_relaxed);
        atomic_store_explicit(&vw->total_files, f, memory_order_relaxed);
        atomic_store_explicit(&vw->totals_done, true, memory_order_release);
    }
    *blocks = atomic_load_explicit(&vw->total_blocks, memory_order_relaxed);
    *files = atomic_load_explicit(&vw->total_files, memory_order_relaxed);
}

strata_err *vfs_statfs_get(vfs *v, uint64_t ino, vfs_statfs *out)
{
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    vfs_view *vw = in->view;
    vfs_iput(v, in);
    if (vw->upper) {
        struct statvfs sv;
        if (fstatvfs(vw->upper_fd, &sv) < 0)
            return vfs_err_sys(errno, "statfs of upper directory %s", vw->upper);
        *out = (vfs_statfs){
            .bsize = (uint32_t)sv.f_bsize,
            .frsize = (uint32_t)sv.f_frsize,
            .blocks = sv.f_blocks,
            .bfree = sv.f_bfree,
            .bavail = sv.f_bavail,
            .files = sv.f_files,
            .ffree = sv.f_ffree,
            .namemax = sv.f_namemax < PATH_NAME_MAX ? (uint32_t)sv.f_namemax : PATH_NAME_MAX,
        };
        return NULL;
    }
    uint64_t blocks, files;
    view_totals(vw, &blocks, &files);
    /* Nothing is free: without an upper directory nothing can be written. */
    *out = (vfs_statfs){
        .bsize = STATFS_BSIZE,
        .frsize = STATFS_BSIZE,
        .blocks = blocks,
        .files = files,
        .namemax = PATH_NAME_MAX,
    };
    return NULL;
}

strata_err *vfs_dir_generation(vfs *v, uint64_t ino, uint64_t *gen)
{
    *gen = 0;
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    if (!vfs_inode_is_dir(in))
        e = vfs_err(ENOTDIR, "ask about directories only", "inode %#llx is not a directory",
                    (unsigned long long)ino);
    else if (vfs_has_upper(in))
        *gen = vfs_ut_gen(&in->view->ut, in->ino);
    vfs_iput(v, in);
    return e;
}
