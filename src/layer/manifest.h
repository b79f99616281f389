/* The manifest: a layer's tree as one immutable, canonical blob.
 *
 * Format version 1 (all integers little-endian), documented for users in
 * docs/FORMAT.md:
 *
 *   header   8 bytes  magic "STRATAMF"
 *            u32      format version (1)
 *            u32      root directory mode (permission bits, <= 0777)
 *            u32      entry count
 *            u64      body length: the bytes after this header
 *   entries  in tree order (base/path.h), each:
 *            u8       kind: 1 file, 2 directory, 3 symlink
 *            u16      mode: permission bits <= 0777; symlinks 0777
 *            u16      path length, then the path bytes (base/path.h rules)
 *            file:    u64 size, then 32 bytes of sha256
 *            symlink: u16 target length (1..4095), then the target bytes
 *            dir:     nothing more
 *
 * Format version 2 is version 1 plus two kinds, for layers that are meant
 * to be stacked on others (the output of a sandboxed run), following
 * overlayfs:
 *            4 whiteout: mode 0, nothing more; hides the path in the layers
 *              below
 *            5 opaque directory: as a directory, but hides the contents of
 *              the directories at its path in the layers below
 * A tree without either is always written as version 1, so its digest does
 * not depend on the strata that wrote it; a version 2 manifest must hold at
 * least one whiteout or opaque directory. In memory, an opaque directory is
 * a MANIFEST_DIR entry with MANIFEST_F_OPAQUE set.
 *
 * Canonical: the encoder sorts; the decoder rejects anything unsorted,
 * duplicated, or otherwise not what the encoder would write. So one tree has
 * exactly one encoding and one digest. Every entry's parent must be a
 * directory entry earlier in the manifest (or the root). An empty file must
 * carry the empty digest, and only an empty file may.
 *
 * mtime is not recorded: every entry is presented with mtime 1 (one second
 * after the epoch), so outputs built from a layer are always newer. */
#ifndef STRATA_LAYER_MANIFEST_H
#define STRATA_LAYER_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/digest.h"
#include "base/err.h"

#define MANIFEST_MAGIC        "STRATAMF"
#define MANIFEST_VERSION      1 /* plain trees */
#define MANIFEST_VERSION_DIFF 2 /* trees with whiteouts or opaque directories */
#define MANIFEST_HEADER_LEN   28
#define MANIFEST_MTIME        1          /* seconds since the epoch, for every entry */
#define MANIFEST_MAX_BYTES    (1u << 30) /* a larger manifest blob is refused */
#define MANIFEST_ROOT         UINT32_MAX /* "parent" of top-level entries */

typedef enum {
    MANIFEST_FILE = 1,
    MANIFEST_DIR = 2,
    MANIFEST_SYMLINK = 3,
    MANIFEST_WHITEOUT = 4, /* version 2: a deletion of what lies below */
} manifest_kind;

/* Entry flags (in memory; on the wire an opaque directory is kind 5). */
#define MANIFEST_F_OPAQUE 1 /* a directory hiding the contents below it */

typedef struct manifest_entry {
    const char *path;     /* NUL-terminated, inside the manifest's storage */
    const char *target;   /* symlinks: NUL-terminated target; else NULL */
    uint64_t size;        /* files: byte count; symlinks: target length */
    strata_digest digest; /* files only */
    uint32_t path_len;
    uint32_t name_off; /* where the last component starts in path */
    uint32_t parent;   /* index of the parent directory, or MANIFEST_ROOT */
    uint32_t end;      /* one past this entry's subtree (i + 1 unless a dir) */
    uint16_t mode;
    uint8_t kind;
    uint8_t flags; /* MANIFEST_F_* */
} manifest_entry;

typedef struct manifest {
    uint32_t version; /* MANIFEST_VERSION or MANIFEST_VERSION_DIFF */
    uint32_t root_mode;
    uint32_t count;
    uint32_t root_end; /* == count; lets the root be treated like a dir */
    manifest_entry *entries;
    char *strings; /* owns every path and target */
} manifest;

/* Validates and decodes. Any defect is STRATA_E_CORRUPT with a message
 * saying what and where (entry index, byte offset); never a crash. */
strata_err *manifest_decode(const void *data, size_t len, manifest **out);
void manifest_free(manifest *m);

/* Checks the header of a manifest blob of blob_len bytes, of which hdr
 * holds the first MANIFEST_HEADER_LEN (or all, if fewer), and says its
 * version and root mode: for what needs no entry. */
strata_err *manifest_decode_header(const void *hdr, size_t blob_len, uint32_t *version,
                                   uint32_t *root_mode);

/* Index of the entry at path (tree-path rules), or -1. "" is not an entry:
 * the root is implicit. O(log n). */
int64_t manifest_find(const manifest *m, const char *path, size_t len);

/* Iterates the children of a directory: start with first = dir index
 * (MANIFEST_ROOT for the root), then pass the previous child.
 * Returns MANIFEST_ROOT when there are no more. */
uint32_t manifest_child_first(const manifest *m, uint32_t dir);
uint32_t manifest_child_next(const manifest *m, uint32_t child);

/* Building a manifest: add entries in any order, then encode. The builder
 * copies what it is given. Adding validates each entry; encode checks the
 * whole (sorted, unique, parents present). */
typedef struct manifest_builder manifest_builder;
manifest_builder *manifest_builder_new(uint32_t root_mode);
strata_err *manifest_builder_add(manifest_builder *b, manifest_kind kind, const char *path,
                                 uint16_t mode, uint64_t size, const strata_digest *digest,
                                 const char *target);
/* As manifest_builder_add, with MANIFEST_F_* flags (MANIFEST_F_OPAQUE only
 * on a directory). A whiteout has mode 0, no size, digest or target. */
strata_err *manifest_builder_add_flags(manifest_builder *b, manifest_kind kind, unsigned flags,
                                       const char *path, uint16_t mode, uint64_t size,
                                       const strata_digest *digest, const char *target);
uint32_t manifest_builder_count(const manifest_builder *b);
/* Appends the canonical encoding to out. */
strata_err *manifest_builder_encode(manifest_builder *b, strata_buf *out);
void manifest_builder_free(manifest_builder *b);

const char *manifest_kind_name(manifest_kind k);

#endif
