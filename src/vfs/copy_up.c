/* Copy-up: giving a lower entry an upper copy before its first change.
 *
 * The copy is made in UPPER_WORK (content, mode, owner, the lower times)
 * and renamed into place under the parent directory's lock, so a crash
 * leaves either no upper entry or a whole one, and a concurrent lookup
 * sees the lower entry or the copy, never half of it. Parents are copied
 * up first, as directories with their lower modes; a directory's copy is
 * empty and merges with the lower ones below it.
 *
 * Content streams from the store: a spilled blob is cloned (FICLONE) or
 * copied in the kernel (copy_file_range) from its file where the
 * filesystems allow, else it is read through a store_reader in chunks.
 * Nothing is loaded whole.
 *
 * No fsync: the upper directory of a sandbox lives as long as its run, and
 * what matters is that a server crash loses nothing already written (the
 * page cache outlives the process) and that no half copy ever shows (the
 * rename). A machine crash may leave a copied-up file empty; the next run
 * starts from a fresh upper directory anyway.
 *
 * One copy-up per inode at a time (its cu_mu); the loser of a race finds
 * the copy made. Lock order: an entry's cu_mu, then its parent's cu_mu
 * (recursively), then the parent's dlock; no one holding a dlock ever
 * waits for a cu_mu. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer/manifest.h"
#include "vfs/vfs_internal.h"

#define CHUNK (128u * 1024)

static const struct timespec lower_times[2] = {{.tv_sec = MANIFEST_MTIME},
                                               {.tv_sec = MANIFEST_MTIME}};

/* Copies n bytes of the blob into fd, by the fastest way that works. */
static strata_err *copy_content(vfs *v, const manifest_entry *en, int fd, uint64_t n)
{
    if (n == 0)
        return NULL;
    store_reader *r;
    strata_err *e = store_reader_open(v->s, &en->digest, &r);
    if (e)
        return strata_err_wrap(vfs_err_content(e), "copy up %s", en->path);
    uint64_t done = 0;
    const char *spilled = store_reader_path(r);
    int src = spilled ? open(spilled, O_RDONLY | O_CLOEXEC) : -1;
    if (src >= 0 && n == en->size && ioctl(fd, FICLONE, src) == 0)
        done = n;
    while (src >= 0 && done < n) {
        loff_t in = (loff_t)done, out = (loff_t)done;
        ssize_t k = copy_file_range(src, &in, fd, &out, n - done, 0);
        if (k <= 0)
            break; /* EXDEV, EINVAL, ENOSYS...: stream the rest */
        done += (uint64_t)k;
    }
    if (src >= 0)
        close(src);
    char *buf = done < n ? malloc(CHUNK) : NULL;
    if (done < n && !buf)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory copying up %s", en->path);
    while (!e && done < n) {
        size_t want = n - done < CHUNK ? (size_t)(n - done) : CHUNK, got;
        e = store_reader_read(r, buf, want, done, &got);
        if (e) {
            e = strata_err_wrap(vfs_err_content(e), "copy up %s", en->path);
            break;
        }
        if (got == 0) {
            e = vfs_err(EIO, "run 'strata fsck'", "copy up %s: the blob is short", en->path);
            break;
        }
        size_t off = 0;
        while (off < got) {
            ssize_t w = pwrite(fd, buf + off, got - off, (off_t)(done + off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                e = vfs_err_sys(errno, "copy up %s", en->path);
                break;
            }
            off += (size_t)w;
        }
        done += got;
    }
    free(buf);
    store_reader_close(r);
    return e;
}

/* Makes the copy of in as tmp in UPPER_WORK, everything set but its place. */
static strata_err *make_copy(vfs *v, vfs_inode *in, const char *tmp, uint64_t limit)
{
    vfs_view *vw = in->view;
    const manifest_entry *en = in->en;
    int w = vw->work_fd;
    mode_t mode = in->mode & 07777;
    strata_err *e = NULL;
    if (vfs_inode_is_dir(in)) {
        if (mkdirat(w, tmp, 0700) < 0)
            return vfs_err_sys(errno, "copy up directory %s", en->path);
        if (fchmodat(w, tmp, mode, 0) < 0)
            e = vfs_err_sys(errno, "copy up directory %s", en->path);
    } else if (en->kind == MANIFEST_SYMLINK) {
        if (symlinkat(en->target, w, tmp) < 0)
            return vfs_err_sys(errno, "copy up symbolic link %s", en->path);
    } else {
        int fd = openat(w, tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0)
            return vfs_err_sys(errno, "copy up %s", en->path);
        e = copy_content(v, en, fd, limit < en->size ? limit : en->size);
        if (!e && fchmod(fd, mode) < 0)
            e = vfs_err_sys(errno, "copy up %s", en->path);
        close(fd);
    }
    /* Show what the lower entry showed: its owner (the view's) and times. */
    if (!e && vw->root_owner && fchownat(w, tmp, vw->uid, vw->gid, AT_SYMLINK_NOFOLLOW) == 0 &&
        !vfs_inode_is_dir(in) && en->kind != MANIFEST_SYMLINK)
        (void)fchmodat(w, tmp, mode, 0); /* chown cleared set-id bits */
    if (!e)
        (void)utimensat(w, tmp, lower_times, AT_SYMLINK_NOFOLLOW);
    if (e)
        vfs_work_remove(vw, tmp);
    return e;
}

/* A lower file removed while something still had it open: a write to it
 * must land somewhere, as on any filesystem, yet under no name. The copy
 * is made in UPPER_WORK and its name removed at once; the inode keeps the
 * only descriptor (past the cache's cap: it is the file), until it leaves
 * memory. Called with cu_mu held. */
static strata_err *copy_up_removed(vfs *v, vfs_inode *in, uint64_t limit)
{
    vfs_view *vw = in->view;
    char tmp[48];
    vfs_tmpname(vw, tmp);
    strata_err *e = make_copy(v, in, tmp, limit);
    if (e)
        return e;
    struct stat st;
    int fd = openat(vw->work_fd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0)
        e = vfs_err_sys(errno, "copy up the removed %s", in->en->path);
    vfs_work_remove(vw, tmp);
    int expect = -1;
    if (!e && atomic_compare_exchange_strong(&in->ufd, &expect, fd)) {
        atomic_fetch_add(&v->n_ufds, 1);
        in->real = (uint64_t)st.st_ino;
        atomic_store_explicit(&in->has_upper, true, memory_order_release);
        atomic_fetch_add_explicit(&v->n_copy_ups, 1, memory_order_relaxed);
        return NULL;
    }
    if (fd >= 0)
        close(fd);
    return e ? e
             : strata_err_new(STRATA_E_INTERNAL, NULL, "copy up %s: a descriptor was there",
                              in->en->path);
}

/* A copy-up changes nothing the user can see in the directory it lands
 * in, yet placing the copy there stamps the upper directory's mtime: put
 * back the times it had (overlayfs does the same), or a lower directory
 * whose file is chmod'ed would show the time of the chmod. Best effort:
 * a failure leaves the newer time, which is all it costs. */
static void keep_dir_times(int dfd, const struct stat *before)
{
    struct timespec ts[2] = {before->st_atim, before->st_mtim};
    if (utimensat(dfd, "", ts, AT_EMPTY_PATH) < 0 && errno == EINVAL) {
        char p[32];
        vfs_fd_path(dfd, p);
        (void)utimensat(AT_FDCWD, p, ts, 0);
    }
}

strata_err *vfs_copy_up(vfs *v, vfs_inode *in, uint64_t limit)
{
    if (vfs_has_upper(in))
        return NULL;
    vfs_view *vw = in->view;
    strata_err *e = vfs_need_upper(vw, "copy up");
    if (e)
        return e;
    pthread_mutex_lock(&in->cu_mu);
    if (vfs_has_upper(in)) {
        pthread_mutex_unlock(&in->cu_mu);
        return NULL;
    }
    if (vfs_is_dead(in) && in->en && in->en->kind == MANIFEST_FILE) {
        e = copy_up_removed(v, in, limit);
        pthread_mutex_unlock(&in->cu_mu);
        return e;
    }
    vfs_inode *dir = NULL;
    if (vfs_is_dead(in) || !in->en)
        e = vfs_err(ENOENT, "the entry was removed", "copy up inode %#llx: it is gone",
                    (unsigned long long)in->ino);
    if (!e)
        e = vfs_iget_in(v, in->view, vfs_parent_of(in), &dir);
    if (!e)
        e = vfs_copy_up(v, dir, UINT64_MAX);
    char tmp[48];
    vfs_tmpname(vw, tmp);
    if (!e)
        e = make_copy(v, in, tmp, limit);
    if (e) {
        vfs_iput(v, dir);
        pthread_mutex_unlock(&in->cu_mu);
        return e;
    }
    const char *name = in->en->path + in->en->name_off;
    size_t len = in->en->path_len - in->en->name_off;
    int dfd;
    bool own;
    e = vfs_dir_lock(v, dir, &dfd, &own);
    bool locked = !e;
    if (!e && vfs_is_dead(in))
        e = vfs_err(ENOENT, "the entry was removed", "copy up %s: it was removed meanwhile",
                    in->en->path);
    bool placed = false;
    struct stat pst;
    if (!e && fstat(dfd, &pst) < 0)
        e = vfs_err_sys(errno, "copy up %s", in->en->path);
    if (!e) {
        /* The lower entry shows, so nothing upper is at its name. */
        if (renameat2(vw->work_fd, tmp, dfd, name, RENAME_NOREPLACE) == 0 ||
            (errno == EINVAL && renameat(vw->work_fd, tmp, dfd, name) == 0))
            placed = true;
        else
            e = vfs_err_sys(errno, "copy up %s", in->en->path);
    }
    if (placed)
        keep_dir_times(dfd, &pst);
    struct stat st;
    if (placed && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        e = vfs_err_sys(errno, "copy up %s", in->en->path);
    if (placed && !e)
        e = vfs_ut_add(&vw->ut, in->ino, st.st_ino, dir->ino, name, len, NULL);
    if (placed && !e) {
        in->real = st.st_ino;
        int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
            vfs_upper_fd_offer(in, fd);
        atomic_store_explicit(&in->has_upper, true, memory_order_release);
        atomic_fetch_add_explicit(&v->n_copy_ups, 1, memory_order_relaxed);
    }
    if (!placed)
        vfs_work_remove(vw, tmp);
    if (locked)
        vfs_dir_unlock(dir, dfd, own);
    vfs_iput(v, dir);
    pthread_mutex_unlock(&in->cu_mu);
    return e;
}
