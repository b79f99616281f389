/* Looking a name up in a directory, and finding an entry again from its
 * number alone in a view with an upper directory.
 *
 * Without an upper directory a lookup is the parent's merged lower
 * children (built once, then read without a lock) and a binary search.
 * With one, the upper directory is one more layer on top, consulted
 * first: an entry there wins, a whiteout there hides the name, and only
 * otherwise do the lower children answer (none for an opaque directory).
 * Such lookups hold the directory's dlock shared, so they never see a
 * change to its entries half made. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/path.h"
#include "layer/upper.h"
#include "vfs/vfs_internal.h"

#define NOENT_HINT   "check the name; 'strata ls REF' lists what a layer holds"
#define STALE_HINT   "the handle names nothing here any more; look the path up again"
#define DERIVE_TRIES 64

static bool is_work(const vfs_inode *dir, const char *name, size_t len)
{
    return dir == dir->view->root && len == strlen(UPPER_WORK) && !memcmp(name, UPPER_WORK, len);
}

static bool is_whname(const char *name, size_t len)
{
    size_t n = strlen(UPPER_WHITEOUT_PREFIX);
    return len >= n && memcmp(name, UPPER_WHITEOUT_PREFIX, n) == 0;
}

static strata_err *noent(const char *name, size_t len)
{
    return vfs_err(ENOENT, NOENT_HINT, "lookup '%.*s': no such entry", (int)len, name);
}

bool vfs_lower_has(vfs *v, vfs_inode *dir, const char *name, size_t len)
{
    (void)v;
    if (dir->nstack == 0)
        return false;
    const vfs_children *c;
    strata_err *e = vfs_lower_children(dir->view, dir, &c);
    if (e) {
        /* Out of memory: a whiteout too many is harmless, one too few
         * would bring a deleted entry back. */
        strata_err_free(e);
        return true;
    }
    return vfs_children_find(c, name, len) != NULL;
}

static strata_err *child_locked(vfs *v, vfs_inode *dir, const char *name, size_t len,
                                vfs_inode **out)
{
    *out = NULL;
    vfs_view *vw = dir->view;
    if (vw->upper) {
        if (vfs_is_dead(dir))
            return vfs_err(ENOENT, "the directory was removed", "lookup '%.*s': directory removed",
                           (int)len, name);
        if (is_work(dir, name, len))
            return noent(name, len);
        if (vfs_has_upper(dir)) {
            char nm[NAME_MAX + 1];
            memcpy(nm, name, len);
            nm[len] = '\0';
            int dfd;
            bool own;
            strata_err *e = vfs_upper_fd(dir, &dfd, &own);
            if (e)
                return e;
            struct stat st;
            int k = vfs_upper_probe(vw, dfd, nm, &st);
            if (k == VFS_UP_ENTRY && !is_whname(name, len))
                e = vfs_upper_child(v, dir, dfd, nm, len, &st, out);
            else if (k == VFS_UP_ENTRY || k == VFS_UP_WHITEOUT || k == VFS_UP_WHFILE)
                e = noent(name, len);
            else if (k < 0)
                e = vfs_err_sys(-k, "lookup '%s'", nm);
            vfs_upper_fd_done(dfd, own);
            if (e || *out)
                return e;
        }
    }
    if (dir->nstack == 0)
        return noent(name, len);
    const vfs_children *c;
    strata_err *e = vfs_lower_children(vw, dir, &c);
    if (e)
        return e;
    const vfs_dent *d = vfs_children_find(c, name, len);
    if (!d)
        return noent(name, len);
    return vfs_iget_child(v, dir, d, out);
}

strata_err *vfs_child_get(vfs *v, vfs_inode *dir, const char *name, size_t len, bool locked,
                          vfs_inode **out)
{
    if (dir->view->slotdir)
        return vfs_slotdir_child(v, name, len, out);
    if (locked || !dir->view->upper)
        return child_locked(v, dir, name, len, out);
    pthread_rwlock_rdlock(&dir->dlock);
    strata_err *e = child_locked(v, dir, name, len, out);
    pthread_rwlock_unlock(&dir->dlock);
    return e;
}

/* Fills *out from in and, on success, turns the caller's reference into
 * one counted lookup. */
static strata_err *answer(vfs *v, vfs_inode *in, vfs_attr *out)
{
    strata_err *e = vfs_fill_attr(in, out);
    if (e)
        vfs_iput(v, in);
    else
        vfs_iput_lookups(v, in, 1);
    return e;
}

strata_err *vfs_lookup(vfs *v, uint64_t parent, const char *name, size_t len, vfs_attr *out)
{
    if (len > PATH_NAME_MAX)
        return vfs_err(ENAMETOOLONG, "names are at most 255 bytes",
                       "lookup: a name of %zu bytes is too long", len);
    if (len == 0 || memchr(name, '/', len) || memchr(name, '\0', len))
        return vfs_err(EINVAL, "pass a single path component", "lookup: invalid name '%.*s'",
                       (int)len, name);
    vfs_inode *dir;
    strata_err *e = vfs_iget(v, parent, &dir);
    if (e)
        return e;
    if (!vfs_inode_is_dir(dir)) {
        vfs_iput(v, dir);
        return vfs_err(ENOTDIR, "look names up in directories only",
                       "lookup '%.*s': inode %#llx is not a directory", (int)len, name,
                       (unsigned long long)parent);
    }
    if (len == 1 && name[0] == '.')
        return answer(v, dir, out);
    if (len == 2 && name[0] == '.' && name[1] == '.') {
        vfs_inode *up;
        e = vfs_iget_in(v, dir->view, vfs_parent_of(dir), &up);
        vfs_iput(v, dir);
        return e ? e : answer(v, up, out);
    }
    vfs_inode *child = NULL;
    e = vfs_child_get(v, dir, name, len, false, &child);
    vfs_iput(v, dir);
    return e ? e : answer(v, child, out);
}

strata_err *vfs_check_new_name(const vfs_inode *dir, const char *name, size_t len, const char *op)
{
    if (len > PATH_NAME_MAX)
        return vfs_err(ENAMETOOLONG, "names are at most 255 bytes",
                       "%s: a name of %zu bytes is too long", op, len);
    if (len == 0 || memchr(name, '/', len) || memchr(name, '\0', len))
        return vfs_err(EINVAL, "pass a single path component", "%s: invalid name '%.*s'", op,
                       (int)len, name);
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return vfs_err(EEXIST, "choose another name", "%s: '%.*s' always exists", op, (int)len,
                       name);
    if (is_whname(name, len))
        return vfs_err(EINVAL, "choose a name that does not start with '.wh.'",
                       "%s '%.*s': '.wh.' names mark deletions in the upper directory", op,
                       (int)len, name);
    if (dir->view->upper && is_work(dir, name, len))
        return vfs_err(EPERM, "choose another name",
                       "%s '%.*s': the name is the upper directory's scratch space", op, (int)len,
                       name);
    return NULL;
}

/* ---- finding an entry from its number ------------------------------------ */

/* ino, if it is what directory parent shows at name. */
static strata_err *try_place(vfs *v, const vfs_view *vw, uint64_t ino, uint64_t parent,
                             const char *name, size_t len, vfs_inode **out)
{
    vfs_inode *dir;
    strata_err *e = vfs_iget_in(v, vw, parent, &dir);
    if (e)
        return e;
    vfs_inode *child = NULL;
    if (!vfs_inode_is_dir(dir))
        e = vfs_err(ESTALE, STALE_HINT, "inode %#llx: its directory is gone",
                    (unsigned long long)ino);
    else
        e = vfs_child_get(v, dir, name, len, false, &child);
    vfs_iput(v, dir);
    if (!e && child->ino != ino) {
        vfs_iput(v, child);
        e = vfs_err(ESTALE, STALE_HINT, "inode %#llx: another entry is at its place",
                    (unsigned long long)ino);
    }
    if (e && vfs_errno(e) == ENOENT) {
        strata_err_free(e);
        e = vfs_err(ESTALE, STALE_HINT, "inode %#llx is gone", (unsigned long long)ino);
    }
    *out = e ? NULL : child;
    return e;
}

/* Looks a path below the upper root up through the view, which records
 * every name it meets. */
static strata_err *walk_path(vfs *v, vfs_view *vw, const char *path, vfs_inode **out)
{
    vfs_inode *ref;
    strata_err *e = vfs_iget_in(v, vw, vw->root->ino, &ref);
    for (const char *p = path; !e && *p;) {
        const char *sl = strchr(p, '/');
        size_t len = sl ? (size_t)(sl - p) : strlen(p);
        vfs_inode *next = NULL;
        e = vfs_child_get(v, ref, p, len, false, &next);
        vfs_iput(v, ref);
        ref = next;
        p += len + (sl != NULL);
    }
    *out = e ? NULL : ref;
    return e;
}

/* Finds a path of real inode real below directory fd (the path so far in
 * buf, at bytes); true when found, the path then in buf. */
static bool scan_upper(int fd, uint64_t real, char *buf, size_t at, bool root, int depth)
{
    int rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;
    if (!d) {
        if (rfd >= 0)
            close(rfd);
        return false;
    }
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t l = strlen(nm);
        if (!strcmp(nm, ".") || !strcmp(nm, "..") || is_whname(nm, l) ||
            (root && !strcmp(nm, UPPER_WORK)) || at + l + 2 > PATH_MAX)
            continue;
        if (at)
            buf[at] = '/';
        memcpy(buf + at + (at != 0), nm, l + 1);
        size_t end = at + (at != 0) + l;
        struct stat st;
        if (de->d_ino == real && fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            st.st_ino == real) {
            found = true;
        } else if ((de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) && depth < 256) {
            int sub = openat(fd, nm, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                found = scan_upper(sub, real, buf, end, false, depth + 1);
                close(sub);
            }
        }
    }
    closedir(d);
    return found;
}

/* The last resort for a number whose record knows no name any more (a
 * hard link made before this mount lost the one name met so far): look
 * for its real inode in the upper directory. Rare, and bounded by the
 * upper directory's size. */
static strata_err *derive_by_scan(vfs *v, vfs_view *vw, uint64_t ino, vfs_inode **out)
{
    uint64_t real;
    char *buf = malloc(PATH_MAX);
    strata_err *e = NULL;
    if (!buf)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    if (vfs_ut_real(&vw->ut, ino, &real) && scan_upper(vw->upper_fd, real, buf, 0, true, 0))
        e = walk_path(v, vw, buf, out);
    else
        e = vfs_err(ESTALE, STALE_HINT, "inode %#llx is gone", (unsigned long long)ino);
    free(buf);
    if (!e && (*out)->ino != ino) {
        vfs_iput(v, *out);
        *out = NULL;
        e = vfs_err(ESTALE, STALE_HINT, "inode %#llx is gone", (unsigned long long)ino);
    }
    return e;
}

/* One try at finding ino from its record or its lower place. */
static strata_err *derive_once(vfs *v, vfs_view *vw, uint64_t ino, char *name, vfs_inode **out,
                               bool *recorded)
{
    strata_err *e = NULL;
    uint64_t parent;
    *recorded = false;
    /* Upper entries, and lower ones that were copied up or moved, are
     * where the table says (any of their names will do)... */
    for (uint32_t i = 0; vfs_ut_loc(&vw->ut, ino, i, &parent, name, NAME_MAX + 1); i++) {
        *recorded = true;
        strata_err_free(e);
        e = try_place(v, vw, ino, parent, name, strlen(name), out);
        if (!e)
            return NULL;
    }
    if (*recorded)
        return e;
    if (vfs_ut_has(&vw->ut, ino))
        return derive_by_scan(v, vw, ino, out);
    if (vfs_ino_src(ino) == VFS_SRC_UPPER)
        return vfs_err(ESTALE, STALE_HINT, "inode %#llx is gone", (unsigned long long)ino);
    /* ... and other lower entries are at their lower place, inside their
     * lower directory, wherever that directory is now. */
    const char *lname;
    size_t llen;
    e = vfs_lower_place(vw, ino, &parent, &lname, &llen);
    if (!e)
        e = try_place(v, vw, ino, parent, lname, llen, out);
    return e;
}

strata_err *vfs_upper_derive(vfs *v, vfs_view *vw, uint64_t ino, vfs_inode **out)
{
    *out = NULL;
    char *name = malloc(NAME_MAX + 1);
    if (!name)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    strata_err *e = NULL;
    /* A rename may move the entry (or a directory above it) between
     * reading where it is and looking there: the table is updated under
     * the same locks as the rename, so a few more tries find it. */
    for (int tries = 0; tries < DERIVE_TRIES; tries++) {
        strata_err_free(e);
        uint64_t moves = atomic_load(&vw->renames);
        bool recorded;
        e = derive_once(v, vw, ino, name, out, &recorded);
        if (!e || vfs_errno(e) != ESTALE || atomic_load(&vw->renames) == moves)
            break;
        sched_yield();
    }
    free(name);
    return e;
}
