/* `strata sweep`: force-unmounts the mounts whose owner died and removes
 * their records (engine/sweep.h). Also the glue the mounting commands
 * share: the quiet sweep that runs before every `strata mount` and
 * `strata run`, and registering a mount for its owner's life. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/sweep.h"

/* One line about one swept item, for `strata sweep`'s stdout. */
static void cli_sweep_say(FILE *out, const sweep_item *it)
{
    const registry_record *r = &it->rec;
    if (it->error[0]) {
        fprintf(out, "failed %s: %s\n", r->mountpoint[0] ? r->mountpoint : it->id, it->error);
        return;
    }
    if (it->state == REGISTRY_CORRUPT) {
        fprintf(out, "removed the corrupt record %s of a dead owner\n", it->id);
        return;
    }
    if (it->state == REGISTRY_ORPHAN) {
        fprintf(out, "removed leftover files of %s\n", it->id);
        return;
    }
    const char *what = it->unmounted                 ? "unmounted"
                       : it->action == SWEEP_FOREIGN ? "forgot (someone else's mount is there)"
                                                     : "forgot (no longer mounted)";
    if (r->pid)
        fprintf(out, "%s %s (%s %s, owner pid %ld died)%s%s\n", what, r->mountpoint, r->transport,
                registry_kind_name(r->kind), (long)r->pid, it->dir_removed ? "; removed " : "",
                it->dir_removed ? r->dir : "");
    else
        fprintf(out, "%s %s (%s volume with no live owner)\n", what, r->mountpoint, r->transport);
}

int cli_sweep_quietly(const cli_ctx *ctx)
{
    registry *r = NULL;
    strata_err *e = registry_open(NULL, &r);
    sweep_report rep = {0};
    if (!e)
        e = sweep_run(r, &rep);
    registry_close(r);
    if (e) {
        /* Not fatal here: registering the new mount reports it again,
         * with its hint, if it matters. */
        if (!ctx->quiet)
            fprintf(stderr, "strata: could not sweep stale mounts: %s\n", e->msg);
        strata_err_free(e);
        return 0;
    }
    /* Forgetting a record whose mount is already gone changes nothing
     * the user can see: only an unmount, a removed directory or a
     * failure is worth the line. */
    size_t unmounted = 0, dirs = 0;
    for (size_t i = 0; i < rep.n; i++) {
        unmounted += rep.items[i].unmounted;
        dirs += rep.items[i].dir_removed;
    }
    if ((unmounted || dirs || rep.failures) && !ctx->quiet) {
        if (rep.failures)
            fprintf(stderr,
                    "strata: swept %zu stale mount record%s of dead owners (%zu unmounted); "
                    "%zu could not be cleaned up: see 'strata sweep'\n",
                    rep.n, cli_plural(rep.n), unmounted, rep.failures);
        else
            fprintf(stderr,
                    "strata: swept %zu stale mount record%s of dead owners (%zu unmounted)\n",
                    rep.n, cli_plural(rep.n), unmounted);
    }
    int n = (int)rep.n;
    sweep_report_free(&rep);
    return n;
}

strata_err *cli_register_mount(registry_kind kind, const char *transport, const char *mountpoint,
                               const char *dir, registry_handle **out)
{
    *out = NULL;
    registry_record rec = {.pid = getpid(), .kind = kind};
    snprintf(rec.transport, sizeof(rec.transport), "%s", transport);
    if (snprintf(rec.mountpoint, sizeof(rec.mountpoint), "%s", mountpoint) >=
            (int)sizeof(rec.mountpoint) ||
        snprintf(rec.dir, sizeof(rec.dir), "%s", dir ? dir : "") >= (int)sizeof(rec.dir))
        return strata_err_new(STRATA_E_INVALID, "use a shorter path",
                              "the mountpoint %s is too long to register", mountpoint);
    registry *r;
    strata_err *e = registry_open(NULL, &r);
    if (!e)
        e = registry_register(r, &rec, out);
    registry_close(r);
    return e ? strata_err_wrap(e, "register the mount at %s", mountpoint) : NULL;
}

static int cli_sweep_run(cli_ctx *ctx, int argc, char **argv)
{
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "", NULL, &code)) != CLI_OPT_END)
        if (c == CLI_OPT_EXIT)
            return code;
    if (!cli_operands(ctx, argc, argv, 0, 0))
        return CLI_EXIT_USAGE;
    registry *r;
    strata_err *e = registry_open(NULL, &r);
    if (e)
        return cli_report(e);
    sweep_report rep;
    e = sweep_run(r, &rep);
    registry_close(r);
    if (e)
        return cli_report(e);
    for (size_t i = 0; i < rep.n; i++)
        cli_sweep_say(stdout, &rep.items[i]);
    if (!ctx->quiet)
        fprintf(stderr, "swept %zu stale entr%s; %zu live mount%s left alone\n", rep.n,
                rep.n == 1 ? "y" : "ies", rep.live, cli_plural(rep.live));
    size_t failures = rep.failures;
    sweep_report_free(&rep);
    code = cli_finish_stdout();
    if (failures) {
        fprintf(stderr,
                "strata: %zu stale mount%s could not be cleaned up\n"
                "hint: see the lines above; a busy mount is detached lazily, so this is "
                "usually a permission problem (run as the user who mounted it)\n",
                failures, cli_plural(failures));
        return CLI_EXIT_FAIL;
    }
    return code;
}

const cli_command cli_cmd_sweep = {
    .name = "sweep",
    .usage = "sweep",
    .summary = "unmount the mounts of dead strata processes",
    .help = "Cleans up after strata processes that died without unmounting (killed, or\n"
            "crashed): for each registered mount whose owner is gone, it force-unmounts the\n"
            "mount if it is still a strata mount (a dead server's mount answers \"Transport\n"
            "endpoint is not connected\"), removes the record, and removes a dead 'strata\n"
            "run''s temporary directory. Mounts of live owners, and mounts that strata did\n"
            "not register, are never touched. Every 'strata mount' and 'strata run' sweeps\n"
            "first by itself, and says so in one line when it unmounted something.\n"
            "\n"
            "Prints one line per entry it swept on stdout. Exits 1 when one could not be\n"
            "cleaned up (it stays for the next sweep).\n",
    .run = cli_sweep_run,
};
