/* Listing a directory, with or without attributes, from any cookie.
 *
 * A listing is ".", "..", then the merged lower children in name order,
 * then the upper directory's entries in its own order. The lower entry at
 * position p has cookie p + 1: lower directories never change, so the
 * merged list built on first use is the same for the whole mount, and a
 * cookie from any earlier call resumes at exactly the same place. Lower
 * names the upper directory hides (a whiteout) or shadows (an upper entry
 * of the same name, listed in the upper part) are skipped without being
 * renumbered, and once hidden a lower name stays hidden. An upper entry's
 * cookie is VFS_COOKIE_UPPER | the upper filesystem's own offset after it
 * (seekdir), which that filesystem keeps stable (ext4 and xfs hash
 * offsets, tmpfs and btrfs indexes). The upper directory is read afresh on
 * every call, so nothing per open is kept: NFS (which may resume from any
 * cookie at any time) and FUSE share one implementation. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "layer/upper.h"
#include "vfs/vfs_internal.h"

typedef struct lister {
    vfs *v;
    vfs_inode *dir;
    bool plus, count_lookups;
    vfs_dirent_fn fn;
    void *ctx;
    bool any;          /* an entry was taken */
    bool stopped;      /* the caller's buffer is full */
    vfs_inode *dot[2]; /* readdirplus: "." and "..", got before any lock */
} lister;

/* Hands one entry to the caller; in (may be NULL unless plus without
 * attr) is its referenced inode, given back here; attr, when not NULL,
 * its attributes already. */
static strata_err *emit(lister *l, vfs_dirent *de, vfs_inode *in, bool counts, const vfs_attr *attr)
{
    vfs_attr filled;
    strata_err *e = NULL;
    if (l->plus && attr) {
        de->attr = attr;
    } else if (l->plus) {
        e = vfs_fill_attr(in, &filled);
        de->attr = &filled;
    }
    if (e) {
        vfs_iput(l->v, in);
        return e;
    }
    bool taken = l->fn(l->ctx, de);
    /* FUSE counts a lookup for every readdirplus entry it receives,
     * except "." and "..". */
    if (in && taken && l->count_lookups && counts)
        vfs_iput_lookups(l->v, in, 1);
    else
        vfs_iput(l->v, in);
    if (taken)
        l->any = true;
    else
        l->stopped = true;
    return NULL;
}

/* Positions from..total-1 of the lower part; dfd >= 0 when the upper
 * directory may hide some of them. */
static strata_err *list_lower(lister *l, const vfs_children *c, uint64_t from, uint64_t total,
                              int dfd)
{
    vfs_inode *dir = l->dir;
    vfs_view *vw = dir->view;
    strata_err *e = NULL;
    for (uint64_t pos = from; !e && !l->stopped && pos < total; pos++) {
        vfs_dirent de = {.cookie = pos + 1};
        vfs_inode *in = NULL;
        const vfs_dent *d = NULL;
        vfs_attr leaf, *pre = NULL;
        if (pos < 2) {
            de.name = pos == 0 ? "." : "..";
            de.name_len = pos + 1;
            de.ino = pos == 0 ? dir->ino : vfs_parent_of(dir);
            de.type = S_IFDIR;
            in = l->dot[pos];
            l->dot[pos] = NULL;
            if (l->plus && !in)
                e = vfs_err(ESTALE, "look the directory up again", "readdir: no parent");
        } else {
            d = &c->d[pos - 2];
            de.name = d->name;
            de.name_len = d->name_len;
            if (vw->upper) {
                char nm[NAME_MAX + 1];
                memcpy(nm, d->name, d->name_len);
                nm[d->name_len] = '\0';
                if (dir == vw->root && !strcmp(nm, UPPER_WORK))
                    continue;
                struct stat st;
                int k = dfd >= 0 ? vfs_upper_probe(vw, dfd, nm, &st) : VFS_UP_NONE;
                if (k < 0)
                    e = vfs_err_sys(-k, "list inode %#llx", (unsigned long long)dir->ino);
                if (k != VFS_UP_NONE)
                    continue; /* hidden, or listed with the upper entries */
            }
            const manifest_entry *en = &vw->layers[d->layer]->entries[d->idx];
            de.ino = vfs_dent_ino(vw, d);
            de.type = vfs_entry_mode(en) & S_IFMT;
            /* Shown as the lower entry it is (the upper neither hides nor
             * shadows it): a file's attributes need no inode, unless the
             * caller counts lookups on it. An inode per entry, built and
             * evicted at once, was most of a large listing's cost. */
            if (l->plus && !l->count_lookups && vfs_lower_leaf_attr(vw, en, de.ino, &leaf))
                pre = &leaf;
            else if (l->plus)
                e = vfs_iget_child(l->v, dir, d, &in);
        }
        if (!e)
            e = emit(l, &de, in, d != NULL, pre);
        else
            vfs_iput(l->v, in);
    }
    return e;
}

static bool hidden_name(const vfs_inode *dir, const char *nm)
{
    return !strcmp(nm, ".") || !strcmp(nm, "..") ||
           !strncmp(nm, UPPER_WHITEOUT_PREFIX, strlen(UPPER_WHITEOUT_PREFIX)) ||
           (dir == dir->view->root && !strcmp(nm, UPPER_WORK));
}

/* The upper part, from the upper directory's offset off (0: its start). */
static strata_err *list_upper(lister *l, int dfd, uint64_t off, bool *eof)
{
    vfs_inode *dir = l->dir;
    vfs_view *vw = dir->view;
    int rfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;
    if (!d) {
        int err = errno;
        if (rfd >= 0)
            close(rfd);
        return vfs_err_sys(err, "list inode %#llx", (unsigned long long)dir->ino);
    }
    if (off)
        seekdir(d, (long)off);
    strata_err *e = NULL;
    struct dirent *ent;
    for (;;) {
        errno = 0;
        ent = readdir(d);
        if (!ent) {
            if (errno)
                e = vfs_err_sys(errno, "list inode %#llx", (unsigned long long)dir->ino);
            else
                *eof = true;
            break;
        }
        const char *nm = ent->d_name;
        if (hidden_name(dir, nm))
            continue;
        struct stat st;
        bool have_st = false;
        if (ent->d_type == DT_CHR || ent->d_type == DT_UNKNOWN) {
            if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue; /* gone meanwhile */
            have_st = true;
            if (vfs_is_whiteout(&st))
                continue;
        }
        vfs_dirent de = {
            .name = nm, .name_len = strlen(nm), .cookie = VFS_COOKIE_UPPER | (uint64_t)ent->d_off};
        vfs_inode *in = NULL;
        uint64_t num = l->plus ? 0 : vfs_ut_by_real(&vw->ut, ent->d_ino);
        if (num && ent->d_type != DT_UNKNOWN) {
            de.ino = num;
            de.type = DTTOIF(ent->d_type);
        } else {
            if (!have_st && fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            e = vfs_upper_child(l->v, dir, dfd, nm, de.name_len, &st, &in);
            if (e)
                break;
            de.ino = in->ino;
            de.type = st.st_mode & S_IFMT;
            if (!l->plus) {
                vfs_iput(l->v, in);
                in = NULL;
            }
        }
        e = emit(l, &de, in, true, NULL);
        if (e || l->stopped)
            break;
    }
    closedir(d);
    return e;
}

static strata_err *list(vfs *v, uint64_t ino, uint64_t cookie, bool plus, bool count_lookups,
                        vfs_dirent_fn fn, void *ctx, bool *eof)
{
    if (eof)
        *eof = false;
    vfs_inode *dir;
    strata_err *e = vfs_iget(v, ino, &dir);
    if (e)
        return e;
    if (!vfs_inode_is_dir(dir)) {
        vfs_iput(v, dir);
        return vfs_err(ENOTDIR, "list directories only", "readdir: inode %#llx is not a directory",
                       (unsigned long long)ino);
    }
    vfs_view *vw = dir->view;
    if (vw->slotdir) {
        e = vfs_slotdir_list(v, dir, cookie, plus, count_lookups, fn, ctx, eof);
        vfs_iput(v, dir);
        return e;
    }
    lister l = {
        .v = v, .dir = dir, .plus = plus, .count_lookups = count_lookups, .fn = fn, .ctx = ctx};
    /* ".." may have to be found from its number, which takes the locks of
     * directories above: never while this one's is held. */
    for (uint64_t i = cookie; plus && i < 2 && !e; i++)
        e = vfs_iget_in(v, dir->view, i == 0 ? dir->ino : vfs_parent_of(dir), &l.dot[i]);
    if (vw->upper)
        pthread_rwlock_rdlock(&dir->dlock);
    if (!e && vw->upper && vfs_is_dead(dir))
        e = vfs_err(ENOENT, "the directory was removed", "readdir: inode %#llx was removed",
                    (unsigned long long)ino);
    bool upper = !e && vfs_has_upper(dir);
    int dfd = -1;
    bool own = false;
    if (upper)
        e = vfs_upper_fd(dir, &dfd, &own);
    const vfs_children *c = NULL;
    if (!e && dir->nstack > 0)
        e = vfs_lower_children(vw, dir, &c);
    uint64_t total = 2 + (c ? c->n : 0);
    bool done = false;
    bool past = false; /* a cookie past every lower entry: nothing follows */
    if (!e && !(cookie & VFS_COOKIE_UPPER)) {
        past = cookie > total;
        e = list_lower(&l, c, cookie, total, dfd);
        cookie = 0;
    }
    if (!e && !l.stopped && upper && !past)
        e = list_upper(&l, dfd, cookie & ~VFS_COOKIE_UPPER, &done);
    else if (!e && !l.stopped)
        done = true;
    vfs_upper_fd_done(dfd, own);
    if (vw->upper)
        pthread_rwlock_unlock(&dir->dlock);
    vfs_iput(v, l.dot[0]);
    vfs_iput(v, l.dot[1]);
    if (e && l.any) {
        /* The caller already holds entries (and their lookups): let it
         * reply with those. The next call resumes here and meets the
         * error again, unless it was passing (out of memory). */
        strata_err_free(e);
        e = NULL;
    } else if (!e && eof) {
        *eof = done;
    }
    vfs_iput(v, dir);
    return e;
}

strata_err *vfs_readdir(vfs *v, uint64_t dir, uint64_t cookie, vfs_dirent_fn fn, void *ctx,
                        bool *eof)
{
    return list(v, dir, cookie, false, false, fn, ctx, eof);
}

strata_err *vfs_readdirplus(vfs *v, uint64_t dir, uint64_t cookie, bool count_lookups,
                            vfs_dirent_fn fn, void *ctx, bool *eof)
{
    return list(v, dir, cookie, true, count_lookups, fn, ctx, eof);
}
