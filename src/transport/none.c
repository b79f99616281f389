/* The `none` transport: materialize a view, let a command change it, and
 * capture the changes as a layer (see none.h).
 *
 * Capture re-imports the whole directory, which would read back and hash
 * every file of the view. Like git's index, it instead keeps, for each
 * file written out, the stat it had right after materializing (a stamp),
 * and re-reads only the files whose stat no longer matches.
 *
 * Why a matching stat proves a file untouched: the stamp holds the inode
 * number, size, mode, mtime and ctime. Userspace can set mtime (utimensat)
 * but not ctime: the kernel sets ctime to the current time on every change
 * to the inode (a write, truncate, chmod, chown, link or unlink of it), and
 * a file deleted and recreated, or replaced by a rename, is another inode
 * whose ctime is its creation time. So a file whose ctime and inode are
 * those of the stamp has not been changed since, except within the same
 * tick of the filesystem's clock, which is coarse (jiffies on Linux; a
 * second or two on some filesystems): a write, or a delete and a create
 * that reuses the inode number, in the tick the stamp was taken in leaves
 * every field as it was. Hence the racy cut-off, git's "racily clean"
 * rule: after stamping, a marker file is created in the directory, on the
 * same filesystem and so stamped by the same clock; any change the command
 * makes comes later and gets a ctime at or after the marker's. A stamp
 * whose ctime is strictly before the marker's therefore cannot be matched
 * by a changed file; one at or after it is never trusted, and that file is
 * read (only the files written in the last tick of materializing). Like
 * git's index, this leans on the wall clock not being stepped back while
 * the command runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "transport/none.h"

/* A regular file of the view as it stood once written out. The device
 * is the sandbox's (one for all), the size the manifest's; mode 0 marks a
 * file with no usable stamp (not a file, or its stat failed or disagreed
 * with the manifest), which capture always reads. */
typedef struct none_stamp {
    uint64_t ino;
    int64_t mtime_sec, ctime_sec;
    uint32_t mtime_nsec, ctime_nsec;
    uint32_t mode; /* st_mode: type and every permission bit */
} none_stamp;

struct none_sandbox {
    store *s;
    char *dir;
    manifest *base;     /* the view, flattened: what the directory started as */
    none_stamp *stamps; /* parallel to base->entries */
    dev_t dev;
    int64_t cutoff_sec; /* the marker's ctime: see the top of this file */
    uint32_t cutoff_nsec;
};

static strata_err *none_oom(const char *dir)
{
    return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory preparing %s", dir);
}

/* Stamps every regular file of the view. A file that cannot be stamped
 * is left unstamped rather than failing the run: capture reads it. */
static strata_err *none_stamp_all(none_sandbox *sb)
{
    int dirfd = open(sb->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (dirfd < 0 || fstat(dirfd, &st) < 0) {
        strata_err *e = strata_err_sys(errno, NULL, "open directory %s", sb->dir);
        if (dirfd >= 0)
            close(dirfd);
        return e;
    }
    sb->dev = st.st_dev;
    for (uint32_t i = 0; i < sb->base->count; i++) {
        const manifest_entry *en = &sb->base->entries[i];
        if (en->kind != MANIFEST_FILE)
            continue;
        /* Nothing but this process has touched the tree yet, so its
         * paths lead where materialize put them. */
        if (fstatat(dirfd, en->path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            st.st_dev != sb->dev || (uint64_t)st.st_size != en->size)
            continue;
        sb->stamps[i] = (none_stamp){
            .ino = (uint64_t)st.st_ino,
            .mtime_sec = (int64_t)st.st_mtim.tv_sec,
            .ctime_sec = (int64_t)st.st_ctim.tv_sec,
            .mtime_nsec = (uint32_t)st.st_mtim.tv_nsec,
            .ctime_nsec = (uint32_t)st.st_ctim.tv_nsec,
            .mode = (uint32_t)st.st_mode,
        };
    }
    close(dirfd);
    return NULL;
}

/* Whether a stamp's ctime is strictly before the cut-off. */
static bool none_before_cutoff(const none_sandbox *sb, const none_stamp *sp)
{
    return sp->ctime_sec < sb->cutoff_sec ||
           (sp->ctime_sec == sb->cutoff_sec && sp->ctime_nsec < sb->cutoff_nsec);
}

/* Creates a file in the sandbox and takes its ctime: a reading of the
 * clock that stamps the sandbox's files. It is unlinked at once, before any
 * command runs, so capture never sees it; O_TMPFILE, where there is one,
 * never gives it a name at all. */
static strata_err *none_marker(none_sandbox *sb, struct stat *st)
{
    int fd = -1;
#ifdef O_TMPFILE
    fd = open(sb->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0 && fstat(fd, st) < 0) {
        int err = errno;
        close(fd);
        return strata_err_sys(err, NULL, "stat a marker file in %s", sb->dir);
    }
    if (fd >= 0) {
        close(fd);
        return NULL;
    }
    /* Not every filesystem has O_TMPFILE: a named file, then. */
#endif
    char *p = NULL;
    if (asprintf(&p, "%s/.strata-cutoff-XXXXXX", sb->dir) < 0)
        return none_oom(sb->dir);
    fd = mkstemp(p);
    strata_err *e = NULL;
    if (fd < 0)
        e = strata_err_sys(errno, "check that the sandbox directory is writable",
                           "create a marker file in %s", sb->dir);
    else if (fstat(fd, st) < 0)
        e = strata_err_sys(errno, NULL, "stat %s", p);
    /* Left behind, the marker would be captured as the command's output. */
    if (fd >= 0 && unlink(p) < 0 && !e)
        e = strata_err_sys(errno, "remove it by hand", "remove the marker file %s", p);
    if (fd >= 0)
        close(fd);
    free(p);
    return e;
}

strata_err *none_cutoff(none_sandbox *sb, size_t *racy)
{
    struct stat st;
    strata_err *e = none_marker(sb, &st);
    if (e)
        return strata_err_wrap(e, "take the time after which %s may change", sb->dir);
    sb->cutoff_sec = (int64_t)st.st_ctim.tv_sec;
    sb->cutoff_nsec = (uint32_t)st.st_ctim.tv_nsec;
    if (racy) {
        *racy = 0;
        for (uint32_t i = 0; i < sb->base->count; i++)
            if (sb->stamps[i].mode && !none_before_cutoff(sb, &sb->stamps[i]))
                (*racy)++;
    }
    return NULL;
}

strata_err *none_prepare(store *s, manifest *const *layers, size_t n, const char *dir,
                         none_sandbox **out)
{
    *out = NULL;
    none_sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb || !(sb->dir = strdup(dir))) {
        free(sb);
        return none_oom(dir);
    }
    sb->s = s;
    strata_err *e = layer_flatten(layers, n, &sb->base);
    if (!e && !(sb->stamps = calloc(sb->base->count ? sb->base->count : 1, sizeof(none_stamp))))
        e = none_oom(dir);
    /* Reflinks or copies, never hardlinks: the command may write to any
     * file, and a hardlinked one is the store's own. */
    layer_export_stats st;
    if (!e)
        e = layer_materialize(s, sb->base, dir, LAYER_SHARE_REFLINK, &st);
    if (!e)
        e = none_stamp_all(sb);
    if (!e)
        e = none_cutoff(sb, NULL);
    if (e) {
        manifest_free(sb->base);
        free(sb->stamps);
        free(sb->dir);
        free(sb);
        return strata_err_wrap(e, "prepare a sandbox without a mount");
    }
    *out = sb;
    return NULL;
}

const char *none_dir(const none_sandbox *sb)
{
    return sb->dir;
}

/* The import's stat cache (layer_known_fn): a file is taken to hold its
 * blob of the view when it is the very inode stamped before the cut-off,
 * with every stamped field unchanged. */
static bool none_known(void *ctx, const char *path, const struct stat *st, strata_digest *out)
{
    const none_sandbox *sb = ctx;
    int64_t i = manifest_find(sb->base, path, strlen(path));
    if (i < 0)
        return false;
    const manifest_entry *en = &sb->base->entries[i];
    const none_stamp *sp = &sb->stamps[i];
    if (en->kind != MANIFEST_FILE || !sp->mode || !none_before_cutoff(sb, sp))
        return false;
    if (st->st_dev != sb->dev || (uint64_t)st->st_ino != sp->ino ||
        (uint32_t)st->st_mode != sp->mode || (uint64_t)st->st_size != en->size ||
        (int64_t)st->st_mtim.tv_sec != sp->mtime_sec ||
        (uint32_t)st->st_mtim.tv_nsec != sp->mtime_nsec ||
        (int64_t)st->st_ctim.tv_sec != sp->ctime_sec ||
        (uint32_t)st->st_ctim.tv_nsec != sp->ctime_nsec)
        return false;
    *out = en->digest;
    return true;
}

strata_err *none_capture(none_sandbox *sb, const layer_import_opts *opts, strata_digest *out,
                         layer_diff_stats *st)
{
    layer_import_opts o = opts ? *opts : (layer_import_opts){0};
    o.known = none_known;
    o.known_ctx = sb;
    strata_digest now_d;
    layer_import_stats is;
    strata_err *e = layer_import(sb->s, sb->dir, &o, &now_d, &is);
    manifest *now = NULL;
    if (!e)
        e = layer_load(sb->s, &now_d, &now);
    strata_buf enc;
    buf_init(&enc);
    if (!e)
        e = layer_diff(sb->base, now, &enc, st);
    if (!e && enc.oom)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory capturing %s", sb->dir);
    if (!e)
        e = store_put_buf(sb->s, enc.data, enc.len, out, NULL);
    buf_free(&enc);
    manifest_free(now);
    return e ? strata_err_wrap(e, "capture the changes in %s", sb->dir) : NULL;
}

strata_err *none_destroy(none_sandbox *sb, bool remove)
{
    if (!sb)
        return NULL;
    strata_err *e = NULL;
    if (remove)
        e = fs_remove_tree(sb->dir);
    manifest_free(sb->base);
    free(sb->stamps);
    free(sb->dir);
    free(sb);
    return e;
}
