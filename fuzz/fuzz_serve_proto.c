/* libFuzzer target for the codec of `strata serve`'s control protocol
 * (engine/serve_proto.c), whose request decoder reads whatever any local
 * process writes to the server's socket.
 *
 * The input is one line, fed to both decoders. Beyond "no crash, no leak,
 * no out-of-bounds read", it checks their promises: a rejected request is
 * STRATA_E_INVALID and a rejected reply STRATA_E_CORRUPT, each with a
 * hint and a message free of control bytes, the struct left all zero; an
 * accepted request or reply formats back to one line that decodes to the
 * identical struct. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/serve_proto.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_serve_proto: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void check_rejection(strata_err *e, strata_code want, const void *out, size_t n)
{
    if (e->code != want)
        fail("a rejection with the wrong code", e->msg);
    if (!e->hint || !e->hint[0])
        fail("a rejection without a hint", e->msg);
    for (const char *p = e->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            fail("a control or non-ASCII byte in a message", NULL);
    if (!all_zero(out, n))
        fail("a rejection left fields set", e->msg);
    strata_err_free(e);
}

/* A formatted line: one "\n", at its end, within the limit. */
static void check_line(const char *line, size_t len)
{
    if (len < 2 || len > SERVE_LINE_MAX || strlen(line) != len || line[len - 1] != '\n' ||
        memchr(line, '\n', len - 1))
        fail("a formatted line of the wrong shape", line);
}

static void fuzz_request(const char *data, size_t size)
{
    static serve_req r, back;
    static char line[SERVE_LINE_MAX];
    strata_err *e = serve_req_parse(data, size, &r);
    if (e) {
        check_rejection(e, STRATA_E_INVALID, &r, sizeof(r));
        return;
    }
    size_t len;
    if (!serve_req_format(&r, line, sizeof(line), &len))
        fail("an accepted request does not format", NULL);
    check_line(line, len);
    e = serve_req_parse(line, len - 1, &back);
    if (e || memcmp(&r, &back, sizeof(r)) != 0)
        fail("a formatted request decodes differently", e ? e->msg : line);
}

/* Formats an accepted reply again with the server's formatters. */
static bool format_reply(const serve_reply *r, char *line, size_t n, size_t *len)
{
    switch (r->kind) {
    case SERVE_REPLY_HELLO:
        return serve_reply_hello(r->max_slots, line, n, len);
    case SERVE_REPLY_ATTACHED:
        return serve_reply_attached(r->slot, r->generation, line, n, len);
    case SERVE_REPLY_DONE:
        return serve_reply_done(line, n, len);
    case SERVE_REPLY_ERR: {
        strata_err e = {.code = r->code, .msg = (char *)r->msg, .hint = (char *)r->hint};
        return serve_reply_err(&e, line, n, len);
    }
    }
    return false;
}

static void fuzz_reply(const char *data, size_t size)
{
    static serve_reply r, back;
    static char line[SERVE_LINE_MAX];
    strata_err *e = serve_reply_parse(data, size, &r);
    if (e) {
        check_rejection(e, STRATA_E_CORRUPT, &r, sizeof(r));
        return;
    }
    if (r.kind == SERVE_REPLY_ERR && r.code == STRATA_E_OK)
        fail("an ERR reply with the code ok", NULL);
    /* The server's formatter always writes its own version. */
    if (r.kind == SERVE_REPLY_HELLO && r.version != SERVE_PROTO_VERSION)
        return;
    size_t len;
    if (!format_reply(&r, line, sizeof(line), &len))
        fail("an accepted reply does not format", NULL);
    check_line(line, len);
    e = serve_reply_parse(line, len - 1, &back);
    if (e || memcmp(&r, &back, sizeof(r)) != 0)
        fail("a formatted reply decodes differently", e ? e->msg : line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_request((const char *)data, size);
    fuzz_reply((const char *)data, size);
    return 0;
}
