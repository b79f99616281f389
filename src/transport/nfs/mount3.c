/* MOUNT v3: how a client gets the exported root's handle (MNT), and the
 * bookkeeping around it (DUMP, UMNT, UMNTALL, EXPORT). One export, the
 * server's view, at ctx->export_path; MNT also takes a directory below
 * it, as knfsd does (libnfs's tools ask for the URL's directory). The list of mounts is advisory,
 * as in every NFSv3 server: a client that never says UMNT stays in it (up to NFS_MOUNTS_MAX
 * entries, the oldest dropped first). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "transport/nfs/nfs_err.h"
#include "transport/nfs/nfs_proc.h"

bool mnt3_proc_null(nfs_req *r)
{
    if (!nfs3_dec_void(&r->args))
        return false;
    nfs_reply_ok(r);
    return true;
}

/* Remembers (host, path) for DUMP, once. */
static void mnt3_remember(nfs_ctx *ctx, const char *host, const char *path)
{
    pthread_mutex_lock(&ctx->mu);
    for (unsigned i = 0; i < ctx->nmounts; i++) {
        if (strcmp(ctx->mounts[i].host, host) == 0 && strcmp(ctx->mounts[i].dir, path) == 0) {
            pthread_mutex_unlock(&ctx->mu);
            return;
        }
    }
    if (ctx->nmounts == NFS_MOUNTS_MAX) {
        memmove(&ctx->mounts[0], &ctx->mounts[1], (NFS_MOUNTS_MAX - 1) * sizeof(ctx->mounts[0]));
        ctx->nmounts--;
    }
    mnt3_mount *m = &ctx->mounts[ctx->nmounts++];
    snprintf(m->host, sizeof(m->host), "%s", host);
    snprintf(m->dir, sizeof(m->dir), "%s", path);
    pthread_mutex_unlock(&ctx->mu);
}

/* Forgets the entries of host (and path, unless NULL). */
static void mnt3_forget(nfs_ctx *ctx, const char *host, const char *path)
{
    pthread_mutex_lock(&ctx->mu);
    unsigned k = 0;
    for (unsigned i = 0; i < ctx->nmounts; i++) {
        const mnt3_mount *m = &ctx->mounts[i];
        if (strcmp(m->host, host) == 0 && (!path || strcmp(m->dir, path) == 0))
            continue;
        ctx->mounts[k++] = *m;
    }
    ctx->nmounts = k;
    pthread_mutex_unlock(&ctx->mu);
}

/* The directory a MNT path names: the export ("/", or "" as some
 * clients send it) or a directory below it, walked name by name from the
 * view's root as LOOKUP would. ".." is refused: a mount never climbs. */
static uint32_t mnt3_resolve(nfs_req *r, const char *path, uint64_t *ino)
{
    nfs_ctx *ctx = r->ctx;
    size_t n = strlen(ctx->export_path);
    if (strncmp(path, ctx->export_path, n) == 0)
        path += n;
    else if (path[0] != '\0' && path[0] != '/')
        return MNT3ERR_NOENT;
    *ino = vfs_root_ino(ctx->slot);
    while (*path) {
        while (*path == '/')
            path++;
        size_t len = strcspn(path, "/");
        if (len == 0)
            break;
        if (len == 1 && path[0] == '.') {
            path += len;
            continue;
        }
        if (len == 2 && path[0] == '.' && path[1] == '.')
            return MNT3ERR_ACCES;
        vfs_attr a;
        strata_err *e = vfs_lookup(ctx->v, *ino, path, len, &a);
        if (e) {
            uint32_t st = nfs_err_take(e);
            return st == NFS3ERR_NOTDIR || st == NFS3ERR_NOENT || st == NFS3ERR_ACCES ? st
                                                                                      : MNT3ERR_IO;
        }
        vfs_forget(ctx->v, a.ino, 1);
        if (!S_ISDIR(a.mode))
            return MNT3ERR_NOTDIR;
        *ino = a.ino;
        path += len;
    }
    return MNT3_OK;
}

bool mnt3_proc_mnt(nfs_req *r)
{
    mnt3_path_args a;
    if (!mnt3_dec_path_args(&r->args, &a))
        return false;
    mnt3_mnt_res res = {0};
    uint64_t ino;
    res.status = mnt3_resolve(r, a.path, &ino);
    if (res.status == MNT3_OK) {
        nfs_fh_of(r, ino, &res.fh);
        res.nflavors = 1;
        res.flavors[0] = RPC_AUTH_SYS;
        mnt3_remember(r->ctx, r->call->cred.machine, a.path);
    }
    nfs_reply_ok(r);
    mnt3_enc_mnt_res(r->reply, &res);
    return true;
}

bool mnt3_proc_dump(nfs_req *r)
{
    if (!nfs3_dec_void(&r->args))
        return false;
    nfs_reply_ok(r);
    pthread_mutex_lock(&r->ctx->mu);
    mnt3_enc_dump_res(r->reply, r->ctx->mounts, r->ctx->nmounts);
    pthread_mutex_unlock(&r->ctx->mu);
    return true;
}

bool mnt3_proc_umnt(nfs_req *r)
{
    mnt3_path_args a;
    if (!mnt3_dec_path_args(&r->args, &a))
        return false;
    mnt3_forget(r->ctx, r->call->cred.machine, a.path);
    nfs_reply_ok(r);
    return true;
}

bool mnt3_proc_umntall(nfs_req *r)
{
    if (!nfs3_dec_void(&r->args))
        return false;
    mnt3_forget(r->ctx, r->call->cred.machine, NULL);
    nfs_reply_ok(r);
    return true;
}

bool mnt3_proc_export(nfs_req *r)
{
    if (!nfs3_dec_void(&r->args))
        return false;
    mnt3_export x = {.ngroups = 0};
    snprintf(x.dir, sizeof(x.dir), "%s", r->ctx->export_path);
    nfs_reply_ok(r);
    mnt3_enc_export_res(r->reply, &x, 1);
    return true;
}
