/* Changing attributes: size, mode, owner and times, on the upper copy of
 * an entry (a lower one is copied up first; a truncation copies only what
 * it keeps).
 *
 * The changes go through the entry's O_PATH descriptor (fchownat and
 * utimensat with AT_EMPTY_PATH, chmod and reopening through
 * /proc/self/fd), so a rename of a directory above cannot make them land
 * on another entry. The owner rules are checked here, for the caller the
 * transport names, because NFS has no kernel to check them. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "vfs/vfs_internal.h"

/* The usual write-permission check against the entry's attributes. */
static bool may_write(const vfs_attr *a, const vfs_cred *c)
{
    if (c->uid == 0)
        return true;
    unsigned bits = c->uid == a->uid ? a->mode >> 6 : c->gid == a->gid ? a->mode >> 3 : a->mode;
    return bits & 02;
}

static strata_err *check_rules(const vfs_attr *a, const vfs_setattr_in *sa, const vfs_cred *c,
                               bool handle_writes)
{
    bool root = c->uid == 0, owner = c->uid == a->uid;
    const char *hint = "only the owner (or root) may do this";
    if ((sa->valid & VFS_SET_MODE) && !root && !owner)
        return vfs_err(EPERM, hint, "chmod inode %#llx: not the owner", (unsigned long long)a->ino);
    if ((sa->valid & VFS_SET_UID) && sa->uid != a->uid && !root)
        return vfs_err(EPERM, "only root may give an entry away", "chown inode %#llx",
                       (unsigned long long)a->ino);
    if ((sa->valid & VFS_SET_GID) && sa->gid != a->gid && !root && !(owner && sa->gid == c->gid))
        return vfs_err(EPERM, hint, "chgrp inode %#llx", (unsigned long long)a->ino);
    if ((sa->valid & (VFS_SET_ATIME | VFS_SET_MTIME)) && !root && !owner)
        return vfs_err(EPERM, hint, "set times of inode %#llx: not the owner",
                       (unsigned long long)a->ino);
    if ((sa->valid & (VFS_SET_ATIME_NOW | VFS_SET_MTIME_NOW)) && !owner && !may_write(a, c))
        return vfs_err(EACCES, "ask for write permission", "touch inode %#llx",
                       (unsigned long long)a->ino);
    if ((sa->valid & VFS_SET_SIZE) && !handle_writes && !may_write(a, c))
        return vfs_err(EACCES, "ask for write permission", "truncate inode %#llx",
                       (unsigned long long)a->ino);
    return NULL;
}

static strata_err *truncate_to(vfs_inode *in, vfs_file *f, uint64_t size)
{
    int fd = f ? atomic_load(&f->fd) : -1;
    bool mine = false;
    if (fd < 0 || (f->flags & O_ACCMODE) == O_RDONLY) {
        strata_err *e = vfs_upper_reopen(in, O_WRONLY, &fd);
        if (e)
            return e;
        mine = true;
    }
    strata_err *e = NULL;
    if (ftruncate(fd, (off_t)size) < 0)
        e = vfs_err_sys(errno, "truncate inode %#llx", (unsigned long long)in->ino);
    if (mine)
        close(fd);
    return e;
}

static strata_err *apply(vfs_inode *in, vfs_file *f, const vfs_setattr_in *sa)
{
    strata_err *e = NULL;
    if (sa->valid & VFS_SET_SIZE)
        e = truncate_to(in, f, sa->size);
    int fd;
    bool own;
    if (!e)
        e = vfs_upper_fd(in, &fd, &own);
    if (e)
        return e;
    uint64_t ino = in->ino;
    char p[32];
    vfs_fd_path(fd, p);
    /* The owner first: chown clears set-id bits that a chmod asks for. */
    if (sa->valid & (VFS_SET_UID | VFS_SET_GID)) {
        uid_t u = (sa->valid & VFS_SET_UID) ? (uid_t)sa->uid : (uid_t)-1;
        gid_t g = (sa->valid & VFS_SET_GID) ? (gid_t)sa->gid : (gid_t)-1;
        if (fchownat(fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
            e = vfs_err_sys(errno, "chown inode %#llx", (unsigned long long)ino);
    }
    if (!e && (sa->valid & VFS_SET_MODE)) {
        if (S_ISLNK(in->mode))
            e = vfs_err(EOPNOTSUPP, "symbolic links have no mode of their own",
                        "chmod inode %#llx: a symbolic link", (unsigned long long)ino);
        else if (chmod(p, sa->mode & 07777) < 0)
            e = vfs_err_sys(errno, "chmod inode %#llx", (unsigned long long)ino);
    }
    unsigned tv = VFS_SET_ATIME | VFS_SET_MTIME | VFS_SET_ATIME_NOW | VFS_SET_MTIME_NOW;
    if (!e && (sa->valid & tv)) {
        struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
        if (sa->valid & VFS_SET_ATIME_NOW)
            ts[0].tv_nsec = UTIME_NOW;
        else if (sa->valid & VFS_SET_ATIME)
            ts[0] = (struct timespec){.tv_sec = sa->atime.sec, .tv_nsec = sa->atime.nsec};
        if (sa->valid & VFS_SET_MTIME_NOW)
            ts[1].tv_nsec = UTIME_NOW;
        else if (sa->valid & VFS_SET_MTIME)
            ts[1] = (struct timespec){.tv_sec = sa->mtime.sec, .tv_nsec = sa->mtime.nsec};
        if (utimensat(fd, "", ts, AT_EMPTY_PATH) < 0 &&
            (errno != EINVAL || S_ISLNK(in->mode) || utimensat(AT_FDCWD, p, ts, 0) < 0))
            e = vfs_err_sys(errno, "set times of inode %#llx", (unsigned long long)ino);
    }
    vfs_upper_fd_done(fd, own);
    return e;
}

strata_err *vfs_setattr(vfs *v, uint64_t ino, vfs_file *f, const vfs_setattr_in *sa,
                        const vfs_cred *cred, vfs_attr *out)
{
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    if (f && f->in->view != in->view) {
        vfs_iput(v, in);
        return vfs_err(ESTALE, "open the file again", "setattr: inode %#llx: its slot was detached",
                       (unsigned long long)ino);
    }
    vfs_attr a;
    e = vfs_fill_attr(in, &a);
    if (!e && sa->valid)
        e = vfs_need_upper(in->view, "setattr");
    if (!e && (sa->valid & VFS_SET_SIZE) && !S_ISREG(in->mode))
        e = vfs_err(S_ISDIR(in->mode) ? EISDIR : EINVAL, "truncate regular files only",
                    "truncate inode %#llx: not a regular file", (unsigned long long)ino);
    bool handle_writes = f && (f->flags & O_ACCMODE) != O_RDONLY;
    if (!e && sa->valid)
        e = check_rules(&a, sa, cred, handle_writes);
    if (!e && sa->valid)
        e = vfs_copy_up(v, in, (sa->valid & VFS_SET_SIZE) ? sa->size : UINT64_MAX);
    if (!e && sa->valid)
        e = apply(in, f, sa);
    if (!e && out)
        e = vfs_fill_attr(in, out);
    vfs_iput(v, in);
    return e;
}
