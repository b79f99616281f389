/* libFuzzer target for the mount registry's record decoder
 * (engine/registry.c), which reads files any crash may have left torn.
 *
 * Beyond "no crash, no leak, no out-of-bounds read", it checks the
 * decoder's promises: every rejection is STRATA_E_CORRUPT with a hint and
 * leaves the record all zero; every acceptance gives a positive pid, a
 * known kind and transport, absolute paths, and encodes back to a record
 * that decodes to the same fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/registry.h"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_registry: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static registry_record r, back;
    static const registry_record zero;
    strata_err *e = registry_decode((const char *)data, size, &r);
    if (e) {
        if (e->code != STRATA_E_CORRUPT)
            fail("a rejection other than corrupt", e->msg);
        if (!e->hint || !e->hint[0])
            fail("a rejection without a hint", e->msg);
        if (memcmp(&r, &zero, sizeof(r)) != 0)
            fail("a rejection left fields set", e->msg);
        strata_err_free(e);
        return 0;
    }
    if (r.pid <= 0 || r.mountpoint[0] != '/' || (r.dir[0] && r.dir[0] != '/') ||
        strlen(r.id) != REGISTRY_ID_LEN || r.started < 0)
        fail("an accepted record out of range", r.mountpoint);
    /* Paths are whole lines, so they can be written back. */
    static char buf[REGISTRY_REC_MAX + 1];
    if (!registry_encode(&r, buf, sizeof(buf)))
        fail("an accepted record does not encode", r.mountpoint);
    e = registry_decode(buf, strlen(buf), &back);
    if (e || memcmp(&r, &back, sizeof(r)) != 0)
        fail("a re-encoded record decodes differently", e ? e->msg : NULL);
    return 0;
}
