/* Removing entries: unlink and rmdir, and the merged-view emptiness test
 * that rmdir and rename share.
 *
 * A name the lower layers show cannot really go away, since lower layers
 * never change: removing it leaves a whiteout in the upper directory (a
 * 0/0 character device, or a ".wh.<name>" file where mknod is refused).
 * An upper entry over it is replaced by the whiteout in one rename where
 * the filesystem can (RENAME_WHITEOUT), else in two steps under the
 * parent's lock. A name only the upper directory has just goes.
 *
 * An unlinked file may still be open, or asked about by number: its inode
 * keeps its upper descriptor, so reads, writes and getattr go on until it
 * is released, as on any POSIX filesystem. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/path.h"
#include "layer/upper.h"
#include "vfs/vfs_internal.h"

static bool is_whname(const char *name)
{
    return strncmp(name, UPPER_WHITEOUT_PREFIX, strlen(UPPER_WHITEOUT_PREFIX)) == 0;
}

strata_err *vfs_dir_empty(vfs *v, vfs_inode *dir, bool *empty)
{
    (void)v;
    *empty = true;
    vfs_view *vw = dir->view;
    int dfd = -1;
    bool own = false;
    strata_err *e = NULL;
    if (vfs_has_upper(dir)) {
        e = vfs_upper_fd(dir, &dfd, &own);
        if (e)
            return e;
        int rfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;
        if (!d) {
            e = vfs_err_sys(errno, "read directory inode %#llx", (unsigned long long)dir->ino);
            if (rfd >= 0)
                close(rfd);
        }
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            const char *nm = de->d_name;
            if (!strcmp(nm, ".") || !strcmp(nm, "..") || is_whname(nm))
                continue;
            if (dir == vw->root && !strcmp(nm, UPPER_WORK))
                continue;
            struct stat st;
            if ((de->d_type == DT_CHR || de->d_type == DT_UNKNOWN) &&
                fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0 && vfs_is_whiteout(&st))
                continue;
            *empty = false;
            break;
        }
        if (d)
            closedir(d);
    }
    if (!e && *empty && dir->nstack > 0) {
        const vfs_children *c;
        e = vfs_lower_children(vw, dir, &c);
        for (uint32_t i = 0; !e && i < c->n && *empty; i++) {
            if (dfd < 0) {
                *empty = false;
                break;
            }
            char nm[NAME_MAX + 1];
            memcpy(nm, c->d[i].name, c->d[i].name_len);
            nm[c->d[i].name_len] = '\0';
            if (dir == vw->root && !strcmp(nm, UPPER_WORK))
                continue;
            struct stat st;
            int k = vfs_upper_probe(vw, dfd, nm, &st);
            if (k < 0)
                e = vfs_err_sys(-k, "read directory inode %#llx", (unsigned long long)dir->ino);
            else if (k == VFS_UP_NONE || k == VFS_UP_ENTRY)
                *empty = false;
        }
    }
    vfs_upper_fd_done(dfd, own);
    return e;
}

/* The common start of unlink and rmdir: the directory locked, the victim
 * found. */
static strata_err *begin(vfs *v, uint64_t parent, const char *name, size_t len, const char *op,
                         vfs_inode **dir, int *dfd, bool *own, vfs_inode **victim)
{
    *dir = *victim = NULL;
    if (len > PATH_NAME_MAX)
        return vfs_err(ENAMETOOLONG, "names are at most 255 bytes", "%s: name too long", op);
    if (len == 0 || memchr(name, '/', len) || memchr(name, '\0', len))
        return vfs_err(EINVAL, "pass a single path component", "%s: invalid name '%.*s'", op,
                       (int)len, name);
    strata_err *e = vfs_iget(v, parent, dir);
    if (e)
        return e;
    if (!vfs_inode_is_dir(*dir))
        e = vfs_err(ENOTDIR, "remove entries of directories only",
                    "%s: inode %#llx is not a directory", op, (unsigned long long)parent);
    if (!e)
        e = vfs_need_upper((*dir)->view, op);
    if (!e)
        e = vfs_copy_up(v, *dir, UINT64_MAX);
    if (!e)
        e = vfs_dir_lock(v, *dir, dfd, own);
    if (!e) {
        e = vfs_child_get(v, *dir, name, len, true, victim);
        if (e)
            vfs_dir_unlock(*dir, *dfd, *own);
    }
    if (e) {
        vfs_iput(v, *dir);
        *dir = NULL;
    }
    return e;
}

strata_err *vfs_unlink(vfs *v, uint64_t parent, const char *name, size_t len)
{
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return vfs_err(EISDIR, "remove directories with rmdir", "unlink '%.*s'", (int)len, name);
    vfs_inode *dir, *victim;
    int dfd;
    bool own;
    strata_err *e = begin(v, parent, name, len, "unlink", &dir, &dfd, &own, &victim);
    if (e)
        return e;
    vfs_view *vw = dir->view;
    char nm[NAME_MAX + 1];
    memcpy(nm, name, len);
    nm[len] = '\0';
    if (vfs_inode_is_dir(victim))
        e = vfs_err(EISDIR, "remove directories with rmdir", "unlink '%s': it is a directory", nm);
    bool wh = !e && vfs_lower_has(v, dir, name, len);
    if (!e && vfs_has_upper(victim)) {
        /* Other names may remain, also ones the table has not met. */
        struct stat st;
        bool more = fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink > 1;
        vfs_upper_fd_keep(victim);
        e = vfs_upper_remove(vw, dfd, nm, false, wh);
        if (!e && vfs_ut_del_loc(&vw->ut, victim->ino, dir->ino, name, len, more) == 0 && !more)
            atomic_store(&victim->dead, true);
    } else if (!e) {
        e = vfs_make_whiteout(vw, dfd, nm);
        if (!e)
            atomic_store(&victim->dead, true);
    }
    if (!e)
        vfs_ut_bump(&vw->ut, dir->ino);
    vfs_dir_unlock(dir, dfd, own);
    vfs_iput(v, victim);
    vfs_iput(v, dir);
    return e;
}

strata_err *vfs_rmdir(vfs *v, uint64_t parent, const char *name, size_t len)
{
    if (len == 1 && name[0] == '.')
        return vfs_err(EINVAL, "remove a directory from its parent", "rmdir '.'");
    if (len == 2 && name[0] == '.' && name[1] == '.')
        return vfs_err(ENOTEMPTY, "remove a directory from its parent", "rmdir '..'");
    vfs_inode *dir, *victim;
    int dfd;
    bool own;
    strata_err *e = begin(v, parent, name, len, "rmdir", &dir, &dfd, &own, &victim);
    if (e)
        return e;
    vfs_view *vw = dir->view;
    char nm[NAME_MAX + 1];
    memcpy(nm, name, len);
    nm[len] = '\0';
    bool locked = false;
    if (!vfs_inode_is_dir(victim)) {
        e = vfs_err(ENOTDIR, "remove files with unlink", "rmdir '%s': not a directory", nm);
    } else {
        /* Parent before child: no one makes entries in it meanwhile. */
        pthread_rwlock_wrlock(&victim->dlock);
        locked = true;
        bool empty;
        e = vfs_dir_empty(v, victim, &empty);
        if (!e && !empty)
            e = vfs_err(ENOTEMPTY, "remove what is inside first", "rmdir '%s': not empty", nm);
    }
    bool wh = !e && vfs_lower_has(v, dir, name, len);
    if (!e && vfs_has_upper(victim)) {
        e = vfs_upper_remove(vw, dfd, nm, true, wh);
        if (!e)
            vfs_ut_del_loc(&vw->ut, victim->ino, dir->ino, name, len, false);
    } else if (!e) {
        e = vfs_make_whiteout(vw, dfd, nm);
    }
    if (!e) {
        atomic_store(&victim->dead, true);
        vfs_ut_bump(&vw->ut, dir->ino);
    }
    if (locked)
        pthread_rwlock_unlock(&victim->dlock);
    vfs_dir_unlock(dir, dfd, own);
    vfs_iput(v, victim);
    vfs_iput(v, dir);
    return e;
}
