/* `strata doctor [--json]`: says what this machine allows. It prints the
 * platform facts (engine/facts.h), the config and where each value came
 * from, the plan the config and facts give (engine/plan.h), and then each
 * transport on its own: usable, or why not and the one line that says
 * what to do (engine/hints.h), plus what privilege it would need
 * (engine/escalate.h). Exit 0 when some mount transport is usable (none,
 * which mounts nothing, does not count), else 1.
 *
 * "Usable" is the facts' verdict, not a trial mount: doctor mounts
 * nothing, so it is safe to run anywhere and answers at once. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/config.h"
#include "engine/facts.h"
#include "engine/plan.h"

#define CLI_DOCTOR_MP "MOUNTPOINT"

/* The attempt for transport t alone: the plan with t pinned, so that each
 * transport is judged whatever the config narrows the real plan to. */
static strata_err *cli_doctor_one(const engine_facts *f, const engine_config *c, engine_transport t,
                                  plan_attempt *out)
{
    engine_config pin = *c;
    pin.pinned = true;
    pin.backend = t;
    plan_req req = {.mountpoint = CLI_DOCTOR_MP};
    static engine_plan p;
    strata_err *e = plan_build(f, &pin, &req, &p);
    if (e)
        return e;
    if (p.count < 1)
        return strata_err_new(STRATA_E_INTERNAL, NULL, "an empty plan for %s",
                              engine_transport_name(t));
    *out = p.attempts[0];
    return NULL;
}

static const char *cli_yes(bool b)
{
    return b ? "yes" : "no";
}

static void cli_doctor_facts_text(const engine_facts *f)
{
    printf("facts:\n");
    printf("  os                %s %s\n", engine_os_name(f->os),
           f->os_version_str[0] ? f->os_version_str : "(unknown version)");
    printf("  user              %s (uid %lu)%s\n", f->user[0] ? f->user : "?",
           (unsigned long)f->uid, f->root ? ", root" : "");
    printf("  libfuse           %s\n", f->libfuse ? "loads" : "does not load");
    if (f->os == ENGINE_OS_LINUX) {
        printf("  /dev/fuse         %s\n", facts_dev_name(f->dev_fuse));
        printf("  fusermount3       %s\n", !f->fusermount         ? "missing"
                                           : f->fusermount_setuid ? "present, setuid root"
                                                                  : "present, not setuid");
        printf("  user_allow_other  %s\n", cli_yes(f->user_allow_other));
    } else {
        char v[32];
        engine_version_format(f->macfuse_version, v, sizeof(v));
        printf("  macFUSE           %s%s%s\n", f->macfuse ? "installed, " : "not installed",
               f->macfuse ? "version " : "", f->macfuse ? v : "");
        printf("  kext              %s\n", facts_kext_name(f->kext));
        printf("  FSKit module      %s (usable: %s)\n", facts_fskit_name(f->fskit_module),
               cli_yes(f->fskit_usable));
        printf("  Admin By Request  %s\n", f->abr ? "installed" : "not installed");
        printf("  admin now         %s\n", cli_yes(f->admin));
    }
    printf("  kernel NFS client %s\n", cli_yes(f->nfs_client));
}

static void cli_doctor_config_text(const engine_config *c, const char *file)
{
    printf("config:\n");
    printf("  file              %s\n", file[0] ? file : "(none: defaults and environment)");
    printf("  store             %s (%s)\n", c->store, config_origin_name(c->store_from));
    printf("  mount.enabled     %s (%s)\n", config_enabled_name(c->enabled),
           config_origin_name(c->enabled_from));
    if (c->pinned)
        printf("  mount.backend     %s (%s)\n", engine_transport_name(c->backend),
               config_origin_name(c->backend_from));
    else
        printf("  mount.backend     (not pinned: the platform's order)\n");
    printf("  mount.nfs.port    %d (%s)\n", c->nfs_port, config_origin_name(c->nfs_port_from));
}

static void cli_doctor_attempt_text(const plan_attempt *a, bool with_hint)
{
    printf("%-6s ", engine_transport_name(a->transport));
    if (a->usable)
        printf("usable%s\n",
               a->transport == ENGINE_T_NONE ? " (no mount: the view is copied)" : "");
    else
        printf("not usable: %s\n", a->why ? a->why : hints_failure_name(a->skip));
    if (with_hint && !a->usable && a->hint)
        printf("           hint: %s\n", a->hint);
    if (with_hint && a->escalation.kind != ESCALATE_NOTHING) {
        printf("           privilege: %s\n", escalate_kind_name(a->escalation.kind));
        for (size_t i = 0; i < a->escalation.nsteps; i++)
            printf("             %zu. %s\n", i + 1, a->escalation.steps[i]);
    }
}

static void cli_doctor_attempt_json(const plan_attempt *a)
{
    printf("{\"transport\": \"%s\", \"usable\": %s, \"failure\": ",
           engine_transport_name(a->transport), a->usable ? "true" : "false");
    if (a->usable)
        fputs("null, \"why\": null, \"hint\": null", stdout);
    else {
        printf("\"%s\", \"why\": ", hints_failure_name(a->skip));
        cli_json_string(stdout, a->why ? a->why : "");
        fputs(", \"hint\": ", stdout);
        cli_json_string(stdout, a->hint ? a->hint : "");
    }
    printf(", \"escalation\": \"%s\", \"steps\": [", escalate_kind_name(a->escalation.kind));
    for (size_t i = 0; i < a->escalation.nsteps; i++) {
        if (i)
            fputs(", ", stdout);
        cli_json_string(stdout, a->escalation.steps[i]);
    }
    fputs("]}", stdout);
}

static void cli_doctor_json(const engine_facts *f, const engine_config *c, const char *file,
                            const engine_plan *p, const plan_attempt *each, size_t neach,
                            bool mount_ok)
{
    char v[32];
    printf("{\n\"facts\": {\"os\": \"%s\", \"os_version\": ", engine_os_name(f->os));
    cli_json_string(stdout, f->os_version_str);
    printf(", \"uid\": %lu, \"root\": %s, \"user\": ", (unsigned long)f->uid,
           f->root ? "true" : "false");
    cli_json_string(stdout, f->user);
    printf(", \"libfuse\": %s", f->libfuse ? "true" : "false");
    if (f->os == ENGINE_OS_LINUX) {
        printf(", \"dev_fuse\": \"%s\", \"fusermount3\": %s, \"fusermount3_setuid\": %s, "
               "\"user_allow_other\": %s",
               facts_dev_name(f->dev_fuse), f->fusermount ? "true" : "false",
               f->fusermount_setuid ? "true" : "false", f->user_allow_other ? "true" : "false");
    } else {
        engine_version_format(f->macfuse_version, v, sizeof(v));
        printf(", \"macfuse\": %s, \"macfuse_version\": \"%s\", \"kext\": \"%s\", "
               "\"fskit_module\": \"%s\", \"fskit_usable\": %s, \"admin_by_request\": %s, "
               "\"admin\": %s",
               f->macfuse ? "true" : "false", v, facts_kext_name(f->kext),
               facts_fskit_name(f->fskit_module), f->fskit_usable ? "true" : "false",
               f->abr ? "true" : "false", f->admin ? "true" : "false");
    }
    printf(", \"nfs_client\": %s},\n", f->nfs_client ? "true" : "false");
    fputs("\"config\": {\"file\": ", stdout);
    if (file[0])
        cli_json_string(stdout, file);
    else
        fputs("null", stdout);
    fputs(", \"store\": ", stdout);
    cli_json_string(stdout, c->store);
    printf(", \"enabled\": \"%s\", \"backend\": ", config_enabled_name(c->enabled));
    if (c->pinned)
        printf("\"%s\"", engine_transport_name(c->backend));
    else
        fputs("null", stdout);
    printf(", \"nfs_port\": %d},\n\"plan\": {\"mount_required\": %s, \"warn_on_none\": %s, "
           "\"attempts\": [",
           c->nfs_port, p->mount_required ? "true" : "false", p->warn_on_none ? "true" : "false");
    for (size_t i = 0; i < p->count; i++) {
        fputs(i ? ",\n  " : "\n  ", stdout);
        cli_doctor_attempt_json(&p->attempts[i]);
    }
    fputs("]},\n\"transports\": [", stdout);
    for (size_t i = 0; i < neach; i++) {
        fputs(i ? ",\n  " : "\n  ", stdout);
        cli_doctor_attempt_json(&each[i]);
    }
    printf("],\n\"mount_ok\": %s\n}\n", mount_ok ? "true" : "false");
}

static int cli_doctor_run(cli_ctx *ctx, int argc, char **argv)
{
    enum { CLI_OPT_JSON = CLI_OPT_BASE };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, CLI_OPT_JSON},
        {0},
    };
    bool json = false;
    int c, code;
    while ((c = cli_getopt(ctx, argc, argv, "", longopts, &code)) != CLI_OPT_END) {
        if (c == CLI_OPT_EXIT)
            return code;
        if (c == CLI_OPT_JSON)
            json = true;
    }
    if (!cli_operands(ctx, argc, argv, 0, 0))
        return CLI_EXIT_USAGE;

    static engine_facts f;
    facts_probe(&f);
    config_env env;
    config_env_get(&env);
    static config_layer flags;
    memset(&flags, 0, sizeof(flags));
    strata_err *e = NULL;
    if (ctx->store_dir)
        e = config_layer_set(f.os, &flags, "store", ctx->store_dir, "--store", &env);
    char cwd[PATH_MAX];
    if (!e && !getcwd(cwd, sizeof(cwd)))
        snprintf(cwd, sizeof(cwd), "/");
    static engine_config cfg;
    static char file[CONFIG_PATH_MAX];
    if (!e)
        e = config_resolve(f.os, cwd, &env, &flags, &cfg, file);
    static engine_plan plan;
    plan_req req = {.mountpoint = CLI_DOCTOR_MP};
    if (!e)
        e = plan_build(&f, &cfg, &req, &plan);
    plan_attempt each[ENGINE_T_COUNT];
    size_t neach = 0;
    bool mount_ok = false;
    for (int t = 0; !e && t < ENGINE_T_COUNT; t++) {
        if (!engine_transport_on(f.os, (engine_transport)t))
            continue;
        e = cli_doctor_one(&f, &cfg, (engine_transport)t, &each[neach]);
        if (!e && each[neach].usable && t != ENGINE_T_NONE)
            mount_ok = true;
        neach++;
    }
    if (e)
        return cli_report(strata_err_wrap(e, "doctor"));

    if (json) {
        cli_doctor_json(&f, &cfg, file, &plan, each, neach, mount_ok);
    } else {
        cli_doctor_facts_text(&f);
        cli_doctor_config_text(&cfg, file);
        printf("plan (in order%s):\n", plan.mount_required ? "; a mount is required"
                                       : plan.warn_on_none
                                           ? "; none is the fallback, with a warning"
                                           : "");
        for (size_t i = 0; i < plan.count; i++) {
            printf("  %zu. ", i + 1);
            cli_doctor_attempt_text(&plan.attempts[i], false);
        }
        printf("transports:\n");
        for (size_t i = 0; i < neach; i++) {
            printf("  ");
            cli_doctor_attempt_text(&each[i], true);
        }
        size_t first = plan_next(&plan, 0);
        if (mount_ok)
            printf("verdict: strata can mount here (%s first)\n",
                   first < plan.count ? engine_transport_name(plan.attempts[first].transport)
                                      : "none");
        else
            printf("verdict: no mount transport works here; 'strata run' copies the view "
                   "instead (backend none)\n");
    }
    code = cli_finish_stdout();
    if (code != CLI_EXIT_OK)
        return code;
    return mount_ok ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

const cli_command cli_cmd_doctor = {
    .name = "doctor",
    .usage = "doctor [--json]",
    .summary = "say which mount transports work here, and why the others do not",
    .help = "Prints what strata found out about this machine (the facts), the config and\n"
            "where each value came from, the plan (the transports to try, in order), and\n"
            "then each transport of this platform: usable, or why not and what to do about\n"
            "it, with the privilege it needs. Nothing is mounted: 'usable' is judged from\n"
            "the facts.\n"
            "\n"
            "Exits 0 when some mount transport is usable here, 1 when none is (the 'none'\n"
            "transport, which copies instead of mounting, does not count).\n"
            "\n"
            "Options:\n"
            "  --json   print one JSON object: {\"facts\", \"config\", \"plan\": {\"attempts\"},\n"
            "           \"transports\": [{\"transport\", \"usable\", \"failure\", \"why\",\n"
            "           \"hint\", \"escalation\", \"steps\"}], \"mount_ok\"}\n",
    .run = cli_doctor_run,
};
