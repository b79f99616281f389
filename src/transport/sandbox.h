/* A sandbox: a view of layers that a command can work in, over one
 * transport, and the capture of what the command changed as a new layer.
 *
 *   fuse   the view is mounted over FUSE with a fresh upper directory; the
 *          command reads through to the store, and its writes land in the
 *          upper, which is captured after the unmount. Setup costs the
 *          same whatever the view's size.
 *   nfs    the same, served by strata's NFSv3 server on loopback from this
 *          process and mounted by the kernel's NFS client; the mount and
 *          unmount commands are the caller's (sandbox_nfs_mounter: the
 *          engine knows the platform's commands, and sudo).
 *   none   the view is written out as plain files (see none.h), and the
 *          directory is compared with the view afterwards.
 *   slot   the view is shown by somebody else, a slot of `strata serve`:
 *          the sandbox makes the upper directory (sandbox_upper) for the
 *          caller to attach, and captures it once the caller has given
 *          the slot back. The caller says where the view shows
 *          (sandbox_set_root).
 *
 * Both capture the same layer for the same changes: the canonical diff
 * between the view and the tree the command left (layer_diff), so an
 * output's digest does not depend on the transport that made it.
 *
 * Everything lives in one temporary directory (under $TMPDIR, else /tmp),
 * removed by sandbox_close. */
#ifndef STRATA_TRANSPORT_SANDBOX_H
#define STRATA_TRANSPORT_SANDBOX_H

#include <stdbool.h>

#include "layer/layer.h"
#include "transport/fuse_opts.h"

typedef enum {
    SANDBOX_FUSE,
    SANDBOX_NONE,
    SANDBOX_SLOT,
    SANDBOX_NFS,
} sandbox_kind;

typedef struct sandbox sandbox;

/* How an NFS sandbox's server gets mounted at mountpoint, and unmounted
 * again: commands of the caller's, which must leave nothing mounted when
 * they fail (unmount: forcibly, if it must; the server stops after it). */
typedef struct sandbox_nfs_mounter {
    void *ctx;
    strata_err *(*mount)(void *ctx, uint16_t port, const char *mountpoint);
    strata_err *(*unmount)(void *ctx, const char *mountpoint);
} sandbox_nfs_mounter;

/* How a FUSE or NFS sandbox mounts (the plan's choice for the platform). */
typedef struct sandbox_opts {
    const fuse_mount_opts *mo;      /* NULL: Linux's /dev/fuse options */
    const char *mountpoint;         /* NULL: <temporary directory>/mnt (FSKit: under /Volumes) */
    const sandbox_nfs_mounter *nfs; /* nfs: required */
    int nfs_port;                   /* nfs: the server's port (0: any free one) */
} sandbox_opts;

/* Shows the view of layers (top first, n >= 1) over kind; opts may be
 * NULL. The store must be open for writing (capture stores into it) and
 * outlive the sandbox. A FUSE that cannot work here is
 * STRATA_E_UNSUPPORTED with a hint, and leaves nothing behind. */
strata_err *sandbox_open(store *s, const strata_digest *layers, size_t n, sandbox_kind kind,
                         const sandbox_opts *opts, sandbox **out);

/* The directory showing the view, where the command runs (a slot's: NULL
 * until sandbox_set_root). */
const char *sandbox_root(const sandbox *sb);

/* A slot sandbox: the upper directory the view's writes must land in,
 * and where the view shows once attached (copied). */
const char *sandbox_upper(const sandbox *sb);
strata_err *sandbox_set_root(sandbox *sb, const char *root);

/* The temporary directory holding everything (the root is inside it),
 * for the mount registry: a sweep removes it after a dead run. */
const char *sandbox_dir(const sandbox *sb);

/* Whether the view is a mount (FUSE, NFS), rather than a copy. */
bool sandbox_mounted(const sandbox *sb);

/* Ends the command's access (a FUSE mount is unmounted: lazily, if a
 * process still uses it; an NFS mount is unmounted and its server
 * stopped; a slot must have been given back) and stores what changed as
 * a layer; *out gets its digest. Once only. */
strata_err *sandbox_capture(sandbox *sb, strata_digest *out, layer_diff_stats *st);

/* Unmounts if needed, removes the temporary directory and frees sb
 * (NULL: nothing). An error says what could not be unmounted or
 * removed. */
strata_err *sandbox_close(sandbox *sb);

#endif
