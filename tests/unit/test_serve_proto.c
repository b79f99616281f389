/* Unit tests for the codec of `strata serve`'s control protocol
 * (engine/serve_proto.h): every request and reply round-trips through its
 * line, text fields %-encode what must be, every malformed request is
 * STRATA_E_INVALID and every malformed reply STRATA_E_CORRUPT (with a
 * hint, a bounded escaped quote, and the struct left zero), and the
 * longest lines still fit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/serve_proto.h"
#include "testutil.h"

/* Large structs and lines live here, not on the stack. */
static serve_req req, back;
static serve_reply rep;
static char line[SERVE_LINE_MAX];
static char big[SERVE_LINE_MAX * 2];

static strata_digest digest_n(unsigned n)
{
    strata_digest d;
    tu_fill_random(d.b, sizeof(d.b), n + 1);
    return d;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* Formats r, checks the line's shape, parses it back and compares. */
static void roundtrip(const serve_req *r)
{
    size_t len = 0;
    assert_true(serve_req_format(r, line, sizeof(line), &len));
    assert_int_equal(len, strlen(line));
    assert_true(len >= 2 && len <= SERVE_LINE_MAX);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));
    assert_ok(serve_req_parse(line, len - 1, &back));
    assert_memory_equal(r, &back, sizeof(*r));
}

/* Parses a request that must be refused; checks the error and the struct. */
static void reject_req(const char *l, size_t len, const char *want)
{
    strata_err *e = serve_req_parse(l, len, &req);
    if (!e) {
        print_error("accepted: '%.*s'\n", (int)(len > 80 ? 80 : len), l);
        fail();
    }
    assert_int_equal(e->code, STRATA_E_INVALID);
    assert_non_null(e->hint);
    assert_true(strlen(e->hint) > 10);
    for (const char *p = e->msg; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    assert_true(strlen(e->msg) < 400);
    if (want && !strstr(e->msg, want)) {
        print_error("'%s' does not say '%s'\n", e->msg, want);
        fail();
    }
    assert_true(all_zero(&req, sizeof(req)));
    strata_err_free(e);
}

static void reject_reqs(const char *l, const char *want)
{
    reject_req(l, strlen(l), want);
}

static void reject_reply(const char *l, size_t len, const char *want)
{
    strata_err *e = serve_reply_parse(l, len, &rep);
    if (!e) {
        print_error("accepted: '%.*s'\n", (int)(len > 80 ? 80 : len), l);
        fail();
    }
    assert_int_equal(e->code, STRATA_E_CORRUPT);
    assert_true(strlen(e->hint) > 10);
    if (want && !strstr(e->msg, want)) {
        print_error("'%s' does not say '%s'\n", e->msg, want);
        fail();
    }
    assert_true(all_zero(&rep, sizeof(rep)));
    strata_err_free(e);
}

static void reject_replies(const char *l, const char *want)
{
    reject_reply(l, strlen(l), want);
}

/* "ATTACH <upper> " followed by n copies of a valid digest. */
static size_t attach_line(char *out, size_t cap, const char *upper, unsigned n)
{
    size_t o = (size_t)snprintf(out, cap, "ATTACH %s", upper);
    char d[DIGEST_STR_LEN + 1];
    strata_digest dg = digest_n(0);
    digest_format(&dg, d);
    for (unsigned i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, " %s", d);
    return o;
}

/* ---- requests ------------------------------------------------------------- */

static void test_req_roundtrip(void **state)
{
    (void)state;
    memset(&req, 0, sizeof(req));
    req.kind = SERVE_REQ_HELLO;
    req.version = 1;
    roundtrip(&req);
    assert_string_equal(line, "HELLO 1\n");
    req.version = 999999;
    roundtrip(&req);

    memset(&req, 0, sizeof(req));
    req.kind = SERVE_REQ_DETACH;
    req.slot = 1;
    roundtrip(&req);
    assert_string_equal(line, "DETACH 1\n");
    req.slot = 65535;
    roundtrip(&req);
    assert_string_equal(line, "DETACH 65535\n");

    /* Read-only, one layer. */
    memset(&req, 0, sizeof(req));
    req.kind = SERVE_REQ_ATTACH;
    req.layers[0] = digest_n(1);
    req.nlayers = 1;
    roundtrip(&req);
    char d[DIGEST_STR_LEN + 1], want[128];
    digest_format(&req.layers[0], d);
    snprintf(want, sizeof(want), "ATTACH - %s\n", d);
    assert_string_equal(line, want);

    /* An upper and the most layers, in order. */
    snprintf(req.upper, sizeof(req.upper), "/home/u/upper");
    for (unsigned i = 0; i < SERVE_MAX_LAYERS; i++)
        req.layers[i] = digest_n(i);
    req.nlayers = SERVE_MAX_LAYERS;
    roundtrip(&req);
    assert_memory_equal(line, "ATTACH /home/u/upper sha256:", 28);
}

static void test_req_encoding(void **state)
{
    (void)state;
    memset(&req, 0, sizeof(req));
    req.kind = SERVE_REQ_ATTACH;
    req.layers[0] = digest_n(7);
    req.nlayers = 1;
    snprintf(req.upper, sizeof(req.upper), "/my dir/50%%/a\nb\tc\r\x7f\x80\xff\xc3\xa9-~");
    roundtrip(&req);
    assert_non_null(strstr(line, "ATTACH /my%20dir/50%25/a%0Ab%09c%0D%7F%80%FF%C3%A9-~ sha256:"));

    /* "-" alone is not a path, but "/-" is one. (Bytes after the NUL
     * stay zero, as a decoder leaves them, for the comparison.) */
    memset(req.upper, 0, sizeof(req.upper));
    snprintf(req.upper, sizeof(req.upper), "/-");
    roundtrip(&req);

    /* Decoding takes lower-case and needless escapes. */
    size_t n = attach_line(big, sizeof(big), "%2fa%2Fb%41", 1);
    assert_ok(serve_req_parse(big, n, &req));
    assert_string_equal(req.upper, "/a/bA");

    /* The longest path, all escaped, with the most layers: it still fits. */
    memset(&req, 0, sizeof(req));
    req.kind = SERVE_REQ_ATTACH;
    req.upper[0] = '/';
    memset(req.upper + 1, ' ', SERVE_PATH_MAX - 2);
    for (unsigned i = 0; i < SERVE_MAX_LAYERS; i++)
        req.layers[i] = digest_n(i);
    req.nlayers = SERVE_MAX_LAYERS;
    roundtrip(&req);
    assert_int_equal(strlen(line), 30723); /* as serve_proto.h says */
}

static void test_req_rejects(void **state)
{
    (void)state;
    reject_reqs("", "empty line");
    reject_reqs(" HELLO 1", "leading space");
    reject_reqs("HELLO 1 ", "trailing space");
    reject_reqs("HELLO  1", "two spaces");
    reject_reqs("HELLO 1\r", "carriage return");
    reject_reqs("HELLO\t1", "0x09");
    reject_reqs("HELLO 1\n", "newline");
    reject_req("HELLO 1\0", 8, "0x00");
    reject_reqs("HELLO 1\x80", "0x80");
    reject_reqs("hello 1", "unknown verb 'hello'");
    reject_reqs("HELO 1", "unknown verb");
    reject_reqs("OK", "unknown verb");

    reject_reqs("HELLO", "HELLO takes 1 field");
    reject_reqs("HELLO 1 2", "got 2");
    reject_reqs("HELLO 0", "version '0'");
    reject_reqs("HELLO 01", "version '01'");
    reject_reqs("HELLO 1000000", "version");
    reject_reqs("HELLO +1", "version");
    reject_reqs("HELLO -1", "version");
    reject_reqs("HELLO 99999999999999999999", "version");

    reject_reqs("DETACH", "DETACH takes 1 field");
    reject_reqs("DETACH 1 2", "DETACH takes 1 field");
    reject_reqs("DETACH 0", "slot '0'");
    reject_reqs("DETACH 65536", "slot '65536'");
    reject_reqs("DETACH 007", "slot '007'");
    reject_reqs("DETACH 4294967297", "slot");
    reject_reqs("DETACH x", "slot");

    char d[DIGEST_STR_LEN + 1];
    strata_digest dg = digest_n(3);
    digest_format(&dg, d);
    char l[512];
    reject_reqs("ATTACH", "neither");
    reject_reqs("ATTACH /a", "no digest");
    reject_reqs("ATTACH -", "no digest");
    snprintf(l, sizeof(l), "ATTACH a/b %s", d);
    reject_reqs(l, "not an absolute path");
    snprintf(l, sizeof(l), "ATTACH %%2D %s", d);
    reject_reqs(l, "not an absolute path");
    snprintf(l, sizeof(l), "ATTACH /a%%2 %s", d);
    reject_reqs(l, "two hex digits");
    snprintf(l, sizeof(l), "ATTACH /a%% %s", d);
    reject_reqs(l, "two hex digits");
    snprintf(l, sizeof(l), "ATTACH /a%%zz %s", d);
    reject_reqs(l, "two hex digits");
    snprintf(l, sizeof(l), "ATTACH /a%%00b %s", d);
    reject_reqs(l, "NUL");
    snprintf(l, sizeof(l), "ATTACH /a bad");
    reject_reqs(l, "layer 1");
    snprintf(l, sizeof(l), "ATTACH /a %s sha256:abc", d);
    reject_reqs(l, "layer 2");
    snprintf(l, sizeof(l), "ATTACH /a %s", d);
    for (char *p = l + 17; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    reject_reqs(l, "layer 1");
    snprintf(l, sizeof(l), "ATTACH /a sha512:%s", d + 7);
    reject_reqs(l, "layer 1");
    snprintf(l, sizeof(l), "ATTACH /a %s0", d);
    reject_reqs(l, "layer 1");

    /* 256 layers are fine, 257 are not. */
    size_t n = attach_line(big, sizeof(big), "-", SERVE_MAX_LAYERS);
    assert_ok(serve_req_parse(big, n, &req));
    assert_int_equal(req.nlayers, SERVE_MAX_LAYERS);
    n = attach_line(big, sizeof(big), "-", SERVE_MAX_LAYERS + 1);
    reject_req(big, n, "257 layers");

    /* A path of 4095 bytes is fine, of 4096 not. */
    static char path[SERVE_PATH_MAX + 1];
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[SERVE_PATH_MAX - 1] = '\0';
    n = attach_line(big, sizeof(big), path, 1);
    assert_ok(serve_req_parse(big, n, &req));
    assert_int_equal(strlen(req.upper), SERVE_PATH_MAX - 1);
    path[SERVE_PATH_MAX - 1] = 'p';
    path[SERVE_PATH_MAX] = '\0';
    n = attach_line(big, sizeof(big), path, 1);
    reject_req(big, n, "longer than 4095 bytes");

    /* A line of SERVE_LINE_MAX bytes with its newline is the limit. */
    memset(big, 'A', SERVE_LINE_MAX);
    reject_req(big, SERVE_LINE_MAX - 1, "unknown verb");
    reject_req(big, SERVE_LINE_MAX, "oversized");
}

static void test_req_messages(void **state)
{
    (void)state;
    /* A hostile line cannot put escape sequences into the message. */
    const char *evil = "\x1b[31mEVIL 1";
    strata_err *e = serve_req_parse(evil, strlen(evil), &req);
    assert_non_null(e);
    assert_null(strchr(e->msg, '\x1b'));
    assert_non_null(strstr(e->msg, "\\x1b[31mEVIL"));
    strata_err_free(e);

    /* Only a bounded piece of a long field is quoted. */
    memset(big, 'Z', 5000);
    e = serve_req_parse(big, 5000, &req);
    assert_non_null(e);
    assert_true(strlen(e->msg) < 250);
    assert_non_null(strstr(e->msg, "ZZZ..."));
    assert_non_null(strstr(e->hint, "HELLO <version>"));
    strata_err_free(e);

    /* The hint names the accepted form of the verb at fault. */
    e = serve_req_parse("DETACH 0", 8, &req);
    assert_non_null(strstr(e->hint, "DETACH <slot>"));
    strata_err_free(e);
    e = serve_req_parse("ATTACH x", 8, &req);
    assert_non_null(strstr(e->hint, "ATTACH <upper>"));
    strata_err_free(e);
}

static void test_req_format_refuses(void **state)
{
    (void)state;
    size_t len = 99;
    memset(&req, 0, sizeof(req));
    req.kind = SERVE_REQ_HELLO;
    assert_false(serve_req_format(&req, line, sizeof(line), &len));
    assert_int_equal(len, 0);
    assert_string_equal(line, "");
    req.version = SERVE_VERSION_MAX + 1;
    assert_false(serve_req_format(&req, line, sizeof(line), &len));

    req.kind = SERVE_REQ_DETACH;
    req.slot = 0;
    assert_false(serve_req_format(&req, line, sizeof(line), &len));
    req.slot = 65536;
    assert_false(serve_req_format(&req, line, sizeof(line), &len));

    memset(&req, 0, sizeof(req));
    req.kind = SERVE_REQ_ATTACH;
    assert_false(serve_req_format(&req, line, sizeof(line), &len)); /* no layer */
    req.nlayers = SERVE_MAX_LAYERS + 1;
    assert_false(serve_req_format(&req, line, sizeof(line), &len));
    req.nlayers = 1;
    assert_true(serve_req_format(&req, line, sizeof(line), &len));
    snprintf(req.upper, sizeof(req.upper), "rel/ative");
    assert_false(serve_req_format(&req, line, sizeof(line), &len));
    memset(req.upper, '/', sizeof(req.upper)); /* no NUL */
    assert_false(serve_req_format(&req, line, sizeof(line), &len));

    req.kind = (serve_req_kind)42;
    assert_false(serve_req_format(&req, line, sizeof(line), &len));

    /* Too small a buffer: the line and its NUL must fit. */
    memset(&req, 0, sizeof(req));
    req.kind = SERVE_REQ_HELLO;
    req.version = 1;
    assert_false(serve_req_format(&req, line, 8, &len)); /* "HELLO 1\n" */
    assert_string_equal(line, "");
    assert_true(serve_req_format(&req, line, 9, NULL));
    assert_string_equal(line, "HELLO 1\n");
    assert_false(serve_req_format(&req, line, 0, &len));
}

/* ---- replies -------------------------------------------------------------- */

/* Parses line (which must end in "\n") as a reply into rep. */
static void parse_reply(size_t len)
{
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));
    assert_ok(serve_reply_parse(line, len - 1, &rep));
}

static void test_reply_roundtrip(void **state)
{
    (void)state;
    size_t len;
    assert_true(serve_reply_hello(64, line, sizeof(line), &len));
    assert_string_equal(line, "OK strata-serve 1 64\n");
    parse_reply(len);
    assert_int_equal(rep.kind, SERVE_REPLY_HELLO);
    assert_int_equal(rep.version, SERVE_PROTO_VERSION);
    assert_int_equal(rep.max_slots, 64);

    assert_true(serve_reply_attached(65535, UINT32_MAX, line, sizeof(line), &len));
    assert_string_equal(line, "OK 65535 4294967295\n");
    parse_reply(len);
    assert_int_equal(rep.kind, SERVE_REPLY_ATTACHED);
    assert_int_equal(rep.slot, 65535);
    assert_int_equal(rep.generation, UINT32_MAX);

    assert_true(serve_reply_done(line, sizeof(line), &len));
    assert_string_equal(line, "OK\n");
    parse_reply(len);
    assert_int_equal(rep.kind, SERVE_REPLY_DONE);

    strata_err *e = strata_err_new(STRATA_E_NOTFOUND, "pick one of: 1, 2", "slot 3 shows nothing");
    assert_true(serve_reply_err(e, line, sizeof(line), &len));
    assert_string_equal(line,
                        "ERR not-found slot%203%20shows%20nothing pick%20one%20of:%201,%202\n");
    parse_reply(len);
    assert_int_equal(rep.kind, SERVE_REPLY_ERR);
    assert_int_equal(rep.code, STRATA_E_NOTFOUND);
    assert_string_equal(rep.msg, e->msg);
    assert_string_equal(rep.hint, e->hint);
    strata_err_free(e);

    /* Every code a reply may carry round-trips by name. */
    for (int c = STRATA_E_IO; c <= STRATA_E_INTERNAL; c++) {
        strata_err er = {.code = (strata_code)c, .msg = "m%\n\xff", .hint = "-"};
        assert_true(serve_reply_err(&er, line, sizeof(line), &len));
        parse_reply(len);
        assert_int_equal(rep.code, c);
        assert_string_equal(rep.msg, "m%\n\xff");
        assert_string_equal(rep.hint, "-");
    }

    /* Empty texts are "-"; a text that is "-" is %2D. */
    strata_err er = {.code = STRATA_E_BUSY, .msg = "-", .hint = ""};
    assert_true(serve_reply_err(&er, line, sizeof(line), &len));
    assert_string_equal(line, "ERR busy %2D -\n");
    parse_reply(len);
    assert_string_equal(rep.msg, "-");
    assert_string_equal(rep.hint, "");

    /* OK as a code, or a code out of range, goes as internal. */
    er.code = STRATA_E_OK;
    assert_true(serve_reply_err(&er, line, sizeof(line), &len));
    assert_memory_equal(line, "ERR internal ", 13);
    er.code = (strata_code)99;
    assert_true(serve_reply_err(&er, line, sizeof(line), &len));
    assert_memory_equal(line, "ERR internal ", 13);

    /* Out of range numbers are refused by the formatters. */
    assert_false(serve_reply_hello(0, line, sizeof(line), &len));
    assert_false(serve_reply_hello(65536, line, sizeof(line), &len));
    assert_false(serve_reply_attached(0, 1, line, sizeof(line), &len));
    assert_false(serve_reply_attached(1, 0, line, sizeof(line), &len));
    assert_false(serve_reply_attached(65536, 1, line, sizeof(line), &len));
    assert_false(serve_reply_done(line, 3, &len));
    assert_true(serve_reply_done(line, 4, &len));
}

static void test_reply_rejects(void **state)
{
    (void)state;
    reject_replies("", "empty line");
    reject_replies("OK ", "trailing space");
    reject_replies("OK\r", "carriage return");
    reject_replies("ok", "where OK or ERR");
    reject_replies("YES", "where OK or ERR");
    reject_replies("OK 1", "OK with 1 fields");
    reject_replies("OK 1 2 3 4", "OK with 4 fields");
    reject_replies("OK 0 1", "slot '0'");
    reject_replies("OK 65536 1", "slot");
    reject_replies("OK 01 1", "slot");
    reject_replies("OK 1 0", "generation '0'");
    reject_replies("OK 1 4294967296", "generation");
    reject_replies("OK strata 1 2", "strata-serve");
    reject_replies("OK strata-serve 0 2", "version");
    reject_replies("OK strata-serve 1000000 2", "version");
    reject_replies("OK strata-serve 1 0", "slot count");
    reject_replies("OK strata-serve 1 65536", "slot count");
    reject_replies("ERR", "ERR with 0 fields");
    reject_replies("ERR busy m", "ERR with 2 fields");
    reject_replies("ERR busy m h x", "ERR with 4 fields");
    reject_replies("ERR ok m h", "unknown error code 'ok'");
    reject_replies("ERR BUSY m h", "unknown error code");
    reject_replies("ERR nope m h", "unknown error code");
    reject_replies("ERR busy m%0 h", "message");
    reject_replies("ERR busy m %00", "NUL");
    reject_replies("ERR busy m h%G0", "two hex digits");
    reject_replies("ERR busy m\x01 h", "0x01");

    /* A message longer than a reply may carry. */
    size_t n = (size_t)snprintf(big, sizeof(big), "ERR io ");
    memset(big + n, 'm', SERVE_TEXT_MAX);
    n += SERVE_TEXT_MAX;
    n += (size_t)snprintf(big + n, sizeof(big) - n, " -");
    reject_reply(big, n, "longer than 4095 bytes");
    memset(big, 'O', SERVE_LINE_MAX);
    reject_reply(big, SERVE_LINE_MAX, "oversized");
}

static void test_reply_err_cuts(void **state)
{
    (void)state;
    /* "a" and 50000 two-byte characters, whose bytes encode to three
     * each: the cut backs off to a character's start, still one line. */
    static char msg[100002];
    msg[0] = 'a';
    for (size_t i = 1; i < 100001; i += 2)
        memcpy(msg + i, "\xc3\xa9", 2);
    msg[100001] = '\0';
    strata_err e = {.code = STRATA_E_INVALID, .msg = msg, .hint = msg};
    size_t len;
    assert_true(serve_reply_err(&e, line, sizeof(line), &len));
    assert_true(len <= SERVE_LINE_MAX);
    assert_ok(serve_reply_parse(line, len - 1, &rep));
    assert_int_equal(rep.kind, SERVE_REPLY_ERR);
    assert_int_equal(rep.code, STRATA_E_INVALID);
    size_t ml = strlen(rep.msg);
    assert_int_equal(ml, SERVE_TEXT_MAX - 2); /* 4091 bytes kept, then "..." */
    assert_string_equal(rep.msg + ml - 3, "...");
    assert_memory_equal(rep.msg, msg, ml - 3);
    /* The byte after the kept ones starts a character. */
    assert_int_not_equal((unsigned char)msg[ml - 3] & 0xc0, 0x80);
    assert_string_equal(rep.msg, rep.hint);

    /* The worst case: both texts at the limit, every byte escaped. */
    memset(msg, '\x01', SERVE_TEXT_MAX - 1);
    msg[SERVE_TEXT_MAX - 1] = '\0';
    e.code = STRATA_E_UNSUPPORTED;
    assert_true(serve_reply_err(&e, line, sizeof(line), &len));
    assert_int_equal(len, 4 + 11 + 1 + 3 * (SERVE_TEXT_MAX - 1) * 2 + 1 + 1);
    assert_ok(serve_reply_parse(line, len - 1, &rep));
    assert_string_equal(rep.msg, msg);
    assert_string_equal(rep.hint, msg);

    /* NULL texts are empty ones. */
    e.msg = NULL;
    e.hint = NULL;
    assert_true(serve_reply_err(&e, line, sizeof(line), &len));
    assert_string_equal(line, "ERR unsupported - -\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_roundtrip),      cmocka_unit_test(test_req_encoding),
        cmocka_unit_test(test_req_rejects),        cmocka_unit_test(test_req_messages),
        cmocka_unit_test(test_req_format_refuses), cmocka_unit_test(test_reply_roundtrip),
        cmocka_unit_test(test_reply_rejects),      cmocka_unit_test(test_reply_err_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
