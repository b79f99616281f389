/* Names of platforms and transports, and dotted versions: the small shared
 * helpers of the engine (see engine.h). Versions are compared as numbers,
 * because macOS went from 10.15 to 11 and from 15 to 26, and a string
 * compare would put "9" after "15". */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"

const char *engine_os_name(engine_os os)
{
    return os == ENGINE_OS_MACOS ? "macos" : "linux";
}

const char *engine_transport_name(engine_transport t)
{
    switch (t) {
    case ENGINE_T_FUSE:
        return "fuse";
    case ENGINE_T_KEXT:
        return "kext";
    case ENGINE_T_FSKIT:
        return "fskit";
    case ENGINE_T_NFS:
        return "nfs";
    case ENGINE_T_NONE:
        return "none";
    }
    return "?";
}

bool engine_transport_on(engine_os os, engine_transport t)
{
    switch (t) {
    case ENGINE_T_FUSE:
        return os == ENGINE_OS_LINUX;
    case ENGINE_T_KEXT:
    case ENGINE_T_FSKIT:
        return os == ENGINE_OS_MACOS;
    case ENGINE_T_NFS:
    case ENGINE_T_NONE:
        return true;
    }
    return false;
}

/* One decimal component; false when there is no digit or it overflows. */
static bool parse_num(const char **p, int *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s - '0');
        if (v > INT_MAX / 10)
            return false;
        s++;
    }
    *out = (int)v;
    *p = s;
    return true;
}

bool engine_version_parse(const char *s, engine_version *out)
{
    memset(out, 0, sizeof(*out));
    if (!s)
        return false;
    while (*s == ' ' || *s == '\t')
        s++;
    engine_version v = {0, 0, 0};
    if (!parse_num(&s, &v.major))
        return false;
    if (*s == '.' && s[1] >= '0' && s[1] <= '9') {
        s++;
        if (!parse_num(&s, &v.minor))
            return false;
        if (*s == '.' && s[1] >= '0' && s[1] <= '9') {
            s++;
            if (!parse_num(&s, &v.patch))
                return false;
        }
    }
    *out = v;
    return true;
}

int engine_version_cmp(engine_version a, engine_version b)
{
    if (a.major != b.major)
        return a.major < b.major ? -1 : 1;
    if (a.minor != b.minor)
        return a.minor < b.minor ? -1 : 1;
    if (a.patch != b.patch)
        return a.patch < b.patch ? -1 : 1;
    return 0;
}

bool engine_version_at_least(engine_version v, int major, int minor)
{
    if (v.major == 0 && v.minor == 0 && v.patch == 0)
        return false;
    return engine_version_cmp(v, (engine_version){major, minor, 0}) >= 0;
}

void engine_version_format(engine_version v, char *buf, size_t n)
{
    if (!n)
        return;
    if (v.major == 0 && v.minor == 0 && v.patch == 0)
        snprintf(buf, n, "unknown");
    else
        snprintf(buf, n, "%d.%d.%d", v.major, v.minor, v.patch);
}
