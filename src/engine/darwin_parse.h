/* Pure parsers for the macOS tools and files the Darwin probe reads.
 *
 * platform_darwin.c (compiled only on Apple) runs the tools and reads the
 * files; everything that interprets their output is here, compiled on
 * every platform and tested on Linux with recorded samples. Each parser
 * takes the raw text (not necessarily NUL-terminated) and never fails
 * loudly: text it cannot make sense of gives "no" / "unknown". */
#ifndef STRATA_ENGINE_DARWIN_PARSE_H
#define STRATA_ENGINE_DARWIN_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"
#include "engine/facts.h"

/* The kext's bundle id, as kmutil/kextstat list it. */
#define DARWIN_KEXT_ID "io.macfuse.filesystems.macfuse"
/* macFUSE's FSKit modules are io.macfuse.app.fsmodule.macfuse and, in
 * later releases, io.macfuse.app.fsmodule.macfuse-local. */
#define DARWIN_FSKIT_ID_PREFIX "io.macfuse.app.fsmodule."
#define DARWIN_MACFUSE_FS      "/Library/Filesystems/macfuse.fs"
#define DARWIN_MACFUSE_PLIST   "/Library/Filesystems/macfuse.fs/Contents/Info.plist"

/* `sw_vers -productVersion`: "15.3.1\n" -> {15, 3, 1}; str gets the
 * trimmed text. False when it is not a version. */
bool darwin_parse_product_version(const char *text, size_t len, engine_version *v, char *str,
                                  size_t str_size);

/* The <string> value of key in an XML property list (an Info.plist), with
 * the five XML entities decoded, into out. False when the key is missing,
 * its value is not a <string>, it does not fit, or the plist is binary
 * ("bplist00": convert it with plutil first). */
bool darwin_parse_plist_string(const char *text, size_t len, const char *key, char *out,
                               size_t out_size);

/* macFUSE's version from its Info.plist (CFBundleShortVersionString). */
bool darwin_parse_macfuse_version(const char *text, size_t len, engine_version *v);

/* `kmutil showloaded` or `kextstat` output: whether the kext with bundle
 * id is loaded, and its version (when not NULL). The id must match a whole
 * word, so a longer id that starts with it does not count. */
bool darwin_parse_kext_loaded(const char *text, size_t len, const char *bundle_id,
                              engine_version *v);

/* `pluginkit -m -p com.apple.fskit.fsmodule` (or -i ID) output: the state
 * of the modules whose id starts with id_prefix. pluginkit prefixes each
 * plug-in with its election: '+' in use, '-' turned off, '=' superseded,
 * '!' debugging, ' ' no choice made (an FSKit module is off until the user
 * turns it on). Any module in use -> ENABLED; modules present but none in
 * use -> DISABLED; none listed -> ABSENT. */
facts_fskit darwin_parse_pluginkit(const char *text, size_t len, const char *id_prefix);

/* `dscl . -read /Groups/admin GroupMembership`: whether user is listed.
 * dscl prints "GroupMembership: root alice", or puts the values on
 * following lines that start with a space when they are long, and "No
 * such key: GroupMembership" for an empty group. */
bool darwin_parse_dscl_members(const char *text, size_t len, const char *user);

/* `id -Gn` (the groups of the process): whether group is among them. */
bool darwin_parse_id_groups(const char *text, size_t len, const char *group);

/* `dsmemberutil checkmembership -U USER -G admin`: 1 "user is a member of
 * the group", 0 "user is not a member of the group", -1 anything else.
 * It resolves nested groups, which dscl's GroupMembership does not. */
int darwin_parse_checkmembership(const char *text, size_t len);

/* Where Admin By Request installs itself on a Mac (its app, and its
 * support directory holding the policy files), NULL-terminated. */
extern const char *const darwin_abr_paths[];

/* Whether any of the n paths that exist (found by the probe) is one of
 * darwin_abr_paths. */
bool darwin_abr_installed(const char *const present[], size_t n);

#endif
