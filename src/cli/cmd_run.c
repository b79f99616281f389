/* `strata run [--layer REF]... [--out REF] [--backend B] [--server MP]
 * [--cwd SUBDIR] -- CMD [ARG]...`: runs a command in a sandbox that shows a
 * view of layers, and captures what it changed as a new layer.
 *
 * The view is a mount of its own (the transport plan's choice), or, with
 * a server (--server, STRATA_SERVER), a slot of `strata serve`: attached
 * with an upper directory of the run's own, given back when the command
 * ends, and captured here exactly as a mount's upper is.
 *
 * The command's own standard output and error are left to it: strata says
 * what it captured on stderr only. A command that fails (non-zero exit, or
 * killed) leaves no layer, as a failed build action has no outputs; strata
 * exits with the command's status either way. SIGINT and SIGTERM are
 * passed on to the command, and the sandbox is removed before exiting. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/compat.h"
#include "base/fsutil.h"
#include "base/path.h"
#include "cli/cli.h"
#include "engine/config.h"
#include "engine/facts.h"
#include "engine/mounter.h"
#include "engine/plan.h"
#include "engine/serve_client.h"
#include "transport/sandbox.h"

enum {
    CLI_OPT_LAYER = CLI_OPT_BASE,
    CLI_OPT_OUT,
    CLI_OPT_BACKEND,
    CLI_OPT_CWD,
    CLI_OPT_SERVER,
    CLI_OPT_SUDO,
};

#define CLI_RUN_MAX_LAYERS 256

/* The command's pid, for the signal handler to pass signals on to, and
 * the signal that came (0: none). The handler is in place for the whole
 * run, so that a signal before or after the command still ends the run
 * through the normal path, which unmounts and removes the sandbox. */
static volatile sig_atomic_t cli_run_child;
static volatile sig_atomic_t cli_run_signal;

static void cli_run_on_signal(int sig)
{
    cli_run_signal = sig;
    if (cli_run_child > 0)
        kill((pid_t)cli_run_child, sig);
}

static const int cli_run_sigs[] = {SIGINT, SIGTERM, SIGHUP};
#define CLI_RUN_NSIGS (sizeof(cli_run_sigs) / sizeof(cli_run_sigs[0]))

static void cli_run_catch(struct sigaction *old)
{
    struct sigaction sa = {.sa_handler = cli_run_on_signal};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < CLI_RUN_NSIGS; i++)
        sigaction(cli_run_sigs[i], &sa, &old[i]);
}

static void cli_run_uncatch(const struct sigaction *old)
{
    for (size_t i = 0; i < CLI_RUN_NSIGS; i++)
        sigaction(cli_run_sigs[i], &old[i], NULL);
}

/* Runs argv in dir and waits for it; *status gets the wait status. The
 * child reports a failed chdir or exec through a pipe, so that the error
 * reaches the user as strata's two lines rather than as exit 127. */
static strata_err *cli_run_spawn(char **argv, const char *dir, int *status)
{
    int pfd[2];
    if (compat_pipe_cloexec(pfd) < 0)
        return strata_err_sys(errno, NULL, "create a pipe");
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(pfd[0]);
        close(pfd[1]);
        return strata_err_sys(err, NULL, "start %s", argv[0]);
    }
    if (pid == 0) {
        for (size_t i = 0; i < CLI_RUN_NSIGS; i++)
            signal(cli_run_sigs[i], SIG_DFL);
        int what = 0, err = 0;
        if (chdir(dir) < 0) {
            what = 1;
            err = errno;
        } else {
            execvp(argv[0], argv);
            what = 2;
            err = errno;
        }
        int msg[2] = {what, err};
        ssize_t w = write(pfd[1], msg, sizeof(msg));
        (void)w;
        _exit(127);
    }
    cli_run_child = pid;
    /* A signal that came before the child was known is passed on now. */
    if (cli_run_signal)
        kill(pid, cli_run_signal);
    close(pfd[1]);
    int msg[2] = {0, 0};
    ssize_t n;
    do
        n = read(pfd[0], msg, sizeof(msg));
    while (n < 0 && errno == EINTR);
    close(pfd[0]);
    pid_t w;
    while ((w = waitpid(pid, status, 0)) < 0 && errno == EINTR)
        ;
    cli_run_child = 0;
    if (n == (ssize_t)sizeof(msg) && msg[0] == 1)
        return strata_err_sys(msg[1], "check --cwd: it names a directory inside the view",
                              "cannot enter %s", dir);
    if (n == (ssize_t)sizeof(msg) && msg[0] == 2)
        return strata_err_sys(msg[1], msg[1] == ENOENT ? "check the command's name and PATH" : NULL,
                              "cannot run '%s'", argv[0]);
    if (w < 0)
        return strata_err_sys(errno, NULL, "wait for %s", argv[0]);
    return NULL;
}

/* The exit status strata passes on: the command's, or 128 + signal. */
static int cli_run_exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return CLI_EXIT_FAIL;
}

typedef struct cli_run_opts {
    const char *layers[CLI_RUN_MAX_LAYERS];
    size_t nlayers;
    const char *out;
    const char *backend; /* NULL: the plan's choice */
    const char *cwd;
    const char *server; /* a `strata serve` mountpoint, or NULL */
    bool sudo;          /* consent to sudo for a privileged mount step (NFS on macOS) */
} cli_run_opts;

/* A slot of a server, while the run holds one. */
typedef struct cli_run_slot {
    serve_client *cl;
    uint16_t slot;
    bool attached;
} cli_run_slot;

/* Gives the slot back: after the answer nothing more lands in the upper
 * directory, which may then be captured or removed. */
static strata_err *cli_run_slot_give_back(cli_run_slot *rs)
{
    if (!rs->attached)
        return NULL;
    rs->attached = false;
    return serve_client_detach(rs->cl, rs->slot);
}

/* Opens a slot sandbox on the server at o->server. No server there is
 * STRATA_E_NOTFOUND, for the caller to fall back on a mount of its own. */
static strata_err *cli_run_slot_open(store *s, const cli_run_opts *o, const strata_digest *d,
                                     cli_run_slot *rs, sandbox **sb)
{
    strata_err *e = serve_client_open(o->server, &rs->cl);
    if (!e)
        e = sandbox_open(s, d, o->nlayers, SANDBOX_SLOT, NULL, sb);
    uint32_t gen = 0;
    if (!e)
        e = serve_client_attach(rs->cl, sandbox_upper(*sb), d, o->nlayers, &rs->slot, &gen);
    if (!e) {
        rs->attached = true;
        char root[PATH_MAX];
        snprintf(root, sizeof(root), "%s/%u", serve_client_mountpoint(rs->cl), (unsigned)rs->slot);
        e = sandbox_set_root(*sb, root);
    }
    return e;
}

/* Resolves the view's layers, top first (the first --layer is the top). */
static strata_err *cli_run_resolve(store *s, const cli_run_opts *o, strata_digest *d)
{
    for (size_t i = 0; i < o->nlayers; i++) {
        strata_err *e = layer_resolve(s, o->layers[i], &d[i]);
        if (e)
            return e;
    }
    return NULL;
}

/* Opens the sandbox over the transport plan: config (file, STRATA_*,
 * --backend) and this machine's facts decide the order, and the mounter
 * takes the first that works. Falling to none where a mount was wanted
 * says why in one line. */
static strata_err *cli_run_sandbox(cli_ctx *ctx, store *s, const cli_run_opts *o,
                                   const strata_digest *d, sandbox **sb, engine_transport *used)
{
    static cli_plan cp;
    const char *tmp = getenv("TMPDIR");
    char mp[PATH_MAX];
    snprintf(mp, sizeof(mp), "%s/strata-run", tmp && *tmp ? tmp : "/tmp");
    plan_req req = {.mountpoint = mp, .id = (unsigned long long)getpid(), .sudo_consent = o->sudo};
    mounter_outcome mo;
    strata_err *e = cli_plan_build(o->backend, &req, &cp);
    /* NFS's escalation (sudo's notice, the Admin By Request wait) talks
     * to the user here. */
    escalate_io io;
    escalate_io_default(&io, cli_say, ctx);
    if (!e)
        e = mounter_sandbox(s, d, o->nlayers, &cp.f, &cp.p, &io, sb, &mo);
    if (!e) {
        *used = mo.used;
        cli_plan_say_fallback(ctx, "run", &cp, &mo, "running with backend none");
    }
    return e;
}

static void cli_run_say_captured(const cli_ctx *ctx, const cli_run_opts *o,
                                 const strata_digest *out, const layer_diff_stats *st)
{
    if (ctx->quiet)
        return;
    char hex[DIGEST_STR_LEN + 1];
    digest_format(out, hex);
    fprintf(stderr,
            "captured %s%s%s: %" PRIu64 " added, %" PRIu64 " changed, %" PRIu64 " deleted\n", hex,
            o->out ? " as " : "", o->out ? o->out : "", st->added, st->changed, st->deleted);
}

/* Runs the command in the sandbox and captures its changes when it
 * succeeds; returns strata's exit code (the command's), or sets *err. */
static int cli_run_in(cli_ctx *ctx, store *s, const cli_run_opts *o, sandbox *sb, cli_run_slot *rs,
                      char **cmd, const char *cwd, strata_err **err)
{
    char *dir = cwd && *cwd ? path_join(sandbox_root(sb), cwd) : strdup(sandbox_root(sb));
    if (!dir) {
        *err = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
        return CLI_EXIT_FAIL;
    }
    int status = 0;
    strata_err *e = cli_run_signal ? NULL : cli_run_spawn(cmd, dir, &status);
    free(dir);
    int rc = CLI_EXIT_FAIL;
    if (e) {
        *err = e;
    } else if (cli_run_signal) {
        rc = 128 + cli_run_signal;
        if (!ctx->quiet)
            fprintf(stderr, "strata run: stopped by signal %d; nothing captured\n",
                    (int)cli_run_signal);
    } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        rc = cli_run_exit_code(status);
        if (!ctx->quiet)
            fprintf(stderr, "strata run: %s %s %d; nothing captured\n", cmd[0],
                    WIFEXITED(status) ? "exited with" : "was killed by signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    } else {
        strata_digest out;
        layer_diff_stats st = {0};
        e = cli_run_slot_give_back(rs);
        if (!e)
            e = sandbox_capture(sb, &out, &st);
        if (!e && o->out)
            e = store_ref_set(s, o->out, &out);
        if (e) {
            *err = e;
        } else {
            rc = CLI_EXIT_OK;
            cli_run_say_captured(ctx, o, &out, &st);
        }
    }
    return rc;
}

static int cli_run_run(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"layer", required_argument, NULL, CLI_OPT_LAYER},
        {"out", required_argument, NULL, CLI_OPT_OUT},
        {"backend", required_argument, NULL, CLI_OPT_BACKEND},
        {"cwd", required_argument, NULL, CLI_OPT_CWD},
        {"server", required_argument, NULL, CLI_OPT_SERVER},
        {"sudo", no_argument, NULL, CLI_OPT_SUDO},
        {0},
    };
    static cli_run_opts o; /* large (layer names); one per process */
    o = (cli_run_opts){0};
    int c, code;
    /* "+": options end at the first operand, so the command's own options
     * are never taken for strata's. */
    while ((c = cli_getopt(ctx, argc, argv, "+l:o:", longopts, &code)) != CLI_OPT_END) {
        switch (c) {
        case CLI_OPT_EXIT:
            return code;
        case 'l':
        case CLI_OPT_LAYER:
            if (o.nlayers == CLI_RUN_MAX_LAYERS)
                return cli_usage_error(ctx, "at most %d layers", CLI_RUN_MAX_LAYERS);
            o.layers[o.nlayers++] = optarg;
            break;
        case 'o':
        case CLI_OPT_OUT:
            o.out = optarg;
            break;
        case CLI_OPT_BACKEND:
            o.backend = optarg;
            break;
        case CLI_OPT_CWD:
            o.cwd = optarg;
            break;
        case CLI_OPT_SERVER:
            o.server = optarg;
            break;
        case CLI_OPT_SUDO:
            o.sudo = true;
            break;
        }
    }
    if (o.server && o.backend)
        return cli_usage_error(ctx, "--server and --backend exclude each other");
    /* The environment's server stands back for a backend on the command
     * line. */
    const char *env_server = getenv("STRATA_SERVER");
    if (!o.server && !o.backend && env_server && *env_server)
        o.server = env_server;
    if (optind >= argc)
        return cli_usage_error(ctx, "missing the command to run (after --)");
    bool known = !o.backend;
    for (int t = 0; t < ENGINE_T_COUNT && !known; t++)
        known = strcmp(o.backend, engine_transport_name((engine_transport)t)) == 0;
    if (!known)
        return cli_usage_error(ctx, "unknown backend '%s' (fuse, kext, fskit, nfs or none)",
                               o.backend);
    if (o.out && !store_ref_name_valid(o.out))
        return cli_report(strata_err_new(STRATA_E_INVALID,
                                         "a ref is 1-255 characters of letters, digits and ._+@/:-",
                                         "'%s' is not a valid ref name", o.out));
    char *cwd = NULL;
    if (o.cwd) {
        strata_err *e = path_normalize(o.cwd, &cwd);
        if (e)
            return cli_report(strata_err_rehint(
                strata_err_wrap(e, "--cwd %s", o.cwd),
                "give a directory inside the view, relative to its root, without '..'"));
    }
    char **cmd = argv + optind;

    struct sigaction old[CLI_RUN_NSIGS];
    cli_run_catch(old);
    store *s = NULL;
    sandbox *sb = NULL;
    cli_run_slot rs = {0};
    static strata_digest d[CLI_RUN_MAX_LAYERS];
    int rc = CLI_EXIT_FAIL;
    strata_err *e = cli_open_store(ctx, CLI_STORE_WRITE, &s);
    if (!e && o.nlayers == 0)
        e = strata_err_new(STRATA_E_INVALID, "give the view's layers with --layer REF",
                           "a run needs at least one layer");
    if (!e)
        e = cli_run_resolve(s, &o, d);
    /* Mounts of dead strata processes go first (quietly, unless there
     * were some). */
    if (!e && !(o.backend && strcmp(o.backend, "none") == 0))
        cli_sweep_quietly(ctx);
    if (!e && o.server) {
        e = cli_run_slot_open(s, &o, d, &rs, &sb);
        if (e && e->code == STRATA_E_NOTFOUND && !sb) {
            /* No server: the run mounts a view of its own, and says so. */
            if (!ctx->quiet)
                fprintf(stderr, "strata run: %s; mounting a view of its own\n", e->msg);
            strata_err_free(e);
            e = NULL;
            serve_client_close(rs.cl);
            rs.cl = NULL;
        }
    }
    engine_transport used = ENGINE_T_FUSE;
    if (!e && !rs.cl)
        e = cli_run_sandbox(ctx, s, &o, d, &sb, &used);
    /* A mounted sandbox is registered while the command runs, so that a
     * sweep can clear it (and its directory) if strata dies; so is a
     * slot's directory. */
    registry_handle *reg = NULL;
    if (!e && (sandbox_mounted(sb) || rs.cl))
        e = cli_register_mount(rs.cl ? REGISTRY_KIND_SLOT : REGISTRY_KIND_RUN,
                               engine_transport_name(used), sandbox_root(sb), sandbox_dir(sb),
                               &reg);
    if (!e)
        rc = cli_run_in(ctx, s, &o, sb, &rs, cmd, cwd, &e);
    /* The slot goes back before its upper directory is removed. */
    strata_err *ge = cli_run_slot_give_back(&rs);
    if (!e)
        e = ge;
    else
        strata_err_free(ge);
    serve_client_close(rs.cl);
    strata_err *ce = sandbox_close(sb);
    /* After the unmount and the removal: the record lasts as long as they. */
    strata_err *ue = registry_unregister(reg);
    if (!ce)
        ce = ue;
    else
        strata_err_free(ue);
    if (!e)
        e = ce;
    else
        strata_err_free(ce);
    if (s)
        store_close(s);
    free(cwd);
    cli_run_uncatch(old);
    if (e && cli_run_signal) {
        strata_err_free(e);
        return 128 + cli_run_signal;
    }
    if (e)
        return cli_report(strata_err_wrap(e, "run %s", cmd[0]));
    return rc;
}

const cli_command cli_cmd_run = {
    .name = "run",
    .usage = "run [--layer REF]... [--out REF] [--backend B] [--sudo] [--server MOUNTPOINT] "
             "[--cwd SUBDIR] -- CMD [ARG]...",
    .summary = "run a command in a view of layers; capture its changes",
    .help = "Runs CMD in a sandbox that shows the view of the given layers (the first\n"
            "--layer on top), then captures what CMD created, changed and deleted as a\n"
            "new layer, to stack on the view. strata exits with CMD's status. When CMD\n"
            "fails, nothing is captured. SIGINT, SIGTERM and SIGHUP are passed on to CMD;\n"
            "the sandbox is unmounted and removed before strata exits, whatever happens.\n"
            "\n"
            "Options:\n"
            "  -l, --layer REF   a layer of the view; repeat for more, top first\n"
            "  -o, --out REF     name the captured layer REF\n"
            "  --backend B       how the view is shown. fuse (kext or fskit: macFUSE on\n"
            "                    macOS): a FUSE mount that reads through to the store,\n"
            "                    writes going to a private upper directory (setup costs\n"
            "                    the same for any view). nfs: the same view served by\n"
            "                    strata's NFSv3 server on loopback and mounted by the\n"
            "                    kernel's client (needs root; on macOS --sudo). none:\n"
            "                    the view written out as plain files. Default: the plan\n"
            "                    ('strata doctor'): the first transport that mounts here,\n"
            "                    or none with a one-line note; mount.enabled and\n"
            "                    mount.backend in strata.yaml or STRATA_MOUNT_ENABLED /\n"
            "                    STRATA_MOUNT_BACKEND change it. All capture the same\n"
            "                    layer.\n"
            "  --sudo            let strata run the NFS mount and unmount with sudo\n"
            "                    (macOS, not root): sudo may ask for your password\n"
            "  --server MP       take a slot of the 'strata serve' at MP instead of\n"
            "                    mounting: CMD runs in MP/<slot>, its writes go to an\n"
            "                    upper directory of this run's own, and the slot is\n"
            "                    given back when CMD ends. Default: STRATA_SERVER. With\n"
            "                    no server there, the run mounts its own view, and says\n"
            "                    so. Excludes --backend.\n"
            "  --cwd SUBDIR      run CMD in SUBDIR of the view (default: its root)\n"
            "\n"
            "What strata has to say goes to stderr: the captured layer's digest and\n"
            "counts. CMD's output is left alone.\n",
    .run = cli_run_run,
};
