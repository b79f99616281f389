/* Making and checking NFS file handles (see fh.h). */
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "transport/nfs/fh.h"

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

void nfs_fh_make(const nfs_fh_fields *f, uint8_t out[NFS_FH_LEN])
{
    out[0] = 'S';
    out[1] = '3';
    out[2] = out[3] = 0;
    put_be(out + 4, f->instance, 8);
    put_be(out + 12, f->generation, 4);
    put_be(out + 16, f->ino, 8);
}

bool nfs_fh_parse(const uint8_t *fh, size_t len, uint64_t instance, nfs_fh_fields *out)
{
    memset(out, 0, sizeof(*out));
    if (len != NFS_FH_LEN || fh[0] != 'S' || fh[1] != '3' || fh[2] || fh[3])
        return false;
    nfs_fh_fields f = {
        .instance = get_be(fh + 4, 8),
        .generation = (uint32_t)get_be(fh + 12, 4),
        .ino = get_be(fh + 16, 8),
    };
    if (f.instance != instance || f.ino == 0)
        return false;
    *out = f;
    return true;
}

uint64_t nfs_fh_new_instance(void)
{
    uint64_t v = 0;
    /* getrandom cannot fail for 8 bytes once the pool is ready; should it,
     * the clock and pid still differ between two servers. */
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        v ^= (uint64_t)getpid() << 32;
    }
    return v ? v : 1;
}
