/* Declarations shared by the strata command's source files: the command
 * table, option parsing, store opening, error printing and formatting.
 *
 * Only cli/ prints and decides exit codes. Every command returns one of the
 * CLI_EXIT_* codes; nothing below main() calls exit(). */
#ifndef STRATA_CLI_CLI_H
#define STRATA_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "engine/config.h"
#include "engine/facts.h"
#include "engine/mounter.h"
#include "engine/plan.h"
#include "engine/registry.h"
#include "layer/layer.h"
#include "store/store.h"

#define CLI_EXIT_OK    0 /* success */
#define CLI_EXIT_FAIL  1 /* strata itself failed (store, layer, I/O) */
#define CLI_EXIT_USAGE 2 /* the command line was wrong */

/* What the global options and a command's own options together set. */
typedef struct cli_ctx {
    const char *store_dir; /* --store, or NULL for the environment default */
    bool quiet;            /* -q: no summaries or progress */
    const struct cli_command *cmd;
} cli_ctx;

typedef struct cli_command {
    const char *name;
    const char *usage;   /* synopsis after "strata ", e.g. "cat REF PATH" */
    const char *summary; /* one line for the top-level help */
    const char *help;    /* description and options, after the synopsis */
    int (*run)(cli_ctx *ctx, int argc, char **argv);
} cli_command;

extern const cli_command cli_cmd_import, cli_cmd_ls, cli_cmd_cat, cli_cmd_export, cli_cmd_refs,
    cli_cmd_gc, cli_cmd_fsck, cli_cmd_run, cli_cmd_mount, cli_cmd_umount, cli_cmd_ps, cli_cmd_sweep,
    cli_cmd_doctor, cli_cmd_serve, cli_cmd_capture;

/* ---- option parsing (cli_util.c) -------------------------------------- */

/* Returned by cli_getopt besides a command's own option values. */
#define CLI_OPT_END  (-1)  /* no more options; operands start at optind */
#define CLI_OPT_EXIT (-2)  /* stop: exit with ctx's exit code (help or usage) */
#define CLI_OPT_BASE 0x100 /* long-only options of commands start here */

/* getopt_long for one command, with the common options (--store, -q,
 * -h/--help) handled here so that every command accepts them anywhere.
 * Resets getopt's global state on the first call for an argv, because
 * main() has already run getopt over the global options. On CLI_OPT_EXIT,
 * *exit_code says how to exit (0 after --help, 2 after a usage error that
 * has been printed). */
int cli_getopt(cli_ctx *ctx, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *exit_code);

/* Checks the operand count after options: prints a usage error (naming the
 * synopsis) and returns false when there are fewer than min or more than
 * max. */
bool cli_operands(const cli_ctx *ctx, int argc, char **argv, int min, int max);

/* Parses a decimal unsigned integer in [lo, hi]; false when it is not one. */
bool cli_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* ---- reporting (cli_util.c) ------------------------------------------- */

/* Prints "strata: <msg>" and "hint: <hint>" on stderr, frees e, returns
 * CLI_EXIT_FAIL. The one place a strata_err reaches the user. */
int cli_report(strata_err *e);

/* Says one line on stderr unless the command is quiet; ctx is the
 * cli_ctx (the engine's callbacks that talk to the user take this). */
void cli_say(void *ctx, const char *line);

/* Prints a usage error for the current command (or the top level when
 * ctx->cmd is NULL) and returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints the full help of a command (or the top level when cmd is NULL). */
void cli_print_help(const cli_command *cmd, FILE *out);

/* Flushes stdout and turns a failed write into an exit code: a reader that
 * went away (EPIPE) ends the command quietly with CLI_EXIT_FAIL; any other
 * failure is reported. Returns CLI_EXIT_OK when everything was written. */
int cli_finish_stdout(void);

/* ---- the store (cli_util.c) ------------------------------------------- */

/* Where the store is: --store, else $STRATA_STORE, else
 * $XDG_DATA_HOME/strata, else ~/.local/share/strata. malloc'd. */
strata_err *cli_store_path(const cli_ctx *ctx, char **out);

/* How a command uses the store. Only import creates one: every other
 * command gets a clear error when there is no store yet, instead of an
 * empty store being created behind the user's back. */
typedef enum {
    CLI_STORE_READ,   /* ls, cat, export, refs, fsck: read-only */
    CLI_STORE_WRITE,  /* gc, refs delete: must exist */
    CLI_STORE_CREATE, /* import: created when absent */
} cli_store_mode;
strata_err *cli_open_store(const cli_ctx *ctx, cli_store_mode mode, store **out);

/* Opens the store read-only, resolves ref and loads its manifest. */
strata_err *cli_open_layer(const cli_ctx *ctx, const char *ref, store **s, manifest **m,
                           strata_digest *d);

/* ---- paths inside a layer (cli_util.c) -------------------------------- */

/* Resolves a user's path inside a layer, following symbolic links in
 * directory components (and in the last one when follow_last), always
 * inside the layer: relative targets resolve against the link's directory,
 * at most CLI_MAX_SYMLINKS hops; absolute or escaping targets are errors.
 * *idx gets the entry index, or MANIFEST_ROOT for the root. */
#define CLI_MAX_SYMLINKS 40
strata_err *cli_layer_lookup(const manifest *m, const char *ref, const char *path, bool follow_last,
                             uint32_t *idx);

/* ---- formatting (cli_util.c) ------------------------------------------ */

#define CLI_SIZE_LEN 32
/* 1536 -> "1.5 KiB"; below 1 KiB, "512 B". Returns buf. */
const char *cli_human_size(uint64_t bytes, char buf[CLI_SIZE_LEN]);
/* Seconds since an arbitrary start, monotonic. */
double cli_now(void);
/* Bytes per second as decimal megabytes per second, guarding tiny times. */
double cli_mb_per_s(uint64_t bytes, double seconds);
/* "s" unless n == 1, for counts in messages. */
static inline const char *cli_plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

/* ---- the mount registry (cmd_sweep.c, cmd_ps.c) ---------------------- */

/* The sweep that runs before every mount and run: silent unless it
 * unmounted something, removed a dead run's directory or failed (then one
 * line on stderr, unless quiet); stale records whose mount is already
 * gone are forgotten silently. A
 * registry that cannot be used is one line too, never fatal here.
 * Returns how many stale entries it handled. */
int cli_sweep_quietly(const cli_ctx *ctx);

/* Registers this process as the owner of the mount at mountpoint (dir: a
 * run's temporary directory, or NULL) for as long as it lives, or until
 * registry_unregister(*out). */
strata_err *cli_register_mount(registry_kind kind, const char *transport, const char *mountpoint,
                               const char *dir, registry_handle **out);

/* Writes s as a JSON string (quoted, escaped) to out. */
void cli_json_string(FILE *out, const char *s);

/* ---- the transport plan (cli_plan.c) ---------------------------------- */

/* Facts, config and plan: large, so keep one static. */
typedef struct cli_plan {
    engine_facts f;
    engine_config cfg;
    engine_plan p;
    char file[CONFIG_PATH_MAX]; /* the config file read, or "" */
} cli_plan;

/* The plan for req on this machine: facts (probed once per process),
 * config (file < STRATA_* < backend, the --backend flag or NULL). */
strata_err *cli_plan_build(const char *backend, const plan_req *req, cli_plan *out);

/* What a user calls a transport in a message ("FUSE", "macFUSE", ...). */
const char *cli_transport_label(engine_transport t);

/* When a mount was wanted but fell to none (enabled: auto), says in one
 * line on stderr why, what cmd did instead, and how to get a mount. */
void cli_plan_say_fallback(const cli_ctx *ctx, const char *cmd, const cli_plan *cp,
                           const mounter_outcome *mo, const char *instead);

/* ---- import progress (progress.c) ------------------------------------- */

typedef struct cli_progress cli_progress;
/* A progress line on stderr, only when enabled and stderr is a terminal;
 * otherwise every call is a cheap no-op. NULL only when out of memory,
 * which callers treat as "no progress". */
cli_progress *cli_progress_new(bool enabled);
/* A layer_progress_fn: redraws at most ~10 times a second; done clears. */
void cli_progress_update(void *ctx, const layer_import_stats *st, bool done);
/* Clears any line still shown (after a failure) and frees p. */
void cli_progress_free(cli_progress *p);

#endif
