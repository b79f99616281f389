/* The control protocol of `strata serve`, version 1: how a client asks the
 * long-lived mount for a slot (a directory at the mount's root that shows
 * its own layers and upper) and gives it back. This file is the codec
 * only, pure and without I/O; the socket and the slots live elsewhere.
 *
 * Transport: a Unix stream socket. The client writes one request and
 * reads one reply, in turn, as often as it likes on one connection.
 *
 * Lines: a request or a reply is one line ending in "\n", at most
 * SERVE_LINE_MAX bytes with that newline; a longer one is an error
 * ("oversized"), and a reader stops reading at that length. A line holds
 * printable ASCII only (0x21-0x7e) and its fields, separated by exactly
 * one space: no empty line, no leading or trailing space, no two spaces
 * in a row, no tab, no CR ("\r\n" is refused, not tolerated), no byte
 * >= 0x7f. Words (verbs, codes) are case-sensitive.
 *
 * Text fields (paths, messages, hints) are percent-encoded: '%', space,
 * every byte < 0x21 and every byte >= 0x7f is written %XX (uppercase hex;
 * a decoder accepts either case), anything else as itself. Decoding
 * refuses a '%' not followed by two hex digits, and %00: a decoded text
 * never holds a NUL. A text field is never empty: "-" stands for the empty
 * text, and a text that is exactly "-" is written "%2D", so that "-"
 * always means empty and every text round-trips (no real message, hint or
 * absolute path is "-").
 *
 * Numbers are decimal, without sign or leading zeros, within the range
 * given below; anything else is refused.
 *
 * Requests (client to server):
 *
 *   HELLO <version>
 *       The first request of a connection: the client's protocol version,
 *       1..999999 (this is version 1).
 *   ATTACH <upper> <digest> [<digest>...]
 *       Asks for a slot showing these layers, top first: 1..256 digests,
 *       each "sha256:" and 64 lowercase hex digits. <upper> is the
 *       absolute path (percent-encoded; decoded: starts with '/', at most
 *       4095 bytes) of the directory that takes the view's writes, or "-"
 *       for a read-only view.
 *   DETACH <slot>
 *       Gives slot 1..65535 back.
 *
 * Replies (server to client), one per request:
 *
 *   OK strata-serve <version> <max_slots>   to HELLO: the version the
 *       server speaks (1..999999) and how many slots it holds (1..65535)
 *   OK <slot> <generation>                  to ATTACH: the slot (1..65535),
 *       shown as the directory "<slot>" at the mount's root, and its
 *       generation (1..4294967295: how many views the slot has shown, so
 *       that a later view in the same slot is told apart)
 *   OK                                      to DETACH
 *   ERR <code> <message> <hint>             to any request: code is
 *       strata_code_name() of the error ("io", "not-found", "exists",
 *       "invalid", "corrupt", "no-space", "no-memory", "busy",
 *       "unsupported", "internal"; never "ok"), message and hint are text
 *       fields of at most SERVE_TEXT_MAX - 1 bytes each (longer ones are
 *       cut, ending in "...").
 *
 * A server that does not speak the client's version answers its HELLO
 * with "ERR unsupported ..."; a malformed request gets "ERR invalid ...".
 * A client that reads a malformed reply (or one of the wrong shape for
 * its request) treats it as STRATA_E_CORRUPT.
 *
 * Example (digests shortened here):
 *
 *   > HELLO 1
 *   < OK strata-serve 1 64
 *   > ATTACH /home/u/my%20upper sha256:9f86d08...0f00a08 sha256:2c26b46...3c3ae
 *   < OK 3 1
 *   > DETACH 3
 *   < OK
 *   > DETACH 3
 *   < ERR not-found slot%203%20shows%20nothing -
 *
 * Every valid line fits in SERVE_LINE_MAX bytes with room for a NUL (the
 * longest, an ATTACH with 256 layers and a 4095-byte path of encoded
 * bytes, is 30723 bytes), so formatting into a SERVE_LINE_MAX buffer never
 * fails for valid input. */
#ifndef STRATA_ENGINE_SERVE_PROTO_H
#define STRATA_ENGINE_SERVE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/err.h"

#define SERVE_PROTO_VERSION 1
#define SERVE_VERSION_MAX   999999u
#define SERVE_LINE_MAX      32768 /* bytes of a line, with its "\n" */
#define SERVE_MAX_LAYERS    256
#define SERVE_SLOT_MAX      65535u
#define SERVE_PATH_MAX      4096 /* an upper path's bytes, with its NUL */
#define SERVE_TEXT_MAX      4096 /* a message's or hint's bytes, with its NUL */

typedef enum {
    SERVE_REQ_HELLO,
    SERVE_REQ_ATTACH,
    SERVE_REQ_DETACH,
} serve_req_kind;

/* A request, decoded. It is large (8 KB of digests, 4 KB of path): keep
 * it static or on the heap, not on a thread's stack. */
typedef struct serve_req {
    serve_req_kind kind;
    uint32_t version;                       /* HELLO */
    char upper[SERVE_PATH_MAX];             /* ATTACH: absolute; "" = read-only */
    strata_digest layers[SERVE_MAX_LAYERS]; /* ATTACH: top first */
    uint32_t nlayers;                       /* ATTACH: 1..SERVE_MAX_LAYERS */
    uint32_t slot;                          /* DETACH */
} serve_req;

typedef enum {
    SERVE_REPLY_HELLO,    /* OK strata-serve <version> <max_slots> */
    SERVE_REPLY_ATTACHED, /* OK <slot> <generation> */
    SERVE_REPLY_DONE,     /* OK */
    SERVE_REPLY_ERR,      /* ERR <code> <message> <hint> */
} serve_reply_kind;

/* A reply, decoded (about 8 KB: static or on the heap, like a request). */
typedef struct serve_reply {
    serve_reply_kind kind;
    uint32_t version;          /* HELLO: the server's protocol version */
    uint32_t max_slots;        /* HELLO */
    uint32_t slot;             /* ATTACHED */
    uint32_t generation;       /* ATTACHED */
    strata_code code;          /* ERR: never STRATA_E_OK */
    char msg[SERVE_TEXT_MAX];  /* ERR */
    char hint[SERVE_TEXT_MAX]; /* ERR; "" when the server gave none */
} serve_reply;

/* Decodes one request line (without its "\n"). Every problem is
 * STRATA_E_INVALID, naming what is wrong (quoting a little of the line,
 * escaped) with the accepted form as the hint; the server sends it back
 * as its ERR reply. out is all zero after a rejection. */
strata_err *serve_req_parse(const char *line, size_t len, serve_req *out);

/* Writes r as a line, with its "\n" and then a NUL, into buf (n bytes);
 * *len (may be NULL) gets the line's length without the NUL. False, with
 * buf empty, when r is not a valid request or the line does not fit. */
bool serve_req_format(const serve_req *r, char *buf, size_t n, size_t *len);

/* The server's replies, written like serve_req_format's lines (false when
 * a number is out of range or the line does not fit). */
bool serve_reply_hello(uint32_t max_slots, char *buf, size_t n, size_t *len);
bool serve_reply_attached(uint32_t slot, uint32_t generation, char *buf, size_t n, size_t *len);
bool serve_reply_done(char *buf, size_t n, size_t *len);
/* An error as an ERR reply: a message or hint longer than SERVE_TEXT_MAX
 * - 1 bytes is cut (at a UTF-8 character's start) and ends in "...", and
 * a code out of range, or STRATA_E_OK, is sent as "internal". */
bool serve_reply_err(const strata_err *e, char *buf, size_t n, size_t *len);

/* Decodes one reply line (without its "\n"), for the client. An ERR reply
 * is a reply like the others (out->kind, code, msg, hint), not an error;
 * the error is for a malformed line, STRATA_E_CORRUPT. The kind is told by
 * the line's shape: the caller checks that it fits the request it sent.
 * out is all zero after a rejection. */
strata_err *serve_reply_parse(const char *line, size_t len, serve_reply *out);

#endif
