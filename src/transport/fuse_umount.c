/* Unmounting a strata FUSE mount by its path (`strata umount`), and
 * telling from the mount table what is mounted at a path.
 *
 * The unmount is never lazy: a lazy one would hide a busy mount, which
 * then lives on unseen for as long as something uses it. A busy mount is
 * reported instead, and the hint names the lazy unmount for a user who
 * wants it anyway. The server notices the unmount by itself (its reads
 * of /dev/fuse fail with ENODEV) and exits. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/compat.h"
#include "transport/fuse.h"
#include "transport/fuse_internal.h"

#define FUSERMOUNT "/usr/bin/fusermount3"

extern char **environ;

/* The mount table escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

strata_err *fusefs_mount_type(const char *abs, char **fstype)
{
    *fstype = NULL;
#ifdef __linux__
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return strata_err_sys(errno, NULL, "read the mount table (/proc/self/mountinfo)");
    char *line = NULL;
    size_t cap = 0;
    strata_err *e = NULL;
    /* "id parent maj:min root MOUNTPOINT opts [tags...] - FSTYPE source
     * superopts"; the last line for a path is the mount on top. */
    while (!e && getline(&line, &cap, f) > 0) {
        char *sep = strstr(line, " - ");
        if (!sep)
            continue;
        *sep = '\0';
        char *type = sep + 3;
        type[strcspn(type, " \n")] = '\0';
        char *save = NULL, *mp = NULL, *tok = strtok_r(line, " ", &save);
        for (int i = 1; tok && i < 5; i++)
            tok = strtok_r(NULL, " ", &save);
        mp = tok;
        if (!mp)
            continue;
        unescape_octal(mp);
        if (strcmp(mp, abs) != 0)
            continue;
        free(*fstype);
        if (!(*fstype = strdup(type)))
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    }
    free(line);
    fclose(f);
    if (e) {
        free(*fstype);
        *fstype = NULL;
    }
    return e;
#else
    (void)abs;
    return NULL;
#endif
}

/* The absolute path of a mountpoint. A mount whose server died cannot be
 * stat'ed (ENOTCONN), so then only its parent is resolved. */
static strata_err *resolve_mountpoint(const char *path, char **abs)
{
    *abs = realpath(path, NULL);
    if (*abs)
        return NULL;
    int err = errno;
    if (err == ENOTCONN || err == ECONNABORTED) {
        char *copy = strdup(path);
        if (!copy)
            return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
        size_t n = strlen(copy);
        while (n > 1 && copy[n - 1] == '/')
            copy[--n] = '\0';
        char *slash = strrchr(copy, '/');
        const char *base = slash ? slash + 1 : copy;
        const char *dir = slash ? (slash == copy ? "/" : copy) : ".";
        if (slash)
            *slash = '\0';
        char *rd = (strcmp(base, ".") && strcmp(base, "..") && *base) ? realpath(dir, NULL) : NULL;
        int rc = rd ? asprintf(abs, "%s/%s", strcmp(rd, "/") ? rd : "", base) : -1;
        free(rd);
        free(copy);
        if (rc >= 0)
            return NULL;
        *abs = NULL;
    }
    if (err == ENOENT) {
        strata_err *e = strata_err_new(STRATA_E_NOTFOUND, NULL, "%s does not exist", path);
        return strata_err_rehint(e, "check the path; 'findmnt -t " FUSEFS_FSTYPE
                                    "' lists the strata mounts");
    }
    return strata_err_sys(err, NULL, "resolve %s", path);
}

static strata_err *busy_error(const char *abs)
{
    strata_err *e = strata_err_new(STRATA_E_BUSY, NULL,
                                   "%s is busy: a process still has a file or its working "
                                   "directory in it",
                                   abs);
    char *hint = NULL;
    if (asprintf(&hint,
                 "close what uses it ('fuser -vm %s' lists it) and retry, or detach it now "
                 "with '%s %s'",
                 abs, geteuid() == 0 ? "umount -l" : "fusermount3 -u -z", abs) >= 0)
        strata_err_rehint(e, hint);
    free(hint);
    return e;
}

/* Runs fusermount3 -u, which a user who is not root needs; its message,
 * if it fails, goes into the error rather than to our stderr. */
static strata_err *fusermount_unmount(const char *abs)
{
    int fds[2];
    if (compat_pipe_cloexec(fds) < 0)
        return strata_err_sys(errno, NULL, "unmount %s", abs);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    const char *prog = access(FUSERMOUNT, X_OK) == 0 ? FUSERMOUNT : "fusermount3";
    char *argv[] = {(char *)prog, "-u", "--", (char *)abs, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc) {
        close(fds[0]);
        return strata_err_sys(rc, "install fuse3, which provides fusermount3",
                              "cannot run fusermount3 to unmount %s", abs);
    }
    char msg[512];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], msg + len, sizeof(msg) - 1 - len)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            len += (size_t)n;
    close(fds[0]);
    msg[len] = '\0';
    msg[strcspn(msg, "\n")] = '\0';
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return NULL;
    if (strstr(msg, "busy"))
        return busy_error(abs);
    const char *m = strncmp(msg, "fusermount3: ", 13) == 0 ? msg + 13 : msg;
    return strata_err_new(STRATA_E_IO, "only the user who mounted it (or root) may unmount it",
                          "cannot unmount %s: %s", abs, *m ? m : "fusermount3 failed");
}

strata_err *fusefs_unmount_path(const char *path)
{
    char *abs;
    strata_err *e = resolve_mountpoint(path, &abs);
    if (e)
        return e;
    char *fstype = NULL;
    e = fusefs_mount_type(abs, &fstype);
    if (!e && !fstype)
        e = strata_err_rehint(
            strata_err_new(STRATA_E_NOTFOUND, NULL, "%s is not a mount point", abs),
            "'findmnt -t " FUSEFS_FSTYPE "' lists the strata mounts");
    else if (!e && strcmp(fstype, FUSEFS_FSTYPE) != 0)
        e = strata_err_rehint(strata_err_new(STRATA_E_INVALID, NULL,
                                             "%s is not a strata mount (it is a %s mount)", abs,
                                             fstype),
                              "strata unmounts only its own mounts; use umount(8) for others");
    free(fstype);
    if (!e && geteuid() == 0) {
        if (umount2(abs, UMOUNT_NOFOLLOW) < 0)
            e = errno == EBUSY ? busy_error(abs) : strata_err_sys(errno, NULL, "unmount %s", abs);
    } else if (!e) {
        e = fusermount_unmount(abs);
    }
    free(abs);
    return e;
}
