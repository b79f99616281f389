/* Extended attributes: the real ones of upper entries; lower-only entries
 * have none (setting one copies the entry up).
 *
 * The overlay's own attributes (trusted.overlay.*, user.overlay.*: opaque
 * and redirect marks that layer_capture reads) are never shown or
 * changeable through the view, as overlayfs hides its own. Calls go
 * through the entry's O_PATH descriptor as /proc/self/fd/N, which reaches
 * the entry itself, symbolic links included. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "vfs/vfs_internal.h"

#define PRIVATE_TRUSTED "trusted.overlay."
#define PRIVATE_USER    "user.overlay."

static bool private_name(const char *name)
{
    return strncmp(name, PRIVATE_TRUSTED, strlen(PRIVATE_TRUSTED)) == 0 ||
           strncmp(name, PRIVATE_USER, strlen(PRIVATE_USER)) == 0;
}

static strata_err *nodata(const char *name)
{
    return vfs_err(ENODATA, "list the entry's attributes (listxattr)", "xattr %s: not set", name);
}

strata_err *vfs_getxattr(vfs *v, uint64_t ino, const char *name, void *buf, size_t size,
                         size_t *len)
{
    *len = 0;
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    if (private_name(name) || !vfs_has_upper(in)) {
        e = nodata(name);
    } else {
        int fd;
        bool own;
        e = vfs_upper_fd(in, &fd, &own);
        if (!e) {
            char p[32];
            vfs_fd_path(fd, p);
            ssize_t n = getxattr(p, name, size ? buf : NULL, size);
            if (n < 0)
                e = vfs_err_sys(errno, "getxattr %s of inode %#llx", name, (unsigned long long)ino);
            else
                *len = (size_t)n;
            vfs_upper_fd_done(fd, own);
        }
    }
    vfs_iput(v, in);
    return e;
}

strata_err *vfs_setxattr(vfs *v, uint64_t ino, const char *name, const void *value, size_t size,
                         int flags)
{
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    if (private_name(name))
        e = vfs_err(EPERM, "choose a name outside trusted.overlay.* and user.overlay.*",
                    "setxattr %s: the overlay's own attributes cannot be set", name);
    if (!e)
        e = vfs_need_upper(in->view, "setxattr");
    if (!e)
        e = vfs_copy_up(v, in, UINT64_MAX);
    int fd;
    bool own;
    if (!e)
        e = vfs_upper_fd(in, &fd, &own);
    if (!e) {
        char p[32];
        vfs_fd_path(fd, p);
        if (setxattr(p, name, value, size, flags) < 0)
            e = vfs_err_sys(errno, "setxattr %s of inode %#llx", name, (unsigned long long)ino);
        vfs_upper_fd_done(fd, own);
    }
    vfs_iput(v, in);
    return e;
}

/* All the entry's names but the private ones, malloc'd. */
static strata_err *list_all(vfs_inode *in, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd;
    bool own;
    strata_err *e = vfs_upper_fd(in, &fd, &own);
    if (e)
        return e;
    char p[32];
    vfs_fd_path(fd, p);
    char *buf = NULL;
    ssize_t n;
    for (;;) {
        n = listxattr(p, NULL, 0);
        if (n <= 0)
            break;
        char *nb = realloc(buf, (size_t)n);
        if (!nb) {
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory listing xattrs");
            break;
        }
        buf = nb;
        ssize_t m = listxattr(p, buf, (size_t)n);
        if (m >= 0) {
            n = m;
            break;
        }
        if (errno != ERANGE) {
            n = -1;
            break;
        }
        /* It grew meanwhile: again. */
    }
    if (!e && n < 0)
        e = vfs_err_sys(errno, "listxattr of inode %#llx", (unsigned long long)in->ino);
    vfs_upper_fd_done(fd, own);
    if (e) {
        free(buf);
        return e;
    }
    size_t w = 0;
    for (size_t r = 0; buf && r < (size_t)n;) {
        size_t l = strlen(buf + r) + 1;
        if (!private_name(buf + r)) {
            memmove(buf + w, buf + r, l);
            w += l;
        }
        r += l;
    }
    *out = buf;
    *len = w;
    return NULL;
}

strata_err *vfs_listxattr(vfs *v, uint64_t ino, char *buf, size_t size, size_t *len)
{
    *len = 0;
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    char *all = NULL;
    size_t n = 0;
    if (vfs_has_upper(in))
        e = list_all(in, &all, &n);
    if (!e && size && n > size)
        e = vfs_err(ERANGE, "ask for the length first (size 0)",
                    "listxattr of inode %#llx: %zu bytes, the buffer %zu", (unsigned long long)ino,
                    n, size);
    if (!e) {
        if (size && n)
            memcpy(buf, all, n);
        *len = n;
    }
    free(all);
    vfs_iput(v, in);
    return e;
}

strata_err *vfs_removexattr(vfs *v, uint64_t ino, const char *name)
{
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    if (private_name(name) || !vfs_has_upper(in))
        e = nodata(name);
    if (!e)
        e = vfs_need_upper(in->view, "removexattr");
    int fd;
    bool own;
    if (!e)
        e = vfs_upper_fd(in, &fd, &own);
    if (!e) {
        char p[32];
        vfs_fd_path(fd, p);
        if (removexattr(p, name) < 0)
            e = vfs_err_sys(errno, "removexattr %s of inode %#llx", name, (unsigned long long)ino);
        vfs_upper_fd_done(fd, own);
    }
    vfs_iput(v, in);
    return e;
}
