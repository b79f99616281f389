/* The platform-neutral part of the facts (see facts.h): the probe that
 * runs once per process and its cache, whether the FUSE library loads
 * (asked the same way on every platform), the derived fields, and pure
 * parsers for the Linux files the probe reads, so that their formats are
 * tested on recorded text. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "engine/facts.h"
#include "transport/fuse_lib.h"

/* Probes run so far in this process, for facts_probe_runs. */
static atomic_uint facts_runs;

static pthread_once_t facts_once = PTHREAD_ONCE_INIT;
static engine_facts facts_cache;

/* Whether the FUSE library loads: the library alone, since the device and
 * the helper are facts of their own. With via_transport the transport's
 * fuse_lib_load is asked first: it loads the library once per process and
 * keeps it, so where it succeeds the library is not opened a second time
 * here. It also fails for a missing device or helper, so only its success
 * settles the question; otherwise the library is loaded alone and closed
 * again. */
static bool facts_libfuse(bool via_transport)
{
    strata_err *e;
    if (via_transport) {
        const fuse_lib *fl;
        e = fuse_lib_load(&fl);
        if (!e)
            return true;
        strata_err_free(e);
    }
    fuse_lib t;
    e = fuse_lib_open(fuse_lib_path(), NULL, NULL, &t);
    if (e) {
        strata_err_free(e);
        return false;
    }
    if (t.dl)
        dlclose(t.dl);
    return true;
}

/* One probe, counted: the platform's fields, the library, the derived
 * fields. */
static void facts_run(engine_facts *f, bool via_transport)
{
    atomic_fetch_add(&facts_runs, 1);
    facts_probe_platform(f);
    f->libfuse = facts_libfuse(via_transport);
    facts_finish(f);
}

/* The cached probe shares the transport's load, so that a process which
 * probes and then mounts opens the library once, not twice (the fresh
 * probe must not: that load keeps its first STRATA_LIBFUSE). */
static void facts_probe_once(void)
{
    facts_run(&facts_cache, true);
}

const engine_facts *facts_get(void)
{
    pthread_once(&facts_once, facts_probe_once);
    return &facts_cache;
}

void facts_probe(engine_facts *f)
{
    memcpy(f, facts_get(), sizeof(*f));
}

void facts_probe_fresh(engine_facts *f)
{
    facts_run(f, false);
}

unsigned facts_probe_runs(void)
{
    return atomic_load(&facts_runs);
}

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
