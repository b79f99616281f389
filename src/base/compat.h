/* The Darwin spellings of Linux-only descriptor calls. Linux (and the BSDs)
 * create a descriptor close-on-exec, and non-blocking if asked, in the one
 * call that creates it (pipe2, SOCK_CLOEXEC, accept4); macOS has none of
 * these, so there the flags are set right after, with fcntl. A send that
 * must not raise SIGPIPE passes COMPAT_MSG_NOSIGNAL; macOS has no such flag,
 * and every socket made here carries SO_NOSIGPIPE instead.
 *
 * Each returns what the call it stands for returns: a descriptor or 0, or
 * -1 with errno set (and nothing left open). */
#ifndef STRATA_BASE_COMPAT_H
#define STRATA_BASE_COMPAT_H

#include <stdbool.h>
#include <sys/socket.h>

#ifdef MSG_NOSIGNAL
#define COMPAT_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define COMPAT_MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE, set by compat_socket and compat_accept */
#endif

/* pipe2(fds, O_CLOEXEC). */
int compat_pipe_cloexec(int fds[2]);

/* socket(domain, type | SOCK_CLOEXEC [| SOCK_NONBLOCK], proto). */
int compat_socket(int domain, int type, int proto, bool nonblock);

/* accept4(fd, sa, salen, SOCK_CLOEXEC [| SOCK_NONBLOCK]); sa and salen
 * may be NULL. */
int compat_accept(int fd, struct sockaddr *sa, socklen_t *salen, bool nonblock);

#endif
