/* `strata ps [--json]`: lists the live strata mounts from the mount
 * registry (engine/registry.h): owner pid, kind, transport, age and
 * mountpoint. Entries of dead owners are not listed but counted, with a
 * pointer to `strata sweep`. Also the JSON string writer that ps and
 * doctor share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

void cli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* "42s", "5m", "3h", "2d": the age of a mount at a glance. */
static void cli_ps_age(int64_t secs, char *buf, size_t n)
{
    if (secs < 0)
        secs = 0;
    if (secs < 120)
        snprintf(buf, n, "%llds", (long long)secs);
    else if (secs < 7200)
        snprintf(buf, n, "%lldm", (long long)(secs / 60));
    else if (secs < 2 * 86400)
        snprintf(buf, n, "%lldh", (long long)(secs / 3600));
    else
        snprintf(buf, n, "%lldd", (long long)(secs / 86400));
}

static void cli_ps_json(const registry *r, const registry_entry *ents, size_t n, size_t stale,
                        int64_t now)
{
    fputs("{\"registry\": ", stdout);
    cli_json_string(stdout, registry_path(r));
    fputs(", \"mounts\": [", stdout);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const registry_entry *e = &ents[i];
        if (e->state != REGISTRY_LIVE)
            continue;
        printf("%s\n  {\"id\": \"%s\", \"pid\": %ld, \"kind\": \"%s\", \"transport\": ",
               first ? "" : ",", e->id, (long)e->rec.pid, registry_kind_name(e->rec.kind));
        cli_json_string(stdout, e->rec.transport);
        fputs(", \"mountpoint\": ", stdout);
        cli_json_string(stdout, e->rec.mountpoint);
        if (e->rec.dir[0]) {
            fputs(", \"dir\": ", stdout);
            cli_json_string(stdout, e->rec.dir);
        }
        printf(", \"started\": %lld, \"age_seconds\": %lld}", (long long)e->rec.started,
               (long long)(now - e->rec.started < 0 ? 0 : now - e->rec.started));
        first = false;
    }
    printf("%s], \"stale\": %zu}\n", first ? "" : "\n", stale);
}

static int cli_ps_run(cli_ctx *ctx, int argc, char **argv)
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
    registry *r;
    strata_err *e = registry_open(NULL, &r);
    if (e)
        return cli_report(e);
    registry_entry *ents;
    size_t n;
    e = registry_list(r, &ents, &n);
    if (e) {
        registry_close(r);
        return cli_report(e);
    }
    int64_t now = (int64_t)time(NULL);
    size_t live = 0, stale = 0;
    for (size_t i = 0; i < n; i++) {
        if (ents[i].state == REGISTRY_LIVE)
            live++;
        else if (!ents[i].live)
            stale++;
    }
    if (json) {
        cli_ps_json(r, ents, n, stale, now);
    } else if (live) {
        printf("%-8s %-6s %-9s %-5s %s\n", "PID", "KIND", "TRANSPORT", "AGE", "MOUNTPOINT");
        for (size_t i = 0; i < n; i++) {
            const registry_entry *en = &ents[i];
            if (en->state != REGISTRY_LIVE)
                continue;
            char age[32];
            cli_ps_age(now - en->rec.started, age, sizeof(age));
            printf("%-8ld %-6s %-9s %-5s %s\n", (long)en->rec.pid, registry_kind_name(en->rec.kind),
                   en->rec.transport, age, en->rec.mountpoint);
        }
    }
    if (!json && !ctx->quiet) {
        if (!live)
            fprintf(stderr, "no live strata mounts\n");
        if (stale)
            fprintf(stderr, "%zu stale entr%s of dead owners: 'strata sweep' cleans %s up\n", stale,
                    stale == 1 ? "y" : "ies", stale == 1 ? "it" : "them");
    }
    free(ents);
    registry_close(r);
    return cli_finish_stdout();
}

const cli_command cli_cmd_ps = {
    .name = "ps",
    .usage = "ps [--json]",
    .summary = "list the live strata mounts",
    .help = "Lists the mounts of live strata processes ('strata mount' servers and 'strata\n"
            "run' sandboxes): the owner's pid, the kind, the transport, the age and the\n"
            "mountpoint, one line each, from the mount registry in\n"
            "$XDG_RUNTIME_DIR/strata (else /tmp/strata-<uid>). Entries whose owner died\n"
            "are counted on stderr: 'strata sweep' cleans them up.\n"
            "\n"
            "Options:\n"
            "  --json   print one JSON object: {\"registry\": DIR, \"mounts\": [{\"id\",\n"
            "           \"pid\", \"kind\", \"transport\", \"mountpoint\", \"dir\" (runs only),\n"
            "           \"started\" (Unix seconds), \"age_seconds\"}...], \"stale\": N}\n",
    .run = cli_ps_run,
};
