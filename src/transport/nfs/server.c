/* The NFS server's event loop and worker pool (see server.h).
 *
 * Threads: one loop thread owns the listeners and every connection's
 * reading; workers take jobs (one record each) from a queue, run the
 * handler and send the reply themselves, under the connection's write
 * lock. A connection is freed when the loop has dropped it and no job
 * holds it (a reference count), so a worker never writes to a descriptor
 * number that has since been given to another connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/compat.h"
#include "transport/nfs/poller.h"
#include "transport/nfs/rpc.h"
#include "transport/nfs/server.h"

#define NFS_SERVER_EVENTS NFS_POLL_MAX
/* How long the loop keeps looking for the next call before it sleeps. */
#define NFS_SERVER_SPIN 50e-6

typedef struct nfs_conn nfs_conn;

/* A reply waiting to be sent, and how much of it went. */
typedef struct nfs_out {
    struct nfs_out *next;
    size_t len, sent;
    uint8_t data[];
} nfs_out;

struct nfs_conn {
    nfs_server *srv;
    int fd;
    nfs_peer peer;
    _Atomic unsigned refs; /* the loop's, plus one per job */
    rpc_rec rec;           /* the loop thread's only */
    double last_active;    /* the loop thread's only */
    nfs_conn *prev, *next; /* the loop's list */
    bool dropped;          /* the loop let go of it (no more reads) */
    bool reading;          /* read interest is set */
    bool eof;              /* the peer sent all it will: answer, then close */

    pthread_mutex_t mu; /* what follows */
    unsigned inflight;  /* jobs queued or running */
    nfs_out *outq, *outq_tail;
    size_t outq_bytes;
    bool want_out; /* write interest is set */
    bool broken;   /* a send failed: nothing more is sent */
};

typedef struct nfs_job {
    struct nfs_job *next;
    nfs_conn *c;
    size_t len;
    uint8_t rec[];
} nfs_job;

struct nfs_server {
    nfs_server_opts o;
    /* Its wake-up: a worker tells the loop that a finished connection may
     * go, or nfs_server_stop, having set quit, that the loop is to end. */
    nfs_poller *poll;
    _Atomic bool quit;
    int lfd[2];
    int nlfd;
    uint16_t port;
    pthread_t loop;
    bool loop_started;
    pthread_t *workers;
    unsigned nworkers;

    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    nfs_job *qhead, *qtail;
    bool stopping;
    _Atomic unsigned jobs; /* queued or running, all connections */

    nfs_conn *conns;    /* the loop thread's only */
    xdr_enc loop_reply; /* the loop thread's, for quick records */

    pthread_mutex_t smu;
    nfs_server_stats st;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void stat_add(nfs_server *s, uint64_t *field, int64_t d)
{
    pthread_mutex_lock(&s->smu);
    *field += (uint64_t)d;
    pthread_mutex_unlock(&s->smu);
}

/* ---- connections ----------------------------------------------------------- */

static void conn_unref(nfs_conn *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    close(c->fd);
    rpc_rec_free(&c->rec);
    for (nfs_out *o = c->outq; o;) {
        nfs_out *n = o->next;
        free(o);
        o = n;
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* The events the loop wants for c, from its state (c->mu held). */
static void conn_arm(nfs_conn *c)
{
    if (c->dropped)
        return;
    bool read = !c->eof && c->inflight < NFS_SERVER_INFLIGHT && c->outq_bytes < NFS_SERVER_OUTQ;
    c->reading = read;
    (void)nfs_poll_mod(c->srv->poll, c->fd, read, c->want_out, c);
}

/* Sends what is queued until the socket is full (c->mu held). */
static void conn_flush(nfs_conn *c)
{
    while (c->outq && !c->broken) {
        nfs_out *o = c->outq;
        ssize_t n = send(c->fd, o->data + o->sent, o->len - o->sent, COMPAT_MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            c->broken = true;
            break;
        }
        o->sent += (size_t)n;
        if (o->sent < o->len)
            continue;
        c->outq = o->next;
        if (!c->outq)
            c->outq_tail = NULL;
        c->outq_bytes -= o->len;
        free(o);
    }
    bool want = c->outq && !c->broken;
    if (want != c->want_out) {
        c->want_out = want;
        conn_arm(c);
    }
}

/* Sends from buf until the socket is full; the bytes that went. */
static size_t conn_send_now(nfs_conn *c, const uint8_t *buf, size_t len)
{
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(c->fd, buf + sent, len - sent, COMPAT_MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            c->broken = true;
            break;
        }
        sent += (size_t)n;
    }
    return sent;
}

/* A worker's reply, framed already: sent at once from the worker's own
 * buffer when nothing waits before it (no copy, no allocation: the usual
 * case); what the socket does not take is queued for the loop. */
static void conn_send(nfs_conn *c, const xdr_enc *reply)
{
    pthread_mutex_lock(&c->mu);
    size_t sent = 0;
    if (!c->outq && !c->broken)
        sent = conn_send_now(c, reply->buf, reply->len);
    if (sent == reply->len || c->broken) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    size_t rest = reply->len - sent;
    nfs_out *o = malloc(sizeof(*o) + rest);
    if (o) {
        memcpy(o->data, reply->buf + sent, rest);
        o->len = rest;
        o->sent = 0;
        o->next = NULL;
        if (c->outq_tail)
            c->outq_tail->next = o;
        else
            c->outq = o;
        c->outq_tail = o;
        c->outq_bytes += o->len;
        conn_flush(c);
    } else {
        /* No memory for the rest of a reply already begun: the stream
         * cannot go on, so the connection ends (the client reconnects
         * and retries). */
        c->broken = true;
        conn_arm(c);
    }
    pthread_mutex_unlock(&c->mu);
}

/* The loop lets go of c: no more reads, no more events. Jobs in flight
 * finish and drop their references. */
static void conn_drop(nfs_server *s, nfs_conn *c)
{
    if (c->dropped)
        return;
    pthread_mutex_lock(&c->mu);
    c->dropped = true;
    c->broken = true;
    pthread_mutex_unlock(&c->mu);
    nfs_poll_del(s->poll, c->fd);
    shutdown(c->fd, SHUT_RDWR);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_lock(&s->smu);
    s->st.conns--;
    pthread_mutex_unlock(&s->smu);
    conn_unref(c);
}

/* ---- jobs ------------------------------------------------------------------ */

static void queue_job(nfs_server *s, nfs_conn *c, const uint8_t *rec, size_t len)
{
    nfs_job *j = malloc(sizeof(*j) + len);
    if (!j)
        return; /* the client retries */
    j->next = NULL;
    j->c = c;
    j->len = len;
    memcpy(j->rec, rec, len);
    atomic_fetch_add(&c->refs, 1);
    pthread_mutex_lock(&c->mu);
    c->inflight++;
    pthread_mutex_unlock(&c->mu);
    atomic_fetch_add(&s->jobs, 1);
    pthread_mutex_lock(&s->qmu);
    if (s->qtail)
        s->qtail->next = j;
    else
        s->qhead = j;
    s->qtail = j;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
}

static void *worker_main(void *arg)
{
    nfs_server *s = arg;
    xdr_enc reply;
    xdr_enc_init(&reply, s->o.max_reply);
    for (;;) {
        pthread_mutex_lock(&s->qmu);
        while (!s->qhead && !s->stopping)
            pthread_cond_wait(&s->qcv, &s->qmu);
        nfs_job *j = s->qhead;
        if (!j) {
            pthread_mutex_unlock(&s->qmu);
            break;
        }
        s->qhead = j->next;
        if (!s->qhead)
            s->qtail = NULL;
        pthread_mutex_unlock(&s->qmu);

        nfs_conn *c = j->c;
        xdr_enc_reset(&reply);
        size_t at = rpc_mark_begin(&reply);
        bool keep = s->o.handler(s->o.ctx, &c->peer, j->rec, j->len, &reply);
        /* An empty reply is none; one that did not fit is dropped, and
         * the client retries. */
        if (keep && reply.len > at + 4 && rpc_mark_end(&reply, at))
            conn_send(c, &reply);
        atomic_fetch_sub(&s->jobs, 1);
        pthread_mutex_lock(&c->mu);
        c->inflight--;
        if (!keep)
            c->broken = true;
        bool rearm = !c->reading || !keep;
        if (rearm)
            conn_arm(c);
        bool finished = (c->eof || c->broken) && c->inflight == 0 && (!c->outq || c->broken);
        pthread_mutex_unlock(&c->mu);
        /* The loop owns the list of connections: it is told to drop this
         * one now rather than at its next sweep. */
        if (finished)
            nfs_poller_wake(s->poll);
        if (!keep)
            shutdown(c->fd, SHUT_RDWR); /* the loop sees the hangup and drops it */
        conn_unref(c);
        free(j);
    }
    xdr_enc_free(&reply);
    return NULL;
}

/* ---- the loop ---------------------------------------------------------------- */

/* A quick record, answered here: its reply goes out as a worker's would.
 * A handler that asks for the connection to end gets that too. */
static void serve_inline(nfs_server *s, nfs_conn *c, const uint8_t *rec, size_t len, bool tried)
{
    xdr_enc *reply = &s->loop_reply;
    xdr_enc_reset(reply);
    size_t at = rpc_mark_begin(reply);
    bool answered = true;
    bool keep = tried ? s->o.try_now(s->o.ctx, &c->peer, rec, len, reply, &answered)
                      : s->o.handler(s->o.ctx, &c->peer, rec, len, reply);
    if (!answered) {
        queue_job(s, c, rec, len); /* it would wait: a worker's */
        return;
    }
    if (keep && reply->len > at + 4 && rpc_mark_end(reply, at))
        conn_send(c, reply);
    if (!keep) {
        pthread_mutex_lock(&c->mu);
        c->broken = true;
        pthread_mutex_unlock(&c->mu);
        shutdown(c->fd, SHUT_RDWR);
    }
}

static void accept_all(nfs_server *s, int lfd)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t salen = sizeof(sa);
        int fd = compat_accept(lfd, (struct sockaddr *)&sa, &salen, true);
        if (fd < 0)
            return;
        uint16_t port = 0;
        if (sa.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        else if (sa.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        pthread_mutex_lock(&s->smu);
        bool full = s->st.conns >= s->o.max_conns;
        pthread_mutex_unlock(&s->smu);
        if (full || (s->o.secure && port >= 1024)) {
            stat_add(s, &s->st.refused, 1);
            close(fd);
            continue;
        }
        nfs_conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->srv = s;
        c->fd = fd;
        c->peer = (nfs_peer){.privileged_port = port < 1024, .port = port};
        atomic_init(&c->refs, 1);
        rpc_rec_init(&c->rec, s->o.max_record);
        c->last_active = now_s();
        pthread_mutex_init(&c->mu, NULL);
        c->reading = true;
        if (nfs_poll_add(s->poll, fd, true, false, c) < 0) {
            conn_unref(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        pthread_mutex_lock(&s->smu);
        s->st.accepted++;
        s->st.conns++;
        pthread_mutex_unlock(&s->smu);
    }
}

/* Reads what the socket has and queues every whole record. False when
 * the connection is to be dropped at once: a framing error (a record over
 * the limit), or the socket failed. At the peer's end of input the
 * connection stops reading, answers what it has, and is closed then
 * (sweep_idle). */
static bool conn_read(nfs_server *s, nfs_conn *c)
{
    static _Thread_local uint8_t buf[64 * 1024]; /* the loop thread's */
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n < 0)
            return false;
        if (n == 0) {
            pthread_mutex_lock(&c->mu);
            c->eof = true;
            conn_arm(c);
            bool quiet = c->inflight == 0 && !c->outq;
            pthread_mutex_unlock(&c->mu);
            /* Nothing left to answer: its slot is free at once. */
            return !quiet;
        }
        c->last_active = now_s();
        for (size_t off = 0; off < (size_t)n;) {
            const uint8_t *msg;
            size_t used, len;
            rpc_rec_status r = rpc_rec_feed(&c->rec, buf + off, (size_t)n - off, &used, &msg, &len);
            off += used;
            if (r == RPC_REC_READY) {
                /* Counted first: a worker may answer (and close) before
                 * this thread goes on. */
                stat_add(s, &s->st.records, 1);
                /* A call the server would hand off is tried here first
                 * when nothing else is going on: the last record read so
                 * far, and no job anywhere. */
                bool alone = s->o.try_now && off == (size_t)n && atomic_load(&s->jobs) == 0;
                if (s->o.quick && s->o.quick(s->o.ctx, msg, len))
                    serve_inline(s, c, msg, len, false);
                else if (alone)
                    serve_inline(s, c, msg, len, true);
                else
                    queue_job(s, c, msg, len);
            } else if (r != RPC_REC_MORE) {
                /* Too big (or no memory for it): no way to find the next
                 * record, so this connection ends, and no other. */
                stat_add(s, &s->st.closed_bad, 1);
                return false;
            }
        }
        pthread_mutex_lock(&c->mu);
        bool more = c->inflight < NFS_SERVER_INFLIGHT && c->outq_bytes < NFS_SERVER_OUTQ;
        if (!more)
            conn_arm(c); /* stop reading until the jobs drain */
        pthread_mutex_unlock(&c->mu);
        /* A short read took what there was: the poller says when more
         * comes (level-triggered), which spares a recv that would only
         * say EAGAIN — one system call per call of a client that waits
         * for each answer. */
        if (!more || (size_t)n < sizeof(buf))
            return true;
    }
    return true;
}

/* Drops the connections that are done: their peer has sent everything
 * (or a send failed) and nothing is left to answer or to send. */
static void sweep_done(nfs_server *s)
{
    for (nfs_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        pthread_mutex_lock(&c->mu);
        bool done = (c->eof || c->broken) && c->inflight == 0 && (!c->outq || c->broken);
        pthread_mutex_unlock(&c->mu);
        if (done)
            conn_drop(s, c);
    }
}

static void sweep_idle(nfs_server *s)
{
    double now = now_s();
    for (nfs_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        pthread_mutex_lock(&c->mu);
        bool quiet = c->inflight == 0 && (!c->outq || c->broken);
        bool idle = quiet && now - c->last_active > s->o.idle_timeout;
        bool done = quiet && (c->eof || c->broken);
        pthread_mutex_unlock(&c->mu);
        /* Counted first: the peer may look at the count once it sees
         * the close. */
        if (idle && !done)
            stat_add(s, &s->st.closed_idle, 1);
        if (idle || done)
            conn_drop(s, c);
    }
}

static void *loop_main(void *arg)
{
    nfs_server *s = arg;
    nfs_poll_event evs[NFS_SERVER_EVENTS];
    double last_sweep = now_s();
    double spin_until = 0;
    for (;;) {
        /* After activity the loop looks again without sleeping for a
         * short while: a client that waits for each answer sends its
         * next call within tens of microseconds, and catching it awake
         * spares this thread a sleep and a wake-up, the larger part of a
         * short call's cost on this kind of machine (docs/PERFORMANCE.md).
         * Idle, it sleeps as before. */
        bool spin = spin_until > 0 && now_s() < spin_until;
        int n = nfs_poll_wait(s->poll, evs, NFS_SERVER_EVENTS, spin ? 0 : 1000);
        if (n < 0 && errno != EINTR)
            break;
        /* Not while a worker has a job: on a machine of few cores the
         * spinning would take the core the worker needs. */
        if (n > 0 && atomic_load(&s->jobs) == 0)
            spin_until = now_s() + NFS_SERVER_SPIN;
        else if (!spin || atomic_load(&s->jobs) > 0)
            spin_until = 0;
        bool stop = false, reap = false;
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].ptr;
            if (evs[i].wake) {
                if (atomic_load(&s->quit))
                    stop = true;
                /* After this batch: a later event of it may name one of
                 * the connections the sweep frees. */
                reap = true;
                continue;
            }
            if (ptr == &s->lfd[0] || ptr == &s->lfd[1]) {
                accept_all(s, *(int *)ptr);
                continue;
            }
            nfs_conn *c = ptr;
            if (c->dropped)
                continue;
            const nfs_poll_event *e = &evs[i];
            if (e->writable) {
                pthread_mutex_lock(&c->mu);
                conn_flush(c);
                bool broken = c->broken || (c->eof && !c->outq && c->inflight == 0);
                pthread_mutex_unlock(&c->mu);
                if (broken) {
                    conn_drop(s, c);
                    continue;
                }
            }
            if ((e->readable || e->hangup) && !c->eof && !conn_read(s, c))
                conn_drop(s, c);
            else if (e->hangup && c->eof)
                conn_drop(s, c); /* gone altogether: nobody reads the replies */
        }
        if (stop)
            break;
        if (reap)
            sweep_done(s);
        if (now_s() - last_sweep >= 1.0) {
            sweep_idle(s);
            last_sweep = now_s();
        }
    }
    return NULL;
}

/* ---- starting and stopping --------------------------------------------------- */

static strata_err *listen_on(int family, uint16_t port, int *out)
{
    int fd = compat_socket(family, SOCK_STREAM, 0, true);
    if (fd < 0)
        return strata_err_sys(errno, NULL, "create a socket");
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof(sa));
    socklen_t salen;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&sa;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        salen = sizeof(*a);
    } else {
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        salen = sizeof(*a);
    }
    if (bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, 128) < 0) {
        int err = errno;
        close(fd);
        if (err == EADDRINUSE)
            return strata_err_sys(err,
                                  "set mount.nfs.port to 0 for any free port "
                                  "(STRATA_MOUNT_NFS_PORT=0), or to a free port",
                                  "listen on port %u", (unsigned)port);
        return strata_err_sys(err, NULL, "listen on the loopback address");
    }
    *out = fd;
    return NULL;
}

static uint16_t port_of(int fd)
{
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
        return 0;
    if (sa.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&sa)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
}

strata_err *nfs_server_start(const nfs_server_opts *o, nfs_server **out)
{
    *out = NULL;
    nfs_server *s = calloc(1, sizeof(*s));
    if (!s)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    s->o = *o;
    xdr_enc_init(&s->loop_reply, o->max_reply ? o->max_reply : (1u << 20) + (64u << 10));
    if (!s->o.workers)
        s->o.workers = 4;
    if (!s->o.max_conns)
        s->o.max_conns = 256;
    if (s->o.idle_timeout <= 0)
        s->o.idle_timeout = 300;
    if (!s->o.max_record)
        s->o.max_record = (1u << 20) + (64u << 10);
    if (!s->o.max_reply)
        s->o.max_reply = s->o.max_record;
    s->lfd[0] = s->lfd[1] = -1;
    pthread_mutex_init(&s->qmu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    pthread_mutex_init(&s->smu, NULL);
    strata_err *e = NULL;
    if (nfs_poller_create(&s->poll) < 0)
        e = strata_err_sys(errno, NULL, "set up the NFS server's event loop");
    if (!e)
        e = listen_on(AF_INET, o->port, &s->lfd[0]);
    if (!e) {
        s->port = port_of(s->lfd[0]);
        s->nlfd = 1;
        /* ::1 on the same port where the host has IPv6; a host without
         * it serves 127.0.0.1 alone. */
        strata_err *e6 = listen_on(AF_INET6, s->port, &s->lfd[1]);
        if (e6)
            strata_err_free(e6);
        else
            s->nlfd = 2;
    }
    for (int i = 0; !e && i < s->nlfd; i++) {
        if (nfs_poll_add(s->poll, s->lfd[i], true, false, &s->lfd[i]) < 0)
            e = strata_err_sys(errno, NULL, "watch the NFS listener");
    }
    if (!e && !(s->workers = calloc(s->o.workers, sizeof(*s->workers))))
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    for (unsigned i = 0; !e && i < s->o.workers; i++) {
        int rc = pthread_create(&s->workers[i], NULL, worker_main, s);
        if (rc)
            e = strata_err_sys(rc, NULL, "start an NFS worker");
        else
            s->nworkers++;
    }
    if (!e) {
        int rc = pthread_create(&s->loop, NULL, loop_main, s);
        if (rc)
            e = strata_err_sys(rc, NULL, "start the NFS server's loop");
        else
            s->loop_started = true;
    }
    if (e) {
        nfs_server_stop(s);
        return e;
    }
    *out = s;
    return NULL;
}

uint16_t nfs_server_port(const nfs_server *s)
{
    return s->port;
}

void nfs_server_get_stats(nfs_server *s, nfs_server_stats *out)
{
    pthread_mutex_lock(&s->smu);
    *out = s->st;
    pthread_mutex_unlock(&s->smu);
}

void nfs_server_stop(nfs_server *s)
{
    if (!s)
        return;
    if (s->loop_started) {
        atomic_store(&s->quit, true);
        nfs_poller_wake(s->poll);
        pthread_join(s->loop, NULL);
    }
    /* The loop is gone: its connections are dropped here (the workers
     * still hold references to those with jobs). */
    while (s->conns)
        conn_drop(s, s->conns);
    pthread_mutex_lock(&s->qmu);
    s->stopping = true;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    for (unsigned i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    free(s->workers);
    for (int i = 0; i < 2; i++) {
        if (s->lfd[i] >= 0)
            close(s->lfd[i]);
    }
    nfs_poller_destroy(s->poll);
    pthread_mutex_destroy(&s->qmu);
    pthread_cond_destroy(&s->qcv);
    pthread_mutex_destroy(&s->smu);
    xdr_enc_free(&s->loop_reply);
    free(s);
}
