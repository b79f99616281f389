/* What the random-operation drivers strata-fsops (fsops.c, through a
 * mount) and strata-nfsops (nfsops.c, through libnfs) share, so that both
 * choose alike from the same seed: the seeded generator, the bytes written,
 * the pool of names the trees and the operations use, sorted listings,
 * and dying with a message. Each includes it once, after defining
 * OPS_PROG, its name for messages. */
#ifndef STRATA_TESTS_E2E_OPSUTIL_H
#define STRATA_TESTS_E2E_OPSUTIL_H

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xrng.h"

/* ---- seeded randomness (xrng.h) ---------------------------------------- */

/* 0..n-1 (n > 0); the slight modulo bias does not matter here. */
static uint64_t rnd(rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

/* lo..hi inclusive. */
static uint64_t rnd_in(rng *r, uint64_t lo, uint64_t hi)
{
    return lo + rnd(r, hi - lo + 1);
}

/* The bytes an operation writes: a function of its own seed, so that a
 * replayed operation writes the same. */
static void fill_bytes(uint64_t seed, unsigned char *buf, size_t len)
{
    rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = rng_next(&r);
        memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
    }
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || !*s || *end || *s == '-')
        return false;
    *out = v;
    return true;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, OPS_PROG ": ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s\n", errno ? ": " : "", errno ? strerror(errno) : "");
    exit(1);
}

/* Names come from one small pool, in the generated trees and in the
 * operations alike, so that operations meet existing entries often. One
 * has a space and a non-ASCII letter. */
static const char *const POOL[] = {"a", "b", "c", "d", "e", "f", "g", "h", "n \xc3\xbc"};
#define NPOOL (sizeof(POOL) / sizeof(POOL[0]))

#define PATH_CAP  256
#define NAMES_CAP 64

/* qsort's comparator for NUL-terminated names held in arrays. */
static int cmp_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Reads the names of directory fd (closed here) into names, sorted, so
 * that choices among them are the same on every filesystem. */
static size_t list_names(int fd, char names[][NAME_MAX + 1])
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < NAMES_CAP) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(names[n++], NAME_MAX + 1, "%s", de->d_name);
    }
    closedir(d);
    qsort(names, n, NAME_MAX + 1, cmp_names);
    return n;
}

#endif
