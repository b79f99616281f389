/* Renaming: rename(2) and renameat2(2) with RENAME_NOREPLACE and
 * RENAME_EXCHANGE, over the upper filesystem's renameat2.
 *
 * The entries involved are copied up first (a directory: just itself, as
 * an empty directory merging with its lower ones), then the directories
 * are locked and the entries looked up again; if anything changed in
 * between, the whole thing starts over. So the rename itself only moves
 * upper entries, and keeps everyone's number.
 *
 * A directory keeps its contents wherever it goes:
 *  - one merged with lower directories gets a redirect, "/" + the lower
 *    path it came from, and its merge stack stays that path's (an
 *    overlayfs redirect_dir), so its lower contents move with it while the
 *    layers stay as they are;
 *  - one with nothing below it becomes opaque if it lands where a lower
 *    directory is, so nothing of that one shows through.
 * The old name gets a whiteout when the lower layers show it.
 *
 * Locks, as the kernel takes them: renames between two directories first
 * take the view's rename_mu, which keeps the tree's shape still while the
 * directories' order is found (ancestor first, else by number); then the
 * directories' dlocks; then a directory being replaced. The checks follow
 * the kernel's order, so the errnos match a local filesystem's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/path.h"
#include "layer/upper.h"
#include "vfs/vfs_internal.h"

#define RETRIES 100

/* Whether directory anc is dir or one of its ancestors (rename_mu held, so
 * directories stay where they are). */
static strata_err *is_ancestor(vfs *v, const vfs_inode *anc, const vfs_inode *dir, bool *yes)
{
    *yes = false;
    uint64_t cur = dir->ino, root = dir->view->root->ino;
    for (int depth = 0; depth <= PATH_TREE_MAX; depth++) {
        if (cur == anc->ino) {
            *yes = true;
            return NULL;
        }
        if (cur == root)
            return NULL;
        vfs_inode *in;
        strata_err *e = vfs_iget_in(v, dir->view, cur, &in);
        if (e)
            return e;
        cur = vfs_parent_of(in);
        vfs_iput(v, in);
    }
    return strata_err_new(STRATA_E_INTERNAL, NULL, "vfs: directory parents form a loop");
}

typedef struct rn {
    vfs_inode *d1, *d2;  /* the directories */
    const char *n1, *n2; /* NUL-terminated names */
    size_t l1, l2;
    unsigned flags;
    vfs_inode *s, *t; /* source, target (NULL: none) */
    int fd1, fd2;     /* the directories' upper descriptors */
    bool own1, own2;
    bool cross, mu, locked1, locked2, tlocked;
} rn;

static void unlock_all(rn *r)
{
    if (r->tlocked)
        pthread_rwlock_unlock(&r->t->dlock);
    if (r->locked2)
        vfs_dir_unlock(r->d2, r->fd2, r->own2);
    if (r->locked1)
        vfs_dir_unlock(r->d1, r->fd1, r->own1);
    if (r->mu)
        pthread_mutex_unlock(&r->d1->view->rename_mu);
    r->tlocked = r->locked1 = r->locked2 = r->mu = false;
}

static void put_entries(vfs *v, rn *r)
{
    vfs_iput(v, r->s);
    vfs_iput(v, r->t);
    r->s = r->t = NULL;
}

/* Locks the two directories in a deadlock-free order. */
static strata_err *lock_dirs(vfs *v, rn *r)
{
    if (!r->cross) {
        strata_err *e = vfs_dir_lock(v, r->d1, &r->fd1, &r->own1);
        r->locked1 = !e;
        r->fd2 = r->fd1;
        return e;
    }
    bool d1_above, d2_above;
    strata_err *e = is_ancestor(v, r->d1, r->d2, &d1_above);
    if (!e)
        e = is_ancestor(v, r->d2, r->d1, &d2_above);
    if (e)
        return e;
    bool first1 = d1_above || (!d2_above && r->d1->ino < r->d2->ino);
    if (first1) {
        e = vfs_dir_lock(v, r->d1, &r->fd1, &r->own1);
        r->locked1 = !e;
        if (!e) {
            e = vfs_dir_lock(v, r->d2, &r->fd2, &r->own2);
            r->locked2 = !e;
        }
    } else {
        e = vfs_dir_lock(v, r->d2, &r->fd2, &r->own2);
        r->locked2 = !e;
        if (!e) {
            e = vfs_dir_lock(v, r->d1, &r->fd1, &r->own1);
            r->locked1 = !e;
        }
    }
    return e;
}

/* Gets a directory that moves to (dir, name) ready for its new place. */
static strata_err *prepare_dir(vfs *v, vfs_inode *x, vfs_inode *dir, const char *name, size_t len)
{
    if (!vfs_inode_is_dir(x))
        return NULL;
    vfs_view *vw = x->view;
    int fd;
    bool own;
    strata_err *e = vfs_upper_fd(x, &fd, &own);
    if (e)
        return e;
    if (x->nstack > 0) {
        const manifest_entry *en = vfs_lref_entry(vw, x->stack[0]);
        char *origin = NULL;
        if (asprintf(&origin, "/%s", en->path) < 0)
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
        else
            e = vfs_set_redirect(vw, fd, origin);
        free(origin);
    } else if (vfs_lower_dir_at(vw, dir, name, len)) {
        e = vfs_set_opaque(vw, fd);
    }
    vfs_upper_fd_done(fd, own);
    (void)v;
    return e;
}

static strata_err *do_exchange(vfs *v, rn *r)
{
    vfs_view *vw = r->d1->view;
    strata_err *e = prepare_dir(v, r->s, r->d2, r->n2, r->l2);
    if (!e)
        e = prepare_dir(v, r->t, r->d1, r->n1, r->l1);
    if (!e && renameat2(r->fd1, r->n1, r->fd2, r->n2, RENAME_EXCHANGE) < 0)
        e = vfs_err_sys(errno, "exchange '%s' and '%s'", r->n1, r->n2);
    if (!e)
        e = vfs_ut_move(&vw->ut, r->s->ino, r->d1->ino, r->n1, r->l1, r->d2->ino, r->n2, r->l2);
    if (!e)
        e = vfs_ut_move(&vw->ut, r->t->ino, r->d2->ino, r->n2, r->l2, r->d1->ino, r->n1, r->l1);
    if (!e) {
        if (vfs_inode_is_dir(r->s))
            atomic_store(&r->s->parent, r->d2->ino);
        if (vfs_inode_is_dir(r->t))
            atomic_store(&r->t->parent, r->d1->ino);
    }
    return e;
}

static strata_err *do_rename(vfs *v, rn *r)
{
    vfs_view *vw = r->d1->view;
    bool wh = vfs_lower_has(v, r->d1, r->n1, r->l1);
    strata_err *e = prepare_dir(v, r->s, r->d2, r->n2, r->l2);
    bool t_upper = r->t && vfs_has_upper(r->t), t_more = false;
    if (!e && t_upper && vfs_inode_is_dir(r->t)) {
        /* Its upper may hold whiteouts, which rename(2) calls "not
         * empty": it goes first. We hold its parent's lock, so no one
         * sees the gap. */
        e = vfs_upper_remove(vw, r->fd2, r->n2, true, false);
    } else if (!e && t_upper) {
        /* Open handles of a replaced file go on working; it may keep
         * other names. */
        struct stat ts;
        t_more = fstatat(r->fd2, r->n2, &ts, AT_SYMLINK_NOFOLLOW) == 0 && ts.st_nlink > 1;
        vfs_upper_fd_keep(r->t);
    }
    struct stat st;
    int k = e ? 0 : vfs_upper_probe(vw, r->fd2, r->n2, &st);
    if (!e && k < 0)
        e = vfs_err_sys(-k, "rename to '%s'", r->n2);
    bool whited = false;
    if (!e && k == VFS_UP_WHITEOUT && vfs_inode_is_dir(r->s)) {
        /* A directory cannot replace a device: swap them, which leaves
         * the whiteout where the source was. */
        if (renameat2(r->fd1, r->n1, r->fd2, r->n2, RENAME_EXCHANGE) == 0) {
            if (!wh && unlinkat(r->fd1, r->n1, 0) < 0)
                e = vfs_err_sys(errno, "rename '%s'", r->n1);
            whited = true;
        } else if (errno != EINVAL || unlinkat(r->fd2, r->n2, 0) < 0) {
            e = vfs_err_sys(errno, "rename '%s' to '%s'", r->n1, r->n2);
        }
    }
    if (!e && !whited) {
        if (wh && !vw->wh_chardev)
            e = vfs_make_whiteout(vw, r->fd1, r->n1); /* the entry wins until it goes */
        bool atomic_wh = wh && vw->wh_chardev && vw->rename_whiteout;
        if (!e && atomic_wh && renameat2(r->fd1, r->n1, r->fd2, r->n2, RENAME_WHITEOUT) == 0)
            whited = true;
        else if (!e && renameat(r->fd1, r->n1, r->fd2, r->n2) < 0)
            e = vfs_err_sys(errno, "rename '%s' to '%s'", r->n1, r->n2);
        if (!e && wh && vw->wh_chardev && !whited)
            e = vfs_make_whiteout(vw, r->fd1, r->n1);
    }
    if (!e && k == VFS_UP_WHFILE) {
        char wn[NAME_MAX + 8];
        snprintf(wn, sizeof(wn), "%s%s", UPPER_WHITEOUT_PREFIX, r->n2);
        unlinkat(r->fd2, wn, 0);
    }
    if (e)
        return e;
    if (r->t) {
        if (t_upper)
            vfs_ut_del_loc(&vw->ut, r->t->ino, r->d2->ino, r->n2, r->l2, t_more);
        if (!t_more)
            atomic_store(&r->t->dead, true);
    }
    e = vfs_ut_move(&vw->ut, r->s->ino, r->d1->ino, r->n1, r->l1, r->d2->ino, r->n2, r->l2);
    if (!e && vfs_inode_is_dir(r->s))
        atomic_store(&r->s->parent, r->d2->ino);
    return e;
}

/* One attempt; *again says the entries changed before the locks were
 * taken, and it must start over. */
static strata_err *attempt(vfs *v, rn *r, bool *again)
{
    *again = false;
    vfs_view *vw = r->d1->view;
    if (r->cross) {
        pthread_mutex_lock(&vw->rename_mu);
        r->mu = true;
    }
    strata_err *e = vfs_child_get(v, r->d1, r->n1, r->l1, false, &r->s);
    if (e)
        return e;
    e = vfs_child_get(v, r->d2, r->n2, r->l2, false, &r->t);
    if (e && vfs_errno(e) == ENOENT) {
        strata_err_free(e);
        e = NULL;
        r->t = NULL;
    }
    if (e)
        return e;
    bool ex = r->flags & VFS_RENAME_EXCHANGE;
    if ((r->flags & VFS_RENAME_NOREPLACE) && r->t)
        return vfs_err(EEXIST, "choose another name, or rename without RENAME_NOREPLACE",
                       "rename to '%s': it exists", r->n2);
    if (ex && !r->t)
        return vfs_err(ENOENT, "both names must exist to exchange them",
                       "exchange with '%s': no such entry", r->n2);
    if (r->cross) {
        bool yes = false;
        if (vfs_inode_is_dir(r->s))
            e = is_ancestor(v, r->s, r->d2, &yes);
        if (!e && yes)
            return vfs_err(EINVAL, "a directory cannot move into itself",
                           "rename '%s': the target is inside it", r->n1);
        if (!e && r->t && vfs_inode_is_dir(r->t))
            e = is_ancestor(v, r->t, r->d1, &yes);
        if (!e && yes)
            return vfs_err(ex ? EINVAL : ENOTEMPTY, "a directory cannot replace its own ancestor",
                           "rename to '%s': the source is inside it", r->n2);
        if (e)
            return e;
    }
    if (r->t && r->t->ino == r->s->ino)
        return NULL; /* the same entry (or two links of one file): nothing to do */
    if (!ex && r->t && vfs_inode_is_dir(r->s) && !vfs_inode_is_dir(r->t))
        return vfs_err(ENOTDIR, "a directory can replace only a directory",
                       "rename '%s' over '%s': not a directory", r->n1, r->n2);
    if (!ex && r->t && !vfs_inode_is_dir(r->s) && vfs_inode_is_dir(r->t))
        return vfs_err(EISDIR, "only a directory can replace a directory",
                       "rename '%s' over '%s': it is a directory", r->n1, r->n2);
    e = vfs_copy_up(v, r->d2, UINT64_MAX);
    if (!e)
        e = vfs_copy_up(v, r->s, UINT64_MAX);
    if (!e && ex)
        e = vfs_copy_up(v, r->t, UINT64_MAX);
    if (!e)
        e = lock_dirs(v, r);
    if (!e && r->t && vfs_inode_is_dir(r->t) && !ex) {
        pthread_rwlock_wrlock(&r->t->dlock);
        r->tlocked = true;
    }
    if (e)
        return e;
    /* The same entries under the locks? */
    vfs_inode *s2 = NULL, *t2 = NULL;
    e = vfs_child_get(v, r->d1, r->n1, r->l1, true, &s2);
    if (!e) {
        e = vfs_child_get(v, r->d2, r->n2, r->l2, true, &t2);
        if (e && vfs_errno(e) == ENOENT) {
            strata_err_free(e);
            e = NULL;
        }
    }
    bool same = !e && s2 == r->s && t2 == r->t;
    vfs_iput(v, s2);
    vfs_iput(v, t2);
    if (e || !same) {
        strata_err_free(e);
        *again = true;
        return NULL;
    }
    if (r->tlocked) {
        bool empty;
        e = vfs_dir_empty(v, r->t, &empty);
        if (!e && !empty)
            return vfs_err(ENOTEMPTY, "empty the directory first", "rename over '%s': not empty",
                           r->n2);
        if (e)
            return e;
    }
    e = ex ? do_exchange(v, r) : do_rename(v, r);
    if (!e) {
        vfs_ut_bump(&vw->ut, r->d1->ino);
        if (r->cross)
            vfs_ut_bump(&vw->ut, r->d2->ino);
    }
    /* Before the locks go: a derivation that waited on them retries. */
    atomic_fetch_add(&vw->renames, 1);
    return e;
}

/* The new name must be one an entry may have; the old one is whatever it
 * is (a reserved one is simply not found). */
static strata_err *check_name(const vfs_inode *dir, const char *name, size_t len, bool old)
{
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return vfs_err(EBUSY, "rename entries, not '.' or '..'", "rename '%.*s'", (int)len, name);
    if (old && (len == 0 || memchr(name, '/', len) || memchr(name, '\0', len)))
        return vfs_err(EINVAL, "pass a single path component", "rename: invalid name '%.*s'",
                       (int)len, name);
    return old ? NULL : vfs_check_new_name(dir, name, len, "rename");
}

strata_err *vfs_rename(vfs *v, uint64_t parent, const char *name, size_t len, uint64_t newparent,
                       const char *newname, size_t newlen, unsigned flags)
{
    if ((flags & ~(VFS_RENAME_NOREPLACE | VFS_RENAME_EXCHANGE)) ||
        flags == (VFS_RENAME_NOREPLACE | VFS_RENAME_EXCHANGE))
        return vfs_err(EINVAL, "pass 0, RENAME_NOREPLACE or RENAME_EXCHANGE", "rename: flags %#x",
                       flags);
    rn r = {.flags = flags, .l1 = len, .l2 = newlen, .fd1 = -1, .fd2 = -1};
    strata_err *e = vfs_iget(v, parent, &r.d1);
    if (!e)
        e = vfs_iget(v, newparent, &r.d2);
    if (!e && (!vfs_inode_is_dir(r.d1) || !vfs_inode_is_dir(r.d2)))
        e = vfs_err(ENOTDIR, "rename entries of directories", "rename: not a directory");
    if (!e)
        e = vfs_need_upper(r.d1->view, "rename");
    if (!e && r.d1->view != r.d2->view)
        e = vfs_err(EXDEV, "copy between slots, then remove the source",
                    "rename: the directories are in different slots");
    if (!e && (len > PATH_NAME_MAX || newlen > PATH_NAME_MAX))
        e = vfs_err(ENAMETOOLONG, "names are at most 255 bytes", "rename: name too long");
    char n1[NAME_MAX + 1], n2[NAME_MAX + 1];
    if (!e)
        e = check_name(r.d1, name, len, true);
    if (!e)
        e = check_name(r.d2, newname, newlen, false);
    if (e) {
        vfs_iput(v, r.d1);
        vfs_iput(v, r.d2);
        return e;
    }
    memcpy(n1, name, len);
    n1[len] = '\0';
    memcpy(n2, newname, newlen);
    n2[newlen] = '\0';
    r.n1 = n1;
    r.n2 = n2;
    r.cross = r.d1 != r.d2;
    bool again = true;
    for (int i = 0; i < RETRIES && again; i++) {
        e = attempt(v, &r, &again);
        unlock_all(&r);
        put_entries(v, &r);
        if (e)
            break;
    }
    if (!e && again)
        e = vfs_err(EBUSY, "try again", "rename '%s': the directories keep changing", n1);
    vfs_iput(v, r.d1);
    vfs_iput(v, r.d2);
    return e;
}
