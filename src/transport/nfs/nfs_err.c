/* vfs errors as NFSv3 statuses: one table, in the order of RFC 1813's
 * list, so that every status a server can send is decided here. */
#include <errno.h>
#include <stddef.h>

#include "transport/nfs/nfs_err.h"
#include "vfs/vfs.h"

static const struct {
    int err;
    uint32_t status;
} nfs_err_table[] = {
    {EPERM, 1},         /* NFS3ERR_PERM: not the owner */
    {ENOENT, 2},        /* NFS3ERR_NOENT */
    {EIO, 5},           /* NFS3ERR_IO */
    {ENXIO, 6},         /* NFS3ERR_NXIO */
    {EACCES, 13},       /* NFS3ERR_ACCES */
    {EEXIST, 17},       /* NFS3ERR_EXIST */
    {EXDEV, 18},        /* NFS3ERR_XDEV: a rename or link across slots */
    {ENODEV, 19},       /* NFS3ERR_NODEV */
    {ENOTDIR, 20},      /* NFS3ERR_NOTDIR */
    {EISDIR, 21},       /* NFS3ERR_ISDIR */
    {EINVAL, 22},       /* NFS3ERR_INVAL */
    {EFBIG, 27},        /* NFS3ERR_FBIG */
    {ENOSPC, 28},       /* NFS3ERR_NOSPC */
    {EROFS, 30},        /* NFS3ERR_ROFS */
    {EMLINK, 31},       /* NFS3ERR_MLINK */
    {ENAMETOOLONG, 63}, /* NFS3ERR_NAMETOOLONG */
    {ENOTEMPTY, 66},    /* NFS3ERR_NOTEMPTY */
    {EDQUOT, 69},       /* NFS3ERR_DQUOT */
    {ESTALE, 70},       /* NFS3ERR_STALE: a detached slot, a forgotten inode */
    {EBADF, 70},        /* a handle the vfs no longer knows: stale too */
    {ENOTSUP, 10004},   /* NFS3ERR_NOTSUPP */
    {ENOSYS, 10004},    /* NFS3ERR_NOTSUPP */
    {ENOMEM, 10006},    /* NFS3ERR_SERVERFAULT: the server, not the file */
    {EAGAIN, 10008},    /* NFS3ERR_JUKEBOX: try again later */
    {EBUSY, 10008},     /* NFS3ERR_JUKEBOX */
};

uint32_t nfs_err_from_errno(int err)
{
    if (err == 0)
        return 0;
    for (size_t i = 0; i < sizeof(nfs_err_table) / sizeof(nfs_err_table[0]); i++)
        if (nfs_err_table[i].err == err)
            return nfs_err_table[i].status;
    return 5; /* NFS3ERR_IO: ELOOP, EOVERFLOW, ... have no word of their own */
}

uint32_t nfs_err_take(strata_err *e)
{
    if (!e)
        return 0;
    int err = vfs_errno(e);
    strata_err_free(e);
    return nfs_err_from_errno(err > 0 ? err : EIO);
}
