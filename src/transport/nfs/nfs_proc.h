/* What the NFSv3 and MOUNTv3 procedure handlers share: the server's
 * context, one request as a handler sees it, and the conversions between
 * the vfs and the protocol (handles, attributes, wcc data).
 *
 * A handler decodes its arguments from r->args; if they are garbage it
 * returns false, writing nothing, and the dispatcher answers
 * GARBAGE_ARGS. Otherwise it calls nfs_reply_ok(r) (the RPC header of an
 * accepted call) and encodes its result with the nfs3_xdr.h encoders,
 * then returns true. Handlers never print and never keep state between
 * calls: NFS is stateless, and the vfs rebuilds any inode from its number
 * (docs/VFS.md), so every handle stays good as long as its slot's view
 * (generation) does. A lookup the vfs counts is given back at once. */
#ifndef STRATA_TRANSPORT_NFS_NFS_PROC_H
#define STRATA_TRANSPORT_NFS_NFS_PROC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "transport/nfs/fh.h"
#include "transport/nfs/nfs3_xdr.h"
#include "transport/nfs/rpc.h"
#include "transport/nfs/xdr.h"
#include "vfs/vfs.h"

/* READ and WRITE at most this much per call (FSINFO's rtmax, wtmax). */
#define NFS_IO_MAX (1u << 20)
/* A READDIR(PLUS) reply at most this big, whatever the client asks. */
#define NFS_DIR_MAX (64u << 10)
/* MOUNT's list of who mounted what (DUMP), at most this long. */
#define NFS_MOUNTS_MAX 64

/* The server: one exported view, the root of one slot. */
typedef struct nfs_ctx {
    vfs *v;
    uint16_t slot;           /* the exported view's slot */
    uint64_t instance;       /* in every handle (fh.h) */
    uint32_t owner_uid;      /* AUTH_SYS callers allowed: this uid, and 0 */
    uint8_t write_verf[8];   /* WRITE's and COMMIT's verifier: new per server */
    const char *export_path; /* what MNT accepts ("/") */

    pthread_mutex_t mu; /* the mount list: who said MNT (host, path), for DUMP */
    mnt3_mount mounts[NFS_MOUNTS_MAX];
    unsigned nmounts;
} nfs_ctx;

/* One call, as a handler gets it. */
typedef struct nfs_req {
    nfs_ctx *ctx;
    const rpc_call *call;
    vfs_cred cred; /* the caller's AUTH_SYS uid and gid */
    xdr_dec args;
    xdr_enc *reply;
    /* The loop thread's try (nfs_dispatch_try): READ reads from the page
     * cache only, and says blocked when the bytes are not there. */
    bool cached_only;
    bool blocked;
} nfs_req;

typedef bool (*nfs_proc_fn)(nfs_req *r);

/* Writes the RPC header of a successful call, before the results. */
void nfs_reply_ok(nfs_req *r);

/* ---- handles ---------------------------------------------------------- */

/* The inode a handle names, or NFS3ERR_STALE: a handle of another server,
 * another slot, an earlier view of the slot, or an entry since removed.
 * Telling the last apart reads the inode's attributes; they go to *attr
 * (may be NULL), so that a handler need not read them again. */
uint32_t nfs_fh_resolve(const nfs_req *r, const nfs3_fh *fh, uint64_t *ino, vfs_attr *attr);
void nfs_fh_of(const nfs_req *r, uint64_t ino, nfs3_fh *out);
/* The exported root's handle. */
void nfs_fh_root(const nfs_req *r, nfs3_fh *out);

/* ---- attributes ------------------------------------------------------- */

void nfs_fattr_of(const nfs_ctx *ctx, const vfs_attr *a, nfs3_fattr *out);
/* post_op_attr of attributes in hand. */
void nfs_post_of(const nfs_ctx *ctx, const vfs_attr *a, nfs3_post_attr *out);
/* post_op_attr of ino: present when its attributes can be read. */
void nfs_post_attr(const nfs_req *r, uint64_t ino, nfs3_post_attr *out);
/* pre_op_attr (wcc_attr) of attributes read before a change. */
void nfs_pre_of(const vfs_attr *a, nfs3_pre_attr *out);
/* wcc_data: pre (read before the change) and the attributes now. */
void nfs_wcc(const nfs_req *r, uint64_t ino, const nfs3_pre_attr *pre, nfs3_wcc *out);

/* ---- directories that change ------------------------------------------ */

/* The directory a namespace change goes to, checked as Linux's server
 * checks it (the vfs leaves that to the transport, and NFS has no kernel
 * to do it): the handle (STALE), a directory (NOTDIR), write and search
 * permission for the caller (ACCES, ROFS). *pre gets its attributes
 * before the change, for the reply's wcc_data. */
uint32_t nfs_dir_for_change(const nfs_req *r, const nfs3_fh *fh, uint64_t *dir, nfs3_pre_attr *pre);
/* wcc_data of dir (0: the handle named nothing, so nothing to say). */
void nfs_dir_wcc(const nfs_req *r, uint64_t dir, const nfs3_pre_attr *pre, nfs3_wcc *out);
/* "." or "..": names a change may not make or take. */
bool nfs_is_dot_name(const char *name);

/* sattr3 as the vfs's setattr request (what is set and to what). */
void nfs_sattr_to_vfs(const nfs3_sattr *s, vfs_setattr_in *out);

/* ---- the procedure tables (one file per concern) ---------------------- */

/* NFSv3 procedures 0..21, and MOUNTv3 0..5; NULL where not served. */
extern const nfs_proc_fn nfs3_procs[22];
extern const nfs_proc_fn mnt3_procs[6];

/* nfs3_attr.c */
bool nfs3_proc_null(nfs_req *r);
bool nfs3_proc_getattr(nfs_req *r);
bool nfs3_proc_setattr(nfs_req *r);
bool nfs3_proc_access(nfs_req *r);
/* nfs3_lookup.c */
bool nfs3_proc_lookup(nfs_req *r);
bool nfs3_proc_readlink(nfs_req *r);
/* nfs3_io.c */
bool nfs3_proc_read(nfs_req *r);
bool nfs3_proc_write(nfs_req *r);
bool nfs3_proc_commit(nfs_req *r);
/* nfs3_create.c */
bool nfs3_proc_create(nfs_req *r);
bool nfs3_proc_mkdir(nfs_req *r);
bool nfs3_proc_symlink(nfs_req *r);
bool nfs3_proc_mknod(nfs_req *r);
/* nfs3_remove.c */
bool nfs3_proc_remove(nfs_req *r);
bool nfs3_proc_rmdir(nfs_req *r);
bool nfs3_proc_rename(nfs_req *r);
bool nfs3_proc_link(nfs_req *r);
/* nfs3_dir.c */
bool nfs3_proc_readdir(nfs_req *r);
bool nfs3_proc_readdirplus(nfs_req *r);
/* nfs3_fs.c */
bool nfs3_proc_fsstat(nfs_req *r);
bool nfs3_proc_fsinfo(nfs_req *r);
bool nfs3_proc_pathconf(nfs_req *r);
/* mount3.c */
bool mnt3_proc_null(nfs_req *r);
bool mnt3_proc_mnt(nfs_req *r);
bool mnt3_proc_dump(nfs_req *r);
bool mnt3_proc_umnt(nfs_req *r);
bool mnt3_proc_umntall(nfs_req *r);
bool mnt3_proc_export(nfs_req *r);

#endif
