/* libFuzzer target for the YAML config parser (engine/config.c).
 *
 * Beyond "no crash, no leak, no out-of-bounds read" (the sanitizers' job),
 * it checks the parser's promises: every rejection is STRATA_E_INVALID
 * (or NOMEM) with a message naming the file and a hint, and leaves the
 * layer empty; every acceptance gives values in range, with a pin that
 * exists on the platform. The input is parsed as Linux and as macOS. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/config.h"

#define NAME "/fuzz/strata.yaml"

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void check_one(engine_os os, const uint8_t *data, size_t size)
{
    const config_env env = {.home = "/home/fuzz"};
    config_layer l;
    strata_err *e = config_parse(os, NAME, (const char *)data, size, &env, &l);
    if (e) {
        if (e->code != STRATA_E_INVALID && e->code != STRATA_E_NOMEM)
            fail("a rejection with a code other than invalid", e->msg);
        if (e->code == STRATA_E_INVALID && strncmp(e->msg, NAME ":", strlen(NAME) + 1) != 0)
            fail("a rejection that does not name the file", e->msg);
        if (!e->hint || !e->hint[0])
            fail("a rejection without a hint", e->msg);
        static const config_layer empty;
        if (memcmp(&l, &empty, sizeof(l)) != 0)
            fail("a rejection left values set", e->msg);
        strata_err_free(e);
        return;
    }
    if (l.has_store && (memchr(l.store, '\0', sizeof(l.store)) == NULL || !l.store[0]))
        fail("an empty or unterminated store", NULL);
    if (l.has_enabled && l.enabled != CONFIG_ENABLED_AUTO && l.enabled != CONFIG_ENABLED_TRUE &&
        l.enabled != CONFIG_ENABLED_FALSE)
        fail("mount.enabled out of range", NULL);
    if (l.has_backend && !engine_transport_on(os, l.backend))
        fail("a pin that does not exist on the platform", engine_transport_name(l.backend));
    if (l.has_nfs_port && (l.nfs_port < 0 || l.nfs_port > 65535))
        fail("a port out of range", NULL);
    /* Parsing is a function: the same text gives the same layer. */
    config_layer again;
    e = config_parse(os, NAME, (const char *)data, size, &env, &again);
    if (e || memcmp(&l, &again, sizeof(l)) != 0)
        fail("a second parse disagreed", e ? e->msg : NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CONFIG_FILE_MAX)
        return 0;
    check_one(ENGINE_OS_LINUX, data, size);
    check_one(ENGINE_OS_MACOS, data, size);
    return 0;
}
