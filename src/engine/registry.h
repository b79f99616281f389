/* The mount registry: one record per live strata mount, so that `strata
 * ps` can list them and `strata sweep` can clean up after owners that
 * died without unmounting (SIGKILL, a crash, a power cut of the session).
 *
 * Where: $XDG_RUNTIME_DIR/strata/mounts/ (an absolute XDG_RUNTIME_DIR
 * only), else /tmp/strata-<uid>/mounts/. Both directories are created
 * 0700 and refused when they are symbolic links, owned by another user,
 * or writable by group or others: the records decide what a sweep
 * unmounts, so nobody else may write them.
 *
 * Per mount, named by a random id:
 *   <id>.lock  held with flock(LOCK_EX) by the owner for its whole life,
 *              through a descriptor with O_CLOEXEC (so commands it
 *              starts do not keep it alive). A lock that can be taken
 *              means the owner is dead: a reused pid cannot fake it.
 *   <id>.rec   the record, written to <id>.tmp and renamed, so it is
 *              whole or absent. The lock is made before the record and
 *              removed after it.
 *
 * The record is text, one "key=value" a line after a version line:
 *
 *   strata-registry 1
 *   id=3f0c9a1b2d4e5f60
 *   pid=12345
 *   kind=mount                       (mount: strata mount; run: strata run;
 *                                     serve: strata serve, whose control
 *                                     socket serve_socket_path names;
 *                                     slot: strata run in a slot of a
 *                                     serve, mountpoint=<mount>/<slot>)
 *   transport=fuse
 *   mountpoint=/home/u/mnt
 *   dir=/tmp/strata-run-Ab12Cd       (run and slot: the run's temporary directory)
 *   started=1760000000               (Unix seconds)
 *
 * Unknown keys are ignored (a later version may add some); anything else
 * that does not fit is a corrupt record, reported, never fatal. */
#ifndef STRATA_ENGINE_REGISTRY_H
#define STRATA_ENGINE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

#define REGISTRY_PATH_MAX 4096
#define REGISTRY_ID_LEN   16 /* hex digits */
/* A record larger than this is corrupt: it is not a record. */
#define REGISTRY_REC_MAX 16384

typedef enum {
    REGISTRY_KIND_MOUNT, /* strata mount: a server that serves until unmounted */
    REGISTRY_KIND_RUN,   /* strata run: a sandbox for one command */
    REGISTRY_KIND_SERVE, /* strata serve: a mount of slots, with a control socket */
    REGISTRY_KIND_SLOT,  /* strata run in a slot of a serve: a directory, not a mount */
} registry_kind;

typedef struct registry_record {
    char id[REGISTRY_ID_LEN + 1]; /* set by registry_register */
    pid_t pid;                    /* the owner, which serves the mount */
    registry_kind kind;
    char transport[16];                 /* "fuse", "nfs", ... */
    char mountpoint[REGISTRY_PATH_MAX]; /* absolute */
    char dir[REGISTRY_PATH_MAX];        /* run: its temporary directory; else "" */
    int64_t started;                    /* Unix seconds; set by registry_register */
} registry_record;

typedef enum {
    REGISTRY_LIVE,    /* the owner holds its lock */
    REGISTRY_DEAD,    /* the owner is gone: its lock can be taken */
    REGISTRY_CORRUPT, /* the record cannot be read (see why); live or not */
    REGISTRY_ORPHAN,  /* a lock or temp file with no record and no owner */
} registry_state;

typedef struct registry_entry {
    char id[REGISTRY_ID_LEN + 1];
    registry_state state;
    bool live;           /* the lock is held (LIVE, or a CORRUPT record of a live owner) */
    bool has_record;     /* <id>.rec exists */
    registry_record rec; /* valid for LIVE and DEAD */
    char why[256];       /* CORRUPT: what is wrong with the record */
} registry_entry;

typedef struct registry registry;
typedef struct registry_handle registry_handle;

/* "mount" / "run" / "serve" / "slot". */
const char *registry_kind_name(registry_kind k);
/* "live", "dead", "corrupt", "orphan". */
const char *registry_state_name(registry_state s);

/* The registry's root for this process's environment: an absolute
 * $XDG_RUNTIME_DIR + "/strata", else /tmp/strata-<uid>. Pure but for
 * getenv and getuid. */
void registry_default_root(char out[REGISTRY_PATH_MAX]);

/* Opens (creating, 0700) the registry under root (NULL: the default
 * root), checking root and root/mounts as above. */
strata_err *registry_open(const char *root, registry **out);
/* The directory holding the records (root/mounts). */
const char *registry_path(const registry *r);
void registry_close(registry *r);

/* Registers a mount: fills rec->id and rec->started, takes the lock,
 * writes the record. The lock lasts until registry_unregister or the
 * process's end. The mountpoint and dir must be absolute, without a
 * newline. */
strata_err *registry_register(registry *r, registry_record *rec, registry_handle **out);

/* Removes the record and the lock, and frees h (NULL: nothing). */
strata_err *registry_unregister(registry_handle *h);

/* Every record and leftover file, with liveness (each lock is tried, and
 * released at once), sorted by start time then id. *out is malloc'd. */
strata_err *registry_list(registry *r, registry_entry **out, size_t *n);

/* Takes the lock of entry id for a cleanup, so that no other sweep acts
 * on it at the same time. *got is false when the owner (or another
 * sweep) holds it, or the entry is gone. */
strata_err *registry_claim(registry *r, const char *id, registry_handle **out, bool *got);

/* Removes what is left of a claimed entry (record, temp file, lock) and
 * frees h. */
strata_err *registry_drop(registry_handle *h);

/* Releases a claim without removing anything (the entry stays for the
 * next sweep), and frees h. */
void registry_release(registry_handle *h);

/* The record format: encode into buf (at most n bytes, NUL-terminated);
 * false when it does not fit or a field cannot be written. */
bool registry_encode(const registry_record *rec, char *buf, size_t n);

/* Decodes a record's bytes. STRATA_E_CORRUPT, with what is wrong, when
 * they are not a whole, valid record. Pure. */
strata_err *registry_decode(const char *data, size_t len, registry_record *out);

#endif
