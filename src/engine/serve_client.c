/* The client of `strata serve`'s control socket: connect, HELLO, ATTACH,
 * DETACH, each a line out and a line back within a time limit. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/compat.h"
#include "engine/serve.h"
#include "engine/serve_client.h"
#include "engine/serve_proto.h"

struct serve_client {
    int fd;
    char *mountpoint;
    char buf[SERVE_LINE_MAX]; /* what came after the last reply */
    size_t len;
    serve_req req;
    serve_reply reply;
};

static double serve_client_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static strata_err *serve_client_lost(const serve_client *c, const char *what)
{
    return strata_err_new(STRATA_E_IO, "check that 'strata serve' still runs ('strata ps')",
                          "the server of %s %s", c->mountpoint, what);
}

/* Sends the line in buf (len bytes) and reads one reply line into
 * c->reply. */
static strata_err *serve_client_call(serve_client *c, const char *line, size_t len)
{
    while (len) {
        ssize_t n = send(c->fd, line, len, COMPAT_MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return serve_client_lost(c, "closed the connection");
        line += n;
        len -= (size_t)n;
    }
    double until = serve_client_now() + SERVE_CLIENT_TIMEOUT;
    char *nl;
    while (!(nl = memchr(c->buf, '\n', c->len))) {
        if (c->len == sizeof(c->buf))
            return strata_err_new(STRATA_E_CORRUPT, "check that both are the same strata",
                                  "the server of %s sent a reply too long", c->mountpoint);
        double left = until - serve_client_now();
        if (left <= 0)
            return serve_client_lost(c, "did not answer in time");
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int rc = poll(&p, 1, (int)(left * 1000) + 1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            continue;
        ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return serve_client_lost(c, "closed the connection");
        c->len += (size_t)n;
    }
    size_t ll = (size_t)(nl - c->buf);
    strata_err *e = serve_reply_parse(c->buf, ll, &c->reply);
    memmove(c->buf, nl + 1, c->len - ll - 1);
    c->len -= ll + 1;
    if (e)
        return strata_err_wrap(e, "read the reply of the server of %s", c->mountpoint);
    if (c->reply.kind == SERVE_REPLY_ERR)
        return strata_err_new(c->reply.code, c->reply.hint[0] ? c->reply.hint : NULL, "%s",
                              c->reply.msg);
    return NULL;
}

static strata_err *serve_client_expect(const serve_client *c, serve_reply_kind k)
{
    if (c->reply.kind == k)
        return NULL;
    return strata_err_new(STRATA_E_CORRUPT, "check that both are the same strata",
                          "the server of %s answered out of turn", c->mountpoint);
}

static strata_err *serve_client_request(serve_client *c, serve_reply_kind k)
{
    char line[SERVE_LINE_MAX];
    size_t len = 0;
    if (!serve_req_format(&c->req, line, sizeof(line), &len))
        return strata_err_new(STRATA_E_INVALID, NULL, "a request that cannot be sent");
    strata_err *e = serve_client_call(c, line, len);
    return e ? e : serve_client_expect(c, k);
}

strata_err *serve_client_open(const char *mountpoint, serve_client **out)
{
    *out = NULL;
    char *abs = realpath(mountpoint, NULL);
    if (!abs)
        return strata_err_new(STRATA_E_NOTFOUND, "give the mountpoint of a running 'strata serve'",
                              "no strata serve at %s (%s)", mountpoint, strerror(errno));
    char sock[SERVE_SOCK_MAX];
    strata_err *e = serve_socket_path(NULL, abs, sock, sizeof(sock));
    if (e) {
        free(abs);
        return e;
    }
    serve_client *c = calloc(1, sizeof(*c));
    if (!c) {
        free(abs);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    }
    c->mountpoint = abs;
    c->fd = compat_socket(AF_UNIX, SOCK_STREAM, 0, false);
    if (c->fd < 0) {
        e = strata_err_sys(errno, NULL, "create a socket");
    } else {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
        if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
            e = strata_err_new(STRATA_E_NOTFOUND,
                               "start one with 'strata serve MOUNTPOINT', or unset STRATA_SERVER",
                               "no strata serve answers for %s (%s: %s)", abs, sock,
                               strerror(errno));
    }
    if (!e) {
        c->req = (serve_req){.kind = SERVE_REQ_HELLO, .version = SERVE_PROTO_VERSION};
        e = serve_client_request(c, SERVE_REPLY_HELLO);
    }
    if (e) {
        serve_client_close(c);
        return e;
    }
    *out = c;
    return NULL;
}

const char *serve_client_mountpoint(const serve_client *c)
{
    return c->mountpoint;
}

strata_err *serve_client_attach(serve_client *c, const char *upper, const strata_digest *layers,
                                size_t n, uint16_t *slot, uint32_t *generation)
{
    if (n == 0 || n > SERVE_MAX_LAYERS)
        return strata_err_new(STRATA_E_INVALID, "give 1 to 256 layers", "a slot of %zu layers", n);
    if (upper && strlen(upper) >= sizeof(c->req.upper))
        return strata_err_new(STRATA_E_INVALID, "set TMPDIR to a shorter directory",
                              "the upper directory's path is too long");
    c->req = (serve_req){.kind = SERVE_REQ_ATTACH, .nlayers = (uint32_t)n};
    if (upper)
        snprintf(c->req.upper, sizeof(c->req.upper), "%s", upper);
    memcpy(c->req.layers, layers, n * sizeof(*layers));
    strata_err *e = serve_client_request(c, SERVE_REPLY_ATTACHED);
    if (e)
        return e;
    *slot = (uint16_t)c->reply.slot;
    *generation = c->reply.generation;
    return NULL;
}

strata_err *serve_client_detach(serve_client *c, uint16_t slot)
{
    c->req = (serve_req){.kind = SERVE_REQ_DETACH, .slot = slot};
    return serve_client_request(c, SERVE_REPLY_DONE);
}

void serve_client_close(serve_client *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->mountpoint);
    free(c);
}
