/* The one table from a vfs error to an NFSv3 status (nfsstat3). */
#ifndef STRATA_TRANSPORT_NFS_NFS_ERR_H
#define STRATA_TRANSPORT_NFS_NFS_ERR_H

#include <stdint.h>

#include "base/err.h"

/* The nfsstat3 for an errno the vfs chose (vfs_errno); 0 is NFS3_OK.
 * Anything the protocol has no word for is NFS3ERR_IO. */
uint32_t nfs_err_from_errno(int err);

/* The same for a vfs error, which is freed (NULL: NFS3_OK). */
uint32_t nfs_err_take(strata_err *e);

#endif
