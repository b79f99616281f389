/* NFS file handles: what a client holds for a file, opaque to it.
 *
 * A handle is NFS_FH_LEN bytes:
 *
 *   0   2  "S3": a strata NFSv3 handle
 *   2   2  zero (room for a later layout)
 *   4   8  the server instance: random per server process, so that the
 *          handles of an earlier server (a restart) are told apart
 *  12   4  the generation of the inode's slot (vfs_slot_generation)
 *  16   8  the inode number (its slot in the top bits, vfs.h)
 *
 * all big-endian. Whatever does not fit this layout, or names another
 * instance, is stale: the server answers NFS3ERR_STALE, never a wrong file
 * (the issue asks for STALE for every unknown or old handle, where RFC 1813
 * would allow BADHANDLE for a malformed one). The generation is checked by
 * the caller against the slot's, which only it knows. */
#ifndef STRATA_TRANSPORT_NFS_FH_H
#define STRATA_TRANSPORT_NFS_FH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NFS_FH_LEN 24

typedef struct nfs_fh_fields {
    uint64_t instance;
    uint32_t generation;
    uint64_t ino;
} nfs_fh_fields;

/* Writes the handle of f into out. */
void nfs_fh_make(const nfs_fh_fields *f, uint8_t out[NFS_FH_LEN]);

/* Reads a handle of len bytes from the wire. False (stale) when it is not
 * a handle of this layout or not of the server instance instance. */
bool nfs_fh_parse(const uint8_t *fh, size_t len, uint64_t instance, nfs_fh_fields *out);

/* A random server instance, never 0 (0 marks "no server" in tests). */
uint64_t nfs_fh_new_instance(void);

#endif
