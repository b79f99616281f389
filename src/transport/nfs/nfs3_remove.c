/* NFSv3 procedures that take names away or add one to an existing entry:
 * REMOVE, RMDIR, RENAME and LINK, over vfs_unlink, vfs_rmdir, vfs_rename
 * and vfs_link. The vfs keeps the lower layers as they are (whiteouts,
 * redirects and copy-ups in the upper directory) and chooses the errnos;
 * this file checks the caller's permission on the directories, which no
 * kernel does for NFS, and fills the wcc data RFC 1813 asks for on
 * success and failure alike. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/nfs/nfs_err.h"
#include "transport/nfs/nfs_proc.h"

/* REMOVE and RMDIR differ only in the vfs call: a directory given to
 * REMOVE is the vfs's EISDIR (NFS3ERR_ISDIR, as knfsd answers), a file
 * given to RMDIR its ENOTDIR, a directory with entries in the merged view
 * ENOTEMPTY. */
static bool remove_common(nfs_req *r, bool rmdir)
{
    nfs3_dirop a;
    if (!nfs3_dec_dirop_args(&r->args, &a))
        return false;
    uint64_t dir = 0;
    nfs3_pre_attr pre;
    uint32_t st = nfs_dir_for_change(r, &a.dir, &dir, &pre);
    if (st == NFS3_OK) {
        size_t len = strlen(a.name);
        st = nfs_err_take(rmdir ? vfs_rmdir(r->ctx->v, dir, a.name, len)
                                : vfs_unlink(r->ctx->v, dir, a.name, len));
    }
    nfs3_wcc_res res = {.status = st};
    nfs_dir_wcc(r, dir, &pre, &res.wcc);
    nfs_reply_ok(r);
    nfs3_enc_wcc_res(r->reply, &res);
    return true;
}

bool nfs3_proc_remove(nfs_req *r)
{
    return remove_common(r, false);
}

bool nfs3_proc_rmdir(nfs_req *r)
{
    return remove_common(r, true);
}

/* Both directories are checked (and their wcc data taken) whatever the
 * other's fate, so a failure still reports what it can of each. "." and
 * ".." on either side are INVAL, as RFC 1813 suggests for servers that
 * refuse them (the vfs would say EBUSY, which NFS can only put as
 * JUKEBOX: try again, for ever). One slot per server means no XDEV here:
 * a handle of another slot is already STALE. */
bool nfs3_proc_rename(nfs_req *r)
{
    nfs3_rename_args a;
    if (!nfs3_dec_rename_args(&r->args, &a))
        return false;
    uint64_t from = 0, to = 0;
    nfs3_pre_attr from_pre, to_pre;
    uint32_t st = nfs_dir_for_change(r, &a.from.dir, &from, &from_pre);
    uint32_t to_st = nfs_dir_for_change(r, &a.to.dir, &to, &to_pre);
    if (st == NFS3_OK)
        st = to_st;
    if (st == NFS3_OK && (nfs_is_dot_name(a.from.name) || nfs_is_dot_name(a.to.name)))
        st = NFS3ERR_INVAL;
    if (st == NFS3_OK)
        st = nfs_err_take(vfs_rename(r->ctx->v, from, a.from.name, strlen(a.from.name), to,
                                     a.to.name, strlen(a.to.name), 0));
    nfs3_rename_res res = {.status = st};
    nfs_dir_wcc(r, from, &from_pre, &res.from_wcc);
    nfs_dir_wcc(r, to, &to_pre, &res.to_wcc);
    nfs_reply_ok(r);
    nfs3_enc_rename_res(r->reply, &res);
    return true;
}

/* A directory is the vfs's EPERM (link(2)'s answer, NFS3ERR_PERM). The
 * reply carries the file's attributes after the call: nlink has grown on
 * success. */
bool nfs3_proc_link(nfs_req *r)
{
    nfs3_link_args a;
    if (!nfs3_dec_link_args(&r->args, &a))
        return false;
    uint64_t ino = 0, dir = 0;
    nfs3_pre_attr pre;
    uint32_t st = nfs_fh_resolve(r, &a.fh, &ino, NULL);
    uint32_t dir_st = nfs_dir_for_change(r, &a.link.dir, &dir, &pre);
    if (st == NFS3_OK)
        st = dir_st;
    if (st == NFS3_OK) {
        vfs_attr at;
        st = nfs_err_take(vfs_link(r->ctx->v, ino, dir, a.link.name, strlen(a.link.name), &at));
        if (st == NFS3_OK)
            vfs_forget(r->ctx->v, at.ino, 1);
    }
    nfs3_link_res res = {.status = st};
    if (ino)
        nfs_post_attr(r, ino, &res.attr);
    nfs_dir_wcc(r, dir, &pre, &res.dir_wcc);
    nfs_reply_ok(r);
    nfs3_enc_link_res(r->reply, &res);
    return true;
}
