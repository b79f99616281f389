/* Error values with hints. When memory for an error cannot be found, a
 * static out-of-memory error stands in, so reporting never fails itself. */
#include "base/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static strata_err err_oom = {
    .code = STRATA_E_NOMEM,
    .sys_errno = ENOMEM,
    .msg = "out of memory",
    .hint = "free some memory or reduce the work (fewer threads, smaller trees), then retry",
};

static const char *default_hint(strata_code code)
{
    switch (code) {
    case STRATA_E_IO:
        return "check the path, its permissions and the disk, then retry";
    case STRATA_E_NOTFOUND:
        return "check the name; 'strata refs' lists the layers in the store";
    case STRATA_E_EXISTS:
        return "choose another name or remove the existing one first";
    case STRATA_E_INVALID:
        return "check the input; 'strata --help' describes what is accepted";
    case STRATA_E_CORRUPT:
        return "run 'strata fsck' to find damaged blobs, then re-import their source";
    case STRATA_E_NOSPACE:
        return "free disk space (or run 'strata gc'), then retry";
    case STRATA_E_NOMEM:
        return err_oom.hint;
    case STRATA_E_BUSY:
        return "another strata process holds the lock; wait for it to finish and retry";
    case STRATA_E_UNSUPPORTED:
        return "this is not possible here; see 'strata --help' for alternatives";
    case STRATA_E_INTERNAL:
        return "this is a bug in strata; please report it with the command you ran";
    case STRATA_E_OK:
        break;
    }
    return "retry; if it persists, report it with the command you ran";
}

static strata_code code_from_errno(int errnum)
{
    switch (errnum) {
    case ENOENT:
    case ENOTDIR:
        return STRATA_E_NOTFOUND;
    case EEXIST:
    case ENOTEMPTY:
        return STRATA_E_EXISTS;
    case ENOSPC:
    case EDQUOT:
        return STRATA_E_NOSPACE;
    case ENOMEM:
        return STRATA_E_NOMEM;
    case EINVAL:
    case ENAMETOOLONG:
        return STRATA_E_INVALID;
    case EBUSY:
    case EAGAIN:
        return STRATA_E_BUSY;
    case ENOTSUP:
    case ENOSYS:
    case EXDEV:
        return STRATA_E_UNSUPPORTED;
    default:
        return STRATA_E_IO;
    }
}

static const char *errno_hint(int errnum)
{
    switch (errnum) {
    case EACCES:
    case EPERM:
        return "check the permissions of the path (or run as its owner)";
    case EROFS:
        return "the filesystem is read-only; choose a writable location";
    case ENOSPC:
    case EDQUOT:
        return "free disk space (or run 'strata gc'), then retry";
    case ENOENT:
        return "check that the path exists";
    case ENOTDIR:
        return "a part of the path is not a directory; check the path";
    case EMFILE:
    case ENFILE:
        return "too many open files; raise the limit with 'ulimit -n' and retry";
    case ELOOP:
        return "the path goes through a symbolic link, which strata does not follow here";
    default:
        return NULL;
    }
}

static char *vfmt(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

static strata_err *err_make(strata_code code, int sys_errno, const char *hint, char *msg)
{
    strata_err *e = calloc(1, sizeof(*e));
    char *h = strdup(hint ? hint : default_hint(code));
    if (!e || !h || !msg) {
        free(e);
        free(h);
        free(msg);
        return &err_oom;
    }
    e->code = code;
    e->sys_errno = sys_errno;
    e->msg = msg;
    e->hint = h;
    return e;
}

strata_err *strata_err_new(strata_code code, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vfmt(fmt, ap);
    va_end(ap);
    return err_make(code, 0, hint, msg);
}

strata_err *strata_err_sys(int errnum, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *what = vfmt(fmt, ap);
    va_end(ap);
    char *msg = NULL;
    if (what && asprintf(&msg, "%s: %s", what, strerror(errnum)) < 0)
        msg = NULL;
    free(what);
    strata_code code = code_from_errno(errnum);
    return err_make(code, errnum, hint ? hint : errno_hint(errnum), msg);
}

strata_err *strata_err_wrap(strata_err *e, const char *fmt, ...)
{
    if (!e || e == &err_oom)
        return e;
    va_list ap;
    va_start(ap, fmt);
    char *ctx = vfmt(fmt, ap);
    va_end(ap);
    char *msg = NULL;
    if (ctx && asprintf(&msg, "%s: %s", ctx, e->msg) >= 0) {
        free(e->msg);
        e->msg = msg;
    }
    free(ctx);
    return e;
}

strata_err *strata_err_rehint(strata_err *e, const char *hint)
{
    if (!e || e == &err_oom || !hint)
        return e;
    char *h = strdup(hint);
    if (h) {
        free(e->hint);
        e->hint = h;
    }
    return e;
}

void strata_err_free(strata_err *e)
{
    if (!e || e == &err_oom)
        return;
    free(e->msg);
    free(e->hint);
    free(e);
}

const char *strata_code_name(strata_code code)
{
    static const char *const names[] = {
        [STRATA_E_OK] = "ok",
        [STRATA_E_IO] = "io",
        [STRATA_E_NOTFOUND] = "not-found",
        [STRATA_E_EXISTS] = "exists",
        [STRATA_E_INVALID] = "invalid",
        [STRATA_E_CORRUPT] = "corrupt",
        [STRATA_E_NOSPACE] = "no-space",
        [STRATA_E_NOMEM] = "no-memory",
        [STRATA_E_BUSY] = "busy",
        [STRATA_E_UNSUPPORTED] = "unsupported",
        [STRATA_E_INTERNAL] = "internal",
    };
    if ((unsigned)code < sizeof(names) / sizeof(names[0]) && names[code])
        return names[code];
    return "unknown";
}
