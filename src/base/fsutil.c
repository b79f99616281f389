/* Filesystem helpers: complete I/O, durable directory updates, and tree
 * removal that stays inside the tree (no symlink is ever followed). */
#include "base/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

strata_err *fs_write_all(int fd, const void *data, size_t n, const char *what)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return strata_err_sys(errno, NULL, "write %s", what);
        }
        p += w;
        n -= (size_t)w;
    }
    return NULL;
}

strata_err *fs_pread_full(int fd, void *data, size_t n, uint64_t off, size_t *got, const char *what)
{
    char *p = data;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, p + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return strata_err_sys(errno, NULL, "read %s", what);
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return NULL;
}

strata_err *fs_pread_cached(int fd, void *data, size_t n, uint64_t off, size_t *got,
                            const char *what)
{
    *got = 0;
#if defined(__linux__) && defined(RWF_NOWAIT)
    char *p = data;
    size_t done = 0;
    while (done < n) {
        struct iovec iov = {.iov_base = p + done, .iov_len = n - done};
        ssize_t r = preadv2(fd, &iov, 1, (off_t)(off + done), RWF_NOWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno != EAGAIN && errno != EOPNOTSUPP)
            return strata_err_sys(errno, NULL, "read %s", what);
        if (r < 0)
            return strata_err_sys(EAGAIN, NULL, "read %s: not in the page cache", what);
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return NULL;
#else
    (void)fd;
    (void)data;
    (void)n;
    (void)off;
    return strata_err_sys(EAGAIN, NULL, "read %s from the page cache: not on this system", what);
#endif
}

strata_err *fs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return strata_err_sys(errno, NULL, "open directory %s", dir);
    strata_err *e = NULL;
    if (fsync(fd) < 0 && errno != EINVAL)
        e = strata_err_sys(errno, NULL, "fsync directory %s", dir);
    close(fd);
    return e;
}

strata_err *fs_mkdir_p(const char *path, mode_t mode)
{
    char *p = strdup(path);
    if (!p)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    size_t len = strlen(p);
    for (size_t i = 1; i <= len; i++) {
        if (i < len && p[i] != '/')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            strata_err *e = strata_err_sys(errno, NULL, "create directory %s", p);
            free(p);
            return e;
        }
        p[i] = c;
    }
    free(p);
    struct stat st;
    if (stat(path, &st) < 0)
        return strata_err_sys(errno, NULL, "create directory %s", path);
    if (!S_ISDIR(st.st_mode))
        return strata_err_new(STRATA_E_EXISTS, "choose a path that is a directory",
                              "%s exists and is not a directory", path);
    return NULL;
}

static strata_err *remove_at(int parent, const char *name, const char *top)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return NULL;
    if (errno != EISDIR && errno != EPERM)
        return strata_err_sys(errno, NULL, "remove %s/%s", top, name);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return strata_err_sys(errno, NULL, "open %s/%s", top, name);
    /* A directory we cannot list may still be emptied once made writable. */
    fchmod(fd, 0700);
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = errno;
        close(fd);
        return strata_err_sys(err, NULL, "open %s/%s", top, name);
    }
    strata_err *e = NULL;
    struct dirent *de;
    while (!e && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        e = remove_at(dirfd(d), de->d_name, top);
    }
    closedir(d);
    if (!e && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        e = strata_err_sys(errno, NULL, "remove directory %s/%s", top, name);
    return e;
}

strata_err *fs_remove_tree(const char *path)
{
    return remove_at(AT_FDCWD, path, ".");
}

strata_err *fs_remove_children(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return strata_err_sys(errno, NULL, "open directory %s", path);
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = errno;
        close(fd);
        return strata_err_sys(err, NULL, "open directory %s", path);
    }
    strata_err *e = NULL;
    struct dirent *de;
    while (!e && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        e = remove_at(dirfd(d), de->d_name, path);
    }
    closedir(d);
    return e;
}

strata_err *fs_dir_is_empty(const char *path, bool *empty, bool *exists)
{
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT) {
            *exists = false;
            *empty = true;
            return NULL;
        }
        return strata_err_sys(errno, NULL, "open directory %s", path);
    }
    *exists = true;
    *empty = true;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            *empty = false;
            break;
        }
    }
    closedir(d);
    return NULL;
}
