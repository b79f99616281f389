/* The mount registry (see registry.h): records of live mounts under the
 * runtime directory, each with a lock file that its owner holds for as
 * long as it lives, so that a dead owner is told apart from a live one
 * without trusting pids. Everything is done relative to a descriptor of
 * the checked directory, so a path swapped underneath cannot redirect a
 * write or an unlink. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/random.h>
#endif

#include "engine/engine.h"
#include "engine/registry.h"

#define REGISTRY_MAGIC "strata-registry 1\n"

struct registry {
    char root[REGISTRY_PATH_MAX];
    char path[REGISTRY_PATH_MAX]; /* root/mounts */
    int dfd;                      /* path, opened O_DIRECTORY */
};

struct registry_handle {
    int dfd;    /* a dup of the registry's, so the registry may close first */
    int lockfd; /* holds flock(LOCK_EX) */
    char id[REGISTRY_ID_LEN + 1];
};

const char *registry_kind_name(registry_kind k)
{
    switch (k) {
    case REGISTRY_KIND_RUN:
        return "run";
    case REGISTRY_KIND_SERVE:
        return "serve";
    case REGISTRY_KIND_SLOT:
        return "slot";
    default:
        return "mount";
    }
}

const char *registry_state_name(registry_state s)
{
    switch (s) {
    case REGISTRY_LIVE:
        return "live";
    case REGISTRY_DEAD:
        return "dead";
    case REGISTRY_CORRUPT:
        return "corrupt";
    case REGISTRY_ORPHAN:
        return "orphan";
    }
    return "?";
}

static strata_err *registry_oom(void)
{
    return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
}

/* ---- the record format --------------------------------------------------- */

static bool registry_line_ok(const char *s)
{
    return !strchr(s, '\n');
}

static bool registry_transport_ok(const char *t)
{
    for (int i = 0; i < ENGINE_T_COUNT; i++)
        if (strcmp(t, engine_transport_name((engine_transport)i)) == 0)
            return true;
    return false;
}

bool registry_encode(const registry_record *rec, char *buf, size_t n)
{
    if (!registry_line_ok(rec->mountpoint) || !registry_line_ok(rec->dir) ||
        !registry_transport_ok(rec->transport) || rec->mountpoint[0] != '/' ||
        (rec->dir[0] && rec->dir[0] != '/') || rec->pid <= 0)
        return false;
    int len = snprintf(buf, n,
                       REGISTRY_MAGIC "id=%s\npid=%ld\nkind=%s\ntransport=%s\nmountpoint=%s\n"
                                      "%s%s%sstarted=%" PRId64 "\n",
                       rec->id, (long)rec->pid, registry_kind_name(rec->kind), rec->transport,
                       rec->mountpoint, rec->dir[0] ? "dir=" : "", rec->dir,
                       rec->dir[0] ? "\n" : "", rec->started);
    return len > 0 && (size_t)len < n && (size_t)len <= REGISTRY_REC_MAX;
}

static strata_err *registry_corrupt(const char *fmt, const char *arg)
{
    char why[200];
    snprintf(why, sizeof(why), fmt, arg);
    return strata_err_new(STRATA_E_CORRUPT, "'strata sweep' removes records whose owner is gone",
                          "corrupt registry record: %s", why);
}

/* A decimal number without sign or leading junk, at most max. */
static bool registry_parse_num(const char *s, size_t len, int64_t max, int64_t *out)
{
    if (len == 0 || len > 19)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        int d = s[i] - '0';
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool registry_id_ok(const char *s, size_t len)
{
    if (len != REGISTRY_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

enum {
    REG_K_ID = 1 << 0,
    REG_K_PID = 1 << 1,
    REG_K_KIND = 1 << 2,
    REG_K_TRANSPORT = 1 << 3,
    REG_K_MOUNTPOINT = 1 << 4,
    REG_K_DIR = 1 << 5,
    REG_K_STARTED = 1 << 6,
    REG_K_REQUIRED =
        REG_K_ID | REG_K_PID | REG_K_KIND | REG_K_TRANSPORT | REG_K_MOUNTPOINT | REG_K_STARTED,
};

/* One "key=value" line into out; *seen guards against duplicates. */
static strata_err *registry_decode_line(const char *k, size_t klen, const char *v, size_t vlen,
                                        unsigned *seen, registry_record *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } keys[] = {
        {"id", REG_K_ID},
        {"pid", REG_K_PID},
        {"kind", REG_K_KIND},
        {"transport", REG_K_TRANSPORT},
        {"mountpoint", REG_K_MOUNTPOINT},
        {"dir", REG_K_DIR},
        {"started", REG_K_STARTED},
    };
    unsigned bit = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strlen(keys[i].name) == klen && memcmp(keys[i].name, k, klen) == 0)
            bit = keys[i].bit;
    if (!bit)
        return NULL; /* a key of a later version */
    char name[16];
    snprintf(name, sizeof(name), "%.*s", (int)klen, k);
    if (*seen & bit)
        return registry_corrupt("the key '%s' appears twice", name);
    *seen |= bit;
    int64_t num;
    switch (bit) {
    case REG_K_ID:
        if (!registry_id_ok(v, vlen))
            return registry_corrupt("a bad %s", name);
        memcpy(out->id, v, vlen);
        out->id[vlen] = '\0';
        return NULL;
    case REG_K_PID:
        if (!registry_parse_num(v, vlen, INT_MAX, &num) || num == 0)
            return registry_corrupt("a bad %s", name);
        out->pid = (pid_t)num;
        return NULL;
    case REG_K_STARTED:
        if (!registry_parse_num(v, vlen, INT64_MAX, &num))
            return registry_corrupt("a bad %s", name);
        out->started = num;
        return NULL;
    case REG_K_KIND:
        if (vlen == 5 && memcmp(v, "mount", 5) == 0)
            out->kind = REGISTRY_KIND_MOUNT;
        else if (vlen == 3 && memcmp(v, "run", 3) == 0)
            out->kind = REGISTRY_KIND_RUN;
        else if (vlen == 5 && memcmp(v, "serve", 5) == 0)
            out->kind = REGISTRY_KIND_SERVE;
        else if (vlen == 4 && memcmp(v, "slot", 4) == 0)
            out->kind = REGISTRY_KIND_SLOT;
        else
            return registry_corrupt("a bad %s", name);
        return NULL;
    case REG_K_TRANSPORT:
        if (vlen >= sizeof(out->transport))
            return registry_corrupt("a bad %s", name);
        memcpy(out->transport, v, vlen);
        out->transport[vlen] = '\0';
        if (!registry_transport_ok(out->transport))
            return registry_corrupt("a bad %s", name);
        return NULL;
    default: { /* mountpoint, dir: absolute paths */
        char *dst = bit == REG_K_DIR ? out->dir : out->mountpoint;
        if (vlen == 0 || v[0] != '/' || vlen >= REGISTRY_PATH_MAX)
            return registry_corrupt("a bad %s (not an absolute path)", name);
        memcpy(dst, v, vlen);
        dst[vlen] = '\0';
        return NULL;
    }
    }
}

strata_err *registry_decode(const char *data, size_t len, registry_record *out)
{
    memset(out, 0, sizeof(*out));
    strata_err *e = NULL;
    size_t ml = strlen(REGISTRY_MAGIC);
    if (len > REGISTRY_REC_MAX)
        e = registry_corrupt("%s", "larger than any record");
    else if (memchr(data, '\0', len))
        e = registry_corrupt("%s", "a NUL byte");
    else if (len < ml || memcmp(data, REGISTRY_MAGIC, ml) != 0)
        e = registry_corrupt("%s", "not a strata registry record (version 1)");
    else if (data[len - 1] != '\n')
        e = registry_corrupt("%s", "cut short (no final newline)");
    unsigned seen = 0;
    for (size_t at = ml; !e && at < len;) {
        const char *line = data + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t ll = (size_t)(nl - line);
        const char *eq = memchr(line, '=', ll);
        if (!eq)
            e = registry_corrupt("%s", "a line without '='");
        else
            e = registry_decode_line(line, (size_t)(eq - line), eq + 1,
                                     ll - (size_t)(eq - line) - 1, &seen, out);
        at += ll + 1;
    }
    if (!e && (seen & REG_K_REQUIRED) != REG_K_REQUIRED)
        e = registry_corrupt("%s", "a required key is missing");
    if (e)
        memset(out, 0, sizeof(*out));
    return e;
}

/* ---- the directory ------------------------------------------------------- */

void registry_default_root(char out[REGISTRY_PATH_MAX])
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && xdg[0] == '/' && strlen(xdg) + sizeof("/strata") < REGISTRY_PATH_MAX)
        snprintf(out, REGISTRY_PATH_MAX, "%s/strata", xdg);
    else
        snprintf(out, REGISTRY_PATH_MAX, "/tmp/strata-%lu", (unsigned long)getuid());
}

/* A registry directory must be a real directory of this user that nobody
 * else can write: the records decide what a sweep unmounts. */
static strata_err *registry_check_dir(int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return strata_err_sys(errno, NULL, "stat the mount registry %s", path);
    char hint[REGISTRY_PATH_MAX + 128];
    snprintf(hint, sizeof(hint),
             "remove %s (strata makes it again, mode 0700), or set XDG_RUNTIME_DIR to a "
             "directory of your own",
             path);
    if (!S_ISDIR(st.st_mode))
        return strata_err_new(STRATA_E_INVALID, hint, "the mount registry %s is not a directory",
                              path);
    if (st.st_uid != geteuid())
        return strata_err_new(STRATA_E_INVALID, hint,
                              "the mount registry %s belongs to another user (uid %lu)", path,
                              (unsigned long)st.st_uid);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return strata_err_new(STRATA_E_INVALID, hint,
                              "the mount registry %s is writable by others (mode %03o)", path,
                              (unsigned)(st.st_mode & 0777));
    return NULL;
}

/* Makes (0700) and opens one directory level, refusing a symbolic link. */
static strata_err *registry_open_dir(int at, const char *name, const char *path, int *out)
{
    if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
        return strata_err_sys(errno, "set XDG_RUNTIME_DIR to a writable directory of your own",
                              "create the mount registry %s", path);
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == ELOOP || err == ENOTDIR)
            return strata_err_new(STRATA_E_INVALID,
                                  "remove it (strata makes a directory there), or set "
                                  "XDG_RUNTIME_DIR to a directory of your own",
                                  "the mount registry %s is not a directory (a symbolic link?)",
                                  path);
        return strata_err_sys(err, NULL, "open the mount registry %s", path);
    }
    strata_err *e = registry_check_dir(fd, path);
    if (e) {
        close(fd);
        return e;
    }
    *out = fd;
    return NULL;
}

strata_err *registry_open(const char *root, registry **out)
{
    *out = NULL;
    registry *r = calloc(1, sizeof(*r));
    if (!r)
        return registry_oom();
    r->dfd = -1;
    if (root)
        snprintf(r->root, sizeof(r->root), "%s", root);
    else
        registry_default_root(r->root);
    if (r->root[0] != '/' || strlen(r->root) + sizeof("/mounts") >= sizeof(r->path)) {
        strata_err *e = strata_err_new(STRATA_E_INVALID, "give an absolute, shorter path",
                                       "bad mount registry path '%s'", r->root);
        free(r);
        return e;
    }
    snprintf(r->path, sizeof(r->path), "%s/mounts", r->root);
    int rootfd = -1;
    strata_err *e = registry_open_dir(AT_FDCWD, r->root, r->root, &rootfd);
    if (!e)
        e = registry_open_dir(rootfd, "mounts", r->path, &r->dfd);
    if (rootfd >= 0)
        close(rootfd);
    if (e) {
        free(r);
        return e;
    }
    *out = r;
    return NULL;
}

const char *registry_path(const registry *r)
{
    return r->path;
}

void registry_close(registry *r)
{
    if (!r)
        return;
    if (r->dfd >= 0)
        close(r->dfd);
    free(r);
}

/* ---- register / unregister ----------------------------------------------- */

static void registry_new_id(char id[REGISTRY_ID_LEN + 1])
{
    unsigned char b[REGISTRY_ID_LEN / 2];
    bool got = false;
#ifdef __linux__
    got = getrandom(b, sizeof(b), GRND_NONBLOCK) == (ssize_t)sizeof(b);
#endif
    if (!got) {
        /* Unique enough: the O_EXCL create catches a collision. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec;
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)(x >> (8 * i));
    }
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(id + 2 * i, 3, "%02x", b[i]);
}

static void registry_name(char *buf, size_t n, const char *id, const char *ext)
{
    snprintf(buf, n, "%s.%s", id, ext);
}

static strata_err *registry_write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return strata_err_sys(w < 0 ? errno : EIO, NULL, "write a mount registry record");
        buf += w;
        len -= (size_t)w;
    }
    return NULL;
}

/* Creates and locks <id>.lock; EEXIST when the id is taken. */
static int registry_make_lock(int dfd, const char *id)
{
    char name[64];
    registry_name(name, sizeof(name), id, "lock");
    int fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        unlinkat(dfd, name, 0);
        close(fd);
        errno = err;
        return -1;
    }
    /* Between the create and the flock, the file was an unlocked lock
     * with no record: what a sweep removes as a dead owner's leftover.
     * A lock taken on a file that is no longer under its name protects
     * nothing (every later listing would see a record without a lock, a
     * dead owner, and sweep a live mount), so the caller takes a new id. */
    struct stat a, b;
    if (fstat(fd, &a) < 0 || fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
        a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
        close(fd);
        errno = EWOULDBLOCK;
        return -1;
    }
    return fd;
}

strata_err *registry_register(registry *r, registry_record *rec, registry_handle **out)
{
    *out = NULL;
    registry_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return registry_oom();
    h->dfd = h->lockfd = -1;
    rec->started = (int64_t)time(NULL);
    for (int tries = 0; h->lockfd < 0 && tries < 8; tries++) {
        registry_new_id(rec->id);
        h->lockfd = registry_make_lock(r->dfd, rec->id);
        /* EEXIST: the id is taken; EWOULDBLOCK: a sweep took the new
         * lock before we did (it then removes it). Either way, a new id. */
        if (h->lockfd < 0 && errno != EEXIST && errno != EWOULDBLOCK) {
            strata_err *e =
                strata_err_sys(errno, NULL, "create a lock in the mount registry %s", r->path);
            free(h);
            return e;
        }
    }
    memcpy(h->id, rec->id, sizeof(h->id));
    strata_err *e = NULL;
    char buf[REGISTRY_REC_MAX + 1];
    if (h->lockfd < 0)
        e = strata_err_new(STRATA_E_INTERNAL, NULL, "no free id in the mount registry %s", r->path);
    else if (!registry_encode(rec, buf, sizeof(buf)))
        e = strata_err_new(STRATA_E_INVALID,
                           "use a mountpoint without a newline, of an ordinary length",
                           "cannot register the mount at %s", rec->mountpoint);
    else if ((h->dfd = fcntl(r->dfd, F_DUPFD_CLOEXEC, 0)) < 0)
        e = strata_err_sys(errno, NULL, "register the mount at %s", rec->mountpoint);
    char tmp[64], name[64];
    registry_name(tmp, sizeof(tmp), rec->id, "tmp");
    registry_name(name, sizeof(name), rec->id, "rec");
    if (!e) {
        int fd = openat(r->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            e = strata_err_sys(errno, NULL, "write a record in the mount registry %s", r->path);
        } else {
            e = registry_write_all(fd, buf, strlen(buf));
            if (close(fd) < 0 && !e)
                e = strata_err_sys(errno, NULL, "write a mount registry record");
            if (!e && renameat(r->dfd, tmp, r->dfd, name) < 0)
                e = strata_err_sys(errno, NULL, "write a record in the mount registry %s", r->path);
            if (e)
                unlinkat(r->dfd, tmp, 0);
        }
    }
    if (e) {
        if (h->lockfd >= 0) {
            char lock[64];
            registry_name(lock, sizeof(lock), rec->id, "lock");
            unlinkat(r->dfd, lock, 0);
            close(h->lockfd);
        }
        if (h->dfd >= 0)
            close(h->dfd);
        free(h);
        return e;
    }
    *out = h;
    return NULL;
}

/* Removes one of the entry's files; a file already gone is fine. */
static strata_err *registry_unlink(int dfd, const char *id, const char *ext)
{
    char name[64];
    registry_name(name, sizeof(name), id, ext);
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
        return strata_err_sys(errno, NULL, "remove %s from the mount registry", name);
    return NULL;
}

/* The record first, the lock last: a record is never seen without its
 * lock while the lock is held. */
strata_err *registry_drop(registry_handle *h)
{
    if (!h)
        return NULL;
    strata_err *e = registry_unlink(h->dfd, h->id, "rec");
    if (!e)
        e = registry_unlink(h->dfd, h->id, "tmp");
    if (!e)
        e = registry_unlink(h->dfd, h->id, "lock");
    registry_release(h);
    return e;
}

strata_err *registry_unregister(registry_handle *h)
{
    return registry_drop(h);
}

void registry_release(registry_handle *h)
{
    if (!h)
        return;
    if (h->lockfd >= 0)
        close(h->lockfd);
    if (h->dfd >= 0)
        close(h->dfd);
    free(h);
}

/* ---- list and claim ------------------------------------------------------ */

/* Whether someone holds id's lock: the owner, or a sweep at work. */
static bool registry_held(int dfd, const char *id)
{
    char name[64];
    registry_name(name, sizeof(name), id, "lock");
    int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd); /* releases the lock if we took it */
    return held;
}

/* Reads <id>.rec: *present is false when there is none. */
static strata_err *registry_read(int dfd, const char *id, char *buf, size_t cap, size_t *len,
                                 bool *present)
{
    char name[64];
    registry_name(name, sizeof(name), id, "rec");
    *present = false;
    *len = 0;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? NULL : strata_err_sys(errno, NULL, "read %s", name);
    *present = true;
    while (*len < cap) {
        ssize_t n = read(fd, buf + *len, cap - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return strata_err_sys(err, NULL, "read %s", name);
        }
        if (n == 0)
            break;
        *len += (size_t)n;
    }
    close(fd);
    return NULL;
}

/* The ids of the files in the directory, "<16 hex>.<rec|lock|tmp>". */
static bool registry_parse_name(const char *name, char id[REGISTRY_ID_LEN + 1])
{
    const char *dot = strchr(name, '.');
    if (!dot || !registry_id_ok(name, (size_t)(dot - name)))
        return false;
    if (strcmp(dot, ".rec") && strcmp(dot, ".lock") && strcmp(dot, ".tmp"))
        return false;
    memcpy(id, name, REGISTRY_ID_LEN);
    id[REGISTRY_ID_LEN] = '\0';
    return true;
}

static int registry_cmp_entry(const void *a, const void *b)
{
    const registry_entry *x = a, *y = b;
    if (x->rec.started != y->rec.started)
        return x->rec.started < y->rec.started ? -1 : 1;
    return strcmp(x->id, y->id);
}

strata_err *registry_list(registry *r, registry_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int fd = openat(r->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return strata_err_sys(err, NULL, "list the mount registry %s", r->path);
    }
    registry_entry *ents = NULL;
    size_t cnt = 0, cap = 0;
    char *buf = malloc(REGISTRY_REC_MAX + 1);
    strata_err *e = buf ? NULL : registry_oom();
    struct dirent *de;
    while (!e && (de = readdir(d))) {
        char id[REGISTRY_ID_LEN + 1];
        if (!registry_parse_name(de->d_name, id))
            continue;
        bool dup = false;
        for (size_t i = 0; i < cnt && !dup; i++)
            dup = strcmp(ents[i].id, id) == 0;
        if (dup)
            continue;
        if (cnt == cap) {
            size_t nc = cap ? 2 * cap : 16;
            registry_entry *ne = realloc(ents, nc * sizeof(*ne));
            if (!ne) {
                e = registry_oom();
                break;
            }
            ents = ne;
            cap = nc;
        }
        registry_entry *en = &ents[cnt];
        memset(en, 0, sizeof(*en));
        memcpy(en->id, id, sizeof(en->id));
        /* The lock first: an owner takes it before writing its record,
         * and drops it after removing the record. */
        en->live = registry_held(r->dfd, id);
        size_t len;
        e = registry_read(r->dfd, id, buf, REGISTRY_REC_MAX + 1, &len, &en->has_record);
        if (e)
            break;
        if (!en->has_record) {
            if (en->live)
                continue; /* being registered or unregistered right now */
            en->state = REGISTRY_ORPHAN;
        } else {
            strata_err *de2 = registry_decode(buf, len, &en->rec);
            if (!de2 && strcmp(en->rec.id, id) != 0)
                de2 = registry_corrupt("%s", "its id does not match its file name");
            if (de2) {
                en->state = REGISTRY_CORRUPT;
                snprintf(en->why, sizeof(en->why), "%s", de2->msg);
                strata_err_free(de2);
                memset(&en->rec, 0, sizeof(en->rec));
            } else {
                en->state = en->live ? REGISTRY_LIVE : REGISTRY_DEAD;
            }
        }
        cnt++;
    }
    closedir(d);
    free(buf);
    if (e) {
        free(ents);
        return e;
    }
    if (cnt)
        qsort(ents, cnt, sizeof(*ents), registry_cmp_entry);
    *out = ents;
    *n = cnt;
    return NULL;
}

/* Whether any of the entry's files is still there. */
static bool registry_any_file(int dfd, const char *id)
{
    static const char *const exts[] = {"rec", "tmp", "lock"};
    for (size_t i = 0; i < 3; i++) {
        char name[64];
        struct stat st;
        registry_name(name, sizeof(name), id, exts[i]);
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return true;
    }
    return false;
}

strata_err *registry_claim(registry *r, const char *id, registry_handle **out, bool *got)
{
    *out = NULL;
    *got = false;
    if (!registry_id_ok(id, strlen(id)))
        return strata_err_new(STRATA_E_INVALID, NULL, "bad registry id '%s'", id);
    char name[64];
    registry_name(name, sizeof(name), id, "lock");
    for (int tries = 0; tries < 4; tries++) {
        int fd = openat(r->dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            /* A record whose lock was removed: make a lock to hold while
             * cleaning up, so that two sweeps do not both act. */
            if (!registry_any_file(r->dfd, id))
                return NULL;
            fd = openat(r->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0 && errno == EEXIST)
                continue;
        }
        if (fd < 0)
            return strata_err_sys(errno, NULL, "open %s in the mount registry", name);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int err = errno;
            close(fd);
            if (err == EWOULDBLOCK)
                return NULL;
            return strata_err_sys(err, NULL, "lock %s in the mount registry", name);
        }
        /* The lock must still be the file at that name: another sweep
         * may have removed it after we opened it. */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && fstatat(r->dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
            a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            registry_handle *h = calloc(1, sizeof(*h));
            int dfd = h ? fcntl(r->dfd, F_DUPFD_CLOEXEC, 0) : -1;
            if (!h || dfd < 0) {
                free(h);
                close(fd);
                return registry_oom();
            }
            h->dfd = dfd;
            h->lockfd = fd;
            memcpy(h->id, id, REGISTRY_ID_LEN + 1);
            *out = h;
            *got = true;
            return NULL;
        }
        close(fd);
    }
    return NULL;
}
