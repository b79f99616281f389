/* The transport plan as the commands that mount see it (`run`, `mount`):
 * this machine's facts, the config with the command's --backend on top,
 * and the one line that says why a mount fell to none. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

strata_err *cli_plan_build(const char *backend, const plan_req *req, cli_plan *out)
{
    facts_probe(&out->f);
    config_env env;
    config_env_get(&env);
    config_layer flags;
    memset(&flags, 0, sizeof(flags));
    strata_err *e = NULL;
    if (backend)
        e = config_layer_set(out->f.os, &flags, "mount.backend", backend, "--backend", &env);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        snprintf(cwd, sizeof(cwd), "/");
    if (!e)
        e = config_resolve(out->f.os, cwd, &env, &flags, &out->cfg, out->file);
    if (!e)
        e = plan_build(&out->f, &out->cfg, req, &out->p);
    return e;
}

const char *cli_transport_label(engine_transport t)
{
    switch (t) {
    case ENGINE_T_FUSE:
        return "FUSE";
    case ENGINE_T_KEXT:
        return "macFUSE";
    case ENGINE_T_FSKIT:
        return "FSKit";
    case ENGINE_T_NFS:
        return "NFS";
    default:
        return "";
    }
}

void cli_plan_say_fallback(const cli_ctx *ctx, const char *cmd, const cli_plan *cp,
                           const mounter_outcome *mo, const char *instead)
{
    if (ctx->quiet || !mo->fell_to_none || !cp->p.warn_on_none || !mo->nfailed)
        return;
    /* The preferred transport's failure says most: `strata doctor` shows
     * every transport. */
    const mounter_failed *m = &mo->failed[0];
    fprintf(stderr, "strata %s: no %s mount (%s); %s%s%s\n", cmd, cli_transport_label(m->transport),
            m->msg, instead, m->hint[0] ? ". To mount: " : "", m->hint);
}
