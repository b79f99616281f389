/* The NFS mount and unmount, run as commands with a deadline and checked
 * against the mount table (see nfs_attach.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/mount_table.h"
#include "engine/nfs_attach.h"
#include "engine/spawn.h"

void nfs_attach_cmd_line(const nfs_mount_cmd *cmd, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cmd->argc && len < n; i++) {
        int w = snprintf(out + len, n - len, "%s%s", i ? " " : "", cmd->argv[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

bool nfs_attach_is_mounted(const char *mp)
{
    char *type = NULL;
    strata_err *e = mount_table_type(mp, &type);
    bool nfs = !e && type && strcmp(type, "nfs") == 0;
    strata_err_free(e);
    free(type);
    return nfs;
}

/* A failed command as an error: its first line of output, and the errno
 * those words stand for. */
static strata_err *nfs_attach_failed(const nfs_mount_cmd *cmd, const spawn_result *r, double limit,
                                     const char *what)
{
    char line[512], cmdline[1024], hint[1200];
    spawn_first_line(r->out, line, sizeof(line));
    nfs_attach_cmd_line(cmd, cmdline, sizeof(cmdline));
    snprintf(hint, sizeof(hint), "run it by hand to see why: %s", cmdline);
    strata_err *e;
    if (r->timed_out)
        e = strata_err_new(STRATA_E_IO, hint, "%s: %s did not finish within %.0f s%s%s", what,
                           cmd->argv[0], limit, line[0] ? ": " : "", line);
    else
        e = strata_err_new(STRATA_E_IO, hint, "%s: %s failed (exit %d)%s%s", what, cmd->argv[0],
                           r->status, line[0] ? ": " : "", line);
    if (e)
        e->sys_errno = r->timed_out ? ETIMEDOUT : nfs_mount_output_errno(r->out);
    return e;
}

/* sudo asks for the password on the terminal, if it must, before any
 * `sudo -n` that may not. */
strata_err *nfs_attach_sudo_validate(void)
{
    const char *argv[] = {"sudo", "-v", NULL};
    int status;
    strata_err *e = spawn_interactive(argv, &status);
    if (e)
        return e;
    if (status != 0) {
        e = strata_err_new(STRATA_E_UNSUPPORTED,
                           "mount without --sudo as an administrator, or ask one to mount it",
                           "sudo refused (exit %d): mounting NFS needs root", status);
        if (e)
            e->sys_errno = EPERM;
    }
    return e;
}

strata_err *nfs_attach_mount(engine_os os, const nfs_mount_cmd *cmd, bool sudo)
{
    const char *mp = cmd->mountpoint;
    if (sudo) {
        strata_err *e = nfs_attach_sudo_validate();
        if (e)
            return e;
    }
    spawn_result r;
    strata_err *e = spawn_run(cmd->argv, NFS_ATTACH_MOUNT_SECONDS, &r);
    if (e)
        return e;
    char what[4200];
    snprintf(what, sizeof(what), "cannot mount NFS at %s", mp);
    if (r.status != 0) {
        /* A command that timed out may have mounted after all. */
        if (nfs_attach_is_mounted(mp))
            strata_err_free(nfs_attach_unmount(os, mp, sudo, true));
        return nfs_attach_failed(cmd, &r, NFS_ATTACH_MOUNT_SECONDS, what);
    }
    if (!nfs_attach_is_mounted(mp))
        return strata_err_new(STRATA_E_IO, "run the mount command by hand to see what it did",
                              "%s: %s exited 0, but the mount table shows no NFS mount there", what,
                              cmd->argv[0]);
    /* Through the kernel's client to the server and back: the soft
     * options bound the wait. */
    struct stat st;
    int err = stat(mp, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    if (err) {
        strata_err_free(nfs_attach_unmount(os, mp, sudo, true));
        return strata_err_sys(err, "check that nothing blocks loopback connections to the server",
                              "%s: the mount does not answer", what);
    }
    return NULL;
}

strata_err *nfs_attach_unmount(engine_os os, const char *mp, bool sudo, bool force)
{
    nfs_mount_cmd cmd;
    strata_err *e = nfs_umount_cmd_build(os, mp, sudo, false, &cmd);
    spawn_result r;
    if (!e)
        e = spawn_run(cmd.argv, NFS_ATTACH_UMOUNT_SECONDS, &r);
    if (e)
        return e;
    if (r.status == 0 || !nfs_attach_is_mounted(mp))
        return NULL;
    if (force) {
        e = nfs_umount_cmd_build(os, mp, sudo, true, &cmd);
        if (!e)
            e = spawn_run(cmd.argv, NFS_ATTACH_UMOUNT_SECONDS, &r);
        if (e)
            return e;
        if (r.status == 0 || !nfs_attach_is_mounted(mp))
            return NULL;
    }
    char what[4200];
    snprintf(what, sizeof(what), "cannot unmount NFS at %s", mp);
    e = nfs_attach_failed(&cmd, &r, NFS_ATTACH_UMOUNT_SECONDS, what);
    if (e && e->sys_errno == EBUSY) {
        e->code = STRATA_E_BUSY;
        e = strata_err_rehint(e, "a process uses the mount (an open file, a working directory): "
                                 "end it, or unmount with umount -f");
    } else if (e && e->sys_errno == EPERM) {
        e = strata_err_rehint(e, os == ENGINE_OS_MACOS
                                     ? "it was mounted with sudo: unmount it with 'sudo umount'"
                                     : "unmounting NFS needs root: run it as root");
    }
    return e;
}
