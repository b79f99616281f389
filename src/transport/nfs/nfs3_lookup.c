/* NFSv3 LOOKUP and READLINK: from a directory and a name to a handle, and
 * from a symbolic link to its target. */
#include <string.h>
#include <sys/stat.h>

#include "transport/nfs/nfs_err.h"
#include "transport/nfs/nfs_proc.h"

bool nfs3_proc_lookup(nfs_req *r)
{
    nfs3_dirop a;
    if (!nfs3_dec_dirop_args(&r->args, &a))
        return false;
    nfs3_lookup_res res = {0};
    uint64_t dir;
    vfs_attr dattr;
    res.status = nfs_fh_resolve(r, &a.dir, &dir, &dattr);
    if (res.status == NFS3_OK) {
        const char *name = a.name;
        /* The exported root is the top of the client's world: its ".."
         * is itself, as with knfsd at an export root. The vfs would
         * answer its own parent, which for a slot of a vfs with the
         * directory of slots lies in another slot, whose handles this
         * server does not serve. */
        if (dir == vfs_root_ino(r->ctx->slot) && !strcmp(name, ".."))
            name = ".";
        vfs_attr attr;
        res.status = nfs_err_take(vfs_lookup(r->ctx->v, dir, name, strlen(name), &attr));
        if (res.status == NFS3_OK) {
            /* NFS never forgets: the vfs finds the inode again from the
             * number in the handle, so the lookup is not kept. */
            vfs_forget(r->ctx->v, attr.ino, 1);
            nfs_fh_of(r, attr.ino, &res.fh);
            res.obj_attr.present = true;
            nfs_fattr_of(r->ctx, &attr, &res.obj_attr.attr);
        }
        /* A lookup changes nothing: the directory is as resolved. */
        nfs_post_of(r->ctx, &dattr, &res.dir_attr);
    }
    nfs_reply_ok(r);
    nfs3_enc_lookup_res(r->reply, &res);
    return true;
}

bool nfs3_proc_readlink(nfs_req *r)
{
    nfs3_fh fh;
    if (!nfs3_dec_fh_args(&r->args, &fh))
        return false;
    nfs3_readlink_res res = {0};
    uint64_t ino;
    vfs_attr attr;
    res.status = nfs_fh_resolve(r, &fh, &ino, &attr);
    if (res.status == NFS3_OK) {
        nfs_post_of(r->ctx, &attr, &res.attr);
        /* RFC 1813 has INVAL for an object that is not a link; the vfs
         * agrees, but saying so here keeps the reply's attributes those
         * read above. */
        if (!S_ISLNK(attr.mode)) {
            res.status = NFS3ERR_INVAL;
        } else {
            size_t len;
            res.status =
                nfs_err_take(vfs_readlink(r->ctx->v, ino, res.data, sizeof(res.data), &len));
            if (res.status != NFS3_OK)
                res.data[0] = '\0';
        }
    }
    nfs_reply_ok(r);
    nfs3_enc_readlink_res(r->reply, &res);
    return true;
}
