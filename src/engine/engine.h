/* The engine's shared vocabulary: platforms, transports and versions.
 *
 * The engine decides how to mount on the machine at hand. Every decision
 * is a pure function of platform facts (facts.h) and config (config.h),
 * so these small types are what every engine module speaks; the names
 * printed for them ("fuse", "kext", ...) are the ones the config file,
 * the environment and the flags accept. */
#ifndef STRATA_ENGINE_ENGINE_H
#define STRATA_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    ENGINE_OS_LINUX,
    ENGINE_OS_MACOS,
} engine_os;

/* The transports, in no particular order (plan.h orders them). "fuse" is
 * /dev/fuse on Linux; on macOS the config name "fuse" means the macFUSE
 * kernel extension, so it is read as ENGINE_T_KEXT there. */
typedef enum {
    ENGINE_T_FUSE,  /* Linux: the kernel's /dev/fuse through libfuse3 */
    ENGINE_T_KEXT,  /* macOS: the macFUSE kernel extension */
    ENGINE_T_FSKIT, /* macOS 15.4+: macFUSE with -o backend=fskit */
    ENGINE_T_NFS,   /* an NFSv3 server on loopback, mounted by the kernel */
    ENGINE_T_NONE,  /* no mount: the view is materialized */
} engine_transport;

#define ENGINE_T_COUNT 5

/* A dotted version, "15.4.1" -> {15, 4, 1}. All zero means unknown. */
typedef struct engine_version {
    int major, minor, patch;
} engine_version;

/* "linux" / "macos". */
const char *engine_os_name(engine_os os);

/* The platform this strata was built for. */
static inline engine_os engine_os_here(void)
{
#ifdef __APPLE__
    return ENGINE_OS_MACOS;
#else
    return ENGINE_OS_LINUX;
#endif
}

/* "fuse", "kext", "fskit", "nfs", "none". */
const char *engine_transport_name(engine_transport t);

/* Whether t exists on os at all (kext and fskit are macOS only, fuse is
 * Linux only: on macOS its config name is read as kext). */
bool engine_transport_on(engine_os os, engine_transport t);

/* Parses the leading "MAJOR[.MINOR[.PATCH]]" of s, ignoring what follows
 * ("6.18.44-fc-v769", "15.3\n", "5.0.0-beta"). False when s does not start
 * with a number; *out is then all zero. */
bool engine_version_parse(const char *s, engine_version *out);

/* <0, 0, >0 as a is older than, equal to, or newer than b. */
int engine_version_cmp(engine_version a, engine_version b);

/* True when v is known and at least major.minor. */
bool engine_version_at_least(engine_version v, int major, int minor);

/* "15.4.1" into buf (at most n bytes); "unknown" when all zero. */
void engine_version_format(engine_version v, char *buf, size_t n);

#endif
