/* The command that mounts strata's NFS server (transport/nfs/nfs.h) on
 * this machine: a pure function of the platform, the plan's options and
 * the server's port, so that the macOS command is tested on Linux.
 *
 *   macOS  [sudo -n --] /sbin/mount_nfs -o <opts>,port=P,mountport=P
 *          127.0.0.1:/ MOUNTPOINT
 *   Linux  /bin/mount -t nfs -o <opts>,port=P,mountport=P,mountproto=tcp
 *          127.0.0.1:/ MOUNTPOINT
 *
 * The options (plan.c: the attempt's nfs_opts) make a dead server fail
 * I/O quickly instead of hanging every process that touches the mount,
 * the known failure of user-space NFS servers: a soft mount (an
 * operation that gets no answer fails with an error rather than retrying
 * for ever), a short timeout (timeo=10: one second, in tenths) and two
 * retransmissions, so a call fails within a few seconds; on macOS also
 * deadtimeout=10, after which the client marks the server dead and fails
 * everything at once. The cost: a very slow server makes calls fail
 * where a hard mount would wait, and an interrupted write is lost —
 * acceptable for a loopback server whose death means its view is gone
 * anyway. rsize and wsize are the server's 1 MiB. No locks go to the
 * server (nolock, locallocks): it has no NLM. */
#ifndef STRATA_ENGINE_NFS_MOUNT_H
#define STRATA_ENGINE_NFS_MOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/engine.h"

#define NFS_MOUNT_ARGV_MAX 12
#define NFS_MOUNT_OPTS_MAX 512

/* The plan's fixed options for os (no port: that comes with the server). */
void nfs_mount_base_opts(engine_os os, bool read_only, char *out, size_t n);

typedef struct nfs_mount_cmd {
    const char *argv[NFS_MOUNT_ARGV_MAX]; /* NULL-terminated; points into the struct */
    size_t argc;
    char opts[NFS_MOUNT_OPTS_MAX];
    char source[32];
    char mountpoint[4096];
} nfs_mount_cmd;

/* Builds the mount command for a server on port; with sudo (macOS, the
 * user consented) it runs through sudo. An empty or relative mountpoint,
 * port 0, or options that do not fit are STRATA_E_INVALID. */
strata_err *nfs_mount_cmd_build(engine_os os, const char *base_opts, uint16_t port,
                                const char *mountpoint, bool sudo, nfs_mount_cmd *out);

/* The command that unmounts it: [sudo -n --] /sbin/umount [-f] MOUNTPOINT
 * on macOS, /bin/umount [-f] MOUNTPOINT on Linux. force (-f) is for a
 * server that is gone: without it the client would first try to flush to
 * a server that cannot answer. */
strata_err *nfs_umount_cmd_build(engine_os os, const char *mountpoint, bool sudo, bool force,
                                 nfs_mount_cmd *out);

/* The errno a failed mount or umount command stands for, read from what
 * it printed (mount(8), mount.nfs, mount_nfs and umount say why only in
 * words), for the plan's failure classification and the hints: EPERM
 * (needs root), ENODEV (no NFS client), ECONNREFUSED (no server),
 * ETIMEDOUT (it did not answer), EBUSY (in use), ENOENT / ENOTDIR (the
 * mountpoint), EINVAL (not mounted); 0 when the words say nothing known. */
int nfs_mount_output_errno(const char *output);

#endif
