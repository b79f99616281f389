/* The control socket of `strata serve` and its slots (see serve.h): the
 * listener, one thread per connection, and the table saying which
 * connection owns which slot. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/compat.h"
#include "base/digest.h"
#include "engine/registry.h"
#include "engine/serve.h"
#include "engine/serve_proto.h"

typedef enum {
    SLOT_FREE,
    SLOT_BUSY,     /* being attached or detached by its owner */
    SLOT_ATTACHED, /* shows its owner's view */
} serve_slot_state;

typedef struct serve_conn serve_conn;

struct serve_conn {
    serve *srv;
    int fd;
    serve_conn *next;
    bool hello; /* the client has said which version it speaks */
};

struct serve {
    vfs *v;
    fusefs *f;
    char *mountpoint;
    char sock[SERVE_SOCK_MAX];
    int lfd;
    int wake[2]; /* the listener's wakeup, written by serve_stop */
    pthread_t listener;
    bool listening;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* a connection ended */
    serve_conn *conns;
    uint32_t nconns, max_conns;
    uint32_t nslots;          /* slots 1..nslots-1 (0 is the directory of slots) */
    serve_slot_state *state;  /* per slot */
    const serve_conn **owner; /* per slot; NULL when free */
    uint32_t cursor;          /* where the next search for a free slot starts */
    uint32_t attached;
};

strata_err *serve_socket_path(const char *registry_root, const char *mountpoint, char *out,
                              size_t n)
{
    char root[REGISTRY_PATH_MAX];
    if (!registry_root) {
        registry_default_root(root);
        registry_root = root;
    }
    strata_digest d;
    digest_buf(mountpoint, strlen(mountpoint), &d);
    char hex[DIGEST_HEX_LEN + 1];
    digest_to_hex(&d, hex);
    int len = snprintf(out, n, "%s/serve-%.16s.sock", registry_root, hex);
    if (len < 0 || (size_t)len >= n || (size_t)len >= SERVE_SOCK_MAX)
        return strata_err_new(STRATA_E_INVALID,
                              "set XDG_RUNTIME_DIR to a shorter directory (a socket's path has "
                              "at most 107 bytes)",
                              "the control socket's path under %s is too long", registry_root);
    return NULL;
}

/* ---- I/O --------------------------------------------------------------- */

static bool serve_send(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, COMPAT_MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Sends e as an ERR reply and frees it. */
static bool serve_send_err(int fd, strata_err *e)
{
    char line[SERVE_LINE_MAX];
    size_t len = 0;
    bool ok = serve_reply_err(e, line, sizeof(line), &len) && serve_send(fd, line, len);
    strata_err_free(e);
    return ok;
}

/* Whether the peer may talk to this server: its owner, or root. */
static bool serve_peer_ok(int fd)
{
    uid_t uid;
#ifdef SO_PEERCRED
    struct ucred cr;
    socklen_t len = sizeof(cr);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
        return false;
    uid = cr.uid;
#else
    gid_t gid;
    if (getpeereid(fd, &uid, &gid) < 0)
        return false;
#endif
    return uid == 0 || uid == geteuid();
}

/* ---- slots ------------------------------------------------------------- */

/* Takes a free slot for c, searching from the cursor on: a slot freed
 * just now is the last to come back. */
static strata_err *serve_take_slot(serve *s, const serve_conn *c, uint16_t *slot)
{
    pthread_mutex_lock(&s->mu);
    uint32_t n = s->nslots - 1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = 1 + (s->cursor + i) % n;
        if (s->state[k] == SLOT_FREE) {
            s->state[k] = SLOT_BUSY;
            s->owner[k] = c;
            s->cursor = k % n;
            pthread_mutex_unlock(&s->mu);
            *slot = (uint16_t)k;
            return NULL;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return strata_err_new(STRATA_E_BUSY, "wait for runs to end, or restart serve with more --slots",
                          "all %u slots are in use", n);
}

static void serve_set_slot(serve *s, uint16_t slot, serve_slot_state st, const serve_conn *c)
{
    pthread_mutex_lock(&s->mu);
    if (s->state[slot] == SLOT_ATTACHED)
        s->attached--;
    if (st == SLOT_ATTACHED)
        s->attached++;
    s->state[slot] = st;
    s->owner[slot] = c;
    pthread_mutex_unlock(&s->mu);
}

/* Whether path is mountpoint or lies below it. */
static bool serve_inside(const char *path, const char *mountpoint)
{
    size_t n = strlen(mountpoint);
    return strncmp(path, mountpoint, n) == 0 &&
           (path[n] == '\0' || path[n] == '/' || (n == 1 && mountpoint[0] == '/'));
}

static strata_err *serve_attach(serve *s, const serve_conn *c, const serve_req *r, uint16_t *slot,
                                uint32_t *gen)
{
    if (r->upper[0] && serve_inside(r->upper, s->mountpoint))
        return strata_err_new(STRATA_E_INVALID, "put the upper directory outside the mount",
                              "the upper %s lies inside the mount %s", r->upper, s->mountpoint);
    strata_err *e = serve_take_slot(s, c, slot);
    if (e)
        return e;
    vfs_view_spec spec = {
        .layers = r->layers,
        .nlayers = r->nlayers,
        .upper = r->upper[0] ? r->upper : NULL,
        .uid = (uint32_t)geteuid(),
        .gid = (uint32_t)getegid(),
    };
    e = vfs_slot_attach(s->v, *slot, &spec);
    if (e) {
        serve_set_slot(s, *slot, SLOT_FREE, NULL);
        return e;
    }
    /* Requests may reach the slot from here on; the reply comes after, so
     * the client never meets a slot that is not ready. */
    fusefs_slot_open(s->f, *slot);
    *gen = vfs_slot_generation(s->v, *slot);
    serve_set_slot(s, *slot, SLOT_ATTACHED, c);
    return NULL;
}

/* Stops the slot's traffic, then takes its view away. */
static strata_err *serve_detach_slot(serve *s, uint16_t slot)
{
    fusefs_slot_close(s->f, slot);
    strata_err *e = vfs_slot_detach(s->v, slot);
    serve_set_slot(s, slot, SLOT_FREE, NULL);
    return e;
}

static strata_err *serve_detach(serve *s, const serve_conn *c, uint32_t slot)
{
    pthread_mutex_lock(&s->mu);
    serve_slot_state st = slot < s->nslots ? s->state[slot] : SLOT_FREE;
    const serve_conn *owner = slot < s->nslots ? s->owner[slot] : NULL;
    if (st == SLOT_ATTACHED && owner == c)
        s->state[slot] = SLOT_BUSY;
    pthread_mutex_unlock(&s->mu);
    if (st != SLOT_ATTACHED)
        return strata_err_new(STRATA_E_NOTFOUND, "detach a slot this connection attached",
                              "slot %u shows nothing", slot);
    if (owner != c)
        return strata_err_new(STRATA_E_INVALID, "detach a slot this connection attached",
                              "slot %u belongs to another client", slot);
    return serve_detach_slot(s, (uint16_t)slot);
}

/* Detaches what a closing connection still holds. */
static void serve_release_all(serve *s, const serve_conn *c)
{
    for (uint32_t k = 1; k < s->nslots; k++) {
        pthread_mutex_lock(&s->mu);
        bool mine = s->owner[k] == c && s->state[k] == SLOT_ATTACHED;
        if (mine)
            s->state[k] = SLOT_BUSY;
        pthread_mutex_unlock(&s->mu);
        if (mine)
            strata_err_free(serve_detach_slot(s, (uint16_t)k));
    }
}

/* ---- requests ---------------------------------------------------------- */

/* Answers one request line; false when the connection must end. */
static bool serve_handle(serve_conn *c, const char *line, size_t len, serve_req *req, char *out)
{
    serve *s = c->srv;
    size_t olen = 0;
    strata_err *e = serve_req_parse(line, len, req);
    if (!e && !c->hello && req->kind != SERVE_REQ_HELLO)
        e = strata_err_new(STRATA_E_INVALID, "send 'HELLO 1' first",
                           "a connection starts with HELLO");
    if (!e && req->kind == SERVE_REQ_HELLO && req->version != SERVE_PROTO_VERSION)
        e = strata_err_new(STRATA_E_UNSUPPORTED, "use a strata of the same version as the server",
                           "this server speaks protocol version %d, not %u", SERVE_PROTO_VERSION,
                           req->version);
    if (e)
        return serve_send_err(c->fd, e);
    bool ok = false;
    switch (req->kind) {
    case SERVE_REQ_HELLO:
        c->hello = true;
        ok = serve_reply_hello(s->nslots - 1, out, SERVE_LINE_MAX, &olen);
        break;
    case SERVE_REQ_ATTACH: {
        uint16_t slot = 0;
        uint32_t gen = 0;
        e = serve_attach(s, c, req, &slot, &gen);
        if (e)
            return serve_send_err(c->fd, e);
        ok = serve_reply_attached(slot, gen, out, SERVE_LINE_MAX, &olen);
        break;
    }
    case SERVE_REQ_DETACH:
        e = serve_detach(s, c, req->slot);
        if (e)
            return serve_send_err(c->fd, e);
        ok = serve_reply_done(out, SERVE_LINE_MAX, &olen);
        break;
    }
    return ok && serve_send(c->fd, out, olen);
}

/* Reads lines and answers them until the peer goes, breaks the protocol's
 * framing, or serve_stop shuts the socket. */
static void serve_conn_loop(serve_conn *c)
{
    char *buf = malloc(SERVE_LINE_MAX);
    char *out = malloc(SERVE_LINE_MAX);
    serve_req *req = malloc(sizeof(*req));
    size_t len = 0;
    if (!buf || !out || !req) {
        serve_send_err(
            c->fd, strata_err_new(STRATA_E_NOMEM, "retry later", "the server is out of memory"));
        goto done;
    }
    if (!serve_peer_ok(c->fd)) {
        serve_send_err(c->fd,
                       strata_err_new(STRATA_E_INVALID, "talk to a server you started yourself",
                                      "this server serves its owner only"));
        goto done;
    }
    for (;;) {
        ssize_t n = read(c->fd, buf + len, SERVE_LINE_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        size_t start = 0;
        char *nl;
        bool go_on = true;
        while (go_on && (nl = memchr(buf + start, '\n', len - start))) {
            go_on = serve_handle(c, buf + start, (size_t)(nl - (buf + start)), req, out);
            start = (size_t)(nl - buf) + 1;
        }
        if (!go_on)
            break;
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len == SERVE_LINE_MAX) {
            /* No way to find where the next request starts: this
             * connection ends, and no other notices. */
            serve_send_err(c->fd, strata_err_new(STRATA_E_INVALID,
                                                 "send one request per line, as serve_proto.h "
                                                 "says",
                                                 "a request longer than %d bytes", SERVE_LINE_MAX));
            break;
        }
    }
done:
    free(buf);
    free(out);
    free(req);
}

static void *serve_conn_main(void *arg)
{
    serve_conn *c = arg;
    serve *s = c->srv;
    serve_conn_loop(c);
    serve_release_all(s, c);
    pthread_mutex_lock(&s->mu);
    for (serve_conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    close(c->fd);
    free(c);
    s->nconns--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- listening --------------------------------------------------------- */

static void serve_accept_one(serve *s)
{
    int fd = compat_accept(s->lfd, NULL, NULL, false);
    if (fd < 0)
        return;
    serve_conn *c = calloc(1, sizeof(*c));
    pthread_mutex_lock(&s->mu);
    bool full = s->nconns >= s->max_conns;
    if (c && !full) {
        c->srv = s;
        c->fd = fd;
        c->next = s->conns;
        s->conns = c;
        s->nconns++;
    }
    pthread_mutex_unlock(&s->mu);
    if (!c || full) {
        free(c);
        (void)fcntl(fd, F_SETFL, O_NONBLOCK);
        serve_send_err(fd, strata_err_new(STRATA_E_BUSY, "retry once other clients have gone",
                                          "the server has %u connections already", s->max_conns));
        close(fd);
        return;
    }
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &at, serve_conn_main, c);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        pthread_mutex_lock(&s->mu);
        s->conns = c->next; /* still first: only this thread adds */
        s->nconns--;
        pthread_mutex_unlock(&s->mu);
        serve_send_err(fd, strata_err_sys(rc, "retry later", "start a connection's thread"));
        close(fd);
        free(c);
    }
}

static void *serve_listen_main(void *arg)
{
    serve *s = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN},
                              {.fd = s->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & POLLIN)
            serve_accept_one(s);
    }
    return NULL;
}

/* A socket file at path that nothing answers is a dead server's. */
static strata_err *serve_clear_stale(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? NULL : strata_err_sys(errno, NULL, "check %s", path);
    if (!S_ISSOCK(st.st_mode))
        return strata_err_new(STRATA_E_EXISTS, "remove it, or set XDG_RUNTIME_DIR elsewhere",
                              "%s is in the way of the control socket", path);
    int fd = compat_socket(AF_UNIX, SOCK_STREAM, 0, false);
    if (fd < 0)
        return strata_err_sys(errno, NULL, "create a socket");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    close(fd);
    if (rc == 0)
        return strata_err_new(STRATA_E_EXISTS, "stop that server first ('strata umount' its mount)",
                              "a strata serve already answers at %s", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return strata_err_sys(errno, NULL, "remove the stale socket %s", path);
    return NULL;
}

static strata_err *serve_listen(serve *s)
{
    strata_err *e = serve_clear_stale(s->sock);
    if (e)
        return e;
    s->lfd = compat_socket(AF_UNIX, SOCK_STREAM, 0, false);
    if (s->lfd < 0)
        return strata_err_sys(errno, NULL, "create the control socket");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", s->sock);
    /* The directory is the owner's alone already (registry.h); the mode
     * says so once more. */
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return strata_err_sys(errno, NULL, "bind the control socket %s", s->sock);
    if (chmod(s->sock, 0600) < 0 || listen(s->lfd, 64) < 0) {
        int err = errno;
        unlink(s->sock);
        return strata_err_sys(err, NULL, "listen on the control socket %s", s->sock);
    }
    return NULL;
}

strata_err *serve_start(const serve_opts *o, serve **out)
{
    *out = NULL;
    serve *s = calloc(1, sizeof(*s));
    if (!s)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    s->v = o->v;
    s->f = o->f;
    s->lfd = -1;
    s->wake[0] = s->wake[1] = -1;
    s->max_conns = o->max_conns ? o->max_conns : SERVE_DEFAULT_CONNS;
    s->nslots = vfs_max_slots(o->v);
    s->cursor = 0;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    strata_err *e = NULL;
    if (s->nslots < 2)
        e = strata_err_new(STRATA_E_INTERNAL, NULL, "serve needs a vfs of several slots");
    else if (strlen(o->socket) >= sizeof(s->sock))
        e = strata_err_new(STRATA_E_INVALID, NULL, "the socket path %s is too long", o->socket);
    if (!e) {
        snprintf(s->sock, sizeof(s->sock), "%s", o->socket);
        s->mountpoint = strdup(o->mountpoint);
        s->state = calloc(s->nslots, sizeof(*s->state));
        s->owner = calloc(s->nslots, sizeof(*s->owner));
        if (!s->mountpoint || !s->state || !s->owner)
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    }
    if (!e && compat_pipe_cloexec(s->wake) < 0)
        e = strata_err_sys(errno, NULL, "create a pipe");
    if (!e)
        e = serve_listen(s);
    if (!e) {
        int rc = pthread_create(&s->listener, NULL, serve_listen_main, s);
        if (rc)
            e = strata_err_sys(rc, NULL, "start the control socket's thread");
        else
            s->listening = true;
    }
    if (e) {
        serve_stop(s);
        return e;
    }
    *out = s;
    return NULL;
}

uint32_t serve_attached(serve *s)
{
    pthread_mutex_lock(&s->mu);
    uint32_t n = s->attached;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void serve_stop(serve *s)
{
    if (!s)
        return;
    if (s->listening) {
        ssize_t w = write(s->wake[1], "x", 1);
        (void)w;
        pthread_join(s->listener, NULL);
    }
    if (s->lfd >= 0) {
        close(s->lfd);
        unlink(s->sock);
    }
    /* Each connection's thread wakes from its read, detaches its slots
     * and leaves the list; the last thing it does is to signal. */
    pthread_mutex_lock(&s->mu);
    for (serve_conn *c = s->conns; c; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    while (s->nconns)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->state);
    free(s->owner);
    free(s->mountpoint);
    free(s);
}
