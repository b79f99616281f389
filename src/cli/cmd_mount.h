/* What `strata mount` and `strata serve` (cmd_mount.c) share with the NFS
 * mount (cmd_mount_nfs.c): the command's state, and the pieces of the
 * background server's handshake with the command that started it. */
#ifndef STRATA_CLI_CMD_MOUNT_H
#define STRATA_CLI_CMD_MOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "engine/serve.h"
#include "transport/fuse.h"
#include "vfs/vfs.h"

#define CLI_MOUNT_MAX_LAYERS 256
#define CLI_MOUNT_MSG_MAX    4096

typedef struct cli_mount {
    cli_ctx *ctx;
    const char *refs[CLI_MOUNT_MAX_LAYERS]; /* top first */
    uint32_t nrefs;
    const char *mountpoint; /* absolute for fuse */
    const char *upper;      /* absolute; NULL for a read-only view */
    fuse_mount_opts mo;
    fusefs_opts fo;
    int ready_fd;          /* the background server's pipe to its parent; -1 in the foreground */
    const char *transport; /* the plan's attempt: "fuse", "kext", "fskit" */
    /* A failure before the mount was ready: kept for the plan's walk,
     * which may try the next transport, rather than reported. */
    strata_err *fail;
    bool in_server;      /* this is the forked server, not the command */
    int code;            /* the exit code, once an attempt has run its course */
    double none_seconds; /* backend none: how long writing the view out took */
    bool sudo;           /* consent to sudo for the NFS mount (macOS) */
    /* serve: slots instead of one view, and the control socket */
    bool serve;
    uint32_t slots;
    char sock[SERVE_SOCK_MAX];
} cli_mount;

/* Opens the store (read-only) and the view of m's layers over m->upper,
 * or serve's directory of slots. */
strata_err *cli_mount_view(cli_mount *m, store **s, vfs **v);

/* The server's word up its pipe: "K" (the mount answers) or an error
 * ("E", the code as one byte, then errno, message and hint, each
 * NUL-terminated). send_err frees e and returns CLI_EXIT_FAIL. */
bool cli_mount_send(int fd, const char *buf, size_t len);
int cli_mount_send_err(int fd, strata_err *e);
/* The error of an "E" message of len bytes, as it was sent. */
strata_err *cli_mount_parse_err(const char *buf, size_t len);

/* In a forked server: closes the pipes and sockets inherited from the
 * caller except keep, and lets go of the terminal and the working
 * directory once the mount is ready. */
void cli_mount_close_pipes(int keep);
void cli_mount_detach(void);

/* cmd_mount_nfs.c: the view served over NFS and mounted by the kernel's
 * client at m->mountpoint (the plan's nfs attempt a); like the FUSE
 * attempt, a failure before the mount answers is returned for the walk,
 * and m->code is the outcome once it does. */
strata_err *cli_mount_nfs(cli_mount *m, const plan_attempt *a, bool foreground);

/* `--backend nfs --serve-only`: serves the view over NFS from this
 * process until a signal, mounting nothing. */
int cli_mount_nfs_serve_only(cli_mount *m, const char *upper, bool secure);

#endif
