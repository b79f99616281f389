/* Platform facts: everything the engine's decisions depend on, as data.
 *
 * platform_linux.c and platform_darwin.c fill one engine_facts (the only
 * I/O), once per process (facts_probe); every decision after that
 * (plan.h, escalate.h) is a pure function of the facts plus the config,
 * so the macOS cases are unit-tested on Linux with facts written by hand.
 * The parsers of tool outputs and files are pure too (here for Linux,
 * darwin_parse.h for macOS), and tested on recorded samples. */
#ifndef STRATA_ENGINE_FACTS_H
#define STRATA_ENGINE_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "engine/engine.h"

/* FSKit arrived in macOS 15.4, and in macFUSE with 5.0 (its "-o
 * backend=fskit"; macFUSE's FUSE Backends wiki page and 5.0.0 release
 * notes). One place, so that a later bound (5.2 reworked FSKit mounting)
 * is a one-line change. */
#define FACTS_FSKIT_MACOS_MAJOR   15
#define FACTS_FSKIT_MACOS_MINOR   4
#define FACTS_FSKIT_MACFUSE_MAJOR 5
#define FACTS_FSKIT_MACFUSE_MINOR 0

typedef enum {
    FACTS_DEV_OK,     /* /dev/fuse opens read-write */
    FACTS_DEV_ABSENT, /* no such device: no module, or a container without it */
    FACTS_DEV_DENIED, /* it exists, but this user may not open it */
} facts_dev;

/* The macFUSE kernel extension. It loads on the first mount, so "not
 * loaded" alone says nothing about approval. */
typedef enum {
    FACTS_KEXT_UNKNOWN,      /* not loaded; whether it may load is unknown */
    FACTS_KEXT_LOADED,       /* loaded now, so approved */
    FACTS_KEXT_NOT_APPROVED, /* known to be blocked (or failed to load before) */
} facts_kext;

/* macFUSE's FSKit module, as pluginkit reports it. */
typedef enum {
    FACTS_FSKIT_UNKNOWN,  /* not asked (or pluginkit failed) */
    FACTS_FSKIT_ENABLED,  /* registered and turned on */
    FACTS_FSKIT_DISABLED, /* registered, but off in File System Extensions */
    FACTS_FSKIT_ABSENT,   /* not registered at all */
} facts_fskit;

typedef struct engine_facts {
    engine_os os;
    char os_version_str[128];  /* Linux: kernel release; macOS: product version */
    engine_version os_version; /* parsed from it */
    uid_t uid;                 /* the real user */
    bool root;                 /* effective uid 0 */
    char user[64];             /* the real user's name ("" if unknown) */

    /* The FUSE library loads (libfuse3 on Linux, macFUSE's libfuse3). */
    bool libfuse;

    /* Linux */
    facts_dev dev_fuse;
    bool fusermount;        /* fusermount3 exists */
    bool fusermount_setuid; /* ... and is setuid root */
    bool user_allow_other;  /* /etc/fuse.conf has user_allow_other */
    bool nfs_in_kernel;     /* "nfs" in /proc/filesystems */
    bool nfs_module;        /* the nfs module is installed (loads on mount) */

    /* macOS */
    bool macfuse; /* /Library/Filesystems/macfuse.fs */
    engine_version macfuse_version;
    facts_kext kext;
    facts_fskit fskit_module;
    bool abr;   /* Admin By Request is installed */
    bool admin; /* in the admin group now (root counts) */

    /* Derived by facts_finish() from the fields above. */
    bool nfs_client;   /* the kernel can mount NFSv3 (always on macOS) */
    bool fskit_usable; /* macOS 15.4+ and a macFUSE with FSKit */
} engine_facts;

/* Fills f with this machine's facts. The probe runs once per process,
 * on the first call of facts_probe or facts_get (under pthread_once, so
 * any thread may make it); every later call copies that result. Its
 * inputs from the environment (STRATA_LIBFUSE, and PATH for fusermount3)
 * are therefore read once, at that first probe: changing them later
 * changes nothing, as for the transport's own fuse_lib_load. Never fails:
 * what cannot be found out stays false/unknown. */
void facts_probe(engine_facts *f);

/* The same once-per-process facts, in place: valid until exit, never
 * NULL. */
const engine_facts *facts_get(void);

/* Probes now, without reading or filling the cache, with the environment
 * as it is now: for tests, which change STRATA_LIBFUSE between probes.
 * The FUSE library is loaded on its own and closed again, not through
 * the transport's fuse_lib_load (which keeps its first answer). */
void facts_probe_fresh(engine_facts *f);

/* How many probes this process has run (the cached one and every fresh
 * one), so that tests can show the cache holds. */
unsigned facts_probe_runs(void);

/* The platform's half of a probe (platform_linux.c, platform_darwin.c):
 * zeroes f and fills every field but libfuse and the derived ones, which
 * the probe in facts.c sets. Called only from there. */
void facts_probe_platform(engine_facts *f);

/* Sets the derived fields. Tests that write facts by hand call it too. */
void facts_finish(engine_facts *f);

/* Whether /proc/filesystems text lists the filesystem fs ("nfs"): each
 * line is "[nodev]\t<name>". Pure. */
bool facts_parse_filesystems(const char *text, size_t len, const char *fs);

/* Whether /etc/fuse.conf text enables user_allow_other (a line of its
 * own, not commented out). Pure. */
bool facts_parse_fuse_conf(const char *text, size_t len);

const char *facts_dev_name(facts_dev d);
const char *facts_kext_name(facts_kext k);
const char *facts_fskit_name(facts_fskit m);

#endif
