/* The NFS server's network side (transport/nfs/server.c) over real
 * loopback sockets, with a test handler: replies leave as they are ready
 * (a slow call does not hold up the next one on the same connection), a
 * record over the limit closes that connection and no other, a peer that
 * has sent everything still gets its replies, idle connections close,
 * the connection limit and the privileged-port rule refuse, and 1,000
 * connections opened and dropped leave nothing behind. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "transport/nfs/rpc.h"
#include "transport/nfs/server.h"

#define PROC_ECHO  0
#define PROC_SLOW  1
#define PROC_CLOSE 2
#define PROC_BIG   3
#define PROC_TRY   4 /* answered by test_try on the loop thread */

/* PROC_BIG's reply: the xid, then BIG_LEN bytes, byte i being xid + i
 * (mod 256): larger than a socket's buffer, like a READ's. */
#define BIG_LEN ((1u << 20) + 3)

/* Answers every call with its xid; PROC_SLOW after 300 ms; PROC_CLOSE
 * asks for the connection to close. */
static bool test_handler(void *ctx, const nfs_peer *peer, const uint8_t *rec, size_t len,
                         xdr_enc *reply)
{
    (void)ctx;
    (void)peer;
    rpc_call call;
    uint32_t auth;
    if (rpc_call_decode(rec, len, &call, &auth) != RPC_CALL_OK)
        return true;
    if (call.proc == PROC_CLOSE)
        return false;
    if (call.proc == PROC_SLOW)
        nanosleep(&(struct timespec){.tv_nsec = 300 * 1000 * 1000}, NULL);
    if (call.proc == PROC_TRY) { /* only test_try answers it */
        rpc_reply_accepted(reply, call.xid, RPC_ACC_PROC_UNAVAIL);
        return true;
    }
    rpc_reply_accepted(reply, call.xid, RPC_ACC_SUCCESS);
    xdr_put_u32(reply, call.xid);
    if (call.proc == PROC_BIG) {
        uint8_t *p = xdr_put_space(reply, BIG_LEN);
        for (size_t i = 0; p && i < BIG_LEN; i++)
            p[i] = (uint8_t)(call.xid + i);
    }
    return true;
}

/* The loop thread's try: PROC_TRY is answered there (a worker would say
 * PROC_UNAVAIL), every other call would wait and goes to a worker. */
static bool test_try(void *ctx, const nfs_peer *peer, const uint8_t *rec, size_t len,
                     xdr_enc *reply, bool *answered)
{
    (void)ctx;
    (void)peer;
    rpc_call call;
    uint32_t auth;
    *answered = rpc_call_decode(rec, len, &call, &auth) == RPC_CALL_OK && call.proc == PROC_TRY;
    if (*answered) {
        rpc_reply_accepted(reply, call.xid, RPC_ACC_SUCCESS);
        xdr_put_u32(reply, call.xid);
    }
    return true;
}

/* Echo calls are quick: answered on the loop thread. */
static bool test_quick(void *ctx, const uint8_t *rec, size_t len)
{
    (void)ctx;
    rpc_call call;
    uint32_t auth;
    return rpc_call_decode(rec, len, &call, &auth) == RPC_CALL_OK && call.proc == PROC_ECHO;
}

static nfs_server *start(const nfs_server_opts *extra)
{
    nfs_server_opts o = {.handler = test_handler, .workers = 4, .max_record = 4096};
    if (extra) {
        o.quick = extra->quick;
        o.max_conns = extra->max_conns;
        o.idle_timeout = extra->idle_timeout;
        o.secure = extra->secure;
        o.max_reply = extra->max_reply;
        o.try_now = extra->try_now;
    }
    nfs_server *s;
    assert_ok(nfs_server_start(&o, &s));
    assert_true(nfs_server_port(s) > 0);
    return s;
}

static int dial(nfs_server *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(nfs_server_port(s))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

static void send_call(int fd, uint32_t xid, uint32_t proc)
{
    xdr_enc e;
    xdr_enc_init(&e, 1024);
    size_t at = rpc_mark_begin(&e);
    rpc_call c = {.xid = xid, .prog = 100003, .vers = 3, .proc = proc};
    rpc_call_encode(&e, &c);
    assert_true(rpc_mark_end(&e, at));
    send_all(fd, e.buf, e.len);
    xdr_enc_free(&e);
}

/* Reads one reply record (one fragment, as the server sends them) within
 * 5 s; returns its xid, or -1 at the end of the stream. */
/* Reads one record (mark included) into buf of cap bytes, each piece
 * within 5 s; its length, or 0 at the end of the stream. */
static size_t read_record(int fd, uint8_t *buf, size_t cap)
{
    size_t got = 0, want = 4;
    bool hdr = true;
    while (got < want) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t n = recv(fd, buf + got, want - got, 0);
        if (n == 0 && got == 0 && hdr)
            return 0;
        assert_true(n > 0);
        got += (size_t)n;
        if (hdr && got == 4) {
            uint32_t mark = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | buf[2] << 8 | buf[3];
            assert_true(mark & RPC_REC_LAST);
            want = 4 + (mark & ~RPC_REC_LAST);
            assert_true(want <= cap);
            hdr = false;
        }
    }
    return got;
}

static int64_t read_reply(int fd)
{
    uint8_t buf[4096];
    size_t got = read_record(fd, buf, sizeof(buf));
    if (got == 0)
        return -1;
    rpc_reply r;
    assert_true(rpc_reply_decode(buf + 4, got - 4, &r));
    assert_int_equal(r.accept_stat, RPC_ACC_SUCCESS);
    xdr_dec d;
    xdr_dec_init(&d, r.results, r.results_len);
    assert_int_equal(xdr_u32(&d), r.xid);
    return r.xid;
}

/* The end of the stream within 5 s (the server closed it). */
static bool closed_by_server(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1)
        return false;
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_out_of_order(void **state)
{
    (void)state;
    nfs_server *s = start(NULL);
    int fd = dial(s);
    send_call(fd, 1, PROC_SLOW);
    send_call(fd, 2, PROC_ECHO);
    send_call(fd, 3, PROC_ECHO);
    /* The slow call's reply comes last. */
    int64_t first = read_reply(fd), second = read_reply(fd);
    assert_true((first == 2 && second == 3) || (first == 3 && second == 2));
    assert_int_equal(read_reply(fd), 1);
    close(fd);
    nfs_server_stop(s);
}

/* Quick calls answered on the loop thread pass a slow one on a worker,
 * on the same connection, and the connection goes on as before. */
static void test_quick_inline(void **state)
{
    (void)state;
    nfs_server_opts o = {.quick = test_quick};
    nfs_server *s = start(&o);
    int fd = dial(s);
    send_call(fd, 1, PROC_SLOW);
    for (uint32_t x = 2; x < 12; x++)
        send_call(fd, x, PROC_ECHO);
    for (uint32_t x = 2; x < 12; x++) {
        int64_t got = read_reply(fd);
        assert_true(got >= 2 && got < 12);
    }
    assert_int_equal(read_reply(fd), 1);
    send_call(fd, 99, PROC_CLOSE); /* on a worker: still closes */
    assert_true(closed_by_server(fd));
    close(fd);
    nfs_server_stats st;
    nfs_server_get_stats(s, &st);
    assert_true(st.records == 12);
    nfs_server_stop(s);
}

static void test_too_big_closes_one(void **state)
{
    (void)state;
    nfs_server *s = start(NULL);
    int good = dial(s), bad = dial(s);
    /* A record mark of 2^31 - 1 bytes: refused at once, nothing read. */
    static const uint8_t mark[] = {0x7f, 0xff, 0xff, 0xff};
    send_all(bad, mark, sizeof(mark));
    assert_true(closed_by_server(bad));
    close(bad);
    /* A last fragment one byte over the limit. */
    bad = dial(s);
    uint8_t over[4 + 4097] = {0x80, 0x00, 0x10, 0x01};
    send_all(bad, over, sizeof(over));
    assert_true(closed_by_server(bad));
    close(bad);
    /* A truncated record, then the end: nothing to answer, closed. */
    bad = dial(s);
    static const uint8_t part[] = {0x80, 0x00, 0x00, 0x28, 0, 0, 0, 1};
    send_all(bad, part, sizeof(part));
    shutdown(bad, SHUT_WR);
    assert_true(closed_by_server(bad));
    close(bad);
    /* The other connection never noticed. */
    send_call(good, 7, PROC_ECHO);
    assert_int_equal(read_reply(good), 7);
    close(good);
    nfs_server_stats st;
    nfs_server_get_stats(s, &st);
    assert_true(st.closed_bad >= 2);
    nfs_server_stop(s);
}

/* A peer that sends its calls and shuts its side still gets every reply,
 * then the server closes. */
static void test_eof_after_calls(void **state)
{
    (void)state;
    nfs_server *s = start(NULL);
    int fd = dial(s);
    for (uint32_t x = 10; x < 20; x++)
        send_call(fd, x, x == 10 ? PROC_SLOW : PROC_ECHO);
    shutdown(fd, SHUT_WR);
    bool seen[10] = {false};
    for (int i = 0; i < 10; i++) {
        int64_t x = read_reply(fd);
        assert_true(x >= 10 && x < 20);
        assert_false(seen[x - 10]);
        seen[x - 10] = true;
    }
    assert_true(closed_by_server(fd));
    close(fd);
    nfs_server_stop(s);
}

static void test_handler_closes(void **state)
{
    (void)state;
    nfs_server *s = start(NULL);
    int fd = dial(s);
    send_call(fd, 1, PROC_CLOSE);
    assert_true(closed_by_server(fd));
    close(fd);
    nfs_server_stop(s);
}

static void test_limits(void **state)
{
    (void)state;
    nfs_server_opts o = {.max_conns = 2, .idle_timeout = 1.0};
    nfs_server *s = start(&o);
    int a = dial(s), b = dial(s);
    send_call(a, 1, PROC_ECHO);
    assert_int_equal(read_reply(a), 1);
    send_call(b, 2, PROC_ECHO);
    assert_int_equal(read_reply(b), 2);
    /* A third is closed at once. */
    int c = dial(s);
    assert_true(closed_by_server(c));
    close(c);
    /* Idle ones close after the timeout (within the poll's 5 s). */
    assert_true(closed_by_server(a));
    assert_true(closed_by_server(b));
    close(a);
    close(b);
    nfs_server_stats st;
    nfs_server_get_stats(s, &st);
    assert_true(st.refused >= 1);
    assert_true(st.closed_idle >= 2);
    nfs_server_stop(s);

    /* secure: a connection from an unprivileged port is refused (this
     * test's sockets get ephemeral ports, all >= 1024). */
    nfs_server_opts sec = {.secure = true};
    s = start(&sec);
    c = dial(s);
    assert_true(closed_by_server(c));
    close(c);
    nfs_server_stop(s);
}

static void test_many_connections(void **state)
{
    (void)state;
    nfs_server_opts o = {.max_conns = 2000};
    nfs_server *s = start(&o);
    for (int i = 0; i < 1000; i++) {
        int fd = dial(s);
        if (i % 3 == 0)
            send_call(fd, (uint32_t)i, PROC_ECHO);
        if (i % 7 == 0) /* half a record, then gone */
            send_all(fd, "\x80\x00\x01\x00\x00", 5);
        close(fd);
    }
    /* Still serving, and the dropped ones go away. */
    int fd = dial(s);
    send_call(fd, 4242, PROC_ECHO);
    assert_int_equal(read_reply(fd), 4242);
    close(fd);
    nfs_server_stats st;
    for (int i = 0; i < 500; i++) {
        nfs_server_get_stats(s, &st);
        if (st.conns == 0)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    assert_int_equal(st.conns, 0);
    assert_true(st.accepted >= 1001);
    nfs_server_stop(s);
}

/* With a try on the loop thread: a call it answers comes back; calls it
 * does not (it would wait) go to the workers, and a slow one still holds
 * up nothing behind it on the same connection. */
static void test_try_now(void **state)
{
    (void)state;
    nfs_server_opts extra = {.try_now = test_try};
    nfs_server *s = start(&extra);
    int fd = dial(s);
    /* Alone, with no job anywhere: tried, and answered on the loop. */
    send_call(fd, 1, PROC_TRY);
    assert_int_equal(read_reply(fd), 1);
    send_call(fd, 2, PROC_SLOW);
    send_call(fd, 3, PROC_ECHO);
    send_call(fd, 4, PROC_ECHO);
    int64_t a = read_reply(fd), b = read_reply(fd);
    assert_true((a == 3 && b == 4) || (a == 4 && b == 3));
    assert_int_equal(read_reply(fd), 2);
    nfs_server_stats st;
    nfs_server_get_stats(s, &st);
    assert_int_equal(st.records, 4);
    close(fd);
    nfs_server_stop(s);
}

/* Reads one PROC_BIG reply and checks every byte; its xid. */
static uint32_t read_big_reply(int fd)
{
    size_t cap = 64 + BIG_LEN + 4;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t got = read_record(fd, buf, cap);
    assert_true(got > 0);
    rpc_reply r;
    assert_true(rpc_reply_decode(buf + 4, got - 4, &r));
    assert_int_equal(r.results_len, 4 + BIG_LEN + xdr_pad(BIG_LEN));
    xdr_dec d;
    xdr_dec_init(&d, r.results, 4);
    assert_int_equal(xdr_u32(&d), r.xid);
    for (size_t i = 0; i < BIG_LEN; i++)
        if (r.results[4 + i] != (uint8_t)(r.xid + i))
            fail_msg("reply %u: byte %zu is %u", r.xid, i, r.results[4 + i]);
    uint32_t xid = r.xid;
    free(buf);
    return xid;
}

/* Replies larger than the socket's buffers (a READ's) come whole and
 * framed, whether the peer reads at once or only after a while (the
 * server meets a full socket, queues the rest and the loop sends it),
 * with several in a row and an echo after them. */
static void test_big_replies(void **state)
{
    (void)state;
    nfs_server_opts extra = {.max_reply = 2u << 20};
    nfs_server *s = start(&extra);
    for (int stall = 0; stall < 2; stall++) {
        int fd = dial(s);
        int small = 64 * 1024;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
        /* More than the socket buffers hold on both sides (up to 4 MiB
         * a side here): the server meets a full socket. */
        for (uint32_t x = 1; x <= 8; x++)
            send_call(fd, x, PROC_BIG);
        if (stall) /* the peer reads nothing for a while */
            nanosleep(&(struct timespec){.tv_nsec = 400 * 1000 * 1000}, NULL);
        bool seen[9] = {false};
        for (int i = 0; i < 8; i++) {
            uint32_t xid = read_big_reply(fd);
            assert_true(xid >= 1 && xid <= 8 && !seen[xid]);
            seen[xid] = true;
        }
        send_call(fd, 9, PROC_ECHO);
        assert_int_equal(read_reply(fd), 9);
        close(fd);
    }
    nfs_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_quick_inline),
        cmocka_unit_test(test_too_big_closes_one),
        cmocka_unit_test(test_eof_after_calls),
        cmocka_unit_test(test_handler_closes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_many_connections),
        cmocka_unit_test(test_big_replies),
        cmocka_unit_test(test_try_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
