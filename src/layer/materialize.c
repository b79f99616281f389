/* Materialize (export): a layer becomes a real directory tree again.
 *
 * Entries come in tree order, so a directory is always created before what
 * it holds. Every entry is created relative to its parent's descriptor with
 * O_NOFOLLOW/O_EXCL, so a hostile manifest (or a racing process) cannot
 * make us write outside the target. Directory modes and times are applied
 * only once their contents are written, since a 0555 directory would refuse
 * its own children. On failure, everything created so far is removed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/path.h"
#include "layer/layer.h"

#define COPY_CHUNK (1u << 20)

typedef struct exporter {
    store *s;
    const manifest *m;
    const char *root;
    layer_share share;
    layer_export_stats *st;
    bool reflink_failed; /* stop trying once the filesystem said no */
    char *buf;           /* COPY_CHUNK bytes for streaming copies */
} exporter;

static const struct timespec mtime_policy[2] = {
    {.tv_sec = MANIFEST_MTIME, .tv_nsec = 0},
    {.tv_sec = MANIFEST_MTIME, .tv_nsec = 0},
};

/* Hardlinking shares the store's own read-only inode, so it is only done
 * where the result looks like the entry would anyway, minus write bits:
 * readable by everyone and not executable. */
static bool exp_can_link(const manifest_entry *en)
{
    return (en->mode & 0111) == 0 && (en->mode & 0444) == 0444;
}

static strata_err *exp_copy_stream(exporter *ex, store_reader *r, int fd, const char *path)
{
    uint64_t off = 0, size = store_reader_size(r);
    while (off < size) {
        size_t got = 0;
        strata_err *e = store_reader_read(r, ex->buf, COPY_CHUNK, off, &got);
        if (e)
            return e;
        if (got == 0)
            return strata_err_new(STRATA_E_CORRUPT, NULL, "blob for %s ended early", path);
        e = fs_write_all(fd, ex->buf, got, path);
        if (e)
            return e;
        off += got;
    }
    return NULL;
}

/* Copies a spilled blob with copy_file_range, so the bytes never pass
 * through user space; returns false when the kernel cannot do it here. */
static bool exp_copy_range(int src, int dst, uint64_t size)
{
    loff_t in = 0, out = 0;
    while ((uint64_t)in < size) {
        ssize_t n = copy_file_range(src, &in, dst, &out, (size_t)(size - (uint64_t)in), 0);
        if (n <= 0)
            return false;
    }
    return true;
}

static strata_err *exp_file(exporter *ex, int dirfd, const manifest_entry *en)
{
    const char *name = en->path + en->name_off;
    store_reader *r = NULL;
    strata_err *e = store_reader_open(ex->s, &en->digest, &r);
    if (e)
        return strata_err_wrap(e, "export %s", en->path);
    if (store_reader_size(r) != en->size) {
        store_reader_close(r);
        return strata_err_new(
            STRATA_E_CORRUPT, NULL, "blob for %s has %llu bytes, the manifest says %llu", en->path,
            (unsigned long long)store_reader_size(r), (unsigned long long)en->size);
    }
    const char *obj = store_reader_path(r);

    if (obj && ex->share == LAYER_SHARE_LINK && exp_can_link(en)) {
        if (linkat(AT_FDCWD, obj, dirfd, name, 0) == 0) {
            /* The inode is shared, so this also dates the object; its
             * bytes are untouched, and every link then agrees. */
            utimensat(dirfd, name, mtime_policy, AT_SYMLINK_NOFOLLOW);
            ex->st->hardlinked++;
            ex->st->bytes += en->size;
            store_reader_close(r);
            return NULL;
        }
        /* Different filesystems, or no links allowed: fall back to a copy. */
    }

    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = strata_err_sys(errno, NULL, "create %s/%s", ex->root, en->path);
        store_reader_close(r);
        return e;
    }
    bool done = false;
    int src = -1;
    if (obj && en->size > 0)
        src = open(obj, O_RDONLY | O_CLOEXEC);
    if (src >= 0 && ex->share != LAYER_SHARE_COPY && !ex->reflink_failed) {
        if (ioctl(fd, FICLONE, src) == 0) {
            done = true;
            ex->st->reflinked++;
        } else {
            ex->reflink_failed = true;
        }
    }
    if (!done && src >= 0 && exp_copy_range(src, fd, en->size)) {
        done = true;
        ex->st->copied++;
    }
    if (src >= 0)
        close(src);
    if (!done) {
        if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
            e = strata_err_sys(errno, NULL, "rewind %s/%s", ex->root, en->path);
        if (!e)
            e = exp_copy_stream(ex, r, fd, en->path);
        if (!e)
            ex->st->copied++;
    }
    store_reader_close(r);
    if (!e && (fchmod(fd, en->mode) < 0 || futimens(fd, mtime_policy) < 0))
        e = strata_err_sys(errno, NULL, "set mode of %s/%s", ex->root, en->path);
    if (close(fd) < 0 && !e)
        e = strata_err_sys(errno, NULL, "write %s/%s", ex->root, en->path);
    if (!e)
        ex->st->bytes += en->size;
    return e;
}

/* Gives a finished directory its mode and time, after its children. */
static strata_err *exp_finish_dir(exporter *ex, int fd, uint16_t mode, const char *path)
{
    if (fchmod(fd, mode) < 0 || futimens(fd, mtime_policy) < 0)
        return strata_err_sys(errno, NULL, "set mode of %s/%s", ex->root, path);
    return NULL;
}

typedef struct dir_frame {
    uint32_t index; /* entry index, MANIFEST_ROOT for the target itself */
    int fd;
} dir_frame;

static strata_err *exp_tree(exporter *ex, int rootfd)
{
    const manifest *m = ex->m;
    /* Depth is bounded by the path length rule: at most 2048 components. */
    dir_frame *stack = calloc(PATH_TREE_MAX / 2 + 2, sizeof(*stack));
    if (!stack)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    size_t depth = 0;
    stack[0] = (dir_frame){.index = MANIFEST_ROOT, .fd = rootfd};
    strata_err *e = NULL;

    for (uint32_t i = 0; !e && i < m->count; i++) {
        const manifest_entry *en = &m->entries[i];
        while (stack[depth].index != en->parent) {
            const manifest_entry *d = &m->entries[stack[depth].index];
            e = exp_finish_dir(ex, stack[depth].fd, d->mode, d->path);
            close(stack[depth].fd);
            depth--;
            if (e)
                break;
        }
        if (e)
            break;
        int dirfd = stack[depth].fd;
        const char *name = en->path + en->name_off;
        switch (en->kind) {
        case MANIFEST_DIR: {
            int fd = -1;
            if (mkdirat(dirfd, name, 0700) < 0 ||
                (fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
                e = strata_err_sys(errno, NULL, "create directory %s/%s", ex->root, en->path);
                break;
            }
            stack[++depth] = (dir_frame){.index = i, .fd = fd};
            ex->st->dirs++;
            break;
        }
        case MANIFEST_SYMLINK:
            if (symlinkat(en->target, dirfd, name) < 0 ||
                utimensat(dirfd, name, mtime_policy, AT_SYMLINK_NOFOLLOW) < 0)
                e = strata_err_sys(errno, NULL, "create link %s/%s", ex->root, en->path);
            else
                ex->st->symlinks++;
            break;
        case MANIFEST_FILE:
            e = exp_file(ex, dirfd, en);
            if (!e)
                ex->st->files++;
            break;
        case MANIFEST_WHITEOUT:
            /* A deletion of something in the layers below; a layer written
             * out alone has nothing below it to delete. */
            break;
        default:
            e = strata_err_new(STRATA_E_CORRUPT, NULL, "entry %s has unknown kind %d", en->path,
                               en->kind);
        }
    }
    while (depth > 0) {
        const manifest_entry *d = &m->entries[stack[depth].index];
        if (!e)
            e = exp_finish_dir(ex, stack[depth].fd, d->mode, d->path);
        close(stack[depth].fd);
        depth--;
    }
    free(stack);
    return e;
}

strata_err *layer_materialize(store *s, const manifest *m, const char *dir, layer_share share,
                              layer_export_stats *stats)
{
    layer_export_stats local;
    memset(&local, 0, sizeof(local));
    bool empty = false, exists = false;
    strata_err *e = fs_dir_is_empty(dir, &empty, &exists);
    if (e)
        return e;
    if (!empty)
        return strata_err_new(STRATA_E_EXISTS,
                              "export into a new or empty directory; nothing was changed",
                              "%s is not empty", dir);
    if (!exists && mkdir(dir, 0700) < 0)
        return strata_err_sys(errno, NULL, "create directory %s", dir);
    int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        e = strata_err_sys(errno, NULL, "open directory %s", dir);
        goto fail;
    }
    exporter ex = {.s = s, .m = m, .root = dir, .share = share, .st = &local};
    ex.buf = malloc(COPY_CHUNK);
    if (!ex.buf)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    if (!e)
        e = exp_tree(&ex, rootfd);
    free(ex.buf);
    if (!e)
        e = exp_finish_dir(&ex, rootfd, (uint16_t)m->root_mode, ".");
    close(rootfd);
    if (!e) {
        if (stats)
            *stats = local;
        return NULL;
    }
fail:
    /* The target was empty or absent before, so all that is there is ours. */
    strata_err_free(exists ? fs_remove_children(dir) : fs_remove_tree(dir));
    return e;
}
