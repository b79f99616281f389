/* strata-nfsclient: strata's NFSv3 server tested end to end by an
 * independent client, libnfs's raw RPC layer. Every MOUNT v3 and every
 * NFSv3 procedure is called explicitly, one call at a time, and its status
 * and results checked against what RFC 1813 and docs/NFS.md say, error
 * answers included (STALE, BAD_COOKIE, EXIST, NOTEMPTY, NOT_SYNC, NOTSUPP,
 * ...), as is the server's refusal of callers other than its owner and
 * root.
 *
 *   strata-nfsclient PORT OWNER_UID
 *
 * talks to 127.0.0.1:PORT (MOUNT and NFS share the port), prints TAP
 * ("ok N - ...", or "not ok N - ..." and "# " diagnostics; "1..N" last)
 * and exits 1 if a check failed, 2 on a usage error. OWNER_UID is the uid
 * the server runs as. The served view must be writable (--upper) and show
 * the tree tests/e2e/nfsclient.sh imports, untouched:
 *
 *   hello.txt     "hello, strata\n", 0644      link -> hello.txt
 *   run.sh        "#!/bin/sh\necho hi\n", 0755
 *   big.bin       200000 bytes: "0123456789abcdef\n" over and over, 0644
 *   dir/          a.txt "alpha\n", b.txt "bravo\n", c.txt "charlie\n",
 *   dir/sub/      deep.txt "deep\n", data.bin (any bytes)
 *
 * The checks change the tree (in the upper directory), so a second run
 * needs a fresh upper directory. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* libnfs.h first: the raw headers use its rpc_cb. */
#include <nfsc/libnfs.h>

#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>
#include <nfsc/libnfs-raw.h>

/* The machine name of our AUTH_SYS credentials: what DUMP lists us as. */
#define MACHINE "strata-nfsclient"
/* The time a call may take, connects included, before it counts as lost. */
#define CALL_LIMIT_MS 30000
/* The server's rtmax and wtmax (docs/NFS.md). */
#define IO_MAX (1u << 20)
/* The server's handles (src/transport/nfs/fh.h). */
#define FH_LEN 24

#define HELLO    "hello, strata\n"
#define PATTERN  "0123456789abcdef\n"
#define BIG_SIZE 200000u

#define ACCESS3_ALL                                                                                \
    (ACCESS3_READ | ACCESS3_LOOKUP | ACCESS3_MODIFY | ACCESS3_EXTEND | ACCESS3_DELETE |            \
     ACCESS3_EXECUTE)

/* ---- TAP ---------------------------------------------------------------- */

static int g_n, g_failed;

/* One check: its line, and on failure the diagnostic, each of its lines
 * as a TAP comment, so that the runner shows why. Returns ok, so that a
 * check can guard the ones that depend on it. */
__attribute__((format(printf, 3, 4))) static bool tap(bool ok, const char *name, const char *fmt,
                                                      ...)
{
    g_n++;
    printf("%s %d - %s\n", ok ? "ok" : "not ok", g_n, name);
    if (!ok) {
        g_failed++;
        char diag[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag, sizeof(diag), fmt, ap);
        va_end(ap);
        for (char *line = diag; line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            printf("# %s\n", line);
            line = nl ? nl + 1 : NULL;
        }
    }
    fflush(stdout);
    return ok;
}

/* ---- replies ------------------------------------------------------------ */

typedef struct fh {
    uint32_t len;
    uint8_t data[NFS3_FHSIZE];
} fh;

/* A directory entry of READDIR or READDIRPLUS, copied out of libnfs. */
typedef struct dent {
    uint64_t fileid, cookie;
    char name[256];
    bool has_attr, has_fh;
    fattr3 attr;
    fh fh;
} dent;

/* An entry of DUMP (host and directory) or EXPORT (directory, groups). */
typedef struct mnt_ent {
    char host[256];
    char dir[1024];
    unsigned ngroups;
} mnt_ent;

typedef struct reply reply;
typedef void (*take_fn)(const void *res, reply *r);

/* What one call brought back. libnfs frees a decoded result when its
 * callback returns, so everything a check looks at is copied out here
 * (take_fn): results without pointers whole (u), the rest field by field. */
struct reply {
    bool done;      /* the call is over, answered or not */
    bool replied;   /* an accepted reply came: status is the procedure's */
    bool mount;     /* a MOUNT procedure: status is a mountstat3 */
    char err[256];  /* why no reply, or what is wrong with one */
    take_fn take;   /* copies the result out, NULL for a void one */
    size_t flat_sz; /* the bytes of u a flat result fills */
    uint32_t status;
    union {
        GETATTR3res getattr;
        SETATTR3res setattr;
        ACCESS3res access;
        WRITE3res write;
        COMMIT3res commit;
        REMOVE3res remove;
        RMDIR3res rmdir;
        RENAME3res rename;
        LINK3res link;
        FSSTAT3res fsstat;
        FSINFO3res fsinfo;
        PATHCONF3res pathconf;
    } u;
    bool has_fh, has_attr; /* LOOKUP, CREATE, MKDIR, SYMLINK, MKNOD, MNT */
    fh fh;
    fattr3 attr;   /* also READ's post-op attributes */
    uint8_t *data; /* READ's bytes, READLINK's target (with a NUL) */
    size_t len;
    bool eof;
    char verf[NFS3_COOKIEVERFSIZE]; /* READDIR(PLUS)'s cookie verifier */
    dent *ents;
    size_t nents;
    mnt_ent *mnts; /* DUMP, EXPORT */
    size_t nmnts;
    int flavors[8]; /* MNT */
    unsigned nflavors;
};

static void reply_free(reply *r)
{
    free(r->data);
    free(r->ents);
    free(r->mnts);
    r->data = NULL;
    r->ents = NULL;
    r->mnts = NULL;
}

static bool is(const reply *r, uint32_t st)
{
    return r->replied && r->status == st;
}

/* A reply as a diagnostic says it: its status, or why none came. A few
 * buffers in turn, so that one message can hold two. */
static const char *why(const reply *r)
{
    static char buf[4][320];
    static int next;
    char *b = buf[next++ % 4];
    if (!r->replied)
        snprintf(b, sizeof(buf[0]), "no reply: %s", r->err);
    else if (r->err[0]) /* a reply that contradicts itself (take_read) */
        snprintf(b, sizeof(buf[0]), "a bad reply: %s", r->err);
    else if (r->mount)
        snprintf(b, sizeof(buf[0]), "status %s (%u)", mountstat3_to_str((int)r->status), r->status);
    else
        snprintf(b, sizeof(buf[0]), "status %s (%u)", nfsstat3_to_str((int)r->status), r->status);
    return b;
}

static const char *st_name(uint32_t st)
{
    return nfsstat3_to_str((int)st);
}

/* The usual check: a call answered with status want. */
static bool expect(const reply *r, uint32_t want, const char *name)
{
    return tap(is(r, want), name, "want %s, got %s",
               r->mount ? mountstat3_to_str((int)want) : st_name(want), why(r));
}

static void copy_fh(fh *out, const char *val, u_int len)
{
    memset(out, 0, sizeof(*out));
    out->len = len <= NFS3_FHSIZE ? len : NFS3_FHSIZE;
    memcpy(out->data, val, out->len);
}

static bool fh_eq(const fh *a, const fh *b)
{
    return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

static void take_flat(const void *res, reply *r)
{
    memcpy(&r->u, res, r->flat_sz);
    r->status = r->u.getattr.status; /* every member starts with it */
}

static void take_lookup(const void *res, reply *r)
{
    const LOOKUP3res *x = res;
    r->status = x->status;
    if (x->status != NFS3_OK)
        return;
    const LOOKUP3resok *ok = &x->LOOKUP3res_u.resok;
    r->has_fh = true;
    copy_fh(&r->fh, ok->object.data.data_val, ok->object.data.data_len);
    r->has_attr = ok->obj_attributes.attributes_follow;
    if (r->has_attr)
        r->attr = ok->obj_attributes.post_op_attr_u.attributes;
}

/* CREATE, MKDIR, SYMLINK and MKNOD answer alike: a handle and attributes. */
static void take_made(reply *r, nfsstat3 st, const post_op_fh3 *h, const post_op_attr *a)
{
    r->status = st;
    if (st != NFS3_OK)
        return;
    r->has_fh = h->handle_follows;
    if (r->has_fh)
        copy_fh(&r->fh, h->post_op_fh3_u.handle.data.data_val,
                h->post_op_fh3_u.handle.data.data_len);
    r->has_attr = a->attributes_follow;
    if (r->has_attr)
        r->attr = a->post_op_attr_u.attributes;
}

static void take_create(const void *res, reply *r)
{
    const CREATE3res *x = res;
    take_made(r, x->status, &x->CREATE3res_u.resok.obj, &x->CREATE3res_u.resok.obj_attributes);
}

static void take_mkdir(const void *res, reply *r)
{
    const MKDIR3res *x = res;
    take_made(r, x->status, &x->MKDIR3res_u.resok.obj, &x->MKDIR3res_u.resok.obj_attributes);
}

static void take_symlink(const void *res, reply *r)
{
    const SYMLINK3res *x = res;
    take_made(r, x->status, &x->SYMLINK3res_u.resok.obj, &x->SYMLINK3res_u.resok.obj_attributes);
}

static void take_mknod(const void *res, reply *r)
{
    const MKNOD3res *x = res;
    take_made(r, x->status, &x->MKNOD3res_u.resok.obj, &x->MKNOD3res_u.resok.obj_attributes);
}

static void take_read(const void *res, reply *r)
{
    const READ3res *x = res;
    r->status = x->status;
    if (x->status != NFS3_OK)
        return;
    const READ3resok *ok = &x->READ3res_u.resok;
    r->has_attr = ok->file_attributes.attributes_follow;
    if (r->has_attr)
        r->attr = ok->file_attributes.post_op_attr_u.attributes;
    r->eof = ok->eof;
    /* count and the data's own length must agree: both are checked. */
    r->len = ok->data.data_len;
    r->data = malloc(r->len + 1);
    if (r->data)
        memcpy(r->data, ok->data.data_val, r->len);
    else
        r->len = 0;
    if (ok->count != ok->data.data_len) {
        r->status = UINT32_MAX;
        snprintf(r->err, sizeof(r->err), "count %u but %u bytes of data", ok->count,
                 ok->data.data_len);
    }
}

static void take_readlink(const void *res, reply *r)
{
    const READLINK3res *x = res;
    r->status = x->status;
    if (x->status != NFS3_OK)
        return;
    const char *t = x->READLINK3res_u.resok.data ? x->READLINK3res_u.resok.data : "";
    r->len = strlen(t);
    r->data = (uint8_t *)strdup(t);
}

/* libnfs's decoder allocates at 4-byte alignment, so the nodes of the
 * lists it links may be misaligned for their 8-byte fields: each node is
 * copied to an aligned one (memcpy) before it is read. */
#define NODE(local, ptr) memcpy(&(local), (ptr), sizeof(local))

/* Room for one more entry of r->ents, or NULL. */
static dent *add_dent(reply *r)
{
    dent *grown = realloc(r->ents, (r->nents + 1) * sizeof(dent));
    if (!grown)
        return NULL;
    r->ents = grown;
    dent *d = &r->ents[r->nents++];
    memset(d, 0, sizeof(*d));
    return d;
}

static void take_readdir(const void *res, reply *r)
{
    const READDIR3res *x = res;
    r->status = x->status;
    if (x->status != NFS3_OK)
        return;
    const READDIR3resok *ok = &x->READDIR3res_u.resok;
    memcpy(r->verf, ok->cookieverf, sizeof(r->verf));
    r->eof = ok->reply.eof;
    entry3 e;
    for (const entry3 *p = ok->reply.entries; p; p = e.nextentry) {
        NODE(e, p);
        dent *d = add_dent(r);
        if (!d)
            return;
        d->fileid = e.fileid;
        d->cookie = e.cookie;
        snprintf(d->name, sizeof(d->name), "%s", e.name ? e.name : "");
    }
}

static void take_readdirplus(const void *res, reply *r)
{
    const READDIRPLUS3res *x = res;
    r->status = x->status;
    if (x->status != NFS3_OK)
        return;
    const READDIRPLUS3resok *ok = &x->READDIRPLUS3res_u.resok;
    memcpy(r->verf, ok->cookieverf, sizeof(r->verf));
    r->eof = ok->reply.eof;
    entryplus3 e;
    for (const entryplus3 *p = ok->reply.entries; p; p = e.nextentry) {
        NODE(e, p);
        dent *d = add_dent(r);
        if (!d)
            return;
        d->fileid = e.fileid;
        d->cookie = e.cookie;
        snprintf(d->name, sizeof(d->name), "%s", e.name ? e.name : "");
        d->has_attr = e.name_attributes.attributes_follow;
        if (d->has_attr)
            d->attr = e.name_attributes.post_op_attr_u.attributes;
        d->has_fh = e.name_handle.handle_follows;
        if (d->has_fh)
            copy_fh(&d->fh, e.name_handle.post_op_fh3_u.handle.data.data_val,
                    e.name_handle.post_op_fh3_u.handle.data.data_len);
    }
}

static void take_mnt(const void *res, reply *r)
{
    const mountres3 *x = res;
    r->status = x->fhs_status;
    if (x->fhs_status != MNT3_OK)
        return;
    const mountres3_ok *ok = &x->mountres3_u.mountinfo;
    r->has_fh = true;
    copy_fh(&r->fh, ok->fhandle.fhandle3_val, ok->fhandle.fhandle3_len);
    for (u_int i = 0; i < ok->auth_flavors.auth_flavors_len && r->nflavors < 8; i++)
        r->flavors[r->nflavors++] = ok->auth_flavors.auth_flavors_val[i];
}

/* Room for one more entry of r->mnts, or NULL. */
static mnt_ent *add_mnt(reply *r)
{
    mnt_ent *grown = realloc(r->mnts, (r->nmnts + 1) * sizeof(mnt_ent));
    if (!grown)
        return NULL;
    r->mnts = grown;
    mnt_ent *m = &r->mnts[r->nmnts++];
    memset(m, 0, sizeof(*m));
    return m;
}

static void take_dump(const void *res, reply *r)
{
    const mountlist *x = res;
    struct mountbody b;
    for (const struct mountbody *p = *x; p; p = b.ml_next) {
        NODE(b, p);
        mnt_ent *e = add_mnt(r);
        if (!e)
            return;
        snprintf(e->host, sizeof(e->host), "%s", b.ml_hostname ? b.ml_hostname : "");
        snprintf(e->dir, sizeof(e->dir), "%s", b.ml_directory ? b.ml_directory : "");
    }
}

static void take_export(const void *res, reply *r)
{
    const exports *x = res;
    struct exportnode n;
    for (const struct exportnode *p = *x; p; p = n.ex_next) {
        NODE(n, p);
        mnt_ent *m = add_mnt(r);
        if (!m)
            return;
        snprintf(m->dir, sizeof(m->dir), "%s", n.ex_dir ? n.ex_dir : "");
        struct groupnode g;
        for (const struct groupnode *q = n.ex_groups; q; q = g.gr_next) {
            NODE(g, q);
            m->ngroups++;
        }
    }
}

/* ---- connections and the call loop --------------------------------------- */

typedef struct conn {
    struct rpc_context *rpc;
    bool dead; /* lost or timed out: nothing more is sent on it */
} conn;

static void on_reply(struct rpc_context *rpc, int status, void *data, void *priv)
{
    (void)rpc;
    reply *r = priv;
    r->done = true;
    if (status == RPC_STATUS_SUCCESS) {
        r->replied = true;
        if (r->take && data)
            r->take(data, r);
        return;
    }
    snprintf(r->err, sizeof(r->err), "%s",
             status == RPC_STATUS_ERROR && data ? (const char *)data
             : status == RPC_STATUS_TIMEOUT     ? "timed out"
                                                : "cancelled");
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Runs libnfs's events until r is answered, for at most CALL_LIMIT_MS. A
 * call that outlives the limit, or a connection that breaks, ends the
 * connection: libnfs then fails what is in flight at once, so that no
 * callback can come later for a reply that is gone. */
static void finish(conn *k, reply *r, bool queued)
{
    if (!queued) {
        r->done = true;
        snprintf(r->err, sizeof(r->err), "not sent: %s",
                 k->dead ? "the connection was lost earlier" : rpc_get_error(k->rpc));
        return;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!r->done) {
        if (ms_since(&t0) >= CALL_LIMIT_MS) {
            k->dead = true;
            rpc_disconnect(k->rpc, "no reply in time");
            r->done = true;
            r->replied = false;
            snprintf(r->err, sizeof(r->err), "no reply within %d s", CALL_LIMIT_MS / 1000);
            return;
        }
        struct pollfd p = {.fd = rpc_get_fd(k->rpc), .events = (short)rpc_which_events(k->rpc)};
        int n = poll(&p, 1, 100);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || rpc_service(k->rpc, n > 0 ? p.revents : 0) < 0) {
            char lost[200];
            snprintf(lost, sizeof(lost), "%s", n < 0 ? strerror(errno) : rpc_get_error(k->rpc));
            k->dead = true;
            if (!r->done) {
                rpc_disconnect(k->rpc, lost);
                r->done = true;
                r->replied = false;
                snprintf(r->err, sizeof(r->err), "connection lost: %s", lost);
            }
            return;
        }
    }
}

static void reply_init(reply *r, take_fn take, size_t flat_sz)
{
    memset(r, 0, sizeof(*r));
    r->take = take;
    r->flat_sz = flat_sz;
}

/* Queues fn's call (unless the connection is gone) and waits for it. */
#define CALL(k, r, fn, ...) finish((k), (r), !(k)->dead && fn((k)->rpc, on_reply, __VA_ARGS__) == 0)

/* The credentials every later call carries: AUTH_SYS as uid, gid. */
static void as_uid(conn *k, uint32_t uid, uint32_t gid)
{
    struct AUTH *a = libnfs_authunix_create(MACHINE, uid, gid, 0, NULL);
    if (!a) {
        fprintf(stderr, "strata-nfsclient: libnfs_authunix_create failed\n");
        exit(2);
    }
    rpc_set_auth(k->rpc, a);
}

static void as_none(conn *k)
{
    struct AUTH *a = libnfs_authnone_create();
    if (!a) {
        fprintf(stderr, "strata-nfsclient: libnfs_authnone_create failed\n");
        exit(2);
    }
    rpc_set_auth(k->rpc, a);
}

static void on_connect(struct rpc_context *rpc, int status, void *data, void *priv)
{
    (void)rpc;
    reply *r = priv;
    r->done = true;
    r->replied = status == RPC_STATUS_SUCCESS;
    if (!r->replied)
        snprintf(r->err, sizeof(r->err), "%s", data ? (const char *)data : "cancelled");
}

/* A TCP connection to the port for program/version 3, as uid. */
static bool conn_open(conn *k, int port, int prog, uint32_t uid, uint32_t gid, const char *name)
{
    memset(k, 0, sizeof(*k));
    k->rpc = rpc_init_context();
    if (!k->rpc)
        return tap(false, name, "rpc_init_context failed");
    as_uid(k, uid, gid);
    reply r;
    reply_init(&r, NULL, 0);
    finish(k, &r, rpc_connect_port_async(k->rpc, "127.0.0.1", port, prog, 3, on_connect, &r) == 0);
    if (!r.replied)
        k->dead = true;
    return tap(r.replied, name, "connect to 127.0.0.1:%d: %s", port, r.err);
}

static void conn_close(conn *k)
{
    if (k->rpc)
        rpc_destroy_context(k->rpc);
    k->rpc = NULL;
}

/* ---- the procedures -------------------------------------------------------- */

static nfs_fh3 fh3(const fh *f)
{
    return (nfs_fh3){.data = {.data_len = f->len, .data_val = (char *)f->data}};
}

static diropargs3 dirop(const fh *d, const char *name)
{
    return (diropargs3){.dir = fh3(d), .name = (char *)name};
}

static reply m_null(conn *k)
{
    reply r;
    reply_init(&r, NULL, 0);
    r.mount = true;
    CALL(k, &r, rpc_mount3_null_async, &r);
    return r;
}

static reply m_mnt(conn *k, const char *path)
{
    reply r;
    reply_init(&r, take_mnt, 0);
    r.mount = true;
    CALL(k, &r, rpc_mount3_mnt_async, (char *)path, &r);
    return r;
}

static reply m_dump(conn *k)
{
    reply r;
    reply_init(&r, take_dump, 0);
    r.mount = true;
    CALL(k, &r, rpc_mount3_dump_async, &r);
    return r;
}

static reply m_umnt(conn *k, const char *path)
{
    reply r;
    reply_init(&r, NULL, 0);
    r.mount = true;
    CALL(k, &r, rpc_mount3_umnt_async, (char *)path, &r);
    return r;
}

static reply m_umntall(conn *k)
{
    reply r;
    reply_init(&r, NULL, 0);
    r.mount = true;
    CALL(k, &r, rpc_mount3_umntall_async, &r);
    return r;
}

static reply m_export(conn *k)
{
    reply r;
    reply_init(&r, take_export, 0);
    r.mount = true;
    CALL(k, &r, rpc_mount3_export_async, &r);
    return r;
}

static reply n_null(conn *k)
{
    reply r;
    reply_init(&r, NULL, 0);
    CALL(k, &r, rpc_nfs3_null_async, &r);
    return r;
}

static reply n_getattr(conn *k, const fh *f)
{
    reply r;
    reply_init(&r, take_flat, sizeof(GETATTR3res));
    GETATTR3args a = {.object = fh3(f)};
    CALL(k, &r, rpc_nfs3_getattr_async, &a, &r);
    return r;
}

/* guard: the ctime the object must still have, or NULL for none. */
static reply n_setattr(conn *k, const fh *f, const sattr3 *s, const nfstime3 *guard)
{
    reply r;
    reply_init(&r, take_flat, sizeof(SETATTR3res));
    SETATTR3args a = {.object = fh3(f), .new_attributes = *s};
    if (guard) {
        a.guard.check = 1;
        a.guard.sattrguard3_u.obj_ctime = *guard;
    }
    CALL(k, &r, rpc_nfs3_setattr_async, &a, &r);
    return r;
}

static reply n_lookup(conn *k, const fh *d, const char *name)
{
    reply r;
    reply_init(&r, take_lookup, 0);
    LOOKUP3args a = {.what = dirop(d, name)};
    CALL(k, &r, rpc_nfs3_lookup_async, &a, &r);
    return r;
}

static reply n_access(conn *k, const fh *f, uint32_t want)
{
    reply r;
    reply_init(&r, take_flat, sizeof(ACCESS3res));
    ACCESS3args a = {.object = fh3(f), .access = want};
    CALL(k, &r, rpc_nfs3_access_async, &a, &r);
    return r;
}

static reply n_readlink(conn *k, const fh *f)
{
    reply r;
    reply_init(&r, take_readlink, 0);
    READLINK3args a = {.symlink = fh3(f)};
    CALL(k, &r, rpc_nfs3_readlink_async, &a, &r);
    return r;
}

static reply n_read(conn *k, const fh *f, uint64_t off, uint32_t count)
{
    reply r;
    reply_init(&r, take_read, 0);
    READ3args a = {.file = fh3(f), .offset = off, .count = count};
    CALL(k, &r, rpc_nfs3_read_async, &a, &r);
    return r;
}

static reply n_write(conn *k, const fh *f, uint64_t off, const void *buf, uint32_t len,
                     stable_how how)
{
    reply r;
    reply_init(&r, take_flat, sizeof(WRITE3res));
    WRITE3args a = {.file = fh3(f), .offset = off, .count = len, .stable = how};
    a.data.data_len = len;
    a.data.data_val = (char *)buf;
    CALL(k, &r, rpc_nfs3_write_async, &a, &r);
    return r;
}

static reply n_commit(conn *k, const fh *f, uint64_t off, uint32_t count)
{
    reply r;
    reply_init(&r, take_flat, sizeof(COMMIT3res));
    COMMIT3args a = {.file = fh3(f), .offset = off, .count = count};
    CALL(k, &r, rpc_nfs3_commit_async, &a, &r);
    return r;
}

/* s: the attributes of UNCHECKED and GUARDED; verf: EXCLUSIVE's. */
static reply n_create(conn *k, const fh *d, const char *name, createmode3 how, const sattr3 *s,
                      const char *verf)
{
    reply r;
    reply_init(&r, take_create, 0);
    CREATE3args a = {.where = dirop(d, name), .how = {.mode = how}};
    if (how == EXCLUSIVE)
        memcpy(a.how.createhow3_u.verf, verf, NFS3_CREATEVERFSIZE);
    else if (how == GUARDED)
        a.how.createhow3_u.g_obj_attributes = *s;
    else
        a.how.createhow3_u.obj_attributes = *s;
    CALL(k, &r, rpc_nfs3_create_async, &a, &r);
    return r;
}

static reply n_mkdir(conn *k, const fh *d, const char *name, const sattr3 *s)
{
    reply r;
    reply_init(&r, take_mkdir, 0);
    MKDIR3args a = {.where = dirop(d, name), .attributes = *s};
    CALL(k, &r, rpc_nfs3_mkdir_async, &a, &r);
    return r;
}

static reply n_symlink(conn *k, const fh *d, const char *name, const char *target)
{
    reply r;
    reply_init(&r, take_symlink, 0);
    SYMLINK3args a = {.where = dirop(d, name)};
    a.symlink.symlink_data = (char *)target;
    CALL(k, &r, rpc_nfs3_symlink_async, &a, &r);
    return r;
}

static reply n_mknod(conn *k, const fh *d, const char *name, ftype3 type, const sattr3 *s)
{
    reply r;
    reply_init(&r, take_mknod, 0);
    MKNOD3args a = {.where = dirop(d, name), .what = {.type = type}};
    if (type == NF3FIFO) {
        a.what.mknoddata3_u.pipe_attributes = *s;
    } else if (type == NF3CHR) {
        a.what.mknoddata3_u.chr_device.dev_attributes = *s;
        a.what.mknoddata3_u.chr_device.spec = (specdata3){1, 3}; /* /dev/null's */
    }
    CALL(k, &r, rpc_nfs3_mknod_async, &a, &r);
    return r;
}

static reply n_remove(conn *k, const fh *d, const char *name)
{
    reply r;
    reply_init(&r, take_flat, sizeof(REMOVE3res));
    REMOVE3args a = {.object = dirop(d, name)};
    CALL(k, &r, rpc_nfs3_remove_async, &a, &r);
    return r;
}

static reply n_rmdir(conn *k, const fh *d, const char *name)
{
    reply r;
    reply_init(&r, take_flat, sizeof(RMDIR3res));
    RMDIR3args a = {.object = dirop(d, name)};
    CALL(k, &r, rpc_nfs3_rmdir_async, &a, &r);
    return r;
}

static reply n_rename(conn *k, const fh *fd, const char *from, const fh *td, const char *to)
{
    reply r;
    reply_init(&r, take_flat, sizeof(RENAME3res));
    RENAME3args a = {.from = dirop(fd, from), .to = dirop(td, to)};
    CALL(k, &r, rpc_nfs3_rename_async, &a, &r);
    return r;
}

static reply n_link(conn *k, const fh *f, const fh *d, const char *name)
{
    reply r;
    reply_init(&r, take_flat, sizeof(LINK3res));
    LINK3args a = {.file = fh3(f), .link = dirop(d, name)};
    CALL(k, &r, rpc_nfs3_link_async, &a, &r);
    return r;
}

static reply n_readdir(conn *k, const fh *d, uint64_t cookie, const char *verf, uint32_t count)
{
    reply r;
    reply_init(&r, take_readdir, 0);
    READDIR3args a = {.dir = fh3(d), .cookie = cookie, .count = count};
    if (verf)
        memcpy(a.cookieverf, verf, NFS3_COOKIEVERFSIZE);
    CALL(k, &r, rpc_nfs3_readdir_async, &a, &r);
    return r;
}

static reply n_readdirplus(conn *k, const fh *d, uint64_t cookie, const char *verf,
                           uint32_t dircount, uint32_t maxcount)
{
    reply r;
    reply_init(&r, take_readdirplus, 0);
    READDIRPLUS3args a = {
        .dir = fh3(d), .cookie = cookie, .dircount = dircount, .maxcount = maxcount};
    if (verf)
        memcpy(a.cookieverf, verf, NFS3_COOKIEVERFSIZE);
    CALL(k, &r, rpc_nfs3_readdirplus_async, &a, &r);
    return r;
}

static reply n_fsstat(conn *k, const fh *f)
{
    reply r;
    reply_init(&r, take_flat, sizeof(FSSTAT3res));
    FSSTAT3args a = {.fsroot = fh3(f)};
    CALL(k, &r, rpc_nfs3_fsstat_async, &a, &r);
    return r;
}

static reply n_fsinfo(conn *k, const fh *f)
{
    reply r;
    reply_init(&r, take_flat, sizeof(FSINFO3res));
    FSINFO3args a = {.fsroot = fh3(f)};
    CALL(k, &r, rpc_nfs3_fsinfo_async, &a, &r);
    return r;
}

static reply n_pathconf(conn *k, const fh *f)
{
    reply r;
    reply_init(&r, take_flat, sizeof(PATHCONF3res));
    PATHCONF3args a = {.object = fh3(f)};
    CALL(k, &r, rpc_nfs3_pathconf_async, &a, &r);
    return r;
}

/* ---- helpers of the checks ------------------------------------------------- */

static sattr3 no_attrs(void)
{
    return (sattr3){0};
}

static sattr3 with_mode(uint32_t mode)
{
    sattr3 s = no_attrs();
    s.mode.set_it = 1;
    s.mode.set_mode3_u.mode = mode;
    return s;
}

static sattr3 with_size(uint64_t size)
{
    sattr3 s = no_attrs();
    s.size.set_it = 1;
    s.size.set_size3_u.size = size;
    return s;
}

static const char *type_name(uint32_t t)
{
    static const char *names[] = {"?", "REG", "DIR", "BLK", "CHR", "LNK", "SOCK", "FIFO"};
    return t < 8 ? names[t] : "?";
}

static const char *access_str(uint32_t a)
{
    static char buf[4][64];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof(buf[0]), "%s%s%s%s%s%s%s", a & ACCESS3_READ ? "READ " : "",
             a & ACCESS3_LOOKUP ? "LOOKUP " : "", a & ACCESS3_MODIFY ? "MODIFY " : "",
             a & ACCESS3_EXTEND ? "EXTEND " : "", a & ACCESS3_DELETE ? "DELETE " : "",
             a & ACCESS3_EXECUTE ? "EXECUTE " : "", a ? "" : "none");
    return b;
}

/* The rights RFC 1813 grants uid (in gid) on a file of attributes a, by
 * the POSIX rules knfsd applies: root reads and writes anything, and
 * executes what has an x bit (searches any directory); anyone else gets
 * the mode's class of bits. LOOKUP and DELETE concern directories,
 * EXECUTE the rest. */
static uint32_t want_access(uint32_t uid, uint32_t gid, const fattr3 *a, uint32_t asked)
{
    bool dir = a->type == NF3DIR;
    unsigned bits;
    if (uid == 0)
        bits = 06 | (dir || (a->mode & 0111) ? 01 : 0);
    else if (uid == a->uid)
        bits = (a->mode >> 6) & 07;
    else if (gid == a->gid)
        bits = (a->mode >> 3) & 07;
    else
        bits = a->mode & 07;
    uint32_t got = 0;
    if (bits & 04)
        got |= ACCESS3_READ;
    if (bits & 02)
        got |= ACCESS3_MODIFY | ACCESS3_EXTEND | (dir ? ACCESS3_DELETE : 0);
    if (bits & 01)
        got |= dir ? ACCESS3_LOOKUP : ACCESS3_EXECUTE;
    return got & asked;
}

/* Deterministic bytes for WRITE, so that READ can compare them. */
static uint8_t *gen_bytes(size_t n, uint64_t seed)
{
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        fprintf(stderr, "strata-nfsclient: out of memory\n");
        exit(2);
    }
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (uint8_t)(x >> 24);
    }
    return b;
}

/* big.bin's bytes: PATTERN over and over. */
static uint8_t *big_bytes(void)
{
    uint8_t *b = malloc(BIG_SIZE);
    if (!b) {
        fprintf(stderr, "strata-nfsclient: out of memory\n");
        exit(2);
    }
    size_t plen = strlen(PATTERN);
    for (size_t i = 0; i < BIG_SIZE; i++)
        b[i] = (uint8_t)PATTERN[i % plen];
    return b;
}

/* Where two byte strings first differ, for a diagnostic. */
static const char *diff_at(const uint8_t *want, size_t wlen, const uint8_t *got, size_t glen)
{
    static char buf[160];
    size_t i = 0;
    while (i < wlen && i < glen && want[i] == got[i])
        i++;
    if (i == wlen && i == glen)
        return "equal";
    snprintf(buf, sizeof(buf), "want %zu bytes, got %zu; first difference at byte %zu", wlen, glen,
             i);
    return buf;
}

static bool same_bytes(const reply *r, const void *want, size_t len)
{
    return r->replied && r->status == NFS3_OK && r->len == len && r->data &&
           !memcmp(r->data, want, len);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names, sorted and joined by spaces: a listing as one comparable string. */
static void join_sorted(const char **names, size_t n, char *out, size_t len)
{
    qsort(names, n, sizeof(*names), cmp_str);
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? " " : "", names[i]);
}

static void want_names(char *out, size_t len, const char *const *names, size_t n)
{
    const char *v[64];
    for (size_t i = 0; i < n && i < 64; i++)
        v[i] = names[i];
    join_sorted(v, n < 64 ? n : 64, out, len);
}

/* A directory's whole listing by READDIR, count bytes a call, following
 * cookies to eof: its names (sorted, joined) and the number of calls.
 * False, with why, if a call fails or a cookie repeats. */
static bool list_all(conn *k, const fh *d, uint32_t count, char *names, size_t len, int *calls,
                     char *why_not, size_t why_len)
{
    const char *v[256];
    static char store[256][256];
    size_t n = 0;
    uint64_t cookie = 0;
    char verf[NFS3_COOKIEVERFSIZE] = {0};
    *calls = 0;
    for (;;) {
        reply r = n_readdir(k, d, cookie, verf, count);
        (*calls)++;
        if (!is(&r, NFS3_OK)) {
            snprintf(why_not, why_len, "READDIR call %d (cookie %" PRIu64 "): %s", *calls, cookie,
                     why(&r));
            reply_free(&r);
            return false;
        }
        for (size_t i = 0; i < r.nents && n < 256; i++) {
            snprintf(store[n], sizeof(store[n]), "%s", r.ents[i].name);
            v[n] = store[n];
            n++;
        }
        bool eof = r.eof;
        uint64_t last = r.nents ? r.ents[r.nents - 1].cookie : cookie;
        memcpy(verf, r.verf, sizeof(verf));
        size_t got = r.nents;
        reply_free(&r);
        if (eof)
            break;
        if (got == 0 || last == cookie || *calls > 100) {
            snprintf(why_not, why_len,
                     "READDIR call %d: no progress (%zu entries, cookie %" PRIu64 ")", *calls, got,
                     last);
            return false;
        }
        cookie = last;
    }
    join_sorted(v, n, names, len);
    return true;
}

/* ---- the checks ----------------------------------------------------------- */

static conn g_mnt, g_nfs;
static int g_port;
static uint32_t g_owner, g_gid, g_other;
static fh g_root, g_mnt_dir, g_mnt_sub;

/* A handle by LOOKUP of one name, checked OK (else an empty handle, which
 * the server answers STALE, so later checks fail rather than crash). */
static fh look(const fh *d, const char *name, fattr3 *attr)
{
    reply r = n_lookup(&g_nfs, d, name);
    fh f = {0};
    if (is(&r, NFS3_OK) && r.has_fh)
        f = r.fh;
    if (attr)
        *attr = r.attr;
    if (!is(&r, NFS3_OK)) {
        char name_buf[300];
        snprintf(name_buf, sizeof(name_buf), "LOOKUP %s (needed by the checks after it)", name);
        expect(&r, NFS3_OK, name_buf);
    }
    return f;
}

static fattr3 attrs_of(const fh *f, bool *ok)
{
    reply r = n_getattr(&g_nfs, f);
    *ok = is(&r, NFS3_OK);
    return r.u.getattr.GETATTR3res_u.resok.obj_attributes;
}

static bool has_mount(const reply *r, const char *dir)
{
    for (size_t i = 0; i < r->nmnts; i++)
        if (!strcmp(r->mnts[i].host, MACHINE) && !strcmp(r->mnts[i].dir, dir))
            return true;
    return false;
}

static size_t our_mounts(const reply *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nmnts; i++)
        n += !strcmp(r->mnts[i].host, MACHINE);
    return n;
}

static const char *mounts_str(const reply *r)
{
    static char buf[2048];
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->nmnts && used < sizeof(buf); i++)
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s(%s:%s)", i ? " " : "",
                                 r->mnts[i].host, r->mnts[i].dir);
    return r->nmnts ? buf : "(none)";
}

/* MOUNT v3: NULL, MNT (the export, directories below it, and what is not
 * a directory), DUMP as MNT and UMNT change it, EXPORT, UMNTALL. */
static void check_mount(void)
{
    reply r = m_null(&g_mnt);
    tap(r.replied, "MOUNT NULL: answered", "%s", why(&r));

    r = m_mnt(&g_mnt, "/");
    bool flavor = false;
    for (unsigned i = 0; i < r.nflavors; i++)
        flavor |= r.flavors[i] == AUTH_UNIX;
    tap(is(&r, MNT3_OK) && r.has_fh && r.fh.len == FH_LEN && !memcmp(r.fh.data, "S3", 2) && flavor,
        "MNT /: OK, a 24-byte handle starting \"S3\", AUTH_SYS among the flavors",
        "%s, handle of %u bytes, %u flavors", why(&r), r.fh.len, r.nflavors);
    g_root = r.fh;

    r = m_mnt(&g_mnt, "/dir");
    tap(is(&r, MNT3_OK) && r.fh.len == FH_LEN && !fh_eq(&r.fh, &g_root),
        "MNT /dir: OK, a handle of its own", "%s, handle of %u bytes", why(&r), r.fh.len);
    g_mnt_dir = r.fh;
    r = m_mnt(&g_mnt, "/dir/sub");
    expect(&r, MNT3_OK, "MNT /dir/sub: OK");
    g_mnt_sub = r.fh;
    r = m_mnt(&g_mnt, "/nope");
    expect(&r, MNT3ERR_NOENT, "MNT of a missing directory: NOENT");
    r = m_mnt(&g_mnt, "/hello.txt");
    expect(&r, MNT3ERR_NOTDIR, "MNT of a file: NOTDIR");
    r = m_mnt(&g_mnt, "/..");
    expect(&r, MNT3ERR_ACCES, "MNT /.. (above the export): ACCES");

    r = m_dump(&g_mnt);
    tap(r.replied && our_mounts(&r) == 3 && has_mount(&r, "/") && has_mount(&r, "/dir") &&
            has_mount(&r, "/dir/sub"),
        "DUMP: lists our three mounts, / and /dir and /dir/sub, under our machine name",
        "%s; listed: %s", why(&r), mounts_str(&r));
    reply_free(&r);

    r = m_umnt(&g_mnt, "/dir");
    tap(r.replied, "UMNT /dir: answered", "%s", why(&r));
    r = m_dump(&g_mnt);
    tap(r.replied && our_mounts(&r) == 2 && has_mount(&r, "/") && has_mount(&r, "/dir/sub"),
        "DUMP after UMNT /dir: / and /dir/sub are left", "%s; listed: %s", why(&r), mounts_str(&r));
    reply_free(&r);

    r = m_export(&g_mnt);
    tap(r.replied && r.nmnts == 1 && !strcmp(r.mnts[0].dir, "/") && r.mnts[0].ngroups == 0,
        "EXPORT: one export, /, open to all (no groups)", "%s; %zu exports, first %s (%u groups)",
        why(&r), r.nmnts, r.nmnts ? r.mnts[0].dir : "-", r.nmnts ? r.mnts[0].ngroups : 0);
    reply_free(&r);

    r = m_umntall(&g_mnt);
    tap(r.replied, "UMNTALL: answered", "%s", why(&r));
    r = m_dump(&g_mnt);
    tap(r.replied && our_mounts(&r) == 0, "DUMP after UMNTALL: none of ours is left",
        "%s; listed: %s", why(&r), mounts_str(&r));
    reply_free(&r);
}

/* NULL, GETATTR, LOOKUP (names, "..", errors) and READLINK over the
 * untouched tree. */
static void check_lookup(void)
{
    reply r = n_null(&g_nfs);
    tap(r.replied, "NFS NULL: answered", "%s", why(&r));

    r = n_getattr(&g_nfs, &g_root);
    fattr3 ra = r.u.getattr.GETATTR3res_u.resok.obj_attributes;
    tap(is(&r, NFS3_OK) && ra.type == NF3DIR && ra.uid == g_owner,
        "GETATTR of the root after UMNTALL: OK, a directory of the owner's (handles outlive "
        "the mount list)",
        "%s, type %s, uid %u", why(&r), type_name(ra.type), ra.uid);

    r = n_lookup(&g_nfs, &g_root, "hello.txt");
    fattr3 la = r.attr;
    tap(is(&r, NFS3_OK) && r.has_fh && r.fh.len == FH_LEN && r.has_attr && la.type == NF3REG &&
            la.size == strlen(HELLO) && la.mode == 0644 && la.nlink == 1 && la.uid == g_owner,
        "LOOKUP hello.txt: OK, a handle, attributes: regular, 14 bytes, 0644, 1 link, the "
        "owner's",
        "%s, handle of %u bytes, attrs %d: type %s size %" PRIu64 " mode %o nlink %u uid %u",
        why(&r), r.fh.len, r.has_attr, type_name(la.type), la.size, la.mode, la.nlink, la.uid);
    fh hello = r.fh;
    r = n_getattr(&g_nfs, &hello);
    fattr3 ga = r.u.getattr.GETATTR3res_u.resok.obj_attributes;
    tap(is(&r, NFS3_OK) && ga.fileid == la.fileid && ga.size == la.size && ga.mode == la.mode,
        "GETATTR hello.txt: the attributes LOOKUP gave",
        "%s, fileid %" PRIu64 " vs %" PRIu64 ", size %" PRIu64, why(&r), ga.fileid, la.fileid,
        ga.size);

    r = n_lookup(&g_nfs, &g_root, "dir");
    tap(is(&r, NFS3_OK) && r.attr.type == NF3DIR && fh_eq(&r.fh, &g_mnt_dir),
        "LOOKUP dir: a directory, the very handle MNT /dir gave", "%s, type %s, same handle %d",
        why(&r), type_name(r.attr.type), fh_eq(&r.fh, &g_mnt_dir));
    fh dir = r.fh;
    r = n_lookup(&g_nfs, &dir, "sub");
    tap(is(&r, NFS3_OK) && r.attr.type == NF3DIR && fh_eq(&r.fh, &g_mnt_sub),
        "LOOKUP dir/sub: a directory, the handle MNT /dir/sub gave", "%s, type %s, same %d",
        why(&r), type_name(r.attr.type), fh_eq(&r.fh, &g_mnt_sub));
    r = n_lookup(&g_nfs, &dir, "..");
    tap(is(&r, NFS3_OK) && r.attr.fileid == ra.fileid, "LOOKUP dir/..: the root",
        "%s, fileid %" PRIu64 ", root's %" PRIu64, why(&r), r.attr.fileid, ra.fileid);
    r = n_lookup(&g_nfs, &g_root, "..");
    tap(is(&r, NFS3_OK) && r.attr.fileid == ra.fileid,
        "LOOKUP .. at the export root: the root itself", "%s, fileid %" PRIu64 ", root's %" PRIu64,
        why(&r), r.attr.fileid, ra.fileid);
    r = n_lookup(&g_nfs, &g_root, "nope");
    expect(&r, NFS3ERR_NOENT, "LOOKUP of a missing name: NOENT");
    r = n_lookup(&g_nfs, &hello, "x");
    expect(&r, NFS3ERR_NOTDIR, "LOOKUP in a file: NOTDIR");
    /* Names are bounded at 255 bytes (PATHCONF's name_max): a longer one
     * is NAMETOOLONG, as RFC 1813 has it; one past what the server
     * decodes at all (1024 bytes, src/transport/nfs/nfs3_xdr.h) is
     * refused as garbage, and the connection goes on. */
    char longname[1100];
    memset(longname, 'n', sizeof(longname));
    longname[255] = '\0';
    r = n_lookup(&g_nfs, &g_root, longname);
    expect(&r, NFS3ERR_NOENT, "LOOKUP of a missing 255-byte name: NOENT");
    longname[255] = 'n';
    longname[256] = '\0';
    r = n_lookup(&g_nfs, &g_root, longname);
    expect(&r, NFS3ERR_NAMETOOLONG, "LOOKUP of a 256-byte name: NAMETOOLONG");
    longname[256] = 'n';
    longname[1025] = '\0';
    r = n_lookup(&g_nfs, &g_root, longname);
    tap(!r.replied && strstr(r.err, "Garbage") && !g_nfs.dead,
        "LOOKUP of a 1025-byte name: refused as GARBAGE_ARGS, the connection kept", "%s", why(&r));

    r = n_lookup(&g_nfs, &g_root, "link");
    tap(is(&r, NFS3_OK) && r.attr.type == NF3LNK && r.attr.size == strlen("hello.txt"),
        "LOOKUP link: a symbolic link of 9 bytes", "%s, type %s, size %" PRIu64, why(&r),
        type_name(r.attr.type), r.attr.size);
    fh link = r.fh;
    r = n_readlink(&g_nfs, &link);
    tap(r.replied && r.status == NFS3_OK && r.data && !strcmp((char *)r.data, "hello.txt"),
        "READLINK link: \"hello.txt\"", "%s, target \"%s\"", why(&r), r.data ? (char *)r.data : "");
    reply_free(&r);
    r = n_readlink(&g_nfs, &hello);
    expect(&r, NFS3ERR_INVAL, "READLINK of a regular file: INVAL");
    reply_free(&r);
}

/* ACCESS of a few objects, asking every right, as the owner and as root:
 * what the mode grants each (want_access). */
static void check_access_of(const char *what, const fh *f)
{
    bool ok;
    fattr3 a = attrs_of(f, &ok);
    struct {
        const char *who;
        uint32_t uid, gid;
    } callers[] = {{"the owner", g_owner, g_gid}, {"root", 0, 0}};
    for (size_t i = 0; i < 2; i++) {
        as_uid(&g_nfs, callers[i].uid, callers[i].gid);
        reply r = n_access(&g_nfs, f, ACCESS3_ALL);
        uint32_t got = r.u.access.ACCESS3res_u.resok.access;
        uint32_t want = want_access(callers[i].uid, callers[i].gid, &a, ACCESS3_ALL);
        char name[300];
        snprintf(name, sizeof(name), "ACCESS of %s (%04o, uid %u) as %s (uid %u): %s", what, a.mode,
                 a.uid, callers[i].who, callers[i].uid, access_str(want));
        tap(ok && is(&r, NFS3_OK) && got == want, name, "%s, granted %s, GETATTR ok %d", why(&r),
            access_str(got), ok);
    }
    as_uid(&g_nfs, g_owner, g_gid);
}

/* READ: whole files, ranges, the end, many calls and one of rtmax, and
 * what is not a regular file. */
static void check_read(void)
{
    fh hello = look(&g_root, "hello.txt", NULL);
    reply r = n_read(&g_nfs, &hello, 0, 4096);
    tap(same_bytes(&r, HELLO, strlen(HELLO)) && r.eof && r.has_attr && r.attr.size == strlen(HELLO),
        "READ hello.txt: its 14 bytes, eof, post-op attributes", "%s, %s, eof %d", why(&r),
        diff_at((const uint8_t *)HELLO, strlen(HELLO), r.data, r.len), r.eof);
    reply_free(&r);
    r = n_read(&g_nfs, &hello, 7, 6);
    tap(same_bytes(&r, "strata", 6) && !r.eof, "READ hello.txt 7+6: \"strata\", not eof",
        "%s, %zu bytes, eof %d", why(&r), r.len, r.eof);
    reply_free(&r);
    r = n_read(&g_nfs, &hello, 14, 10);
    tap(is(&r, NFS3_OK) && r.len == 0 && r.eof, "READ at the end: 0 bytes, eof",
        "%s, %zu bytes, eof %d", why(&r), r.len, r.eof);
    reply_free(&r);
    r = n_read(&g_nfs, &hello, 1000, 10);
    tap(is(&r, NFS3_OK) && r.len == 0 && r.eof, "READ past the end: 0 bytes, eof",
        "%s, %zu bytes, eof %d", why(&r), r.len, r.eof);
    reply_free(&r);

    fh big = look(&g_root, "big.bin", NULL);
    uint8_t *want = big_bytes();
    uint8_t *got = calloc(1, BIG_SIZE + IO_MAX);
    size_t have = 0;
    int calls = 0;
    bool good = got != NULL, eof_ok = true;
    char bad[400] = "";
    while (good && have < BIG_SIZE + 1 && calls < 10) {
        r = n_read(&g_nfs, &big, have, 65536);
        calls++;
        if (!is(&r, NFS3_OK)) {
            snprintf(bad, sizeof(bad), "call %d at %zu: %s", calls, have, why(&r));
            good = false;
        } else {
            memcpy(got + have, r.data, r.len);
            have += r.len;
            if (r.eof != (have >= BIG_SIZE))
                eof_ok = false;
        }
        bool end = r.eof || r.len == 0;
        reply_free(&r);
        if (end)
            break;
    }
    tap(good && eof_ok && calls == 4 && have == BIG_SIZE && !memcmp(got, want, BIG_SIZE),
        "READ big.bin in 64 KiB calls: 4 calls, every byte, eof on the last only",
        "%s; %d calls, %zu bytes, eof right %d, %s", bad, calls, have, eof_ok,
        diff_at(want, BIG_SIZE, got, have));
    r = n_read(&g_nfs, &big, 0, IO_MAX);
    tap(same_bytes(&r, want, BIG_SIZE) && r.eof, "READ big.bin in one call of rtmax: every byte",
        "%s, %s, eof %d", why(&r), diff_at(want, BIG_SIZE, r.data, r.len), r.eof);
    reply_free(&r);
    free(want);
    free(got);

    r = n_read(&g_nfs, &g_root, 0, 100);
    expect(&r, NFS3ERR_ISDIR, "READ of a directory: ISDIR");
    reply_free(&r);
    fh link = look(&g_root, "link", NULL);
    r = n_read(&g_nfs, &link, 0, 100);
    expect(&r, NFS3ERR_INVAL, "READ of a symbolic link: INVAL");
    reply_free(&r);
}

/* WRITE with each stable_how, their verifier and COMMIT's, the bytes read
 * back, a write of wtmax, a hole, a copy-up of a layer's file. */
static void check_write(void)
{
    sattr3 m644 = with_mode(0644);
    reply r = n_create(&g_nfs, &g_root, "w.bin", UNCHECKED, &m644, NULL);
    tap(is(&r, NFS3_OK) && r.has_fh && r.has_attr && r.attr.type == NF3REG && r.attr.size == 0 &&
            r.attr.mode == 0644 && r.attr.uid == g_owner,
        "CREATE UNCHECKED w.bin 0644: OK, a handle, an empty regular file of 0644, the caller's",
        "%s, handle %d, attrs %d: type %s size %" PRIu64 " mode %o uid %u", why(&r), r.has_fh,
        r.has_attr, type_name(r.attr.type), r.attr.size, r.attr.mode, r.attr.uid);
    fh w = r.fh;

    const uint32_t sizes[3] = {100000, 100000, 50000};
    const stable_how hows[3] = {UNSTABLE, DATA_SYNC, FILE_SYNC};
    const char *names[3] = {"UNSTABLE", "DATA_SYNC", "FILE_SYNC"};
    uint8_t *data = gen_bytes(250000, 1);
    char verf[NFS3_WRITEVERFSIZE] = {0};
    uint64_t off = 0;
    for (int i = 0; i < 3; i++) {
        r = n_write(&g_nfs, &w, off, data + off, sizes[i], hows[i]);
        const WRITE3resok *ok = &r.u.write.WRITE3res_u.resok;
        if (i == 0)
            memcpy(verf, ok->verf, sizeof(verf));
        char name[200];
        snprintf(name, sizeof(name),
                 "WRITE %s %u bytes at %" PRIu64 ": all written, committed at least %s, %s",
                 names[i], sizes[i], off, names[i],
                 i ? "the verifier of the first WRITE" : "post-op size grown");
        bool same_verf = !memcmp(verf, ok->verf, sizeof(verf));
        bool grown = ok->file_wcc.after.attributes_follow &&
                     ok->file_wcc.after.post_op_attr_u.attributes.size == off + sizes[i];
        tap(is(&r, NFS3_OK) && ok->count == sizes[i] && ok->committed >= hows[i] && same_verf &&
                grown,
            name, "%s, count %u, committed %d, same verifier %d, size after %d", why(&r), ok->count,
            ok->committed, same_verf, grown);
        off += sizes[i];
    }
    r = n_commit(&g_nfs, &w, 0, 0);
    tap(is(&r, NFS3_OK) && !memcmp(r.u.commit.COMMIT3res_u.resok.verf, verf, sizeof(verf)),
        "COMMIT w.bin: OK, the verifier the WRITEs gave (no restart in between)",
        "%s, same verifier %d", why(&r),
        !memcmp(r.u.commit.COMMIT3res_u.resok.verf, verf, sizeof(verf)));
    r = n_read(&g_nfs, &w, 0, IO_MAX);
    tap(same_bytes(&r, data, 250000) && r.eof, "READ w.bin: the 250000 bytes written", "%s, %s",
        why(&r), diff_at(data, 250000, r.data, r.len));
    reply_free(&r);

    /* A hole: a write past the end reads back as zeros, then the data. */
    r = n_write(&g_nfs, &w, 300000, "tail", 4, FILE_SYNC);
    expect(&r, NFS3_OK, "WRITE 4 bytes at 300000, past the end: OK");
    r = n_read(&g_nfs, &w, 250000, 100000);
    uint8_t *hole = calloc(1, 50004);
    if (hole)
        memcpy(hole + 50000, "tail", 4);
    tap(hole && same_bytes(&r, hole, 50004) && r.eof,
        "READ across the hole: 50000 zero bytes, then \"tail\", eof", "%s, %s", why(&r),
        hole ? diff_at(hole, 50004, r.data, r.len) : "out of memory");
    free(hole);
    reply_free(&r);
    sattr3 cut = with_size(250000);
    r = n_setattr(&g_nfs, &w, &cut, NULL);
    expect(&r, NFS3_OK, "SETATTR size 250000: OK (the hole cut off again)");

    /* wtmax in one call, read back in one call of rtmax. */
    uint8_t *mib = gen_bytes(IO_MAX, 2);
    r = n_create(&g_nfs, &g_root, "w1m.bin", GUARDED, &m644, NULL);
    expect(&r, NFS3_OK, "CREATE GUARDED w1m.bin: OK");
    fh w1m = r.fh;
    r = n_write(&g_nfs, &w1m, 0, mib, IO_MAX, FILE_SYNC);
    tap(is(&r, NFS3_OK) && r.u.write.WRITE3res_u.resok.count == IO_MAX &&
            r.u.write.WRITE3res_u.resok.committed == FILE_SYNC &&
            !memcmp(r.u.write.WRITE3res_u.resok.verf, verf, sizeof(verf)),
        "WRITE FILE_SYNC of wtmax (1 MiB) in one call: all of it, FILE_SYNC, the same verifier",
        "%s, count %u, committed %d", why(&r), r.u.write.WRITE3res_u.resok.count,
        r.u.write.WRITE3res_u.resok.committed);
    r = n_read(&g_nfs, &w1m, 0, IO_MAX);
    tap(same_bytes(&r, mib, IO_MAX) && r.eof,
        "READ of rtmax (1 MiB) in one call: the bytes written", "%s, %s, eof %d", why(&r),
        diff_at(mib, IO_MAX, r.data, r.len), r.eof);
    reply_free(&r);
    free(mib);

    r = n_write(&g_nfs, &g_root, 0, "x", 1, FILE_SYNC);
    expect(&r, NFS3ERR_ISDIR, "WRITE to a directory: ISDIR");

    /* A file of the layer: the write copies it up first. */
    fh dir = look(&g_root, "dir", NULL);
    fh a = look(&dir, "a.txt", NULL);
    r = n_write(&g_nfs, &a, 0, "ALPHA", 5, DATA_SYNC);
    expect(&r, NFS3_OK, "WRITE into dir/a.txt, a file of the layer: OK");
    r = n_read(&g_nfs, &a, 0, 100);
    tap(same_bytes(&r, "ALPHA\n", 6), "READ dir/a.txt: \"ALPHA\\n\", the layer's file changed",
        "%s, %zu bytes", why(&r), r.len);
    reply_free(&r);
    r = n_commit(&g_nfs, &a, 0, 6);
    expect(&r, NFS3_OK, "COMMIT dir/a.txt: OK");
    r = n_commit(&g_nfs, &g_root, 0, 0);
    expect(&r, NFS3ERR_ISDIR, "COMMIT of a directory: ISDIR");
    free(data);
}

/* SETATTR: mode, size, times, and the ctime guard both ways. */
static void check_setattr(void)
{
    fh w = look(&g_root, "w.bin", NULL);
    bool ok;
    fattr3 a = attrs_of(&w, &ok);
    sattr3 s = with_mode(0600);
    reply r = n_setattr(&g_nfs, &w, &s, &a.ctime);
    const wcc_data *wcc = &r.u.setattr.SETATTR3res_u.resok.obj_wcc;
    tap(ok && is(&r, NFS3_OK) && wcc->after.attributes_follow &&
            wcc->after.post_op_attr_u.attributes.mode == 0600,
        "SETATTR mode 0600 guarded by the current ctime: OK, post-op mode 0600",
        "%s, after %d, mode %o", why(&r), wcc->after.attributes_follow,
        wcc->after.post_op_attr_u.attributes.mode);
    nfstime3 old = a.ctime;
    old.seconds -= 1;
    s = with_mode(0644);
    r = n_setattr(&g_nfs, &w, &s, &old);
    a = attrs_of(&w, &ok);
    tap(is(&r, NFS3ERR_NOT_SYNC) && ok && a.mode == 0600,
        "SETATTR guarded by a ctime the file no longer has: NOT_SYNC, mode unchanged",
        "%s, mode now %o", why(&r), a.mode);
    s = with_mode(0640);
    r = n_setattr(&g_nfs, &w, &s, &a.ctime);
    a = attrs_of(&w, &ok);
    tap(is(&r, NFS3_OK) && ok && a.mode == 0640,
        "SETATTR guarded by the ctime GETATTR just gave: OK, mode 0640", "%s, mode now %o", why(&r),
        a.mode);

    s = with_size(10);
    r = n_setattr(&g_nfs, &w, &s, NULL);
    a = attrs_of(&w, &ok);
    tap(is(&r, NFS3_OK) && ok && a.size == 10, "SETATTR size 10: OK, 10 bytes", "%s, size %" PRIu64,
        why(&r), a.size);
    uint8_t *data = gen_bytes(10, 1);
    r = n_read(&g_nfs, &w, 0, 100);
    tap(same_bytes(&r, data, 10) && r.eof, "READ after the truncation: the first 10 bytes",
        "%s, %zu bytes", why(&r), r.len);
    reply_free(&r);
    free(data);

    s = no_attrs();
    s.atime.set_it = SET_TO_CLIENT_TIME;
    s.atime.set_atime_u.atime = (nfstime3){1000000000, 5};
    s.mtime.set_it = SET_TO_CLIENT_TIME;
    s.mtime.set_mtime_u.mtime = (nfstime3){1234567890, 123456789};
    r = n_setattr(&g_nfs, &w, &s, NULL);
    a = attrs_of(&w, &ok);
    tap(is(&r, NFS3_OK) && ok && a.atime.seconds == 1000000000 && a.atime.nseconds == 5 &&
            a.mtime.seconds == 1234567890 && a.mtime.nseconds == 123456789,
        "SETATTR atime and mtime to client times: exactly those, to the nanosecond",
        "%s, atime %u.%09u, mtime %u.%09u", why(&r), a.atime.seconds, a.atime.nseconds,
        a.mtime.seconds, a.mtime.nseconds);
    s = no_attrs();
    s.mtime.set_it = SET_TO_SERVER_TIME;
    r = n_setattr(&g_nfs, &w, &s, NULL);
    a = attrs_of(&w, &ok);
    long long now = (long long)time(NULL);
    tap(is(&r, NFS3_OK) && ok && (long long)a.mtime.seconds > now - 300 &&
            (long long)a.mtime.seconds < now + 300,
        "SETATTR mtime to server time: OK, mtime is now", "%s, mtime %u, now %lld", why(&r),
        a.mtime.seconds, now);

    fh dir = look(&g_root, "dir", NULL);
    fh b = look(&dir, "b.txt", NULL);
    s = with_mode(0600);
    r = n_setattr(&g_nfs, &b, &s, NULL);
    a = attrs_of(&b, &ok);
    tap(is(&r, NFS3_OK) && ok && a.mode == 0600,
        "SETATTR mode 0600 of dir/b.txt, a file of the layer: OK, mode 0600", "%s, mode %o",
        why(&r), a.mode);
}

/* CREATE: GUARDED, UNCHECKED over an existing file, EXCLUSIVE and its
 * replays. Returns nothing; the files stay for the checks after. */
static void check_create(void)
{
    sattr3 m640 = with_mode(0640);
    reply r = n_create(&g_nfs, &g_root, "g.txt", GUARDED, &m640, NULL);
    tap(is(&r, NFS3_OK) && r.has_fh && r.attr.mode == 0640 && r.attr.size == 0,
        "CREATE GUARDED g.txt 0640: OK, an empty file of 0640", "%s, mode %o, size %" PRIu64,
        why(&r), r.attr.mode, r.attr.size);
    fh g = r.fh;
    r = n_create(&g_nfs, &g_root, "g.txt", GUARDED, &m640, NULL);
    expect(&r, NFS3ERR_EXIST, "CREATE GUARDED g.txt again: EXIST");
    r = n_create(&g_nfs, &g_root, "hello.txt", GUARDED, &m640, NULL);
    expect(&r, NFS3ERR_EXIST, "CREATE GUARDED hello.txt, a file of the layer: EXIST");

    r = n_write(&g_nfs, &g, 0, "xyz", 3, FILE_SYNC);
    expect(&r, NFS3_OK, "WRITE 3 bytes to g.txt: OK");
    sattr3 none = no_attrs();
    r = n_create(&g_nfs, &g_root, "g.txt", UNCHECKED, &none, NULL);
    bool ok;
    fattr3 a = attrs_of(&g, &ok);
    tap(is(&r, NFS3_OK) && fh_eq(&r.fh, &g) && ok && a.size == 3 && a.mode == 0640,
        "CREATE UNCHECKED of the existing g.txt: OK, the same file, untouched",
        "%s, same handle %d, size %" PRIu64 ", mode %o", why(&r), fh_eq(&r.fh, &g), a.size, a.mode);
    sattr3 trunc = with_size(0);
    r = n_create(&g_nfs, &g_root, "g.txt", UNCHECKED, &trunc, NULL);
    a = attrs_of(&g, &ok);
    tap(is(&r, NFS3_OK) && fh_eq(&r.fh, &g) && ok && a.size == 0,
        "CREATE UNCHECKED of g.txt with size 0: OK, the same file, truncated",
        "%s, same handle %d, size %" PRIu64, why(&r), fh_eq(&r.fh, &g), a.size);

    const char v1[NFS3_CREATEVERFSIZE] = {1, 2, 3, 4, 5, 6, 7, 8};
    const char v2[NFS3_CREATEVERFSIZE] = {8, 7, 6, 5, 4, 3, 2, 1};
    r = n_create(&g_nfs, &g_root, "x.txt", EXCLUSIVE, NULL, v1);
    tap(is(&r, NFS3_OK) && r.has_fh && r.has_attr && r.attr.type == NF3REG && r.attr.size == 0,
        "CREATE EXCLUSIVE x.txt: OK, a handle, an empty regular file",
        "%s, handle %d, type %s, size %" PRIu64, why(&r), r.has_fh, type_name(r.attr.type),
        r.attr.size);
    fh x = r.fh;
    r = n_create(&g_nfs, &g_root, "x.txt", EXCLUSIVE, NULL, v1);
    tap(is(&r, NFS3_OK) && r.has_fh && fh_eq(&r.fh, &x),
        "CREATE EXCLUSIVE x.txt replayed with the same verifier: OK, the same file",
        "%s, same handle %d", why(&r), fh_eq(&r.fh, &x));
    r = n_create(&g_nfs, &g_root, "x.txt", EXCLUSIVE, NULL, v2);
    expect(&r, NFS3ERR_EXIST, "CREATE EXCLUSIVE x.txt with another verifier: EXIST");
    r = n_create(&g_nfs, &g_root, "hello.txt", EXCLUSIVE, NULL, v1);
    expect(&r, NFS3ERR_EXIST, "CREATE EXCLUSIVE hello.txt, a file of the layer: EXIST");

    sattr3 m400 = with_mode(0400);
    r = n_create(&g_nfs, &g_root, "ro.txt", GUARDED, &m400, NULL);
    tap(is(&r, NFS3_OK) && r.attr.mode == 0400, "CREATE GUARDED ro.txt 0400: OK, mode 0400",
        "%s, mode %o", why(&r), r.attr.mode);
}

/* MKDIR, SYMLINK, MKNOD. */
static void check_make(void)
{
    sattr3 m750 = with_mode(0750);
    reply r = n_mkdir(&g_nfs, &g_root, "newdir", &m750);
    tap(is(&r, NFS3_OK) && r.has_fh && r.attr.type == NF3DIR && r.attr.mode == 0750,
        "MKDIR newdir 0750: OK, a handle, a directory of 0750", "%s, handle %d, type %s, mode %o",
        why(&r), r.has_fh, type_name(r.attr.type), r.attr.mode);
    fh nd = r.fh;
    r = n_mkdir(&g_nfs, &g_root, "newdir", &m750);
    expect(&r, NFS3ERR_EXIST, "MKDIR newdir again: EXIST");
    r = n_mkdir(&g_nfs, &g_root, "dir", &m750);
    expect(&r, NFS3ERR_EXIST, "MKDIR dir, a directory of the layer: EXIST");
    r = n_mkdir(&g_nfs, &nd, "inner", &m750);
    expect(&r, NFS3_OK, "MKDIR newdir/inner: OK");

    r = n_symlink(&g_nfs, &g_root, "newlink", "dir/a.txt");
    tap(is(&r, NFS3_OK) && r.has_fh && r.attr.type == NF3LNK && r.attr.size == 9,
        "SYMLINK newlink -> dir/a.txt: OK, a handle, a link of 9 bytes",
        "%s, handle %d, type %s, size %" PRIu64, why(&r), r.has_fh, type_name(r.attr.type),
        r.attr.size);
    fh nl = r.fh;
    r = n_readlink(&g_nfs, &nl);
    tap(r.replied && r.status == NFS3_OK && r.data && !strcmp((char *)r.data, "dir/a.txt"),
        "READLINK newlink: \"dir/a.txt\"", "%s, target \"%s\"", why(&r),
        r.data ? (char *)r.data : "");
    reply_free(&r);
    r = n_symlink(&g_nfs, &g_root, "link", "elsewhere");
    expect(&r, NFS3ERR_EXIST, "SYMLINK over link, a link of the layer: EXIST");

    sattr3 m644 = with_mode(0644);
    r = n_mknod(&g_nfs, &g_root, "fifo", NF3FIFO, &m644);
    tap(is(&r, NFS3_OK) && r.has_fh && r.attr.type == NF3FIFO && r.attr.mode == 0644,
        "MKNOD FIFO fifo 0644: OK, a handle, a fifo of 0644", "%s, handle %d, type %s, mode %o",
        why(&r), r.has_fh, type_name(r.attr.type), r.attr.mode);
    fh fifo = r.fh;
    bool ok;
    fattr3 a = attrs_of(&fifo, &ok);
    tap(ok && a.type == NF3FIFO, "GETATTR fifo: a fifo", "GETATTR ok %d, type %s", ok,
        type_name(a.type));
    r = n_mknod(&g_nfs, &g_root, "chr", NF3CHR, &m644);
    expect(&r, NFS3ERR_NOTSUPP, "MKNOD CHR: NOTSUPP");
    r = n_lookup(&g_nfs, &g_root, "chr");
    expect(&r, NFS3ERR_NOENT, "... and it made nothing: LOOKUP chr is NOENT");
    r = n_mknod(&g_nfs, &g_root, "reg", NF3REG, &m644);
    expect(&r, NFS3ERR_BADTYPE, "MKNOD of a regular file (CREATE's job): BADTYPE");
}

/* LINK and RENAME, within and across directories, over a layer's files. */
static void check_link_rename(void)
{
    fh w = look(&g_root, "w.bin", NULL);
    reply r = n_link(&g_nfs, &w, &g_root, "w-link.bin");
    const LINK3resok *lk = &r.u.link.LINK3res_u.resok;
    tap(is(&r, NFS3_OK) && lk->file_attributes.attributes_follow &&
            lk->file_attributes.post_op_attr_u.attributes.nlink == 2,
        "LINK w.bin as w-link.bin: OK, post-op nlink 2", "%s, nlink %u", why(&r),
        lk->file_attributes.post_op_attr_u.attributes.nlink);
    bool ok;
    fattr3 wa = attrs_of(&w, &ok);
    r = n_lookup(&g_nfs, &g_root, "w-link.bin");
    tap(is(&r, NFS3_OK) && ok && r.attr.fileid == wa.fileid && r.attr.nlink == 2,
        "LOOKUP w-link.bin: the same file, 2 links",
        "%s, fileid %" PRIu64 " vs %" PRIu64 ", nlink %u", why(&r), r.attr.fileid, wa.fileid,
        r.attr.nlink);
    r = n_link(&g_nfs, &w, &g_root, "w-link.bin");
    expect(&r, NFS3ERR_EXIST, "LINK onto an existing name: EXIST");
    fh nd = look(&g_root, "newdir", NULL);
    r = n_link(&g_nfs, &nd, &g_root, "dirlink");
    tap(r.replied && r.status != NFS3_OK, "LINK of a directory: refused", "%s", why(&r));
    fh hello = look(&g_root, "hello.txt", NULL);
    r = n_link(&g_nfs, &hello, &g_root, "hello-link.txt");
    tap(is(&r, NFS3_OK) &&
            r.u.link.LINK3res_u.resok.file_attributes.post_op_attr_u.attributes.nlink == 2,
        "LINK hello.txt, a file of the layer, as hello-link.txt: OK, nlink 2", "%s, nlink %u",
        why(&r), r.u.link.LINK3res_u.resok.file_attributes.post_op_attr_u.attributes.nlink);
    fh hl = look(&g_root, "hello-link.txt", NULL);
    r = n_read(&g_nfs, &hl, 0, 100);
    tap(same_bytes(&r, HELLO, strlen(HELLO)), "READ hello-link.txt: hello.txt's bytes", "%s",
        why(&r));
    reply_free(&r);

    fh g = look(&g_root, "g.txt", NULL);
    fattr3 ga = attrs_of(&g, &ok);
    r = n_rename(&g_nfs, &g_root, "g.txt", &nd, "g2.txt");
    expect(&r, NFS3_OK, "RENAME g.txt to newdir/g2.txt: OK");
    r = n_lookup(&g_nfs, &g_root, "g.txt");
    expect(&r, NFS3ERR_NOENT, "... g.txt is gone: NOENT");
    r = n_lookup(&g_nfs, &nd, "g2.txt");
    tap(is(&r, NFS3_OK) && r.attr.fileid == ga.fileid, "... newdir/g2.txt is the same file",
        "%s, fileid %" PRIu64 " vs %" PRIu64, why(&r), r.attr.fileid, ga.fileid);

    fh dir = look(&g_root, "dir", NULL);
    r = n_rename(&g_nfs, &dir, "b.txt", &dir, "b2.txt");
    expect(&r, NFS3_OK, "RENAME dir/b.txt, a file of the layer, to dir/b2.txt: OK");
    r = n_lookup(&g_nfs, &dir, "b.txt");
    expect(&r, NFS3ERR_NOENT, "... dir/b.txt is gone: NOENT");
    fh b2 = look(&dir, "b2.txt", NULL);
    r = n_read(&g_nfs, &b2, 0, 100);
    tap(same_bytes(&r, "bravo\n", 6), "READ dir/b2.txt: \"bravo\\n\"", "%s, %zu bytes", why(&r),
        r.len);
    reply_free(&r);

    fh x = look(&g_root, "x.txt", NULL);
    fattr3 xa = attrs_of(&x, &ok);
    r = n_rename(&g_nfs, &g_root, "x.txt", &g_root, "w-link.bin");
    expect(&r, NFS3_OK, "RENAME x.txt over w-link.bin: OK");
    r = n_lookup(&g_nfs, &g_root, "w-link.bin");
    tap(is(&r, NFS3_OK) && r.attr.fileid == xa.fileid, "... w-link.bin is now x.txt's file",
        "%s, fileid %" PRIu64 " vs %" PRIu64, why(&r), r.attr.fileid, xa.fileid);
    wa = attrs_of(&w, &ok);
    tap(ok && wa.nlink == 1, "... and w.bin is down to 1 link", "GETATTR ok %d, nlink %u", ok,
        wa.nlink);
    r = n_rename(&g_nfs, &g_root, "nope", &g_root, "nope2");
    expect(&r, NFS3ERR_NOENT, "RENAME of a missing name: NOENT");
}

/* REMOVE and RMDIR, of new entries and of the layer's (whiteouts), the
 * wrong kind, and directories with entries. */
static void check_remove(void)
{
    fh x = look(&g_root, "w-link.bin", NULL);
    reply r = n_remove(&g_nfs, &g_root, "w-link.bin");
    expect(&r, NFS3_OK, "REMOVE w-link.bin: OK");
    r = n_lookup(&g_nfs, &g_root, "w-link.bin");
    expect(&r, NFS3ERR_NOENT, "... it is gone: NOENT");
    /* RFC 1813: a handle whose file no longer exists is STALE. */
    r = n_getattr(&g_nfs, &x);
    const fattr3 *xa = &r.u.getattr.GETATTR3res_u.resok.obj_attributes;
    tap(is(&r, NFS3ERR_STALE), "GETATTR of the removed file's handle (no link left): STALE",
        "want NFS3ERR_STALE, got %s%s (nlink %u, size %" PRIu64 ")", why(&r),
        is(&r, NFS3_OK) ? " with attributes" : "", is(&r, NFS3_OK) ? xa->nlink : 0,
        is(&r, NFS3_OK) ? xa->size : 0);
    r = n_write(&g_nfs, &x, 0, "lost", 4, FILE_SYNC);
    expect(&r, NFS3ERR_STALE, "WRITE to the removed file's handle: STALE");
    r = n_read(&g_nfs, &x, 0, 100);
    tap(is(&r, NFS3ERR_STALE), "READ of the removed file's handle: STALE",
        "want NFS3ERR_STALE, got %s (%zu bytes: \"%.*s\")", why(&r), r.len, (int)r.len,
        r.data ? (const char *)r.data : "");
    reply_free(&r);
    r = n_remove(&g_nfs, &g_root, "nope");
    expect(&r, NFS3ERR_NOENT, "REMOVE of a missing name: NOENT");

    fh dir = look(&g_root, "dir", NULL);
    fh c = look(&dir, "c.txt", NULL);
    r = n_remove(&g_nfs, &dir, "c.txt");
    expect(&r, NFS3_OK, "REMOVE dir/c.txt, a file of the layer: OK");
    r = n_lookup(&g_nfs, &dir, "c.txt");
    expect(&r, NFS3ERR_NOENT, "... it is gone: NOENT");
    r = n_getattr(&g_nfs, &c);
    expect(&r, NFS3ERR_STALE, "GETATTR of the removed layer file's handle: STALE");
    r = n_remove(&g_nfs, &g_root, "newdir");
    tap(r.replied && r.status != NFS3_OK, "REMOVE of a directory: refused", "%s", why(&r));
    r = n_rmdir(&g_nfs, &g_root, "fifo");
    expect(&r, NFS3ERR_NOTDIR, "RMDIR of a fifo: NOTDIR");
    r = n_rmdir(&g_nfs, &g_root, "dir");
    expect(&r, NFS3ERR_NOTEMPTY, "RMDIR dir, a directory of the layer with entries: NOTEMPTY");
    r = n_rmdir(&g_nfs, &g_root, "newdir");
    expect(&r, NFS3ERR_NOTEMPTY, "RMDIR newdir, with entries: NOTEMPTY");
    fh nd = look(&g_root, "newdir", NULL);
    r = n_rmdir(&g_nfs, &nd, "inner");
    expect(&r, NFS3_OK, "RMDIR newdir/inner: OK");
    r = n_remove(&g_nfs, &nd, "g2.txt");
    expect(&r, NFS3_OK, "REMOVE newdir/g2.txt: OK");
    r = n_rmdir(&g_nfs, &g_root, "newdir");
    expect(&r, NFS3_OK, "RMDIR newdir, now empty: OK");
    r = n_lookup(&g_nfs, &g_root, "newdir");
    expect(&r, NFS3ERR_NOENT, "... it is gone: NOENT");
    r = n_getattr(&g_nfs, &nd);
    expect(&r, NFS3ERR_STALE, "GETATTR of the removed directory's handle: STALE");

    fh sub = look(&dir, "sub", NULL);
    r = n_remove(&g_nfs, &sub, "deep.txt");
    expect(&r, NFS3_OK, "REMOVE dir/sub/deep.txt: OK");
    r = n_remove(&g_nfs, &sub, "data.bin");
    expect(&r, NFS3_OK, "REMOVE dir/sub/data.bin: OK");
    r = n_rmdir(&g_nfs, &dir, "sub");
    expect(&r, NFS3_OK, "RMDIR dir/sub, a directory of the layer emptied: OK");
    r = n_lookup(&g_nfs, &dir, "sub");
    expect(&r, NFS3ERR_NOENT, "... it is gone: NOENT");
}

/* READDIR and READDIRPLUS of the untouched tree: whole listings, pages
 * followed by cookie, TOOSMALL, and BAD_COOKIE once the directory changed. */
static void check_readdir(void)
{
    char want[2048], got[2048], err[512] = "";
    static const char *const root_names[] = {".",         "..",   "big.bin", "dir",
                                             "hello.txt", "link", "run.sh"};
    want_names(want, sizeof(want), root_names, sizeof(root_names) / sizeof(root_names[0]));
    reply r = n_readdir(&g_nfs, &g_root, 0, NULL, 8192);
    const char *v[64];
    for (size_t i = 0; i < r.nents && i < 64; i++)
        v[i] = r.ents[i].name;
    join_sorted(v, r.nents < 64 ? r.nents : 64, got, sizeof(got));
    static const char zero[NFS3_COOKIEVERFSIZE];
    tap(is(&r, NFS3_OK) && r.eof && !strcmp(got, want) && memcmp(r.verf, zero, sizeof(zero)),
        "READDIR of the root in one call: eof, exactly . .. big.bin dir hello.txt link run.sh, "
        "a cookie verifier",
        "%s, eof %d\nwant: %s\ngot:  %s", why(&r), r.eof, want, got);
    reply_free(&r);

    fattr3 hello_attr;
    fh hello = look(&g_root, "hello.txt", &hello_attr);
    bool ok;
    fattr3 ra = attrs_of(&g_root, &ok);
    r = n_readdirplus(&g_nfs, &g_root, 0, NULL, 8192, 65536);
    for (size_t i = 0; i < r.nents && i < 64; i++)
        v[i] = r.ents[i].name;
    join_sorted(v, r.nents < 64 ? r.nents : 64, got, sizeof(got));
    tap(is(&r, NFS3_OK) && r.eof && !strcmp(got, want), "READDIRPLUS of the root: the same names",
        "%s, eof %d\nwant: %s\ngot:  %s", why(&r), r.eof, want, got);
    char bad[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < r.nents; i++) {
        const dent *d = &r.ents[i];
        const char *p = NULL;
        if (!strcmp(d->name, "..") || !strcmp(d->name, "."))
            p = d->fileid != ra.fileid ? "fileid is not the root's" : NULL;
        else if (!d->has_attr || !d->has_fh)
            p = "no attributes or no handle";
        else if (d->attr.fileid != d->fileid)
            p = "attributes of another file";
        else if (d->fh.len != FH_LEN)
            p = "a handle not of 24 bytes";
        else if (!strcmp(d->name, "hello.txt") &&
                 (!fh_eq(&d->fh, &hello) || d->attr.size != hello_attr.size))
            p = "not LOOKUP's handle or size";
        if (p && used < sizeof(bad))
            used += (size_t)snprintf(bad + used, sizeof(bad) - used, "%s: %s\n", d->name, p);
    }
    tap(is(&r, NFS3_OK) && !bad[0],
        "READDIRPLUS of the root: each entry with its attributes and handle (LOOKUP's), . and .. "
        "the root",
        "%s\n%s", why(&r), bad);
    reply_free(&r);

    fh dir = look(&g_root, "dir", NULL);
    static const char *const dir_names[] = {".", "..", "a.txt", "b.txt", "c.txt", "sub"};
    want_names(want, sizeof(want), dir_names, sizeof(dir_names) / sizeof(dir_names[0]));
    int calls = 0;
    bool listed = list_all(&g_nfs, &dir, 200, got, sizeof(got), &calls, err, sizeof(err));
    tap(listed && calls >= 2 && !strcmp(got, want),
        "READDIR of dir 200 bytes a call: several calls by cookie, exactly . .. a.txt b.txt "
        "c.txt sub",
        "%s; %d calls\nwant: %s\ngot:  %s", err, calls, want, got);
    r = n_readdir(&g_nfs, &dir, 0, NULL, 100);
    expect(&r, NFS3ERR_TOOSMALL, "READDIR with a count too small for one entry: TOOSMALL");
    reply_free(&r);
    r = n_readdir(&g_nfs, &hello, 0, NULL, 8192);
    expect(&r, NFS3ERR_NOTDIR, "READDIR of a file: NOTDIR");
    reply_free(&r);

    /* A first page, then the directory changes under the listing. */
    r = n_readdir(&g_nfs, &dir, 0, NULL, 200);
    bool page = is(&r, NFS3_OK) && !r.eof && r.nents > 0;
    tap(page, "READDIR of dir, a first page of 200 bytes: OK, not eof", "%s, eof %d, %zu entries",
        why(&r), r.eof, r.nents);
    uint64_t cookie = page ? r.ents[r.nents - 1].cookie : 1;
    char verf[NFS3_COOKIEVERFSIZE];
    memcpy(verf, r.verf, sizeof(verf));
    reply_free(&r);
    r = n_readdir(&g_nfs, &dir, cookie, verf, 200);
    expect(&r, NFS3_OK, "READDIR continued with its cookie and verifier: OK");
    reply_free(&r);
    sattr3 m644 = with_mode(0644);
    r = n_create(&g_nfs, &dir, "new.txt", GUARDED, &m644, NULL);
    expect(&r, NFS3_OK, "CREATE GUARDED dir/new.txt: OK (the directory changes)");
    r = n_readdir(&g_nfs, &dir, cookie, verf, 200);
    expect(&r, NFS3ERR_BAD_COOKIE,
           "READDIR continued with the verifier from before the change: BAD_COOKIE");
    reply_free(&r);
    r = n_readdirplus(&g_nfs, &dir, cookie, verf, 200, 4096);
    expect(&r, NFS3ERR_BAD_COOKIE, "READDIRPLUS continued with that verifier: BAD_COOKIE");
    reply_free(&r);
    r = n_readdir(&g_nfs, &dir, 0, NULL, 200);
    tap(is(&r, NFS3_OK) && memcmp(r.verf, verf, sizeof(verf)),
        "READDIR of dir from the start again: OK, a new verifier", "%s, verifier changed %d",
        why(&r), memcmp(r.verf, verf, sizeof(verf)) != 0);
    reply_free(&r);
    static const char *const dir_names2[] = {".",     "..",  "a.txt",  "b.txt",
                                             "c.txt", "sub", "new.txt"};
    want_names(want, sizeof(want), dir_names2, sizeof(dir_names2) / sizeof(dir_names2[0]));
    listed = list_all(&g_nfs, &dir, 200, got, sizeof(got), &calls, err, sizeof(err));
    tap(listed && !strcmp(got, want), "READDIR of dir after the change: new.txt listed too",
        "%s\nwant: %s\ngot:  %s", err, want, got);
    r = n_remove(&g_nfs, &dir, "new.txt");
    expect(&r, NFS3_OK, "REMOVE dir/new.txt: OK");
}

/* The listings after every change the checks made. */
static void check_final_listing(void)
{
    char want[2048], got[2048], err[512] = "";
    int calls;
    static const char *const root_names[] = {
        ".",    "..",      "big.bin", "dir",    "fifo",  "hello-link.txt", "hello.txt",
        "link", "newlink", "ro.txt",  "run.sh", "w.bin", "w1m.bin"};
    want_names(want, sizeof(want), root_names, sizeof(root_names) / sizeof(root_names[0]));
    bool listed = list_all(&g_nfs, &g_root, 8192, got, sizeof(got), &calls, err, sizeof(err));
    tap(listed && !strcmp(got, want), "READDIR of the root at the end: what the checks left",
        "%s\nwant: %s\ngot:  %s", err, want, got);
    fh dir = look(&g_root, "dir", NULL);
    static const char *const dir_names[] = {".", "..", "a.txt", "b2.txt"};
    want_names(want, sizeof(want), dir_names, sizeof(dir_names) / sizeof(dir_names[0]));
    listed = list_all(&g_nfs, &dir, 8192, got, sizeof(got), &calls, err, sizeof(err));
    tap(listed && !strcmp(got, want), "READDIR of dir at the end: . .. a.txt b2.txt",
        "%s\nwant: %s\ngot:  %s", err, want, got);
}

/* FSSTAT, FSINFO, PATHCONF. */
static void check_fs(void)
{
    reply r = n_fsstat(&g_nfs, &g_root);
    const FSSTAT3resok *st = &r.u.fsstat.FSSTAT3res_u.resok;
    tap(is(&r, NFS3_OK) && st->tbytes > 0 && st->fbytes <= st->tbytes && st->abytes <= st->fbytes &&
            st->ffiles <= st->tfiles,
        "FSSTAT: OK, sizes that make sense (free <= total, available <= free)",
        "%s, tbytes %" PRIu64 " fbytes %" PRIu64 " abytes %" PRIu64 " tfiles %" PRIu64
        " ffiles %" PRIu64,
        why(&r), st->tbytes, st->fbytes, st->abytes, st->tfiles, st->ffiles);

    r = n_fsinfo(&g_nfs, &g_root);
    const FSINFO3resok *fi = &r.u.fsinfo.FSINFO3res_u.resok;
    uint32_t props = FSF3_LINK | FSF3_SYMLINK | FSF3_CANSETTIME;
    tap(is(&r, NFS3_OK) && fi->rtmax == IO_MAX && fi->wtmax == IO_MAX && fi->rtpref > 0 &&
            fi->rtpref <= fi->rtmax && fi->wtpref > 0 && fi->wtpref <= fi->wtmax &&
            fi->dtpref > 0 && fi->maxfilesize > 0 && (fi->properties & props) == props,
        "FSINFO: rtmax and wtmax 1 MiB, preferences within them, LINK SYMLINK CANSETTIME",
        "%s, rtmax %u rtpref %u wtmax %u wtpref %u dtpref %u maxfilesize %" PRIu64
        " properties %#x",
        why(&r), fi->rtmax, fi->rtpref, fi->wtmax, fi->wtpref, fi->dtpref, fi->maxfilesize,
        fi->properties);

    r = n_pathconf(&g_nfs, &g_root);
    const PATHCONF3resok *pc = &r.u.pathconf.PATHCONF3res_u.resok;
    tap(is(&r, NFS3_OK) && pc->name_max == 255 && pc->no_trunc && !pc->case_insensitive &&
            pc->case_preserving && pc->linkmax >= 1,
        "PATHCONF: names of 255 bytes, never truncated, case-sensitive and preserved",
        "%s, name_max %u no_trunc %u case_insensitive %u case_preserving %u linkmax %u", why(&r),
        pc->name_max, pc->no_trunc, pc->case_insensitive, pc->case_preserving, pc->linkmax);
}

/* Handles whose instance part (bytes 4..11) was changed, or of another
 * shape, are STALE for every procedure. */
static void check_stale(void)
{
    fh root = g_root;
    root.data[4] ^= 0xff;
    fh hello = look(&g_root, "hello.txt", NULL);
    hello.data[11] ^= 0x01;
    reply r = n_getattr(&g_nfs, &root);
    expect(&r, NFS3ERR_STALE, "GETATTR of the root's handle with byte 4 changed: STALE");
    r = n_lookup(&g_nfs, &root, "hello.txt");
    expect(&r, NFS3ERR_STALE, "LOOKUP in it: STALE");
    r = n_access(&g_nfs, &root, ACCESS3_READ);
    expect(&r, NFS3ERR_STALE, "ACCESS of it: STALE");
    r = n_readdir(&g_nfs, &root, 0, NULL, 8192);
    expect(&r, NFS3ERR_STALE, "READDIR of it: STALE");
    reply_free(&r);
    r = n_readdirplus(&g_nfs, &root, 0, NULL, 8192, 65536);
    expect(&r, NFS3ERR_STALE, "READDIRPLUS of it: STALE");
    reply_free(&r);
    sattr3 m644 = with_mode(0644);
    r = n_create(&g_nfs, &root, "stale.txt", GUARDED, &m644, NULL);
    expect(&r, NFS3ERR_STALE, "CREATE in it: STALE");
    r = n_fsinfo(&g_nfs, &root);
    expect(&r, NFS3ERR_STALE, "FSINFO of it: STALE");
    r = n_read(&g_nfs, &hello, 0, 100);
    expect(&r, NFS3ERR_STALE, "READ of hello.txt's handle with byte 11 changed: STALE");
    reply_free(&r);
    r = n_write(&g_nfs, &hello, 0, "x", 1, FILE_SYNC);
    expect(&r, NFS3ERR_STALE, "WRITE to it: STALE");
    r = n_setattr(&g_nfs, &hello, &m644, NULL);
    expect(&r, NFS3ERR_STALE, "SETATTR of it: STALE");
    r = n_commit(&g_nfs, &hello, 0, 0);
    expect(&r, NFS3ERR_STALE, "COMMIT of it: STALE");
    fh shorter = g_root;
    shorter.len = FH_LEN - 1;
    r = n_getattr(&g_nfs, &shorter);
    expect(&r, NFS3ERR_STALE, "GETATTR of a 23-byte handle: STALE");
}

/* Whether a call was refused with MSG_DENIED (an AUTH_ERROR here: the
 * RPC version is right), which libnfs reports as "RPC Packet not accepted
 * by the server", and its connection kept. */
static bool denied(const reply *r, const conn *k)
{
    return !r->replied && strstr(r->err, "not accepted by the server") && !k->dead;
}

/* Callers other than the owner and root: refused with an RPC auth error
 * (libnfs fails the call; no NFS status comes), except for the NULL
 * pings; AUTH_NONE likewise. The connection stays usable. */
static void check_auth(void)
{
    conn k;
    if (!conn_open(&k, g_port, NFS_PROGRAM, g_other, g_other, "connect as another uid"))
        return;
    char name[200];
    reply r = n_null(&k);
    snprintf(name, sizeof(name), "NFS NULL as uid %u: answered (pings are for anyone)", g_other);
    tap(r.replied, name, "%s", why(&r));
    r = n_getattr(&k, &g_root);
    snprintf(name, sizeof(name), "GETATTR as uid %u: refused by an RPC auth error, no status",
             g_other);
    tap(denied(&r, &k), name, "%s (the connection %s)", why(&r), k.dead ? "was lost" : "stayed");
    r = m_mnt(&k, "/");
    snprintf(name, sizeof(name), "MNT / as uid %u: refused by an RPC auth error", g_other);
    tap(denied(&r, &k), name, "%s", why(&r));
    r = n_access(&k, &g_root, ACCESS3_READ);
    snprintf(name, sizeof(name), "ACCESS as uid %u: refused by an RPC auth error", g_other);
    tap(denied(&r, &k), name, "%s", why(&r));

    as_none(&k);
    r = n_null(&k);
    tap(r.replied, "NFS NULL with AUTH_NONE: answered", "%s", why(&r));
    r = m_null(&k);
    tap(r.replied, "MOUNT NULL with AUTH_NONE: answered", "%s", why(&r));
    r = n_getattr(&k, &g_root);
    tap(denied(&r, &k), "GETATTR with AUTH_NONE: refused by an RPC auth error", "%s", why(&r));

    as_uid(&k, 0, 0);
    r = n_getattr(&k, &g_root);
    expect(&r, NFS3_OK, "GETATTR as root on the same connection: OK");
    as_uid(&k, g_owner, g_gid);
    r = n_getattr(&k, &g_root);
    expect(&r, NFS3_OK, "GETATTR as the owner on the same connection: OK");
    conn_close(&k);
}

int main(int argc, char **argv)
{
    char *end;
    long port = argc == 3 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 3 || port <= 0 || port > 65535 || *end) {
        fprintf(stderr, "usage: strata-nfsclient PORT OWNER_UID\n");
        return 2;
    }
    unsigned long owner = strtoul(argv[2], &end, 10);
    if (*end || !argv[2][0] || owner > UINT32_MAX) {
        fprintf(stderr, "usage: strata-nfsclient PORT OWNER_UID\n");
        return 2;
    }
    g_port = (int)port;
    g_owner = (uint32_t)owner;
    g_gid = (uint32_t)getgid();
    g_other = g_owner == 12345 ? 12346 : 12345;

    if (conn_open(&g_mnt, g_port, MOUNT_PROGRAM, g_owner, g_gid, "connect to MOUNT v3") &&
        conn_open(&g_nfs, g_port, NFS_PROGRAM, g_owner, g_gid, "connect to NFS v3")) {
        check_mount();
        check_lookup();
        check_readdir();
        fh hello = look(&g_root, "hello.txt", NULL);
        fh run = look(&g_root, "run.sh", NULL);
        fh dir = look(&g_root, "dir", NULL);
        check_access_of("the root", &g_root);
        check_access_of("dir", &dir);
        check_access_of("hello.txt", &hello);
        check_access_of("run.sh", &run);
        check_read();
        check_write();
        check_setattr();
        check_create();
        fh ro = look(&g_root, "ro.txt", NULL);
        check_access_of("ro.txt", &ro);
        check_make();
        check_link_rename();
        check_remove();
        check_final_listing();
        check_fs();
        check_stale();
        check_auth();
    }
    conn_close(&g_mnt);
    conn_close(&g_nfs);
    printf("1..%d\n", g_n);
    return g_failed ? 1 : 0;
}
