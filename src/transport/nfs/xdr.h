/* XDR (RFC 4506), as the NFS transport needs it: big-endian 32- and 64-bit
 * integers, booleans, and opaque data padded to a multiple of four bytes.
 *
 * Decoding reads from a buffer that came off the wire and trusts nothing
 * in it: every read checks that the bytes are there, every length is
 * checked against a caller's bound before it is used, and the first
 * failure sticks (xdr_dec.err), so a decoder reads field after field and
 * checks once at the end. A failed read gives zeros, never bytes from
 * beyond the buffer.
 *
 * Encoding writes into a buffer that grows as needed up to a limit (a
 * reply's size is bounded by what the client asked for); running out of
 * room or memory sticks the same way (xdr_enc.err). */
#ifndef STRATA_TRANSPORT_NFS_XDR_H
#define STRATA_TRANSPORT_NFS_XDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct xdr_dec {
    const uint8_t *p;
    size_t len; /* bytes in p */
    size_t pos; /* the next byte to read */
    bool err;   /* a read failed: everything after it is zero */
} xdr_dec;

void xdr_dec_init(xdr_dec *d, const void *p, size_t len);
uint32_t xdr_u32(xdr_dec *d);
uint64_t xdr_u64(xdr_dec *d);
int32_t xdr_i32(xdr_dec *d);
/* A boolean: 0 or 1; anything else is an error. */
bool xdr_bool(xdr_dec *d);
/* An enum's value, which must be below n (its members are 0..n-1). */
uint32_t xdr_enum(xdr_dec *d, uint32_t n);
/* Fixed-length opaque of n bytes (plus padding): a pointer into the
 * buffer, or NULL on error. */
const uint8_t *xdr_opaque_fixed(xdr_dec *d, size_t n);
/* Variable-length opaque (or string) of at most max bytes: *n gets its
 * length, and the result points into the buffer (not NUL-terminated);
 * NULL on error (too long, short buffer, non-zero padding). */
const uint8_t *xdr_opaque_var(xdr_dec *d, uint32_t max, uint32_t *n);
/* A string of at most max bytes, copied NUL-terminated into out (which
 * holds max + 1 bytes); a NUL inside the string is an error. */
bool xdr_string(xdr_dec *d, uint32_t max, char *out);
/* Bytes left to read. */
size_t xdr_left(const xdr_dec *d);
/* Whether the whole buffer was read without error (a decoder's last
 * check: trailing bytes are garbage too). */
bool xdr_done(const xdr_dec *d);

typedef struct xdr_enc {
    uint8_t *buf;
    size_t len;   /* bytes written */
    size_t cap;   /* bytes allocated */
    size_t limit; /* never more than this many bytes */
    bool err;     /* out of room or memory: nothing more is written */
} xdr_enc;

/* An encoder that grows up to limit bytes. */
void xdr_enc_init(xdr_enc *e, size_t limit);
void xdr_enc_free(xdr_enc *e);
/* Forgets what was written, keeping the memory. */
void xdr_enc_reset(xdr_enc *e);
void xdr_put_u32(xdr_enc *e, uint32_t v);
void xdr_put_u64(xdr_enc *e, uint64_t v);
void xdr_put_i32(xdr_enc *e, int32_t v);
void xdr_put_bool(xdr_enc *e, bool v);
void xdr_put_opaque_fixed(xdr_enc *e, const void *p, size_t n);
void xdr_put_opaque_var(xdr_enc *e, const void *p, uint32_t n);
void xdr_put_string(xdr_enc *e, const char *s);
/* Reserves n bytes (padded) and returns where they go, for data written
 * in place (a READ's bytes); NULL on error. */
uint8_t *xdr_put_space(xdr_enc *e, size_t n);
/* Drops the bytes after len (a READ that got fewer bytes than it
 * reserved); len must not be beyond what is written. */
void xdr_enc_truncate(xdr_enc *e, size_t len);
/* Room left under the limit. */
size_t xdr_enc_room(const xdr_enc *e);

/* Padding of n bytes to a multiple of four. */
static inline size_t xdr_pad(size_t n)
{
    return (4 - (n & 3)) & 3;
}

#endif
