/* Mounting a running NFS server (transport/nfs/nfs.h) at a directory, and
 * unmounting it: the I/O around the pure commands of nfs_mount.h.
 *
 * A mount counts only once it is there and answers: the mount command's
 * exit code is not enough (a wrapper may exit 0 having mounted nothing),
 * so the mount table must show NFS at the mountpoint and a stat of it
 * must come back through the server. Every command runs with a deadline
 * (spawn.h): the soft mount options bound each call, and the deadline
 * bounds the command. A failure says what the command printed, and
 * carries the errno its words stand for, which the plan classifies for
 * the hints (needs root, no client, port in use...). */
#ifndef STRATA_ENGINE_NFS_ATTACH_H
#define STRATA_ENGINE_NFS_ATTACH_H

#include <stdbool.h>

#include "engine/nfs_mount.h"

/* The mount command's limit: its own retries (timeo=10, retrans=2) end
 * well within it. */
#define NFS_ATTACH_MOUNT_SECONDS  30.0
#define NFS_ATTACH_UMOUNT_SECONDS 15.0

/* Runs cmd (nfs_mount_cmd_build's) and checks that the mount is there
 * and answers; a mount that does not answer is taken away again. With
 * sudo, cmd goes through `sudo -n`, so `sudo -v` runs first on the
 * terminal: sudo asks for the password there, once, and never behind
 * the user's back. */
strata_err *nfs_attach_mount(engine_os os, const nfs_mount_cmd *cmd, bool sudo);

/* Unmounts the NFS mount at mp. A busy mount is STRATA_E_BUSY unless
 * force, which unmounts it anyway (the server is going away: the
 * processes using it would only get errors). */
strata_err *nfs_attach_unmount(engine_os os, const char *mp, bool sudo, bool force);

/* Runs `sudo -v` on the terminal: sudo asks for the password there if it
 * must, so that the `sudo -n` commands after it never prompt. */
strata_err *nfs_attach_sudo_validate(void);

/* Whether the mount table shows an NFS mount exactly at mp. */
bool nfs_attach_is_mounted(const char *mp);

/* cmd's argv joined with spaces, for messages. */
void nfs_attach_cmd_line(const nfs_mount_cmd *cmd, char *out, size_t n);

#endif
