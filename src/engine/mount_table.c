/* The mount table lookup of mount_table.h, per platform. */
#include <stdlib.h>
#include <string.h>
#ifdef __APPLE__
#include <sys/mount.h>
#include <sys/param.h>
#include <sys/ucred.h>
#endif

#include "engine/mount_table.h"
#include "transport/fuse.h"

strata_err *mount_table_type(const char *mp, char **fstype)
{
#ifdef __APPLE__
    *fstype = NULL;
    struct statfs *mnt;
    int n = getmntinfo(&mnt, MNT_NOWAIT); /* never waits on a dead server */
    for (int i = 0; i < n; i++) {
        if (strcmp(mnt[i].f_mntonname, mp) == 0) {
            free(*fstype);
            if (!(*fstype = strdup(mnt[i].f_fstypename)))
                return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
        }
    }
    return NULL;
#else
    return fusefs_mount_type(mp, fstype);
#endif
}
