/* Running a system command (mount, umount, sudo) and waiting for it with
 * a deadline.
 *
 * The engine's privileged steps are other programs: mount_nfs, mount(8),
 * umount, sudo. A mount command that talks to a server which does not
 * answer may block for as long as its own retries last; strata must not
 * hang with it, so every run has a time limit, after which the command
 * and whatever it started (its process group) are killed. Its output —
 * the only account of why it failed — is kept for the error message. */
#ifndef STRATA_ENGINE_SPAWN_H
#define STRATA_ENGINE_SPAWN_H

#include <stdbool.h>

#include "base/err.h"

#define SPAWN_OUT_MAX 1024

typedef struct spawn_result {
    int status;              /* the exit code; -1 when killed by a signal or the deadline */
    bool timed_out;          /* killed at the deadline */
    char out[SPAWN_OUT_MAX]; /* what it printed (stdout and stderr, in order), cut */
} spawn_result;

/* Runs argv (argv[0] looked up in PATH unless it has a '/'), stdin from
 * /dev/null, and waits at most timeout seconds. An error only when it
 * could not be started; how it ended is in *r. */
strata_err *spawn_run(const char *const argv[], double timeout, spawn_result *r);

/* Runs argv on this terminal (stdin, stdout and stderr inherited: sudo
 * may ask for a password) and waits for it, however long. Its exit code,
 * or -1 when a signal ended it, goes to *status. */
strata_err *spawn_interactive(const char *const argv[], int *status);

/* The first line of out (for a one-line message), at most n-1 bytes. */
void spawn_first_line(const char *out, char *line, size_t n);

#endif
