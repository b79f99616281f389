/* Builds the transport plan from facts and config, classifies mount
 * failures, and writes the error for "nothing mounted" (see plan.h).
 * Everything here is pure: the probe (platform_*.c) and the mounter do the
 * I/O, so each decision can be tested with facts written by hand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "engine/nfs_mount.h"
#include "engine/plan.h"

/* Each platform's order, before the config narrows it. */
static const engine_transport linux_order[] = {ENGINE_T_FUSE, ENGINE_T_NFS, ENGINE_T_NONE};
static const engine_transport macos_order[] = {ENGINE_T_KEXT, ENGINE_T_FSKIT, ENGINE_T_NFS,
                                               ENGINE_T_NONE};

/* FSKit mounts only directly under /Volumes. */
static bool under_volumes(const char *mp)
{
    static const char pre[] = "/Volumes/";
    if (!mp || strncmp(mp, pre, sizeof(pre) - 1) != 0 || !mp[sizeof(pre) - 1])
        return false;
    const char *slash = strchr(mp + sizeof(pre) - 1, '/');
    return !slash || !slash[1];
}

/* Why t cannot work on f (ENGINE_FAIL_NONE: it may). The checks go from
 * the kernel up, so the first reason given is the one to fix first. */
static engine_failure fuse_blocker(const engine_facts *f)
{
    if (f->dev_fuse == FACTS_DEV_ABSENT)
        return ENGINE_FAIL_DEV_MISSING;
    if (f->dev_fuse == FACTS_DEV_DENIED)
        return ENGINE_FAIL_DEV_DENIED;
    if (!f->libfuse)
        return ENGINE_FAIL_LIB_MISSING;
    if (!f->root && !f->fusermount)
        return ENGINE_FAIL_FUSERMOUNT_MISSING;
    if (!f->root && !f->fusermount_setuid)
        return ENGINE_FAIL_FUSERMOUNT_NOT_SETUID;
    return ENGINE_FAIL_NONE;
}

static engine_failure kext_blocker(const engine_facts *f)
{
    if (!f->macfuse)
        return ENGINE_FAIL_MACFUSE_MISSING;
    if (!f->libfuse)
        return ENGINE_FAIL_LIB_MISSING;
    if (f->kext == FACTS_KEXT_NOT_APPROVED)
        return ENGINE_FAIL_KEXT_NOT_APPROVED;
    return ENGINE_FAIL_NONE;
}

static engine_failure fskit_blocker(const engine_facts *f)
{
    if (!f->macfuse)
        return ENGINE_FAIL_MACFUSE_MISSING;
    if (!engine_version_at_least(f->os_version, FACTS_FSKIT_MACOS_MAJOR, FACTS_FSKIT_MACOS_MINOR))
        return ENGINE_FAIL_FSKIT_OS_TOO_OLD;
    if (!engine_version_at_least(f->macfuse_version, FACTS_FSKIT_MACFUSE_MAJOR,
                                 FACTS_FSKIT_MACFUSE_MINOR))
        return ENGINE_FAIL_FSKIT_MACFUSE_TOO_OLD;
    if (!f->libfuse)
        return ENGINE_FAIL_LIB_MISSING;
    if (f->fskit_module == FACTS_FSKIT_DISABLED || f->fskit_module == FACTS_FSKIT_ABSENT)
        return ENGINE_FAIL_FSKIT_DISABLED;
    if (f->root)
        return ENGINE_FAIL_FSKIT_ROOT;
    return ENGINE_FAIL_NONE;
}

/* NFS needs root: Linux only when it already has it; macOS also when the
 * escalation plan gets it without asking again (sudo with consent). */
static engine_failure nfs_blocker(const engine_facts *f, const escalate_plan *esc)
{
    if (!f->nfs_client)
        return ENGINE_FAIL_NFS_NO_CLIENT;
    if (f->root)
        return ENGINE_FAIL_NONE;
    if (f->os == ENGINE_OS_MACOS &&
        (esc->kind == ESCALATE_SUDO || (esc->kind == ESCALATE_ABR_FLOW && esc->uses_sudo)))
        return ENGINE_FAIL_NONE;
    return ENGINE_FAIL_NFS_NEEDS_ROOT;
}

static bool copy_str(char *dst, size_t n, const char *src)
{
    int w = snprintf(dst, n, "%s", src);
    return w >= 0 && (size_t)w < n;
}

/* Fills one attempt: where, with which options, whether it can work. */
static strata_err *fill_attempt(const engine_facts *f, const engine_config *c, const plan_req *r,
                                engine_transport t, plan_attempt *a)
{
    memset(a, 0, sizeof(*a));
    a->transport = t;
    bool macos = f->os == ENGINE_OS_MACOS;
    if (t == ENGINE_T_FSKIT && !under_volumes(r->mountpoint)) {
        snprintf(a->mountpoint, sizeof(a->mountpoint), "/Volumes/strata-%lu-%llu",
                 (unsigned long)f->uid, r->id);
    } else if (!copy_str(a->mountpoint, sizeof(a->mountpoint), r->mountpoint)) {
        return strata_err_new(STRATA_E_INVALID, "use a shorter path for the mountpoint",
                              "mountpoint longer than %d bytes", PLAN_MP_MAX - 1);
    }

    engine_failure skip = ENGINE_FAIL_NONE;
    strata_err *e = NULL;
    fuse_mount_req fr = {.os = macos ? FUSE_OS_MACOS : FUSE_OS_LINUX,
                         .uid = f->uid,
                         .admin = f->root || f->admin,
                         .read_only = r->read_only,
                         .mountpoint = a->mountpoint,
                         .volname = r->volname};
    switch (t) {
    case ENGINE_T_FUSE:
        fr.backend = FUSE_BACKEND_DEVFUSE;
        e = fuse_mountopts_build(&fr, &a->fuse);
        skip = fuse_blocker(f);
        break;
    case ENGINE_T_KEXT:
        fr.backend = FUSE_BACKEND_KEXT;
        e = fuse_mountopts_build(&fr, &a->fuse);
        skip = kext_blocker(f);
        break;
    case ENGINE_T_FSKIT:
        fr.backend = FUSE_BACKEND_FSKIT;
        e = fuse_mountopts_build(&fr, &a->fuse);
        skip = fskit_blocker(f);
        break;
    case ENGINE_T_NFS:
        /* The mount command's options (nfs_mount.h says why each): no
         * portmapper, so the mounter adds port= and mountport=. */
        nfs_mount_base_opts(f->os, r->read_only, a->nfs_opts, sizeof(a->nfs_opts));
        a->nfs_port = c->nfs_port;
        escalate_plan_for(f, ENGINE_T_NFS, ENGINE_FAIL_NONE, r->sudo_consent, &a->escalation);
        skip = nfs_blocker(f, &a->escalation);
        break;
    case ENGINE_T_NONE:
        break;
    }
    if (e)
        return e;
    a->skip = skip;
    a->usable = skip == ENGINE_FAIL_NONE;
    if (!a->usable) {
        const hints_row *row = hints_lookup(f->os, t, skip);
        a->why = row->why;
        a->hint = row->hint;
        if (t != ENGINE_T_NFS)
            escalate_plan_for(f, t, skip, r->sudo_consent, &a->escalation);
    }
    return NULL;
}

strata_err *plan_build(const engine_facts *f, const engine_config *c, const plan_req *r,
                       engine_plan *out)
{
    memset(out, 0, sizeof(*out));
    out->os = f->os;
    if (!r->mountpoint || !*r->mountpoint)
        return strata_err_new(STRATA_E_INVALID, "give a directory to mount on",
                              "no mountpoint for the plan");
    if (c->pinned && !engine_transport_on(f->os, c->backend))
        return strata_err_new(
            STRATA_E_INVALID,
            f->os == ENGINE_OS_MACOS ? "on macOS, pin kext (or its alias fuse), fskit, nfs or none"
                                     : "on Linux, pin fuse, nfs or none",
            "mount.backend: %s cannot work on %s", engine_transport_name(c->backend),
            f->os == ENGINE_OS_MACOS ? "macOS" : "Linux");
    const engine_transport *order = f->os == ENGINE_OS_MACOS ? macos_order : linux_order;
    size_t n = f->os == ENGINE_OS_MACOS ? sizeof(macos_order) / sizeof(macos_order[0])
                                        : sizeof(linux_order) / sizeof(linux_order[0]);
    out->pinned = c->pinned;
    if (c->pinned)
        out->mount_required = c->backend != ENGINE_T_NONE;
    else
        out->mount_required = c->enabled == CONFIG_ENABLED_TRUE;
    out->warn_on_none = !c->pinned && c->enabled == CONFIG_ENABLED_AUTO;
    for (size_t i = 0; i < n; i++) {
        engine_transport t = order[i];
        bool keep;
        if (c->pinned)
            keep = t == c->backend;
        else if (c->enabled == CONFIG_ENABLED_FALSE)
            keep = t == ENGINE_T_NONE;
        else if (c->enabled == CONFIG_ENABLED_TRUE)
            keep = t != ENGINE_T_NONE;
        else
            keep = true;
        if (!keep)
            continue;
        strata_err *e = fill_attempt(f, c, r, t, &out->attempts[out->count]);
        if (e) {
            memset(out, 0, sizeof(*out));
            return e;
        }
        out->count++;
    }
    return NULL;
}

size_t plan_next(const engine_plan *p, size_t from)
{
    for (size_t i = from; i < p->count; i++)
        if (p->attempts[i].usable)
            return i;
    return p->count;
}

static bool has(const char *s, const char *needle)
{
    return s && strstr(s, needle);
}

/* Errors that mean "the place to mount on is wrong", on every transport. */
static bool mountpoint_errno(int e)
{
    return e == ENOENT || e == ENOTDIR || e == EBUSY || e == ENOTEMPTY || e == EEXIST;
}

static engine_failure classify_fuse(const engine_facts *f, const plan_failure_in *in)
{
    if (has(in->detail, "user_allow_other"))
        return ENGINE_FAIL_ALLOW_OTHER;
    if (has(in->detail, "fusermount3") &&
        (has(in->detail, "not found") || has(in->detail, "No such file")))
        return ENGINE_FAIL_FUSERMOUNT_MISSING;
    engine_failure b = fuse_blocker(f);
    if (b != ENGINE_FAIL_NONE)
        return b;
    int e = in->sys_errno;
    if (e == ENODEV || has(in->detail, "unknown filesystem type"))
        return ENGINE_FAIL_DEV_MISSING;
    if (e == EPERM || e == EACCES)
        return ENGINE_FAIL_DEV_DENIED; /* e.g. a container without CAP_SYS_ADMIN */
    if (mountpoint_errno(e))
        return ENGINE_FAIL_MOUNTPOINT;
    return ENGINE_FAIL_UNKNOWN;
}

/* The field case: with the extension blocked, macFUSE's mount fails with
 * EROFS or EACCES (or EPERM, ENODEV), and the kext is not loaded. */
static engine_failure classify_kext(const engine_facts *f, const plan_failure_in *in)
{
    engine_failure b = kext_blocker(f);
    if (b != ENGINE_FAIL_NONE)
        return b;
    if (has(in->detail, "System Extension Blocked") || has(in->detail, "not available") ||
        has(in->detail, "extension"))
        return ENGINE_FAIL_KEXT_NOT_APPROVED;
    int e = in->sys_errno;
    bool blocked_errno = e == EROFS || e == EACCES || e == EPERM || e == ENODEV;
    if (blocked_errno && f->kext != FACTS_KEXT_LOADED)
        return ENGINE_FAIL_KEXT_NOT_APPROVED;
    if (mountpoint_errno(e) || e == EACCES || e == EPERM)
        return ENGINE_FAIL_MOUNTPOINT;
    return ENGINE_FAIL_UNKNOWN;
}

static engine_failure classify_fskit(const engine_facts *f, const plan_failure_in *in)
{
    engine_failure b = fskit_blocker(f);
    if (b != ENGINE_FAIL_NONE)
        return b;
    if (in->mountpoint && !under_volumes(in->mountpoint))
        return ENGINE_FAIL_FSKIT_MOUNTPOINT;
    /* macFUSE's messages when its module is off or unregistered. */
    if (has(in->detail, "extension not found") || has(in->detail, "named macfuse not found") ||
        has(in->detail, "File System Extension"))
        return ENGINE_FAIL_FSKIT_DISABLED;
    int e = in->sys_errno;
    if (mountpoint_errno(e))
        return ENGINE_FAIL_MOUNTPOINT;
    if (e == EPERM || e == EACCES || e == ENODEV || e == ENOTSUP)
        return ENGINE_FAIL_FSKIT_DISABLED;
    return ENGINE_FAIL_UNKNOWN;
}

static engine_failure classify_nfs(const engine_facts *f, const plan_failure_in *in)
{
    int e = in->sys_errno;
    if (e == EADDRINUSE || has(in->detail, "Address already in use"))
        return ENGINE_FAIL_NFS_PORT_IN_USE;
    if (!f->nfs_client || e == ENODEV || e == EPROTONOSUPPORT ||
        has(in->detail, "unknown filesystem type"))
        return ENGINE_FAIL_NFS_NO_CLIENT;
    if ((e == EPERM || e == EACCES || has(in->detail, "only root")) && !f->root)
        return ENGINE_FAIL_NFS_NEEDS_ROOT;
    if (mountpoint_errno(e))
        return ENGINE_FAIL_MOUNTPOINT;
    if (e == ETIMEDOUT)
        return ENGINE_FAIL_NOT_RESPONDING;
    return ENGINE_FAIL_UNKNOWN;
}

engine_failure plan_classify(const engine_facts *f, const plan_failure_in *in)
{
    if (in->timed_out)
        return ENGINE_FAIL_NOT_RESPONDING;
    switch (in->transport) {
    case ENGINE_T_FUSE:
        return classify_fuse(f, in);
    case ENGINE_T_KEXT:
        return classify_kext(f, in);
    case ENGINE_T_FSKIT:
        return classify_fskit(f, in);
    case ENGINE_T_NFS:
        return classify_nfs(f, in);
    case ENGINE_T_NONE:
        return mountpoint_errno(in->sys_errno) ? ENGINE_FAIL_MOUNTPOINT : ENGINE_FAIL_UNKNOWN;
    }
    return ENGINE_FAIL_UNKNOWN;
}

strata_err *plan_all_failed(const engine_plan *p, const engine_failure failed[])
{
    strata_buf msg, hint;
    buf_init(&msg);
    buf_init(&hint);
    static const char head[] = "no transport could mount: ";
    buf_append(&msg, head, sizeof(head) - 1);
    for (size_t i = 0; i < p->count; i++) {
        const plan_attempt *a = &p->attempts[i];
        engine_failure why = a->usable ? (failed ? failed[i] : ENGINE_FAIL_UNKNOWN) : a->skip;
        if (why == ENGINE_FAIL_NONE)
            why = ENGINE_FAIL_UNKNOWN;
        const hints_row *row = hints_lookup(p->os, a->transport, why);
        const char *name = engine_transport_name(a->transport);
        if (i) {
            buf_append(&msg, "; ", 2);
            buf_append(&hint, "; ", 2);
        }
        buf_append(&msg, name, strlen(name));
        buf_append(&msg, ": ", 2);
        buf_append(&msg, row->why, strlen(row->why));
        if (!a->usable)
            buf_append(&msg, " (not tried)", 12);
        buf_append(&hint, name, strlen(name));
        buf_append(&hint, ": ", 2);
        buf_append(&hint, row->hint, strlen(row->hint));
    }
    if (!p->count) {
        static const char none[] = "nothing to try";
        buf_append(&msg, none, sizeof(none) - 1);
    }
    buf_append(&msg, "", 1);
    buf_append(&hint, "", 1);
    strata_err *e;
    if (msg.oom || hint.oom)
        e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    else
        e = strata_err_new(STRATA_E_UNSUPPORTED,
                           p->count ? (const char *)hint.data
                                    : "'strata doctor' shows which transports work here",
                           "%s", (const char *)msg.data);
    buf_free(&msg);
    buf_free(&hint);
    return e;
}
