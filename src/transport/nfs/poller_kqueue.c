/* The NFS server's poller on macOS and FreeBSD: kqueue (see poller.h).
 * A descriptor has two filters, EVFILT_READ and EVFILT_WRITE, each
 * enabled or disabled by its interest; both are level-triggered (no
 * EV_CLEAR), like epoll without EPOLLET. Wake-ups are an EVFILT_USER
 * event. Compiled on those systems only (meson.build). */
#if defined(__APPLE__) || defined(__FreeBSD__)
#include "transport/nfs/poller.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include <sys/event.h>
#include <time.h>
#include <unistd.h>

/* The wake-up's ident; its filter keeps it apart from descriptor 0. */
#define NFS_POLL_WAKE_IDENT 0

struct nfs_poller {
    int kq; /* a kqueue is not inherited across fork: no close-on-exec needed */
};

int nfs_poller_create(nfs_poller **out)
{
    *out = NULL;
    nfs_poller *p = malloc(sizeof(*p));
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    struct kevent kev;
    EV_SET(&kev, NFS_POLL_WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    p->kq = kqueue();
    if (p->kq < 0 || kevent(p->kq, &kev, 1, NULL, 0, NULL) < 0) {
        int err = errno;
        nfs_poller_destroy(p);
        errno = err;
        return -1;
    }
    *out = p;
    return 0;
}

void nfs_poller_destroy(nfs_poller *p)
{
    if (!p)
        return;
    if (p->kq >= 0)
        close(p->kq);
    free(p);
}

/* EV_ADD on a filter already there changes it, with EV_ENABLE or
 * EV_DISABLE saying whether it reports. A new descriptor gets only the
 * filters it wants (a listener never has a write filter); a change names
 * both, so a filter missing so far is added, disabled. */
static int poll_ctl(nfs_poller *p, int fd, bool read, bool write, void *ptr, bool both)
{
    struct kevent kev[2];
    int n = 0;
    if (read || both) {
        struct kevent *k = &kev[n++];
        EV_SET(k, (uintptr_t)fd, EVFILT_READ, EV_ADD | (read ? EV_ENABLE : EV_DISABLE), 0, 0, ptr);
    }
    if (write || both) {
        struct kevent *k = &kev[n++];
        EV_SET(k, (uintptr_t)fd, EVFILT_WRITE, EV_ADD | (write ? EV_ENABLE : EV_DISABLE), 0, 0,
               ptr);
    }
    if (n && kevent(p->kq, kev, n, NULL, 0, NULL) < 0)
        return -1;
    return 0;
}

int nfs_poll_add(nfs_poller *p, int fd, bool read, bool write, void *ptr)
{
    return poll_ctl(p, fd, read, write, ptr, false);
}

int nfs_poll_mod(nfs_poller *p, int fd, bool read, bool write, void *ptr)
{
    return poll_ctl(p, fd, read, write, ptr, true);
}

/* One filter a call: with no room for errors, kevent stops at the first
 * failed change (ENOENT for a filter never added) and leaves the rest. */
void nfs_poll_del(nfs_poller *p, int fd)
{
    struct kevent kev;
    EV_SET(&kev, (uintptr_t)fd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    (void)kevent(p->kq, &kev, 1, NULL, 0, NULL);
    EV_SET(&kev, (uintptr_t)fd, EVFILT_WRITE, EV_DELETE, 0, 0, NULL);
    (void)kevent(p->kq, &kev, 1, NULL, 0, NULL);
}

/* A descriptor ready both ways comes back as two kevents: they are folded
 * into one event, so that a caller that drops it on the first does not
 * meet it again. EV_EOF on the read filter is only the peer's end of
 * input (it may still wait for replies): a hangup is EV_EOF on the write
 * filter (the peer reads no more) or with a socket error in fflags. */
int nfs_poll_wait(nfs_poller *p, nfs_poll_event *evs, int max, int timeout_ms)
{
    struct kevent ke[NFS_POLL_MAX];
    uintptr_t ids[NFS_POLL_MAX];
    if (max > NFS_POLL_MAX)
        max = NFS_POLL_MAX;
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000L};
    int n = kevent(p->kq, NULL, 0, ke, max, timeout_ms < 0 ? NULL : &ts);
    if (n < 0)
        return -1;
    int out = 0;
    for (int i = 0; i < n; i++) {
        if (ke[i].filter == EVFILT_USER) {
            ids[out] = UINTPTR_MAX;
            evs[out++] = (nfs_poll_event){.wake = true};
            continue;
        }
        nfs_poll_event *ev = NULL;
        for (int j = 0; j < out && !ev; j++)
            if (!evs[j].wake && ids[j] == ke[i].ident)
                ev = &evs[j];
        if (!ev) {
            ids[out] = ke[i].ident;
            ev = &evs[out++];
            *ev = (nfs_poll_event){.ptr = ke[i].udata};
        }
        bool eof = ke[i].flags & EV_EOF;
        if (ke[i].filter == EVFILT_READ) {
            ev->readable = true;
            ev->hangup |= eof && ke[i].fflags != 0;
        } else if (ke[i].filter == EVFILT_WRITE) {
            ev->writable = true;
            ev->hangup |= eof;
        }
        ev->hangup |= (ke[i].flags & EV_ERROR) != 0;
    }
    return out;
}

void nfs_poller_wake(nfs_poller *p)
{
    struct kevent kev;
    EV_SET(&kev, NFS_POLL_WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    (void)kevent(p->kq, &kev, 1, NULL, 0, NULL);
}

#endif
