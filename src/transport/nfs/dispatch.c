/* From a record to a reply: the RPC call is decoded, the caller checked
 * (AUTH_SYS, the owner's uid or root), the program, version and procedure
 * looked up, and the handler run (nfs_proc.h). Every way a call can be
 * wrong has its answer here:
 *
 *   not a call at all              nothing (the record is dropped)
 *   RPC version other than 2       RPC_MISMATCH
 *   a credential we cannot read    AUTH_ERROR AUTH_BADCRED
 *   AUTH_NONE beyond NULL          AUTH_ERROR AUTH_TOOWEAK
 *   another user's uid             AUTH_ERROR AUTH_BADCRED
 *   a program not served           PROG_UNAVAIL
 *   NFS or MOUNT other than v3     PROG_MISMATCH 3..3
 *   a procedure beyond the table   PROC_UNAVAIL
 *   arguments that do not decode   GARBAGE_ARGS */
#include <string.h>

#include "transport/nfs/dispatch.h"
#include "transport/nfs/nfs_proc.h"

const nfs_proc_fn nfs3_procs[22] = {
    nfs3_proc_null,     nfs3_proc_getattr,     nfs3_proc_setattr, nfs3_proc_lookup,
    nfs3_proc_access,   nfs3_proc_readlink,    nfs3_proc_read,    nfs3_proc_write,
    nfs3_proc_create,   nfs3_proc_mkdir,       nfs3_proc_symlink, nfs3_proc_mknod,
    nfs3_proc_remove,   nfs3_proc_rmdir,       nfs3_proc_rename,  nfs3_proc_link,
    nfs3_proc_readdir,  nfs3_proc_readdirplus, nfs3_proc_fsstat,  nfs3_proc_fsinfo,
    nfs3_proc_pathconf, nfs3_proc_commit,
};

const nfs_proc_fn mnt3_procs[6] = {
    mnt3_proc_null, mnt3_proc_mnt,     mnt3_proc_dump,
    mnt3_proc_umnt, mnt3_proc_umntall, mnt3_proc_export,
};

/* Who may call: AUTH_SYS with the owner's uid or root's. The NULL
 * procedures (pings) are answered for anyone. */
static uint32_t nfs_auth_check(const nfs_ctx *ctx, const rpc_call *c)
{
    if (c->proc == 0)
        return RPC_AUTH_OK;
    if (c->cred.flavor != RPC_AUTH_SYS)
        return RPC_AUTH_TOOWEAK;
    if (c->cred.uid != 0 && c->cred.uid != ctx->owner_uid)
        return RPC_AUTH_BADCRED;
    return RPC_AUTH_OK;
}

/* nfs_dispatch; with cached_only, *blocked says that the call would have
 * waited for the disk and was not answered. */
static bool nfs_dispatch_ex(nfs_ctx *ctx, const uint8_t *rec, size_t len, xdr_enc *reply,
                            bool cached_only, bool *blocked)
{
    rpc_call call;
    uint32_t auth_stat = RPC_AUTH_OK;
    switch (rpc_call_decode(rec, len, &call, &auth_stat)) {
    case RPC_CALL_DROP:
        return true;
    case RPC_CALL_RPC_MISMATCH:
        rpc_reply_rpc_mismatch(reply, call.xid);
        return true;
    case RPC_CALL_AUTH_ERROR:
        rpc_reply_auth_error(reply, call.xid, auth_stat);
        return true;
    case RPC_CALL_OK:
        break;
    }
    const nfs_proc_fn *table;
    size_t n;
    if (call.prog == NFS3_PROGRAM) {
        table = nfs3_procs;
        n = sizeof(nfs3_procs) / sizeof(nfs3_procs[0]);
    } else if (call.prog == MNT3_PROGRAM) {
        table = mnt3_procs;
        n = sizeof(mnt3_procs) / sizeof(mnt3_procs[0]);
    } else {
        rpc_reply_accepted(reply, call.xid, RPC_ACC_PROG_UNAVAIL);
        return true;
    }
    if (call.vers != 3) {
        rpc_reply_prog_mismatch(reply, call.xid, 3, 3);
        return true;
    }
    if (call.proc >= n || !table[call.proc]) {
        rpc_reply_accepted(reply, call.xid, RPC_ACC_PROC_UNAVAIL);
        return true;
    }
    uint32_t why = nfs_auth_check(ctx, &call);
    if (why != RPC_AUTH_OK) {
        rpc_reply_auth_error(reply, call.xid, why);
        return true;
    }
    nfs_req r = {
        .ctx = ctx,
        .call = &call,
        .cred = {.uid = call.cred.uid, .gid = call.cred.gid},
        .reply = reply,
        .cached_only = cached_only,
    };
    xdr_dec_init(&r.args, call.args, call.args_len);
    size_t start = reply->len;
    if (!table[call.proc](&r)) {
        /* Nothing of the handler's stays: only the verdict. */
        xdr_enc_truncate(reply, start);
        reply->err = false;
        rpc_reply_accepted(reply, call.xid, RPC_ACC_GARBAGE_ARGS);
    }
    if (blocked)
        *blocked = r.blocked;
    return true;
}

bool nfs_dispatch(nfs_ctx *ctx, const uint8_t *rec, size_t len, xdr_enc *reply)
{
    return nfs_dispatch_ex(ctx, rec, len, reply, false, NULL);
}

bool nfs_dispatch_handler(void *ctx, const nfs_peer *peer, const uint8_t *rec, size_t len,
                          xdr_enc *reply)
{
    (void)peer; /* the privileged-port rule is the server's (secure) */
    return nfs_dispatch(ctx, rec, len, reply);
}

/* A READ's count, past the call header's credential and verifier and
 * the handle: small is quick. Anything malformed goes the long way. */
static bool nfs_quick_read(const uint8_t *rec, size_t len)
{
    xdr_dec d;
    xdr_dec_init(&d, rec, len);
    for (int i = 0; i < 6; i++)
        (void)xdr_u32(&d);
    uint32_t n;
    for (int i = 0; i < 2; i++) { /* credential, verifier */
        (void)xdr_u32(&d);
        (void)xdr_opaque_var(&d, RPC_AUTH_MAX, &n);
    }
    (void)xdr_opaque_var(&d, NFS3_FHSIZE, &n);
    (void)xdr_u64(&d);
    uint32_t count = xdr_u32(&d);
    return !d.err && count <= NFS_QUICK_READ;
}

/* The program and procedure of a version 3 call, from the call header's
 * fixed start (xid, msg_type, rpcvers, prog, vers, proc). False for
 * anything odd, which goes the long way, where it is judged. */
static bool nfs_peek(const uint8_t *rec, size_t len, uint32_t *prog, uint32_t *proc)
{
    if (len < 24)
        return false;
    xdr_dec d;
    xdr_dec_init(&d, rec, 24);
    (void)xdr_u32(&d);
    uint32_t type = xdr_u32(&d), rpcvers = xdr_u32(&d);
    *prog = xdr_u32(&d);
    uint32_t vers = xdr_u32(&d);
    *proc = xdr_u32(&d);
    return type == 0 && rpcvers == 2 && vers == 3;
}

bool nfs_dispatch_try(void *ctx, const nfs_peer *peer, const uint8_t *rec, size_t len,
                      xdr_enc *reply, bool *answered)
{
    (void)peer;
    *answered = false;
    uint32_t prog, proc;
    if (!nfs_peek(rec, len, &prog, &proc) || prog != NFS3_PROGRAM || proc != NFS3_PROC_READ)
        return true;
    bool blocked = false;
    bool keep = nfs_dispatch_ex(ctx, rec, len, reply, true, &blocked);
    *answered = !blocked;
    return keep;
}

bool nfs_dispatch_quick(void *ctx, const uint8_t *rec, size_t len)
{
    (void)ctx;
    uint32_t prog, proc;
    if (!nfs_peek(rec, len, &prog, &proc))
        return false;
    if (prog == MNT3_PROGRAM)
        return proc == MNT3_PROC_NULL;
    if (prog != NFS3_PROGRAM)
        return false;
    switch (proc) {
    case NFS3_PROC_READ:
        return nfs_quick_read(rec, len);
    case NFS3_PROC_NULL:
    case NFS3_PROC_GETATTR:
    case NFS3_PROC_LOOKUP:
    case NFS3_PROC_ACCESS:
    case NFS3_PROC_READLINK:
    case NFS3_PROC_FSSTAT:
    case NFS3_PROC_FSINFO:
    case NFS3_PROC_PATHCONF:
        return true;
    default:
        return false;
    }
}
