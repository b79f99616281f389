/* The readiness poller under the NFS server's loop: epoll on Linux
 * (poller_epoll.c), kqueue on macOS and FreeBSD (poller_kqueue.c).
 *
 *   - Level-triggered: a descriptor is reported for as long as it is ready
 *     and its interest is set.
 *   - Interest is read, write, both or neither. Epoll reports a hangup or
 *     an error even with neither; kqueue reports nothing then.
 *   - One event per descriptor per call: a caller that drops a connection
 *     while handling its event never meets it again in the same batch.
 *   - nfs_poller_wake, from any thread, makes a wait return (or the next
 *     one) with a wake event; wake-ups not yet seen fold into one.
 *
 * The add, modify and delete calls may come from any thread while another
 * waits. */
#ifndef STRATA_TRANSPORT_NFS_POLLER_H
#define STRATA_TRANSPORT_NFS_POLLER_H

#include <stdbool.h>

#define NFS_POLL_MAX 64 /* events one wait returns at most */

typedef struct nfs_poller nfs_poller;

typedef struct nfs_poll_event {
    void *ptr;     /* the descriptor's user pointer; NULL for a wake-up */
    bool wake;     /* nfs_poller_wake was called */
    bool readable; /* data, a connection to accept, or the peer's end of input */
    bool writable;
    bool hangup; /* the peer is gone altogether, or the socket failed */
} nfs_poll_event;

/* 0, or -1 with errno. */
int nfs_poller_create(nfs_poller **out);

/* Closes the poller (NULL: nothing); the descriptors stay open. */
void nfs_poller_destroy(nfs_poller *p);

/* Watches fd for the given interest; ptr comes back in its events. 0, or
 * -1 with errno. */
int nfs_poll_add(nfs_poller *p, int fd, bool read, bool write, void *ptr);

/* Replaces the interest of a watched fd. 0, or -1 with errno. */
int nfs_poll_mod(nfs_poller *p, int fd, bool read, bool write, void *ptr);

/* Stops watching fd: no event of it comes back after this returns. */
void nfs_poll_del(nfs_poller *p, int fd);

/* Waits up to timeout_ms (-1: for ever) and fills at most max (at most
 * NFS_POLL_MAX) events: their number, 0 on timeout, -1 with errno (EINTR
 * included). */
int nfs_poll_wait(nfs_poller *p, nfs_poll_event *evs, int max, int timeout_ms);

/* Makes a wait return with a wake event; safe from any thread. */
void nfs_poller_wake(nfs_poller *p);

#endif
