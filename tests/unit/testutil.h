/* Helpers shared by the cmocka unit tests: scratch directories, small file
 * I/O, and turning a strata_err into a test failure with its message. */
#ifndef STRATA_TESTS_TESTUTIL_H
#define STRATA_TESTS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"

/* Fails the test, printing the error's message and hint, unless e is NULL. */
#define assert_ok(expr)                                                                            \
    do {                                                                                           \
        strata_err *e_ = (expr);                                                                   \
        if (e_) {                                                                                  \
            print_error("%s: %s (hint: %s)\n", #expr, e_->msg, e_->hint);                          \
            strata_err_free(e_);                                                                   \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* Fails unless expr returns an error with the given code; frees it. */
#define assert_err(expr, want_code)                                                                \
    do {                                                                                           \
        strata_err *e_ = (expr);                                                                   \
        if (!e_) {                                                                                 \
            print_error("%s: expected an error, got success\n", #expr);                            \
            fail();                                                                                \
        }                                                                                          \
        if (e_->code != (want_code)) {                                                             \
            print_error("%s: expected %s, got %s: %s\n", #expr, strata_code_name(want_code),       \
                        strata_code_name(e_->code), e_->msg);                                      \
            strata_err_free(e_);                                                                   \
            fail();                                                                                \
        }                                                                                          \
        assert_non_null(e_->hint);                                                                 \
        strata_err_free(e_);                                                                       \
    } while (0)

/* A fresh directory under $TMPDIR (or /tmp); malloc'd path. */
char *tu_mkdtemp(const char *tag);
/* rm -rf, then free(path). */
void tu_rmtree(char *path);
/* Writes bytes to dir/name, creating parents. mode applies to the file. */
void tu_write_file(const char *dir, const char *name, const void *data, size_t len, unsigned mode);
/* Deterministic pseudo-random bytes (xorshift) for test content. */
void tu_fill_random(void *buf, size_t len, uint64_t seed);
/* Joins and returns a malloc'd path. */
char *tu_path(const char *dir, const char *name);

#endif
