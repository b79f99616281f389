/* Errors at the vfs boundary: building strata_err values that carry the
 * exact errno a transport must answer (ENOTDIR, EISDIR, ESTALE, ...), and
 * turning any strata_err back into that errno.
 *
 * strata_code is deliberately coarse; the precise errno rides in
 * sys_errno, so no vfs-specific codes are needed in base/err.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vfs/vfs_internal.h"

/* The coarse code that goes with an errno the vfs reports itself. */
static strata_code code_for(int errnum)
{
    switch (errnum) {
    case ENOENT:
    case ENOTDIR:
    case ESTALE:
        return STRATA_E_NOTFOUND;
    case EEXIST:
    case ENOTEMPTY:
        return STRATA_E_EXISTS;
    case EROFS:
    case ENOTSUP:
    case ENOSYS:
        return STRATA_E_UNSUPPORTED;
    case ENOMEM:
        return STRATA_E_NOMEM;
    case ENOSPC:
        return STRATA_E_NOSPACE;
    case EIO:
        return STRATA_E_IO;
    default: /* EISDIR, EINVAL, ELOOP, ENAMETOOLONG, EACCES, EPERM */
        return STRATA_E_INVALID;
    }
}

strata_err *vfs_err(int errnum, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    strata_code code = code_for(errnum);
    strata_err *e = strata_err_new(code, hint, "%s", msg ? msg : "vfs error");
    free(msg);
    /* Out of memory yields a shared static error, which must not be
     * written; it already says ENOMEM. */
    if (e->code == code && code != STRATA_E_NOMEM)
        e->sys_errno = errnum;
    return e;
}

strata_err *vfs_err_content(strata_err *e)
{
    if (e && e->code != STRATA_E_NOMEM && e->sys_errno != EIO) {
        e->sys_errno = EIO;
        if (e->code == STRATA_E_NOTFOUND)
            e->code = STRATA_E_CORRUPT; /* a blob the manifest names is missing */
    }
    return e;
}

int vfs_errno(const strata_err *e)
{
    if (!e)
        return 0;
    if (e->sys_errno > 0)
        return e->sys_errno;
    switch (e->code) {
    case STRATA_E_OK:
        return 0;
    case STRATA_E_NOTFOUND:
        return ENOENT;
    case STRATA_E_EXISTS:
        return EEXIST;
    case STRATA_E_INVALID:
        return EINVAL;
    case STRATA_E_NOSPACE:
        return ENOSPC;
    case STRATA_E_NOMEM:
        return ENOMEM;
    case STRATA_E_BUSY:
        return EBUSY;
    case STRATA_E_UNSUPPORTED:
        return ENOTSUP;
    case STRATA_E_IO:
    case STRATA_E_CORRUPT:
    case STRATA_E_INTERNAL:
        return EIO;
    }
    return EIO;
}
