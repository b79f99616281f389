/* NFSv3 READDIR and READDIRPLUS: a directory's entries from any cookie,
 * one reply at a time, with the vfs's own stable cookies and a cookie
 * verifier that changes when the directory does. */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "transport/nfs/nfs_err.h"
#include "transport/nfs/nfs_proc.h"

/* The verifier of a listing: the directory's generation plus one, big-
 * endian. Never zero, since a zero verifier is what a client sends that
 * keeps none (which is let through): a directory that never changed
 * (generation 0) must still have a verifier its first change retires. */
static void nfs_cookieverf(uint64_t gen, uint8_t out[NFS3_COOKIEVERFSIZE])
{
    uint64_t v = gen + 1;
    for (int i = 0; i < NFS3_COOKIEVERFSIZE; i++)
        out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static bool nfs_verf_is_zero(const uint8_t verf[NFS3_COOKIEVERFSIZE])
{
    static const uint8_t zero[NFS3_COOKIEVERFSIZE];
    return !memcmp(verf, zero, NFS3_COOKIEVERFSIZE);
}

/* One reply being filled from the vfs's listing. */
typedef struct nfs_dirfill {
    nfs_req *r;
    nfs3_dirlist l;
    uint64_t dir;
    bool at_root; /* dir is the exported root */
} nfs_dirfill;

/* A vfs_dirent_fn. Refusing an entry (it does not fit) stops the vfs's
 * listing there, so the next call resumes at it. */
static bool nfs_dir_add(void *ctx, const vfs_dirent *d)
{
    nfs_dirfill *f = ctx;
    char name[NFS3_NAME_MAX + 1];
    /* The vfs never has longer names; one would be left out rather
     * than end the listing for good. */
    if (d->name_len > NFS3_NAME_MAX)
        return true;
    memcpy(name, d->name, d->name_len);
    name[d->name_len] = '\0';
    uint64_t ino = d->ino;
    bool bare = false;
    if (f->at_root && d->name_len == 2 && !memcmp(name, "..", 2)) {
        /* The exported root's ".." is itself, as LOOKUP answers, and
         * like knfsd at an export root READDIRPLUS gives it neither
         * attributes nor a handle. */
        ino = f->dir;
        bare = true;
    }
    if (!f->l.plus)
        return nfs3_dirlist_add(&f->l, ino, name, d->cookie, NULL, NULL);
    nfs3_post_attr attr = {0};
    nfs3_post_fh fh = {0};
    if (!bare && d->attr) {
        attr.present = true;
        nfs_fattr_of(f->r->ctx, d->attr, &attr.attr);
        fh.present = true;
        nfs_fh_of(f->r, ino, &fh.fh);
    }
    return nfs3_dirlist_add(&f->l, ino, name, d->cookie, &attr, &fh);
}

/* READDIR and READDIRPLUS alike, count being READDIR's (maxcount). */
static bool nfs_list(nfs_req *r, const nfs3_fh *fh, uint64_t cookie,
                     const uint8_t verf[NFS3_COOKIEVERFSIZE], bool plus, uint32_t dircount,
                     uint32_t maxcount)
{
    nfs3_post_attr dir_attr = {0};
    uint8_t cur[NFS3_COOKIEVERFSIZE] = {0};
    uint64_t dir;
    vfs_attr attr;
    uint32_t status = nfs_fh_resolve(r, fh, &dir, &attr);
    if (status == NFS3_OK) {
        dir_attr.present = true;
        nfs_fattr_of(r->ctx, &attr, &dir_attr.attr);
        if (!S_ISDIR(attr.mode))
            status = NFS3ERR_NOTDIR;
    }
    uint64_t gen = 0;
    if (status == NFS3_OK)
        status = nfs_err_take(vfs_dir_generation(r->ctx->v, dir, &gen));
    nfs_cookieverf(gen, cur);
    /* A cookie from before the directory changed may name a place that
     * moved (RFC 1813 3.3.16): the client starts over. A zero verifier
     * is a client that keeps none, and its cookies are taken as they
     * come. */
    if (status == NFS3_OK && cookie != 0 && !nfs_verf_is_zero(verf) &&
        memcmp(verf, cur, NFS3_COOKIEVERFSIZE))
        status = NFS3ERR_BAD_COOKIE;
    nfs_reply_ok(r);
    if (status != NFS3_OK) {
        nfs3_enc_readdir_fail(r->reply, status, &dir_attr);
        return true;
    }

    if (maxcount > NFS_DIR_MAX)
        maxcount = NFS_DIR_MAX;
    if (dircount > NFS_DIR_MAX)
        dircount = NFS_DIR_MAX;
    nfs_dirfill f = {.r = r, .dir = dir, .at_root = dir == vfs_root_ino(r->ctx->slot)};
    if (plus)
        nfs3_readdirplus_begin(&f.l, r->reply, &dir_attr, cur, dircount, maxcount);
    else
        nfs3_readdir_begin(&f.l, r->reply, &dir_attr, cur, maxcount);
    bool eof = false;
    /* No lookups counted (false): nobody would give them back. */
    strata_err *e = plus ? vfs_readdirplus(r->ctx->v, dir, cookie, false, nfs_dir_add, &f, &eof)
                         : vfs_readdir(r->ctx->v, dir, cookie, nfs_dir_add, &f, &eof);
    if (e && f.l.entries == 0) {
        xdr_enc_truncate(r->reply, f.l.mark);
        nfs3_enc_readdir_fail(r->reply, nfs_err_take(e), &dir_attr);
        return true;
    }
    /* Entries before a failure go out (the vfs keeps them only so); the
     * next call meets the failure again at its first entry. */
    if (e) {
        strata_err_free(e);
        eof = false;
    }
    nfs3_dirlist_end(&f.l, eof);
    return true;
}

bool nfs3_proc_readdir(nfs_req *r)
{
    nfs3_readdir_args a;
    if (!nfs3_dec_readdir_args(&r->args, &a))
        return false;
    return nfs_list(r, &a.dir, a.cookie, a.verf, false, 0, a.count);
}

bool nfs3_proc_readdirplus(nfs_req *r)
{
    nfs3_readdirplus_args a;
    if (!nfs3_dec_readdirplus_args(&r->args, &a))
        return false;
    return nfs_list(r, &a.dir, a.cookie, a.verf, true, a.dircount, a.maxcount);
}
