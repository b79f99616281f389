/* The NFS mount command for macOS and Linux (see nfs_mount.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/nfs_mount.h"

#define NFS_MOUNT_IO (1u << 20) /* the server's rtmax and wtmax */

void nfs_mount_base_opts(engine_os os, bool read_only, char *out, size_t n)
{
    if (os == ENGINE_OS_MACOS)
        snprintf(out, n,
                 "vers=3,tcp,locallocks,resvport,soft,timeo=10,retrans=2,deadtimeout=10,"
                 "rsize=%u,wsize=%u%s",
                 NFS_MOUNT_IO, NFS_MOUNT_IO, read_only ? ",rdonly" : "");
    else
        snprintf(out, n, "vers=3,proto=tcp,nolock,soft,timeo=10,retrans=2,rsize=%u,wsize=%u%s",
                 NFS_MOUNT_IO, NFS_MOUNT_IO, read_only ? ",ro" : "");
}

strata_err *nfs_mount_cmd_build(engine_os os, const char *base_opts, uint16_t port,
                                const char *mountpoint, bool sudo, nfs_mount_cmd *out)
{
    memset(out, 0, sizeof(*out));
    if (!mountpoint || mountpoint[0] != '/' || port == 0)
        return strata_err_new(STRATA_E_INVALID, NULL,
                              "an NFS mount needs an absolute mountpoint and the server's port");
    int n =
        snprintf(out->opts, sizeof(out->opts), "%s,port=%u,mountport=%u%s", base_opts,
                 (unsigned)port, (unsigned)port, os == ENGINE_OS_MACOS ? "" : ",mountproto=tcp");
    int m = snprintf(out->mountpoint, sizeof(out->mountpoint), "%s", mountpoint);
    if (n < 0 || (size_t)n >= sizeof(out->opts) || m < 0 || (size_t)m >= sizeof(out->mountpoint))
        return strata_err_new(STRATA_E_INVALID, NULL, "the NFS mount options do not fit");
    snprintf(out->source, sizeof(out->source), "127.0.0.1:/");
    size_t k = 0;
    if (os == ENGINE_OS_MACOS) {
        if (sudo) {
            /* -n: never a password prompt behind the user's back; the
             * escalation plan has asked sudo for consent before. */
            out->argv[k++] = "sudo";
            out->argv[k++] = "-n";
            out->argv[k++] = "--";
        }
        out->argv[k++] = "/sbin/mount_nfs";
    } else {
        out->argv[k++] = "/bin/mount";
        out->argv[k++] = "-t";
        out->argv[k++] = "nfs";
    }
    out->argv[k++] = "-o";
    out->argv[k++] = out->opts;
    out->argv[k++] = out->source;
    out->argv[k++] = out->mountpoint;
    out->argv[k] = NULL;
    out->argc = k;
    return NULL;
}

strata_err *nfs_umount_cmd_build(engine_os os, const char *mountpoint, bool sudo, bool force,
                                 nfs_mount_cmd *out)
{
    memset(out, 0, sizeof(*out));
    if (!mountpoint || mountpoint[0] != '/')
        return strata_err_new(STRATA_E_INVALID, NULL,
                              "an NFS unmount needs an absolute mountpoint");
    int m = snprintf(out->mountpoint, sizeof(out->mountpoint), "%s", mountpoint);
    if (m < 0 || (size_t)m >= sizeof(out->mountpoint))
        return strata_err_new(STRATA_E_INVALID, NULL, "the mountpoint is too long");
    size_t k = 0;
    if (os == ENGINE_OS_MACOS) {
        if (sudo) {
            out->argv[k++] = "sudo";
            out->argv[k++] = "-n";
            out->argv[k++] = "--";
        }
        out->argv[k++] = "/sbin/umount";
    } else {
        out->argv[k++] = "/bin/umount";
    }
    if (force)
        out->argv[k++] = "-f";
    out->argv[k++] = out->mountpoint;
    out->argv[k] = NULL;
    out->argc = k;
    return NULL;
}

/* Words of the mount tools (util-linux mount and umount, nfs-utils'
 * mount.nfs, macOS's mount_nfs and umount), each with the errno it
 * means. The first match wins, so the more specific come first. */
static const struct {
    const char *words;
    int err;
} nfs_mount_words[] = {
    {"only root can", EPERM},
    {"must be superuser", EPERM},
    {"Operation not permitted", EPERM},
    {"Permission denied", EPERM},
    {"a password is required", EPERM}, /* sudo -n without a cached credential */
    {"unknown filesystem type", ENODEV},
    {"No such device", ENODEV},
    {"need a /sbin/mount.", ENODEV},
    {"Protocol not supported", ENODEV},
    {"Connection refused", ECONNREFUSED},
    {"timed out", ETIMEDOUT},
    {"Resource busy", EBUSY},
    {"target is busy", EBUSY},
    {"device is busy", EBUSY},
    {"No such file or directory", ENOENT},
    {"does not exist", ENOENT},
    {"Not a directory", ENOTDIR},
    {"not mounted", EINVAL},
    {"not currently mounted", EINVAL},
};

int nfs_mount_output_errno(const char *output)
{
    if (!output)
        return 0;
    for (size_t i = 0; i < sizeof(nfs_mount_words) / sizeof(nfs_mount_words[0]); i++)
        if (strstr(output, nfs_mount_words[i].words))
            return nfs_mount_words[i].err;
    return 0;
}
