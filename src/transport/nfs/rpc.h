/* ONC RPC version 2 (RFC 5531), the server's side of it and what a test
 * client needs: call headers in, replies out, and the record marking
 * that carries both over TCP. Pure codecs on top of xdr.h; no I/O.
 *
 * A server's loop, per connection:
 *
 *   n = read(fd, buf, sizeof(buf));          (one buffer may serve all
 *   for (size_t off = 0; off < n;) {          connections: rpc_rec copies)
 *       size_t used; const uint8_t *msg; size_t len;
 *       rpc_rec_status s = rpc_rec_feed(&conn->rec, buf + off, n - off,
 *                                       &used, &msg, &len);
 *       off += used;
 *       if (s == RPC_REC_MORE) break;        (all of buf is used)
 *       if (s != RPC_REC_READY) close that connection;
 *       switch (rpc_call_decode(msg, len, &call, &auth_stat)) {
 *       case RPC_CALL_OK:           dispatch: rpc_reply_accepted(), results
 *       case RPC_CALL_DROP:         answer nothing, keep the connection
 *       case RPC_CALL_RPC_MISMATCH: rpc_reply_rpc_mismatch()
 *       case RPC_CALL_AUTH_ERROR:   rpc_reply_auth_error(auth_stat)
 *       }
 *   }
 *
 * and each reply is framed by rpc_mark_begin() before it and
 * rpc_mark_end() after it. Replies may go out in any order: a client
 * matches them to calls by xid.
 *
 * What decides which answer (RFC 5531 leaves the details to servers):
 *   - a message too short for an xid and a message type, or whose type
 *     is not CALL (a REPLY, or not RPC at all), gets no answer: the
 *     record is dropped and the connection stays;
 *   - a CALL whose RPC version is not 2, or is missing, gets MSG_DENIED
 *     RPC_MISMATCH with the range 2..2;
 *   - the credential must be AUTH_NONE (any body up to 400 bytes,
 *     ignored) or AUTH_SYS whose body is exactly one authsys_parms
 *     (machinename at most 255 bytes without a NUL, at most 16 gids,
 *     zero padding, nothing after it); anything else (another flavor,
 *     a body over 400 bytes, a body or a field that runs past the end of
 *     the message, or a message that ends before the credential) gets
 *     MSG_DENIED AUTH_ERROR AUTH_BADCRED;
 *   - the verifier must be AUTH_NONE with a body of at most 400 bytes
 *     (RFC 5531 only recommends it be empty; its bytes are ignored);
 *     anything else, or a missing verifier, gets AUTH_ERROR AUTH_BADVERF;
 *   - whatever follows the verifier is the procedure's arguments. The
 *     program, version and procedure are not checked here: the dispatcher
 *     answers PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL and GARBAGE_ARGS
 *     with the encoders below.
 * Whether an AUTH_SYS caller may do what it asks (its uid is someone
 * else's) is the dispatcher's decision too. */
#ifndef STRATA_TRANSPORT_NFS_RPC_H
#define STRATA_TRANSPORT_NFS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/nfs/xdr.h"

#define RPC_VERSION 2
/* The longest body of a credential or verifier (opaque_auth). */
#define RPC_AUTH_MAX 400
/* authsys_parms: machinename<255>, gids<16>. */
#define RPC_SYS_MACHINE_MAX 255
#define RPC_SYS_GIDS_MAX    16

/* msg_type */
enum { RPC_MSG_CALL = 0, RPC_MSG_REPLY = 1 };
/* reply_stat */
enum { RPC_MSG_ACCEPTED = 0, RPC_MSG_DENIED = 1 };
/* accept_stat */
enum {
    RPC_ACC_SUCCESS = 0,
    RPC_ACC_PROG_UNAVAIL = 1,
    RPC_ACC_PROG_MISMATCH = 2,
    RPC_ACC_PROC_UNAVAIL = 3,
    RPC_ACC_GARBAGE_ARGS = 4,
    RPC_ACC_SYSTEM_ERR = 5,
};
/* reject_stat */
enum { RPC_REJ_RPC_MISMATCH = 0, RPC_REJ_AUTH_ERROR = 1 };
/* auth_stat (the ones a server sends) */
enum {
    RPC_AUTH_OK = 0,
    RPC_AUTH_BADCRED = 1,
    RPC_AUTH_REJECTEDCRED = 2,
    RPC_AUTH_BADVERF = 3,
    RPC_AUTH_REJECTEDVERF = 4,
    RPC_AUTH_TOOWEAK = 5,
};
/* auth_flavor (the ones spoken here) */
enum { RPC_AUTH_NONE = 0, RPC_AUTH_SYS = 1 };

/* Who the caller says it is. For AUTH_NONE every other field is zero. */
typedef struct rpc_cred {
    uint32_t flavor; /* RPC_AUTH_NONE or RPC_AUTH_SYS */
    uint32_t stamp;
    uint32_t uid, gid;
    uint32_t ngids;
    uint32_t gids[RPC_SYS_GIDS_MAX];
    char machine[RPC_SYS_MACHINE_MAX + 1]; /* NUL-terminated */
} rpc_cred;

typedef struct rpc_call {
    uint32_t xid, prog, vers, proc;
    rpc_cred cred;
    const uint8_t *args; /* points into the message */
    size_t args_len;
} rpc_call;

typedef enum rpc_call_status {
    RPC_CALL_OK,           /* a call to dispatch */
    RPC_CALL_DROP,         /* not a call: answer nothing */
    RPC_CALL_RPC_MISMATCH, /* answer rpc_reply_rpc_mismatch(xid) */
    RPC_CALL_AUTH_ERROR,   /* answer rpc_reply_auth_error(xid, auth_stat) */
} rpc_call_status;

/* Decodes one whole record as a call message (rules above). Reads only
 * len bytes of msg. On RPC_CALL_OK, out is the call, its args pointing
 * into msg; otherwise out is all zero but for out->xid when there is an
 * answer to send. *auth_stat is set for RPC_CALL_AUTH_ERROR, else
 * RPC_AUTH_OK. */
rpc_call_status rpc_call_decode(const uint8_t *msg, size_t len, rpc_call *out, uint32_t *auth_stat);

/* ---- replies --------------------------------------------------------------
 * Each writes a whole reply message (with an AUTH_NONE verifier where
 * there is one) at the end of e; errors stick in e->err. */

/* MSG_ACCEPTED with any accept_stat but PROG_MISMATCH (which sets
 * e->err: it needs the range). After SUCCESS the caller appends the
 * results; the other statuses carry nothing more. */
void rpc_reply_accepted(xdr_enc *e, uint32_t xid, uint32_t accept_stat);
/* MSG_ACCEPTED PROG_MISMATCH: the versions of the program served. */
void rpc_reply_prog_mismatch(xdr_enc *e, uint32_t xid, uint32_t low, uint32_t high);
/* MSG_DENIED RPC_MISMATCH, 2..2. */
void rpc_reply_rpc_mismatch(xdr_enc *e, uint32_t xid);
/* MSG_DENIED AUTH_ERROR. */
void rpc_reply_auth_error(xdr_enc *e, uint32_t xid, uint32_t auth_stat);

/* ---- a client's side (tests, fuzzing) ------------------------------------- */

/* A call header for c's xid, prog, vers, proc and cred, with an empty
 * AUTH_NONE verifier; the caller appends the arguments (c->args is not
 * written). A cred that breaks the limits above sets e->err. */
void rpc_call_encode(xdr_enc *e, const rpc_call *c);

typedef struct rpc_reply {
    uint32_t xid;
    uint32_t reply_stat;    /* RPC_MSG_ACCEPTED or RPC_MSG_DENIED */
    uint32_t verf_flavor;   /* accepted: the server's verifier */
    uint32_t accept_stat;   /* accepted */
    uint32_t reject_stat;   /* denied */
    uint32_t auth_stat;     /* denied with RPC_REJ_AUTH_ERROR */
    uint32_t low, high;     /* PROG_MISMATCH or RPC_MISMATCH */
    const uint8_t *results; /* SUCCESS: the rest of the message */
    size_t results_len;
} rpc_reply;

/* Decodes a reply message. False (and out all zero) for anything that is
 * not one, or has bytes after a reply that carries nothing more. */
bool rpc_reply_decode(const uint8_t *msg, size_t len, rpc_reply *out);

/* ---- record marking over TCP ----------------------------------------------
 * A record is one or more fragments, each a 4-byte big-endian header (top
 * bit: the record's last fragment; low 31 bits: the fragment's length)
 * and that many bytes. */

#define RPC_REC_LAST 0x80000000u

/* Reserves a fragment header at the end of e, before a message is
 * encoded; returns where it is, for rpc_mark_end(). */
size_t rpc_mark_begin(xdr_enc *e);
/* Fills the header at `at` so that everything after it is one record
 * (one last fragment). False if e has an error or the message is longer
 * than a fragment can say. */
bool rpc_mark_end(xdr_enc *e, size_t at);

typedef enum rpc_rec_status {
    RPC_REC_MORE,    /* every byte given is used; feed more */
    RPC_REC_READY,   /* a whole record */
    RPC_REC_TOO_BIG, /* a record longer than max: close the connection */
    RPC_REC_NOMEM,   /* out of memory: close the connection */
} rpc_rec_status;

/* Reassembles records from one connection's byte stream. Its memory
 * holds one record's bytes (fragment headers stripped) and never exceeds
 * max bytes; it grows as bytes arrive, not as headers announce them, so
 * a header announcing 2 GiB costs nothing (beyond max it is refused at
 * once). A buffer grown past RPC_REC_KEEP is freed when the next record
 * starts, so a connection that sent one big write does not keep it. */
typedef struct rpc_rec {
    uint8_t *buf;
    size_t cap;         /* bytes allocated */
    size_t len;         /* bytes of the record so far */
    size_t max;         /* the longest record accepted */
    uint32_t frag_left; /* bytes of the current fragment still to come */
    uint8_t hdr[4];     /* a fragment header being read */
    unsigned hdr_len;
    bool in_frag;       /* reading a fragment's bytes, not a header */
    bool last;          /* the current fragment ends the record */
    bool started;       /* a byte of the current record was read */
    bool ready;         /* a record was handed out: start anew */
    rpc_rec_status err; /* sticky: RPC_REC_TOO_BIG or _NOMEM, or MORE */
} rpc_rec;

#define RPC_REC_KEEP (64 * 1024)

void rpc_rec_init(rpc_rec *r, size_t max);
/* Frees the buffer (a record handed out goes with it). */
void rpc_rec_free(rpc_rec *r);
/* Reads from p[0..n) until a record is whole or the bytes run out, and
 * says how many it used in *used. On RPC_REC_READY, *msg and *len are
 * the record (possibly empty), valid until the next call on r; the
 * caller feeds the rest (p + *used) next. An error sticks: every later
 * call returns it and uses nothing. */
rpc_rec_status rpc_rec_feed(rpc_rec *r, const uint8_t *p, size_t n, size_t *used,
                            const uint8_t **msg, size_t *len);
/* Whether part of a record is held (a connection that ends now ends in
 * the middle of one). */
bool rpc_rec_pending(const rpc_rec *r);
/* Bytes allocated now. */
size_t rpc_rec_capacity(const rpc_rec *r);

#endif
