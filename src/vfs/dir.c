/* Making entries in the upper directory: create, mkdir, mknod (fifos),
 * symlink and link.
 *
 * Every one goes the same way, under the parent's dlock held exclusively:
 * the name must not show in the view; if a whiteout sits at the name (a
 * deleted lower entry), the new entry is made in UPPER_WORK, complete, and
 * then takes the whiteout's place in one rename (a directory swaps with a
 * 0/0 whiteout, since rename cannot put a directory over a device), so a
 * crash never brings the deleted lower entry back; otherwise it is made in
 * place. A directory made where a lower directory is hidden is marked
 * opaque before it takes its place, so the old contents stay hidden. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/path.h"
#include "layer/upper.h"
#include "vfs/vfs_internal.h"

typedef enum { MK_FILE, MK_REG, MK_DIR, MK_FIFO, MK_SYMLINK, MK_LINK } mk_kind;

typedef struct mk {
    mk_kind kind;
    mode_t mode;
    int oflags;           /* MK_FILE: the open flags */
    const char *target;   /* MK_SYMLINK */
    vfs_inode *src;       /* MK_LINK: the linked inode */
    int srcfd;            /* MK_LINK: its O_PATH descriptor */
    const vfs_cred *cred; /* the new entry's owner */
    int fd;               /* MK_FILE: the open file, or -1 */
} mk;

/* Makes the entry at (dfd, name); returns 0 or an errno. */
static int mk_at(vfs_view *vw, int dfd, const char *name, mk *m)
{
    int fd;
    char p[32];
    switch (m->kind) {
    case MK_FILE:
    case MK_REG:
        fd = openat(dfd, name,
                    O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
                        (m->kind == MK_FILE
                             ? m->oflags & (O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC | O_NOATIME)
                             : O_WRONLY),
                    0600);
        if (fd < 0)
            return errno;
        vfs_upper_chown_new(vw, dfd, name, m->cred);
        if (fchmod(fd, m->mode) < 0) {
            int err = errno;
            close(fd);
            unlinkat(dfd, name, 0);
            return err;
        }
        if (m->kind == MK_FILE)
            m->fd = fd;
        else
            close(fd);
        return 0;
    case MK_DIR:
    case MK_FIFO:
        if ((m->kind == MK_DIR ? mkdirat(dfd, name, 0700) : mknodat(dfd, name, S_IFIFO | 0600, 0)) <
            0)
            return errno;
        vfs_upper_chown_new(vw, dfd, name, m->cred);
        if (fchmodat(dfd, name, m->mode, 0) < 0) {
            int err = errno;
            unlinkat(dfd, name, m->kind == MK_DIR ? AT_REMOVEDIR : 0);
            return err;
        }
        return 0;
    case MK_SYMLINK:
        if (symlinkat(m->target, dfd, name) < 0)
            return errno;
        vfs_upper_chown_new(vw, dfd, name, m->cred);
        return 0;
    case MK_LINK:
        vfs_fd_path(m->srcfd, p);
        return linkat(AT_FDCWD, p, dfd, name, AT_SYMLINK_FOLLOW) < 0 ? errno : 0;
    }
    return EINVAL;
}

/* Puts a complete entry, made as tmp in UPPER_WORK, at name where the
 * probe found a whiteout (k) or nothing. */
static int place(vfs_view *vw, int dfd, const char *name, const char *tmp, int k, bool isdir)
{
    int w = vw->work_fd;
    if (k == VFS_UP_WHITEOUT && isdir) {
        if (renameat2(w, tmp, dfd, name, RENAME_EXCHANGE) == 0) {
            unlinkat(w, tmp, 0); /* the whiteout, now in UPPER_WORK */
            return 0;
        }
        if (errno != EINVAL)
            return errno;
        /* No exchange here: two steps, under the directory's lock. */
        if (unlinkat(dfd, name, 0) < 0)
            return errno;
    }
    if (renameat(w, tmp, dfd, name) < 0)
        return errno;
    if (k == VFS_UP_WHFILE) {
        char wh[NAME_MAX + 8];
        snprintf(wh, sizeof(wh), "%s%s", UPPER_WHITEOUT_PREFIX, name);
        unlinkat(dfd, wh, 0);
    }
    return 0;
}

/* Makes entry m at name in dir; *out gets it, referenced. When the name
 * shows already, EEXIST, and *existing (if not NULL) gets that entry. */
static strata_err *make_entry(vfs *v, vfs_inode *dir, const char *name, size_t len, mk *m,
                              const char *op, vfs_inode **out, vfs_inode **existing)
{
    *out = NULL;
    if (existing)
        *existing = NULL;
    vfs_view *vw = dir->view;
    strata_err *e = vfs_need_upper(vw, op);
    if (!e && !vfs_inode_is_dir(dir))
        e = vfs_err(ENOTDIR, "make entries in directories only",
                    "%s: inode %#llx is not a directory", op, (unsigned long long)dir->ino);
    if (!e)
        e = vfs_check_new_name(dir, name, len, op);
    if (!e)
        e = vfs_copy_up(v, dir, UINT64_MAX);
    int dfd;
    bool own;
    if (!e)
        e = vfs_dir_lock(v, dir, &dfd, &own);
    if (e)
        return e;
    char nm[NAME_MAX + 1];
    memcpy(nm, name, len);
    nm[len] = '\0';
    vfs_inode *old = NULL;
    e = vfs_child_get(v, dir, name, len, true, &old);
    if (!e) {
        e = vfs_err(EEXIST, "choose another name or remove the entry first", "%s '%s': it exists",
                    op, nm);
        if (existing)
            *existing = old;
        else
            vfs_iput(v, old);
    } else if (vfs_errno(e) == ENOENT) {
        strata_err_free(e);
        e = NULL;
    }
    struct stat st;
    int k = e ? 0 : vfs_upper_probe(vw, dfd, nm, &st);
    if (!e && k < 0)
        e = vfs_err_sys(-k, "%s '%s'", op, nm);
    else if (!e && k == VFS_UP_ENTRY) /* hidden from the view, yet there: keep it */
        e = vfs_err(EEXIST, "the upper directory holds this name; remove it there",
                    "%s '%s': the upper directory has an entry of this name", op, nm);
    /* A set-group-ID directory hands its group to what is made in it, and
     * the bit to new directories, as every Linux filesystem does. Neither
     * happens by itself here: the entry may be made in UPPER_WORK, and the
     * chmod to the asked mode clears the bit. (The group only where the
     * server chowns new entries, as root.) */
    const vfs_cred *asked = m->cred;
    vfs_cred gcred;
    struct stat pst;
    if (!e && m->kind != MK_LINK && fstat(dfd, &pst) == 0 && (pst.st_mode & S_ISGID)) {
        if (m->kind == MK_DIR)
            m->mode |= S_ISGID;
        if (m->cred) {
            gcred = *m->cred;
            gcred.gid = (uint32_t)pst.st_gid;
            m->cred = &gcred;
        }
    }
    bool opaque = !e && m->kind == MK_DIR && vfs_lower_dir_at(vw, dir, name, len);
    int err = 0;
    if (!e && k == VFS_UP_NONE && !opaque) {
        err = mk_at(vw, dfd, nm, m);
    } else if (!e) {
        char tmp[48];
        vfs_tmpname(vw, tmp);
        err = mk_at(vw, vw->work_fd, tmp, m);
        if (!err && opaque) {
            int fd = openat(vw->work_fd, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            e = fd < 0 ? vfs_err_sys(errno, "%s '%s'", op, nm) : vfs_set_opaque(vw, fd);
            if (fd >= 0)
                close(fd);
        }
        if (!err && !e)
            err = place(vw, dfd, nm, tmp, k, m->kind == MK_DIR);
        if (err || e)
            vfs_work_remove(vw, tmp);
    }
    if (!e && err)
        e = vfs_err_sys(err, "%s '%s'", op, nm);
    if (!e && fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) < 0)
        e = vfs_err_sys(errno, "%s '%s'", op, nm);
    if (!e && m->kind == MK_LINK) {
        e = vfs_ut_add_loc(&vw->ut, m->src->ino, dir->ino, name, len);
        if (!e) {
            *out = vfs_itable_find(v, vw, m->src->ino);
            if (!*out && vfs_view_gone(vw))
                e = vfs_err(ESTALE, "the view was detached", "link: the view was detached");
            else if (!*out)
                e = strata_err_new(STRATA_E_INTERNAL, NULL, "vfs: linked inode left memory");
        }
    } else if (!e) {
        uint64_t num;
        e = vfs_upper_number(vw, &num);
        if (!e)
            e = vfs_ut_add(&vw->ut, num, st.st_ino, dir->ino, name, len, NULL);
        if (!e)
            e = vfs_upper_child(v, dir, dfd, nm, len, &st, out);
    }
    if (!err && !e)
        vfs_ut_bump(&vw->ut, dir->ino);
    vfs_dir_unlock(dir, dfd, own);
    m->cred = asked;
    if (e && m->kind == MK_FILE && m->fd >= 0) {
        close(m->fd);
        m->fd = -1;
    }
    return e;
}

/* Turns the new entry's reference into one counted lookup and fills *out. */
static strata_err *answer(vfs *v, vfs_inode *in, vfs_attr *out)
{
    vfs_attr a;
    strata_err *e = vfs_fill_attr(in, out ? out : &a);
    if (e)
        vfs_iput(v, in);
    else
        vfs_iput_lookups(v, in, 1);
    return e;
}

/* Makes m at name in directory parent and answers with it. */
static strata_err *make_in(vfs *v, uint64_t parent, const char *name, size_t len, mk *m,
                           const char *op, vfs_attr *out)
{
    vfs_inode *dir, *in;
    strata_err *e = vfs_iget(v, parent, &dir);
    if (e)
        return e;
    e = make_entry(v, dir, name, len, m, op, &in, NULL);
    vfs_iput(v, dir);
    return e ? e : answer(v, in, out);
}

/* open(O_CREAT) of a name that exists: opens it unless O_EXCL. */
static strata_err *create_existing(vfs *v, vfs_inode *old, const char *name, size_t len, int flags,
                                   vfs_attr *out, vfs_file **fh)
{
    strata_err *e = NULL;
    if (S_ISDIR(old->mode))
        e = vfs_err(EISDIR, "open directories with readdir", "create '%.*s': it is a directory",
                    (int)len, name);
    else if (!S_ISREG(old->mode))
        e = vfs_err(EEXIST, "remove it first", "create '%.*s': it exists", (int)len, name);
    if (!e)
        e = vfs_open(v, old->ino, flags & ~(O_CREAT | O_EXCL), fh);
    if (!e) {
        e = answer(v, old, out);
        if (e) {
            vfs_release(v, *fh);
            *fh = NULL;
        }
    } else {
        vfs_iput(v, old);
    }
    return e;
}

strata_err *vfs_create(vfs *v, uint64_t parent, const char *name, size_t len, uint32_t mode,
                       int flags, const vfs_cred *cred, vfs_attr *out, vfs_file **fh)
{
    *fh = NULL;
    vfs_inode *dir;
    strata_err *e = vfs_iget(v, parent, &dir);
    if (e)
        return e;
    mk m = {.kind = MK_FILE, .mode = mode & 07777, .oflags = flags, .cred = cred, .fd = -1};
    vfs_inode *in = NULL, *old = NULL;
    e = make_entry(v, dir, name, len, &m, "create", &in, &old);
    vfs_iput(v, dir);
    if (old) {
        if (flags & O_EXCL) {
            vfs_iput(v, old);
            return e;
        }
        strata_err_free(e);
        return create_existing(v, old, name, len, flags, out, fh);
    }
    if (e)
        return e;
    vfs_file *f = calloc(1, sizeof(*f));
    if (!f) {
        close(m.fd);
        vfs_iput(v, in);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory creating '%.*s'", (int)len,
                              name);
    }
    f->in = in; /* the handle keeps the reference */
    f->flags = flags;
    atomic_init(&f->fd, m.fd);
    vfs_attr a;
    e = vfs_fill_attr(in, out ? out : &a);
    if (e) {
        vfs_release(v, f);
        return e;
    }
    vfs_ilookups(v, in, 1);
    *fh = f;
    return NULL;
}

strata_err *vfs_mkdir(vfs *v, uint64_t parent, const char *name, size_t len, uint32_t mode,
                      const vfs_cred *cred, vfs_attr *out)
{
    mk m = {.kind = MK_DIR, .mode = mode & 07777, .cred = cred, .fd = -1};
    return make_in(v, parent, name, len, &m, "mkdir", out);
}

strata_err *vfs_mknod(vfs *v, uint64_t parent, const char *name, size_t len, uint32_t mode,
                      uint64_t rdev, const vfs_cred *cred, vfs_attr *out)
{
    (void)rdev;
    mk_kind kind;
    switch (mode & S_IFMT) {
    case S_IFIFO:
        kind = MK_FIFO;
        break;
    case 0:
    case S_IFREG:
        kind = MK_REG;
        break;
    case S_IFCHR:
    case S_IFBLK:
        return vfs_err(EPERM, "a layer cannot hold devices; create them outside the mount",
                       "mknod '%.*s': devices are not allowed", (int)len, name);
    case S_IFSOCK:
        return vfs_err(ENOTSUP, "a layer cannot hold sockets; bind them outside the mount",
                       "mknod '%.*s': sockets are not supported", (int)len, name);
    default:
        return vfs_err(EINVAL, "make fifos or regular files with mknod", "mknod '%.*s': type %#o",
                       (int)len, name, mode & S_IFMT);
    }
    mk m = {.kind = kind, .mode = mode & 07777, .cred = cred, .fd = -1};
    return make_in(v, parent, name, len, &m, "mknod", out);
}

strata_err *vfs_symlink(vfs *v, uint64_t parent, const char *name, size_t len, const char *target,
                        const vfs_cred *cred, vfs_attr *out)
{
    size_t tl = strlen(target);
    if (tl == 0 || tl > VFS_LINK_MAX)
        return vfs_err(tl ? ENAMETOOLONG : ENOENT, "layers hold link targets of 1..4095 bytes",
                       "symlink '%.*s': a target of %zu bytes", (int)len, name, tl);
    mk m = {.kind = MK_SYMLINK, .mode = 0777, .target = target, .cred = cred, .fd = -1};
    return make_in(v, parent, name, len, &m, "symlink", out);
}

strata_err *vfs_link(vfs *v, uint64_t ino, uint64_t newparent, const char *name, size_t len,
                     vfs_attr *out)
{
    vfs_inode *src;
    strata_err *e = vfs_iget(v, ino, &src);
    if (e)
        return e;
    e = vfs_need_upper(src->view, "link");
    vfs_inode *dir = NULL;
    if (!e)
        e = vfs_iget(v, newparent, &dir);
    if (!e && dir->view != src->view)
        e = vfs_err(EXDEV, "link within one slot",
                    "link: the entry and the directory are in different slots");
    if (!e && vfs_inode_is_dir(src)) {
        /* As link(2): an existing name first, then the directory. */
        vfs_inode *old = NULL;
        strata_err *le =
            vfs_inode_is_dir(dir) ? vfs_child_get(v, dir, name, len, false, &old) : NULL;
        if (old)
            e = vfs_err(EEXIST, "choose another name", "link: '%.*s' exists", (int)len, name);
        else
            e = vfs_err(EPERM, "directories cannot have hard links",
                        "link: inode %#llx is a directory", (unsigned long long)ino);
        vfs_iput(v, old);
        strata_err_free(le);
    }
    if (!e && vfs_is_dead(src))
        e = vfs_err(ENOENT, "look the path up again", "link: inode %#llx was removed",
                    (unsigned long long)ino);
    if (!e)
        e = vfs_copy_up(v, src, UINT64_MAX);
    int fd = -1;
    bool own = false;
    if (!e)
        e = vfs_upper_fd(src, &fd, &own);
    if (!e) {
        mk m = {.kind = MK_LINK, .src = src, .srcfd = fd, .fd = -1};
        vfs_inode *in;
        e = make_entry(v, dir, name, len, &m, "link", &in, NULL);
        if (!e)
            e = answer(v, in, out);
        vfs_upper_fd_done(fd, own);
    }
    vfs_iput(v, dir);
    vfs_iput(v, src);
    return e;
}
