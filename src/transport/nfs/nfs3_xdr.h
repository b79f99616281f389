/* The NFSv3 protocol (RFC 1813) and its MOUNT v3 companion (RFC 1813
 * appendix I) as C types and XDR codecs, over xdr.h.
 *
 * Server side (what strata's NFS server uses): nfs3_dec_*_args decode a
 * procedure's arguments from an untrusted client, nfs3_enc_*_res encode
 * its results. Client side (tests, a later test client): the mirror,
 * nfs3_enc_*_args and nfs3_dec_*_res. The same for mnt3_.
 *
 * Decoding. Every top-level decoder reads exactly one procedure's
 * arguments (or results) and returns false unless the whole buffer was
 * consumed without error (xdr_done): a short buffer, a length over its
 * bound, a boolean or discriminant that is not a member of its union, a
 * name with a NUL byte, non-zero padding or trailing bytes all return
 * false, and the server answers GARBAGE_ARGS. The output struct is zeroed
 * first, so after a failure it holds no stale or partial data worth
 * trusting, and after success every field off the wire's branch is zero.
 * No wire length drives an allocation: strings are copied into fixed
 * arrays, and bulk data (WRITE's and READ's bytes) points into the
 * decoder's buffer, valid while that buffer is.
 *
 * Bounds on what the server accepts:
 *   filehandle         <= NFS3_FHSIZE (64) bytes (0 is accepted here; fh.c
 *                      answers BADHANDLE)
 *   filename3          <= NFS3_NAME_WIRE_MAX (1024) bytes, no NUL. The
 *                      protocol leaves it unbounded; a longer one is
 *                      garbage (its bytes are refused before they are
 *                      copied). Names over the vfs's limit, NFS3_NAME_MAX
 *                      (255, PATH_NAME_MAX), are decoded and reach the
 *                      vfs, whose ENAMETOOLONG is NFS3ERR_NAMETOOLONG, as
 *                      the RFC wants. "", "." and ".." pass: they are the
 *                      server's call.
 *   nfspath3 (symlink) <= NFS3_PATH_MAX (4096) bytes, no NUL
 *   dirpath (MOUNT)    <= MNT3_PATH_MAX (1024, MNTPATHLEN) bytes, no NUL
 *   name (MOUNT)       <= MNT3_NAME_MAX (255, MNTNAMLEN) bytes, no NUL
 *   WRITE data         <= the max the caller passes (its wtmax), and its
 *                      length must equal the count field (see
 *                      nfs3_dec_write_args)
 *   counts (READ, READDIR, COMMIT...) are returned as given: clamping
 *   them to the server's limits is the server's business.
 *
 * Encoding. Encoders append to an xdr_enc and never fail by return value:
 * running out of room sticks in e->err, which the caller checks once. A
 * result struct carries the status and every field of both branches; the
 * encoder writes the branch the status selects (the "resok" fields when
 * status is NFS3_OK, else the "resfail" ones), as the RFC's unions do.
 * Result encoders check the bounds the decoders enforce (a filehandle
 * over 64 bytes, a string over its bound), setting e->err rather than
 * writing what the other side would have to reject. */
#ifndef STRATA_TRANSPORT_NFS_NFS3_XDR_H
#define STRATA_TRANSPORT_NFS_NFS3_XDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/nfs/xdr.h"

/* ---- constants ------------------------------------------------------------ */

#define NFS3_PROGRAM        100003
#define NFS3_VERSION        3
#define NFS3_FHSIZE         64
#define NFS3_COOKIEVERFSIZE 8
#define NFS3_CREATEVERFSIZE 8
#define NFS3_WRITEVERFSIZE  8
#define NFS3_NAME_MAX       255  /* the longest name the server takes (FSINFO, PATHCONF) */
#define NFS3_NAME_WIRE_MAX  1024 /* the longest filename3 decoded (see above) */
#define NFS3_PATH_MAX       4096 /* nfspath3, a symlink's target (our bound) */

enum nfs3_proc {
    NFS3_PROC_NULL = 0,
    NFS3_PROC_GETATTR = 1,
    NFS3_PROC_SETATTR = 2,
    NFS3_PROC_LOOKUP = 3,
    NFS3_PROC_ACCESS = 4,
    NFS3_PROC_READLINK = 5,
    NFS3_PROC_READ = 6,
    NFS3_PROC_WRITE = 7,
    NFS3_PROC_CREATE = 8,
    NFS3_PROC_MKDIR = 9,
    NFS3_PROC_SYMLINK = 10,
    NFS3_PROC_MKNOD = 11,
    NFS3_PROC_REMOVE = 12,
    NFS3_PROC_RMDIR = 13,
    NFS3_PROC_RENAME = 14,
    NFS3_PROC_LINK = 15,
    NFS3_PROC_READDIR = 16,
    NFS3_PROC_READDIRPLUS = 17,
    NFS3_PROC_FSSTAT = 18,
    NFS3_PROC_FSINFO = 19,
    NFS3_PROC_PATHCONF = 20,
    NFS3_PROC_COMMIT = 21,
    NFS3_PROC_COUNT = 22,
};

/* nfsstat3 */
enum nfs3_stat {
    NFS3_OK = 0,
    NFS3ERR_PERM = 1,
    NFS3ERR_NOENT = 2,
    NFS3ERR_IO = 5,
    NFS3ERR_NXIO = 6,
    NFS3ERR_ACCES = 13,
    NFS3ERR_EXIST = 17,
    NFS3ERR_XDEV = 18,
    NFS3ERR_NODEV = 19,
    NFS3ERR_NOTDIR = 20,
    NFS3ERR_ISDIR = 21,
    NFS3ERR_INVAL = 22,
    NFS3ERR_FBIG = 27,
    NFS3ERR_NOSPC = 28,
    NFS3ERR_ROFS = 30,
    NFS3ERR_MLINK = 31,
    NFS3ERR_NAMETOOLONG = 63,
    NFS3ERR_NOTEMPTY = 66,
    NFS3ERR_DQUOT = 69,
    NFS3ERR_STALE = 70,
    NFS3ERR_REMOTE = 71,
    NFS3ERR_BADHANDLE = 10001,
    NFS3ERR_NOT_SYNC = 10002,
    NFS3ERR_BAD_COOKIE = 10003,
    NFS3ERR_NOTSUPP = 10004,
    NFS3ERR_TOOSMALL = 10005,
    NFS3ERR_SERVERFAULT = 10006,
    NFS3ERR_BADTYPE = 10007,
    NFS3ERR_JUKEBOX = 10008,
};

/* ftype3 */
enum nfs3_ftype {
    NF3REG = 1,
    NF3DIR = 2,
    NF3BLK = 3,
    NF3CHR = 4,
    NF3LNK = 5,
    NF3SOCK = 6,
    NF3FIFO = 7,
};

/* ACCESS3args.access and ACCESS3resok.access */
#define NFS3_ACCESS_READ    0x0001
#define NFS3_ACCESS_LOOKUP  0x0002
#define NFS3_ACCESS_MODIFY  0x0004
#define NFS3_ACCESS_EXTEND  0x0008
#define NFS3_ACCESS_DELETE  0x0010
#define NFS3_ACCESS_EXECUTE 0x0020

/* FSINFO3resok.properties */
#define NFS3_FSF_LINK        0x0001
#define NFS3_FSF_SYMLINK     0x0002
#define NFS3_FSF_HOMOGENEOUS 0x0008
#define NFS3_FSF_CANSETTIME  0x0010

/* time_how (sattr3's set_atime and set_mtime) */
enum nfs3_time_how {
    NFS3_DONT_CHANGE = 0,
    NFS3_SET_TO_SERVER_TIME = 1,
    NFS3_SET_TO_CLIENT_TIME = 2,
};

/* createmode3 */
enum nfs3_createmode {
    NFS3_UNCHECKED = 0,
    NFS3_GUARDED = 1,
    NFS3_EXCLUSIVE = 2,
};

/* stable_how */
enum nfs3_stable {
    NFS3_UNSTABLE = 0,
    NFS3_DATA_SYNC = 1,
    NFS3_FILE_SYNC = 2,
};

/* ---- basic structures ----------------------------------------------------- */

typedef struct nfs3_time { /* nfstime3 */
    uint32_t sec;
    uint32_t nsec;
} nfs3_time;

typedef struct nfs3_fh { /* nfs_fh3 (and MOUNT's fhandle3) */
    uint32_t len;        /* 0..NFS3_FHSIZE */
    uint8_t data[NFS3_FHSIZE];
} nfs3_fh;

typedef struct nfs3_spec { /* specdata3: a device's major and minor */
    uint32_t major;
    uint32_t minor;
} nfs3_spec;

typedef struct nfs3_fattr { /* fattr3 */
    uint32_t type;          /* enum nfs3_ftype */
    uint32_t mode;
    uint32_t nlink;
    uint32_t uid;
    uint32_t gid;
    uint64_t size;
    uint64_t used;
    nfs3_spec rdev;
    uint64_t fsid;
    uint64_t fileid;
    nfs3_time atime;
    nfs3_time mtime;
    nfs3_time ctime;
} nfs3_fattr;

typedef struct nfs3_post_attr { /* post_op_attr */
    bool present;
    nfs3_fattr attr;
} nfs3_post_attr;

typedef struct nfs3_wcc_attr { /* wcc_attr */
    uint64_t size;
    nfs3_time mtime;
    nfs3_time ctime;
} nfs3_wcc_attr;

typedef struct nfs3_pre_attr { /* pre_op_attr */
    bool present;
    nfs3_wcc_attr attr;
} nfs3_pre_attr;

typedef struct nfs3_wcc { /* wcc_data */
    nfs3_pre_attr before;
    nfs3_post_attr after;
} nfs3_wcc;

typedef struct nfs3_post_fh { /* post_op_fh3 */
    bool present;
    nfs3_fh fh;
} nfs3_post_fh;

/* sattr3: each set_* says whether its value is on the wire. set_atime and
 * set_mtime are enum nfs3_time_how; the time goes with
 * NFS3_SET_TO_CLIENT_TIME only. */
typedef struct nfs3_sattr {
    bool set_mode;
    uint32_t mode;
    bool set_uid;
    uint32_t uid;
    bool set_gid;
    uint32_t gid;
    bool set_size;
    uint64_t size;
    uint32_t set_atime;
    nfs3_time atime;
    uint32_t set_mtime;
    nfs3_time mtime;
} nfs3_sattr;

typedef struct nfs3_dirop { /* diropargs3 */
    nfs3_fh dir;
    char name[NFS3_NAME_WIRE_MAX + 1];
} nfs3_dirop;

/* ---- arguments ------------------------------------------------------------ */

/* NULL, and MOUNT's NULL, DUMP, UMNTALL and EXPORT, take no arguments:
 * nfs3_dec_void checks that nothing came. */

/* GETATTR, READLINK, FSSTAT, FSINFO and PATHCONF take a filehandle
 * alone (object, symlink, fsroot): nfs3_dec_fh_args. */

/* LOOKUP, REMOVE and RMDIR take a diropargs3 alone (what, object):
 * nfs3_dec_dirop_args. */

typedef struct nfs3_setattr_args {
    nfs3_fh fh;
    nfs3_sattr attr;
    bool guard;            /* sattrguard3.check */
    nfs3_time guard_ctime; /* when guard: the ctime the object must have */
} nfs3_setattr_args;

typedef struct nfs3_access_args {
    nfs3_fh fh;
    uint32_t access; /* NFS3_ACCESS_* bits, as given (unknown bits too) */
} nfs3_access_args;

typedef struct nfs3_read_args {
    nfs3_fh fh;
    uint64_t offset;
    uint32_t count;
} nfs3_read_args;

typedef struct nfs3_write_args {
    nfs3_fh fh;
    uint64_t offset;
    uint32_t count;      /* == data_len (checked) */
    uint32_t stable;     /* enum nfs3_stable */
    const uint8_t *data; /* into the decoder's buffer */
    uint32_t data_len;
} nfs3_write_args;

typedef struct nfs3_create_args {
    nfs3_dirop where;
    uint32_t how;                      /* enum nfs3_createmode */
    nfs3_sattr attr;                   /* UNCHECKED, GUARDED */
    uint8_t verf[NFS3_CREATEVERFSIZE]; /* EXCLUSIVE */
} nfs3_create_args;

typedef struct nfs3_mkdir_args {
    nfs3_dirop where;
    nfs3_sattr attr;
} nfs3_mkdir_args;

typedef struct nfs3_symlink_args {
    nfs3_dirop where;
    nfs3_sattr attr;
    char data[NFS3_PATH_MAX + 1]; /* the target */
} nfs3_symlink_args;

/* mknoddata3: CHR and BLK carry attr and spec, SOCK and FIFO attr only,
 * REG, DIR and LNK nothing (the server answers NFS3ERR_BADTYPE). */
typedef struct nfs3_mknod_args {
    nfs3_dirop where;
    uint32_t type; /* enum nfs3_ftype, 1..7 (anything else is garbage) */
    nfs3_sattr attr;
    nfs3_spec spec;
} nfs3_mknod_args;

typedef struct nfs3_rename_args {
    nfs3_dirop from;
    nfs3_dirop to;
} nfs3_rename_args;

typedef struct nfs3_link_args {
    nfs3_fh fh;
    nfs3_dirop link;
} nfs3_link_args;

typedef struct nfs3_readdir_args {
    nfs3_fh dir;
    uint64_t cookie;
    uint8_t verf[NFS3_COOKIEVERFSIZE];
    uint32_t count;
} nfs3_readdir_args;

typedef struct nfs3_readdirplus_args {
    nfs3_fh dir;
    uint64_t cookie;
    uint8_t verf[NFS3_COOKIEVERFSIZE];
    uint32_t dircount;
    uint32_t maxcount;
} nfs3_readdirplus_args;

typedef struct nfs3_commit_args {
    nfs3_fh fh;
    uint64_t offset;
    uint32_t count;
} nfs3_commit_args;

/* ---- results -------------------------------------------------------------- */

/* NULL (and MOUNT's NULL, UMNT, UMNTALL) return nothing. */

typedef struct nfs3_getattr_res {
    uint32_t status;
    nfs3_fattr attr; /* ok */
} nfs3_getattr_res;

/* SETATTR, REMOVE and RMDIR: a wcc_data on both branches (obj_wcc,
 * dir_wcc). */
typedef struct nfs3_wcc_res {
    uint32_t status;
    nfs3_wcc wcc;
} nfs3_wcc_res;

typedef struct nfs3_lookup_res {
    uint32_t status;
    nfs3_fh fh;              /* ok */
    nfs3_post_attr obj_attr; /* ok */
    nfs3_post_attr dir_attr; /* both */
} nfs3_lookup_res;

typedef struct nfs3_access_res {
    uint32_t status;
    nfs3_post_attr attr; /* both */
    uint32_t access;     /* ok */
} nfs3_access_res;

typedef struct nfs3_readlink_res {
    uint32_t status;
    nfs3_post_attr attr;          /* both */
    char data[NFS3_PATH_MAX + 1]; /* ok */
} nfs3_readlink_res;

/* READ: the data's length is count (they are one number on our side;
 * the wire has both and the client decoder insists they agree). */
typedef struct nfs3_read_res {
    uint32_t status;
    nfs3_post_attr attr; /* both */
    uint32_t count;      /* ok */
    bool eof;            /* ok */
    const uint8_t *data; /* ok: count bytes (decoded: into the buffer) */
} nfs3_read_res;

typedef struct nfs3_write_res {
    uint32_t status;
    nfs3_wcc wcc;                     /* both */
    uint32_t count;                   /* ok */
    uint32_t committed;               /* ok: enum nfs3_stable */
    uint8_t verf[NFS3_WRITEVERFSIZE]; /* ok */
} nfs3_write_res;

/* CREATE, MKDIR, SYMLINK and MKNOD. */
typedef struct nfs3_create_res {
    uint32_t status;
    nfs3_post_fh fh;         /* ok */
    nfs3_post_attr obj_attr; /* ok */
    nfs3_wcc dir_wcc;        /* both */
} nfs3_create_res;

typedef struct nfs3_rename_res {
    uint32_t status;
    nfs3_wcc from_wcc; /* both */
    nfs3_wcc to_wcc;   /* both */
} nfs3_rename_res;

typedef struct nfs3_link_res {
    uint32_t status;
    nfs3_post_attr attr; /* both */
    nfs3_wcc dir_wcc;    /* both */
} nfs3_link_res;

typedef struct nfs3_fsstat_res {
    uint32_t status;
    nfs3_post_attr attr; /* both; the rest ok */
    uint64_t tbytes, fbytes, abytes;
    uint64_t tfiles, ffiles, afiles;
    uint32_t invarsec;
} nfs3_fsstat_res;

typedef struct nfs3_fsinfo_res {
    uint32_t status;
    nfs3_post_attr attr; /* both; the rest ok */
    uint32_t rtmax, rtpref, rtmult;
    uint32_t wtmax, wtpref, wtmult;
    uint32_t dtpref;
    uint64_t maxfilesize;
    nfs3_time time_delta;
    uint32_t properties; /* NFS3_FSF_* */
} nfs3_fsinfo_res;

typedef struct nfs3_pathconf_res {
    uint32_t status;
    nfs3_post_attr attr; /* both; the rest ok */
    uint32_t linkmax;
    uint32_t name_max;
    bool no_trunc;
    bool chown_restricted;
    bool case_insensitive;
    bool case_preserving;
} nfs3_pathconf_res;

typedef struct nfs3_commit_res {
    uint32_t status;
    nfs3_wcc wcc;                     /* both */
    uint8_t verf[NFS3_WRITEVERFSIZE]; /* ok */
} nfs3_commit_res;

/* ---- server side: decode arguments ------------------------------------------ */

bool nfs3_dec_void(xdr_dec *d);
bool nfs3_dec_fh_args(xdr_dec *d, nfs3_fh *fh);
bool nfs3_dec_dirop_args(xdr_dec *d, nfs3_dirop *a);
bool nfs3_dec_setattr_args(xdr_dec *d, nfs3_setattr_args *a);
bool nfs3_dec_access_args(xdr_dec *d, nfs3_access_args *a);
bool nfs3_dec_read_args(xdr_dec *d, nfs3_read_args *a);
/* data_max is the most data the server takes (its wtmax): more is garbage,
 * as is a count that differs from the data's length (RFC 1813 gives both
 * and says nothing of a mismatch; Linux's nfsd refuses one too, and the
 * server would otherwise have to pick which to believe). */
bool nfs3_dec_write_args(xdr_dec *d, nfs3_write_args *a, uint32_t data_max);
bool nfs3_dec_create_args(xdr_dec *d, nfs3_create_args *a);
bool nfs3_dec_mkdir_args(xdr_dec *d, nfs3_mkdir_args *a);
bool nfs3_dec_symlink_args(xdr_dec *d, nfs3_symlink_args *a);
bool nfs3_dec_mknod_args(xdr_dec *d, nfs3_mknod_args *a);
bool nfs3_dec_rename_args(xdr_dec *d, nfs3_rename_args *a);
bool nfs3_dec_link_args(xdr_dec *d, nfs3_link_args *a);
bool nfs3_dec_readdir_args(xdr_dec *d, nfs3_readdir_args *a);
bool nfs3_dec_readdirplus_args(xdr_dec *d, nfs3_readdirplus_args *a);
bool nfs3_dec_commit_args(xdr_dec *d, nfs3_commit_args *a);

/* ---- server side: encode results -------------------------------------------- */

void nfs3_enc_getattr_res(xdr_enc *e, const nfs3_getattr_res *r);
void nfs3_enc_wcc_res(xdr_enc *e, const nfs3_wcc_res *r);
void nfs3_enc_lookup_res(xdr_enc *e, const nfs3_lookup_res *r);
void nfs3_enc_access_res(xdr_enc *e, const nfs3_access_res *r);
void nfs3_enc_readlink_res(xdr_enc *e, const nfs3_readlink_res *r);
/* Copies r->data; nfs3_read_reply_begin avoids the copy. */
void nfs3_enc_read_res(xdr_enc *e, const nfs3_read_res *r);
void nfs3_enc_write_res(xdr_enc *e, const nfs3_write_res *r);
void nfs3_enc_create_res(xdr_enc *e, const nfs3_create_res *r);
void nfs3_enc_rename_res(xdr_enc *e, const nfs3_rename_res *r);
void nfs3_enc_link_res(xdr_enc *e, const nfs3_link_res *r);
void nfs3_enc_fsstat_res(xdr_enc *e, const nfs3_fsstat_res *r);
void nfs3_enc_fsinfo_res(xdr_enc *e, const nfs3_fsinfo_res *r);
void nfs3_enc_pathconf_res(xdr_enc *e, const nfs3_pathconf_res *r);
void nfs3_enc_commit_res(xdr_enc *e, const nfs3_commit_res *r);

/* READ's OK reply with the file's bytes read straight into the reply:
 * begin writes everything before the data and returns room for max bytes
 * (NULL, with e->err set, if the encoder has no room: the reply needs
 * 16 + 4 (88 with attributes) + max rounded up to 4 bytes of it, so clamp
 * max to xdr_enc_room less 104 first). The pointer is valid until the
 * next write to the encoder. end fills in count (<= max; more is taken
 * as max) and eof, zeroes the padding and drops the unused room. */
typedef struct nfs3_read_reply {
    xdr_enc *e;
    size_t count_at; /* offset of count; eof and the data's length follow */
    size_t data_at;  /* offset of the data */
    uint32_t max;
} nfs3_read_reply;

uint8_t *nfs3_read_reply_begin(nfs3_read_reply *rr, xdr_enc *e, const nfs3_post_attr *attr,
                               uint32_t max);
void nfs3_read_reply_end(nfs3_read_reply *rr, uint32_t count, bool eof);

/* READDIR and READDIRPLUS replies, an entry at a time.
 *
 * Byte accounting (RFC 1813 3.3.16, 3.3.17; all sizes are XDR bytes):
 *   READDIR count and READDIRPLUS maxcount bound the READDIR3resok /
 *   READDIRPLUS3resok: everything after the status word, i.e.
 *     dir_attributes (4, or 88 with attributes) + cookieverf (8)
 *     + per entry: value_follows (4) + fileid (8) + name (4 + len + pad)
 *                  + cookie (8)
 *                  [READDIRPLUS: + name_attributes (4 or 88)
 *                                + name_handle (4, or 8 + len + pad)]
 *     + the list's final value_follows (4) + eof (4).
 *   An entry is taken only if, with the 8 closing bytes, the resok stays
 *   within count/maxcount, and the whole reply within the encoder's room.
 *   READDIRPLUS dircount bounds the directory information alone: per
 *   entry value_follows + fileid + name + cookie (24 + len + pad, the
 *   size the entry would have in a READDIR reply), no header, no
 *   attributes or handles. The first entry is always allowed against
 *   dircount (it is a hint, and a client sending a small one must still
 *   make progress); never against maxcount.
 *
 * The first refused entry closes the list (later adds are refused too) and
 * makes eof false whatever end is told, so the client resumes from the
 * last cookie taken. If no entry fits at all (or count is too small for
 * even the empty list), end rewrites the reply as NFS3ERR_TOOSMALL with
 * the directory's attributes and returns that status; the server then
 * has nothing more to do. The reply starts at the encoder's current
 * length (begin writes the status word). */
typedef struct nfs3_dirlist {
    xdr_enc *e;
    bool plus;
    size_t mark;       /* e->len before the status word */
    size_t start;      /* e->len after it: where the resok begins */
    uint32_t maxcount; /* count for READDIR */
    uint32_t dircount; /* READDIRPLUS only */
    size_t dirbytes;   /* directory information so far */
    uint32_t entries;
    bool full; /* an entry was refused: the list is closed */
    nfs3_post_attr dir_attr;
} nfs3_dirlist;

void nfs3_readdir_begin(nfs3_dirlist *l, xdr_enc *e, const nfs3_post_attr *dir_attr,
                        const uint8_t verf[NFS3_COOKIEVERFSIZE], uint32_t count);
void nfs3_readdirplus_begin(nfs3_dirlist *l, xdr_enc *e, const nfs3_post_attr *dir_attr,
                            const uint8_t verf[NFS3_COOKIEVERFSIZE], uint32_t dircount,
                            uint32_t maxcount);
/* false when the entry does not fit (nothing written; the list is
 * closed) or the encoder failed. attr and fh are READDIRPLUS's, NULL for
 * absent; READDIR ignores them. name must be at most NFS3_NAME_MAX bytes
 * (else e->err: the vfs never has longer names). */
bool nfs3_dirlist_add(nfs3_dirlist *l, uint64_t fileid, const char *name, uint64_t cookie,
                      const nfs3_post_attr *attr, const nfs3_post_fh *fh);
/* Closes the reply: NFS3_OK, or NFS3ERR_TOOSMALL (see above). */
uint32_t nfs3_dirlist_end(nfs3_dirlist *l, bool eof);
/* READDIR's and READDIRPLUS's failure reply: status and dir_attributes. */
void nfs3_enc_readdir_fail(xdr_enc *e, uint32_t status, const nfs3_post_attr *dir_attr);

/* ---- client side: encode arguments ------------------------------------------ */

void nfs3_enc_fh_args(xdr_enc *e, const nfs3_fh *fh);
void nfs3_enc_dirop_args(xdr_enc *e, const nfs3_dirop *a);
void nfs3_enc_setattr_args(xdr_enc *e, const nfs3_setattr_args *a);
void nfs3_enc_access_args(xdr_enc *e, const nfs3_access_args *a);
void nfs3_enc_read_args(xdr_enc *e, const nfs3_read_args *a);
/* Writes a->count as given and a->data_len bytes of data (a test may make
 * them differ). */
void nfs3_enc_write_args(xdr_enc *e, const nfs3_write_args *a);
void nfs3_enc_create_args(xdr_enc *e, const nfs3_create_args *a);
void nfs3_enc_mkdir_args(xdr_enc *e, const nfs3_mkdir_args *a);
void nfs3_enc_symlink_args(xdr_enc *e, const nfs3_symlink_args *a);
void nfs3_enc_mknod_args(xdr_enc *e, const nfs3_mknod_args *a);
void nfs3_enc_rename_args(xdr_enc *e, const nfs3_rename_args *a);
void nfs3_enc_link_args(xdr_enc *e, const nfs3_link_args *a);
void nfs3_enc_readdir_args(xdr_enc *e, const nfs3_readdir_args *a);
void nfs3_enc_readdirplus_args(xdr_enc *e, const nfs3_readdirplus_args *a);
void nfs3_enc_commit_args(xdr_enc *e, const nfs3_commit_args *a);

/* ---- client side: decode results -------------------------------------------- */

bool nfs3_dec_getattr_res(xdr_dec *d, nfs3_getattr_res *r);
bool nfs3_dec_wcc_res(xdr_dec *d, nfs3_wcc_res *r);
bool nfs3_dec_lookup_res(xdr_dec *d, nfs3_lookup_res *r);
bool nfs3_dec_access_res(xdr_dec *d, nfs3_access_res *r);
bool nfs3_dec_readlink_res(xdr_dec *d, nfs3_readlink_res *r);
bool nfs3_dec_read_res(xdr_dec *d, nfs3_read_res *r);
bool nfs3_dec_write_res(xdr_dec *d, nfs3_write_res *r);
bool nfs3_dec_create_res(xdr_dec *d, nfs3_create_res *r);
bool nfs3_dec_rename_res(xdr_dec *d, nfs3_rename_res *r);
bool nfs3_dec_link_res(xdr_dec *d, nfs3_link_res *r);
bool nfs3_dec_fsstat_res(xdr_dec *d, nfs3_fsstat_res *r);
bool nfs3_dec_fsinfo_res(xdr_dec *d, nfs3_fsinfo_res *r);
bool nfs3_dec_pathconf_res(xdr_dec *d, nfs3_pathconf_res *r);
bool nfs3_dec_commit_res(xdr_dec *d, nfs3_commit_res *r);

/* A READDIR or READDIRPLUS entry as the client decodes it (attr and fh
 * are READDIRPLUS's). */
typedef struct nfs3_dirent {
    uint64_t fileid;
    uint64_t cookie;
    char name[NFS3_NAME_MAX + 1];
    nfs3_post_attr attr;
    nfs3_post_fh fh;
} nfs3_dirent;

typedef struct nfs3_readdir_res {
    uint32_t status;
    nfs3_post_attr dir_attr;           /* both */
    uint8_t verf[NFS3_COOKIEVERFSIZE]; /* ok */
    uint32_t n;                        /* ok: entries decoded into ents */
    bool eof;                          /* ok */
} nfs3_readdir_res;

/* Entries go to ents; more than max of them is a failure. */
bool nfs3_dec_readdir_res(xdr_dec *d, bool plus, nfs3_readdir_res *r, nfs3_dirent *ents,
                          uint32_t max);

/* ---- MOUNT v3 ----------------------------------------------------------------- */

#define MNT3_PROGRAM     100005
#define MNT3_VERSION     3
#define MNT3_PATH_MAX    1024 /* MNTPATHLEN */
#define MNT3_NAME_MAX    255  /* MNTNAMLEN */
#define MNT3_MAX_FLAVORS 8    /* auth_flavors<> (our bound, client side) */
#define MNT3_MAX_GROUPS  8    /* an export's groups (our bound) */

enum mnt3_proc {
    MNT3_PROC_NULL = 0,
    MNT3_PROC_MNT = 1,
    MNT3_PROC_DUMP = 2,
    MNT3_PROC_UMNT = 3,
    MNT3_PROC_UMNTALL = 4,
    MNT3_PROC_EXPORT = 5,
    MNT3_PROC_COUNT = 6,
};

/* mountstat3 */
enum mnt3_stat {
    MNT3_OK = 0,
    MNT3ERR_PERM = 1,
    MNT3ERR_NOENT = 2,
    MNT3ERR_IO = 5,
    MNT3ERR_ACCES = 13,
    MNT3ERR_NOTDIR = 20,
    MNT3ERR_INVAL = 22,
    MNT3ERR_NAMETOOLONG = 63,
    MNT3ERR_NOTSUPP = 10004,
    MNT3ERR_SERVERFAULT = 10006,
};

/* MNT's and UMNT's argument: a dirpath. */
typedef struct mnt3_path_args {
    char path[MNT3_PATH_MAX + 1];
} mnt3_path_args;

/* mountres3: fh and flavors on MNT3_OK only. */
typedef struct mnt3_mnt_res {
    uint32_t status;
    nfs3_fh fh;
    uint32_t nflavors; /* <= MNT3_MAX_FLAVORS */
    uint32_t flavors[MNT3_MAX_FLAVORS];
} mnt3_mnt_res;

/* A mountlist entry (DUMP). */
typedef struct mnt3_mount {
    char host[MNT3_NAME_MAX + 1];
    char dir[MNT3_PATH_MAX + 1];
} mnt3_mount;

/* An exports entry (EXPORT). */
typedef struct mnt3_export {
    char dir[MNT3_PATH_MAX + 1];
    uint32_t ngroups; /* <= MNT3_MAX_GROUPS */
    char groups[MNT3_MAX_GROUPS][MNT3_NAME_MAX + 1];
} mnt3_export;

/* Server side. */
bool mnt3_dec_path_args(xdr_dec *d, mnt3_path_args *a);
void mnt3_enc_mnt_res(xdr_enc *e, const mnt3_mnt_res *r);
void mnt3_enc_dump_res(xdr_enc *e, const mnt3_mount *m, size_t n);
void mnt3_enc_export_res(xdr_enc *e, const mnt3_export *x, size_t n);

/* Client side. The list decoders fail on more than max entries. */
void mnt3_enc_path_args(xdr_enc *e, const mnt3_path_args *a);
bool mnt3_dec_mnt_res(xdr_dec *d, mnt3_mnt_res *r);
bool mnt3_dec_dump_res(xdr_dec *d, mnt3_mount *m, size_t max, size_t *n);
bool mnt3_dec_export_res(xdr_dec *d, mnt3_export *x, size_t max, size_t *n);

/* ---- names, for logs ---------------------------------------------------------- */

/* "GETATTR" etc.; "?" for a number that is not a procedure. */
const char *nfs3_proc_name(uint32_t proc);
const char *mnt3_proc_name(uint32_t proc);

#endif
