/* Small filesystem helpers that every layer needs: full reads and writes
 * that survive EINTR and short counts, durable renames, recursive mkdir and
 * removal. Each returns a strata_err naming the path. */
#ifndef STRATA_BASE_FSUTIL_H
#define STRATA_BASE_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

/* Writes all n bytes; what names the file in the error. */
strata_err *fs_write_all(int fd, const void *data, size_t n, const char *what);
/* Reads up to n bytes at off, stopping early only at end of file. */
strata_err *fs_pread_full(int fd, void *data, size_t n, uint64_t off, size_t *got,
                          const char *what);
/* The same, but only from the page cache: a read that would wait for the
 * disk fails with EAGAIN (sys_errno) instead, having read nothing the
 * caller may use (preadv2 with RWF_NOWAIT; where there is none, every
 * call is EAGAIN). */
strata_err *fs_pread_cached(int fd, void *data, size_t n, uint64_t off, size_t *got,
                            const char *what);
/* fsync of a directory, so that a rename or create in it is durable. */
strata_err *fs_fsync_dir(const char *dir);
/* mkdir -p with the given mode for created directories. */
strata_err *fs_mkdir_p(const char *path, mode_t mode);
/* rm -rf that never follows symbolic links; a missing path is not an error. */
strata_err *fs_remove_tree(const char *path);
/* Empties a directory (rm -rf of each entry), keeping the directory. */
strata_err *fs_remove_children(const char *path);
/* True when path is a directory with no entries (or does not exist). */
strata_err *fs_dir_is_empty(const char *path, bool *empty, bool *exists);

#endif
