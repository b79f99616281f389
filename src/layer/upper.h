/* How a writable upper directory records what a view's lower layers cannot
 * (overlayfs's conventions, so the directory reads the same to people and
 * tools that know overlayfs):
 *
 * - A deleted lower entry leaves a whiteout: a character device 0/0, or,
 *   where mknod is refused, an empty regular file named ".wh.<name>".
 * - A directory that replaces a lower one, hiding its contents, is opaque:
 *   the xattr trusted.overlay.opaque="y" (root) or user.overlay.opaque="y",
 *   or, where xattrs are refused, a marker file ".wh..wh..opq" inside it.
 * - A lower directory renamed elsewhere is a directory at the new place
 *   carrying trusted.overlay.redirect (or user.overlay.redirect) = the
 *   absolute path, inside the view, of the lower directory it came from;
 *   its old place holds a whiteout.
 * - UPPER_WORK at the upper root is the vfs's scratch space for atomic
 *   copy-up (temp file + rename); it is not part of the view.
 *
 * The vfs writes these; layer_capture reads them. */
#ifndef STRATA_LAYER_UPPER_H
#define STRATA_LAYER_UPPER_H

#define UPPER_WHITEOUT_PREFIX     ".wh."
#define UPPER_OPAQUE_MARKER       ".wh..wh..opq"
#define UPPER_XATTR_OPAQUE        "trusted.overlay.opaque"
#define UPPER_XATTR_OPAQUE_USER   "user.overlay.opaque"
#define UPPER_XATTR_REDIRECT      "trusted.overlay.redirect"
#define UPPER_XATTR_REDIRECT_USER "user.overlay.redirect"
#define UPPER_WORK                ".strata-work"

#endif
