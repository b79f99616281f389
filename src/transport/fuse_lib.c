/* Loads libfuse3 with dlopen and checks that FUSE can work on this
 * machine (see fuse_lib.h). Every symbol is resolved up front, so a
 * library too old or too odd fails here, with a hint, rather than in the
 * middle of a mount. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/fuse_lib.h"

#ifdef __APPLE__
/* macFUSE 5 installs libfuse3 here; FSKit needs macFUSE 5.2 or later. */
#define FUSE_LIB_DEFAULT   "/usr/local/lib/libfuse3.dylib"
#define FUSE_LIB_HINT      "install macFUSE 5 or later (https://macfuse.github.io), then retry"
#define FUSE_DEV_DEFAULT   NULL
#define FUSERMOUNT_DEFAULT NULL
#else
#define FUSE_LIB_DEFAULT "libfuse3.so.3"
#define FUSE_LIB_HINT                                                                              \
    "install the FUSE 3 library: apt-get install fuse3 (or your distribution's fuse3)"
#define FUSE_DEV_DEFAULT   "/dev/fuse"
#define FUSERMOUNT_DEFAULT "/usr/bin/fusermount3"
#endif

/* One symbol: its name, and where its address goes. */
typedef struct fuse_sym {
    const char *name;
    size_t off;
    bool optional;
} fuse_sym;

#define SYM(field, name)                                                                           \
    {                                                                                              \
        name, offsetof(fuse_lib, field), false                                                     \
    }
#define OPT(field, name)                                                                           \
    {                                                                                              \
        name, offsetof(fuse_lib, field), true                                                      \
    }

static const fuse_sym fuse_syms[] = {
    SYM(session_new, "fuse_session_new"),
    SYM(session_mount, "fuse_session_mount"),
    SYM(session_unmount, "fuse_session_unmount"),
    SYM(session_destroy, "fuse_session_destroy"),
    SYM(session_exit, "fuse_session_exit"),
    SYM(session_exited, "fuse_session_exited"),
    SYM(session_fd, "fuse_session_fd"),
    SYM(session_loop, "fuse_session_loop"),
    /* The 3.12 ABI of the multi-threaded loop and its config object. */
    SYM(session_loop_mt, "fuse_session_loop_mt_312"),
    SYM(loop_cfg_create, "fuse_loop_cfg_create"),
    SYM(loop_cfg_destroy, "fuse_loop_cfg_destroy"),
    SYM(loop_cfg_set_max_threads, "fuse_loop_cfg_set_max_threads"),
    SYM(loop_cfg_set_clone_fd, "fuse_loop_cfg_set_clone_fd"),
    SYM(reply_err, "fuse_reply_err"),
    SYM(reply_none, "fuse_reply_none"),
    SYM(reply_entry, "fuse_reply_entry"),
    SYM(reply_create, "fuse_reply_create"),
    SYM(reply_attr, "fuse_reply_attr"),
    SYM(reply_readlink, "fuse_reply_readlink"),
    SYM(reply_open, "fuse_reply_open"),
    SYM(reply_write, "fuse_reply_write"),
    SYM(reply_buf, "fuse_reply_buf"),
    SYM(reply_iov, "fuse_reply_iov"),
    SYM(reply_statfs, "fuse_reply_statfs"),
    SYM(reply_xattr, "fuse_reply_xattr"),
    SYM(add_direntry, "fuse_add_direntry"),
    SYM(add_direntry_plus, "fuse_add_direntry_plus"),
    SYM(opt_free_args, "fuse_opt_free_args"),
    SYM(req_ctx, "fuse_req_ctx"),
    SYM(req_userdata, "fuse_req_userdata"),
    /* FSKit has no notification API; its library may lack these. */
    OPT(notify_inval_entry, "fuse_lowlevel_notify_inval_entry"),
    OPT(notify_inval_inode, "fuse_lowlevel_notify_inval_inode"),
    OPT(notify_store, "fuse_lowlevel_notify_store"),
    OPT(set_log_func, "fuse_set_log_func"),
};

strata_err *fuse_lib_open(const char *lib, const char *dev, const char *fusermount, fuse_lib *t)
{
    memset(t, 0, sizeof(*t));
    if (dev) {
        int fd = open(dev, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == ENOENT)
                return strata_err_new(STRATA_E_UNSUPPORTED,
                                      "load the fuse kernel module (modprobe fuse); in a "
                                      "container, run it with --device /dev/fuse",
                                      "FUSE is not available: %s does not exist", dev);
            return strata_err_sys(err,
                                  "let this user open the FUSE device (a container needs "
                                  "--device /dev/fuse and --cap-add SYS_ADMIN)",
                                  "FUSE is not available: cannot open %s", dev);
        }
        close(fd);
    }
    if (fusermount && geteuid() != 0) {
        struct stat st;
        if (stat(fusermount, &st) < 0)
            return strata_err_new(STRATA_E_UNSUPPORTED,
                                  "install fuse3 (it provides fusermount3), or run as root",
                                  "FUSE is not available: %s is missing, and a non-root user "
                                  "needs it to mount",
                                  fusermount);
        if (!(st.st_mode & S_ISUID) || st.st_uid != 0)
            return strata_err_new(STRATA_E_UNSUPPORTED,
                                  "make it setuid root: chown root and chmod u+s it (as the "
                                  "fuse3 package installs it)",
                                  "FUSE is not available: %s is not setuid root", fusermount);
    }
    t->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!t->dl)
        return strata_err_new(STRATA_E_UNSUPPORTED, FUSE_LIB_HINT,
                              "FUSE is not available: cannot load %s: %s", lib, dlerror());
    for (size_t i = 0; i < sizeof(fuse_syms) / sizeof(fuse_syms[0]); i++) {
        void *p = dlsym(t->dl, fuse_syms[i].name);
        if (!p && !fuse_syms[i].optional) {
            strata_err *e = strata_err_new(
                STRATA_E_UNSUPPORTED, "install libfuse 3.12 or later (Debian 12 has 3.14)",
                "FUSE is not available: %s has no %s (too old?)", lib, fuse_syms[i].name);
            dlclose(t->dl);
            t->dl = NULL;
            return e;
        }
        memcpy((char *)t + fuse_syms[i].off, &p, sizeof(p));
    }
    const char *(*pkgversion)(void) = (const char *(*)(void))dlsym(t->dl, "fuse_pkgversion");
    snprintf(t->version, sizeof(t->version), "%s", pkgversion ? pkgversion() : "unknown");
    return NULL;
}

static pthread_once_t fuse_once = PTHREAD_ONCE_INIT;
static fuse_lib fuse_table;
static strata_err *fuse_load_err;

const char *fuse_lib_path(void)
{
    const char *lib = getenv("STRATA_LIBFUSE");
    return lib && *lib ? lib : FUSE_LIB_DEFAULT;
}

static void fuse_lib_load_once(void)
{
    fuse_load_err =
        fuse_lib_open(fuse_lib_path(), FUSE_DEV_DEFAULT, FUSERMOUNT_DEFAULT, &fuse_table);
}

strata_err *fuse_lib_load(const fuse_lib **out)
{
    *out = NULL;
    pthread_once(&fuse_once, fuse_lib_load_once);
    if (fuse_load_err)
        /* Each caller owns its error; the cached one stays for the next. */
        return strata_err_new(fuse_load_err->code, fuse_load_err->hint, "%s", fuse_load_err->msg);
    *out = &fuse_table;
    return NULL;
}
