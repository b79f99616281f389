/* NFSv3 FSSTAT, FSINFO and PATHCONF: what the exported filesystem holds
 * and how a client should talk to it. */
#include <stdint.h>

#include "transport/nfs/nfs_err.h"
#include "transport/nfs/nfs_proc.h"

/* Reads and writes are preferred at the maximum: every call is a round
 * trip, and the vfs streams from the store either way. Listings at the
 * reply bound the server keeps. */
#define NFS_IO_MULT 4096u

bool nfs3_proc_fsstat(nfs_req *r)
{
    nfs3_fh fh;
    if (!nfs3_dec_fh_args(&r->args, &fh))
        return false;
    nfs3_fsstat_res res = {0};
    uint64_t ino;
    vfs_attr attr;
    res.status = nfs_fh_resolve(r, &fh, &ino, &attr);
    if (res.status == NFS3_OK) {
        vfs_statfs sf;
        res.status = nfs_err_take(vfs_statfs_get(r->ctx->v, ino, &sf));
        if (res.status == NFS3_OK) {
            res.tbytes = sf.blocks * sf.frsize;
            res.fbytes = sf.bfree * sf.frsize;
            res.abytes = sf.bavail * sf.frsize;
            res.tfiles = sf.files;
            res.ffiles = sf.ffree;
            res.afiles = sf.ffree;
            res.invarsec = 0; /* the upper filesystem changes any time */
        }
        nfs_post_of(r->ctx, &attr, &res.attr);
    }
    nfs_reply_ok(r);
    nfs3_enc_fsstat_res(r->reply, &res);
    return true;
}

bool nfs3_proc_fsinfo(nfs_req *r)
{
    nfs3_fh fh;
    if (!nfs3_dec_fh_args(&r->args, &fh))
        return false;
    nfs3_fsinfo_res res = {0};
    uint64_t ino;
    vfs_attr attr;
    res.status = nfs_fh_resolve(r, &fh, &ino, &attr);
    if (res.status == NFS3_OK) {
        nfs_post_of(r->ctx, &attr, &res.attr);
        res.rtmax = res.rtpref = NFS_IO_MAX;
        res.wtmax = res.wtpref = NFS_IO_MAX;
        res.rtmult = res.wtmult = NFS_IO_MULT;
        res.dtpref = NFS_DIR_MAX;
        res.maxfilesize = INT64_MAX;
        res.time_delta = (nfs3_time){.sec = 0, .nsec = 1};
        res.properties =
            NFS3_FSF_LINK | NFS3_FSF_SYMLINK | NFS3_FSF_HOMOGENEOUS | NFS3_FSF_CANSETTIME;
    }
    nfs_reply_ok(r);
    nfs3_enc_fsinfo_res(r->reply, &res);
    return true;
}

bool nfs3_proc_pathconf(nfs_req *r)
{
    nfs3_fh fh;
    if (!nfs3_dec_fh_args(&r->args, &fh))
        return false;
    nfs3_pathconf_res res = {0};
    uint64_t ino;
    vfs_attr attr;
    res.status = nfs_fh_resolve(r, &fh, &ino, &attr);
    if (res.status == NFS3_OK) {
        nfs_post_of(r->ctx, &attr, &res.attr);
        res.linkmax = 65000; /* ext4's, the usual upper filesystem */
        res.name_max = NFS3_NAME_MAX;
        res.no_trunc = true; /* a longer name is an error, never cut */
        res.chown_restricted = true;
        res.case_insensitive = false;
        res.case_preserving = true;
    }
    nfs_reply_ok(r);
    nfs3_enc_pathconf_res(r->reply, &res);
    return true;
}
