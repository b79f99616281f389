/* The upper directory of a view: attaching it, reaching its entries, and
 * the overlayfs conventions written into it (layer/upper.h) — whiteouts,
 * opaque directories, redirects — which layer_capture reads back.
 *
 * Entries are reached through O_PATH descriptors, never through paths
 * held for long: an upper entry's path changes whenever a directory above
 * it is renamed. A descriptor is opened from the path the upper table
 * gives, checked against the entry's real inode (a rename racing with the
 * open just means another try), and cached on the inode while the count
 * of cached descriptors stays under a cap. Everything else works relative
 * to such a descriptor (the *at calls), or reopens it through
 * /proc/self/fd, so it is immune to renames of directories above. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/path.h"
#include "layer/upper.h"
#include "vfs/vfs_internal.h"

#define OPEN_TRIES 64 /* opens that may race with renames before giving up */

#define UPPER_HINT "check the upper directory: its filesystem, free space and permissions"

strata_err *vfs_err_sys(int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    const char *hint;
    switch (errnum) {
    case ENOSPC:
    case EDQUOT:
        hint = "free space on the upper directory's filesystem";
        break;
    case EACCES:
    case EPERM:
        hint = "the server may not do this in the upper directory; check its permissions";
        break;
    case EXDEV:
        hint = "the upper filesystem cannot do this in place; copy instead of moving";
        break;
    case EEXIST:
    case ENOTEMPTY:
    case ENOENT:
    case ENOTDIR:
    case EISDIR:
        hint = "the entry changed meanwhile; look it up again";
        break;
    default:
        hint = UPPER_HINT;
    }
    strata_err *e =
        vfs_err(errnum, hint, "%s: %s", msg ? msg : "upper directory", strerror(errnum));
    free(msg);
    return e;
}

strata_err *vfs_need_upper(const vfs_view *vw, const char *op)
{
    if (vw->upper)
        return NULL;
    return vfs_err(EROFS, "the view is read-only: mount it with an upper directory to write",
                   "%s: the view has no upper directory", op);
}

void vfs_fd_path(int fd, char buf[32])
{
    snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

bool vfs_is_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* ".wh." + name, or false when it does not fit a name. */
static bool whname(const char *name, char buf[NAME_MAX + 1])
{
    return (size_t)snprintf(buf, NAME_MAX + 1, "%s%s", UPPER_WHITEOUT_PREFIX, name) <= NAME_MAX;
}

int vfs_upper_probe(vfs_view *vw, int dfd, const char *name, struct stat *st)
{
    if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) == 0)
        return vfs_is_whiteout(st) ? VFS_UP_WHITEOUT : VFS_UP_ENTRY;
    if (errno != ENOENT)
        return -errno;
    char wh[NAME_MAX + 1];
    struct stat ws;
    if (vw->check_whfiles && whname(name, wh) && fstatat(dfd, wh, &ws, AT_SYMLINK_NOFOLLOW) == 0)
        return VFS_UP_WHFILE;
    return VFS_UP_NONE;
}

/* ---- descriptors of upper entries --------------------------------------- */

void vfs_upper_fd_offer(vfs_inode *in, int fd)
{
    vfs *v = in->view->v;
    if (atomic_fetch_add(&v->n_ufds, 1) < v->max_ufds) {
        int expect = -1;
        if (atomic_compare_exchange_strong(&in->ufd, &expect, fd))
            return;
    }
    atomic_fetch_sub(&v->n_ufds, 1);
    close(fd);
}

strata_err *vfs_upper_fd(vfs_inode *in, int *out, bool *own)
{
    *own = false;
    int fd = atomic_load_explicit(&in->ufd, memory_order_acquire);
    if (fd >= 0) {
        *out = fd;
        return NULL;
    }
    vfs_view *vw = in->view;
    if (!vfs_has_upper(in) || vfs_is_dead(in))
        return vfs_err(ESTALE, "look the path up again", "inode %#llx has no upper entry",
                       (unsigned long long)in->ino);
    for (int tries = 0; tries < OPEN_TRIES; tries++) {
        char *path;
        strata_err *e = vfs_ut_path(&vw->ut, in->ino, &path);
        if (e)
            return e;
        fd = openat(vw->upper_fd, path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        free(path);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && st.st_ino == in->real)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
        /* A rename moved it (or a directory above) meanwhile: the table
         * is updated right after the rename itself. */
        sched_yield();
    }
    if (fd < 0)
        return vfs_err(ESTALE, "look the path up again",
                       "inode %#llx: its upper entry moved or is gone",
                       (unsigned long long)in->ino);
    vfs *v = vw->v;
    if (atomic_fetch_add(&v->n_ufds, 1) < v->max_ufds) {
        int expect = -1;
        if (atomic_compare_exchange_strong(&in->ufd, &expect, fd)) {
            *out = fd;
            return NULL;
        }
        atomic_fetch_sub(&v->n_ufds, 1);
        close(fd);
        *out = expect; /* another thread cached one first */
        return NULL;
    }
    atomic_fetch_sub(&v->n_ufds, 1);
    *out = fd;
    *own = true;
    return NULL;
}

void vfs_upper_fd_keep(vfs_inode *in)
{
    vfs *v = in->view->v;
    if (atomic_load(&in->ufd) >= 0 || !vfs_iheld(v, in))
        return;
    int fd;
    bool own;
    strata_err *e = vfs_upper_fd(in, &fd, &own);
    if (e) {
        strata_err_free(e); /* then it is just unreachable by number, as a lower one */
        return;
    }
    int expect = -1;
    if (own && atomic_compare_exchange_strong(&in->ufd, &expect, fd))
        atomic_fetch_add(&v->n_ufds, 1); /* past the cap: it is needed */
    else if (own)
        close(fd);
}

void vfs_upper_fd_done(int fd, bool own)
{
    if (own && fd >= 0)
        close(fd);
}

strata_err *vfs_upper_reopen(vfs_inode *in, int flags, int *out)
{
    *out = -1;
    int fd;
    bool own;
    strata_err *e = vfs_upper_fd(in, &fd, &own);
    if (e)
        return e;
    char p[32];
    vfs_fd_path(fd, p);
    int r = open(p, (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC);
    int err = errno;
    vfs_upper_fd_done(fd, own);
    if (r < 0)
        return vfs_err_sys(err, "open the upper copy of inode %#llx", (unsigned long long)in->ino);
    *out = r;
    return NULL;
}

strata_err *vfs_upper_stat(vfs_inode *in, struct stat *st)
{
    int fd;
    bool own;
    strata_err *e = vfs_upper_fd(in, &fd, &own);
    if (e)
        return e;
    if (fstat(fd, st) < 0)
        e = vfs_err_sys(errno, "stat the upper copy of inode %#llx", (unsigned long long)in->ino);
    vfs_upper_fd_done(fd, own);
    return e;
}

/* ---- what an upper directory holds -------------------------------------- */

/* An xattr of at most a path, NUL-terminated, or NULL when absent. */
static char *get_xattr(int fd, const char *attr)
{
    char *buf = malloc(PATH_TREE_MAX + 2);
    if (!buf)
        return NULL;
    ssize_t n = fgetxattr(fd, attr, buf, PATH_TREE_MAX + 1);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The lower stack an upper directory merges with: its redirect's origin,
 * nothing when it is opaque, else what lies below it at its place. */
static strata_err *upper_dir_stack(vfs_view *vw, const vfs_inode *dir, int dfd, const char *name,
                                   size_t len, vfs_lref **stack, uint32_t *n)
{
    *stack = NULL;
    *n = 0;
    if (vw->nlayers == 0)
        return NULL;
    vfs_lref *buf = malloc(vw->nlayers * sizeof(*buf));
    if (!buf)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory looking up %.*s", (int)len,
                              name);
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        free(buf);
        return vfs_err_sys(errno, "open upper directory %.*s", (int)len, name);
    }
    char *redirect = get_xattr(fd, UPPER_XATTR_REDIRECT);
    if (!redirect)
        redirect = get_xattr(fd, UPPER_XATTR_REDIRECT_USER);
    uint32_t k = 0;
    if (redirect) {
        const char *p = redirect[0] == '/' ? redirect + 1 : redirect;
        if (*p && !path_validate(p, strlen(p)))
            k = vfs_lower_resolve(vw, p, strlen(p), buf);
        /* (a bad redirect, from a hand-edited upper, merges nothing) */
        free(redirect);
    } else {
        char *op = get_xattr(fd, UPPER_XATTR_OPAQUE);
        if (!op)
            op = get_xattr(fd, UPPER_XATTR_OPAQUE_USER);
        bool opaque = op && strcmp(op, "y") == 0;
        free(op);
        struct stat st;
        if (!opaque)
            opaque = fstatat(fd, UPPER_OPAQUE_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (!opaque)
            k = vfs_lower_resolve_in(vw, dir, name, len, buf);
    }
    close(fd);
    /* Only directories merge. */
    if (k && vfs_lref_entry(vw, buf[0])->kind != MANIFEST_DIR)
        k = 0;
    if (k == 0) {
        free(buf);
        return NULL;
    }
    *stack = buf;
    *n = k;
    return NULL;
}

strata_err *vfs_upper_number(vfs_view *vw, uint64_t *out)
{
    uint32_t idx = atomic_fetch_add(&vw->next_upper, 1) + 1;
    if (idx == 0 || idx == UINT32_MAX)
        return vfs_err(ENOSPC, "mount the view afresh",
                       "slot %u has used all its 2^32 upper inode numbers", vw->slot);
    *out = vfs_ino_make(vw->slot, VFS_SRC_UPPER, idx);
    return NULL;
}

strata_err *vfs_upper_child(vfs *v, vfs_inode *dir, int dfd, const char *name, size_t len,
                            const struct stat *st, vfs_inode **out)
{
    *out = NULL;
    vfs_view *vw = dir->view;
    uint64_t num = vfs_ut_by_real(&vw->ut, st->st_ino);
    if (num) {
        vfs_inode *in = vfs_itable_find(v, vw, num);
        if (in) {
            *out = in;
            return NULL;
        }
    }
    vfs_lref *stack = NULL;
    uint32_t n = 0;
    strata_err *e = NULL;
    if (S_ISDIR(st->st_mode))
        e = upper_dir_stack(vw, dir, dfd, name, len, &stack, &n);
    if (!e && !num) {
        /* An entry the table has not seen (the upper directory was not
         * empty at attach): a directory merged with lower ones is numbered
         * after them, as it was before it was copied up; anything else is
         * new. */
        uint64_t cand = n ? vfs_lref_ino(vw, stack[0]) : 0;
        if (cand && !vfs_ut_has(&vw->ut, cand))
            num = cand;
        else
            e = vfs_upper_number(vw, &num);
        if (!e)
            e = vfs_ut_add(&vw->ut, num, st->st_ino, dir->ino, name, len, &num);
    } else if (!e) {
        /* A name the table did not know (a hard link made outside). */
        e = vfs_ut_add_loc(&vw->ut, num, dir->ino, name, len);
    }
    vfs_inode *fresh = NULL;
    if (!e && !(fresh = vfs_inode_alloc(vw, num, dir->ino, stack, n)))
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory looking up %.*s", (int)len, name);
    free(stack);
    if (e)
        return e;
    fresh->mode = st->st_mode & (S_IFMT | 07777);
    fresh->real = st->st_ino;
    atomic_store_explicit(&fresh->has_upper, true, memory_order_release);
    vfs_inode *in = vfs_itable_insert(v, fresh);
    if (in == fresh && atomic_load(&in->ufd) < 0) {
        /* The directory's descriptor is at hand: cache the entry's too. */
        int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat cs;
        if (fd >= 0 && (fstat(fd, &cs) < 0 || cs.st_ino != in->real)) {
            close(fd);
            fd = -1;
        }
        if (fd >= 0)
            vfs_upper_fd_offer(in, fd);
    }
    *out = in;
    return NULL;
}

/* ---- writing the conventions ------------------------------------------- */

void vfs_tmpname(vfs_view *vw, char buf[48])
{
    snprintf(buf, 48, "t%ld.%llu", (long)getpid(),
             (unsigned long long)atomic_fetch_add(&vw->tmp_seq, 1));
}

void vfs_work_remove(vfs_view *vw, const char *name)
{
    if (unlinkat(vw->work_fd, name, 0) == 0 || errno == ENOENT)
        return;
    if (unlinkat(vw->work_fd, name, AT_REMOVEDIR) == 0)
        return;
    /* A directory with whiteouts (or more) in it. Leftovers are harmless:
     * the next attach empties UPPER_WORK. */
    char *p = NULL;
    if (asprintf(&p, "%s/%s/%s", vw->upper, UPPER_WORK, name) > 0)
        strata_err_free(fs_remove_tree(p));
    free(p);
}

strata_err *vfs_make_whiteout(vfs_view *vw, int dfd, const char *name)
{
    if (vw->wh_chardev) {
        if (mknodat(dfd, name, S_IFCHR | 0000, makedev(0, 0)) == 0)
            return NULL;
        if (errno != EPERM && errno != EOPNOTSUPP)
            return vfs_err_sys(errno, "make whiteout %s", name);
    }
    char wh[NAME_MAX + 1];
    if (!whname(name, wh))
        return vfs_err(ENAMETOOLONG, "use a shorter name (the upper filesystem needs 4 more bytes)",
                       "no room for the whiteout of %s", name);
    int fd = openat(dfd, wh, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return vfs_err_sys(errno, "make whiteout %s", wh);
    close(fd);
    return NULL;
}

strata_err *vfs_set_opaque(vfs_view *vw, int fd)
{
    char p[32];
    vfs_fd_path(fd, p);
    if (vw->xattrs == VFS_XATTR_TRUSTED && setxattr(p, UPPER_XATTR_OPAQUE, "y", 1, 0) == 0)
        return NULL;
    if (vw->xattrs != VFS_XATTR_NONE && setxattr(p, UPPER_XATTR_OPAQUE_USER, "y", 1, 0) == 0)
        return NULL;
    int m = openat(fd, UPPER_OPAQUE_MARKER, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (m < 0)
        return vfs_err_sys(errno, "mark a directory opaque");
    close(m);
    return NULL;
}

strata_err *vfs_set_redirect(vfs_view *vw, int fd, const char *origin)
{
    char p[32];
    vfs_fd_path(fd, p);
    if (vw->xattrs == VFS_XATTR_TRUSTED &&
        setxattr(p, UPPER_XATTR_REDIRECT, origin, strlen(origin), 0) == 0)
        return NULL;
    if (vw->xattrs != VFS_XATTR_NONE &&
        setxattr(p, UPPER_XATTR_REDIRECT_USER, origin, strlen(origin), 0) == 0)
        return NULL;
    return vfs_err(EXDEV,
                   "the upper filesystem has no extended attributes, which renaming a lower "
                   "directory needs; copy it instead (mv does so by itself)",
                   "rename of lower directory %s", origin);
}

strata_err *vfs_upper_remove(vfs_view *vw, int dfd, const char *name, bool isdir, bool wh)
{
    char tmp[48];
    vfs_tmpname(vw, tmp);
    if (!wh) {
        if (unlinkat(dfd, name, isdir ? AT_REMOVEDIR : 0) == 0)
            return NULL;
        if (!isdir || (errno != ENOTEMPTY && errno != EEXIST))
            return vfs_err_sys(errno, "remove %s", name);
        /* Whiteouts inside: out of the way first, then away. */
        if (renameat(dfd, name, vw->work_fd, tmp) < 0)
            return vfs_err_sys(errno, "remove %s", name);
        vfs_work_remove(vw, tmp);
        return NULL;
    }
    if (vw->wh_chardev && vw->rename_whiteout) {
        /* Atomic: the whiteout takes the entry's place in one step. */
        if (renameat2(dfd, name, vw->work_fd, tmp, RENAME_WHITEOUT) == 0) {
            vfs_work_remove(vw, tmp);
            return NULL;
        }
        if (errno != EINVAL && errno != EPERM && errno != EOPNOTSUPP)
            return vfs_err_sys(errno, "remove %s", name);
    }
    if (!vw->wh_chardev) {
        /* The ".wh." first: until the entry goes, the entry wins. */
        strata_err *e = vfs_make_whiteout(vw, dfd, name);
        if (e)
            return e;
    }
    if (renameat(dfd, name, vw->work_fd, tmp) < 0)
        return vfs_err_sys(errno, "remove %s", name);
    vfs_work_remove(vw, tmp);
    return vw->wh_chardev ? vfs_make_whiteout(vw, dfd, name) : NULL;
}

void vfs_upper_chown_new(vfs_view *vw, int dfd, const char *name, const vfs_cred *cred)
{
    if (!vw->root_owner || !cred || (cred->uid == geteuid() && cred->gid == getegid()))
        return;
    /* Best effort: an entry left owned by the server is still usable. */
    (void)fchownat(dfd, name, cred->uid, cred->gid, AT_SYMLINK_NOFOLLOW);
}

strata_err *vfs_dir_lock(vfs *v, vfs_inode *dir, int *dfd, bool *own)
{
    (void)v;
    *dfd = -1;
    *own = false;
    pthread_rwlock_wrlock(&dir->dlock);
    strata_err *e = NULL;
    if (vfs_is_dead(dir))
        e = vfs_err(ENOENT, "the directory was removed", "inode %#llx: directory removed",
                    (unsigned long long)dir->ino);
    else if (!vfs_has_upper(dir))
        e = strata_err_new(STRATA_E_INTERNAL, NULL, "vfs: directory %#llx not copied up",
                           (unsigned long long)dir->ino);
    else
        e = vfs_upper_fd(dir, dfd, own);
    if (e)
        pthread_rwlock_unlock(&dir->dlock);
    return e;
}

void vfs_dir_unlock(vfs_inode *dir, int dfd, bool own)
{
    vfs_upper_fd_done(dfd, own);
    pthread_rwlock_unlock(&dir->dlock);
}

/* ---- attaching --------------------------------------------------------- */

static strata_err *refuse(const char *dir, const char *what, int err, const char *hint)
{
    return strata_err_new(STRATA_E_UNSUPPORTED, hint, "upper directory %s: %s: %s", dir, what,
                          strerror(err));
}

/* Tries, in UPPER_WORK, what the upper directory will be asked to do, and
 * refuses a filesystem that cannot. */
static strata_err *probe(vfs_view *vw, const char *dir)
{
    int w = vw->work_fd;
    const char *where = "put the upper directory on a local Linux filesystem (ext4, xfs, btrfs, "
                        "tmpfs)";
    if (symlinkat("probe", w, "p.l") < 0)
        return refuse(dir, "it cannot hold symbolic links", errno, where);
    int f = openat(w, "p.f", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (f < 0)
        return refuse(dir, "it cannot hold files", errno, where);
    close(f);
    int pf = openat(w, "p.f", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    char p[32];
    vfs_fd_path(pf, p);
    int r = pf >= 0 ? open(p, O_RDWR | O_CLOEXEC) : -1;
    int err = errno;
    if (pf >= 0)
        close(pf);
    if (r < 0)
        return refuse(dir, "files cannot be reopened through /proc/self/fd", err,
                      "mount /proc (the vfs reopens upper files through it)");
    close(r);
    if (renameat(w, "p.f", w, "p.g") < 0)
        return refuse(dir, "it cannot rename", errno, where);
    uint32_t compat = vw->v->compat;
    if (!(compat & VFS_COMPAT_WH_FILES) && mknodat(w, "p.w", S_IFCHR | 0000, makedev(0, 0)) == 0) {
        vw->wh_chardev = true;
        vw->rename_whiteout = renameat2(w, "p.g", w, "p.h", RENAME_WHITEOUT) == 0;
    }
    if (mkdirat(w, "p.d", 0700) < 0)
        return refuse(dir, "it cannot hold directories", errno, where);
    int d = openat(w, "p.d", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0 && !(compat & VFS_COMPAT_NO_XATTR)) {
        vfs_fd_path(d, p);
        if (!(compat & VFS_COMPAT_USER_XATTR) && setxattr(p, UPPER_XATTR_OPAQUE, "y", 1, 0) == 0)
            vw->xattrs = VFS_XATTR_TRUSTED;
        else if (setxattr(p, UPPER_XATTR_OPAQUE_USER, "y", 1, 0) == 0)
            vw->xattrs = VFS_XATTR_USER;
    }
    if (d >= 0)
        close(d);
    char *wp = NULL;
    if (asprintf(&wp, "%s/%s", dir, UPPER_WORK) < 0)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    strata_err *e = fs_remove_children(wp);
    free(wp);
    return e;
}

/* Whether the upper root holds anything besides UPPER_WORK. */
static strata_err *upper_empty(int fd, const char *dir, bool *empty)
{
    *empty = true;
    int d2 = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
    if (!d) {
        int err = errno;
        if (d2 >= 0)
            close(d2);
        return strata_err_sys(err, UPPER_HINT, "read upper directory %s", dir);
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, UPPER_WORK))
            *empty = false;
    closedir(d);
    return NULL;
}

strata_err *vfs_upper_attach(vfs_view *vw, const char *dir)
{
    vw->upper_fd = vw->work_fd = -1;
    if (!(vw->upper = strdup(dir)))
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    pthread_mutex_init(&vw->rename_mu, NULL);
    strata_err *e = vfs_ut_init(&vw->ut);
    if (e) {
        free(vw->upper);
        vw->upper = NULL;
        pthread_mutex_destroy(&vw->rename_mu);
        return e;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return strata_err_sys(err,
                              err == ENOENT ? "create the upper directory first (mkdir)"
                                            : "give a directory the server may write in",
                              "upper directory %s", dir);
    }
    vw->upper_fd = fd;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return strata_err_sys(errno, UPPER_HINT, "stat upper directory %s", dir);
    if (mkdirat(fd, UPPER_WORK, 0700) < 0 && errno != EEXIST)
        return strata_err_sys(errno, "give a directory the server may write in",
                              "upper directory %s: create %s", dir, UPPER_WORK);
    vw->work_fd = openat(fd, UPPER_WORK, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (vw->work_fd < 0)
        return strata_err_sys(errno, "remove what is in the way",
                              "upper directory %s: %s is not a directory", dir, UPPER_WORK);
    /* One view per upper directory: a second would empty the first's
     * scratch space and race its changes. The lock goes with the view. */
    if (flock(vw->work_fd, LOCK_EX | LOCK_NB) < 0)
        return strata_err_new(errno == EWOULDBLOCK ? STRATA_E_BUSY : STRATA_E_IO,
                              "give each mount its own upper directory",
                              "upper directory %s is in use by another view", dir);
    bool empty;
    e = probe(vw, dir);
    if (!e)
        e = upper_empty(fd, dir, &empty);
    if (e)
        return e;
    /* capture reads the upper root's mode as the layer's root mode. */
    if (empty && (st.st_mode & 07777) != vw->root_mode) {
        if (fchmod(fd, vw->root_mode) < 0)
            return strata_err_sys(errno, UPPER_HINT, "chmod upper directory %s", dir);
        st.st_mode = (st.st_mode & S_IFMT) | vw->root_mode;
    }
    vw->check_whfiles = !vw->wh_chardev || !empty;
    vw->root_owner = geteuid() == 0;
    vfs_inode *root = vw->root;
    e = vfs_ut_add(&vw->ut, root->ino, st.st_ino, root->ino, "", 0, NULL);
    if (e)
        return e;
    root->real = st.st_ino;
    root->mode = S_IFDIR | (st.st_mode & 07777);
    atomic_store(&root->ufd, fd);
    atomic_store_explicit(&root->has_upper, true, memory_order_release);
    return NULL;
}

void vfs_upper_detach(vfs_view *vw)
{
    if (!vw->upper)
        return;
    if (vw->upper_fd >= 0)
        close(vw->upper_fd);
    if (vw->work_fd >= 0)
        close(vw->work_fd);
    vfs_ut_destroy(&vw->ut);
    pthread_mutex_destroy(&vw->rename_mu);
    free(vw->upper);
    vw->upper = NULL;
}
