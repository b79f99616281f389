/* Fills the platform facts on Linux (and other non-Apple systems): the
 * only I/O behind the engine's decisions, run once per process by
 * facts.c (which also asks whether libfuse3 loads). It opens /dev/fuse,
 * looks at fusermount3, and reads /proc/filesystems and /etc/fuse.conf,
 * whose text the pure parsers in facts.c interpret. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "engine/facts.h"

/* Reads up to n-1 bytes of a small file into buf, NUL-terminated; the
 * length, or -1. /proc files report size 0, so read until end of file. */
static ssize_t read_small(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(fd, buf + got, n - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

static facts_dev probe_dev_fuse(void)
{
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return FACTS_DEV_OK;
    }
    return errno == ENOENT || errno == ENODEV || errno == ENXIO ? FACTS_DEV_ABSENT
                                                                : FACTS_DEV_DENIED;
}

/* fusermount3 where libfuse looks for it: its install directory, then
 * $PATH. */
static void probe_fusermount(engine_facts *f)
{
    char path[4096];
    struct stat st;
    const char *fixed[] = {"/usr/bin/fusermount3", "/bin/fusermount3",
                           "/usr/local/bin/fusermount3"};
    bool found = false;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && !found; i++)
        found = stat(fixed[i], &st) == 0 && S_ISREG(st.st_mode);
    const char *env_path = getenv("PATH");
    while (!found && env_path && *env_path) {
        const char *colon = strchr(env_path, ':');
        size_t dl = colon ? (size_t)(colon - env_path) : strlen(env_path);
        if (dl && dl + sizeof("/fusermount3") < sizeof(path)) {
            memcpy(path, env_path, dl);
            memcpy(path + dl, "/fusermount3", sizeof("/fusermount3"));
            found = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        }
        env_path = colon ? colon + 1 : NULL;
    }
    f->fusermount = found;
    f->fusermount_setuid = found && st.st_uid == 0 && (st.st_mode & S_ISUID);
}

/* The nfs module is installed for the running kernel, so the first NFS
 * mount loads it. */
static bool probe_nfs_module(const char *release)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "/lib/modules/%s/kernel/fs/nfs", release);
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d)))
        found = strncmp(de->d_name, "nfs.ko", 6) == 0;
    closedir(d);
    return found;
}

void facts_probe_platform(engine_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->os = ENGINE_OS_LINUX;
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(f->os_version_str, sizeof(f->os_version_str), "%s", u.release);
        engine_version_parse(u.release, &f->os_version);
    }
    f->uid = getuid();
    f->root = geteuid() == 0;
    f->admin = f->root;
    struct passwd *pw = getpwuid(f->uid);
    if (pw && pw->pw_name)
        snprintf(f->user, sizeof(f->user), "%s", pw->pw_name);

    f->dev_fuse = probe_dev_fuse();
    probe_fusermount(f);

    char buf[16384];
    ssize_t n = read_small("/etc/fuse.conf", buf, sizeof(buf));
    f->user_allow_other = n > 0 && facts_parse_fuse_conf(buf, (size_t)n);
    n = read_small("/proc/filesystems", buf, sizeof(buf));
    f->nfs_in_kernel = n > 0 && facts_parse_filesystems(buf, (size_t)n, "nfs");
    f->nfs_module = f->os_version_str[0] && probe_nfs_module(f->os_version_str);

    f->kext = FACTS_KEXT_UNKNOWN;
    f->fskit_module = FACTS_FSKIT_UNKNOWN;
}
