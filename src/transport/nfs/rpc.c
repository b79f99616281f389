/* ONC RPC v2 (RFC 5531) for the NFS server: call headers decoded with
 * the rules in rpc.h, replies encoded, and TCP record marking in both
 * directions. Everything read comes from the wire and goes through the
 * bound-checked xdr_dec; the reassembler's memory follows the bytes that
 * arrived, never the lengths they claim. */
#include <stdlib.h>
#include <string.h>

#include "transport/nfs/rpc.h"

/* ---- calls ---------------------------------------------------------------- */

/* An AUTH_SYS body must be exactly one authsys_parms: extra bytes inside
 * a credential are as suspect as missing ones. */
static bool sys_decode(const uint8_t *body, uint32_t n, rpc_cred *c)
{
    xdr_dec d;
    xdr_dec_init(&d, body, n);
    c->flavor = RPC_AUTH_SYS;
    c->stamp = xdr_u32(&d);
    if (!xdr_string(&d, RPC_SYS_MACHINE_MAX, c->machine))
        return false;
    c->uid = xdr_u32(&d);
    c->gid = xdr_u32(&d);
    c->ngids = xdr_u32(&d);
    if (c->ngids > RPC_SYS_GIDS_MAX)
        return false;
    for (uint32_t i = 0; i < c->ngids; i++)
        c->gids[i] = xdr_u32(&d);
    return xdr_done(&d);
}

static bool cred_decode(xdr_dec *d, rpc_cred *c)
{
    uint32_t flavor = xdr_u32(d);
    uint32_t n;
    const uint8_t *body = xdr_opaque_var(d, RPC_AUTH_MAX, &n);
    if (!body)
        return false;
    switch (flavor) {
    case RPC_AUTH_NONE:
        c->flavor = RPC_AUTH_NONE;
        return true;
    case RPC_AUTH_SYS:
        return sys_decode(body, n, c);
    default:
        return false;
    }
}

rpc_call_status rpc_call_decode(const uint8_t *msg, size_t len, rpc_call *out, uint32_t *auth_stat)
{
    memset(out, 0, sizeof(*out));
    *auth_stat = RPC_AUTH_OK;
    xdr_dec d;
    xdr_dec_init(&d, msg, len);
    uint32_t xid = xdr_u32(&d);
    uint32_t mtype = xdr_u32(&d);
    if (d.err || mtype != RPC_MSG_CALL)
        return RPC_CALL_DROP;
    /* From here on there is someone to answer. */
    out->xid = xid;
    uint32_t rpcvers = xdr_u32(&d);
    if (d.err || rpcvers != RPC_VERSION)
        return RPC_CALL_RPC_MISMATCH;
    out->prog = xdr_u32(&d);
    out->vers = xdr_u32(&d);
    out->proc = xdr_u32(&d);
    rpc_call_status st = RPC_CALL_OK;
    if (!cred_decode(&d, &out->cred)) {
        *auth_stat = RPC_AUTH_BADCRED;
        st = RPC_CALL_AUTH_ERROR;
    } else {
        uint32_t vflavor = xdr_u32(&d);
        uint32_t vlen;
        if (!xdr_opaque_var(&d, RPC_AUTH_MAX, &vlen) || vflavor != RPC_AUTH_NONE) {
            *auth_stat = RPC_AUTH_BADVERF;
            st = RPC_CALL_AUTH_ERROR;
        }
    }
    if (st != RPC_CALL_OK) {
        memset(out, 0, sizeof(*out));
        out->xid = xid;
        return st;
    }
    out->args = msg + d.pos;
    out->args_len = len - d.pos;
    return RPC_CALL_OK;
}

/* The length of an authsys_parms body, or 0 if c breaks its limits. */
static uint32_t sys_body_len(const rpc_cred *c)
{
    size_t m = strnlen(c->machine, sizeof(c->machine));
    if (m > RPC_SYS_MACHINE_MAX || c->ngids > RPC_SYS_GIDS_MAX)
        return 0;
    return (uint32_t)(4 + 4 + m + xdr_pad(m) + 4 + 4 + 4 + 4 * c->ngids);
}

void rpc_call_encode(xdr_enc *e, const rpc_call *c)
{
    xdr_put_u32(e, c->xid);
    xdr_put_u32(e, RPC_MSG_CALL);
    xdr_put_u32(e, RPC_VERSION);
    xdr_put_u32(e, c->prog);
    xdr_put_u32(e, c->vers);
    xdr_put_u32(e, c->proc);
    const rpc_cred *cr = &c->cred;
    switch (cr->flavor) {
    case RPC_AUTH_NONE:
        xdr_put_u32(e, RPC_AUTH_NONE);
        xdr_put_u32(e, 0);
        break;
    case RPC_AUTH_SYS: {
        uint32_t n = sys_body_len(cr);
        if (n == 0) {
            e->err = true;
            return;
        }
        xdr_put_u32(e, RPC_AUTH_SYS);
        xdr_put_u32(e, n);
        xdr_put_u32(e, cr->stamp);
        xdr_put_string(e, cr->machine);
        xdr_put_u32(e, cr->uid);
        xdr_put_u32(e, cr->gid);
        xdr_put_u32(e, cr->ngids);
        for (uint32_t i = 0; i < cr->ngids; i++)
            xdr_put_u32(e, cr->gids[i]);
        break;
    }
    default:
        e->err = true;
        return;
    }
    xdr_put_u32(e, RPC_AUTH_NONE);
    xdr_put_u32(e, 0);
}

/* ---- replies -------------------------------------------------------------- */

static void accepted_head(xdr_enc *e, uint32_t xid, uint32_t accept_stat)
{
    xdr_put_u32(e, xid);
    xdr_put_u32(e, RPC_MSG_REPLY);
    xdr_put_u32(e, RPC_MSG_ACCEPTED);
    xdr_put_u32(e, RPC_AUTH_NONE);
    xdr_put_u32(e, 0);
    xdr_put_u32(e, accept_stat);
}

void rpc_reply_accepted(xdr_enc *e, uint32_t xid, uint32_t accept_stat)
{
    if (accept_stat == RPC_ACC_PROG_MISMATCH) {
        e->err = true;
        return;
    }
    accepted_head(e, xid, accept_stat);
}

void rpc_reply_prog_mismatch(xdr_enc *e, uint32_t xid, uint32_t low, uint32_t high)
{
    accepted_head(e, xid, RPC_ACC_PROG_MISMATCH);
    xdr_put_u32(e, low);
    xdr_put_u32(e, high);
}

static void denied_head(xdr_enc *e, uint32_t xid, uint32_t reject_stat)
{
    xdr_put_u32(e, xid);
    xdr_put_u32(e, RPC_MSG_REPLY);
    xdr_put_u32(e, RPC_MSG_DENIED);
    xdr_put_u32(e, reject_stat);
}

void rpc_reply_rpc_mismatch(xdr_enc *e, uint32_t xid)
{
    denied_head(e, xid, RPC_REJ_RPC_MISMATCH);
    xdr_put_u32(e, RPC_VERSION);
    xdr_put_u32(e, RPC_VERSION);
}

void rpc_reply_auth_error(xdr_enc *e, uint32_t xid, uint32_t auth_stat)
{
    denied_head(e, xid, RPC_REJ_AUTH_ERROR);
    xdr_put_u32(e, auth_stat);
}

/* Only the shapes RFC 5531 defines are accepted, so that a test client
 * notices a server that writes anything else. */
bool rpc_reply_decode(const uint8_t *msg, size_t len, rpc_reply *out)
{
    memset(out, 0, sizeof(*out));
    xdr_dec d;
    xdr_dec_init(&d, msg, len);
    out->xid = xdr_u32(&d);
    if (xdr_u32(&d) != RPC_MSG_REPLY)
        goto bad;
    out->reply_stat = xdr_enum(&d, 2);
    if (d.err)
        goto bad;
    if (out->reply_stat == RPC_MSG_ACCEPTED) {
        uint32_t vlen;
        out->verf_flavor = xdr_u32(&d);
        xdr_opaque_var(&d, RPC_AUTH_MAX, &vlen);
        out->accept_stat = xdr_enum(&d, RPC_ACC_SYSTEM_ERR + 1);
        if (d.err)
            goto bad;
        if (out->accept_stat == RPC_ACC_SUCCESS) {
            out->results = msg + d.pos;
            out->results_len = len - d.pos;
            return true;
        }
        if (out->accept_stat == RPC_ACC_PROG_MISMATCH) {
            out->low = xdr_u32(&d);
            out->high = xdr_u32(&d);
        }
    } else {
        out->reject_stat = xdr_enum(&d, 2);
        if (out->reject_stat == RPC_REJ_RPC_MISMATCH) {
            out->low = xdr_u32(&d);
            out->high = xdr_u32(&d);
        } else {
            out->auth_stat = xdr_u32(&d);
        }
    }
    if (xdr_done(&d))
        return true;
bad:
    memset(out, 0, sizeof(*out));
    return false;
}

/* ---- record marking ------------------------------------------------------- */

size_t rpc_mark_begin(xdr_enc *e)
{
    size_t at = e->len;
    xdr_put_u32(e, 0);
    return at;
}

bool rpc_mark_end(xdr_enc *e, size_t at)
{
    if (e->err || at > e->len || e->len - at < 4)
        return false;
    size_t n = e->len - at - 4;
    if (n >= RPC_REC_LAST)
        return false;
    uint32_t h = RPC_REC_LAST | (uint32_t)n;
    uint8_t *p = e->buf + at;
    p[0] = (uint8_t)(h >> 24);
    p[1] = (uint8_t)(h >> 16);
    p[2] = (uint8_t)(h >> 8);
    p[3] = (uint8_t)h;
    return true;
}

/* The first allocation: small calls (most NFS calls) fit in it. */
#define REC_MIN 4096

void rpc_rec_init(rpc_rec *r, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->max = max;
    r->err = RPC_REC_MORE;
}

void rpc_rec_free(rpc_rec *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

/* Called once the handed-out record is no longer needed. */
static void rec_restart(rpc_rec *r)
{
    r->len = 0;
    r->started = false;
    r->ready = false;
    if (r->cap > RPC_REC_KEEP)
        rpc_rec_free(r);
}

/* Room for k more bytes, which have arrived; len + k <= max is already
 * known, so doubling is capped at max. */
static bool rec_room(rpc_rec *r, size_t k)
{
    size_t need = r->len + k;
    if (need <= r->cap)
        return true;
    size_t cap = r->cap ? r->cap : REC_MIN;
    while (cap < need)
        cap = cap > r->max / 2 ? r->max : cap * 2;
    if (cap > r->max)
        cap = r->max;
    uint8_t *nb = realloc(r->buf, cap);
    if (!nb)
        return false;
    r->buf = nb;
    r->cap = cap;
    return true;
}

rpc_rec_status rpc_rec_feed(rpc_rec *r, const uint8_t *p, size_t n, size_t *used,
                            const uint8_t **msg, size_t *len)
{
    static const uint8_t empty[1];
    *used = 0;
    *msg = NULL;
    *len = 0;
    if (r->err != RPC_REC_MORE)
        return r->err;
    if (r->ready)
        rec_restart(r);
    size_t i = 0;
    for (;;) {
        if (!r->in_frag) {
            while (r->hdr_len < 4 && i < n) {
                r->hdr[r->hdr_len++] = p[i++];
                r->started = true;
            }
            if (r->hdr_len < 4)
                break;
            uint32_t h = (uint32_t)r->hdr[0] << 24 | (uint32_t)r->hdr[1] << 16 |
                         (uint32_t)r->hdr[2] << 8 | r->hdr[3];
            r->hdr_len = 0;
            r->last = (h & RPC_REC_LAST) != 0;
            r->frag_left = h & ~RPC_REC_LAST;
            if (r->frag_left > r->max - r->len) {
                r->err = RPC_REC_TOO_BIG;
                break;
            }
            r->in_frag = true;
        }
        size_t k = n - i < r->frag_left ? n - i : r->frag_left;
        if (k) {
            if (!rec_room(r, k)) {
                r->err = RPC_REC_NOMEM;
                break;
            }
            memcpy(r->buf + r->len, p + i, k);
            r->len += k;
            r->frag_left -= (uint32_t)k;
            i += k;
        }
        if (r->frag_left)
            break;
        r->in_frag = false;
        if (r->last) {
            r->ready = true;
            *used = i;
            *msg = r->buf ? r->buf : empty;
            *len = r->len;
            return RPC_REC_READY;
        }
    }
    *used = i;
    return r->err;
}

bool rpc_rec_pending(const rpc_rec *r)
{
    return r->started && !r->ready;
}

size_t rpc_rec_capacity(const rpc_rec *r)
{
    return r->cap;
}
