/* The NFS server's poller on Linux: epoll, level-triggered, and an eventfd
 * for wake-ups (see poller.h). */
#include "transport/nfs/poller.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct nfs_poller {
    int epfd;
    int wakefd;
};

int nfs_poller_create(nfs_poller **out)
{
    *out = NULL;
    nfs_poller *p = malloc(sizeof(*p));
    if (!p) {
        errno = ENOMEM;
        return -1;
    }
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    /* The wake-up is told apart by its pointer: the poller's own. */
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
    if (p->epfd < 0 || p->wakefd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev) < 0) {
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
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->wakefd >= 0)
        close(p->wakefd);
    free(p);
}

/* EPOLLRDHUP with reading: the peer's end of input wakes a reader, which
 * then reads the 0 that says so. */
static int poll_ctl(nfs_poller *p, int op, int fd, bool read, bool write, void *ptr)
{
    struct epoll_event ev = {
        .events = (read ? EPOLLIN | EPOLLRDHUP : 0) | (write ? EPOLLOUT : 0),
        .data.ptr = ptr,
    };
    return epoll_ctl(p->epfd, op, fd, &ev);
}

int nfs_poll_add(nfs_poller *p, int fd, bool read, bool write, void *ptr)
{
    return poll_ctl(p, EPOLL_CTL_ADD, fd, read, write, ptr);
}

int nfs_poll_mod(nfs_poller *p, int fd, bool read, bool write, void *ptr)
{
    return poll_ctl(p, EPOLL_CTL_MOD, fd, read, write, ptr);
}

void nfs_poll_del(nfs_poller *p, int fd)
{
    (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int nfs_poll_wait(nfs_poller *p, nfs_poll_event *evs, int max, int timeout_ms)
{
    struct epoll_event ee[NFS_POLL_MAX];
    if (max > NFS_POLL_MAX)
        max = NFS_POLL_MAX;
    int n = epoll_wait(p->epfd, ee, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        uint32_t e = ee[i].events;
        if (ee[i].data.ptr == p) {
            /* Drained before the caller looks at why it was woken: a
             * wake-up after this is seen by the next wait. */
            uint64_t v;
            ssize_t r = read(p->wakefd, &v, sizeof(v));
            (void)r;
            evs[i] = (nfs_poll_event){.wake = true};
            continue;
        }
        evs[i] = (nfs_poll_event){
            .ptr = ee[i].data.ptr,
            .readable = e & (EPOLLIN | EPOLLRDHUP),
            .writable = e & EPOLLOUT,
            .hangup = e & (EPOLLHUP | EPOLLERR),
        };
    }
    return n;
}

void nfs_poller_wake(nfs_poller *p)
{
    uint64_t one = 1;
    ssize_t w = write(p->wakefd, &one, sizeof(one));
    (void)w; /* EAGAIN: the counter is full, so a wake-up is pending anyway */
}
