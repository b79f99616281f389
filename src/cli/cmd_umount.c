/* `strata umount MOUNTPOINT`: ends a strata mount, FUSE or NFS. The
 * server that serves it sees the unmount and exits by itself (a FUSE
 * server as its /dev/fuse closes, an NFS server as the mount leaves the
 * mount table); the command returns once it has, so that the mount's
 * upper directory is free again for the next mount (the server holds it
 * until it exits). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "engine/nfs_attach.h"
#include "transport/fuse.h"

/* How long a server may take to exit after its unmount: it closes the
 * files it kept open (hundreds after heavy use: ~0.2 s measured). */
#define CLI_UMOUNT_EXIT_WAIT 10.0
#define CLI_UMOUNT_POLL_MS   10

/* The registry ids of the live mount servers of mp (absolute): at most
 * one in practice, but a registry can say anything. *nfs: whether one of
 * them serves it over NFS. */
static size_t cli_umount_owners(registry *r, const char *mp, char ids[][REGISTRY_ID_LEN + 1],
                                size_t max, bool *nfs)
{
    registry_entry *es = NULL;
    size_t n = 0, k = 0;
    if (registry_list(r, &es, &n) != NULL)
        return 0; /* no registry to go by: nothing to wait for */
    for (size_t i = 0; i < n && k < max; i++)
        if (es[i].state == REGISTRY_LIVE &&
            (es[i].rec.kind == REGISTRY_KIND_MOUNT || es[i].rec.kind == REGISTRY_KIND_SERVE) &&
            strcmp(es[i].rec.mountpoint, mp) == 0) {
            memcpy(ids[k++], es[i].id, REGISTRY_ID_LEN + 1);
            *nfs = *nfs || strcmp(es[i].rec.transport, "nfs") == 0;
        }
    free(es);
    return k;
}

static bool cli_umount_still_live(registry *r, const char *id)
{
    registry_entry *es = NULL;
    size_t n = 0;
    strata_err *e = registry_list(r, &es, &n);
    if (e) {
        strata_err_free(e);
        return false;
    }
    bool live = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(es[i].id, id) == 0 && es[i].live)
            live = true;
    free(es);
    return live;
}

/* Waits, against a deadline, for each owner to let go of its lock. */
static strata_err *cli_umount_await(registry *r, const char *mp, char ids[][REGISTRY_ID_LEN + 1],
                                    size_t k)
{
    double until = cli_now() + CLI_UMOUNT_EXIT_WAIT;
    for (size_t i = 0; i < k; i++) {
        while (cli_umount_still_live(r, ids[i])) {
            if (cli_now() > until)
                return strata_err_new(STRATA_E_IO,
                                      "'strata ps' shows the server; it may still be writing "
                                      "out what it kept open",
                                      "%s is unmounted, but its server has not exited within "
                                      "%.0f s",
                                      mp, CLI_UMOUNT_EXIT_WAIT);
            struct timespec ts = {.tv_nsec = CLI_UMOUNT_POLL_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* An NFS mount goes with umount(8), not as FUSE; and only one that a
 * strata server owns. */
static strata_err *cli_umount_nfs(const char *mp, const char *abs, bool ours, bool sudo)
{
    if (!ours)
        return strata_err_new(STRATA_E_INVALID,
                              "strata unmounts only its own mounts; use umount(8) for others",
                              "%s is an NFS mount that no strata server owns", mp);
    strata_err *e = sudo ? nfs_attach_sudo_validate() : NULL;
    return e ? e : nfs_attach_unmount(engine_os_here(), abs, sudo, false);
}

static int cli_umount_run(cli_ctx *ctx, int argc, char **argv)
{
    enum { CLI_OPT_SUDO = CLI_OPT_BASE };
    static const struct option longopts[] = {
        {"sudo", no_argument, NULL, CLI_OPT_SUDO},
        {0},
    };
    int c, code;
    bool sudo = false;
    while ((c = cli_getopt(ctx, argc, argv, "", longopts, &code)) != CLI_OPT_END) {
        if (c == CLI_OPT_EXIT)
            return code;
        if (c == CLI_OPT_SUDO)
            sudo = true;
    }
    if (!cli_operands(ctx, argc, argv, 1, 1))
        return CLI_EXIT_USAGE;
    const char *mp = argv[optind];
    registry *r = NULL;
    char ids[4][REGISTRY_ID_LEN + 1];
    size_t k = 0;
    bool nfs = false;
    char *abs = realpath(mp, NULL);
    strata_err *re = registry_open(NULL, &r);
    if (re)
        strata_err_free(re); /* unmounting needs no registry */
    else if (abs)
        k = cli_umount_owners(r, abs, ids, sizeof(ids) / sizeof(ids[0]), &nfs);
    strata_err *e = abs && nfs_attach_is_mounted(abs) ? cli_umount_nfs(mp, abs, nfs, sudo)
                                                      : fusefs_unmount_path(mp);
    if (!e && k)
        e = cli_umount_await(r, mp, ids, k);
    registry_close(r);
    free(abs);
    if (e)
        return cli_report(e);
    if (!ctx->quiet)
        fprintf(stderr, "unmounted %s\n", mp);
    return CLI_EXIT_OK;
}

const cli_command cli_cmd_umount = {
    .name = "umount",
    .usage = "umount [--sudo] MOUNTPOINT",
    .summary = "end a mount made by 'strata mount'",
    .help = "Unmounts the strata mount at MOUNTPOINT (FUSE or NFS), and returns once its\n"
            "server has exited (so its upper directory can be mounted again at once). A\n"
            "mount that a process still uses (an open file, a working directory) is busy:\n"
            "strata says so and leaves it mounted, rather than detaching it behind that\n"
            "process's back. A mount whose server has died is unmounted like any other.\n"
            "\n"
            "Options:\n"
            "  --sudo  unmount an NFS mount with sudo (macOS: one mounted with --sudo)\n",
    .run = cli_umount_run,
};
