/* The stale sweep (see sweep.h): force-unmounts the mounts of dead owners
 * from the registry's records, removes their records (and a dead run's
 * temporary directory), and on macOS unmounts orphaned FSKit volumes.
 * The decisions are pure functions; the I/O is the mount table, the
 * unmount and the removals. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __APPLE__
#include <dirent.h>
#include <sys/param.h>
#include <sys/ucred.h>
#endif

#include "base/fsutil.h"
#include "engine/mount_table.h"
#include "engine/serve.h"
#include "engine/spawn.h"
#include "engine/sweep.h"
#include "transport/fuse.h"

/* How long a forced unmount may take. */
#define SWEEP_UNMOUNT_SECONDS 15

/* ---- pure decisions ------------------------------------------------------ */

bool sweep_is_strata_fstype(engine_os os, const char *transport, const char *fstype)
{
    if (!fstype || !transport)
        return false;
    if (strcmp(transport, "nfs") == 0)
        return strcmp(fstype, "nfs") == 0;
    if (os == ENGINE_OS_LINUX)
        return strcmp(transport, "fuse") == 0 && strcmp(fstype, FUSEFS_FSTYPE) == 0;
    return (strcmp(transport, "kext") == 0 || strcmp(transport, "fskit") == 0) &&
           strncmp(fstype, "macfuse", 7) == 0;
}

sweep_action sweep_decide(engine_os os, const registry_entry *e, const char *fstype,
                          bool live_owner_of_mountpoint)
{
    if (e->live)
        return SWEEP_KEEP;
    if (e->state != REGISTRY_DEAD)
        return SWEEP_FORGET;
    /* A slot is a directory of a serve's mount, never a mount itself. */
    if (!fstype || e->rec.kind == REGISTRY_KIND_SLOT)
        return SWEEP_FORGET;
    if (live_owner_of_mountpoint || !sweep_is_strata_fstype(os, e->rec.transport, fstype))
        return SWEEP_FOREIGN;
    return SWEEP_UNMOUNT;
}

bool sweep_volume_stale(const char *name, uid_t uid, const char *const *live_mountpoints, size_t n)
{
    char prefix[64];
    int pl = snprintf(prefix, sizeof(prefix), "strata-%lu-", (unsigned long)uid);
    if (pl <= 0 || strncmp(name, prefix, (size_t)pl) != 0 || !name[pl])
        return false;
    for (const char *p = name + pl; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '-' || *p == '_'))
            return false;
    for (size_t i = 0; i < n; i++) {
        const char *mp = live_mountpoints[i];
        if (strncmp(mp, "/Volumes/", 9) == 0 && strcmp(mp + 9, name) == 0)
            return false;
    }
    return true;
}

bool sweep_run_dir_ok(const char *dir, const char *mp)
{
    size_t dl = strlen(dir);
    if (dl < 2 || dir[0] != '/' || strncmp(mp, dir, dl) != 0 || mp[dl] != '/' ||
        strchr(mp + dl + 1, '/') || !mp[dl + 1])
        return false;
    return sweep_slot_dir_ok(dir);
}

bool sweep_slot_dir_ok(const char *dir)
{
    size_t dl = strlen(dir);
    if (dl < 2 || dir[0] != '/')
        return false;
    const char *base = strrchr(dir, '/') + 1;
    if (strncmp(base, "strata-run-", 11) != 0 || !base[11])
        return false;
    /* No "." or ".." anywhere: the path must name what it seems to. */
    return !strstr(dir, "/./") && !strstr(dir, "/../") &&
           !(dl >= 2 && strcmp(dir + dl - 2, "/.") == 0) &&
           !(dl >= 3 && strcmp(dir + dl - 3, "/..") == 0);
}

/* ---- the mount table and the unmount ------------------------------------- */

static engine_os sweep_os(void)
{
#ifdef __APPLE__
    return ENGINE_OS_MACOS;
#else
    return ENGINE_OS_LINUX;
#endif
}

/* Runs argv with a deadline (a forced unmount of a dead server's mount
 * must not hang the sweep), its first line of output into msg; true on
 * exit 0. */
static bool sweep_spawn(const char *const argv[], char *msg, size_t cap)
{
    spawn_result r;
    strata_err *e = spawn_run(argv, SWEEP_UNMOUNT_SECONDS, &r);
    if (e) {
        snprintf(msg, cap, "%s", e->msg);
        strata_err_free(e);
        return false;
    }
    spawn_first_line(r.out, msg, cap);
    if (r.timed_out && !msg[0])
        snprintf(msg, cap, "%s did not finish within %d s", argv[0], SWEEP_UNMOUNT_SECONDS);
    return r.status == 0;
}

/* Forces the mount at mp away, even when its server is dead or it is
 * busy: the processes that still use it see it gone. */
static bool sweep_force_unmount(const char *mp, char *msg, size_t cap)
{
#ifdef __APPLE__
    const char *um[] = {"umount", "-f", mp, NULL};
    if (sweep_spawn(um, msg, cap))
        return true;
    const char *du[] = {"diskutil", "unmount", "force", mp, NULL};
    return sweep_spawn(du, msg, cap);
#else
    if (geteuid() == 0) {
        if (umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            return true;
        snprintf(msg, cap, "umount2: %s", strerror(errno));
        return false;
    }
    const char *prog =
        access("/usr/bin/fusermount3", X_OK) == 0 ? "/usr/bin/fusermount3" : "fusermount3";
    const char *fm[] = {prog, "-u", "-z", "--", mp, NULL};
    return sweep_spawn(fm, msg, cap);
#endif
}

/* Removes a dead run's temporary directory, when it is one. */
static void sweep_remove_run_dir(sweep_item *it)
{
    const registry_record *rec = &it->rec;
    bool ok = rec->kind == REGISTRY_KIND_RUN    ? sweep_run_dir_ok(rec->dir, rec->mountpoint)
              : rec->kind == REGISTRY_KIND_SLOT ? sweep_slot_dir_ok(rec->dir)
                                                : false;
    if (!rec->dir[0] || !ok)
        return;
    struct stat st;
    if (lstat(rec->dir, &st) < 0) {
        if (errno != ENOENT)
            snprintf(it->error, sizeof(it->error), "cannot check %s: %s", rec->dir,
                     strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return;
    strata_err *e = fs_remove_tree(rec->dir);
    if (e) {
        snprintf(it->error, sizeof(it->error), "%s", e->msg);
        strata_err_free(e);
        return;
    }
    it->dir_removed = true;
}

/* Whether a live entry names mp. */
static bool sweep_live_at(const registry_entry *ents, size_t n, const char *mp)
{
    for (size_t i = 0; i < n; i++)
        if (ents[i].live && ents[i].state == REGISTRY_LIVE &&
            strcmp(ents[i].rec.mountpoint, mp) == 0)
            return true;
    return false;
}

/* Sweeps one entry of a dead owner, whose lock h holds. */
static void sweep_one(const registry_entry *ents, size_t n, const registry_entry *en,
                      registry_handle *h, sweep_item *it)
{
    engine_os os = sweep_os();
    char *fstype = NULL;
    if (en->state == REGISTRY_DEAD) {
        strata_err *e = mount_table_type(en->rec.mountpoint, &fstype);
        if (e) {
            snprintf(it->error, sizeof(it->error), "%s", e->msg);
            strata_err_free(e);
            registry_release(h);
            return;
        }
    }
    it->action = sweep_decide(os, en, fstype, sweep_live_at(ents, n, en->rec.mountpoint));
    free(fstype);
    if (it->action == SWEEP_UNMOUNT) {
        char msg[400];
        if (!sweep_force_unmount(en->rec.mountpoint, msg, sizeof(msg))) {
            snprintf(it->error, sizeof(it->error), "cannot unmount %s: %s", en->rec.mountpoint,
                     msg[0] ? msg : "the unmount failed");
            registry_release(h); /* kept for the next sweep */
            return;
        }
        it->unmounted = true;
    }
    if (it->action != SWEEP_FOREIGN)
        sweep_remove_run_dir(it);
    strata_err *e = registry_drop(h);
    if (e) {
        if (!it->error[0])
            snprintf(it->error, sizeof(it->error), "%s", e->msg);
        strata_err_free(e);
        return;
    }
    it->record_removed = true;
}

/* Removes the control socket of a dead serve, unless a live owner of the
 * same mountpoint (a new serve) uses that name now. */
static void sweep_remove_socket(registry *r, const registry_entry *ents, size_t n,
                                const registry_record *rec)
{
    if (sweep_live_at(ents, n, rec->mountpoint))
        return;
    char root[REGISTRY_PATH_MAX], sock[SERVE_SOCK_MAX];
    snprintf(root, sizeof(root), "%s", registry_path(r));
    char *slash = strrchr(root, '/'); /* the records live in <root>/mounts */
    if (slash)
        *slash = '\0';
    strata_err *e = serve_socket_path(root, rec->mountpoint, sock, sizeof(sock));
    struct stat st;
    if (!e && lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == geteuid())
        (void)unlink(sock);
    strata_err_free(e);
}

static bool sweep_push(sweep_report *rep, size_t *cap, sweep_item **out)
{
    if (rep->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        sweep_item *ni = realloc(rep->items, nc * sizeof(*ni));
        if (!ni)
            return false;
        rep->items = ni;
        *cap = nc;
    }
    *out = &rep->items[rep->n++];
    memset(*out, 0, sizeof(**out));
    return true;
}

#ifdef __APPLE__
/* FSKit volumes of this user that no live record names. */
static void sweep_volumes(const registry_entry *ents, size_t n, sweep_report *rep, size_t *cap)
{
    const char **live = calloc(n ? n : 1, sizeof(*live));
    if (!live)
        return;
    size_t nl = 0;
    for (size_t i = 0; i < n; i++)
        if (ents[i].live && ents[i].state == REGISTRY_LIVE)
            live[nl++] = ents[i].rec.mountpoint;
    DIR *d = opendir("/Volumes");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!sweep_volume_stale(de->d_name, getuid(), live, nl))
            continue;
        char mp[REGISTRY_PATH_MAX];
        snprintf(mp, sizeof(mp), "/Volumes/%s", de->d_name);
        char *fstype = NULL;
        strata_err *e = mount_table_type(mp, &fstype);
        bool ours = !e && sweep_is_strata_fstype(ENGINE_OS_MACOS, "fskit", fstype);
        strata_err_free(e);
        free(fstype);
        sweep_item *it;
        if (!ours || !sweep_push(rep, cap, &it))
            continue;
        it->state = REGISTRY_DEAD;
        it->action = SWEEP_UNMOUNT;
        snprintf(it->rec.transport, sizeof(it->rec.transport), "fskit");
        snprintf(it->rec.mountpoint, sizeof(it->rec.mountpoint), "%s", mp);
        char msg[400];
        if (sweep_force_unmount(mp, msg, sizeof(msg)))
            it->unmounted = true;
        else
            snprintf(it->error, sizeof(it->error), "cannot unmount %s: %s", mp, msg);
    }
    if (d)
        closedir(d);
    free(live);
}
#endif

strata_err *sweep_run(registry *r, sweep_report *out)
{
    memset(out, 0, sizeof(*out));
    registry_entry *ents;
    size_t n, cap = 0;
    strata_err *e = registry_list(r, &ents, &n);
    if (e)
        return e;
    for (size_t i = 0; i < n; i++) {
        const registry_entry *en = &ents[i];
        if (en->live) {
            out->live++;
            continue;
        }
        registry_handle *h;
        bool got;
        e = registry_claim(r, en->id, &h, &got);
        if (e || !got) {
            /* Gone meanwhile, or another sweep has it: not ours to do. */
            strata_err_free(e);
            e = NULL;
            continue;
        }
        sweep_item *it;
        if (!sweep_push(out, &cap, &it)) {
            registry_release(h);
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
            break;
        }
        memcpy(it->id, en->id, sizeof(it->id));
        it->state = en->state;
        it->rec = en->rec;
        sweep_one(ents, n, en, h, it);
        if (it->rec.kind == REGISTRY_KIND_SERVE && it->record_removed)
            sweep_remove_socket(r, ents, n, &it->rec);
    }
#ifdef __APPLE__
    if (!e)
        sweep_volumes(ents, n, out, &cap);
#endif
    free(ents);
    if (e) {
        sweep_report_free(out);
        return e;
    }
    for (size_t i = 0; i < out->n; i++)
        if (out->items[i].error[0])
            out->failures++;
    return NULL;
}

void sweep_report_free(sweep_report *rep)
{
    free(rep->items);
    memset(rep, 0, sizeof(*rep));
}
