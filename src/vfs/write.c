/* Writing content: through a handle, by inode number (NFS, which has no
 * open), and making it durable (fsync of files and directories).
 *
 * Writes go straight to the upper file with pwrite; the vfs keeps no
 * buffer, so there is nothing to flush and a server crash loses nothing
 * already written. A write by number reopens the upper file each time,
 * which is what a stateless protocol costs. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "vfs/vfs_internal.h"

static strata_err *pwrite_all(int fd, const void *buf, size_t len, uint64_t off, size_t *written,
                              uint64_t ino)
{
    *written = 0;
    while (*written < len) {
        ssize_t w =
            pwrite(fd, (const char *)buf + *written, len - *written, (off_t)(off + *written));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            if (*written > 0)
                return NULL; /* a short write, as write(2) reports it */
            return vfs_err_sys(errno, "write inode %#llx", (unsigned long long)ino);
        }
        *written += (size_t)w;
    }
    return NULL;
}

strata_err *vfs_write(vfs *v, vfs_file *f, const void *buf, size_t len, uint64_t off,
                      size_t *written)
{
    (void)v;
    *written = 0;
    if (vfs_view_gone(f->in->view))
        return vfs_err(ESTALE, "open the file again", "write: inode %#llx: its slot was detached",
                       (unsigned long long)f->in->ino);
    int fd = atomic_load_explicit(&f->fd, memory_order_acquire);
    if ((f->flags & O_ACCMODE) == O_RDONLY || fd < 0)
        return vfs_err(EBADF, "open the file for writing",
                       "write: handle of inode %#llx is not open for writing",
                       (unsigned long long)f->in->ino);
    return pwrite_all(fd, buf, len, off, written, f->in->ino);
}

strata_err *vfs_write_ino(vfs *v, uint64_t ino, const void *buf, size_t len, uint64_t off,
                          size_t *written)
{
    *written = 0;
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    e = vfs_need_upper(in->view, "write");
    if (!e && !S_ISREG(in->mode))
        e = vfs_err(vfs_inode_is_dir(in) ? EISDIR : EINVAL, "write regular files only",
                    "write: inode %#llx is not a regular file", (unsigned long long)ino);
    if (!e)
        e = vfs_copy_up(v, in, UINT64_MAX);
    int fd = -1;
    if (!e)
        e = vfs_upper_reopen(in, O_WRONLY, &fd);
    if (!e) {
        e = pwrite_all(fd, buf, len, off, written, ino);
        close(fd);
    }
    vfs_iput(v, in);
    return e;
}

strata_err *vfs_fsync(vfs *v, uint64_t ino, vfs_file *f, bool datasync)
{
    if (f && vfs_view_gone(f->in->view))
        return vfs_err(ESTALE, "open the file again", "fsync: inode %#llx: its slot was detached",
                       (unsigned long long)f->in->ino);
    int fd = f ? atomic_load(&f->fd) : -1;
    if (fd >= 0) {
        int r = datasync ? fdatasync(fd) : fsync(fd);
        return r < 0 ? vfs_err_sys(errno, "fsync inode %#llx", (unsigned long long)ino) : NULL;
    }
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    if (vfs_has_upper(in) && (S_ISREG(in->mode) || S_ISDIR(in->mode))) {
        /* A directory reopened read-only can be synced too. */
        e = vfs_upper_reopen(in, O_RDONLY, &fd);
        if (!e) {
            if ((datasync ? fdatasync(fd) : fsync(fd)) < 0 && errno != EINVAL)
                e = vfs_err_sys(errno, "fsync inode %#llx", (unsigned long long)ino);
            close(fd);
        }
    }
    /* A lower-only entry lives in the store, which is durable already. */
    vfs_iput(v, in);
    return e;
}
