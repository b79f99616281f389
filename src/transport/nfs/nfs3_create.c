/* NFSv3 procedures that make entries: CREATE (UNCHECKED, GUARDED and
 * EXCLUSIVE), MKDIR, SYMLINK and MKNOD (fifos only), over vfs_create,
 * vfs_mkdir, vfs_symlink and vfs_mknod, with the sattr3 the client sends
 * applied to what was made.
 *
 * EXCLUSIVE's verifier lives in the new file's times, as Linux's knfsd
 * keeps it and RFC 1813 suggests: mtime seconds are the verifier's first
 * four bytes (big-endian), atime seconds its last four, each with its top
 * bit cleared, nanoseconds 0. Those 31-bit seconds are within every
 * filesystem's range (2038) and survive filesystems that keep whole
 * seconds only, so they read back exactly as stored, and a retransmitted
 * CREATE recognises its file by them (and by its size, still 0): 62 of
 * the verifier's 64 bits decide, which is knfsd's trade too. The client
 * sets the file's real times with SETATTR right after. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/nfs/nfs_err.h"
#include "transport/nfs/nfs_proc.h"

/* Modes for entries whose sattr3 carries none. */
#define NFS_FILE_MODE_DEFAULT 0644u
#define NFS_DIR_MODE_DEFAULT  0755u
/* An exclusive create's file until the client's SETATTR: its creator's
 * alone, yet usable if that SETATTR never comes. */
#define NFS_EXCL_MODE 0600u

/* How often UNCHECKED and EXCLUSIVE look again when the name comes or goes
 * between their lookup and their create (another client at work). */
#define NFS_CREATE_TRIES 8

/* The rest of a new entry's sattr3, after it was made with the mode. A
 * chown clears set-id bits, so the mode goes again with a new owner
 * (never for a symbolic link, which has no mode of its own). */
static uint32_t apply_new_attrs(const nfs_req *r, uint64_t ino, vfs_file *f, const nfs3_sattr *s,
                                bool is_reg, bool has_mode)
{
    vfs_setattr_in sa;
    nfs_sattr_to_vfs(s, &sa);
    if (!has_mode || !(sa.valid & (VFS_SET_UID | VFS_SET_GID)))
        sa.valid &= ~VFS_SET_MODE;
    if (!is_reg) /* a size means something for regular files only */
        sa.valid &= ~VFS_SET_SIZE;
    if (!sa.valid)
        return NFS3_OK;
    return nfs_err_take(vfs_setattr(r->ctx->v, ino, f, &sa, &r->cred, NULL));
}

static uint32_t mode_or(const nfs3_sattr *s, uint32_t dflt)
{
    return s->set_mode ? s->mode & 07777 : dflt;
}

/* ---- CREATE ------------------------------------------------------------- */

static void verf_times(const uint8_t verf[NFS3_CREATEVERFSIZE], int64_t *mtime, int64_t *atime)
{
    uint32_t w0 =
        (uint32_t)verf[0] << 24 | (uint32_t)verf[1] << 16 | (uint32_t)verf[2] << 8 | verf[3];
    uint32_t w1 =
        (uint32_t)verf[4] << 24 | (uint32_t)verf[5] << 16 | (uint32_t)verf[6] << 8 | verf[7];
    *mtime = w0 & 0x7fffffffu;
    *atime = w1 & 0x7fffffffu;
}

/* Whether an existing entry is the file an earlier EXCLUSIVE CREATE with
 * this verifier made (and nobody has written or touched since). */
static bool verf_matches(const vfs_attr *a, const uint8_t verf[NFS3_CREATEVERFSIZE])
{
    int64_t mt, at;
    verf_times(verf, &mt, &at);
    return S_ISREG(a->mode) && a->size == 0 && a->mtime.sec == mt && a->atime.sec == at;
}

/* The name exists already: what each mode makes of that. UNCHECKED on a
 * regular file applies the size alone (an open with O_TRUNC), as knfsd
 * does: the other attributes were meant for a new file, and an open of an
 * existing one must not chmod it. Anything else but a regular file is
 * answered as it is, again as knfsd does. */
static uint32_t create_existing(const nfs_req *r, const nfs3_create_args *a, const vfs_attr *old)
{
    if (a->how == NFS3_EXCLUSIVE)
        return verf_matches(old, a->verf) ? NFS3_OK : NFS3ERR_EXIST;
    if (a->how != NFS3_UNCHECKED)
        return NFS3ERR_EXIST;
    if (!S_ISREG(old->mode) || !a->attr.set_size)
        return NFS3_OK;
    vfs_setattr_in sa = {.valid = VFS_SET_SIZE, .size = a->attr.size};
    return nfs_err_take(vfs_setattr(r->ctx->v, old->ino, NULL, &sa, &r->cred, NULL));
}

/* Makes the file, then gives it its attributes: the sattr3's, or the
 * verifier for EXCLUSIVE. The verifier's times are the server's
 * bookkeeping rather than the caller's request, so they are set as root
 * (the owner rules would refuse a caller who is not the new file's owner,
 * as with a server that is not root). */
static uint32_t create_new(const nfs_req *r, uint64_t dir, const nfs3_create_args *a, uint64_t *ino)
{
    vfs *v = r->ctx->v;
    bool excl = a->how == NFS3_EXCLUSIVE;
    uint32_t mode = excl ? NFS_EXCL_MODE : mode_or(&a->attr, NFS_FILE_MODE_DEFAULT);
    vfs_attr at;
    vfs_file *f = NULL;
    strata_err *e = vfs_create(v, dir, a->where.name, strlen(a->where.name), mode,
                               O_WRONLY | O_CREAT | O_EXCL, &r->cred, &at, &f);
    if (e)
        return nfs_err_take(e);
    uint32_t st;
    if (excl) {
        vfs_setattr_in sa = {.valid = VFS_SET_ATIME | VFS_SET_MTIME};
        verf_times(a->verf, &sa.mtime.sec, &sa.atime.sec);
        const vfs_cred root = {0, 0};
        st = nfs_err_take(vfs_setattr(v, at.ino, f, &sa, &root, NULL));
    } else {
        st = apply_new_attrs(r, at.ino, f, &a->attr, true, true);
    }
    vfs_release(v, f);
    vfs_forget(v, at.ino, 1);
    *ino = at.ino;
    return st;
}

/* GUARDED is one create that fails on an existing name. UNCHECKED and
 * EXCLUSIVE must tell a made file from a found one, so they look first
 * and create exclusively, looking again if someone else made the name in
 * between. */
static uint32_t create_file(const nfs_req *r, uint64_t dir, const nfs3_create_args *a,
                            uint64_t *ino)
{
    vfs *v = r->ctx->v;
    const char *name = a->where.name;
    size_t len = strlen(name);
    *ino = 0;
    /* The vfs would look "." and ".." up as directories; they always exist. */
    if (nfs_is_dot_name(name))
        return NFS3ERR_EXIST;
    if (a->how == NFS3_GUARDED)
        return create_new(r, dir, a, ino);
    for (int i = 0; i < NFS_CREATE_TRIES; i++) {
        vfs_attr old;
        strata_err *e = vfs_lookup(v, dir, name, len, &old);
        if (!e) {
            vfs_forget(v, old.ino, 1);
            *ino = old.ino;
            return create_existing(r, a, &old);
        }
        if (vfs_errno(e) != ENOENT)
            return nfs_err_take(e);
        strata_err_free(e);
        uint32_t st = create_new(r, dir, a, ino);
        if (st != NFS3ERR_EXIST)
            return st;
    }
    return NFS3ERR_JUKEBOX; /* the name keeps changing: let the client try again */
}

/* The reply of all four procedures: the new entry's handle and
 * attributes on success, the directory's wcc data always. */
static void reply_create(nfs_req *r, uint32_t st, uint64_t dir, const nfs3_pre_attr *pre,
                         uint64_t ino)
{
    nfs3_create_res res;
    memset(&res, 0, sizeof(res));
    res.status = st;
    if (st == NFS3_OK) {
        res.fh.present = true;
        nfs_fh_of(r, ino, &res.fh.fh);
        nfs_post_attr(r, ino, &res.obj_attr);
    }
    nfs_dir_wcc(r, dir, pre, &res.dir_wcc);
    nfs_reply_ok(r);
    nfs3_enc_create_res(r->reply, &res);
}

bool nfs3_proc_create(nfs_req *r)
{
    nfs3_create_args a;
    if (!nfs3_dec_create_args(&r->args, &a))
        return false;
    uint64_t dir = 0, ino = 0;
    nfs3_pre_attr pre;
    uint32_t st = nfs_dir_for_change(r, &a.where.dir, &dir, &pre);
    if (st == NFS3_OK)
        st = create_file(r, dir, &a, &ino);
    reply_create(r, st, dir, &pre, ino);
    return true;
}

/* ---- MKDIR, SYMLINK, MKNOD --------------------------------------------- */

/* After the vfs made an entry (e NULL, *at its attributes): its lookup is
 * given back at once (the handle is enough to find it again), and the
 * rest of its sattr3 is applied. */
static uint32_t made_entry(const nfs_req *r, strata_err *e, const vfs_attr *at, const nfs3_sattr *s,
                           bool has_mode, uint64_t *ino)
{
    uint32_t st = nfs_err_take(e);
    if (st != NFS3_OK)
        return st;
    vfs_forget(r->ctx->v, at->ino, 1);
    *ino = at->ino;
    return apply_new_attrs(r, at->ino, NULL, s, false, has_mode);
}

bool nfs3_proc_mkdir(nfs_req *r)
{
    nfs3_mkdir_args a;
    if (!nfs3_dec_mkdir_args(&r->args, &a))
        return false;
    uint64_t dir = 0, ino = 0;
    nfs3_pre_attr pre;
    uint32_t st = nfs_dir_for_change(r, &a.where.dir, &dir, &pre);
    if (st == NFS3_OK) {
        vfs_attr at;
        strata_err *e = vfs_mkdir(r->ctx->v, dir, a.where.name, strlen(a.where.name),
                                  mode_or(&a.attr, NFS_DIR_MODE_DEFAULT), &r->cred, &at);
        st = made_entry(r, e, &at, &a.attr, true, &ino);
    }
    reply_create(r, st, dir, &pre, ino);
    return true;
}

/* A symbolic link has no mode of its own (knfsd ignores the one sent,
 * and the Linux client always sends 0777). */
bool nfs3_proc_symlink(nfs_req *r)
{
    nfs3_symlink_args a;
    if (!nfs3_dec_symlink_args(&r->args, &a))
        return false;
    uint64_t dir = 0, ino = 0;
    nfs3_pre_attr pre;
    uint32_t st = nfs_dir_for_change(r, &a.where.dir, &dir, &pre);
    if (st == NFS3_OK) {
        vfs_attr at;
        strata_err *e =
            vfs_symlink(r->ctx->v, dir, a.where.name, strlen(a.where.name), a.data, &r->cred, &at);
        st = made_entry(r, e, &at, &a.attr, false, &ino);
    }
    reply_create(r, st, dir, &pre, ino);
    return true;
}

/* What MKNOD makes of a type: a fifo is made; devices and sockets are
 * NOTSUPP (a layer holds neither, so the vfs refuses them anyway); the
 * types with procedures of their own are BADTYPE, as RFC 1813 says. */
static uint32_t mknod_type_status(uint32_t type)
{
    switch (type) {
    case NF3FIFO:
        return NFS3_OK;
    case NF3CHR:
    case NF3BLK:
    case NF3SOCK:
        return NFS3ERR_NOTSUPP;
    default:
        return NFS3ERR_BADTYPE;
    }
}

bool nfs3_proc_mknod(nfs_req *r)
{
    nfs3_mknod_args a;
    if (!nfs3_dec_mknod_args(&r->args, &a))
        return false;
    uint64_t dir = 0, ino = 0;
    nfs3_pre_attr pre;
    uint32_t st = nfs_dir_for_change(r, &a.where.dir, &dir, &pre);
    if (st == NFS3_OK)
        st = mknod_type_status(a.type);
    if (st == NFS3_OK) {
        vfs_attr at;
        uint32_t mode = S_IFIFO | mode_or(&a.attr, NFS_FILE_MODE_DEFAULT);
        strata_err *e =
            vfs_mknod(r->ctx->v, dir, a.where.name, strlen(a.where.name), mode, 0, &r->cred, &at);
        st = made_entry(r, e, &at, &a.attr, true, &ino);
    }
    reply_create(r, st, dir, &pre, ino);
    return true;
}
