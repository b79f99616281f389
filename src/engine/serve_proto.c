/* The codec of `strata serve`'s control protocol (see serve_proto.h):
 * request and reply lines to structs and back. Pure: no I/O, no
 * allocation but for the errors it returns. Whatever a line holds, the
 * decoders read only its len bytes, write only into the struct they are
 * given, and accept only what the formatters write (plus non-canonical
 * %-escapes), so a decoded request always formats back to a line that
 * decodes to the same struct. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/serve_proto.h"

/* How much of a bad line or field an error message quotes. */
#define QUOTE_MAX 40
/* A quote's buffer: every byte may become \xNN, then "..." and a NUL. */
#define QUOTE_BUF (QUOTE_MAX * 4 + 4)

#define HINT_REQUEST                                                                               \
    "a request is one line: HELLO <version>, ATTACH <upper|-> <digest>..., or DETACH <slot>, "     \
    "fields separated by one space, text %-encoded, ending in a bare newline"
#define HINT_HELLO "HELLO <version>: a decimal number 1-999999 without leading zeros (this is 1)"
#define HINT_ATTACH                                                                                \
    "ATTACH <upper> <digest> [<digest>...]: upper is an absolute path (%-encoded, at most 4095 "   \
    "bytes) or - for a read-only view, then 1 to 256 digests sha256:<64 lowercase hex>, top first"
#define HINT_DETACH "DETACH <slot>: a slot number 1-65535 without leading zeros"
#define HINT_REPLY                                                                                 \
    "strata serve replies OK [<fields>] or ERR <code> <message> <hint> (protocol 1): is the "      \
    "socket served by a strata serve of this version? Restart it"

/* ---- small pieces --------------------------------------------------------- */

static bool is_plain(unsigned char c)
{
    return c >= 0x21 && c < 0x7f;
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool word_is(const char *f, size_t flen, const char *word)
{
    return strlen(word) == flen && memcmp(f, word, flen) == 0;
}

/* Bytes of a line for an error message: a bounded piece, with control
 * and non-ASCII bytes as \xNN, so that a hostile line cannot write escape
 * sequences to the terminal that shows the error. */
static void quote(const char *s, size_t len, char out[QUOTE_BUF])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < len && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    if (len > QUOTE_MAX) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* A decimal field within [min, max], refusing signs, leading zeros and
 * anything that is not a digit, so that each number has one spelling. */
static bool dec_parse(const char *s, size_t len, uint32_t min, uint32_t max, uint32_t *out)
{
    if (len == 0 || len > 10 || (s[0] == '0' && len > 1))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Decodes a %-encoded field into out (cap bytes with the NUL). Returns
 * NULL, or why the field is refused, for the caller's message. */
static const char *pct_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = len - i >= 3 ? hex_val((unsigned char)s[i + 1]) : -1;
            int lo = len - i >= 3 ? hex_val((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return "a '%' not followed by two hex digits";
            c = (unsigned char)(hi << 4 | lo);
            if (c == 0)
                return "an encoded NUL byte (%00)";
            i += 2;
        }
        if (o + 1 >= cap)
            return "too long";
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return NULL;
}

/* A text field: "-" is the empty text. */
static const char *text_decode(const char *s, size_t len, char *out, size_t cap)
{
    if (len == 1 && s[0] == '-') {
        out[0] = '\0';
        return NULL;
    }
    return pct_decode(s, len, out, cap);
}

/* "sha256:" and 64 lowercase hex digits: the one spelling the formatter
 * writes (digest_parse alone would take upper case too). */
static bool digest_field(const char *f, size_t flen, strata_digest *out)
{
    if (flen != DIGEST_STR_LEN || memcmp(f, DIGEST_PREFIX, 7) != 0)
        return false;
    for (size_t i = 7; i < flen; i++)
        if (!((f[i] >= '0' && f[i] <= '9') || (f[i] >= 'a' && f[i] <= 'f')))
            return false;
    char s[DIGEST_STR_LEN + 1];
    memcpy(s, f, flen);
    s[flen] = '\0';
    strata_err *e = digest_parse(s, out);
    if (e) {
        strata_err_free(e);
        return false;
    }
    return true;
}

/* The codes an ERR reply may carry, by their strata_code_name. */
static bool code_parse(const char *f, size_t flen, strata_code *out)
{
    for (int c = STRATA_E_IO; c <= STRATA_E_INTERNAL; c++)
        if (word_is(f, flen, strata_code_name((strata_code)c))) {
            *out = (strata_code)c;
            return true;
        }
    return false;
}

/* ---- reading a line ------------------------------------------------------- */

typedef struct reader {
    const char *line;
    size_t len;
    size_t pos;       /* where the next field starts */
    size_t nfields;   /* counted by reader_check */
    strata_code code; /* of every error: INVALID (request) or CORRUPT (reply) */
    const char *what; /* "request" or "reply" */
    const char *hint; /* the accepted form, as precise as known so far */
} reader;

/* An error about the line: what is wrong with it, after a quote of it. */
static strata_err *bad(const reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static strata_err *bad(const reader *r, const char *fmt, ...)
{
    char q[QUOTE_BUF], why[512];
    quote(r->line, r->len, q);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return strata_err_new(r->code, r->hint, "bad serve %s '%s': %s", r->what, q, why);
}

/* The checks every line gets before its fields are looked at: length,
 * bytes, spacing. Counts the fields. */
static strata_err *reader_check(reader *r)
{
    if (r->len > SERVE_LINE_MAX - 1)
        return bad(r, "oversized: %zu bytes, more than %d with the newline", r->len + 1,
                   SERVE_LINE_MAX);
    if (r->len == 0)
        return bad(r, "an empty line");
    for (size_t i = 0; i < r->len; i++) {
        unsigned char c = (unsigned char)r->line[i];
        if (c == ' ' || is_plain(c))
            continue;
        if (c == '\r')
            return bad(r, "a carriage return at byte %zu (a line ends in a bare newline)", i);
        if (c == '\n')
            return bad(r, "a newline at byte %zu, inside the line", i);
        return bad(r, "the byte 0x%02x at byte %zu (a line holds printable ASCII only)", c, i);
    }
    if (r->line[0] == ' ')
        return bad(r, "a leading space");
    if (r->line[r->len - 1] == ' ')
        return bad(r, "a trailing space");
    r->nfields = 1;
    for (size_t i = 0; i < r->len; i++) {
        if (r->line[i] != ' ')
            continue;
        if (r->line[i + 1] == ' ')
            return bad(r, "two spaces in a row at byte %zu (fields are separated by one space)", i);
        r->nfields++;
    }
    return NULL;
}

/* The next field (never empty after reader_check); false past the last. */
static bool reader_next(reader *r, const char **f, size_t *flen)
{
    if (r->pos >= r->len)
        return false;
    const char *s = r->line + r->pos;
    const char *sp = memchr(s, ' ', r->len - r->pos);
    *f = s;
    *flen = sp ? (size_t)(sp - s) : r->len - r->pos;
    r->pos += *flen + 1;
    return true;
}

/* ---- writing a line ------------------------------------------------------- */

typedef struct writer {
    char *buf;
    size_t n;
    size_t pos;
    bool ok; /* false once something did not fit */
} writer;

static void put(writer *w, const char *s, size_t len)
{
    if (!w->ok || w->n - w->pos < len) {
        w->ok = false;
        return;
    }
    memcpy(w->buf + w->pos, s, len);
    w->pos += len;
}

static void put_str(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_u32(writer *w, uint32_t v)
{
    char s[16];
    int k = snprintf(s, sizeof(s), "%u", (unsigned)v);
    put(w, s, (size_t)k);
}

/* A text field: %-encoded, "-" for the empty text, "%2D" for "-". */
static void put_text(writer *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len == 0) {
        put(w, "-", 1);
        return;
    }
    if (len == 1 && s[0] == '-') {
        put(w, "%2D", 3);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_plain(c) && c != '%') {
            put(w, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(w, e, 3);
        }
    }
}

/* Ends the line with "\n" and a NUL; on failure leaves buf empty. */
static bool finish(writer *w, size_t *len)
{
    put(w, "\n", 1);
    put(w, "", 1);
    if (!w->ok) {
        if (w->n)
            w->buf[0] = '\0';
        if (len)
            *len = 0;
        return false;
    }
    if (len)
        *len = w->pos - 1;
    return true;
}

/* ---- requests ------------------------------------------------------------- */

static strata_err *req_hello(reader *r, serve_req *out)
{
    r->hint = HINT_HELLO;
    if (r->nfields != 2)
        return bad(r, "HELLO takes 1 field, the version; got %zu", r->nfields - 1);
    const char *f = NULL;
    size_t fl = 0;
    reader_next(r, &f, &fl);
    if (!dec_parse(f, fl, 1, SERVE_VERSION_MAX, &out->version)) {
        char q[QUOTE_BUF];
        quote(f, fl, q);
        return bad(r, "the version '%s' is not a number 1-999999 without leading zeros", q);
    }
    out->kind = SERVE_REQ_HELLO;
    return NULL;
}

static strata_err *req_attach(reader *r, serve_req *out)
{
    r->hint = HINT_ATTACH;
    if (r->nfields < 3)
        return bad(r, "ATTACH takes an upper and 1 to %d digests; got %s", SERVE_MAX_LAYERS,
                   r->nfields == 1 ? "neither" : "no digest");
    if (r->nfields - 2 > SERVE_MAX_LAYERS)
        return bad(r, "%zu layers, more than %d", r->nfields - 2, SERVE_MAX_LAYERS);
    const char *f = NULL;
    size_t fl = 0;
    char q[QUOTE_BUF];
    reader_next(r, &f, &fl);
    if (!(fl == 1 && f[0] == '-')) {
        const char *why = pct_decode(f, fl, out->upper, sizeof(out->upper));
        if (!why && out->upper[0] != '/')
            why = "not an absolute path";
        if (why) {
            quote(f, fl, q);
            if (strcmp(why, "too long") == 0)
                return bad(r, "the upper path '%s' is longer than %d bytes", q, SERVE_PATH_MAX - 1);
            return bad(r, "the upper path '%s': %s", q, why);
        }
    }
    while (reader_next(r, &f, &fl)) {
        if (!digest_field(f, fl, &out->layers[out->nlayers])) {
            quote(f, fl, q);
            return bad(r, "layer %u, '%s', is not a digest sha256:<64 lowercase hex>",
                       out->nlayers + 1, q);
        }
        out->nlayers++;
    }
    out->kind = SERVE_REQ_ATTACH;
    return NULL;
}

static strata_err *req_detach(reader *r, serve_req *out)
{
    r->hint = HINT_DETACH;
    if (r->nfields != 2)
        return bad(r, "DETACH takes 1 field, the slot; got %zu", r->nfields - 1);
    const char *f = NULL;
    size_t fl = 0;
    reader_next(r, &f, &fl);
    if (!dec_parse(f, fl, 1, SERVE_SLOT_MAX, &out->slot)) {
        char q[QUOTE_BUF];
        quote(f, fl, q);
        return bad(r, "the slot '%s' is not a number 1-65535 without leading zeros", q);
    }
    out->kind = SERVE_REQ_DETACH;
    return NULL;
}

static strata_err *req_parse(const char *line, size_t len, serve_req *out)
{
    reader r = {.line = line,
                .len = len,
                .code = STRATA_E_INVALID,
                .what = "request",
                .hint = HINT_REQUEST};
    strata_err *e = reader_check(&r);
    if (e)
        return e;
    const char *verb = NULL;
    size_t vl = 0;
    reader_next(&r, &verb, &vl);
    if (word_is(verb, vl, "HELLO"))
        return req_hello(&r, out);
    if (word_is(verb, vl, "ATTACH"))
        return req_attach(&r, out);
    if (word_is(verb, vl, "DETACH"))
        return req_detach(&r, out);
    char q[QUOTE_BUF];
    quote(verb, vl, q);
    return bad(&r, "the unknown verb '%s' (verbs are HELLO, ATTACH, DETACH, in upper case)", q);
}

strata_err *serve_req_parse(const char *line, size_t len, serve_req *out)
{
    memset(out, 0, sizeof(*out));
    strata_err *e = req_parse(line, len, out);
    if (e)
        memset(out, 0, sizeof(*out));
    return e;
}

bool serve_req_format(const serve_req *r, char *buf, size_t n, size_t *len)
{
    writer w = {.buf = buf, .n = n, .ok = true};
    switch (r->kind) {
    case SERVE_REQ_HELLO:
        w.ok = r->version >= 1 && r->version <= SERVE_VERSION_MAX;
        put_str(&w, "HELLO ");
        put_u32(&w, r->version);
        break;
    case SERVE_REQ_ATTACH: {
        size_t ul = strnlen(r->upper, sizeof(r->upper));
        w.ok = r->nlayers >= 1 && r->nlayers <= SERVE_MAX_LAYERS && ul < sizeof(r->upper) &&
               (ul == 0 || r->upper[0] == '/');
        put_str(&w, "ATTACH ");
        if (ul == 0)
            put(&w, "-", 1);
        else
            put_text(&w, r->upper, ul);
        for (uint32_t i = 0; w.ok && i < r->nlayers; i++) {
            char d[DIGEST_STR_LEN + 1];
            digest_format(&r->layers[i], d);
            put(&w, " ", 1);
            put(&w, d, DIGEST_STR_LEN);
        }
        break;
    }
    case SERVE_REQ_DETACH:
        w.ok = r->slot >= 1 && r->slot <= SERVE_SLOT_MAX;
        put_str(&w, "DETACH ");
        put_u32(&w, r->slot);
        break;
    default:
        w.ok = false;
    }
    return finish(&w, len);
}

/* ---- replies -------------------------------------------------------------- */

bool serve_reply_hello(uint32_t max_slots, char *buf, size_t n, size_t *len)
{
    writer w = {.buf = buf, .n = n, .ok = max_slots >= 1 && max_slots <= SERVE_SLOT_MAX};
    put_str(&w, "OK strata-serve ");
    put_u32(&w, SERVE_PROTO_VERSION);
    put(&w, " ", 1);
    put_u32(&w, max_slots);
    return finish(&w, len);
}

bool serve_reply_attached(uint32_t slot, uint32_t generation, char *buf, size_t n, size_t *len)
{
    writer w = {.buf = buf, .n = n, .ok = slot >= 1 && slot <= SERVE_SLOT_MAX && generation >= 1};
    put_str(&w, "OK ");
    put_u32(&w, slot);
    put(&w, " ", 1);
    put_u32(&w, generation);
    return finish(&w, len);
}

bool serve_reply_done(char *buf, size_t n, size_t *len)
{
    writer w = {.buf = buf, .n = n, .ok = true};
    put_str(&w, "OK");
    return finish(&w, len);
}

/* A message or hint as a text field, cut to what a reply may carry: the
 * cut falls at the start of a UTF-8 character, so the client never shows
 * half of one, and "..." says that something is missing. */
static void put_text_cut(writer *w, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (len <= SERVE_TEXT_MAX - 1) {
        put_text(w, s, len);
        return;
    }
    char cut[SERVE_TEXT_MAX];
    size_t keep = SERVE_TEXT_MAX - 1 - 3;
    while (keep > 0 && ((unsigned char)s[keep] & 0xc0) == 0x80)
        keep--;
    memcpy(cut, s, keep);
    memcpy(cut + keep, "...", 3);
    put_text(w, cut, keep + 3);
}

bool serve_reply_err(const strata_err *e, char *buf, size_t n, size_t *len)
{
    writer w = {.buf = buf, .n = n, .ok = true};
    strata_code code = e->code;
    if ((unsigned)code < STRATA_E_IO || (unsigned)code > STRATA_E_INTERNAL)
        code = STRATA_E_INTERNAL;
    put_str(&w, "ERR ");
    put_str(&w, strata_code_name(code));
    put(&w, " ", 1);
    put_text_cut(&w, e->msg);
    put(&w, " ", 1);
    put_text_cut(&w, e->hint);
    return finish(&w, len);
}

static strata_err *reply_number(reader *r, const char *name, uint32_t min, uint32_t max,
                                uint32_t *out)
{
    const char *f = NULL;
    size_t fl = 0;
    reader_next(r, &f, &fl);
    if (dec_parse(f, fl, min, max, out))
        return NULL;
    char q[QUOTE_BUF];
    quote(f, fl, q);
    return bad(r, "the %s '%s' is not a number %u-%u without leading zeros", name, q, (unsigned)min,
               (unsigned)max);
}

static strata_err *reply_text(reader *r, const char *name, char *out, size_t cap)
{
    const char *f = NULL;
    size_t fl = 0;
    reader_next(r, &f, &fl);
    const char *why = text_decode(f, fl, out, cap);
    if (!why)
        return NULL;
    char q[QUOTE_BUF];
    quote(f, fl, q);
    if (strcmp(why, "too long") == 0)
        return bad(r, "the %s '%s' is longer than %d bytes", name, q, SERVE_TEXT_MAX - 1);
    return bad(r, "the %s '%s': %s", name, q, why);
}

static strata_err *reply_parse(const char *line, size_t len, serve_reply *out)
{
    reader r = {
        .line = line, .len = len, .code = STRATA_E_CORRUPT, .what = "reply", .hint = HINT_REPLY};
    strata_err *e = reader_check(&r);
    if (e)
        return e;
    const char *f = NULL;
    size_t fl = 0;
    reader_next(&r, &f, &fl);
    if (word_is(f, fl, "OK")) {
        if (r.nfields == 1) {
            out->kind = SERVE_REPLY_DONE;
            return NULL;
        }
        if (r.nfields == 3) {
            out->kind = SERVE_REPLY_ATTACHED;
            if ((e = reply_number(&r, "slot", 1, SERVE_SLOT_MAX, &out->slot)))
                return e;
            return reply_number(&r, "generation", 1, UINT32_MAX, &out->generation);
        }
        if (r.nfields == 4) {
            out->kind = SERVE_REPLY_HELLO;
            reader_next(&r, &f, &fl);
            if (!word_is(f, fl, "strata-serve"))
                return bad(&r, "OK with 3 fields that does not name strata-serve");
            if ((e = reply_number(&r, "version", 1, SERVE_VERSION_MAX, &out->version)))
                return e;
            return reply_number(&r, "slot count", 1, SERVE_SLOT_MAX, &out->max_slots);
        }
        return bad(&r, "OK with %zu fields (0, 2 or 3 are known)", r.nfields - 1);
    }
    if (word_is(f, fl, "ERR")) {
        if (r.nfields != 4)
            return bad(&r, "ERR with %zu fields, not 3 (code, message, hint)", r.nfields - 1);
        out->kind = SERVE_REPLY_ERR;
        reader_next(&r, &f, &fl);
        if (!code_parse(f, fl, &out->code)) {
            char q[QUOTE_BUF];
            quote(f, fl, q);
            return bad(&r, "the unknown error code '%s'", q);
        }
        if ((e = reply_text(&r, "message", out->msg, sizeof(out->msg))))
            return e;
        return reply_text(&r, "hint", out->hint, sizeof(out->hint));
    }
    char q[QUOTE_BUF];
    quote(f, fl, q);
    return bad(&r, "'%s' where OK or ERR belongs", q);
}

strata_err *serve_reply_parse(const char *line, size_t len, serve_reply *out)
{
    memset(out, 0, sizeof(*out));
    strata_err *e = reply_parse(line, len, out);
    if (e)
        memset(out, 0, sizeof(*out));
    return e;
}
