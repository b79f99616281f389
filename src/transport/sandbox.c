/* A view a command can work in, over FUSE, NFS or none, and the capture
 * of its changes (see sandbox.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/path.h"
#include "transport/fuse.h"
#include "transport/nfs/nfs.h"
#include "transport/none.h"
#include "transport/sandbox.h"
#include "vfs/vfs.h"

struct sandbox {
    sandbox_kind kind;
    store *s;
    char *tmp;             /* the temporary directory holding everything */
    char *root;            /* where the view shows */
    strata_digest *layers; /* the view's layers, top first */
    size_t nlayers;
    /* fuse, nfs */
    char *upper;
    bool own_root; /* root is a directory of its own outside tmp, made here */
    vfs *v;
    fusefs *f;
    /* nfs */
    nfs_serve *ns;
    sandbox_nfs_mounter nfs;
    bool nfs_mounted;
    strata_err *unmount_err; /* an unmount that failed: sandbox_close's error */
    /* none */
    none_sandbox *nsb;
};

static strata_err *sandbox_oom(void)
{
    return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory preparing a sandbox");
}

static strata_err *sandbox_mkdir(const char *dir)
{
    if (mkdir(dir, 0755) < 0)
        return strata_err_sys(errno, "set TMPDIR to a writable directory", "create %s", dir);
    return NULL;
}

/* Serves the view over NFS and has the caller's command mount it. The
 * kernel clients send from privileged ports: nothing else is served. */
static strata_err *sandbox_nfs_start(sandbox *sb, const sandbox_opts *opts)
{
    if (!opts || !opts->nfs)
        return strata_err_new(STRATA_E_INTERNAL, NULL, "an NFS sandbox needs its mount commands");
    sb->nfs = *opts->nfs;
    nfs_serve_opts so = {
        .v = sb->v,
        .slot = 0,
        .owner_uid = (uint32_t)getuid(),
        .port = (uint16_t)opts->nfs_port,
        .secure = true,
    };
    strata_err *e = nfs_serve_start(&so, &sb->ns);
    if (!e)
        e = sb->nfs.mount(sb->nfs.ctx, nfs_serve_port(sb->ns), sb->root);
    sb->nfs_mounted = !e;
    return e;
}

/* Mounts the view at tmp/mnt (or where opts say) with tmp/upper for its
 * writes. */
static strata_err *sandbox_mount(sandbox *sb, const strata_digest *layers, size_t n,
                                 const sandbox_opts *opts)
{
    const char *mp = opts ? opts->mountpoint : NULL;
    if (!(sb->upper = path_join(sb->tmp, "upper")) ||
        !(sb->root = mp ? strdup(mp) : path_join(sb->tmp, "mnt")))
        return sandbox_oom();
    strata_err *e = sandbox_mkdir(sb->upper);
    if (!e && (e = sandbox_mkdir(sb->root)) == NULL)
        sb->own_root = mp != NULL; /* outside tmp: removed by itself */
    if (!e)
        e = vfs_new(sb->s, NULL, &sb->v);
    if (!e) {
        vfs_view_spec spec = {
            .layers = layers,
            .nlayers = (uint32_t)n,
            .upper = sb->upper,
            .uid = (uint32_t)getuid(),
            .gid = (uint32_t)getgid(),
        };
        e = vfs_slot_attach(sb->v, 0, &spec);
    }
    if (!e && sb->kind == SANDBOX_NFS)
        return sandbox_nfs_start(sb, opts);
    fuse_mount_opts mo;
    if (!e && opts && opts->mo) {
        mo = *opts->mo;
    } else if (!e) {
        fuse_mount_req req = {
            .os = FUSE_OS_LINUX,
            .backend = FUSE_BACKEND_DEVFUSE,
            .uid = getuid(),
            .mountpoint = sb->root,
        };
        e = fuse_mountopts_build(&req, &mo);
    }
    if (!e) {
        /* The kernel opens files by itself: measured the faster choice
         * (fuse.h), and nothing here needs per-open state. */
        const char *push = getenv("STRATA_FUSE_PUSH");
        fusefs_opts fo = {.no_open = true, .push_small = push && strcmp(push, "1") == 0};
        e = fusefs_mount(sb->v, sb->root, &mo, &fo, &sb->f);
    }
    return e;
}

strata_err *sandbox_open(store *s, const strata_digest *layers, size_t n, sandbox_kind kind,
                         const sandbox_opts *opts, sandbox **out)
{
    *out = NULL;
    sandbox *sb = calloc(1, sizeof(*sb));
    manifest **ms = calloc(n ? n : 1, sizeof(*ms));
    if (sb)
        sb->layers = calloc(n ? n : 1, sizeof(*sb->layers));
    if (!sb || !ms || !sb->layers) {
        if (sb)
            free(sb->layers);
        free(sb);
        free(ms);
        return sandbox_oom();
    }
    sb->kind = kind;
    sb->s = s;
    memcpy(sb->layers, layers, n * sizeof(*layers));
    sb->nlayers = n;
    strata_err *e = n ? NULL
                      : strata_err_new(STRATA_E_INVALID, "give at least one layer",
                                       "a view needs at least one layer");
    /* The manifests are loaded where they are needed: by the vfs of a
     * mount, by the capture (only if something was written), and here for
     * a copy written out. */
    for (size_t i = 0; !e && kind == SANDBOX_NONE && i < n; i++)
        e = layer_load(s, &layers[i], &ms[i]);
    if (!e) {
        const char *t = getenv("TMPDIR");
        if (asprintf(&sb->tmp, "%s/strata-run-XXXXXX", t && *t ? t : "/tmp") < 0) {
            sb->tmp = NULL;
            e = sandbox_oom();
        } else if (!mkdtemp(sb->tmp)) {
            e = strata_err_sys(errno, "set TMPDIR to a writable directory",
                               "create a sandbox directory in %s", t && *t ? t : "/tmp");
            free(sb->tmp);
            sb->tmp = NULL;
        }
    }
    if (!e && (kind == SANDBOX_FUSE || kind == SANDBOX_NFS)) {
        e = sandbox_mount(sb, layers, n, opts);
    } else if (!e && kind == SANDBOX_SLOT) {
        if (!(sb->upper = path_join(sb->tmp, "upper")))
            e = sandbox_oom();
        else
            e = sandbox_mkdir(sb->upper);
    } else if (!e) {
        if (!(sb->root = path_join(sb->tmp, "root")))
            e = sandbox_oom();
        else
            e = none_prepare(s, ms, n, sb->root, &sb->nsb);
    }
    for (size_t i = 0; i < n; i++)
        manifest_free(ms[i]);
    free(ms);
    if (e) {
        strata_err_free(sandbox_close(sb));
        return e;
    }
    *out = sb;
    return NULL;
}

const char *sandbox_root(const sandbox *sb)
{
    return sb->root;
}

const char *sandbox_upper(const sandbox *sb)
{
    return sb->upper;
}

strata_err *sandbox_set_root(sandbox *sb, const char *root)
{
    char *r = strdup(root);
    if (!r)
        return sandbox_oom();
    free(sb->root);
    sb->root = r;
    return NULL;
}

const char *sandbox_dir(const sandbox *sb)
{
    return sb->tmp;
}

bool sandbox_mounted(const sandbox *sb)
{
    return (sb->kind == SANDBOX_FUSE && sb->f) || (sb->kind == SANDBOX_NFS && sb->nfs_mounted);
}

/* Ends the mount and frees the vfs: after this nothing writes to the
 * upper directory any more (an NFS server stops even when its unmount
 * failed: the mount is then dead, and the failure is kept for
 * sandbox_close to report). */
static void sandbox_unmount(sandbox *sb)
{
    fusefs_destroy(sb->f);
    sb->f = NULL;
    if (sb->nfs_mounted) {
        strata_err *e = sb->nfs.unmount(sb->nfs.ctx, sb->root);
        if (e && !sb->unmount_err)
            sb->unmount_err = e;
        else
            strata_err_free(e);
        sb->nfs_mounted = false;
    }
    nfs_serve_stop(sb->ns);
    sb->ns = NULL;
    vfs_free(sb->v);
    sb->v = NULL;
}

strata_err *sandbox_capture(sandbox *sb, strata_digest *out, layer_diff_stats *st)
{
    if (sb->kind == SANDBOX_NONE)
        return none_capture(sb->nsb, NULL, out, st);
    if (sb->kind == SANDBOX_FUSE || sb->kind == SANDBOX_NFS)
        sandbox_unmount(sb);
    strata_buf enc;
    buf_init(&enc);
    strata_err *e = layer_capture_view(sb->s, sb->layers, sb->nlayers, sb->upper, &enc, st);
    if (!e)
        e = store_put_buf(sb->s, enc.data, enc.len, out, NULL);
    buf_free(&enc);
    return e ? strata_err_wrap(e, "capture the changes in %s", sb->upper) : NULL;
}

strata_err *sandbox_close(sandbox *sb)
{
    if (!sb)
        return NULL;
    if (sb->kind == SANDBOX_FUSE || sb->kind == SANDBOX_NFS)
        sandbox_unmount(sb);
    /* A mountpoint of its own outside tmp goes too (or stays, if
     * something unexpected was left in it). */
    if (sb->own_root)
        (void)rmdir(sb->root);
    strata_err *e = none_destroy(sb->nsb, false);
    /* A mount that stayed is not removed from under it: its files would
     * be the store's view, not the sandbox's. */
    if (!e && sb->unmount_err) {
        e = sb->unmount_err;
        sb->unmount_err = NULL;
    } else if (!e && sb->tmp) {
        /* The upper may hold a whiteout device, removable like any file. */
        e = fs_remove_tree(sb->tmp);
    }
    strata_err_free(sb->unmount_err);
    free(sb->layers);
    free(sb->upper);
    free(sb->root);
    free(sb->tmp);
    free(sb);
    return e;
}
