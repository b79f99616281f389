/* The FUSE request handlers: each low-level operation of libfuse3 turned
 * into a vfs call, and the vfs's answer into the reply (the shape of
 * libfuse's example/passthrough_ll.c, with the vfs in place of a
 * directory). Node ids are vfs inode numbers unchanged: slot 0's root is
 * 1 == FUSE_ROOT_ID, and the vfs finds any number again by itself.
 *
 * Caching follows VFS_ATTR_IMMUTABLE. Lower entries never change, so they
 * get the long timeout for entries and attributes, keep_cache on open,
 * cached directory listings and cached negative lookups (a name missing
 * from an immutable directory stays missing); everything else gets the
 * short timeout.
 *
 * Writes go to the view's upper directory through the vfs; see "writes"
 * below for why no cache invalidation is needed. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "base/path.h"
#include "transport/fuse_internal.h"

/* Largest read or write the kernel may send: libfuse's own buffer limit
 * (256 pages), which also sets the kernel's max_pages. */
#define FUSEFS_MAX_IO (1u << 20)
/* Background requests (readahead) in flight: the kernel's default of 12
 * starves several sequential readers at once. */
#define FUSEFS_MAX_BACKGROUND 64

const fuse_lib *fusefs_fl;
#define FL fusefs_fl

static fusefs_srv *srv_of(fuse_req_t req)
{
    return FL->req_userdata(req);
}

/* Every failure is answered with the errno the vfs chose for it. */
static void reply_vfs_err(fuse_req_t req, strata_err *e)
{
    int err = vfs_errno(e);
    strata_err_free(e);
    FL->reply_err(req, err > 0 ? err : EIO);
}

static double timeout_of(const fusefs_srv *s, const vfs_attr *a)
{
    return (a->flags & VFS_ATTR_IMMUTABLE) ? s->lower_timeout : s->upper_timeout;
}

static void attr_to_stat(const vfs_attr *a, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = a->ino;
    st->st_mode = a->mode;
    st->st_nlink = a->nlink;
    st->st_uid = a->uid;
    st->st_gid = a->gid;
    st->st_size = (off_t)a->size;
    st->st_blocks = (blkcnt_t)a->blocks;
    st->st_blksize = (blksize_t)a->blksize;
    st->st_atim = (struct timespec){.tv_sec = a->atime.sec, .tv_nsec = a->atime.nsec};
    st->st_mtim = (struct timespec){.tv_sec = a->mtime.sec, .tv_nsec = a->mtime.nsec};
    st->st_ctim = (struct timespec){.tv_sec = a->ctime.sec, .tv_nsec = a->ctime.nsec};
}

static void fill_entry(const fusefs_srv *s, const vfs_attr *a, struct fuse_entry_param *ep)
{
    memset(ep, 0, sizeof(*ep));
    ep->ino = a->ino;
    attr_to_stat(a, &ep->attr);
    ep->attr_timeout = ep->entry_timeout = timeout_of(s, a);
    /* Over several slots a number comes back in the slot's next view:
     * the kernel must not take the new entry for its old inode. */
    if (s->gate)
        ep->generation = vfs_slot_generation(s->v, vfs_ino_slot(a->ino));
}

/* ---- session ----------------------------------------------------------- */

#define WANT(conn, cap)                                                                            \
    do {                                                                                           \
        if ((conn)->capable & (cap))                                                               \
            (conn)->want |= (cap);                                                                 \
    } while (0)

/* libfuse aborts the session when we want what the kernel cannot do, so
 * every capability is asked for only where it is offered. */
static void fusefs_init(void *userdata, struct fuse_conn_info *conn)
{
    fusefs_srv *s = userdata;
    /* One READDIRPLUS answers both the listing and the lookups that
     * follow it (ls -l, find, a build's stat storm). */
    WANT(conn, FUSE_CAP_READDIRPLUS);
    /* Immutable entries never change their link target. */
    WANT(conn, FUSE_CAP_CACHE_SYMLINKS);
    WANT(conn, FUSE_CAP_ASYNC_READ);
    WANT(conn, FUSE_CAP_PARALLEL_DIROPS);
    /* O_TRUNC comes with OPEN: a lower file about to be emptied is then
     * copied up without its content, not copied and then truncated. */
    WANT(conn, FUSE_CAP_ATOMIC_O_TRUNC);
    /* Splicing only pays for large writes, and the handlers reply from
     * memory; not measured to help reads. */
    conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
    conn->max_write = FUSEFS_MAX_IO;
    conn->max_background = FUSEFS_MAX_BACKGROUND;
    conn->congestion_threshold = FUSEFS_MAX_BACKGROUND * 3 / 4;
    conn->time_gran = 1;
    /* max_readahead stays at what the kernel offered: it can only be
     * lowered here. */
    bool no_open = s->want_no_open && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
    /* Without OPEN requests, O_TRUNC can only come as a SETATTR of the
     * size (which copies a lower file up with nothing of its content): a
     * kernel told that OPEN truncates would send neither. libfuse asks
     * for atomic O_TRUNC by default, so it is taken back here. */
    if (no_open)
        conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
    atomic_store(&s->no_open, no_open);
    atomic_store(&s->inited, true);
}

/* ---- names and attributes ---------------------------------------------- */

static void fusefs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    fusefs_srv *s = srv_of(req);
    vfs_attr a;
    struct fuse_entry_param ep;
    strata_err *e = vfs_lookup(s->v, parent, name, strlen(name), &a);
    if (!e) {
        fill_entry(s, &a, &ep);
        /* An interrupted lookup's reply never reaches the kernel, which
         * then never forgets it either. */
        if (FL->reply_entry(req, &ep) != 0)
            vfs_forget(s->v, a.ino, 1);
        return;
    }
    if (vfs_errno(e) == ENOENT) {
        /* A negative entry, cached as long as the directory cannot
         * change: compilers probe include paths for names that are not
         * there, over and over. */
        vfs_attr pa;
        strata_err *pe = vfs_getattr(s->v, parent, &pa);
        if (!pe && s->cache_negative && timeout_of(s, &pa) > 0) {
            strata_err_free(e);
            memset(&ep, 0, sizeof(ep));
            ep.entry_timeout = timeout_of(s, &pa);
            FL->reply_entry(req, &ep);
            return;
        }
        strata_err_free(pe);
    }
    reply_vfs_err(req, e);
}

static void fusefs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    vfs_forget(srv_of(req)->v, ino, nlookup);
    FL->reply_none(req);
}

static void fusefs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    fusefs_srv *s = srv_of(req);
    for (size_t i = 0; i < count; i++)
        vfs_forget(s->v, forgets[i].ino, forgets[i].nlookup);
    FL->reply_none(req);
}

static void fusefs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    fusefs_srv *s = srv_of(req);
    vfs_attr a;
    strata_err *e = vfs_getattr(s->v, ino, &a);
    if (e) {
        reply_vfs_err(req, e);
        return;
    }
    struct stat st;
    attr_to_stat(&a, &st);
    FL->reply_attr(req, &st, timeout_of(s, &a));
}

static void fusefs_readlink(fuse_req_t req, fuse_ino_t ino)
{
    char target[VFS_LINK_MAX + 1];
    size_t len;
    strata_err *e = vfs_readlink(srv_of(req)->v, ino, target, sizeof(target), &len);
    if (e)
        reply_vfs_err(req, e);
    else
        FL->reply_readlink(req, target);
}

static void fusefs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
    const struct fuse_ctx *c = FL->req_ctx(req);
    strata_err *e = vfs_access(srv_of(req)->v, ino, mask, c->uid, c->gid);
    if (e)
        reply_vfs_err(req, e);
    else
        FL->reply_err(req, 0);
}

static void fusefs_statfs(fuse_req_t req, fuse_ino_t ino)
{
    vfs_statfs sf;
    strata_err *e = vfs_statfs_get(srv_of(req)->v, ino, &sf);
    if (e) {
        reply_vfs_err(req, e);
        return;
    }
    struct statvfs st = {
        .f_bsize = sf.bsize,
        .f_frsize = sf.frsize,
        .f_blocks = sf.blocks,
        .f_bfree = sf.bfree,
        .f_bavail = sf.bavail,
        .f_files = sf.files,
        .f_ffree = sf.ffree,
        .f_favail = sf.ffree,
        .f_namemax = sf.namemax,
    };
    FL->reply_statfs(req, &st);
}

/* ---- files ------------------------------------------------------------- */

static void fusefs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    fusefs_srv *s = srv_of(req);
    if (atomic_load_explicit(&s->no_open, memory_order_relaxed)) {
        /* With no-open, ENOSYS means success, and the kernel opens every
         * file by itself from now on, keeping pages across opens: one
         * round trip less per open, and no release. Reads then come with
         * fh 0 and name the inode. */
        FL->reply_err(req, ENOSYS);
        return;
    }
    vfs_file *f;
    strata_err *e = vfs_open(s->v, ino, fi->flags, &f);
    if (e) {
        reply_vfs_err(req, e);
        return;
    }
    vfs_attr a;
    e = vfs_getattr(s->v, ino, &a);
    /* Pages of a file that never changes stay valid across opens. */
    fi->keep_cache = !e && (a.flags & VFS_ATTR_IMMUTABLE);
    strata_err_free(e);
    /* Nothing to flush on a read-only handle: spare close(2) a round trip. */
    fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
    fi->fh = (uint64_t)(uintptr_t)f;
    /* An interrupted open's reply is lost, and no release will come. */
    if (FL->reply_open(req, fi) != 0)
        vfs_release(s->v, f);
}

/* Reads into a buffer of the request's own: the vfs streams from the
 * store, and no reply ever holds more than the kernel asked for. */
static void fusefs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        struct fuse_file_info *fi)
{
    fusefs_srv *s = srv_of(req);
    if (off < 0) {
        FL->reply_err(req, EINVAL);
        return;
    }
    char *buf = size ? malloc(size) : NULL;
    if (size && !buf) {
        FL->reply_err(req, ENOMEM);
        return;
    }
    size_t got = 0;
    vfs_file *f = (vfs_file *)(uintptr_t)fi->fh;
    strata_err *e = f ? vfs_read(s->v, f, buf, size, (uint64_t)off, &got)
                      : vfs_read_ino(s->v, ino, buf, size, (uint64_t)off, &got);
    if (e)
        reply_vfs_err(req, e);
    else
        FL->reply_buf(req, buf, got);
    free(buf);
}

static void fusefs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    vfs_release(srv_of(req)->v, (vfs_file *)(uintptr_t)fi->fh); /* NULL (no-open): nothing */
    FL->reply_err(req, 0);
}

/* ---- directories ------------------------------------------------------- */

/* Directories keep no per-open state: vfs cookies are stable for the
 * whole mount, so they serve as FUSE offsets directly. */
static void fusefs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    vfs_attr a;
    strata_err *e = vfs_getattr(srv_of(req)->v, ino, &a);
    if (e) {
        reply_vfs_err(req, e);
        return;
    }
    if (!S_ISDIR(a.mode)) {
        FL->reply_err(req, ENOTDIR);
        return;
    }
    fi->fh = 0;
    /* An immutable listing may live in the page cache like file data. */
    fi->cache_readdir = fi->keep_cache = (a.flags & VFS_ATTR_IMMUTABLE) != 0;
    FL->reply_open(req, fi);
}

static void fusefs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    FL->reply_err(req, 0);
}

/* One READDIR(PLUS) reply being filled. */
typedef struct fusefs_dirbuf {
    fuse_req_t req;
    const fusefs_srv *s;
    bool plus;
    char *buf;
    size_t size, used;
    /* readdirplus: the entries whose lookup the vfs counted, to give back
     * if the reply never reaches the kernel, and the size of each that is
     * a small lower file to push once it has (0: none). */
    struct fusefs_counted {
        uint64_t ino, push;
    } * counted;
    size_t ncounted, capcounted;
} fusefs_dirbuf;

static bool is_dot_or_dotdot(const char *name, size_t len)
{
    return name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'));
}

/* A vfs_dirent_fn. Returning false leaves the entry out of the reply and
 * uncounted: the kernel's next call resumes at it. */
static bool fusefs_dir_add(void *ctx, const vfs_dirent *d)
{
    fusefs_dirbuf *b = ctx;
    char name[PATH_NAME_MAX + 1];
    if (d->name_len == 0 || d->name_len > PATH_NAME_MAX)
        return false;
    memcpy(name, d->name, d->name_len);
    name[d->name_len] = '\0';
    char *at = b->buf + b->used;
    size_t room = b->size - b->used, need;
    bool counts = false;
    if (!b->plus) {
        struct stat st = {.st_ino = d->ino, .st_mode = d->type};
        need = FL->add_direntry(b->req, at, room, name, &st, (off_t)d->cookie);
    } else {
        struct fuse_entry_param ep;
        if (is_dot_or_dotdot(d->name, d->name_len)) {
            /* No node id: the kernel takes no lookup for these, and the
             * vfs counts none. */
            memset(&ep, 0, sizeof(ep));
            ep.attr.st_ino = d->ino;
            ep.attr.st_mode = d->type;
        } else {
            fill_entry(b->s, d->attr, &ep);
            counts = true;
            if (b->ncounted == b->capcounted) {
                size_t cap = b->capcounted ? 2 * b->capcounted : 64;
                struct fusefs_counted *nc = realloc(b->counted, cap * sizeof(*nc));
                if (!nc)
                    return false;
                b->counted = nc;
                b->capcounted = cap;
            }
        }
        need = FL->add_direntry_plus(b->req, at, room, name, &ep, (off_t)d->cookie);
    }
    if (need > room)
        return false;
    b->used += need;
    if (counts) {
        /* A lower file (immutable) small enough to push. */
        const vfs_attr *a = d->attr;
        bool push = b->s->pusher && (a->flags & VFS_ATTR_IMMUTABLE) && S_ISREG(a->mode) &&
                    a->size > 0 && a->size <= FUSEFS_PUSH_MAX;
        b->counted[b->ncounted++] = (struct fusefs_counted){d->ino, push ? a->size : 0};
    }
    return true;
}

static void fusefs_list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
    fusefs_srv *s = srv_of(req);
    /* The offset is the vfs cookie as is, negative for an upper entry's
     * (bit 63): the kernel hands it back unchanged. Only lseek(2) on a
     * directory refuses a negative offset, so seekdir(3) to an upper
     * entry's position fails with EINVAL; listing never needs it. */
    fusefs_dirbuf b = {.req = req, .s = s, .plus = plus, .size = size};
    if (size && !(b.buf = malloc(size))) {
        FL->reply_err(req, ENOMEM);
        return;
    }
    strata_err *e = plus ? vfs_readdirplus(s->v, ino, (uint64_t)off, true, fusefs_dir_add, &b, NULL)
                         : vfs_readdir(s->v, ino, (uint64_t)off, fusefs_dir_add, &b, NULL);
    if (e && b.used == 0) {
        reply_vfs_err(req, e);
    } else {
        /* Entries before a failure go out; the next call meets the
         * failure again, at its first entry. */
        strata_err_free(e);
        if (FL->reply_buf(req, b.buf, b.used) != 0)
            for (size_t i = 0; i < b.ncounted; i++)
                vfs_forget(s->v, b.counted[i].ino, 1);
        else
            /* The kernel knows the inodes now: their bytes can go. */
            for (size_t i = 0; i < b.ncounted; i++)
                if (b.counted[i].push)
                    fusefs_pusher_queue(s->pusher, b.counted[i].ino, b.counted[i].push);
    }
    free(b.counted);
    free(b.buf);
}

static void fusefs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    (void)fi;
    fusefs_list(req, ino, size, off, false);
}

static void fusefs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                               struct fuse_file_info *fi)
{
    (void)fi;
    fusefs_list(req, ino, size, off, true);
}

/* ---- writes ------------------------------------------------------------
 *
 * Each handler is its vfs counterpart; a view with no upper directory
 * answers EROFS from the vfs (and the kernel, mounted "ro", rarely asks).
 * The kernel checks permissions (default_permissions) before it sends a
 * request; the vfs still applies the owner rules of setattr, which need
 * the caller.
 *
 * No invalidation is ever sent: every change to a mounted view comes
 * through this mount, so the kernel sees it happen and updates its own
 * caches (the entry it made, the directory it changed, the attributes a
 * write or setattr returned). What stays cached long is only what cannot
 * change, lower entries, and a lower entry that is copied up keeps its
 * number and its content. Changing the upper directory behind a live
 * mount is not supported, as with overlayfs; upper entries get short
 * timeouts so that such a change shows within a second anyway. */

static vfs_cred cred_of(fuse_req_t req)
{
    const struct fuse_ctx *c = FL->req_ctx(req);
    return (vfs_cred){.uid = (uint32_t)c->uid, .gid = (uint32_t)c->gid};
}

static vfs_file *file_of(const struct fuse_file_info *fi)
{
    return fi ? (vfs_file *)(uintptr_t)fi->fh : NULL;
}

/* Where the kernel keeps negative entries across changes (macFUSE), a
 * name a request made, moved or removed is invalidated, from the
 * notifier's thread. */
static void inval_name(const fusefs_srv *s, uint64_t parent, const char *name)
{
    if (s->notifier)
        fusefs_notifier_queue(s->notifier, parent, name, strlen(name));
}

/* Answers a call that made an entry (and counted a lookup on it). */
static void reply_new_entry(fuse_req_t req, uint64_t parent, const char *name, strata_err *e,
                            const vfs_attr *a)
{
    if (e) {
        reply_vfs_err(req, e);
        return;
    }
    fusefs_srv *s = srv_of(req);
    inval_name(s, parent, name);
    struct fuse_entry_param ep;
    fill_entry(s, a, &ep);
    if (FL->reply_entry(req, &ep) != 0)
        vfs_forget(s->v, a->ino, 1);
}

static void reply_status(fuse_req_t req, strata_err *e)
{
    if (e)
        reply_vfs_err(req, e);
    else
        FL->reply_err(req, 0);
}

/* The same, after a change to name in parent. */
static void reply_changed(fuse_req_t req, uint64_t parent, const char *name, strata_err *e)
{
    if (!e)
        inval_name(srv_of(req), parent, name);
    reply_status(req, e);
}

static vfs_time time_of(const struct timespec *ts)
{
    return (vfs_time){.sec = ts->tv_sec, .nsec = (uint32_t)ts->tv_nsec};
}

static void fusefs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                           struct fuse_file_info *fi)
{
    fusefs_srv *s = srv_of(req);
    vfs_setattr_in sa = {0};
    if (to_set & FUSE_SET_ATTR_MODE) {
        sa.valid |= VFS_SET_MODE;
        sa.mode = attr->st_mode & 07777;
    }
    if (to_set & FUSE_SET_ATTR_UID) {
        sa.valid |= VFS_SET_UID;
        sa.uid = (uint32_t)attr->st_uid;
    }
    if (to_set & FUSE_SET_ATTR_GID) {
        sa.valid |= VFS_SET_GID;
        sa.gid = (uint32_t)attr->st_gid;
    }
    if (to_set & FUSE_SET_ATTR_SIZE) {
        if (attr->st_size < 0) {
            FL->reply_err(req, EINVAL);
            return;
        }
        sa.valid |= VFS_SET_SIZE;
        sa.size = (uint64_t)attr->st_size;
    }
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
        sa.valid |= VFS_SET_ATIME_NOW;
    } else if (to_set & FUSE_SET_ATTR_ATIME) {
        sa.valid |= VFS_SET_ATIME;
        sa.atime = time_of(&attr->st_atim);
    }
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
        sa.valid |= VFS_SET_MTIME_NOW;
    } else if (to_set & FUSE_SET_ATTR_MTIME) {
        sa.valid |= VFS_SET_MTIME;
        sa.mtime = time_of(&attr->st_mtim);
    }
    /* FUSE_SET_ATTR_CTIME alone (the kernel asking to update ctime, which
     * any change does anyway) changes nothing but still answers. */
    vfs_cred cred = cred_of(req);
    vfs_attr a;
    strata_err *e = vfs_setattr(s->v, ino, file_of(fi), &sa, &cred, &a);
    if (e) {
        reply_vfs_err(req, e);
        return;
    }
    struct stat st;
    attr_to_stat(&a, &st);
    FL->reply_attr(req, &st, timeout_of(s, &a));
}

static void fusefs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                         struct fuse_file_info *fi)
{
    fusefs_srv *s = srv_of(req);
    if (off < 0) {
        FL->reply_err(req, EINVAL);
        return;
    }
    size_t done = 0;
    vfs_file *f = file_of(fi);
    /* No handle: the kernel opened the file by itself (no-open). */
    strata_err *e = f ? vfs_write(s->v, f, buf, size, (uint64_t)off, &done)
                      : vfs_write_ino(s->v, ino, buf, size, (uint64_t)off, &done);
    if (e)
        reply_vfs_err(req, e);
    else
        FL->reply_write(req, done);
}

static void fusefs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    reply_status(req, vfs_fsync(srv_of(req)->v, ino, file_of(fi), datasync != 0));
}

static void fusefs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)fi; /* directories keep no handle */
    reply_status(req, vfs_fsync(srv_of(req)->v, ino, NULL, datasync != 0));
}

static void fusefs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                          struct fuse_file_info *fi)
{
    fusefs_srv *s = srv_of(req);
    vfs_cred cred = cred_of(req);
    vfs_attr a;
    vfs_file *f = NULL;
    strata_err *e =
        vfs_create(s->v, parent, name, strlen(name), (uint32_t)mode, fi->flags, &cred, &a, &f);
    if (e) {
        reply_vfs_err(req, e);
        return;
    }
    inval_name(s, parent, name);
    struct fuse_entry_param ep;
    fill_entry(s, &a, &ep);
    if (atomic_load_explicit(&s->no_open, memory_order_relaxed)) {
        /* A kernel that opens files by itself sends no RELEASE for any
         * file once it has seen an OPEN answered with ENOSYS, created
         * ones included: no handle may be kept, and I/O comes by inode. */
        vfs_release(s->v, f);
        f = NULL;
    }
    fi->fh = (uint64_t)(uintptr_t)f;
    fi->keep_cache = 0;
    /* An interrupted create's reply is lost: no release and no forget
     * will come for what it made (the file itself stays, as it would
     * after a crash of the caller). */
    if (FL->reply_create(req, &ep, fi) != 0) {
        if (f)
            vfs_release(s->v, f);
        vfs_forget(s->v, a.ino, 1);
    }
}

static void fusefs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    vfs_cred cred = cred_of(req);
    vfs_attr a;
    strata_err *e =
        vfs_mkdir(srv_of(req)->v, parent, name, strlen(name), (uint32_t)mode, &cred, &a);
    reply_new_entry(req, parent, name, e, &a);
}

static void fusefs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                         dev_t rdev)
{
    vfs_cred cred = cred_of(req);
    vfs_attr a;
    strata_err *e = vfs_mknod(srv_of(req)->v, parent, name, strlen(name), (uint32_t)mode,
                              (uint64_t)rdev, &cred, &a);
    reply_new_entry(req, parent, name, e, &a);
}

static void fusefs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    vfs_cred cred = cred_of(req);
    vfs_attr a;
    strata_err *e = vfs_symlink(srv_of(req)->v, parent, name, strlen(name), link, &cred, &a);
    reply_new_entry(req, parent, name, e, &a);
}

static void fusefs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    vfs_attr a;
    strata_err *e = vfs_link(srv_of(req)->v, ino, newparent, newname, strlen(newname), &a);
    reply_new_entry(req, newparent, newname, e, &a);
}

static void fusefs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    reply_changed(req, parent, name, vfs_unlink(srv_of(req)->v, parent, name, strlen(name)));
}

static void fusefs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    reply_changed(req, parent, name, vfs_rmdir(srv_of(req)->v, parent, name, strlen(name)));
}

static void fusefs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                          const char *newname, unsigned int flags)
{
    /* RENAME_WHITEOUT is overlayfs's own business, never a caller's. */
    if (flags & ~(unsigned)(VFS_RENAME_NOREPLACE | VFS_RENAME_EXCHANGE)) {
        FL->reply_err(req, EINVAL);
        return;
    }
    strata_err *e = vfs_rename(srv_of(req)->v, parent, name, strlen(name), newparent, newname,
                               strlen(newname), flags);
    if (!e)
        inval_name(srv_of(req), parent, name);
    reply_changed(req, newparent, newname, e);
}

/* ---- extended attributes ----------------------------------------------- */

static void fusefs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    fusefs_srv *s = srv_of(req);
    char *buf = size ? malloc(size) : NULL;
    if (size && !buf) {
        FL->reply_err(req, ENOMEM);
        return;
    }
    size_t len = 0;
    strata_err *e = vfs_getxattr(s->v, ino, name, buf, size, &len);
    if (e)
        reply_vfs_err(req, e);
    else if (size == 0)
        FL->reply_xattr(req, len);
    else
        FL->reply_buf(req, buf, len);
    free(buf);
}

static void fusefs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    fusefs_srv *s = srv_of(req);
    char *buf = size ? malloc(size) : NULL;
    if (size && !buf) {
        FL->reply_err(req, ENOMEM);
        return;
    }
    size_t len = 0;
    strata_err *e = vfs_listxattr(s->v, ino, buf, size, &len);
    if (e)
        reply_vfs_err(req, e);
    else if (size == 0)
        FL->reply_xattr(req, len);
    else
        FL->reply_buf(req, buf, len);
    free(buf);
}

static void fusefs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                            size_t size, int flags)
{
    reply_status(req, vfs_setxattr(srv_of(req)->v, ino, name, value, size, flags));
}

static void fusefs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    reply_status(req, vfs_removexattr(srv_of(req)->v, ino, name));
}

/* Not here on purpose: flush (nothing is buffered here, and ENOSYS makes
 * the kernel stop sending it), fallocate (ENOSYS: posix_fallocate then
 * writes the range itself), locks (the kernel then keeps them locally),
 * lseek, copy_file_range and ioctl (the kernel falls back to its generic
 * code). */
const struct fuse_lowlevel_ops fusefs_ops = {
    .init = fusefs_init,
    .lookup = fusefs_lookup,
    .forget = fusefs_forget,
    .forget_multi = fusefs_forget_multi,
    .getattr = fusefs_getattr,
    .setattr = fusefs_setattr,
    .readlink = fusefs_readlink,
    .mknod = fusefs_mknod,
    .mkdir = fusefs_mkdir,
    .unlink = fusefs_unlink,
    .rmdir = fusefs_rmdir,
    .symlink = fusefs_symlink,
    .rename = fusefs_rename,
    .link = fusefs_link,
    .open = fusefs_open,
    .read = fusefs_read,
    .write = fusefs_write,
    .release = fusefs_release,
    .opendir = fusefs_opendir,
    .readdir = fusefs_readdir,
    .readdirplus = fusefs_readdirplus,
    .releasedir = fusefs_releasedir,
    .statfs = fusefs_statfs,
    .setxattr = fusefs_setxattr,
    .getxattr = fusefs_getxattr,
    .listxattr = fusefs_listxattr,
    .removexattr = fusefs_removexattr,
    .access = fusefs_access,
    .create = fusefs_create,
    .fsync = fusefs_fsync,
    .fsyncdir = fusefs_fsyncdir,
};
