/* NFSv3 READ, WRITE and COMMIT: a file's bytes, by inode number (no open
 * state: vfs_read_ino and vfs_write_ino), with READ's data read straight
 * into the reply. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "transport/nfs/nfs_err.h"
#include "transport/nfs/nfs_proc.h"

/* What READ's zero-copy reply needs besides the data (nfs3_xdr.h). */
#define NFS_READ_OVERHEAD 104

/* READ, WRITE and COMMIT concern regular files: knfsd's answers for the
 * rest (RFC 1813 lists INVAL; a directory is ISDIR, as read(2) has it). */
static uint32_t nfs_regular_only(uint32_t mode)
{
    if (S_ISREG(mode))
        return NFS3_OK;
    return S_ISDIR(mode) ? NFS3ERR_ISDIR : NFS3ERR_INVAL;
}

bool nfs3_proc_read(nfs_req *r)
{
    nfs3_read_args a;
    if (!nfs3_dec_read_args(&r->args, &a))
        return false;
    nfs3_read_res res = {0};
    uint64_t ino;
    vfs_attr attr;
    res.status = nfs_fh_resolve(r, &a.fh, &ino, &attr);
    if (res.status == NFS3_OK) {
        res.attr.present = true;
        nfs_fattr_of(r->ctx, &attr, &res.attr.attr);
        res.status = nfs_regular_only(attr.mode);
    }
    nfs_reply_ok(r);
    if (res.status != NFS3_OK) {
        nfs3_enc_read_res(r->reply, &res);
        return true;
    }

    /* The attributes go before the data, so they are the ones read
     * before it: a read changes nothing they show. Asking past the end
     * reserves nothing, and a reply never outgrows the encoder. */
    uint32_t want = a.count < NFS_IO_MAX ? a.count : NFS_IO_MAX;
    uint64_t left = a.offset < attr.size ? attr.size - a.offset : 0;
    if (want > left)
        want = (uint32_t)left;
    size_t room = xdr_enc_room(r->reply);
    room = room > NFS_READ_OVERHEAD ? room - NFS_READ_OVERHEAD : 0;
    if (want > room)
        want = (uint32_t)room;
    size_t mark = r->reply->len;
    nfs3_read_reply rr;
    uint8_t *buf = nfs3_read_reply_begin(&rr, r->reply, &res.attr, want);
    if (!buf) {
        /* Out of memory: the client hears of it rather than retrying
         * into silence. */
        xdr_enc_truncate(r->reply, mark);
        r->reply->err = false;
        res.status = NFS3ERR_SERVERFAULT;
        nfs3_enc_read_res(r->reply, &res);
        return true;
    }
    size_t got = 0;
    strata_err *e = want ? vfs_read_ino_flags(r->ctx->v, ino, buf, want, a.offset, &got,
                                              r->cached_only ? VFS_READ_CACHED : 0)
                         : NULL;
    if (e && r->cached_only && e->sys_errno == EAGAIN) {
        strata_err_free(e);
        r->blocked = true; /* a worker reads it */
        return true;
    }
    if (e) {
        xdr_enc_truncate(r->reply, mark);
        res.status = nfs_err_take(e);
        nfs_post_attr(r, ino, &res.attr);
        nfs3_enc_read_res(r->reply, &res);
        return true;
    }
    /* The vfs reads short only at the end of the file. */
    bool eof = got < want || a.offset + got >= attr.size;
    nfs3_read_reply_end(&rr, (uint32_t)got, eof);
    return true;
}

/* What the client asked for at least, as the reply's committed says:
 * UNSTABLE needs nothing (COMMIT comes later), DATA_SYNC the data and
 * what finds it (fdatasync), FILE_SYNC everything (fsync). */
static uint32_t nfs_write_sync(nfs_req *r, uint64_t ino, uint32_t stable)
{
    if (stable == NFS3_UNSTABLE)
        return NFS3_OK;
    return nfs_err_take(vfs_fsync(r->ctx->v, ino, NULL, stable == NFS3_DATA_SYNC));
}

bool nfs3_proc_write(nfs_req *r)
{
    nfs3_write_args a;
    if (!nfs3_dec_write_args(&r->args, &a, NFS_IO_MAX))
        return false;
    nfs3_write_res res = {0};
    uint64_t ino;
    vfs_attr attr;
    res.status = nfs_fh_resolve(r, &a.fh, &ino, &attr);
    if (res.status == NFS3_OK) {
        nfs_pre_of(&attr, &res.wcc.before);
        res.status = nfs_regular_only(attr.mode);
        /* pwrite(2) takes signed offsets: beyond them the file cannot
         * grow (RFC 1813's FBIG). */
        if (res.status == NFS3_OK &&
            (a.offset > (uint64_t)INT64_MAX || a.data_len > (uint64_t)INT64_MAX - a.offset))
            res.status = NFS3ERR_FBIG;
        if (res.status == NFS3_OK) {
            size_t written = 0;
            res.status =
                nfs_err_take(vfs_write_ino(r->ctx->v, ino, a.data, a.data_len, a.offset, &written));
            if (res.status == NFS3_OK)
                res.status = nfs_write_sync(r, ino, a.stable);
            if (res.status == NFS3_OK) {
                res.count = (uint32_t)written;
                res.committed = a.stable;
                memcpy(res.verf, r->ctx->write_verf, sizeof(res.verf));
            }
        }
        nfs_post_attr(r, ino, &res.wcc.after);
    }
    nfs_reply_ok(r);
    nfs3_enc_write_res(r->reply, &res);
    return true;
}

bool nfs3_proc_commit(nfs_req *r)
{
    nfs3_commit_args a;
    if (!nfs3_dec_commit_args(&r->args, &a))
        return false;
    nfs3_commit_res res = {0};
    uint64_t ino;
    vfs_attr attr;
    res.status = nfs_fh_resolve(r, &a.fh, &ino, &attr);
    if (res.status == NFS3_OK) {
        nfs_pre_of(&attr, &res.wcc.before);
        res.status = nfs_regular_only(attr.mode);
        /* The range is a hint: the whole file is synced, which covers
         * it. An offset no file reaches is INVAL, as knfsd has it. */
        if (res.status == NFS3_OK && a.offset > (uint64_t)INT64_MAX)
            res.status = NFS3ERR_INVAL;
        if (res.status == NFS3_OK)
            res.status = nfs_err_take(vfs_fsync(r->ctx->v, ino, NULL, false));
        if (res.status == NFS3_OK)
            memcpy(res.verf, r->ctx->write_verf, sizeof(res.verf));
        nfs_post_attr(r, ino, &res.wcc.after);
    }
    nfs_reply_ok(r);
    nfs3_enc_commit_res(r->reply, &res);
    return true;
}
