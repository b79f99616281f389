/* Capture: a view's upper directory becomes a layer to stack on the view.
 *
 * The upper directory holds what a sandboxed command wrote, in overlayfs's
 * conventions (layer/upper.h). One walk over it, beside the flattened view
 * it was written over, emits the changes as a version 2 manifest: new and
 * changed entries, whiteouts for deleted lower entries, opaque directories
 * for directories that hide the lower ones. Entries copied up but left as
 * they were are dropped, so the layer holds only real changes.
 *
 * A renamed lower directory (a redirect) has no lower directory at its new
 * place to merge with, so it is emitted opaque with its whole merged
 * contents: the entries of its origin in the view (metadata only, no
 * content is copied) with the upper changes inside it applied.
 *
 * The walk uses openat() and O_NOFOLLOW throughout, like import, so it
 * stays inside the upper directory whatever the command left there. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/path.h"
#include "layer/layer.h"
#include "layer/upper.h"

typedef struct capturer {
    store *s;
    const manifest *base;
    manifest_builder *b;
    layer_diff_stats *st;
    const char *upper;
} capturer;

/* One directory of the output, on the path being walked: added to the
 * builder only once something inside it is (or it changed itself). */
typedef struct cap_dir {
    struct cap_dir *up;
    const char *path; /* view path; "" for the root */
    uint16_t mode;
    unsigned flags;
    bool added;
} cap_dir;

static strata_err *cap_add_dirs(capturer *c, cap_dir *d)
{
    if (!d || d->added || !*d->path)
        return NULL;
    strata_err *e = cap_add_dirs(c, d->up);
    if (!e)
        e = manifest_builder_add_flags(c->b, MANIFEST_DIR, d->flags, d->path, d->mode, 0, NULL,
                                       NULL);
    if (!e)
        d->added = true;
    return e;
}

static strata_err *cap_emit(capturer *c, cap_dir *parent, manifest_kind kind, const char *path,
                            uint16_t mode, uint64_t size, const strata_digest *d,
                            const char *target)
{
    strata_err *e = cap_add_dirs(c, parent);
    if (!e)
        e = manifest_builder_add(c->b, kind, path, mode, size, d, target);
    return e;
}

/* The base entry at path, or NULL. */
static const manifest_entry *cap_base(const capturer *c, const char *path)
{
    if (!path)
        return NULL;
    int64_t i = manifest_find(c->base, path, strlen(path));
    return i < 0 ? NULL : &c->base->entries[i];
}

static char *cap_join(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
        return NULL;
    return p;
}

/* An xattr value of at most a path, or NULL; absent and unsupported are
 * both "not set". */
static char *cap_xattr(int dirfd, const char *name, const char *attr)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_DIRECTORY);
    if (fd < 0)
        return NULL;
    char *buf = malloc(PATH_TREE_MAX + 2);
    ssize_t n = buf ? fgetxattr(fd, attr, buf, PATH_TREE_MAX + 1) : -1;
    close(fd);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static bool cap_is_opaque(int dirfd, const char *name, int fd)
{
    char *v = cap_xattr(dirfd, name, UPPER_XATTR_OPAQUE);
    if (!v)
        v = cap_xattr(dirfd, name, UPPER_XATTR_OPAQUE_USER);
    bool yes = v && strcmp(v, "y") == 0;
    free(v);
    if (!yes) {
        struct stat st;
        yes = fstatat(fd, UPPER_OPAQUE_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0;
    }
    return yes;
}

/* A redirect's origin as a view path without the leading '/', or NULL. */
static strata_err *cap_redirect(int dirfd, const char *name, const char *where, char **out)
{
    *out = NULL;
    char *v = cap_xattr(dirfd, name, UPPER_XATTR_REDIRECT);
    if (!v)
        v = cap_xattr(dirfd, name, UPPER_XATTR_REDIRECT_USER);
    if (!v)
        return NULL;
    const char *p = v[0] == '/' ? v + 1 : v;
    strata_err *e = path_validate(p, strlen(p));
    if (e) {
        free(v);
        return strata_err_rehint(strata_err_wrap(e, "bad redirect on %s", where),
                                 "the upper directory was changed by hand; fix or remove the "
                                 "overlay.redirect xattr");
    }
    *out = strdup(p);
    free(v);
    return *out ? NULL : strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
}

/* Emits the base subtree at from (an entry index) at the view path to,
 * entries and all: the contents of a redirected directory that the upper
 * directory left untouched. */
static strata_err *cap_copy_base(capturer *c, cap_dir *parent, uint32_t idx, const char *to)
{
    const manifest_entry *en = &c->base->entries[idx];
    if (en->kind != MANIFEST_DIR)
        return cap_emit(c, parent, (manifest_kind)en->kind, to, en->mode, en->size,
                        en->kind == MANIFEST_FILE ? &en->digest : NULL, en->target);
    cap_dir d = {.up = parent, .path = to, .mode = en->mode, .flags = 0, .added = false};
    strata_err *e = cap_add_dirs(c, &d);
    for (uint32_t ch = manifest_child_first(c->base, idx); !e && ch != MANIFEST_ROOT;
         ch = manifest_child_next(c->base, ch)) {
        char *p = cap_join(to, c->base->entries[ch].path + c->base->entries[ch].name_off);
        e = p ? cap_copy_base(c, &d, ch, p)
              : strata_err_new(STRATA_E_NOMEM, NULL, "out of memory capturing");
        free(p);
    }
    return e;
}

static strata_err *cap_dir_walk(capturer *c, int fd, cap_dir *self, const char *lower, bool full);

/* Is this upper entry a whiteout? *name_out gets the name it whites out. */
static bool cap_whiteout(const char *name, const struct stat *st, const char **hidden)
{
    if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0) {
        *hidden = name;
        return true;
    }
    size_t n = strlen(UPPER_WHITEOUT_PREFIX);
    if (S_ISREG(st->st_mode) && strncmp(name, UPPER_WHITEOUT_PREFIX, n) == 0 && name[n] &&
        strcmp(name, UPPER_OPAQUE_MARKER) != 0) {
        *hidden = name + n;
        return true;
    }
    return false;
}

/* One upper entry at view path vp; b is what the lower view has at the
 * place it covers (NULL for none), lower that place's path. */
static strata_err *cap_entry(capturer *c, int dirfd, const char *name, const struct stat *st,
                             cap_dir *parent, const char *vp, const char *lower, bool full)
{
    const manifest_entry *b = cap_base(c, lower);
    uint16_t mode = (uint16_t)(st->st_mode & 0777);
    strata_err *e = NULL;
    if (S_ISREG(st->st_mode)) {
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return strata_err_sys(errno, NULL, "open %s/%s", c->upper, vp);
        strata_digest d;
        uint64_t size = 0;
        bool was_new = false;
        e = store_put_fd(c->s, fd, vp, &d, &size, &was_new);
        close(fd);
        if (e)
            return e;
        bool same = b && b->kind == MANIFEST_FILE && b->mode == mode && b->size == size &&
                    digest_eq(&b->digest, &d);
        if (full || !same) {
            e = cap_emit(c, parent, MANIFEST_FILE, vp, mode, size, &d, NULL);
            if (!full)
                b ? c->st->changed++ : c->st->added++;
        }
        return e;
    }
    if (S_ISLNK(st->st_mode)) {
        char target[PATH_TREE_MAX + 1];
        ssize_t n = readlinkat(dirfd, name, target, sizeof(target));
        if (n < 0)
            return strata_err_sys(errno, NULL, "read link %s/%s", c->upper, vp);
        if (n == 0 || (size_t)n > PATH_TREE_MAX)
            return strata_err_new(STRATA_E_INVALID, "layers hold link targets of 1..4095 bytes",
                                  "link %s/%s has a target of %zd bytes", c->upper, vp, n);
        target[n] = '\0';
        bool same = b && b->kind == MANIFEST_SYMLINK && strcmp(b->target, target) == 0;
        if (full || !same) {
            e = cap_emit(c, parent, MANIFEST_SYMLINK, vp, 0777, 0, NULL, target);
            if (!full)
                b ? c->st->changed++ : c->st->added++;
        }
        return e;
    }
    if (!S_ISDIR(st->st_mode))
        return strata_err_new(STRATA_E_UNSUPPORTED,
                              "layers hold only files, directories and symbolic links; remove "
                              "it before the command ends",
                              "%s/%s is a %s", c->upper, vp,
                              S_ISFIFO(st->st_mode)   ? "fifo"
                              : S_ISSOCK(st->st_mode) ? "socket"
                                                      : "device");
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return strata_err_sys(errno, NULL, "open directory %s/%s", c->upper, vp);
    char *origin = NULL;
    e = cap_redirect(dirfd, name, vp, &origin);
    bool opaque = !e && cap_is_opaque(dirfd, name, fd);
    const char *below = NULL; /* the lower directory merged into this one */
    if (origin) {
        below = origin;
    } else if (!opaque && b && b->kind == MANIFEST_DIR) {
        below = lower;
    }
    /* A redirect has nothing below it at its new place: it is emitted
     * opaque, with everything in it. */
    bool out_opaque = opaque || origin != NULL;
    cap_dir self = {.up = parent,
                    .path = vp,
                    .mode = mode,
                    .flags = out_opaque ? MANIFEST_F_OPAQUE : 0,
                    .added = false};
    const manifest_entry *ob = origin ? cap_base(c, origin) : NULL;
    if (!e && origin && (!ob || ob->kind != MANIFEST_DIR))
        e = strata_err_new(STRATA_E_CORRUPT,
                           "the upper directory does not belong to this view; capture it with "
                           "the layers it was written over",
                           "%s/%s is redirected from '%s', which is not a directory in the view",
                           c->upper, vp, origin);
    if (!e && (full || out_opaque || !b || b->kind != MANIFEST_DIR || b->mode != mode)) {
        e = cap_add_dirs(c, &self);
        if (!e && !full)
            b ? c->st->changed++ : c->st->added++;
    }
    if (!e)
        e = cap_dir_walk(c, fd, &self, below, full || out_opaque);
    close(fd);
    free(origin);
    return e;
}

/* Names in one directory, sorted, so the walk merges them with the view's
 * sorted children in one pass. */
static int cap_name_cmp(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    return path_cmp(x, strlen(x), y, strlen(y));
}

static strata_err *cap_list(int fd, bool root, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    int dfd = dup(fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return strata_err_sys(errno, NULL, "read a directory of the upper layer");
    }
    size_t cap = 0;
    strata_err *e = NULL;
    struct dirent *de;
    errno = 0;
    while (!e && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, "..") || !strcmp(nm, UPPER_OPAQUE_MARKER) ||
            (root && !strcmp(nm, UPPER_WORK)))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **v = realloc(*names, cap * sizeof(*v));
            if (!v) {
                e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
                break;
            }
            *names = v;
        }
        if (!((*names)[*n] = strdup(nm)))
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
        else
            (*n)++;
    }
    closedir(d);
    if (!e && *n > 1)
        qsort(*names, *n, sizeof(char *), cap_name_cmp);
    return e;
}

static strata_err *cap_dir_walk(capturer *c, int fd, cap_dir *self, const char *lower, bool full)
{
    char **names;
    size_t n;
    strata_err *e = cap_list(fd, !*self->path, &names, &n);
    /* Whiteouts first: a name whited out stays hidden (and a whiteout of
     * nothing in the view is no change at all). */
    for (size_t i = 0; !e && i < n; i++) {
        struct stat st;
        if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            e = strata_err_sys(errno, NULL, "stat %s/%s/%s", c->upper, self->path, names[i]);
            break;
        }
        const char *hidden;
        if (cap_whiteout(names[i], &st, &hidden)) {
            char *lp = lower ? cap_join(lower, hidden) : NULL;
            char *vp = cap_join(self->path, hidden);
            if (!vp || (lower && !lp))
                e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
            /* An entry of the same name in upper replaces the whiteout's
             * target; otherwise the view loses the lower entry. */
            bool replaced = false;
            for (size_t k = 0; k < n && !e; k++)
                if (k != i && names[k] && !strcmp(names[k], hidden))
                    replaced = true;
            if (!e && !replaced && !full && cap_base(c, lp)) {
                e = cap_emit(c, self, MANIFEST_WHITEOUT, vp, 0, 0, NULL, NULL);
                c->st->deleted++;
            }
            free(lp);
            free(vp);
            free(names[i]);
            names[i] = NULL; /* handled */
            continue;
        }
        char *vp = cap_join(self->path, names[i]);
        char *lp = lower ? cap_join(lower, names[i]) : NULL;
        if (!vp || (lower && !lp))
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
        else
            e = cap_entry(c, fd, names[i], &st, self, vp, lp, full);
        free(vp);
        free(lp);
    }
    /* In a full (opaque) output directory, lower entries the upper one
     * did not touch must be written out too. */
    if (!e && full && lower) {
        int64_t li = manifest_find(c->base, lower, strlen(lower));
        uint32_t dir = li < 0 ? MANIFEST_ROOT : (uint32_t)li;
        for (uint32_t ch = li < 0 ? MANIFEST_ROOT : manifest_child_first(c->base, dir);
             !e && ch != MANIFEST_ROOT; ch = manifest_child_next(c->base, ch)) {
            const char *nm = c->base->entries[ch].path + c->base->entries[ch].name_off;
            /* Anything of that name in upper (an entry, a 0/0 whiteout) or
             * a .wh. whiteout for it means upper decided it above. */
            char wh[NAME_MAX + 8];
            snprintf(wh, sizeof(wh), "%s%s", UPPER_WHITEOUT_PREFIX, nm);
            struct stat st;
            if (fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
                fstatat(fd, wh, &st, AT_SYMLINK_NOFOLLOW) == 0)
                continue;
            char *vp = cap_join(self->path, nm);
            e = vp ? cap_copy_base(c, self, ch, vp)
                   : strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
            free(vp);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return e;
}

strata_err *layer_capture(store *s, const manifest *base, const char *upper, strata_buf *out,
                          layer_diff_stats *st)
{
    layer_diff_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    if (base->version != MANIFEST_VERSION)
        return strata_err_new(STRATA_E_INVALID, NULL,
                              "capture compares with a plain tree (flatten the view first)");
    int fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return strata_err_sys(errno, NULL, "open upper directory %s", upper);
    struct stat rst;
    if (fstat(fd, &rst) < 0) {
        int err = errno;
        close(fd);
        return strata_err_sys(err, NULL, "stat upper directory %s", upper);
    }
    capturer c = {.s = s,
                  .base = base,
                  .st = st,
                  .upper = upper,
                  .b = manifest_builder_new(rst.st_mode & 0777)};
    if (!c.b) {
        close(fd);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory capturing %s", upper);
    }
    cap_dir root = {.up = NULL, .path = "", .mode = (uint16_t)(rst.st_mode & 0777), .added = true};
    strata_err *e = store_batch_begin(s);
    if (!e) {
        e = cap_dir_walk(&c, fd, &root, "", false);
        strata_err *e2 = store_batch_end(s);
        if (!e)
            e = e2;
        else
            strata_err_free(e2);
    }
    if (!e && base->root_mode != (rst.st_mode & 0777))
        st->changed++;
    close(fd);
    if (!e)
        e = manifest_builder_encode(c.b, out);
    manifest_builder_free(c.b);
    return e ? strata_err_wrap(e, "capture %s", upper) : NULL;
}

strata_err *layer_capture_canonical(store *s, const manifest *base, const char *upper,
                                    strata_buf *out, layer_diff_stats *st)
{
    strata_buf up;
    buf_init(&up);
    layer_diff_stats ust;
    manifest *cap = NULL, *now = NULL;
    strata_err *e = layer_capture(s, base, upper, &up, &ust);
    if (!e && up.oom)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory capturing %s", upper);
    if (!e)
        e = manifest_decode(up.data, up.len, &cap);
    if (!e) {
        manifest *stack[2] = {cap, (manifest *)base};
        e = layer_flatten(stack, 2, &now);
    }
    if (!e)
        e = layer_diff(base, now, out, st);
    if (!e && out->oom)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory capturing %s", upper);
    manifest_free(now);
    manifest_free(cap);
    buf_free(&up);
    return e;
}

/* Whether the upper at fd holds nothing a capture would look at. */
static strata_err *cap_upper_empty(int fd, bool *empty)
{
    char **names;
    size_t n;
    strata_err *e = cap_list(fd, true, &names, &n);
    if (e)
        return e;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    *empty = n == 0;
    return NULL;
}

strata_err *layer_capture_view(store *s, const strata_digest *layers, size_t n, const char *upper,
                               strata_buf *out, layer_diff_stats *st)
{
    layer_diff_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    if (n == 0)
        return strata_err_new(STRATA_E_INVALID, "give at least one layer",
                              "a view needs at least one layer");
    int fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return strata_err_sys(errno, NULL, "open upper directory %s", upper);
    struct stat rst;
    bool empty = false;
    strata_err *e = NULL;
    if (fstat(fd, &rst) < 0)
        e = strata_err_sys(errno, NULL, "stat upper directory %s", upper);
    if (!e)
        e = cap_upper_empty(fd, &empty);
    close(fd);
    if (e)
        return strata_err_wrap(e, "capture %s", upper);
    if (empty) {
        /* What the full path gives for an empty upper: no entry, the
         * upper's root mode, and one change if that differs from the
         * view's (its top layer's). Every layer's header is still checked,
         * so a missing layer is the same error either way. */
        uint32_t base_mode = 0, mode = 0;
        for (size_t i = n; !e && i-- > 0; base_mode = mode)
            e = layer_root_mode(s, &layers[i], &mode);
        manifest_builder *b = e ? NULL : manifest_builder_new(rst.st_mode & 0777);
        if (!e && !b)
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory capturing %s", upper);
        if (!e)
            e = manifest_builder_encode(b, out);
        manifest_builder_free(b);
        if (!e && base_mode != (rst.st_mode & 0777))
            st->changed = 1;
        return e ? strata_err_wrap(e, "capture %s", upper) : NULL;
    }
    manifest *base;
    e = layer_load_view(s, layers, n, &base);
    if (!e)
        e = layer_capture_canonical(s, base, upper, out, st);
    manifest_free(base);
    return e;
}
