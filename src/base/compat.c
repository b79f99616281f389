/* The one place that knows which systems create a descriptor with its
 * flags in one call and which need fcntl after it (see compat.h). */
#include "base/compat.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#if defined(__APPLE__)

/* Gives a new descriptor the flags Linux gives it at birth; closes it on
 * failure. Not atomic: a fork and exec in another thread between the two
 * calls can pass the descriptor on, which macOS offers no way to avoid. */
static int compat_flags(int fd, bool nonblock, bool sock)
{
    if (fd < 0)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fl < 0 ||
        fcntl(fd, F_SETFL, nonblock ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    if (sock) {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
    }
    return fd;
}

int compat_pipe_cloexec(int fds[2])
{
    if (pipe(fds) < 0)
        return -1;
    if (compat_flags(fds[0], false, false) < 0) {
        int err = errno;
        close(fds[1]);
        errno = err;
        return -1;
    }
    if (compat_flags(fds[1], false, false) < 0) {
        int err = errno;
        close(fds[0]);
        errno = err;
        return -1;
    }
    return 0;
}

int compat_socket(int domain, int type, int proto, bool nonblock)
{
    return compat_flags(socket(domain, type, proto), nonblock, true);
}

/* The flags are set either way: a BSD accept hands on the listener's
 * O_NONBLOCK, and maybe not its SO_NOSIGPIPE. */
int compat_accept(int fd, struct sockaddr *sa, socklen_t *salen, bool nonblock)
{
    return compat_flags(accept(fd, sa, salen), nonblock, true);
}

#else

int compat_pipe_cloexec(int fds[2])
{
    return pipe2(fds, O_CLOEXEC);
}

int compat_socket(int domain, int type, int proto, bool nonblock)
{
    return socket(domain, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), proto);
}

int compat_accept(int fd, struct sockaddr *sa, socklen_t *salen, bool nonblock)
{
    return accept4(fd, sa, salen, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0));
}

#endif
