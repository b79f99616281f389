/* Shared helpers for the unit tests. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"

char *tu_mkdtemp(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    char *p = NULL;
    assert_true(asprintf(&p, "%s/strata-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag) > 0);
    assert_non_null(mkdtemp(p));
    return p;
}

void tu_rmtree(char *path)
{
    if (!path)
        return;
    assert_ok(fs_remove_tree(path));
    free(path);
}

char *tu_path(const char *dir, const char *name)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

void tu_write_file(const char *dir, const char *name, const void *data, size_t len, unsigned mode)
{
    char p[4096], parent[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    size_t plen = (size_t)(strrchr(p, '/') - p);
    memcpy(parent, p, plen);
    parent[plen] = '\0';
    assert_ok(fs_mkdir_p(parent, 0755));
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        print_error("open %s: %s\n", p, strerror(errno));
    assert_true(fd >= 0);
    assert_ok(fs_write_all(fd, data, len, p));
    assert_int_equal(fchmod(fd, (mode_t)mode), 0);
    close(fd);
}

void tu_fill_random(void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}
