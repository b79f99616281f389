/* Helpers every command shares: option parsing with the common options,
 * two-line error reports, finding and opening the store, resolving paths
 * inside a layer, and human-readable numbers. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/path.h"
#include "cli/cli.h"
#include "engine/config.h"

/* ---- option parsing --------------------------------------------------- */

#define CLI_OPT_STORE    0xff /* --store DIR, common to every command */
#define CLI_MAX_LONGOPTS 24

static const struct option cli_common_longopts[] = {
    {"store", required_argument, NULL, CLI_OPT_STORE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
};
#define CLI_N_COMMON (sizeof(cli_common_longopts) / sizeof(cli_common_longopts[0]))

/* The spelling of the option getopt just complained about, for messages:
 * "--name" for long options (without any "=value"), "-n" for short ones. */
static void cli_bad_option_name(int argc, char **argv, const struct option *longopts, char *buf,
                                size_t len)
{
    const char *arg = (optind > 0 && optind <= argc) ? argv[optind - 1] : NULL;
    if (arg && arg[0] == '-' && arg[1] == '-') {
        snprintf(buf, len, "%.*s", (int)strcspn(arg, "="), arg);
        return;
    }
    if (optopt > 0 && optopt < CLI_OPT_STORE) {
        snprintf(buf, len, "-%c", optopt);
        return;
    }
    for (const struct option *o = longopts; o && o->name; o++) {
        if (o->val == optopt) {
            snprintf(buf, len, "--%s", o->name);
            return;
        }
    }
    snprintf(buf, len, "%s", arg ? arg : "?");
}

int cli_getopt(cli_ctx *ctx, int argc, char **argv, const char *shortopts,
               const struct option *longopts, int *exit_code)
{
    /* getopt keeps its position in globals; main() has used them for the
     * global options on a different argv, so start over (optind = 0 makes
     * glibc reinitialize completely, permutation state included). */
    static char **last_argv;
    if (argv != last_argv) {
        last_argv = argv;
        optind = 0;
    }
    opterr = 0;

    static struct option all[CLI_MAX_LONGOPTS + 1];
    static char shorts[64];
    size_t n = 0;
    for (const struct option *o = longopts; o && o->name && n < CLI_MAX_LONGOPTS - CLI_N_COMMON;
         o++)
        all[n++] = *o;
    for (size_t i = 0; i < CLI_N_COMMON; i++)
        all[n++] = cli_common_longopts[i];
    all[n] = (struct option){0};
    /* Leading ':' makes a missing value distinguishable from an unknown
     * option. */
    snprintf(shorts, sizeof(shorts), ":%sqh", shortopts ? shortopts : "");

    for (;;) {
        int c = getopt_long(argc, argv, shorts, all, NULL);
        char name[64];
        switch (c) {
        case -1:
            return CLI_OPT_END;
        case 'q':
            ctx->quiet = true;
            continue;
        case 'h':
            cli_print_help(ctx->cmd, stdout);
            *exit_code = CLI_EXIT_OK;
            return CLI_OPT_EXIT;
        case CLI_OPT_STORE:
            if (!optarg[0]) {
                *exit_code = cli_usage_error(ctx, "--store needs a directory, not ''");
                return CLI_OPT_EXIT;
            }
            ctx->store_dir = optarg;
            continue;
        case ':':
            cli_bad_option_name(argc, argv, all, name, sizeof(name));
            *exit_code = cli_usage_error(ctx, "option '%s' needs a value", name);
            return CLI_OPT_EXIT;
        case '?':
            cli_bad_option_name(argc, argv, all, name, sizeof(name));
            if (optopt != 0 && name[1] == '-')
                *exit_code = cli_usage_error(ctx, "option '%s' takes no value", name);
            else
                *exit_code = cli_usage_error(ctx, "unknown option '%s'", name);
            return CLI_OPT_EXIT;
        default:
            return c;
        }
    }
}

bool cli_operands(const cli_ctx *ctx, int argc, char **argv, int min, int max)
{
    int n = argc - optind;
    if (n < min) {
        cli_usage_error(ctx, "missing argument%s; usage: strata %s", min - n == 1 ? "" : "s",
                        ctx->cmd->usage);
        return false;
    }
    if (n > max) {
        cli_usage_error(ctx, "unexpected argument '%s'; usage: strata %s", argv[optind + max],
                        ctx->cmd->usage);
        return false;
    }
    return true;
}

bool cli_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* ---- reporting -------------------------------------------------------- */

/* Messages quote paths and names that come from disk or from a damaged
 * manifest. A newline or escape sequence in one must not break the
 * two-line error format or drive the terminal, so control bytes are shown
 * as \xNN (UTF-8 text passes through unchanged). */
static void cli_put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

void cli_say(void *ctx, const char *line)
{
    const cli_ctx *c = ctx;
    if (!c->quiet)
        fprintf(stderr, "%s\n", line);
}

int cli_report(strata_err *e)
{
    if (!e)
        return CLI_EXIT_OK;
    fputs("strata: ", stderr);
    cli_put_escaped(stderr, e->msg);
    fputs("\nhint: ", stderr);
    cli_put_escaped(stderr, e->hint);
    fputc('\n', stderr);
    strata_err_free(e);
    return CLI_EXIT_FAIL;
}

int cli_usage_error(const cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    fputs("strata: ", stderr);
    cli_put_escaped(stderr, msg ? msg : "usage error");
    free(msg);
    if (ctx && ctx->cmd)
        fprintf(stderr, "\nhint: see 'strata %s --help'\n", ctx->cmd->name);
    else
        fputs("\nhint: see 'strata --help'\n", stderr);
    return CLI_EXIT_USAGE;
}

int cli_finish_stdout(void)
{
    errno = 0;
    int rc = fflush(stdout);
    int err = errno;
    if (rc == 0 && !ferror(stdout))
        return CLI_EXIT_OK;
    /* The reader has gone (strata ls | head): not worth a message, but the
     * output is incomplete, so not a success either. */
    if (err == EPIPE || err == 0)
        return CLI_EXIT_FAIL;
    return cli_report(strata_err_sys(err, "check where standard output goes (disk full?)",
                                     "write to standard output"));
}

/* ---- the store -------------------------------------------------------- */

strata_err *cli_store_path(const cli_ctx *ctx, char **out)
{
    /* --store wins; then the config (STRATA_STORE over a config file's
     * store over $XDG_DATA_HOME/strata or ~/.local/share/strata). */
    char *p = NULL;
    if (ctx->store_dir) {
        p = strdup(ctx->store_dir);
    } else {
        static engine_config cfg;
        static char file[CONFIG_PATH_MAX];
        config_env env;
        config_env_get(&env);
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            snprintf(cwd, sizeof(cwd), "/");
        strata_err *e = config_resolve(engine_os_here(), cwd, &env, NULL, &cfg, file);
        if (e)
            return e;
        p = strdup(cfg.store);
    }
    if (!p)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    *out = p;
    return NULL;
}

strata_err *cli_open_store(const cli_ctx *ctx, cli_store_mode mode, store **out)
{
    char *dir = NULL;
    strata_err *e = cli_store_path(ctx, &dir);
    if (e)
        return e;
    if (mode == CLI_STORE_CREATE) {
        e = fs_mkdir_p(dir, 0755);
    } else {
        char *db = path_join(dir, "store.db");
        struct stat st;
        if (!db)
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
        else if (stat(db, &st) < 0 && errno == ENOENT)
            e = strata_err_new(STRATA_E_NOTFOUND,
                               "import a directory first ('strata import DIR'), or point "
                               "--store or STRATA_STORE at an existing store",
                               "there is no strata store at %s", dir);
        free(db);
    }
    if (!e) {
        store_opts opts = {.read_only = mode == CLI_STORE_READ};
        e = strata_err_wrap(store_open(dir, &opts, out), "open store %s", dir);
    }
    free(dir);
    return e;
}

strata_err *cli_open_layer(const cli_ctx *ctx, const char *ref, store **s, manifest **m,
                           strata_digest *d)
{
    strata_digest local;
    if (!d)
        d = &local;
    *s = NULL;
    *m = NULL;
    strata_err *e = cli_open_store(ctx, CLI_STORE_READ, s);
    if (!e)
        e = layer_resolve(*s, ref, d);
    if (!e)
        e = layer_load(*s, d, m);
    if (e && *s) {
        store_close(*s);
        *s = NULL;
    }
    return e;
}

/* ---- paths inside a layer --------------------------------------------- */

strata_err *cli_layer_lookup(const manifest *m, const char *ref, const char *path, bool follow_last,
                             uint32_t *idx)
{
    char *rest_buf = NULL;
    strata_err *e = path_normalize(path, &rest_buf);
    if (e)
        return e;
    const char *rest = rest_buf;
    uint32_t at = MANIFEST_ROOT; /* the directory resolved so far */
    const char *via = NULL;      /* the last symbolic link followed */
    int hops = 0;

    while (!e && *rest) {
        size_t cl = strcspn(rest, "/");
        const char *next = rest + cl;
        while (*next == '/')
            next++;
        bool last = *next == '\0';
        if (cl == 1 && rest[0] == '.') {
            rest = next;
            continue;
        }
        if (cl == 2 && rest[0] == '.' && rest[1] == '.') {
            /* Only a link's target can say "..": the user's path was
             * normalized, which rejects it. */
            if (at == MANIFEST_ROOT) {
                e = strata_err_new(STRATA_E_INVALID,
                                   "strata follows links only inside the layer; export it "
                                   "('strata export') to follow this one on disk",
                                   "symbolic link '%s' in layer %s points outside the layer",
                                   via ? via : path, ref);
                break;
            }
            at = m->entries[at].parent;
            rest = next;
            continue;
        }
        const char *dir = at == MANIFEST_ROOT ? "" : m->entries[at].path;
        size_t dl = strlen(dir);
        char *cand = malloc(dl + 1 + cl + 1);
        if (!cand) {
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
            break;
        }
        size_t n = 0;
        if (dl) {
            memcpy(cand, dir, dl);
            cand[dl] = '/';
            n = dl + 1;
        }
        memcpy(cand + n, rest, cl);
        n += cl;
        cand[n] = '\0';
        int64_t i = manifest_find(m, cand, n);
        if (i < 0) {
            if (via)
                e = strata_err_new(STRATA_E_NOTFOUND,
                                   "the link dangles inside the layer; 'strata ls' shows "
                                   "where it points",
                                   "no '%s' in layer %s (reached through symbolic link '%s')", cand,
                                   ref, via);
            else
                e = strata_err_new(STRATA_E_NOTFOUND,
                                   "'strata ls REF [DIR]' lists what the layer contains",
                                   "no '%s' in layer %s", cand, ref);
            free(cand);
            break;
        }
        free(cand);
        const manifest_entry *en = &m->entries[i];
        if (en->kind == MANIFEST_SYMLINK && (!last || follow_last)) {
            via = en->path;
            if (++hops > CLI_MAX_SYMLINKS) {
                e = strata_err_new(
                    STRATA_E_INVALID, "the layer's links form a loop; 'strata ls -l' shows them",
                    "too many levels of symbolic links at '%s' in layer %s", en->path, ref);
                break;
            }
            if (en->target[0] == '/') {
                e = strata_err_new(STRATA_E_INVALID,
                                   "strata follows links only inside the layer; export it "
                                   "('strata export') to follow this one on disk",
                                   "symbolic link '%s' in layer %s points to an absolute "
                                   "path (%s)",
                                   en->path, ref, en->target);
                break;
            }
            /* Continue with the target, then whatever followed the link;
             * the target resolves against the link's directory (at). */
            char *nr = NULL;
            if (asprintf(&nr, "%s/%s", en->target, next) < 0) {
                e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
                break;
            }
            free(rest_buf);
            rest = rest_buf = nr;
            continue;
        }
        if (!last && en->kind != MANIFEST_DIR) {
            e = strata_err_new(STRATA_E_NOTFOUND,
                               "'strata ls REF [DIR]' lists what the layer contains",
                               "'%s' in layer %s is not a directory", en->path, ref);
            break;
        }
        at = (uint32_t)i;
        rest = next;
    }
    free(rest_buf);
    if (!e)
        *idx = at;
    return e;
}

/* ---- formatting ------------------------------------------------------- */

const char *cli_human_size(uint64_t bytes, char buf[CLI_SIZE_LEN])
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, CLI_SIZE_LEN, "%" PRIu64 " B", bytes);
        return buf;
    }
    double v = (double)bytes / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(buf, CLI_SIZE_LEN, "%.1f %s", v, units[u]);
    return buf;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double cli_mb_per_s(uint64_t bytes, double seconds)
{
    if (seconds < 1e-6)
        seconds = 1e-6;
    return (double)bytes / 1e6 / seconds;
}
