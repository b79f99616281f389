/* Views: what one slot shows. Creating a view takes its layers' manifests
 * (decoded once per vfs, mcache.c), makes the root inode and attaches the upper directory if there
 * is one; nothing else. No directory is merged here, so the cost of showing a view does not grow
 * with the number of files in it (beyond decoding the manifests): directories merge on first use.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vfs/vfs_internal.h"

#define EMPTY_ROOT_MODE 0755 /* the root of a view with no layers */

/* Called with the view's last reference (vfs_view_put), or on a view
 * that was never published. */
void vfs_view_free(vfs_view *vw)
{
    if (!vw)
        return;
    vfs_upper_detach(vw);
    for (uint32_t i = 0; i < vw->nlayers; i++)
        vfs_mcache_put(vw->v, vw->layers[i]);
    free(vw->layers);
    free(vw);
}

strata_err *vfs_view_load(vfs *v, uint16_t slot, const vfs_view_spec *spec, vfs_view **out)
{
    *out = NULL;
    if (spec->nlayers > VFS_LAYERS_MAX)
        return strata_err_new(STRATA_E_INVALID, "merge some layers into one first",
                              "a view holds at most %u layers, not %u", VFS_LAYERS_MAX,
                              spec->nlayers);
    vfs_view *vw = calloc(1, sizeof(*vw));
    vfs_lref *stack = calloc(spec->nlayers ? spec->nlayers : 1, sizeof(*stack));
    if (vw)
        vw->layers = calloc(spec->nlayers ? spec->nlayers : 1, sizeof(*vw->layers));
    if (!vw || !stack || !vw->layers) {
        free(stack);
        vfs_view_free(vw);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory creating a view");
    }
    vw->v = v;
    vw->slot = slot;
    vw->uid = spec->uid;
    vw->gid = spec->gid;
    atomic_init(&vw->refs, 1); /* the slot's */
    atomic_init(&vw->detached, false);
    atomic_init(&vw->totals_done, false);
    atomic_init(&vw->total_blocks, 0);
    atomic_init(&vw->total_files, 0);
    strata_err *e = NULL;
    for (uint32_t i = 0; i < spec->nlayers && !e; i++) {
        e = vfs_mcache_get(v, &spec->layers[i], &vw->layers[i]);
        if (!e) {
            vw->nlayers = i + 1;
            stack[i] = (vfs_lref){.layer = i, .idx = MANIFEST_ROOT};
        }
    }
    if (!e) {
        vw->root_mode = vw->nlayers ? vw->layers[0]->root_mode : EMPTY_ROOT_MODE;
        uint64_t root = vfs_root_ino(slot);
        /* Under a directory of slots a slot's root sits in it; else the
         * root is its own parent. */
        uint64_t parent = v->slot_dir && slot != 0 ? VFS_ROOT_INO : root;
        vw->root = vfs_inode_alloc(vw, root, parent, stack, vw->nlayers);
        if (!vw->root)
            e = strata_err_new(STRATA_E_NOMEM, NULL, "out of memory creating a view");
        else
            vw->root->pinned = true;
    }
    free(stack);
    if (!e && spec->upper)
        e = vfs_upper_attach(vw, spec->upper);
    if (e) {
        if (vw->root)
            vfs_inode_free(v, vw->root);
        vfs_view_free(vw);
        return strata_err_wrap(e, "slot %u", slot);
    }
    *out = vw;
    return NULL;
}
