/* What the procedure handlers share (see nfs_proc.h): the success header,
 * handles to inodes and back, and vfs attributes as NFS sees them. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/nfs/nfs_err.h"
#include "transport/nfs/nfs_proc.h"

void nfs_reply_ok(nfs_req *r)
{
    rpc_reply_accepted(r->reply, r->call->xid, RPC_ACC_SUCCESS);
}

uint32_t nfs_fh_resolve(const nfs_req *r, const nfs3_fh *fh, uint64_t *ino, vfs_attr *attr)
{
    nfs_fh_fields f;
    *ino = 0;
    if (!nfs_fh_parse(fh->data, fh->len, r->ctx->instance, &f) ||
        vfs_ino_slot(f.ino) != r->ctx->slot ||
        f.generation != vfs_slot_generation(r->ctx->v, r->ctx->slot))
        return NFS3ERR_STALE;
    /* A removed entry the vfs still holds (it keeps what FUSE still has
     * open) is gone for NFS, which opens nothing: its handle is stale, or
     * a WRITE would be acknowledged into a file nobody can reach. */
    vfs_attr a;
    strata_err *e = vfs_getattr(r->ctx->v, f.ino, &a);
    if (e || a.nlink == 0) {
        uint32_t st = nfs_err_take(e);
        return st == NFS3_OK || st == NFS3ERR_NOENT ? NFS3ERR_STALE : st;
    }
    *ino = f.ino;
    if (attr)
        *attr = a;
    return NFS3_OK;
}

void nfs_fh_of(const nfs_req *r, uint64_t ino, nfs3_fh *out)
{
    nfs_fh_fields f = {
        .instance = r->ctx->instance,
        .generation = vfs_slot_generation(r->ctx->v, vfs_ino_slot(ino)),
        .ino = ino,
    };
    memset(out, 0, sizeof(*out));
    out->len = NFS_FH_LEN;
    nfs_fh_make(&f, out->data);
}

void nfs_fh_root(const nfs_req *r, nfs3_fh *out)
{
    nfs_fh_of(r, vfs_root_ino(r->ctx->slot), out);
}

static uint32_t nfs_type_of(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return NF3DIR;
    case S_IFLNK:
        return NF3LNK;
    case S_IFCHR:
        return NF3CHR;
    case S_IFBLK:
        return NF3BLK;
    case S_IFSOCK:
        return NF3SOCK;
    case S_IFIFO:
        return NF3FIFO;
    default:
        return NF3REG;
    }
}

static nfs3_time nfs_time_of(vfs_time t)
{
    /* nfstime3 has 32-bit seconds: times before 1970 or after 2106 are
     * clamped rather than wrapped. */
    uint32_t sec = t.sec < 0 ? 0 : t.sec > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)t.sec;
    return (nfs3_time){.sec = sec, .nsec = t.nsec};
}

void nfs_fattr_of(const nfs_ctx *ctx, const vfs_attr *a, nfs3_fattr *out)
{
    *out = (nfs3_fattr){
        .type = nfs_type_of(a->mode),
        .mode = a->mode & 07777,
        .nlink = a->nlink,
        .uid = a->uid,
        .gid = a->gid,
        .size = a->size,
        .used = a->blocks * 512,
        /* One filesystem per slot: a client must not take two views'
         * same inode numbers for the same file. */
        .fsid = 0x5354524154410000ull | ctx->slot,
        .fileid = a->ino,
        .atime = nfs_time_of(a->atime),
        .mtime = nfs_time_of(a->mtime),
        .ctime = nfs_time_of(a->ctime),
    };
}

void nfs_post_of(const nfs_ctx *ctx, const vfs_attr *a, nfs3_post_attr *out)
{
    out->present = true;
    nfs_fattr_of(ctx, a, &out->attr);
}

void nfs_post_attr(const nfs_req *r, uint64_t ino, nfs3_post_attr *out)
{
    vfs_attr a;
    strata_err *e = vfs_getattr(r->ctx->v, ino, &a);
    memset(out, 0, sizeof(*out));
    if (e) {
        strata_err_free(e);
        return;
    }
    out->present = true;
    nfs_fattr_of(r->ctx, &a, &out->attr);
}

void nfs_pre_of(const vfs_attr *a, nfs3_pre_attr *out)
{
    *out = (nfs3_pre_attr){
        .present = true,
        .attr = {.size = a->size, .mtime = nfs_time_of(a->mtime), .ctime = nfs_time_of(a->ctime)},
    };
}

void nfs_wcc(const nfs_req *r, uint64_t ino, const nfs3_pre_attr *pre, nfs3_wcc *out)
{
    out->before = *pre;
    nfs_post_attr(r, ino, &out->after);
}

void nfs_sattr_to_vfs(const nfs3_sattr *s, vfs_setattr_in *out)
{
    memset(out, 0, sizeof(*out));
    if (s->set_mode) {
        out->valid |= VFS_SET_MODE;
        out->mode = s->mode & 07777;
    }
    if (s->set_uid) {
        out->valid |= VFS_SET_UID;
        out->uid = s->uid;
    }
    if (s->set_gid) {
        out->valid |= VFS_SET_GID;
        out->gid = s->gid;
    }
    if (s->set_size) {
        out->valid |= VFS_SET_SIZE;
        out->size = s->size;
    }
    if (s->set_atime == NFS3_SET_TO_SERVER_TIME) {
        out->valid |= VFS_SET_ATIME_NOW;
    } else if (s->set_atime == NFS3_SET_TO_CLIENT_TIME) {
        out->valid |= VFS_SET_ATIME;
        out->atime = (vfs_time){.sec = s->atime.sec, .nsec = s->atime.nsec};
    }
    if (s->set_mtime == NFS3_SET_TO_SERVER_TIME) {
        out->valid |= VFS_SET_MTIME_NOW;
    } else if (s->set_mtime == NFS3_SET_TO_CLIENT_TIME) {
        out->valid |= VFS_SET_MTIME;
        out->mtime = (vfs_time){.sec = s->mtime.sec, .nsec = s->mtime.nsec};
    }
}

uint32_t nfs_dir_for_change(const nfs_req *r, const nfs3_fh *fh, uint64_t *dir, nfs3_pre_attr *pre)
{
    memset(pre, 0, sizeof(*pre));
    vfs_attr a;
    uint32_t st = nfs_fh_resolve(r, fh, dir, &a);
    if (st != NFS3_OK)
        return st;
    nfs_pre_of(&a, pre);
    if (!S_ISDIR(a.mode))
        return NFS3ERR_NOTDIR;
    return nfs_err_take(vfs_access(r->ctx->v, *dir, W_OK | X_OK, r->cred.uid, r->cred.gid));
}

void nfs_dir_wcc(const nfs_req *r, uint64_t dir, const nfs3_pre_attr *pre, nfs3_wcc *out)
{
    memset(out, 0, sizeof(*out));
    if (dir)
        nfs_wcc(r, dir, pre, out);
}

bool nfs_is_dot_name(const char *name)
{
    return !strcmp(name, ".") || !strcmp(name, "..");
}
