/* The platform-neutral part of the facts (see facts.h): the derived
 * fields, and pure parsers for the Linux files the probe reads, so that
 * their formats are tested on recorded text. */
#include <string.h>

#include "engine/facts.h"

void facts_finish(engine_facts *f)
{
    if (f->os == ENGINE_OS_MACOS) {
        /* mount_nfs and the NFS client are part of every macOS. */
        f->nfs_client = true;
        f->fskit_usable = engine_version_at_least(f->os_version, FACTS_FSKIT_MACOS_MAJOR,
                                                  FACTS_FSKIT_MACOS_MINOR) &&
                          f->macfuse &&
                          engine_version_at_least(f->macfuse_version, FACTS_FSKIT_MACFUSE_MAJOR,
                                                  FACTS_FSKIT_MACFUSE_MINOR);
    } else {
        /* A listed filesystem is ready; an installed module is loaded by
         * the kernel on the first mount of that type. */
        f->nfs_client = f->nfs_in_kernel || f->nfs_module;
        f->fskit_usable = false;
    }
}

/* Calls line() for each line of text (without its '\n'); stops early when
 * it returns true, and returns that. */
static bool each_line(const char *text, size_t len, const void *arg,
                      bool (*line)(const char *s, size_t n, const void *arg))
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        if (line(text + i, n, arg))
            return true;
        i += n + 1;
    }
    return false;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* The line's last whitespace-separated word equals arg. */
static bool fs_line(const char *s, size_t n, const void *arg)
{
    const char *fs = arg;
    while (n && is_space(s[n - 1]))
        n--;
    size_t start = n;
    while (start && !is_space(s[start - 1]))
        start--;
    size_t wl = n - start;
    return wl == strlen(fs) && memcmp(s + start, fs, wl) == 0;
}

bool facts_parse_filesystems(const char *text, size_t len, const char *fs)
{
    return text && fs && *fs && each_line(text, len, fs, fs_line);
}

/* The line, trimmed and with any comment removed, is user_allow_other. */
static bool conf_line(const char *s, size_t n, const void *arg)
{
    (void)arg;
    const char *hash = memchr(s, '#', n);
    if (hash)
        n = (size_t)(hash - s);
    while (n && is_space(*s)) {
        s++;
        n--;
    }
    while (n && is_space(s[n - 1]))
        n--;
    return n == strlen("user_allow_other") && memcmp(s, "user_allow_other", n) == 0;
}

bool facts_parse_fuse_conf(const char *text, size_t len)
{
    return text && each_line(text, len, NULL, conf_line);
}

const char *facts_dev_name(facts_dev d)
{
    switch (d) {
    case FACTS_DEV_OK:
        return "ok";
    case FACTS_DEV_ABSENT:
        return "absent";
    case FACTS_DEV_DENIED:
        return "denied";
    }
    return "?";
}

const char *facts_kext_name(facts_kext k)
{
    switch (k) {
    case FACTS_KEXT_UNKNOWN:
        return "not loaded";
    case FACTS_KEXT_LOADED:
        return "loaded";
    case FACTS_KEXT_NOT_APPROVED:
        return "not approved";
    }
    return "?";
}

const char *facts_fskit_name(facts_fskit m)
{
    switch (m) {
    case FACTS_FSKIT_UNKNOWN:
        return "unknown";
    case FACTS_FSKIT_ENABLED:
        return "enabled";
    case FACTS_FSKIT_DISABLED:
        return "disabled";
    case FACTS_FSKIT_ABSENT:
        return "not registered";
    }
    return "?";
}
