/* The transport-neutral filesystem: a table of slots, each showing one view
 * (a stack of immutable lower layers, top first, plus an optional writable
 * upper directory), spoken to in inode numbers.
 *
 * Transports (fuse, nfs) translate their own handles into the u64 inode
 * numbers below and call these functions; nothing here knows about FUSE or
 * NFS types. Every call is thread-safe and none takes a global lock:
 * lower layers never change, so what is derived from them is computed once
 * and published without locks, and the inode table is sharded.
 *
 * Errors are strata_err values; vfs_errno() turns one into the errno a
 * transport replies with. docs/VFS.md describes numbering, merge rules and
 * caching. */
#ifndef STRATA_VFS_VFS_H
#define STRATA_VFS_VFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/err.h"
#include "store/store.h"

/* ---- inode numbers -----------------------------------------------------
 *
 *   bits 63..48  slot
 *   bits 47..32  source: 0 special (the slot's root, ...),
 *                1..VFS_LAYERS_MAX lower layer index + 1 where the entry's
 *                topmost occurrence lives, VFS_SRC_UPPER the upper table
 *   bits 31..0   index: the entry's index in that layer's manifest (special:
 *                VFS_SPECIAL_ROOT for the slot's root; 0 is never used)
 *
 * A lower number depends only on the view's layers, so it can be found
 * again from the number alone (vfs_getattr on a number the vfs forgot). 0
 * is never an inode number. Slot 0's root is 1, which is FUSE_ROOT_ID, so a
 * FUSE transport may use inode numbers as node ids unchanged. */
#define VFS_INO_SLOT_SHIFT 48
#define VFS_INO_SRC_SHIFT  32
#define VFS_SRC_SPECIAL    0u
#define VFS_SRC_UPPER      0xFFFFu
#define VFS_LAYERS_MAX     0xFFFEu
#define VFS_SPECIAL_ROOT   1u
#define VFS_ROOT_INO       1u /* slot 0's root */

static inline uint64_t vfs_ino_make(uint16_t slot, uint16_t src, uint32_t index)
{
    return (uint64_t)slot << VFS_INO_SLOT_SHIFT | (uint64_t)src << VFS_INO_SRC_SHIFT | index;
}
static inline uint16_t vfs_ino_slot(uint64_t ino)
{
    return (uint16_t)(ino >> VFS_INO_SLOT_SHIFT);
}
static inline uint16_t vfs_ino_src(uint64_t ino)
{
    return (uint16_t)(ino >> VFS_INO_SRC_SHIFT);
}
static inline uint32_t vfs_ino_index(uint64_t ino)
{
    return (uint32_t)ino;
}
/* The root directory of a slot; vfs_root_ino(0) == VFS_ROOT_INO == 1. */
static inline uint64_t vfs_root_ino(uint16_t slot)
{
    return vfs_ino_make(slot, VFS_SRC_SPECIAL, VFS_SPECIAL_ROOT);
}

/* ---- the vfs and its slots --------------------------------------------- */

typedef struct vfs vfs;
typedef struct vfs_file vfs_file;

typedef struct vfs_opts {
    uint32_t max_slots;          /* slots 0..max_slots-1; 0 = 1 (one view) */
    uint32_t max_idle_inodes;    /* forgotten inodes kept for reuse; 0 = drop at once */
    uint32_t max_cached_readers; /* blob files kept open on inodes; 0 = default */
    uint32_t upper_compat;       /* VFS_COMPAT_*: 0 = use what the upper filesystem offers */
    /* A long-lived server's mode: slot 0 holds no view but the directory
     * of slots, root 1, read-only, mode 0555, owned by slot_dir_uid/gid.
     * Its entries are named "1", "2", ... after the slots that show a view
     * and are those slots' roots, whose ".." is 1. Needs max_slots >= 2.
     * Off, nothing changes: slot 0 shows a view like any other. */
    bool slot_dir;
    uint32_t slot_dir_uid, slot_dir_gid;
    /* Decoded manifests no view uses are kept for the next view of the
     * same layer within this many bytes; 0 = VFS_DEFAULT_MANIFEST_CACHE. */
    uint64_t manifest_cache_bytes;
} vfs_opts;

/* Write the upper directory as a more limited filesystem (or an
 * unprivileged server) would have to; for tests, and for upper
 * directories other tools will read. */
#define VFS_COMPAT_WH_FILES   1u /* whiteouts as ".wh.<name>" files, even where mknod works */
#define VFS_COMPAT_USER_XATTR 2u /* user.overlay.* rather than trusted.overlay.* */
#define VFS_COMPAT_NO_XATTR                                                                        \
    4u /* no xattrs: ".wh..wh..opq" markers; renaming a lower                                      \
          directory is EXDEV */

#define VFS_DEFAULT_IDLE_INODES    8192
#define VFS_DEFAULT_CACHED_READERS 256
#define VFS_DEFAULT_MANIFEST_CACHE (32u << 20)

/* What a slot shows. */
typedef struct vfs_view_spec {
    const strata_digest *layers; /* manifest digests, top first */
    uint32_t nlayers;            /* 0..VFS_LAYERS_MAX */
    const char *upper;           /* writable upper directory, or NULL (read-only) */
    uint32_t uid, gid;           /* owner shown for every entry */
} vfs_view_spec;

/* opts may be NULL (defaults). The store must outlive the vfs. */
strata_err *vfs_new(store *s, const vfs_opts *opts, vfs **out);
/* Frees every view and inode. No call may be running, and every vfs_file
 * must have been released. */
void vfs_free(vfs *v);

/* Loads the layers' manifests and shows them in slot; the slot must be
 * empty. Cost: loading the manifests, never merging the tree (directories
 * merge on first use).
 *
 * With spec->upper, writes land in that directory in overlayfs's
 * conventions (layer/upper.h), so layer_capture can turn it into a layer.
 * It must exist. When it is empty its mode becomes the view's root mode;
 * UPPER_WORK is created in it (and emptied) as scratch space. A filesystem
 * that cannot hold what the upper needs (symbolic links, renames, files
 * reopened through /proc/self/fd) is refused with a hint. */
strata_err *vfs_slot_attach(vfs *v, uint16_t slot, const vfs_view_spec *spec);

/* Takes slot's view away, so that the slot may show another. Safe while
 * other threads make calls in any slot, this one included: calls that
 * meet the slot afterwards, by number or through a handle opened before,
 * get ESTALE. Waits only for threads that were reading the slot's view
 * pointer at that moment (a few instructions to a derivation); a call
 * already past that point finishes on the old view, whose memory goes
 * when its last inode in use does. The upper directory's lock is
 * released before it returns, so the caller may capture the upper; stop
 * the slot's transport first if no write may still be landing. Slot 0 of
 * a vfs with slot_dir cannot be detached. An empty slot: STRATA_E_NOTFOUND. */
strata_err *vfs_slot_detach(vfs *v, uint16_t slot);

/* Counts the views slot has shown: 1 for its first, 2 after a detach and
 * a new attach, ...; 0 while it is empty. Inode numbers have no room for
 * it, so a transport puts it into what outlives a view (an NFS file
 * handle, a FUSE entry's generation) and answers ESTALE when it no longer
 * matches: the vfs itself only keeps inodes of a detached view from ever
 * serving the next view, while a bare number is read in the view the slot
 * shows now. */
uint32_t vfs_slot_generation(vfs *v, uint16_t slot);

/* vfs_opts.max_slots as the vfs took it (at least 1). */
uint32_t vfs_max_slots(const vfs *v);

/* ---- attributes -------------------------------------------------------- */

typedef struct vfs_time {
    int64_t sec;
    uint32_t nsec;
} vfs_time;

#define VFS_ATTR_IMMUTABLE 1u /* a lower-only entry: cache entry, attrs and pages for ever */
#define VFS_BLKSIZE        (128u * 1024)
#define VFS_DIR_SIZE       4096u

typedef struct vfs_attr {
    uint64_t ino;
    uint32_t mode; /* S_IF* type bits | permission bits */
    uint32_t nlink;
    uint32_t uid, gid;
    uint64_t size;
    uint64_t blocks; /* 512-byte units */
    uint32_t blksize;
    uint32_t flags; /* VFS_ATTR_* */
    vfs_time atime, mtime, ctime;
} vfs_attr;

strata_err *vfs_getattr(vfs *v, uint64_t ino, vfs_attr *out);

/* Looks name up in directory parent and fills *out (out->ino is the
 * child). Counts one lookup on the child, which vfs_forget gives back. "."
 * and ".." are accepted. */
strata_err *vfs_lookup(vfs *v, uint64_t parent, const char *name, size_t name_len, vfs_attr *out);
/* Gives back n lookups. An inode with no lookups and no open handle may be
 * dropped from memory; its number stays valid. */
void vfs_forget(vfs *v, uint64_t ino, uint64_t n);

/* mask: F_OK or R_OK|W_OK|X_OK, for the caller uid/gid, against the
 * entry's owner and mode (an upper entry's real ones). A view without an
 * upper directory is read-only (EROFS for W_OK). */
strata_err *vfs_access(vfs *v, uint64_t ino, int mask, uint32_t uid, uint32_t gid);

typedef struct vfs_statfs {
    uint32_t bsize, frsize;
    uint64_t blocks, bfree, bavail;
    uint64_t files, ffree;
    uint32_t namemax;
} vfs_statfs;
/* Sizes of the view holding ino: with an upper directory, its
 * filesystem's (what can still be written); without, the sum over the
 * layers (computed once) with nothing free. */
strata_err *vfs_statfs_get(vfs *v, uint64_t ino, vfs_statfs *out);

/* ---- directories ------------------------------------------------------- */

/* Cookies: a directory lists ".", "..", then its merged lower children in
 * name order, then (with an upper directory) its upper entries in the
 * upper filesystem's order. The lower entry at position p (0 = ".") has
 * cookie p + 1, whether or not the upper directory hides it (hidden ones
 * are skipped, never renumbered); an upper entry has cookie
 * VFS_COOKIE_UPPER | the upper directory's own offset after it. Passing a
 * cookie resumes right after that entry; 0 starts at the beginning. Lower
 * positions never change and upper offsets are the filesystem's stable
 * seek positions, so cookies stay valid for the whole mount; entries made
 * or removed meanwhile may or may not show, as POSIX allows.
 * vfs_dir_generation says when a directory's entries changed. */
#define VFS_COOKIE_UPPER (1ull << 63)

typedef struct vfs_dirent {
    const char *name; /* valid during the callback only; not NUL-terminated */
    size_t name_len;
    uint64_t ino;
    uint32_t type;        /* S_IFDIR, S_IFREG, S_IFLNK or S_IFIFO */
    uint64_t cookie;      /* resumes after this entry */
    const vfs_attr *attr; /* readdirplus only; NULL otherwise */
} vfs_dirent;

/* Returns true when the entry was taken (the listing goes on), false when
 * it did not fit: it is then not counted, and the listing stops. */
typedef bool (*vfs_dirent_fn)(void *ctx, const vfs_dirent *d);

/* *eof (may be NULL) says whether the listing reached the end. */
strata_err *vfs_readdir(vfs *v, uint64_t dir, uint64_t cookie, vfs_dirent_fn fn, void *ctx,
                        bool *eof);
/* The same with attributes. With count_lookups (FUSE), every entry taken
 * except "." and ".." counts one lookup, as vfs_lookup would; NFS passes
 * false. */
strata_err *vfs_readdirplus(vfs *v, uint64_t dir, uint64_t cookie, bool count_lookups,
                            vfs_dirent_fn fn, void *ctx, bool *eof);

/* ---- content ----------------------------------------------------------- */

/* A link target is at most this long; readlink buffers need one byte more. */
#define VFS_LINK_MAX 4095

/* Copies the target, NUL-terminated, into buf (size >= VFS_LINK_MAX + 1
 * always fits); *len gets its length. */
strata_err *vfs_readlink(vfs *v, uint64_t ino, char *buf, size_t size, size_t *len);

/* Opens a regular file; flags are open(2) flags (O_ACCMODE, O_TRUNC,
 * O_APPEND, O_SYNC, O_DSYNC count). Any write access or O_TRUNC is EROFS
 * without an upper directory; with one, a lower file is copied up first
 * (with O_TRUNC, without its content). Permissions are the transport's to
 * check (vfs_access). The handle keeps the inode in memory. */
strata_err *vfs_open(vfs *v, uint64_t ino, int flags, vfs_file **out);
uint64_t vfs_file_ino(const vfs_file *f);
/* Reads up to len bytes at off; *got < len only at end of file. Any number
 * of threads may read one handle at once. A handle opened on a lower file
 * that another handle has since copied up reads the upper copy. */
strata_err *vfs_read(vfs *v, vfs_file *f, void *buf, size_t len, uint64_t off, size_t *got);
/* Nothing is buffered in the vfs, so flush (close(2) of one descriptor)
 * only reports a handle that was never valid; release frees the handle. */
strata_err *vfs_flush(vfs *v, vfs_file *f);
void vfs_release(vfs *v, vfs_file *f);

/* A read with no open (NFS, FUSE no-open): the same as vfs_read. */
strata_err *vfs_read_ino(vfs *v, uint64_t ino, void *buf, size_t len, uint64_t off, size_t *got);
/* The same; with VFS_READ_CACHED only from the page cache: bytes that
 * would come from the disk make it EAGAIN (nothing read), for a caller
 * that must not wait (NFS's loop thread), which then reads them
 * elsewhere. */
#define VFS_READ_CACHED 1u
strata_err *vfs_read_ino_flags(vfs *v, uint64_t ino, void *buf, size_t len, uint64_t off,
                               size_t *got, unsigned flags);

/* ---- writing (views with an upper directory) ---------------------------
 *
 * Everything below answers EROFS without an upper directory. The first
 * write or metadata change of a lower entry copies it up: its content (or
 * as much as a truncation keeps) goes to a temp file in UPPER_WORK, which
 * is renamed into place, so a crash leaves no copy or a whole one. A
 * copied-up or renamed lower entry keeps its number; entries created in
 * the upper directory get numbers from the upper table (source
 * VFS_SRC_UPPER), valid for the whole mount. Calls that make an entry
 * count one lookup on it, as vfs_lookup does. The vfs does not check
 * permissions on namespace changes: the transport does (vfs_access, or
 * the kernel with FUSE's default_permissions). Only setattr applies the
 * owner rules, which need the caller. */

/* Who is asking: new entries are given this owner when the server runs as
 * root, and setattr checks it. */
typedef struct vfs_cred {
    uint32_t uid, gid;
} vfs_cred;

/* Writes len bytes at off through a handle opened for writing (EBADF
 * otherwise); *written gets the count. A handle opened with O_APPEND
 * appends wherever off points. */
strata_err *vfs_write(vfs *v, vfs_file *f, const void *buf, size_t len, uint64_t off,
                      size_t *written);
/* A write with no open (NFS): copies a lower file up first. */
strata_err *vfs_write_ino(vfs *v, uint64_t ino, const void *buf, size_t len, uint64_t off,
                          size_t *written);
/* Makes ino's upper content (f's, when given) or directory durable; a
 * lower-only entry has nothing to sync. */
strata_err *vfs_fsync(vfs *v, uint64_t ino, vfs_file *f, bool datasync);

#define VFS_SET_MODE      (1u << 0) /* permission bits, 07777 */
#define VFS_SET_UID       (1u << 1)
#define VFS_SET_GID       (1u << 2)
#define VFS_SET_SIZE      (1u << 3)
#define VFS_SET_ATIME     (1u << 4) /* to atime */
#define VFS_SET_MTIME     (1u << 5) /* to mtime */
#define VFS_SET_ATIME_NOW (1u << 6)
#define VFS_SET_MTIME_NOW (1u << 7)

typedef struct vfs_setattr_in {
    uint32_t valid; /* VFS_SET_* */
    uint32_t mode;
    uint32_t uid, gid;
    uint64_t size;
    vfs_time atime, mtime;
} vfs_setattr_in;

/* Changes what sa->valid says, copying a lower entry up first, and fills
 * *out (may be NULL) with the result. f (may be NULL) is an open handle
 * of ino, used for the size. Owner rules, for cred: mode and explicit
 * times need the owner or root (EPERM), a new uid needs root, a new gid
 * root or the owner giving its own gid (EPERM); a size or "now" times
 * need write permission, the owner or root (EACCES). */
strata_err *vfs_setattr(vfs *v, uint64_t ino, vfs_file *f, const vfs_setattr_in *sa,
                        const vfs_cred *cred, vfs_attr *out);

/* Creates a regular file of mode in parent and opens it with flags (open(2)
 * flags). The name already existing is EEXIST with O_EXCL; without it the
 * existing file is opened as vfs_open would (EISDIR for a directory). */
strata_err *vfs_create(vfs *v, uint64_t parent, const char *name, size_t len, uint32_t mode,
                       int flags, const vfs_cred *cred, vfs_attr *out, vfs_file **fh);
/* A directory that replaces a deleted lower one is opaque: nothing of the
 * old one shows through. */
strata_err *vfs_mkdir(vfs *v, uint64_t parent, const char *name, size_t len, uint32_t mode,
                      const vfs_cred *cred, vfs_attr *out);
/* Fifos (S_IFIFO) and empty regular files (S_IFREG) only: devices are
 * EPERM and sockets ENOTSUP, since a layer holds neither. A layer holds no
 * fifo either, so a fifo must be gone before the upper is captured. */
strata_err *vfs_mknod(vfs *v, uint64_t parent, const char *name, size_t len, uint32_t mode,
                      uint64_t rdev, const vfs_cred *cred, vfs_attr *out);
/* target: 1..VFS_LINK_MAX bytes. */
strata_err *vfs_symlink(vfs *v, uint64_t parent, const char *name, size_t len, const char *target,
                        const vfs_cred *cred, vfs_attr *out);
/* A new name for the non-directory ino (a lower one is copied up first);
 * both names then share the number, and nlink counts them. */
strata_err *vfs_link(vfs *v, uint64_t ino, uint64_t newparent, const char *name, size_t len,
                     vfs_attr *out);
/* Removing a lower entry leaves a whiteout in the upper directory. */
strata_err *vfs_unlink(vfs *v, uint64_t parent, const char *name, size_t len);
/* ENOTEMPTY is decided over the merged view (upper and lower entries). */
strata_err *vfs_rmdir(vfs *v, uint64_t parent, const char *name, size_t len);

#define VFS_RENAME_NOREPLACE 1u /* == RENAME_NOREPLACE */
#define VFS_RENAME_EXCHANGE  2u /* == RENAME_EXCHANGE */
/* rename(2)/renameat2(2) semantics and errnos. A directory from the lower
 * layers may be renamed: it keeps its number and contents (a redirect,
 * needing extended attributes on the upper filesystem: EXDEV without).
 * RENAME_EXCHANGE needs the upper filesystem's support (EINVAL without). */
strata_err *vfs_rename(vfs *v, uint64_t parent, const char *name, size_t len, uint64_t newparent,
                       const char *newname, size_t newlen, unsigned flags);

/* Extended attributes: real ones on upper entries, none on lower-only
 * entries (setting one copies the entry up). The overlay's own attributes
 * (trusted.overlay.*, user.overlay.*) are never shown: getting or
 * removing one is ENODATA, setting one EPERM. size 0 asks for the length
 * only; a buffer too small is ERANGE. flags: XATTR_CREATE, XATTR_REPLACE. */
strata_err *vfs_getxattr(vfs *v, uint64_t ino, const char *name, void *buf, size_t size,
                         size_t *len);
strata_err *vfs_setxattr(vfs *v, uint64_t ino, const char *name, const void *value, size_t size,
                         int flags);
/* Names, each NUL-terminated, one after the other. */
strata_err *vfs_listxattr(vfs *v, uint64_t ino, char *buf, size_t size, size_t *len);
strata_err *vfs_removexattr(vfs *v, uint64_t ino, const char *name);

/* A counter of the namespace changes in directory ino (entries made,
 * removed or renamed in or out) since the mount began: 0 for a directory
 * that never changed. It only grows, also across forget, so a transport
 * may build a readdir cookie verifier from it. */
strata_err *vfs_dir_generation(vfs *v, uint64_t ino, uint64_t *gen);

/* ---- errors and introspection ------------------------------------------ */

/* The errno a transport should answer for e (0 for NULL): ENOENT, ENOTDIR,
 * EISDIR, EROFS, EACCES, ESTALE (a number that names nothing in its view),
 * EIO for damaged or missing content, and for writes whatever the upper
 * filesystem said (ENOSPC, EEXIST, ENOTEMPTY, ...). */
int vfs_errno(const strata_err *e);

typedef struct vfs_stats {
    uint64_t inodes;         /* in memory, including idle ones */
    uint64_t idle;           /* no lookups and no handles: droppable */
    uint64_t derived;        /* rebuilt from a number alone, since vfs_new */
    uint64_t merged_dirs;    /* children lists computed, since vfs_new */
    uint64_t readers;        /* blob readers cached on inodes */
    uint64_t reader_files;   /* ... of which hold an open blob file */
    uint64_t copy_ups;       /* entries copied up, since vfs_new */
    uint64_t upper_fds;      /* upper entries' descriptors cached on inodes */
    uint64_t upper_records;  /* entries in the upper tables (every slot) */
    uint64_t manifest_loads; /* layers decoded from the store, since vfs_new */
    uint64_t manifest_hits;  /* ... and found decoded already (mcache.c) */
    uint64_t manifests;      /* decoded manifests held, in use or kept */
} vfs_stats;
void vfs_get_stats(vfs *v, vfs_stats *out);

#endif
