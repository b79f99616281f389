/* Content: opening files, reading them (through an open handle, or by
 * inode number with no open), and symbolic link targets.
 *
 * Lower reads stream from the store: store_reader_read copies just the
 * bytes asked for, inline blobs through a pooled SQLite connection and
 * spilled ones with pread, and it is safe from many threads at once on one
 * reader. So a file's reader is opened once and shared: it is published on
 * the inode with a compare-and-swap and read with no lock at all. Readers
 * that hold an open blob file are capped (vfs_opts.max_cached_readers);
 * past the cap a read opens a reader of its own and closes it afterwards,
 * so the number of open files stays bounded however many inodes the kernel
 * keeps.
 *
 * Upper reads are pread on the handle's own descriptor. A handle opened on
 * a lower file that is copied up later (by another handle's write) must
 * see the writes, as overlayfs's handles do since Linux 4.19: its next
 * read finds the inode copied up and switches to the upper file, opening
 * it once and publishing the descriptor with a compare-and-swap. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "vfs/vfs_internal.h"

/* Why in cannot be read as a file, or NULL. */
static strata_err *check_file(const vfs_inode *in, const char *op)
{
    if (vfs_inode_is_dir(in))
        return vfs_err(EISDIR, "read files only", "%s: inode %#llx is a directory", op,
                       (unsigned long long)in->ino);
    if (S_ISLNK(in->mode))
        return vfs_err(EINVAL, "read the link's target instead",
                       "%s: inode %#llx is a symbolic link", op, (unsigned long long)in->ino);
    if (!S_ISREG(in->mode))
        return vfs_err(EINVAL, "the kernel opens fifos itself", "%s: inode %#llx is a fifo", op,
                       (unsigned long long)in->ino);
    return NULL;
}

/* The inode's shared reader, opening it on first use; *own says the caller
 * got a reader of its own (the cache is full) and must close it. */
static strata_err *get_reader(vfs *v, vfs_inode *in, store_reader **out, bool *own)
{
    *own = false;
    store_reader *r = atomic_load_explicit(&in->reader, memory_order_acquire);
    if (r) {
        *out = r;
        return NULL;
    }
    store_reader *fresh;
    strata_err *e = store_reader_open(v->s, &in->en->digest, &fresh);
    if (e)
        return strata_err_wrap(vfs_err_content(e), "open %s", in->en->path);
    bool file = store_reader_path(fresh) != NULL;
    if (file && atomic_fetch_add(&v->n_files, 1) >= v->max_readers) {
        atomic_fetch_sub(&v->n_files, 1);
        *own = true;
        *out = fresh;
        return NULL;
    }
    store_reader *expect = NULL;
    if (atomic_compare_exchange_strong_explicit(&in->reader, &expect, fresh, memory_order_acq_rel,
                                                memory_order_acquire)) {
        atomic_fetch_add(&v->n_readers, 1);
        *out = fresh;
    } else {
        if (file)
            atomic_fetch_sub(&v->n_files, 1);
        store_reader_close(fresh);
        *out = expect;
    }
    return NULL;
}

static strata_err *read_at(const vfs_inode *in, store_reader *r, void *buf, size_t len,
                           uint64_t off, size_t *got)
{
    *got = 0;
    if (!r || off >= in->en->size || len == 0)
        return NULL;
    strata_err *e = store_reader_read(r, buf, len, off, got);
    return e ? strata_err_wrap(vfs_err_content(e), "read %s", in->en->path) : NULL;
}

/* EAGAIN as the vfs says it: the bytes are not in the page cache. */
static strata_err *not_cached(strata_err *e, uint64_t ino)
{
    strata_err_free(e);
    return vfs_err(EAGAIN, "read it without VFS_READ_CACHED",
                   "read inode %#llx: not in the page cache", (unsigned long long)ino);
}

static strata_err *pread_all(int fd, void *buf, size_t len, uint64_t off, size_t *got, uint64_t ino,
                             bool cached)
{
    if (cached) {
        strata_err *e = fs_pread_cached(fd, buf, len, off, got, "an upper file");
        if (e && e->sys_errno == EAGAIN)
            return not_cached(e, ino);
        return e ? strata_err_wrap(e, "read inode %#llx", (unsigned long long)ino) : NULL;
    }
    *got = 0;
    while (*got < len) {
        ssize_t r = pread(fd, (char *)buf + *got, len - *got, (off_t)(off + *got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return vfs_err_sys(errno, "read inode %#llx", (unsigned long long)ino);
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return NULL;
}

/* The flags an upper file is reopened with for a handle. */
static int upper_flags(int flags)
{
    return flags & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | O_NOATIME);
}

strata_err *vfs_open(vfs *v, uint64_t ino, int flags, vfs_file **out)
{
    *out = NULL;
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    bool write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
    if (write)
        e = vfs_need_upper(in->view, "open for writing");
    if (!e && vfs_inode_is_dir(in))
        e = vfs_err(EISDIR, "open directories with readdir", "open: inode %#llx is a directory",
                    (unsigned long long)ino);
    else if (!e && S_ISLNK(in->mode))
        e = vfs_err(ELOOP, "open the link's target", "open: inode %#llx is a symbolic link",
                    (unsigned long long)ino);
    else if (!e)
        e = check_file(in, "open");
    if (!e && vfs_is_dead(in) && !vfs_has_upper(in))
        e = vfs_err(ENOENT, "look the path up again", "open: inode %#llx was removed",
                    (unsigned long long)ino);
    /* A truncating open copies nothing up: it would be thrown away. */
    if (!e && write)
        e = vfs_copy_up(v, in, (flags & O_TRUNC) ? 0 : UINT64_MAX);
    vfs_file *f = NULL;
    if (!e && !(f = calloc(1, sizeof(*f))))
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory opening inode %#llx",
                           (unsigned long long)ino);
    if (!e) {
        f->in = in;
        f->flags = flags;
        atomic_init(&f->fd, -1);
        if (vfs_has_upper(in)) {
            int fd;
            e = vfs_upper_reopen(in, upper_flags(flags), &fd);
            if (!e)
                atomic_store(&f->fd, fd);
        } else if (in->en->size > 0) {
            e = get_reader(v, in, &f->r, &f->own);
        }
    }
    if (e) {
        free(f);
        vfs_iput(v, in);
        return e;
    }
    *out = f;
    return NULL;
}

uint64_t vfs_file_ino(const vfs_file *f)
{
    return f->in->ino;
}

/* The handle's upper descriptor, opening it now if the file was copied up
 * after the handle was opened; -1 while it is lower-only. */
static strata_err *file_fd(vfs_file *f, int *out)
{
    int fd = atomic_load_explicit(&f->fd, memory_order_acquire);
    if (fd >= 0 || !vfs_has_upper(f->in)) {
        *out = fd;
        return NULL;
    }
    strata_err *e = vfs_upper_reopen(f->in, O_RDONLY, &fd);
    if (e)
        return e;
    int expect = -1;
    if (!atomic_compare_exchange_strong(&f->fd, &expect, fd)) {
        close(fd);
        fd = expect;
    }
    *out = fd;
    return NULL;
}

strata_err *vfs_read(vfs *v, vfs_file *f, void *buf, size_t len, uint64_t off, size_t *got)
{
    (void)v;
    *got = 0;
    if (vfs_view_gone(f->in->view))
        return vfs_err(ESTALE, "open the file again", "read: inode %#llx: its slot was detached",
                       (unsigned long long)f->in->ino);
    if ((f->flags & O_ACCMODE) == O_WRONLY)
        return vfs_err(EBADF, "open the file for reading",
                       "read: handle of inode %#llx is write-only", (unsigned long long)f->in->ino);
    int fd;
    strata_err *e = file_fd(f, &fd);
    if (e)
        return e;
    if (fd >= 0)
        return pread_all(fd, buf, len, off, got, f->in->ino, false);
    return read_at(f->in, f->r, buf, len, off, got);
}

strata_err *vfs_flush(vfs *v, vfs_file *f)
{
    (void)v;
    if (!f)
        return vfs_err(EBADF, "pass an open handle", "flush: no handle");
    return NULL;
}

void vfs_release(vfs *v, vfs_file *f)
{
    if (!f)
        return;
    if (f->own)
        store_reader_close(f->r);
    int fd = atomic_load(&f->fd);
    if (fd >= 0)
        close(fd);
    vfs_iput(v, f->in);
    free(f);
}

strata_err *vfs_read_ino(vfs *v, uint64_t ino, void *buf, size_t len, uint64_t off, size_t *got)
{
    return vfs_read_ino_flags(v, ino, buf, len, off, got, 0);
}

strata_err *vfs_read_ino_flags(vfs *v, uint64_t ino, void *buf, size_t len, uint64_t off,
                               size_t *got, unsigned flags)
{
    bool cached = flags & VFS_READ_CACHED;
    *got = 0;
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    e = check_file(in, "read");
    if (!e && vfs_has_upper(in)) {
        int fd;
        e = vfs_upper_reopen(in, O_RDONLY, &fd);
        if (!e) {
            e = pread_all(fd, buf, len, off, got, ino, cached);
            close(fd);
        }
    } else if (!e && vfs_is_dead(in) && !in->en) {
        e = vfs_err(ESTALE, "look the path up again", "read: inode %#llx was removed",
                    (unsigned long long)ino);
    } else if (!e && off < in->en->size && len > 0) {
        /* Also a removed lower file still open: its content never changes. */
        store_reader *r;
        bool own;
        e = get_reader(v, in, &r, &own);
        if (!e && cached) {
            e = store_reader_read_cached(r, buf, len, off, got);
            if (e && e->sys_errno == EAGAIN)
                e = not_cached(e, ino);
            else if (e)
                e = strata_err_wrap(vfs_err_content(e), "read %s", in->en->path);
        } else if (!e) {
            e = read_at(in, r, buf, len, off, got);
        }
        if (own)
            store_reader_close(r);
    }
    vfs_iput(v, in);
    return e;
}

strata_err *vfs_readlink(vfs *v, uint64_t ino, char *buf, size_t size, size_t *len)
{
    *len = 0;
    vfs_inode *in;
    strata_err *e = vfs_iget(v, ino, &in);
    if (e)
        return e;
    if (!S_ISLNK(in->mode)) {
        e = vfs_err(EINVAL, "readlink works on symbolic links only",
                    "readlink: inode %#llx is not a symbolic link", (unsigned long long)ino);
    } else if (vfs_has_upper(in)) {
        int fd;
        bool own;
        e = vfs_upper_fd(in, &fd, &own);
        if (!e) {
            ssize_t n = size ? readlinkat(fd, "", buf, size) : 0;
            if (n < 0)
                e = vfs_err_sys(errno, "readlink inode %#llx", (unsigned long long)ino);
            else if ((size_t)n >= size)
                e = vfs_err(ERANGE, "pass a buffer of VFS_LINK_MAX + 1 bytes",
                            "readlink inode %#llx: the buffer of %zu bytes is too small",
                            (unsigned long long)ino, size);
            else {
                buf[n] = '\0';
                *len = (size_t)n;
            }
            vfs_upper_fd_done(fd, own);
        }
    } else if (in->en->size >= size) {
        e = vfs_err(ERANGE, "pass a buffer of VFS_LINK_MAX + 1 bytes",
                    "readlink %s: the target has %llu bytes, the buffer %zu", in->en->path,
                    (unsigned long long)in->en->size, size);
    } else {
        memcpy(buf, in->en->target, in->en->size);
        buf[in->en->size] = '\0';
        *len = in->en->size;
    }
    vfs_iput(v, in);
    return e;
}
