/* XDR decoding with a bound check on every read, and encoding into a
 * buffer that grows up to a limit (see xdr.h). */
#include <stdlib.h>
#include <string.h>

#include "transport/nfs/xdr.h"

void xdr_dec_init(xdr_dec *d, const void *p, size_t len)
{
    d->p = p;
    d->len = len;
    d->pos = 0;
    d->err = false;
}

/* n bytes at the read position, or NULL (and the error set). */
static const uint8_t *dec_take(xdr_dec *d, size_t n)
{
    if (d->err || n > d->len - d->pos) {
        d->err = true;
        return NULL;
    }
    const uint8_t *p = d->p + d->pos;
    d->pos += n;
    return p;
}

uint32_t xdr_u32(xdr_dec *d)
{
    const uint8_t *p = dec_take(d, 4);
    if (!p)
        return 0;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t xdr_u64(xdr_dec *d)
{
    uint64_t hi = xdr_u32(d);
    uint64_t lo = xdr_u32(d);
    return d->err ? 0 : hi << 32 | lo;
}

int32_t xdr_i32(xdr_dec *d)
{
    return (int32_t)xdr_u32(d);
}

bool xdr_bool(xdr_dec *d)
{
    uint32_t v = xdr_u32(d);
    if (v > 1)
        d->err = true;
    return !d->err && v == 1;
}

uint32_t xdr_enum(xdr_dec *d, uint32_t n)
{
    uint32_t v = xdr_u32(d);
    if (v >= n)
        d->err = true;
    return d->err ? 0 : v;
}

/* The padding after n bytes must be zeros (RFC 4506 says so; a sender
 * that puts anything else there is not speaking XDR). */
static bool dec_pad(xdr_dec *d, size_t n)
{
    size_t pad = xdr_pad(n);
    const uint8_t *p = dec_take(d, pad);
    if (!p)
        return false;
    for (size_t i = 0; i < pad; i++) {
        if (p[i]) {
            d->err = true;
            return false;
        }
    }
    return true;
}

const uint8_t *xdr_opaque_fixed(xdr_dec *d, size_t n)
{
    const uint8_t *p = dec_take(d, n);
    return p && dec_pad(d, n) ? p : NULL;
}

const uint8_t *xdr_opaque_var(xdr_dec *d, uint32_t max, uint32_t *n)
{
    *n = 0;
    uint32_t len = xdr_u32(d);
    if (d->err || len > max) {
        d->err = true;
        return NULL;
    }
    const uint8_t *p = xdr_opaque_fixed(d, len);
    if (p)
        *n = len;
    return p;
}

bool xdr_string(xdr_dec *d, uint32_t max, char *out)
{
    uint32_t n;
    const uint8_t *p = xdr_opaque_var(d, max, &n);
    out[0] = '\0';
    if (!p)
        return false;
    if (memchr(p, '\0', n)) {
        d->err = true;
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

size_t xdr_left(const xdr_dec *d)
{
    return d->err ? 0 : d->len - d->pos;
}

bool xdr_done(const xdr_dec *d)
{
    return !d->err && d->pos == d->len;
}

/* ---- encoding ------------------------------------------------------------ */

void xdr_enc_init(xdr_enc *e, size_t limit)
{
    memset(e, 0, sizeof(*e));
    e->limit = limit;
}

void xdr_enc_free(xdr_enc *e)
{
    free(e->buf);
    memset(e, 0, sizeof(*e));
}

void xdr_enc_reset(xdr_enc *e)
{
    e->len = 0;
    e->err = false;
}

/* Room for n more bytes, growing the buffer (doubling, up to the limit). */
static uint8_t *enc_room(xdr_enc *e, size_t n)
{
    if (e->err || n > e->limit - e->len) {
        e->err = true;
        return NULL;
    }
    if (e->len + n > e->cap) {
        size_t cap = e->cap ? e->cap : 256;
        while (cap < e->len + n)
            cap *= 2;
        if (cap > e->limit)
            cap = e->limit;
        uint8_t *nb = realloc(e->buf, cap);
        if (!nb) {
            e->err = true;
            return NULL;
        }
        e->buf = nb;
        e->cap = cap;
    }
    uint8_t *p = e->buf + e->len;
    e->len += n;
    return p;
}

void xdr_put_u32(xdr_enc *e, uint32_t v)
{
    uint8_t *p = enc_room(e, 4);
    if (p) {
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
    }
}

void xdr_put_u64(xdr_enc *e, uint64_t v)
{
    xdr_put_u32(e, (uint32_t)(v >> 32));
    xdr_put_u32(e, (uint32_t)v);
}

void xdr_put_i32(xdr_enc *e, int32_t v)
{
    xdr_put_u32(e, (uint32_t)v);
}

void xdr_put_bool(xdr_enc *e, bool v)
{
    xdr_put_u32(e, v ? 1 : 0);
}

uint8_t *xdr_put_space(xdr_enc *e, size_t n)
{
    size_t pad = xdr_pad(n);
    if (n > SIZE_MAX - pad) {
        e->err = true;
        return NULL;
    }
    uint8_t *p = enc_room(e, n + pad);
    if (p && pad)
        memset(p + n, 0, pad);
    return p;
}

void xdr_put_opaque_fixed(xdr_enc *e, const void *src, size_t n)
{
    uint8_t *p = xdr_put_space(e, n);
    if (p && n)
        memcpy(p, src, n);
}

void xdr_put_opaque_var(xdr_enc *e, const void *p, uint32_t n)
{
    xdr_put_u32(e, n);
    xdr_put_opaque_fixed(e, p, n);
}

void xdr_put_string(xdr_enc *e, const char *s)
{
    size_t n = strlen(s);
    if (n > UINT32_MAX) {
        e->err = true;
        return;
    }
    xdr_put_opaque_var(e, s, (uint32_t)n);
}

void xdr_enc_truncate(xdr_enc *e, size_t len)
{
    if (len <= e->len)
        e->len = len;
}

size_t xdr_enc_room(const xdr_enc *e)
{
    return e->err ? 0 : e->limit - e->len;
}
