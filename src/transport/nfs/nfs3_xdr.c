/* The NFSv3 and MOUNT v3 codecs (see nfs3_xdr.h): the structures RFC 1813
 * shares between procedures, then the server side (decode arguments,
 * encode results, the READ and READDIR reply builders), then the client
 * side (encode arguments, decode results), then MOUNT. */
#include <string.h>

#include "transport/nfs/nfs3_xdr.h"

#define FATTR_SIZE 84 /* fattr3: 5 words, 4 hypers, rdev (2 words), 3 times (2 words each) */

/* ---- shared structures ------------------------------------------------------ */

/* A string bounded the way the other side's decoder bounds it: writing a
 * longer one would only get the reply or call refused there, so the
 * encoder refuses it here, where the bug is. */
static void put_str(xdr_enc *e, const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n > max) {
        e->err = true;
        return;
    }
    xdr_put_opaque_var(e, s, (uint32_t)n);
}

static void put_time(xdr_enc *e, const nfs3_time *t)
{
    xdr_put_u32(e, t->sec);
    xdr_put_u32(e, t->nsec);
}

static void get_time(xdr_dec *d, nfs3_time *t)
{
    t->sec = xdr_u32(d);
    t->nsec = xdr_u32(d);
}

static void put_fh(xdr_enc *e, const nfs3_fh *fh)
{
    if (fh->len > NFS3_FHSIZE) {
        e->err = true;
        return;
    }
    xdr_put_opaque_var(e, fh->data, fh->len);
}

static void get_fh(xdr_dec *d, nfs3_fh *fh)
{
    uint32_t n;
    const uint8_t *p = xdr_opaque_var(d, NFS3_FHSIZE, &n);
    if (p) {
        memcpy(fh->data, p, n);
        fh->len = n;
    }
}

static void put_fattr(xdr_enc *e, const nfs3_fattr *a)
{
    xdr_put_u32(e, a->type);
    xdr_put_u32(e, a->mode);
    xdr_put_u32(e, a->nlink);
    xdr_put_u32(e, a->uid);
    xdr_put_u32(e, a->gid);
    xdr_put_u64(e, a->size);
    xdr_put_u64(e, a->used);
    xdr_put_u32(e, a->rdev.major);
    xdr_put_u32(e, a->rdev.minor);
    xdr_put_u64(e, a->fsid);
    xdr_put_u64(e, a->fileid);
    put_time(e, &a->atime);
    put_time(e, &a->mtime);
    put_time(e, &a->ctime);
}

/* A type outside ftype3 is refused even from a server: every client-side
 * switch on it would otherwise need a default for nonsense. */
static void get_fattr(xdr_dec *d, nfs3_fattr *a)
{
    a->type = xdr_u32(d);
    if (a->type < NF3REG || a->type > NF3FIFO)
        d->err = true;
    a->mode = xdr_u32(d);
    a->nlink = xdr_u32(d);
    a->uid = xdr_u32(d);
    a->gid = xdr_u32(d);
    a->size = xdr_u64(d);
    a->used = xdr_u64(d);
    a->rdev.major = xdr_u32(d);
    a->rdev.minor = xdr_u32(d);
    a->fsid = xdr_u64(d);
    a->fileid = xdr_u64(d);
    get_time(d, &a->atime);
    get_time(d, &a->mtime);
    get_time(d, &a->ctime);
}

/* NULL is absent, so a server without attributes at hand need not build
 * an empty struct. */
static void put_post_attr(xdr_enc *e, const nfs3_post_attr *a)
{
    bool present = a && a->present;
    xdr_put_bool(e, present);
    if (present)
        put_fattr(e, &a->attr);
}

static void get_post_attr(xdr_dec *d, nfs3_post_attr *a)
{
    a->present = xdr_bool(d);
    if (a->present)
        get_fattr(d, &a->attr);
}

static size_t post_attr_size(const nfs3_post_attr *a)
{
    return a && a->present ? 4 + FATTR_SIZE : 4;
}

static void put_wcc(xdr_enc *e, const nfs3_wcc *w)
{
    xdr_put_bool(e, w->before.present);
    if (w->before.present) {
        xdr_put_u64(e, w->before.attr.size);
        put_time(e, &w->before.attr.mtime);
        put_time(e, &w->before.attr.ctime);
    }
    put_post_attr(e, &w->after);
}

static void get_wcc(xdr_dec *d, nfs3_wcc *w)
{
    w->before.present = xdr_bool(d);
    if (w->before.present) {
        w->before.attr.size = xdr_u64(d);
        get_time(d, &w->before.attr.mtime);
        get_time(d, &w->before.attr.ctime);
    }
    get_post_attr(d, &w->after);
}

static void put_post_fh(xdr_enc *e, const nfs3_post_fh *f)
{
    bool present = f && f->present;
    xdr_put_bool(e, present);
    if (present)
        put_fh(e, &f->fh);
}

static void get_post_fh(xdr_dec *d, nfs3_post_fh *f)
{
    f->present = xdr_bool(d);
    if (f->present)
        get_fh(d, &f->fh);
}

static size_t post_fh_size(const nfs3_post_fh *f)
{
    return f && f->present ? 8 + f->fh.len + xdr_pad(f->fh.len) : 4;
}

static void put_sattr(xdr_enc *e, const nfs3_sattr *s)
{
    xdr_put_bool(e, s->set_mode);
    if (s->set_mode)
        xdr_put_u32(e, s->mode);
    xdr_put_bool(e, s->set_uid);
    if (s->set_uid)
        xdr_put_u32(e, s->uid);
    xdr_put_bool(e, s->set_gid);
    if (s->set_gid)
        xdr_put_u32(e, s->gid);
    xdr_put_bool(e, s->set_size);
    if (s->set_size)
        xdr_put_u64(e, s->size);
    xdr_put_u32(e, s->set_atime);
    if (s->set_atime == NFS3_SET_TO_CLIENT_TIME)
        put_time(e, &s->atime);
    xdr_put_u32(e, s->set_mtime);
    if (s->set_mtime == NFS3_SET_TO_CLIENT_TIME)
        put_time(e, &s->mtime);
}

/* The set_* discriminants are booleans and time_how an enum of three: any
 * other value is a union arm that does not exist, so garbage. */
static void get_sattr(xdr_dec *d, nfs3_sattr *s)
{
    s->set_mode = xdr_bool(d);
    if (s->set_mode)
        s->mode = xdr_u32(d);
    s->set_uid = xdr_bool(d);
    if (s->set_uid)
        s->uid = xdr_u32(d);
    s->set_gid = xdr_bool(d);
    if (s->set_gid)
        s->gid = xdr_u32(d);
    s->set_size = xdr_bool(d);
    if (s->set_size)
        s->size = xdr_u64(d);
    s->set_atime = xdr_enum(d, 3);
    if (s->set_atime == NFS3_SET_TO_CLIENT_TIME)
        get_time(d, &s->atime);
    s->set_mtime = xdr_enum(d, 3);
    if (s->set_mtime == NFS3_SET_TO_CLIENT_TIME)
        get_time(d, &s->mtime);
}

static void put_dirop(xdr_enc *e, const nfs3_dirop *a)
{
    put_fh(e, &a->dir);
    put_str(e, a->name, NFS3_NAME_WIRE_MAX);
}

static void get_dirop(xdr_dec *d, nfs3_dirop *a)
{
    get_fh(d, &a->dir);
    xdr_string(d, NFS3_NAME_WIRE_MAX, a->name);
}

/* ---- server side: decode arguments ------------------------------------------ */

bool nfs3_dec_void(xdr_dec *d)
{
    return xdr_done(d);
}

bool nfs3_dec_fh_args(xdr_dec *d, nfs3_fh *fh)
{
    memset(fh, 0, sizeof(*fh));
    get_fh(d, fh);
    return xdr_done(d);
}

bool nfs3_dec_dirop_args(xdr_dec *d, nfs3_dirop *a)
{
    memset(a, 0, sizeof(*a));
    get_dirop(d, a);
    return xdr_done(d);
}

bool nfs3_dec_setattr_args(xdr_dec *d, nfs3_setattr_args *a)
{
    memset(a, 0, sizeof(*a));
    get_fh(d, &a->fh);
    get_sattr(d, &a->attr);
    a->guard = xdr_bool(d);
    if (a->guard)
        get_time(d, &a->guard_ctime);
    return xdr_done(d);
}

bool nfs3_dec_access_args(xdr_dec *d, nfs3_access_args *a)
{
    memset(a, 0, sizeof(*a));
    get_fh(d, &a->fh);
    a->access = xdr_u32(d);
    return xdr_done(d);
}

bool nfs3_dec_read_args(xdr_dec *d, nfs3_read_args *a)
{
    memset(a, 0, sizeof(*a));
    get_fh(d, &a->fh);
    a->offset = xdr_u64(d);
    a->count = xdr_u32(d);
    return xdr_done(d);
}

bool nfs3_dec_write_args(xdr_dec *d, nfs3_write_args *a, uint32_t data_max)
{
    memset(a, 0, sizeof(*a));
    get_fh(d, &a->fh);
    a->offset = xdr_u64(d);
    a->count = xdr_u32(d);
    a->stable = xdr_enum(d, 3);
    a->data = xdr_opaque_var(d, data_max, &a->data_len);
    if (a->data && a->data_len != a->count)
        d->err = true;
    if (!xdr_done(d)) {
        a->data = NULL;
        a->data_len = 0;
        return false;
    }
    return true;
}

/* createhow3: UNCHECKED and GUARDED carry attributes, EXCLUSIVE a
 * verifier in their place. */
bool nfs3_dec_create_args(xdr_dec *d, nfs3_create_args *a)
{
    memset(a, 0, sizeof(*a));
    get_dirop(d, &a->where);
    a->how = xdr_enum(d, 3);
    if (a->how == NFS3_EXCLUSIVE) {
        const uint8_t *v = xdr_opaque_fixed(d, NFS3_CREATEVERFSIZE);
        if (v)
            memcpy(a->verf, v, NFS3_CREATEVERFSIZE);
    } else {
        get_sattr(d, &a->attr);
    }
    return xdr_done(d);
}

bool nfs3_dec_mkdir_args(xdr_dec *d, nfs3_mkdir_args *a)
{
    memset(a, 0, sizeof(*a));
    get_dirop(d, &a->where);
    get_sattr(d, &a->attr);
    return xdr_done(d);
}

bool nfs3_dec_symlink_args(xdr_dec *d, nfs3_symlink_args *a)
{
    memset(a, 0, sizeof(*a));
    get_dirop(d, &a->where);
    get_sattr(d, &a->attr);
    xdr_string(d, NFS3_PATH_MAX, a->data);
    return xdr_done(d);
}

bool nfs3_dec_mknod_args(xdr_dec *d, nfs3_mknod_args *a)
{
    memset(a, 0, sizeof(*a));
    get_dirop(d, &a->where);
    a->type = xdr_u32(d);
    if (a->type < NF3REG || a->type > NF3FIFO)
        d->err = true;
    if (a->type == NF3CHR || a->type == NF3BLK || a->type == NF3SOCK || a->type == NF3FIFO)
        get_sattr(d, &a->attr);
    if (a->type == NF3CHR || a->type == NF3BLK) {
        a->spec.major = xdr_u32(d);
        a->spec.minor = xdr_u32(d);
    }
    return xdr_done(d);
}

bool nfs3_dec_rename_args(xdr_dec *d, nfs3_rename_args *a)
{
    memset(a, 0, sizeof(*a));
    get_dirop(d, &a->from);
    get_dirop(d, &a->to);
    return xdr_done(d);
}

bool nfs3_dec_link_args(xdr_dec *d, nfs3_link_args *a)
{
    memset(a, 0, sizeof(*a));
    get_fh(d, &a->fh);
    get_dirop(d, &a->link);
    return xdr_done(d);
}

static void get_verf(xdr_dec *d, uint8_t *out, size_t n)
{
    const uint8_t *p = xdr_opaque_fixed(d, n);
    if (p)
        memcpy(out, p, n);
}

bool nfs3_dec_readdir_args(xdr_dec *d, nfs3_readdir_args *a)
{
    memset(a, 0, sizeof(*a));
    get_fh(d, &a->dir);
    a->cookie = xdr_u64(d);
    get_verf(d, a->verf, NFS3_COOKIEVERFSIZE);
    a->count = xdr_u32(d);
    return xdr_done(d);
}

bool nfs3_dec_readdirplus_args(xdr_dec *d, nfs3_readdirplus_args *a)
{
    memset(a, 0, sizeof(*a));
    get_fh(d, &a->dir);
    a->cookie = xdr_u64(d);
    get_verf(d, a->verf, NFS3_COOKIEVERFSIZE);
    a->dircount = xdr_u32(d);
    a->maxcount = xdr_u32(d);
    return xdr_done(d);
}

bool nfs3_dec_commit_args(xdr_dec *d, nfs3_commit_args *a)
{
    memset(a, 0, sizeof(*a));
    get_fh(d, &a->fh);
    a->offset = xdr_u64(d);
    a->count = xdr_u32(d);
    return xdr_done(d);
}

/* ---- server side: encode results -------------------------------------------- */

void nfs3_enc_getattr_res(xdr_enc *e, const nfs3_getattr_res *r)
{
    xdr_put_u32(e, r->status);
    if (r->status == NFS3_OK)
        put_fattr(e, &r->attr);
}

void nfs3_enc_wcc_res(xdr_enc *e, const nfs3_wcc_res *r)
{
    xdr_put_u32(e, r->status);
    put_wcc(e, &r->wcc);
}

void nfs3_enc_lookup_res(xdr_enc *e, const nfs3_lookup_res *r)
{
    xdr_put_u32(e, r->status);
    if (r->status == NFS3_OK) {
        put_fh(e, &r->fh);
        put_post_attr(e, &r->obj_attr);
    }
    put_post_attr(e, &r->dir_attr);
}

void nfs3_enc_access_res(xdr_enc *e, const nfs3_access_res *r)
{
    xdr_put_u32(e, r->status);
    put_post_attr(e, &r->attr);
    if (r->status == NFS3_OK)
        xdr_put_u32(e, r->access);
}

void nfs3_enc_readlink_res(xdr_enc *e, const nfs3_readlink_res *r)
{
    xdr_put_u32(e, r->status);
    put_post_attr(e, &r->attr);
    if (r->status == NFS3_OK)
        put_str(e, r->data, NFS3_PATH_MAX);
}

void nfs3_enc_read_res(xdr_enc *e, const nfs3_read_res *r)
{
    xdr_put_u32(e, r->status);
    put_post_attr(e, &r->attr);
    if (r->status == NFS3_OK) {
        xdr_put_u32(e, r->count);
        xdr_put_bool(e, r->eof);
        xdr_put_opaque_var(e, r->data, r->count);
    }
}

void nfs3_enc_write_res(xdr_enc *e, const nfs3_write_res *r)
{
    xdr_put_u32(e, r->status);
    put_wcc(e, &r->wcc);
    if (r->status == NFS3_OK) {
        xdr_put_u32(e, r->count);
        xdr_put_u32(e, r->committed);
        xdr_put_opaque_fixed(e, r->verf, NFS3_WRITEVERFSIZE);
    }
}

void nfs3_enc_create_res(xdr_enc *e, const nfs3_create_res *r)
{
    xdr_put_u32(e, r->status);
    if (r->status == NFS3_OK) {
        put_post_fh(e, &r->fh);
        put_post_attr(e, &r->obj_attr);
    }
    put_wcc(e, &r->dir_wcc);
}

void nfs3_enc_rename_res(xdr_enc *e, const nfs3_rename_res *r)
{
    xdr_put_u32(e, r->status);
    put_wcc(e, &r->from_wcc);
    put_wcc(e, &r->to_wcc);
}

void nfs3_enc_link_res(xdr_enc *e, const nfs3_link_res *r)
{
    xdr_put_u32(e, r->status);
    put_post_attr(e, &r->attr);
    put_wcc(e, &r->dir_wcc);
}

void nfs3_enc_fsstat_res(xdr_enc *e, const nfs3_fsstat_res *r)
{
    xdr_put_u32(e, r->status);
    put_post_attr(e, &r->attr);
    if (r->status != NFS3_OK)
        return;
    xdr_put_u64(e, r->tbytes);
    xdr_put_u64(e, r->fbytes);
    xdr_put_u64(e, r->abytes);
    xdr_put_u64(e, r->tfiles);
    xdr_put_u64(e, r->ffiles);
    xdr_put_u64(e, r->afiles);
    xdr_put_u32(e, r->invarsec);
}

void nfs3_enc_fsinfo_res(xdr_enc *e, const nfs3_fsinfo_res *r)
{
    xdr_put_u32(e, r->status);
    put_post_attr(e, &r->attr);
    if (r->status != NFS3_OK)
        return;
    xdr_put_u32(e, r->rtmax);
    xdr_put_u32(e, r->rtpref);
    xdr_put_u32(e, r->rtmult);
    xdr_put_u32(e, r->wtmax);
    xdr_put_u32(e, r->wtpref);
    xdr_put_u32(e, r->wtmult);
    xdr_put_u32(e, r->dtpref);
    xdr_put_u64(e, r->maxfilesize);
    put_time(e, &r->time_delta);
    xdr_put_u32(e, r->properties);
}

void nfs3_enc_pathconf_res(xdr_enc *e, const nfs3_pathconf_res *r)
{
    xdr_put_u32(e, r->status);
    put_post_attr(e, &r->attr);
    if (r->status != NFS3_OK)
        return;
    xdr_put_u32(e, r->linkmax);
    xdr_put_u32(e, r->name_max);
    xdr_put_bool(e, r->no_trunc);
    xdr_put_bool(e, r->chown_restricted);
    xdr_put_bool(e, r->case_insensitive);
    xdr_put_bool(e, r->case_preserving);
}

void nfs3_enc_commit_res(xdr_enc *e, const nfs3_commit_res *r)
{
    xdr_put_u32(e, r->status);
    put_wcc(e, &r->wcc);
    if (r->status == NFS3_OK)
        xdr_put_opaque_fixed(e, r->verf, NFS3_WRITEVERFSIZE);
}

/* ---- server side: READ in place --------------------------------------------- */

/* Overwrites a word already written: READ's count and eof are known only
 * after the data they precede has been read. */
static void patch_u32(xdr_enc *e, size_t at, uint32_t v)
{
    uint8_t *p = e->buf + at;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint8_t *nfs3_read_reply_begin(nfs3_read_reply *rr, xdr_enc *e, const nfs3_post_attr *attr,
                               uint32_t max)
{
    rr->e = e;
    rr->max = max;
    xdr_put_u32(e, NFS3_OK);
    put_post_attr(e, attr);
    rr->count_at = e->len;
    xdr_put_u32(e, 0);      /* count */
    xdr_put_bool(e, false); /* eof */
    xdr_put_u32(e, 0);      /* the data's length */
    rr->data_at = e->len;
    uint8_t *p = xdr_put_space(e, max);
    return e->err ? NULL : p;
}

void nfs3_read_reply_end(nfs3_read_reply *rr, uint32_t count, bool eof)
{
    xdr_enc *e = rr->e;
    if (e->err)
        return;
    if (count > rr->max)
        count = rr->max;
    patch_u32(e, rr->count_at, count);
    patch_u32(e, rr->count_at + 4, eof ? 1 : 0);
    patch_u32(e, rr->count_at + 8, count);
    size_t pad = xdr_pad(count);
    xdr_enc_truncate(e, rr->data_at + count + pad);
    memset(e->buf + rr->data_at + count, 0, pad);
}

/* ---- server side: READDIR and READDIRPLUS ----------------------------------- */

/* The 8 bytes every list ends with: the last value_follows and eof. */
#define DIRLIST_TAIL 8

static void dirlist_begin(nfs3_dirlist *l, xdr_enc *e, bool plus, const nfs3_post_attr *dir_attr,
                          const uint8_t *verf, uint32_t dircount, uint32_t maxcount)
{
    memset(l, 0, sizeof(*l));
    l->e = e;
    l->plus = plus;
    l->dircount = dircount;
    l->maxcount = maxcount;
    if (dir_attr)
        l->dir_attr = *dir_attr;
    l->mark = e->len;
    xdr_put_u32(e, NFS3_OK);
    l->start = e->len;
    put_post_attr(e, &l->dir_attr);
    xdr_put_opaque_fixed(e, verf, NFS3_COOKIEVERFSIZE);
    if (e->err || e->len - l->start + DIRLIST_TAIL > maxcount)
        l->full = true;
}

void nfs3_readdir_begin(nfs3_dirlist *l, xdr_enc *e, const nfs3_post_attr *dir_attr,
                        const uint8_t verf[NFS3_COOKIEVERFSIZE], uint32_t count)
{
    dirlist_begin(l, e, false, dir_attr, verf, 0, count);
}

void nfs3_readdirplus_begin(nfs3_dirlist *l, xdr_enc *e, const nfs3_post_attr *dir_attr,
                            const uint8_t verf[NFS3_COOKIEVERFSIZE], uint32_t dircount,
                            uint32_t maxcount)
{
    dirlist_begin(l, e, true, dir_attr, verf, dircount, maxcount);
}

bool nfs3_dirlist_add(nfs3_dirlist *l, uint64_t fileid, const char *name, uint64_t cookie,
                      const nfs3_post_attr *attr, const nfs3_post_fh *fh)
{
    xdr_enc *e = l->e;
    if (l->full || e->err)
        return false;
    size_t n = strnlen(name, NFS3_NAME_MAX + 1);
    if (n > NFS3_NAME_MAX) {
        e->err = true;
        return false;
    }
    size_t dir = 4 + 8 + 4 + n + xdr_pad(n) + 8;
    size_t size = dir;
    if (l->plus)
        size += post_attr_size(attr) + post_fh_size(fh);
    size_t used = e->len - l->start;
    bool fits = used + size + DIRLIST_TAIL <= l->maxcount && size + DIRLIST_TAIL <= xdr_enc_room(e);
    if (l->plus && l->entries > 0 && l->dirbytes + dir > l->dircount)
        fits = false;
    if (!fits) {
        l->full = true;
        return false;
    }
    xdr_put_bool(e, true);
    xdr_put_u64(e, fileid);
    xdr_put_opaque_var(e, name, (uint32_t)n);
    xdr_put_u64(e, cookie);
    if (l->plus) {
        put_post_attr(e, attr);
        put_post_fh(e, fh);
    }
    l->dirbytes += dir;
    l->entries++;
    return !e->err;
}

uint32_t nfs3_dirlist_end(nfs3_dirlist *l, bool eof)
{
    if (l->full && l->entries == 0) {
        xdr_enc_truncate(l->e, l->mark);
        nfs3_enc_readdir_fail(l->e, NFS3ERR_TOOSMALL, &l->dir_attr);
        return NFS3ERR_TOOSMALL;
    }
    xdr_put_bool(l->e, false);
    xdr_put_bool(l->e, eof && !l->full);
    return NFS3_OK;
}

void nfs3_enc_readdir_fail(xdr_enc *e, uint32_t status, const nfs3_post_attr *dir_attr)
{
    xdr_put_u32(e, status);
    put_post_attr(e, dir_attr);
}

/* ==== client side ============================================================= */

/* ---- client side: encode arguments ------------------------------------------ */

void nfs3_enc_fh_args(xdr_enc *e, const nfs3_fh *fh)
{
    put_fh(e, fh);
}

void nfs3_enc_dirop_args(xdr_enc *e, const nfs3_dirop *a)
{
    put_dirop(e, a);
}

void nfs3_enc_setattr_args(xdr_enc *e, const nfs3_setattr_args *a)
{
    put_fh(e, &a->fh);
    put_sattr(e, &a->attr);
    xdr_put_bool(e, a->guard);
    if (a->guard)
        put_time(e, &a->guard_ctime);
}

void nfs3_enc_access_args(xdr_enc *e, const nfs3_access_args *a)
{
    put_fh(e, &a->fh);
    xdr_put_u32(e, a->access);
}

void nfs3_enc_read_args(xdr_enc *e, const nfs3_read_args *a)
{
    put_fh(e, &a->fh);
    xdr_put_u64(e, a->offset);
    xdr_put_u32(e, a->count);
}

void nfs3_enc_write_args(xdr_enc *e, const nfs3_write_args *a)
{
    put_fh(e, &a->fh);
    xdr_put_u64(e, a->offset);
    xdr_put_u32(e, a->count);
    xdr_put_u32(e, a->stable);
    xdr_put_opaque_var(e, a->data, a->data_len);
}

void nfs3_enc_create_args(xdr_enc *e, const nfs3_create_args *a)
{
    put_dirop(e, &a->where);
    xdr_put_u32(e, a->how);
    if (a->how == NFS3_EXCLUSIVE)
        xdr_put_opaque_fixed(e, a->verf, NFS3_CREATEVERFSIZE);
    else
        put_sattr(e, &a->attr);
}

void nfs3_enc_mkdir_args(xdr_enc *e, const nfs3_mkdir_args *a)
{
    put_dirop(e, &a->where);
    put_sattr(e, &a->attr);
}

void nfs3_enc_symlink_args(xdr_enc *e, const nfs3_symlink_args *a)
{
    put_dirop(e, &a->where);
    put_sattr(e, &a->attr);
    put_str(e, a->data, NFS3_PATH_MAX);
}

void nfs3_enc_mknod_args(xdr_enc *e, const nfs3_mknod_args *a)
{
    put_dirop(e, &a->where);
    xdr_put_u32(e, a->type);
    if (a->type == NF3CHR || a->type == NF3BLK || a->type == NF3SOCK || a->type == NF3FIFO)
        put_sattr(e, &a->attr);
    if (a->type == NF3CHR || a->type == NF3BLK) {
        xdr_put_u32(e, a->spec.major);
        xdr_put_u32(e, a->spec.minor);
    }
}

void nfs3_enc_rename_args(xdr_enc *e, const nfs3_rename_args *a)
{
    put_dirop(e, &a->from);
    put_dirop(e, &a->to);
}

void nfs3_enc_link_args(xdr_enc *e, const nfs3_link_args *a)
{
    put_fh(e, &a->fh);
    put_dirop(e, &a->link);
}

void nfs3_enc_readdir_args(xdr_enc *e, const nfs3_readdir_args *a)
{
    put_fh(e, &a->dir);
    xdr_put_u64(e, a->cookie);
    xdr_put_opaque_fixed(e, a->verf, NFS3_COOKIEVERFSIZE);
    xdr_put_u32(e, a->count);
}

void nfs3_enc_readdirplus_args(xdr_enc *e, const nfs3_readdirplus_args *a)
{
    put_fh(e, &a->dir);
    xdr_put_u64(e, a->cookie);
    xdr_put_opaque_fixed(e, a->verf, NFS3_COOKIEVERFSIZE);
    xdr_put_u32(e, a->dircount);
    xdr_put_u32(e, a->maxcount);
}

void nfs3_enc_commit_args(xdr_enc *e, const nfs3_commit_args *a)
{
    put_fh(e, &a->fh);
    xdr_put_u64(e, a->offset);
    xdr_put_u32(e, a->count);
}

/* ---- client side: decode results -------------------------------------------- */

/* Every status value is accepted: the unions' default arm is any status
 * but NFS3_OK, and a server may know errors this client does not. */

bool nfs3_dec_getattr_res(xdr_dec *d, nfs3_getattr_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    if (r->status == NFS3_OK)
        get_fattr(d, &r->attr);
    return xdr_done(d);
}

bool nfs3_dec_wcc_res(xdr_dec *d, nfs3_wcc_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_wcc(d, &r->wcc);
    return xdr_done(d);
}

bool nfs3_dec_lookup_res(xdr_dec *d, nfs3_lookup_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    if (r->status == NFS3_OK) {
        get_fh(d, &r->fh);
        get_post_attr(d, &r->obj_attr);
    }
    get_post_attr(d, &r->dir_attr);
    return xdr_done(d);
}

bool nfs3_dec_access_res(xdr_dec *d, nfs3_access_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_post_attr(d, &r->attr);
    if (r->status == NFS3_OK)
        r->access = xdr_u32(d);
    return xdr_done(d);
}

bool nfs3_dec_readlink_res(xdr_dec *d, nfs3_readlink_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_post_attr(d, &r->attr);
    if (r->status == NFS3_OK)
        xdr_string(d, NFS3_PATH_MAX, r->data);
    return xdr_done(d);
}

bool nfs3_dec_read_res(xdr_dec *d, nfs3_read_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_post_attr(d, &r->attr);
    if (r->status == NFS3_OK) {
        r->count = xdr_u32(d);
        r->eof = xdr_bool(d);
        uint32_t n;
        r->data = xdr_opaque_var(d, UINT32_MAX, &n);
        if (r->data && n != r->count)
            d->err = true;
    }
    if (!xdr_done(d)) {
        r->data = NULL;
        return false;
    }
    return true;
}

bool nfs3_dec_write_res(xdr_dec *d, nfs3_write_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_wcc(d, &r->wcc);
    if (r->status == NFS3_OK) {
        r->count = xdr_u32(d);
        r->committed = xdr_enum(d, 3);
        get_verf(d, r->verf, NFS3_WRITEVERFSIZE);
    }
    return xdr_done(d);
}

bool nfs3_dec_create_res(xdr_dec *d, nfs3_create_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    if (r->status == NFS3_OK) {
        get_post_fh(d, &r->fh);
        get_post_attr(d, &r->obj_attr);
    }
    get_wcc(d, &r->dir_wcc);
    return xdr_done(d);
}

bool nfs3_dec_rename_res(xdr_dec *d, nfs3_rename_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_wcc(d, &r->from_wcc);
    get_wcc(d, &r->to_wcc);
    return xdr_done(d);
}

bool nfs3_dec_link_res(xdr_dec *d, nfs3_link_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_post_attr(d, &r->attr);
    get_wcc(d, &r->dir_wcc);
    return xdr_done(d);
}

bool nfs3_dec_fsstat_res(xdr_dec *d, nfs3_fsstat_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_post_attr(d, &r->attr);
    if (r->status == NFS3_OK) {
        r->tbytes = xdr_u64(d);
        r->fbytes = xdr_u64(d);
        r->abytes = xdr_u64(d);
        r->tfiles = xdr_u64(d);
        r->ffiles = xdr_u64(d);
        r->afiles = xdr_u64(d);
        r->invarsec = xdr_u32(d);
    }
    return xdr_done(d);
}

bool nfs3_dec_fsinfo_res(xdr_dec *d, nfs3_fsinfo_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_post_attr(d, &r->attr);
    if (r->status == NFS3_OK) {
        r->rtmax = xdr_u32(d);
        r->rtpref = xdr_u32(d);
        r->rtmult = xdr_u32(d);
        r->wtmax = xdr_u32(d);
        r->wtpref = xdr_u32(d);
        r->wtmult = xdr_u32(d);
        r->dtpref = xdr_u32(d);
        r->maxfilesize = xdr_u64(d);
        get_time(d, &r->time_delta);
        r->properties = xdr_u32(d);
    }
    return xdr_done(d);
}

bool nfs3_dec_pathconf_res(xdr_dec *d, nfs3_pathconf_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_post_attr(d, &r->attr);
    if (r->status == NFS3_OK) {
        r->linkmax = xdr_u32(d);
        r->name_max = xdr_u32(d);
        r->no_trunc = xdr_bool(d);
        r->chown_restricted = xdr_bool(d);
        r->case_insensitive = xdr_bool(d);
        r->case_preserving = xdr_bool(d);
    }
    return xdr_done(d);
}

bool nfs3_dec_commit_res(xdr_dec *d, nfs3_commit_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_wcc(d, &r->wcc);
    if (r->status == NFS3_OK)
        get_verf(d, r->verf, NFS3_WRITEVERFSIZE);
    return xdr_done(d);
}

bool nfs3_dec_readdir_res(xdr_dec *d, bool plus, nfs3_readdir_res *r, nfs3_dirent *ents,
                          uint32_t max)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    get_post_attr(d, &r->dir_attr);
    if (r->status != NFS3_OK)
        return xdr_done(d);
    get_verf(d, r->verf, NFS3_COOKIEVERFSIZE);
    while (xdr_bool(d)) {
        if (r->n == max) {
            d->err = true;
            break;
        }
        nfs3_dirent *de = &ents[r->n++];
        memset(de, 0, sizeof(*de));
        de->fileid = xdr_u64(d);
        xdr_string(d, NFS3_NAME_MAX, de->name);
        de->cookie = xdr_u64(d);
        if (plus) {
            get_post_attr(d, &de->attr);
            get_post_fh(d, &de->fh);
        }
    }
    r->eof = xdr_bool(d);
    return xdr_done(d);
}

/* ==== MOUNT v3 ================================================================ */

bool mnt3_dec_path_args(xdr_dec *d, mnt3_path_args *a)
{
    memset(a, 0, sizeof(*a));
    xdr_string(d, MNT3_PATH_MAX, a->path);
    return xdr_done(d);
}

/* auth_flavors<> is unbounded in the RFC; the encoder keeps to what the
 * client decoder takes so the two stay each other's inverse. */
void mnt3_enc_mnt_res(xdr_enc *e, const mnt3_mnt_res *r)
{
    xdr_put_u32(e, r->status);
    if (r->status != MNT3_OK)
        return;
    if (r->nflavors > MNT3_MAX_FLAVORS) {
        e->err = true;
        return;
    }
    put_fh(e, &r->fh);
    xdr_put_u32(e, r->nflavors);
    for (uint32_t i = 0; i < r->nflavors; i++)
        xdr_put_u32(e, r->flavors[i]);
}

void mnt3_enc_dump_res(xdr_enc *e, const mnt3_mount *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        xdr_put_bool(e, true);
        put_str(e, m[i].host, MNT3_NAME_MAX);
        put_str(e, m[i].dir, MNT3_PATH_MAX);
    }
    xdr_put_bool(e, false);
}

void mnt3_enc_export_res(xdr_enc *e, const mnt3_export *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (x[i].ngroups > MNT3_MAX_GROUPS) {
            e->err = true;
            return;
        }
        xdr_put_bool(e, true);
        put_str(e, x[i].dir, MNT3_PATH_MAX);
        for (uint32_t g = 0; g < x[i].ngroups; g++) {
            xdr_put_bool(e, true);
            put_str(e, x[i].groups[g], MNT3_NAME_MAX);
        }
        xdr_put_bool(e, false);
    }
    xdr_put_bool(e, false);
}

/* ---- MOUNT client side ------------------------------------------------------- */

void mnt3_enc_path_args(xdr_enc *e, const mnt3_path_args *a)
{
    put_str(e, a->path, MNT3_PATH_MAX);
}

bool mnt3_dec_mnt_res(xdr_dec *d, mnt3_mnt_res *r)
{
    memset(r, 0, sizeof(*r));
    r->status = xdr_u32(d);
    if (r->status == MNT3_OK) {
        get_fh(d, &r->fh);
        uint32_t n = xdr_u32(d);
        if (n > MNT3_MAX_FLAVORS)
            d->err = true;
        for (uint32_t i = 0; i < n && !d->err; i++)
            r->flavors[i] = xdr_u32(d);
        if (!d->err)
            r->nflavors = n;
    }
    return xdr_done(d);
}

bool mnt3_dec_dump_res(xdr_dec *d, mnt3_mount *m, size_t max, size_t *n)
{
    *n = 0;
    while (xdr_bool(d)) {
        if (*n == max) {
            d->err = true;
            break;
        }
        mnt3_mount *mm = &m[(*n)++];
        memset(mm, 0, sizeof(*mm));
        xdr_string(d, MNT3_NAME_MAX, mm->host);
        xdr_string(d, MNT3_PATH_MAX, mm->dir);
    }
    return xdr_done(d);
}

bool mnt3_dec_export_res(xdr_dec *d, mnt3_export *x, size_t max, size_t *n)
{
    *n = 0;
    while (xdr_bool(d)) {
        if (*n == max) {
            d->err = true;
            break;
        }
        mnt3_export *xx = &x[(*n)++];
        memset(xx, 0, sizeof(*xx));
        xdr_string(d, MNT3_PATH_MAX, xx->dir);
        while (xdr_bool(d)) {
            if (xx->ngroups == MNT3_MAX_GROUPS) {
                d->err = true;
                break;
            }
            xdr_string(d, MNT3_NAME_MAX, xx->groups[xx->ngroups++]);
        }
    }
    return xdr_done(d);
}

/* ==== names ==================================================================== */

const char *nfs3_proc_name(uint32_t proc)
{
    static const char *const names[NFS3_PROC_COUNT] = {
        "NULL",    "GETATTR",     "SETATTR", "LOOKUP", "ACCESS",   "READLINK", "READ",   "WRITE",
        "CREATE",  "MKDIR",       "SYMLINK", "MKNOD",  "REMOVE",   "RMDIR",    "RENAME", "LINK",
        "READDIR", "READDIRPLUS", "FSSTAT",  "FSINFO", "PATHCONF", "COMMIT",
    };
    return proc < NFS3_PROC_COUNT ? names[proc] : "?";
}

const char *mnt3_proc_name(uint32_t proc)
{
    static const char *const names[MNT3_PROC_COUNT] = {
        "NULL", "MNT", "DUMP", "UMNT", "UMNTALL", "EXPORT",
    };
    return proc < MNT3_PROC_COUNT ? names[proc] : "?";
}
