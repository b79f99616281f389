/* Builds FUSE mount options from (platform, backend): see fuse_opts.h.
 *
 * Facts behind the choices (libfuse's mount.c, macFUSE's wiki):
 * - Linux: default_permissions lets the kernel check modes, so no access
 *   request reaches us; noatime spares a setattr per read of an upper file.
 * - macFUSE kext: allow_root gives root (Spotlight, backup tools run as
 *   root) access next to the owner, but only an admin may ask for it;
 *   iosize=1 MiB cuts the number of reads of big files; noappledouble keeps
 *   Finder's ._ files out of build outputs.
 * - FSKit: only mounts under /Volumes, implements few kernel options, and
 *   has no notification API, so upper entries must not be cached at all,
 *   nor any negative lookup (a name made later could stay hidden).
 * - Linux updates its own dentry cache on every create, rename and remove
 *   it passes on; macFUSE keeps negative entries across them, so there
 *   each such name is invalidated (fuse_notify.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "transport/fuse_opts.h"

/* Appends ",opt" (or "opt" first); false when it does not fit. */
static bool opt_add(fuse_mount_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool opt_add(fuse_mount_opts *o, const char *fmt, ...)
{
    size_t len = strlen(o->opts);
    if (len && len + 1 < sizeof(o->opts))
        o->opts[len++] = ',';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->opts + len, sizeof(o->opts) - len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < sizeof(o->opts) - len;
}

/* A volume name goes into a comma-separated option list, and macFUSE
 * shows it in Finder: keep it to a safe alphabet. */
static bool volname_ok(const char *v)
{
    if (!*v || strlen(v) > 64)
        return false;
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

/* FSKit mounts only directly under /Volumes. */
static bool under_volumes(const char *mp)
{
    const char *pre = "/Volumes/";
    size_t n = strlen(pre);
    if (!mp || strncmp(mp, pre, n) != 0 || !mp[n])
        return false;
    const char *rest = mp + n;
    const char *slash = strchr(rest, '/');
    return !slash || !slash[1]; /* one component, maybe a trailing '/' */
}

strata_err *fuse_mountopts_build(const fuse_mount_req *r, fuse_mount_opts *out)
{
    memset(out, 0, sizeof(*out));
    const char *vol = r->volname ? r->volname : "strata";
    if (!volname_ok(vol))
        return strata_err_new(STRATA_E_INVALID,
                              "use 1-64 letters, digits, '-', '_' or '.' for the volume name",
                              "bad volume name '%s'", vol);
    bool linux_backend = r->backend == FUSE_BACKEND_DEVFUSE;
    if ((r->os == FUSE_OS_LINUX) != linux_backend)
        return strata_err_new(
            STRATA_E_INVALID,
            r->os == FUSE_OS_LINUX ? "on Linux, use the fuse backend (/dev/fuse)"
                                   : "on macOS, use the macFUSE kext or FSKit backend",
            "this FUSE backend does not exist on %s", r->os == FUSE_OS_LINUX ? "Linux" : "macOS");
    bool ok = opt_add(out, "fsname=strata:%s", vol);
    switch (r->backend) {
    case FUSE_BACKEND_DEVFUSE:
        ok = ok && opt_add(out, "subtype=strata") && opt_add(out, "default_permissions") &&
             opt_add(out, "noatime");
        out->notify = true;
        out->cache_negative = true;
        out->lower_timeout = 86400.0;
        out->upper_timeout = 1.0;
        break;
    case FUSE_BACKEND_KEXT:
        ok = ok && opt_add(out, "volname=%s", vol) && opt_add(out, "default_permissions") &&
             opt_add(out, "auto_unmount") && opt_add(out, "iosize=1048576") &&
             opt_add(out, "noappledouble");
        if (r->admin)
            ok = ok && opt_add(out, "allow_root");
        out->notify = true;
        out->inval_names = true;
        out->cache_negative = true;
        out->lower_timeout = 86400.0;
        out->upper_timeout = 1.0;
        break;
    case FUSE_BACKEND_FSKIT:
        if (!under_volumes(r->mountpoint))
            return strata_err_new(STRATA_E_INVALID,
                                  "FSKit mounts only directly under /Volumes: use a mountpoint "
                                  "such as /Volumes/strata-<uid>-<id>",
                                  "FSKit cannot mount at %s",
                                  r->mountpoint ? r->mountpoint : "(none)");
        ok = ok && opt_add(out, "backend=fskit") && opt_add(out, "volname=%s", vol);
        out->notify = false;
        out->cache_negative = false;
        out->lower_timeout = 86400.0;
        out->upper_timeout = 0.0;
        break;
    }
    if (r->read_only)
        ok = ok && opt_add(out, "ro");
    if (!ok)
        return strata_err_new(STRATA_E_INTERNAL, NULL, "FUSE mount options too long");
    return NULL;
}
