/* The NFS mount command for macOS and Linux (see nfs_mount.h). */
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
