/* NFSv3 NULL, GETATTR, SETATTR and ACCESS: attributes, and who may do
 * what with a file. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/nfs/nfs_err.h"
#include "transport/nfs/nfs_proc.h"

bool nfs3_proc_null(nfs_req *r)
{
    if (!nfs3_dec_void(&r->args))
        return false;
    nfs_reply_ok(r);
    return true;
}

bool nfs3_proc_getattr(nfs_req *r)
{
    nfs3_fh fh;
    if (!nfs3_dec_fh_args(&r->args, &fh))
        return false;
    nfs3_getattr_res res = {0};
    uint64_t ino;
    vfs_attr a;
    res.status = nfs_fh_resolve(r, &fh, &ino, &a);
    if (res.status == NFS3_OK)
        nfs_fattr_of(r->ctx, &a, &res.attr);
    nfs_reply_ok(r);
    nfs3_enc_getattr_res(r->reply, &res);
    return true;
}

/* The guard: the change applies only to the object as the client last
 * saw it (its ctime), so that two clients' SETATTRs do not interleave
 * unseen. */
static bool nfs_guard_holds(const nfs3_setattr_args *a, const nfs3_pre_attr *pre)
{
    return !a->guard || (pre->present && pre->attr.ctime.sec == a->guard_ctime.sec &&
                         pre->attr.ctime.nsec == a->guard_ctime.nsec);
}

bool nfs3_proc_setattr(nfs_req *r)
{
    nfs3_setattr_args a;
    if (!nfs3_dec_setattr_args(&r->args, &a))
        return false;
    nfs3_wcc_res res = {0};
    uint64_t ino;
    vfs_attr before;
    res.status = nfs_fh_resolve(r, &a.fh, &ino, &before);
    if (res.status == NFS3_OK) {
        nfs3_pre_attr pre;
        nfs_pre_of(&before, &pre);
        if (!nfs_guard_holds(&a, &pre)) {
            res.status = NFS3ERR_NOT_SYNC;
        } else {
            vfs_setattr_in sa;
            nfs_sattr_to_vfs(&a.attr, &sa);
            if (sa.valid)
                res.status = nfs_err_take(vfs_setattr(r->ctx->v, ino, NULL, &sa, &r->cred, NULL));
        }
        nfs_wcc(r, ino, &pre, &res.wcc);
    }
    nfs_reply_ok(r);
    nfs3_enc_wcc_res(r->reply, &res);
    return true;
}

/* Each asked-for right, from the file's mode and the caller's uid and gid
 * (vfs_access). LOOKUP and DELETE concern directories, EXECUTE files; a
 * right that does not apply to the type is simply not granted. */
static uint32_t nfs_access_rights(nfs_req *r, uint64_t ino, uint32_t mode, uint32_t want)
{
    static const struct {
        uint32_t bit;
        int mask;
        int dir; /* 1: directories only; 0: files only; -1: both */
    } rights[] = {
        {NFS3_ACCESS_READ, R_OK, -1},   {NFS3_ACCESS_LOOKUP, X_OK, 1},
        {NFS3_ACCESS_MODIFY, W_OK, -1}, {NFS3_ACCESS_EXTEND, W_OK, -1},
        {NFS3_ACCESS_DELETE, W_OK, 1},  {NFS3_ACCESS_EXECUTE, X_OK, 0},
    };
    bool is_dir = S_ISDIR(mode);
    uint32_t got = 0;
    for (size_t i = 0; i < sizeof(rights) / sizeof(rights[0]); i++) {
        if (!(want & rights[i].bit) || (rights[i].dir >= 0 && rights[i].dir != (int)is_dir))
            continue;
        strata_err *e = vfs_access(r->ctx->v, ino, rights[i].mask, r->cred.uid, r->cred.gid);
        if (!e)
            got |= rights[i].bit;
        strata_err_free(e);
    }
    return got;
}

bool nfs3_proc_access(nfs_req *r)
{
    nfs3_access_args a;
    if (!nfs3_dec_access_args(&r->args, &a))
        return false;
    nfs3_access_res res = {0};
    uint64_t ino;
    vfs_attr attr;
    res.status = nfs_fh_resolve(r, &a.fh, &ino, &attr);
    if (res.status == NFS3_OK) {
        res.attr.present = true;
        nfs_fattr_of(r->ctx, &attr, &res.attr.attr);
        res.access = nfs_access_rights(r, ino, attr.mode, a.access);
    }
    nfs_reply_ok(r);
    nfs3_enc_access_res(r->reply, &res);
    return true;
}
