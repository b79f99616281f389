/* Errors as values: what failed, and what to do about it.
 *
 * Every function below cli/ that can fail returns a strata_err pointer:
 * NULL means success. A non-NULL error owns its strings and is freed with
 * strata_err_free(). Only cli/ prints errors and exits. */
#ifndef STRATA_BASE_ERR_H
#define STRATA_BASE_ERR_H

#include <stdarg.h>

typedef enum {
    STRATA_E_OK = 0,
    STRATA_E_IO,          /* a system call failed; sys_errno says which */
    STRATA_E_NOTFOUND,    /* a named thing (ref, blob, path) does not exist */
    STRATA_E_EXISTS,      /* the thing to create is already there */
    STRATA_E_INVALID,     /* bad input from the user or a caller */
    STRATA_E_CORRUPT,     /* stored data or a manifest failed validation */
    STRATA_E_NOSPACE,     /* the disk or a quota is full */
    STRATA_E_NOMEM,       /* out of memory */
    STRATA_E_BUSY,        /* locked by another process; try again */
    STRATA_E_UNSUPPORTED, /* not possible on this platform or filesystem */
    STRATA_E_INTERNAL,    /* a bug in strata */
} strata_code;

typedef struct strata_err {
    strata_code code;
    int sys_errno; /* the errno behind an STRATA_E_IO-like error, or 0 */
    char *msg;     /* one line: what failed */
    char *hint;    /* one line: what to do about it (never NULL) */
} strata_err;

/* A new error. hint may be NULL, in which case a generic hint for the code
 * is used, so that every error reaching the user carries one. */
strata_err *strata_err_new(strata_code code, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error from a failed system call: the message gets ": <strerror>", the
 * code is derived from errnum (ENOSPC -> NOSPACE, ENOENT -> NOTFOUND, ...),
 * and a NULL hint becomes the usual advice for that errno. */
strata_err *strata_err_sys(int errnum, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds context in front of the message ("import /x: " + msg) and returns e.
 * Passing NULL returns NULL, so callers may wrap unconditionally. */
strata_err *strata_err_wrap(strata_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Replaces the hint (when a caller knows better advice than the callee). */
strata_err *strata_err_rehint(strata_err *e, const char *hint);

void strata_err_free(strata_err *e);

/* A short stable name for a code, e.g. "corrupt"; for tests and --json. */
const char *strata_code_name(strata_code code);

#endif
