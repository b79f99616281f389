/* The one table of (platform, transport, failure) -> why + what to do
 * (see hints.h). Each hint is a single actionable line: the place in
 * System Settings, the package, the command or the option to change. The
 * macOS paths are those of macOS 15 (Sequoia) System Settings, and the
 * FSKit ones are from macFUSE's FUSE Backends wiki page. */
#include "engine/hints.h"

#define L HINTS_OS_LINUX
#define M HINTS_OS_MACOS
#define A HINTS_OS_ANY

static const hints_row table[] = {
    /* Linux FUSE */
    {L, ENGINE_T_FUSE, ENGINE_FAIL_LIB_MISSING, "libfuse3 is not installed",
     "install FUSE 3: apt install fuse3 (dnf install fuse3 on Fedora)"},
    {L, ENGINE_T_FUSE, ENGINE_FAIL_DEV_MISSING, "/dev/fuse does not exist",
     "load the module (modprobe fuse), or pass --device /dev/fuse to the container"},
    {L, ENGINE_T_FUSE, ENGINE_FAIL_DEV_DENIED, "/dev/fuse cannot be opened by this user",
     "let this user open /dev/fuse (chmod 0666 /dev/fuse); a container also needs --cap-add "
     "SYS_ADMIN"},
    {L, ENGINE_T_FUSE, ENGINE_FAIL_FUSERMOUNT_MISSING,
     "fusermount3 is missing, and a non-root user needs it to mount",
     "install it: apt install fuse3 (or run as root)"},
    {L, ENGINE_T_FUSE, ENGINE_FAIL_FUSERMOUNT_NOT_SETUID, "fusermount3 is not setuid root",
     "make it setuid root: chown root and chmod u+s $(command -v fusermount3), or reinstall "
     "fuse3"},
    {L, ENGINE_T_FUSE, ENGINE_FAIL_ALLOW_OTHER,
     "allow_other is refused without user_allow_other in /etc/fuse.conf",
     "add the line 'user_allow_other' to /etc/fuse.conf (as root)"},

    /* macOS: the macFUSE kernel extension */
    {M, ENGINE_T_KEXT, ENGINE_FAIL_MACFUSE_MISSING, "macFUSE is not installed",
     "install macFUSE from https://macfuse.github.io (or brew install --cask macfuse)"},
    {M, ENGINE_T_KEXT, ENGINE_FAIL_LIB_MISSING, "macFUSE's libfuse3 does not load",
     "install macFUSE 4.10 or later, which ships libfuse3: https://macfuse.github.io"},
    {M, ENGINE_T_KEXT, ENGINE_FAIL_KEXT_NOT_APPROVED,
     "the macFUSE kernel extension is not approved",
     "System Settings › Privacy & Security › Allow (the macFUSE system extension), then reboot"},

    /* macOS: macFUSE's FSKit backend */
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_MACFUSE_MISSING, "macFUSE is not installed",
     "install macFUSE 5 or later from https://macfuse.github.io, then turn on its file system "
     "extension"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_LIB_MISSING, "macFUSE's libfuse3 does not load",
     "install macFUSE 5 or later: https://macfuse.github.io"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_OS_TOO_OLD, "FSKit needs macOS 15.4 or later",
     "update macOS (System Settings › General › Software Update), or approve the macFUSE "
     "kernel extension"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_MACFUSE_TOO_OLD,
     "this macFUSE has no FSKit backend (macFUSE 5.0 or later has)",
     "update macFUSE to 5.0 or later: https://macfuse.github.io"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_DISABLED, "macFUSE's file system extension is off",
     "System Settings › General › Login Items & Extensions › File System Extensions: turn on "
     "macFUSE"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_MOUNTPOINT, "FSKit mounts only directly under /Volumes",
     "leave the mountpoint to strata (/Volumes/strata-<uid>-<id>), or give one directly under "
     "/Volumes"},
    {M, ENGINE_T_FSKIT, ENGINE_FAIL_FSKIT_ROOT, "FSKit does not mount for root or through sudo",
     "run strata as yourself, without sudo"},

    /* NFS */
    {L, ENGINE_T_NFS, ENGINE_FAIL_NFS_NO_CLIENT, "the kernel has no NFS client",
     "load it (modprobe nfs) and install mount.nfs (apt install nfs-common); a container "
     "usually cannot mount NFS"},
    {L, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT, "mounting NFS needs root",
     "run strata as root (sudo strata ...), or make FUSE work (see its hint)"},
    {M, ENGINE_T_NFS, ENGINE_FAIL_NFS_NEEDS_ROOT, "mount_nfs needs root",
     "pass --sudo to let strata run mount_nfs with sudo, or get admin rights (Admin By "
     "Request) and retry"},
    {A, ENGINE_T_NFS, ENGINE_FAIL_NFS_PORT_IN_USE, "the NFS port is already in use",
     "set mount.nfs.port to 0 for any free port (STRATA_MOUNT_NFS_PORT=0), or to a free port"},

    /* macOS privilege escalation, for whichever transport needed it */
    {M, HINTS_T_ANY, ENGINE_FAIL_NOT_ELEVATED, "admin rights were not granted in time",
     "Admin By Request (menu bar) › Request Administrator Access; once approved, retry"},
    {M, HINTS_T_ANY, ENGINE_FAIL_SUDO_DECLINED, "sudo did not run the mount",
     "retry and enter your password at sudo's prompt (your account must be an admin)"},

    /* Any transport */
    {A, HINTS_T_ANY, ENGINE_FAIL_MOUNTPOINT, "the mountpoint is missing, not a directory, or busy",
     "create an empty directory there (mkdir -p), or unmount what is on it (strata sweep)"},
    {A, HINTS_T_ANY, ENGINE_FAIL_NOT_RESPONDING, "the mount did not answer in time",
     "run 'strata sweep' to clear stale mounts, then retry; 'strata doctor' shows each transport"},
    {A, HINTS_T_ANY, ENGINE_FAIL_UNKNOWN, "the mount failed",
     "'strata doctor' shows which transports work here, and why the others do not"},
};

#undef L
#undef M
#undef A

const hints_row *hints_table(size_t *count)
{
    *count = sizeof(table) / sizeof(table[0]);
    return table;
}

static bool os_matches(hints_os ro, engine_os os)
{
    return ro == HINTS_OS_ANY || (ro == HINTS_OS_LINUX && os == ENGINE_OS_LINUX) ||
           (ro == HINTS_OS_MACOS && os == ENGINE_OS_MACOS);
}

/* How well a row fits: transport weighs more than OS; -1 = no match. */
static int score(const hints_row *r, engine_os os, engine_transport t, engine_failure f)
{
    if (r->failure != f || !os_matches(r->os, os))
        return -1;
    if (r->transport != HINTS_T_ANY && r->transport != (int)t)
        return -1;
    return (r->transport != HINTS_T_ANY ? 2 : 0) + (r->os != HINTS_OS_ANY ? 1 : 0);
}

const hints_row *hints_lookup(engine_os os, engine_transport t, engine_failure f)
{
    const hints_row *best = NULL, *unknown = NULL;
    int best_score = -1;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        int s = score(&table[i], os, t, f);
        if (s > best_score) {
            best_score = s;
            best = &table[i];
        }
        if (table[i].failure == ENGINE_FAIL_UNKNOWN)
            unknown = &table[i];
    }
    return best ? best : unknown;
}

const char *hints_hint(engine_os os, engine_transport t, engine_failure f)
{
    return hints_lookup(os, t, f)->hint;
}

const char *hints_why(engine_os os, engine_transport t, engine_failure f)
{
    return hints_lookup(os, t, f)->why;
}

const char *hints_failure_name(engine_failure f)
{
    switch (f) {
    case ENGINE_FAIL_NONE:
        return "none";
    case ENGINE_FAIL_LIB_MISSING:
        return "lib-missing";
    case ENGINE_FAIL_MACFUSE_MISSING:
        return "macfuse-missing";
    case ENGINE_FAIL_DEV_MISSING:
        return "dev-missing";
    case ENGINE_FAIL_DEV_DENIED:
        return "dev-denied";
    case ENGINE_FAIL_FUSERMOUNT_MISSING:
        return "fusermount-missing";
    case ENGINE_FAIL_FUSERMOUNT_NOT_SETUID:
        return "fusermount-not-setuid";
    case ENGINE_FAIL_ALLOW_OTHER:
        return "allow-other";
    case ENGINE_FAIL_KEXT_NOT_APPROVED:
        return "kext-not-approved";
    case ENGINE_FAIL_FSKIT_OS_TOO_OLD:
        return "fskit-os-too-old";
    case ENGINE_FAIL_FSKIT_MACFUSE_TOO_OLD:
        return "fskit-macfuse-too-old";
    case ENGINE_FAIL_FSKIT_DISABLED:
        return "fskit-disabled";
    case ENGINE_FAIL_FSKIT_MOUNTPOINT:
        return "fskit-mountpoint";
    case ENGINE_FAIL_FSKIT_ROOT:
        return "fskit-root";
    case ENGINE_FAIL_NFS_NO_CLIENT:
        return "nfs-no-client";
    case ENGINE_FAIL_NFS_NEEDS_ROOT:
        return "nfs-needs-root";
    case ENGINE_FAIL_NFS_PORT_IN_USE:
        return "nfs-port-in-use";
    case ENGINE_FAIL_NOT_ELEVATED:
        return "not-elevated";
    case ENGINE_FAIL_SUDO_DECLINED:
        return "sudo-declined";
    case ENGINE_FAIL_MOUNTPOINT:
        return "mountpoint";
    case ENGINE_FAIL_NOT_RESPONDING:
        return "not-responding";
    case ENGINE_FAIL_UNKNOWN:
        return "unknown";
    }
    return "?";
}
