/* strata's configuration: a YAML file, the environment, and flags.
 *
 * The file (the first that exists):
 *   1. $STRATA_CONFIG, when set: that file, which must exist;
 *   2. ./strata.yaml (in the current directory only, not its parents);
 *   3. $XDG_CONFIG_HOME/strata/config.yaml ($XDG_CONFIG_HOME defaults to
 *      ~/.config; a relative value is ignored, as the XDG spec says).
 * No file at all is fine: the defaults apply.
 *
 *   store: ~/.local/share/strata   # where the store is; "~" and "~/..." are
 *                                  # expanded, a relative path is taken
 *                                  # from the config file's directory
 *   mount:
 *     enabled: auto    # true|false|auto, also on|off (any letter case)
 *     backend: fskit   # a pin: fuse|kext|fskit|nfs|none
 *     nfs: { port: 0 } # 0-65535; 0 = any free port
 *
 * Each key has an environment variable, named after its path in capitals
 * with "_" for ".": STRATA_STORE, STRATA_MOUNT_ENABLED,
 * STRATA_MOUNT_BACKEND, STRATA_MOUNT_NFS_PORT. An empty variable counts as
 * unset. Precedence, lowest first: defaults < file < environment < flags
 * (config_merge).
 *
 * Decisions where the issue left room:
 * - Defaults: store is $XDG_DATA_HOME/strata, else ~/.local/share/strata;
 *   mount.enabled is auto on Linux and false on macOS (every macOS
 *   transport needs a one-time approval); no backend pin; port 0.
 * - On macOS, "fuse" names the macFUSE kernel extension, i.e. "kext". On
 *   Linux, kext and fskit cannot work: pinning one is a config error.
 * - A pin wins over mount.enabled: "backend: none" never mounts, and any
 *   other pin means "mount with exactly this transport, or fail" (no
 *   fallback to none), whatever mount.enabled says.
 * - A null value ("mount:" with nothing after it) is an empty mapping for
 *   mount and mount.nfs, and an error for the scalar keys. Duplicate keys,
 *   more than one YAML document, and a NUL byte in a value are errors.
 *
 * Every error is STRATA_E_INVALID, its message starts with where the value
 * came from ("/home/u/proj/strata.yaml:3:12", "STRATA_MOUNT_BACKEND",
 * "--backend"), and its hint lists the accepted keys or values. */
#ifndef STRATA_ENGINE_CONFIG_H
#define STRATA_ENGINE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "engine/engine.h"

#define CONFIG_PATH_MAX 4096
/* A config file larger than this is refused: it is not a config file. */
#define CONFIG_FILE_MAX (256 * 1024)

typedef enum {
    CONFIG_ENABLED_AUTO,  /* mount if some transport works, else none, with a warning */
    CONFIG_ENABLED_TRUE,  /* a mount is required: failing to get one is an error */
    CONFIG_ENABLED_FALSE, /* never mount: always none */
} config_enabled;

/* Where a merged value came from (for doctor). */
typedef enum {
    CONFIG_FROM_DEFAULT,
    CONFIG_FROM_FILE,
    CONFIG_FROM_ENV,
    CONFIG_FROM_FLAGS,
} config_origin;

/* The environment the config depends on, as plain inputs (so that tests
 * need not touch the process environment). NULL or "" means unset. */
typedef struct config_env {
    const char *home;            /* $HOME (or the passwd entry's home) */
    const char *xdg_config_home; /* $XDG_CONFIG_HOME */
    const char *xdg_data_home;   /* $XDG_DATA_HOME */
    const char *config;          /* $STRATA_CONFIG: this file, no lookup */
    const char *store;           /* $STRATA_STORE */
    const char *mount_enabled;   /* $STRATA_MOUNT_ENABLED */
    const char *mount_backend;   /* $STRATA_MOUNT_BACKEND */
    const char *mount_nfs_port;  /* $STRATA_MOUNT_NFS_PORT */
} config_env;

/* One layer of settings (the defaults, a file, the environment, flags).
 * A field counts only when its has_ flag is set. */
typedef struct config_layer {
    bool has_store;
    char store[CONFIG_PATH_MAX];
    bool has_enabled;
    config_enabled enabled;
    bool has_backend;
    engine_transport backend; /* already mapped for the platform (fuse -> kext) */
    bool has_nfs_port;
    int nfs_port;
} config_layer;

/* The merged configuration: every field has a value. */
typedef struct engine_config {
    char store[CONFIG_PATH_MAX];
    config_enabled enabled;
    bool pinned;              /* mount.backend was given */
    engine_transport backend; /* the pin, when pinned */
    int nfs_port;
    config_origin store_from, enabled_from, backend_from, nfs_port_from;
} engine_config;

/* "auto", "true", "false". */
const char *config_enabled_name(config_enabled e);
/* "default", "file", "environment", "flags". */
const char *config_origin_name(config_origin o);

/* Fills env from the process environment (getenv); home falls back to the
 * passwd entry. The strings belong to the environment. */
void config_env_get(config_env *env);

/* The built-in defaults for os (see above). store is left unset when
 * neither XDG_DATA_HOME nor a home directory is known. */
void config_defaults(engine_os os, const config_env *env, config_layer *out);

/* Parses a config file's text. name is the file's path: errors start with
 * it, and a relative store is resolved against its directory. env gives
 * HOME for "~". out is cleared first. Pure: no I/O. */
strata_err *config_parse(engine_os os, const char *name, const char *text, size_t len,
                         const config_env *env, config_layer *out);

/* Sets one key ("store", "mount.enabled", "mount.backend",
 * "mount.nfs.port") from a string, as the environment and the command line
 * give them. where names the source in errors ("--backend",
 * "STRATA_MOUNT_BACKEND"). For flags. */
strata_err *config_layer_set(engine_os os, config_layer *l, const char *key, const char *value,
                             const char *where, const config_env *env);

/* The STRATA_* variables of env as a layer. out is cleared first. */
strata_err *config_from_env(engine_os os, const config_env *env, config_layer *out);

/* The config files to look for, in order, as absolute paths (cwd must be
 * absolute). Returns how many (at most 2) were written to out. Pure. */
size_t config_candidates(const char *cwd, const config_env *env, char out[2][CONFIG_PATH_MAX]);

/* The first candidate for which exists() is true, into path; *found is
 * false when there is none. $STRATA_CONFIG must exist: STRATA_E_NOTFOUND
 * otherwise. exists() is the only I/O, so tests pass their own. */
strata_err *config_locate(const char *cwd, const config_env *env, bool (*exists)(const char *path),
                          char path[CONFIG_PATH_MAX], bool *found);

/* Reads and parses one config file (I/O). */
strata_err *config_load_file(engine_os os, const char *path, const config_env *env,
                             config_layer *out);

/* Merges the layers, each overriding the ones before it; any may be NULL.
 * STRATA_E_NOTFOUND when no layer gives a store. */
strata_err *config_merge(const config_layer *defaults, const config_layer *file,
                         const config_layer *env, const config_layer *flags, engine_config *out);

/* The whole lookup for the CLI: defaults, the file found from cwd (its
 * path into file_path, "" when none), the environment, then flags (may be
 * NULL), merged into out. */
strata_err *config_resolve(engine_os os, const char *cwd, const config_env *env,
                           const config_layer *flags, engine_config *out,
                           char file_path[CONFIG_PATH_MAX]);

#endif
