/* libfuse3, loaded at run time.
 *
 * strata never links against libfuse: a machine without it must still run
 * every other transport. fuse_lib_load() checks that FUSE can work here
 * (the library, /dev/fuse, and fusermount3 for a non-root user) and
 * resolves every symbol the transport calls, so nothing absent is ever
 * called. Any failure is STRATA_E_UNSUPPORTED ("not available") with a
 * hint saying what to install or enable.
 *
 * STRATA_LIBFUSE names the library to load instead of the default
 * (tests set it to /nonexistent to simulate a machine without libfuse). */
#ifndef STRATA_TRANSPORT_FUSE_LIB_H
#define STRATA_TRANSPORT_FUSE_LIB_H

#define FUSE_USE_VERSION 312
#include <fuse3/fuse_lowlevel.h>

#include "base/err.h"

typedef struct fuse_lib {
    void *dl;
    char version[32]; /* "3.14.0", from fuse_pkgversion() */

    struct fuse_session *(*session_new)(struct fuse_args *args, const struct fuse_lowlevel_ops *op,
                                        size_t op_size, void *userdata);
    int (*session_mount)(struct fuse_session *se, const char *mountpoint);
    void (*session_unmount)(struct fuse_session *se);
    void (*session_destroy)(struct fuse_session *se);
    void (*session_exit)(struct fuse_session *se);
    int (*session_exited)(struct fuse_session *se);
    int (*session_fd)(struct fuse_session *se);
    int (*session_loop)(struct fuse_session *se);
    int (*session_loop_mt)(struct fuse_session *se, struct fuse_loop_config *config);
    struct fuse_loop_config *(*loop_cfg_create)(void);
    void (*loop_cfg_destroy)(struct fuse_loop_config *config);
    void (*loop_cfg_set_max_threads)(struct fuse_loop_config *config, unsigned int value);
    void (*loop_cfg_set_clone_fd)(struct fuse_loop_config *config, unsigned int value);

    int (*reply_err)(fuse_req_t req, int err);
    void (*reply_none)(fuse_req_t req);
    int (*reply_entry)(fuse_req_t req, const struct fuse_entry_param *e);
    int (*reply_create)(fuse_req_t req, const struct fuse_entry_param *e,
                        const struct fuse_file_info *fi);
    int (*reply_attr)(fuse_req_t req, const struct stat *attr, double attr_timeout);
    int (*reply_readlink)(fuse_req_t req, const char *link);
    int (*reply_open)(fuse_req_t req, const struct fuse_file_info *fi);
    int (*reply_write)(fuse_req_t req, size_t count);
    int (*reply_buf)(fuse_req_t req, const char *buf, size_t size);
    int (*reply_iov)(fuse_req_t req, const struct iovec *iov, int count);
    int (*reply_statfs)(fuse_req_t req, const struct statvfs *stbuf);
    int (*reply_xattr)(fuse_req_t req, size_t count);
    size_t (*add_direntry)(fuse_req_t req, char *buf, size_t bufsize, const char *name,
                           const struct stat *stbuf, off_t off);
    size_t (*add_direntry_plus)(fuse_req_t req, char *buf, size_t bufsize, const char *name,
                                const struct fuse_entry_param *e, off_t off);
    void (*opt_free_args)(struct fuse_args *args);
    const struct fuse_ctx *(*req_ctx)(fuse_req_t req);
    void *(*req_userdata)(fuse_req_t req);
    int (*notify_inval_entry)(struct fuse_session *se, fuse_ino_t parent, const char *name,
                              size_t namelen);
    int (*notify_inval_inode)(struct fuse_session *se, fuse_ino_t ino, off_t off, off_t len);
    int (*notify_store)(struct fuse_session *se, fuse_ino_t ino, off_t offset,
                        struct fuse_bufvec *bufv, enum fuse_buf_copy_flags flags);
    /* Where libfuse's own messages go (optional: NULL in a library
     * without it; they then go to stderr). */
    void (*set_log_func)(fuse_log_func_t func);
} fuse_lib;

/* The library fuse_lib_load loads: $STRATA_LIBFUSE, else the platform's
 * libfuse3. */
const char *fuse_lib_path(void);

/* Loads libfuse3 once per process and checks that a mount can work; the
 * returned table lives until exit. */
strata_err *fuse_lib_load(const fuse_lib **out);

/* The checks behind fuse_lib_load, with their inputs spelled out so tests
 * can aim them: lib is the library path or soname, dev the FUSE device,
 * fusermount the helper a non-root user needs (NULL to skip). The table is
 * filled on success; the caller owns t->dl. */
strata_err *fuse_lib_open(const char *lib, const char *dev, const char *fusermount, fuse_lib *t);

#endif
