/* What the system's mount table says is mounted at a path.
 *
 * Read from the table (Linux: /proc/self/mountinfo; macOS: getmntinfo
 * with MNT_NOWAIT), never by touching the path: a mount whose server is
 * dead must answer too, without hanging the caller. The sweep checks
 * with it that a registered mountpoint is still strata's before it
 * unmounts; an NFS mount checks that its mount command really mounted,
 * and its server watches for the mount going away. */
#ifndef STRATA_ENGINE_MOUNT_TABLE_H
#define STRATA_ENGINE_MOUNT_TABLE_H

#include "base/err.h"

/* The filesystem type mounted exactly at the absolute path mp (the one on
 * top), malloc'd, or NULL in *fstype when nothing is mounted there. */
strata_err *mount_table_type(const char *mp, char **fstype);

#endif
