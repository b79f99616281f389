/* Unit tests for the config (engine/config.h): every key and value, every
 * way to get one wrong (unknown keys at each level, wrong YAML types,
 * malformed YAML) with the file, line and column in the message and the
 * accepted values in the hint, the STRATA_* variables and flags, their
 * precedence, the platform defaults, and the file lookup. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/config.h"
#include "testutil.h"

#define F "/home/u/proj/strata.yaml"

static const config_env env_u = {.home = "/home/u"};

static strata_err *parse(engine_os os, const char *text, config_layer *l)
{
    return config_parse(os, F, text, strlen(text), &env_u, l);
}

static void parse_ok(engine_os os, const char *text, config_layer *l)
{
    assert_ok(parse(os, text, l));
}

/* Fails unless e is an error whose message contains msg_has (and, when not
 * NULL, msg_has2) and whose hint contains hint_has; frees it. */
static void expect_err(strata_err *e, strata_code code, const char *msg_has, const char *msg_has2,
                       const char *hint_has)
{
    if (!e)
        fail_msg("expected an error containing '%s'", msg_has);
    if (e->code != code || !strstr(e->msg, msg_has) || (msg_has2 && !strstr(e->msg, msg_has2)) ||
        (hint_has && !strstr(e->hint, hint_has))) {
        print_error("got %s: %s (hint: %s)\n", strata_code_name(e->code), e->msg, e->hint);
        strata_err_free(e);
        fail_msg("expected %s with '%s' / '%s' and hint '%s'", strata_code_name(code), msg_has,
                 msg_has2 ? msg_has2 : "", hint_has ? hint_has : "");
    }
    strata_err_free(e);
}

static void bad(engine_os os, const char *text, const char *msg_has, const char *msg_has2,
                const char *hint_has)
{
    config_layer l;
    expect_err(parse(os, text, &l), STRATA_E_INVALID, msg_has, msg_has2, hint_has);
    /* A rejected file sets nothing. */
    static const config_layer empty;
    assert_memory_equal(&l, &empty, sizeof(l));
}

static void test_every_key(void **state)
{
    (void)state;
    config_layer l;
    parse_ok(ENGINE_OS_LINUX,
             "# a full config\n"
             "store: ~/.local/share/strata\n"
             "mount:\n"
             "  enabled: true\n"
             "  backend: nfs\n"
             "  nfs: { port: 2049 }\n",
             &l);
    assert_true(l.has_store);
    assert_string_equal(l.store, "/home/u/.local/share/strata");
    assert_true(l.has_enabled);
    assert_int_equal(l.enabled, CONFIG_ENABLED_TRUE);
    assert_true(l.has_backend);
    assert_int_equal(l.backend, ENGINE_T_NFS);
    assert_true(l.has_nfs_port);
    assert_int_equal(l.nfs_port, 2049);

    /* Block style, quoted values, and keys in another order. */
    parse_ok(ENGINE_OS_MACOS,
             "mount:\n"
             "  nfs:\n"
             "    port: '0'\n"
             "  backend: \"fskit\"\n"
             "  enabled: auto\n"
             "store: /Volumes/data/strata\n",
             &l);
    assert_string_equal(l.store, "/Volumes/data/strata");
    assert_int_equal(l.enabled, CONFIG_ENABLED_AUTO);
    assert_int_equal(l.backend, ENGINE_T_FSKIT);
    assert_int_equal(l.nfs_port, 0);

    /* Only what is written is set. */
    parse_ok(ENGINE_OS_LINUX, "mount:\n  enabled: off\n", &l);
    assert_false(l.has_store);
    assert_true(l.has_enabled);
    assert_false(l.has_backend);
    assert_false(l.has_nfs_port);

    /* Nothing at all is fine. */
    const char *empties[] = {"", "\n", "# just a comment\n", "---\n", "~\n", "null\n", NULL};
    for (int i = 0; empties[i]; i++) {
        parse_ok(ENGINE_OS_LINUX, empties[i], &l);
        assert_false(l.has_store || l.has_enabled || l.has_backend || l.has_nfs_port);
    }
    /* "mount:" or "nfs:" with nothing after it is an empty mapping. */
    parse_ok(ENGINE_OS_LINUX, "mount:\n", &l);
    assert_false(l.has_enabled);
    parse_ok(ENGINE_OS_LINUX, "mount:\n  nfs:\n  enabled: false\n", &l);
    assert_int_equal(l.enabled, CONFIG_ENABLED_FALSE);
}

static void test_enabled_values(void **state)
{
    (void)state;
    const struct {
        const char *v;
        config_enabled want;
    } ok[] = {
        {"true", CONFIG_ENABLED_TRUE},   {"on", CONFIG_ENABLED_TRUE},
        {"TRUE", CONFIG_ENABLED_TRUE},   {"On", CONFIG_ENABLED_TRUE},
        {"false", CONFIG_ENABLED_FALSE}, {"off", CONFIG_ENABLED_FALSE},
        {"False", CONFIG_ENABLED_FALSE}, {"OFF", CONFIG_ENABLED_FALSE},
        {"auto", CONFIG_ENABLED_AUTO},   {"AUTO", CONFIG_ENABLED_AUTO},
        {"'auto'", CONFIG_ENABLED_AUTO},
    };
    char text[128];
    config_layer l;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(text, sizeof(text), "mount:\n  enabled: %s\n", ok[i].v);
        parse_ok(ENGINE_OS_LINUX, text, &l);
        assert_true(l.has_enabled);
        assert_int_equal(l.enabled, ok[i].want);
    }
    const char *no[] = {"maybe", "yes", "no", "1", "0", "truee", "\"\"", "automatic", NULL};
    for (int i = 0; no[i]; i++) {
        snprintf(text, sizeof(text), "mount:\n  enabled: %s\n", no[i]);
        /* Line 2, column 12: where the value starts. */
        bad(ENGINE_OS_LINUX, text, F ":2:12: ", "mount.enabled", "true, false or auto");
    }
    bad(ENGINE_OS_LINUX, "mount:\n  enabled: maybe\n", "bad value 'maybe' for mount.enabled", NULL,
        "(also on, off)");
}

static void test_backend_values(void **state)
{
    (void)state;
    config_layer l;
    const struct {
        engine_os os;
        const char *v;
        engine_transport want;
    } ok[] = {
        {ENGINE_OS_LINUX, "fuse", ENGINE_T_FUSE}, {ENGINE_OS_LINUX, "nfs", ENGINE_T_NFS},
        {ENGINE_OS_LINUX, "none", ENGINE_T_NONE}, {ENGINE_OS_LINUX, "FUSE", ENGINE_T_FUSE},
        {ENGINE_OS_MACOS, "fuse", ENGINE_T_KEXT}, /* on macOS, fuse is the kext */
        {ENGINE_OS_MACOS, "kext", ENGINE_T_KEXT}, {ENGINE_OS_MACOS, "fskit", ENGINE_T_FSKIT},
        {ENGINE_OS_MACOS, "nfs", ENGINE_T_NFS},   {ENGINE_OS_MACOS, "none", ENGINE_T_NONE},
    };
    char text[128];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(text, sizeof(text), "mount:\n  backend: %s\n", ok[i].v);
        parse_ok(ok[i].os, text, &l);
        assert_true(l.has_backend);
        assert_int_equal(l.backend, ok[i].want);
    }
    /* A pin that cannot work on this platform is a config error. */
    bad(ENGINE_OS_LINUX, "mount:\n  backend: kext\n", F ":2:12: mount.backend: kext",
        "cannot work on Linux", "fuse, nfs or none");
    bad(ENGINE_OS_LINUX, "mount:\n  backend: fskit\n", "fskit cannot work on Linux", NULL,
        "macOS transports");
    bad(ENGINE_OS_LINUX, "mount:\n  backend: fusee\n", "bad value 'fusee' for mount.backend", NULL,
        "use fuse, nfs or none");
    bad(ENGINE_OS_MACOS, "mount:\n  backend: overlay\n", "bad value 'overlay'", NULL,
        "kext (or its alias fuse), fskit, nfs or none");
    bad(ENGINE_OS_MACOS, "mount:\n  backend: ''\n", "mount.backend needs a value", NULL,
        "kext, fskit, nfs or none");
}

static void test_port_values(void **state)
{
    (void)state;
    config_layer l;
    const struct {
        const char *v;
        int want;
    } ok[] = {{"0", 0}, {"1", 1}, {"2049", 2049}, {"65535", 65535}, {"'8080'", 8080}};
    char text[128];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(text, sizeof(text), "mount:\n  nfs:\n    port: %s\n", ok[i].v);
        parse_ok(ENGINE_OS_LINUX, text, &l);
        assert_int_equal(l.nfs_port, ok[i].want);
    }
    const char *no[] = {"65536", "-1", "+1", "0x10", "abc", "123456", "1.5", "8 080", NULL};
    for (int i = 0; no[i]; i++) {
        snprintf(text, sizeof(text), "mount:\n  nfs:\n    port: %s\n", no[i]);
        bad(ENGINE_OS_LINUX, text, F ":3:11: bad value", "mount.nfs.port", "0 to 65535");
    }
}

static void test_store_values(void **state)
{
    (void)state;
    config_layer l;
    parse_ok(ENGINE_OS_LINUX, "store: ~/s\n", &l);
    assert_string_equal(l.store, "/home/u/s");
    parse_ok(ENGINE_OS_LINUX, "store: '~'\n", &l); /* quoted: a string, the home itself */
    assert_string_equal(l.store, "/home/u");
    parse_ok(ENGINE_OS_LINUX, "store: /abs/path\n", &l);
    assert_string_equal(l.store, "/abs/path");
    /* Relative: from the config file's directory. */
    parse_ok(ENGINE_OS_LINUX, "store: data/store\n", &l);
    assert_string_equal(l.store, "/home/u/proj/data/store");
    parse_ok(ENGINE_OS_LINUX, "store: \"with space/and: colon\"\n", &l);
    assert_string_equal(l.store, "/home/u/proj/with space/and: colon");
    assert_ok(config_parse(ENGINE_OS_LINUX, "/strata.yaml", "store: s\n", 9, &env_u, &l));
    assert_string_equal(l.store, "/s");
    assert_ok(config_parse(ENGINE_OS_LINUX, "strata.yaml", "store: s\n", 9, &env_u, &l));
    assert_string_equal(l.store, "s"); /* no directory known: as written */

    bad(ENGINE_OS_LINUX, "store: ~bob/s\n", F ":1:8: store: '~bob/s'", "~user", "full path");
    bad(ENGINE_OS_LINUX, "store:\n", F ":1:7: store needs a value", NULL, "store's directory");
    bad(ENGINE_OS_LINUX, "store: ~\n", "store needs a value", NULL, NULL); /* YAML null */
    bad(ENGINE_OS_LINUX, "store: null\n", "store needs a value", NULL, NULL);
    bad(ENGINE_OS_LINUX, "store: ''\n", "store needs a value", NULL, NULL);
    bad(ENGINE_OS_LINUX, "store: \"a\\0b\"\n", "contains a NUL byte", NULL, "NUL");
    const config_env nohome = {0};
    expect_err(config_parse(ENGINE_OS_LINUX, F, "store: ~/s\n", 11, &nohome, &l), STRATA_E_INVALID,
               "cannot expand '~'", NULL, "HOME");
    /* Too long for a path. */
    static char text[CONFIG_PATH_MAX + 32];
    size_t n = CONFIG_PATH_MAX + 16;
    memcpy(text, "store: /", 8);
    memset(text + 8, 'a', n - 8);
    memcpy(text + n, "\n", 2);
    expect_err(config_parse(ENGINE_OS_LINUX, F, text, strlen(text), &env_u, &l), STRATA_E_INVALID,
               "longer than", NULL, "shorter");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    bad(ENGINE_OS_LINUX, "store: /s\nmout:\n  enabled: true\n", F ":2:1: unknown key 'mout'", NULL,
        "at the top level are: store, mount");
    bad(ENGINE_OS_LINUX, "mount:\n  enabeld: true\n", F ":2:3: unknown key 'mount.enabeld'", NULL,
        "under mount are: enabled, backend, nfs");
    bad(ENGINE_OS_LINUX, "mount:\n  nfs:\n    prot: 1\n", F ":3:5: unknown key 'mount.nfs.prot'",
        NULL, "under mount.nfs are: port");
    bad(ENGINE_OS_LINUX, "mount: {nfs: {port: 1, host: x}}\n", F ":1:24: unknown key", "host",
        "port");
    /* Keys are case-sensitive, and a key must be a name. */
    bad(ENGINE_OS_LINUX, "Store: /s\n", "unknown key 'Store'", NULL, "store, mount");
    bad(ENGINE_OS_LINUX, "? [a, b]\n: 1\n", F ":1:3: a key must be a plain name, not a list", NULL,
        "store, mount");
    /* A key written twice is a mistake, not an override. */
    bad(ENGINE_OS_LINUX, "store: /a\nstore: /b\n", F ":2:1: duplicate key 'store'",
        "(first at line 1)", "keep one");
    bad(ENGINE_OS_LINUX, "mount:\n  enabled: on\n  enabled: off\n", "duplicate key 'mount.enabled'",
        NULL, NULL);
}

static void test_wrong_types(void **state)
{
    (void)state;
    bad(ENGINE_OS_LINUX, "store: [a, b]\n", F ":1:8: store takes a single value, not a list", NULL,
        "store: VALUE");
    bad(ENGINE_OS_LINUX, "mount:\n  backend:\n    - fuse\n    - nfs\n",
        F ":3:5: mount.backend takes a single value, not a list", NULL, NULL);
    bad(ENGINE_OS_LINUX, "mount:\n  enabled: {a: b}\n", "mount.enabled takes a single value",
        "not a mapping", NULL);
    bad(ENGINE_OS_LINUX, "mount:\n  nfs:\n    port: [1]\n", "mount.nfs.port takes a single value",
        NULL, NULL);
    bad(ENGINE_OS_LINUX, "mount: [fuse]\n", F ":1:8: mount must be a mapping of keys, not a list",
        NULL, "enabled, backend, nfs");
    bad(ENGINE_OS_LINUX, "mount: fuse\n", "mount must be a mapping of keys, not a single value",
        NULL, "indented below it");
    bad(ENGINE_OS_LINUX, "mount:\n  nfs: 2049\n", "mount.nfs must be a mapping", NULL, "port");
    bad(ENGINE_OS_LINUX, "- store\n- mount\n", F ":1:1: the config must be a mapping of keys", NULL,
        "store, mount");
    bad(ENGINE_OS_LINUX, "hello\n", "the config must be a mapping", "single value", NULL);
    bad(ENGINE_OS_LINUX, "mount:\n  enabled:\n", "mount.enabled needs a value", NULL,
        "true, false or auto");
}

static void test_malformed_yaml(void **state)
{
    (void)state;
    /* libyaml's own message, at its line and column. */
    bad(ENGINE_OS_LINUX, "mount:\n  enabled: true\n backend: fuse\n", F ":3:", "invalid YAML",
        "indent with spaces");
    bad(ENGINE_OS_LINUX, "mount: {enabled: true\n", F ":2:1: invalid YAML", NULL, NULL);
    bad(ENGINE_OS_LINUX, "mount:\n\tenabled: true\n", F ":2:1: invalid YAML",
        "cannot start any token", "not tabs");
    bad(ENGINE_OS_LINUX, "store: \"unterminated\n", "invalid YAML", "quoted scalar", NULL);
    bad(ENGINE_OS_LINUX, "store: *nowhere\n", F ":1:8: invalid YAML", "undefined alias", NULL);
    bad(ENGINE_OS_LINUX, "store: a: b\n", F ":1:9: invalid YAML", "mapping values", NULL);
    bad(ENGINE_OS_LINUX, "store: /a\n---\nstore: /b\n", F ":3:1: a second YAML document", NULL,
        "keep one document");
    bad(ENGINE_OS_LINUX, "store: /a\n---\n{\n", F ":4:1: invalid YAML", NULL, NULL);
    /* Not UTF-8: reported at its byte offset. */
    bad(ENGINE_OS_LINUX, "store: /a\xff\xfe\n", "invalid YAML at byte 9", NULL, "UTF-8");
    /* Anchors and aliases are YAML, and resolve; a cycle only gets as deep
     * as the keys go. */
    config_layer l;
    parse_ok(ENGINE_OS_LINUX, "store: &s /srv/s\nmount: {}\n", &l);
    assert_string_equal(l.store, "/srv/s");
    parse_ok(ENGINE_OS_LINUX, "mount: {enabled: &e off, backend: none}\n", &l);
    assert_int_equal(l.enabled, CONFIG_ENABLED_FALSE);
    bad(ENGINE_OS_LINUX, "mount: &m\n  enabled: true\n  nfs: *m\n",
        "unknown key 'mount.nfs.enabled'", NULL, "port");
    bad(ENGINE_OS_LINUX, "&r {mount: *r}\n", "unknown key 'mount.mount'", NULL, NULL);
    /* Inputs that would make libyaml slow are refused early: deep nesting
     * (quadratic in its scanner) and masses of anchors (in its loader). */
    static char text[300000];
    memset(text, '[', 250000);
    text[250000] = '\0';
    bad(ENGINE_OS_LINUX, text, F ":1:33: nested more than 32 levels deep", NULL, "flatten");
    size_t o = 0;
    for (int i = 0; i < 20000; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "- &a%d x\n", i);
    bad(ENGINE_OS_LINUX, text, F ":257:3: more than 256 YAML anchors", NULL, NULL);
    /* 32 levels are fine as YAML (and then wrong as a config). */
    o = (size_t)snprintf(text, sizeof(text), "store: ");
    for (int i = 0; i < 31; i++)
        text[o++] = '[';
    for (int i = 0; i < 31; i++)
        text[o++] = ']';
    text[o] = '\0';
    bad(ENGINE_OS_LINUX, text, "store takes a single value, not a list", NULL, NULL);
}

static void test_env(void **state)
{
    (void)state;
    config_env env = {.home = "/home/u",
                      .store = "~/envstore",
                      .mount_enabled = "off",
                      .mount_backend = "fuse",
                      .mount_nfs_port = "3049"};
    config_layer l;
    assert_ok(config_from_env(ENGINE_OS_MACOS, &env, &l));
    assert_string_equal(l.store, "/home/u/envstore");
    assert_int_equal(l.enabled, CONFIG_ENABLED_FALSE);
    assert_int_equal(l.backend, ENGINE_T_KEXT);
    assert_int_equal(l.nfs_port, 3049);
    /* Empty means unset; a relative store stays relative (to the cwd). */
    env = (config_env){.store = "rel/store", .mount_enabled = "", .mount_backend = NULL};
    assert_ok(config_from_env(ENGINE_OS_LINUX, &env, &l));
    assert_string_equal(l.store, "rel/store");
    assert_false(l.has_enabled || l.has_backend || l.has_nfs_port);
    /* A bad value names the variable and lists the accepted values. */
    env = (config_env){.mount_enabled = "sometimes"};
    expect_err(config_from_env(ENGINE_OS_LINUX, &env, &l), STRATA_E_INVALID,
               "STRATA_MOUNT_ENABLED: bad value 'sometimes' for mount.enabled", NULL,
               "true, false or auto");
    env = (config_env){.mount_backend = "kext"};
    expect_err(config_from_env(ENGINE_OS_LINUX, &env, &l), STRATA_E_INVALID,
               "STRATA_MOUNT_BACKEND: mount.backend: kext cannot work on Linux", NULL, "fuse");
    env = (config_env){.mount_nfs_port = "99999"};
    expect_err(config_from_env(ENGINE_OS_LINUX, &env, &l), STRATA_E_INVALID,
               "STRATA_MOUNT_NFS_PORT: bad value '99999'", NULL, "65535");
    env = (config_env){.store = "~x"};
    expect_err(config_from_env(ENGINE_OS_LINUX, &env, &l), STRATA_E_INVALID, "STRATA_STORE", NULL,
               NULL);
    /* Control bytes in a value are not echoed raw. */
    env = (config_env){.mount_enabled = "\x1b[31mred"};
    strata_err *e = config_from_env(ENGINE_OS_LINUX, &env, &l);
    assert_non_null(e);
    assert_null(strchr(e->msg, '\x1b'));
    strata_err_free(e);
}

static void test_flags(void **state)
{
    (void)state;
    config_layer l;
    memset(&l, 0, sizeof(l));
    assert_ok(config_layer_set(ENGINE_OS_LINUX, &l, "store", "/flag/store", "--store", &env_u));
    assert_ok(config_layer_set(ENGINE_OS_LINUX, &l, "mount.enabled", "true", "--mount", &env_u));
    assert_ok(config_layer_set(ENGINE_OS_LINUX, &l, "mount.backend", "none", "--backend", &env_u));
    assert_ok(config_layer_set(ENGINE_OS_LINUX, &l, "mount.nfs.port", "1", "--nfs-port", &env_u));
    assert_string_equal(l.store, "/flag/store");
    assert_int_equal(l.enabled, CONFIG_ENABLED_TRUE);
    assert_int_equal(l.backend, ENGINE_T_NONE);
    assert_int_equal(l.nfs_port, 1);
    expect_err(config_layer_set(ENGINE_OS_LINUX, &l, "mount.backend", "fskit", "--backend", &env_u),
               STRATA_E_INVALID, "--backend: mount.backend: fskit cannot work on Linux", NULL,
               NULL);
    /* The earlier value survives a rejected one. */
    assert_true(l.has_backend);
    assert_int_equal(l.backend, ENGINE_T_NONE);
    expect_err(config_layer_set(ENGINE_OS_LINUX, &l, "mount.enabled", "", "--mount", &env_u),
               STRATA_E_INVALID, "--mount: mount.enabled needs a value", NULL, NULL);
    expect_err(config_layer_set(ENGINE_OS_LINUX, &l, "mount.nfs.port", NULL, "--nfs-port", &env_u),
               STRATA_E_INVALID, "needs a value", NULL, NULL);
    assert_err(config_layer_set(ENGINE_OS_LINUX, &l, "mount.colour", "red", "--x", &env_u),
               STRATA_E_INTERNAL);
}

static void test_defaults(void **state)
{
    (void)state;
    config_layer d;
    config_defaults(ENGINE_OS_LINUX, &env_u, &d);
    assert_true(d.has_store);
    assert_string_equal(d.store, "/home/u/.local/share/strata");
    assert_true(d.has_enabled);
    assert_int_equal(d.enabled, CONFIG_ENABLED_AUTO); /* Linux: auto */
    assert_false(d.has_backend);
    assert_true(d.has_nfs_port);
    assert_int_equal(d.nfs_port, 0);
    config_defaults(ENGINE_OS_MACOS, &env_u, &d);
    assert_int_equal(d.enabled, CONFIG_ENABLED_FALSE); /* macOS: needs approvals first */
    const config_env xdg = {.home = "/home/u", .xdg_data_home = "/data/"};
    config_defaults(ENGINE_OS_LINUX, &xdg, &d);
    assert_string_equal(d.store, "/data/strata");
    const config_env none = {0};
    config_defaults(ENGINE_OS_LINUX, &none, &d);
    assert_false(d.has_store);
    assert_string_equal(config_enabled_name(CONFIG_ENABLED_AUTO), "auto");
    assert_string_equal(config_enabled_name(CONFIG_ENABLED_TRUE), "true");
    assert_string_equal(config_enabled_name(CONFIG_ENABLED_FALSE), "false");
}

static void test_merge(void **state)
{
    (void)state;
    config_layer d, file, env, flags;
    config_defaults(ENGINE_OS_LINUX, &env_u, &d);
    parse_ok(ENGINE_OS_LINUX, "store: /file\nmount:\n  enabled: true\n  backend: nfs\n", &file);
    const config_env e = {.mount_enabled = "false", .mount_nfs_port = "7"};
    assert_ok(config_from_env(ENGINE_OS_LINUX, &e, &env));
    memset(&flags, 0, sizeof(flags));
    assert_ok(
        config_layer_set(ENGINE_OS_LINUX, &flags, "mount.backend", "fuse", "--backend", &env_u));
    engine_config c;
    /* defaults < file < env < flags */
    assert_ok(config_merge(&d, &file, &env, &flags, &c));
    assert_string_equal(c.store, "/file");
    assert_int_equal(c.store_from, CONFIG_FROM_FILE);
    assert_int_equal(c.enabled, CONFIG_ENABLED_FALSE);
    assert_int_equal(c.enabled_from, CONFIG_FROM_ENV);
    assert_true(c.pinned);
    assert_int_equal(c.backend, ENGINE_T_FUSE);
    assert_int_equal(c.backend_from, CONFIG_FROM_FLAGS);
    assert_int_equal(c.nfs_port, 7);
    assert_int_equal(c.nfs_port_from, CONFIG_FROM_ENV);
    assert_string_equal(config_origin_name(c.backend_from), "flags");
    /* Without the flags, the file's pin; without the file, the defaults. */
    assert_ok(config_merge(&d, &file, &env, NULL, &c));
    assert_int_equal(c.backend, ENGINE_T_NFS);
    assert_int_equal(c.backend_from, CONFIG_FROM_FILE);
    assert_ok(config_merge(&d, NULL, NULL, NULL, &c));
    assert_string_equal(c.store, "/home/u/.local/share/strata");
    assert_int_equal(c.store_from, CONFIG_FROM_DEFAULT);
    assert_int_equal(c.enabled, CONFIG_ENABLED_AUTO);
    assert_false(c.pinned);
    assert_int_equal(c.nfs_port, 0);
    /* Env store over the file's. */
    const config_env es = {.store = "/envstore"};
    assert_ok(config_from_env(ENGINE_OS_LINUX, &es, &env));
    assert_ok(config_merge(&d, &file, &env, NULL, &c));
    assert_string_equal(c.store, "/envstore");
    assert_int_equal(c.store_from, CONFIG_FROM_ENV);
    /* No store anywhere. */
    config_layer nostore;
    config_defaults(ENGINE_OS_LINUX, &(config_env){0}, &nostore);
    expect_err(config_merge(&nostore, NULL, NULL, NULL, &c), STRATA_E_NOTFOUND, "store", NULL,
               "STRATA_STORE");
}

static const char *fake_present[4];

static bool fake_exists(const char *path)
{
    for (int i = 0; fake_present[i]; i++)
        if (!strcmp(fake_present[i], path))
            return true;
    return false;
}

static void test_lookup(void **state)
{
    (void)state;
    char cand[2][CONFIG_PATH_MAX];
    config_env env = {.home = "/home/u"};
    assert_int_equal(config_candidates("/work/p", &env, cand), 2);
    assert_string_equal(cand[0], "/work/p/strata.yaml");
    assert_string_equal(cand[1], "/home/u/.config/strata/config.yaml");
    env.xdg_config_home = "/xdg";
    assert_int_equal(config_candidates("/", &env, cand), 2);
    assert_string_equal(cand[0], "/strata.yaml");
    assert_string_equal(cand[1], "/xdg/strata/config.yaml");
    env.xdg_config_home = "relative/xdg"; /* ignored, as the XDG spec says */
    assert_int_equal(config_candidates("/w", &env, cand), 2);
    assert_string_equal(cand[1], "/home/u/.config/strata/config.yaml");
    env = (config_env){0};
    assert_int_equal(config_candidates("/w", &env, cand), 1);
    assert_int_equal(config_candidates(NULL, &env, cand), 0);
    env.config = "/etc/strata.yaml";
    assert_int_equal(config_candidates("/w", &env, cand), 1);
    assert_string_equal(cand[0], "/etc/strata.yaml");
    env.config = "conf/s.yaml";
    assert_int_equal(config_candidates("/w", &env, cand), 1);
    assert_string_equal(cand[0], "/w/conf/s.yaml");

    char path[CONFIG_PATH_MAX];
    bool found;
    env = (config_env){.home = "/home/u"};
    /* ./strata.yaml first, then the user's. */
    fake_present[0] = "/home/u/.config/strata/config.yaml";
    fake_present[1] = "/w/strata.yaml";
    fake_present[2] = NULL;
    assert_ok(config_locate("/w", &env, fake_exists, path, &found));
    assert_true(found);
    assert_string_equal(path, "/w/strata.yaml");
    assert_ok(config_locate("/elsewhere", &env, fake_exists, path, &found));
    assert_true(found);
    assert_string_equal(path, "/home/u/.config/strata/config.yaml");
    fake_present[0] = NULL;
    assert_ok(config_locate("/elsewhere", &env, fake_exists, path, &found));
    assert_false(found);
    assert_string_equal(path, "");
    /* STRATA_CONFIG must exist. */
    env.config = "/missing.yaml";
    expect_err(config_locate("/w", &env, fake_exists, path, &found), STRATA_E_NOTFOUND,
               "STRATA_CONFIG: no config file at /missing.yaml", NULL, "STRATA_CONFIG");
}

static void test_files(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("engine-config");
    const char *yaml = "store: st\nmount:\n  enabled: false\n";
    tu_write_file(dir, "strata.yaml", yaml, strlen(yaml), 0644);
    char *home = tu_path(dir, "home");
    const char *user = "mount:\n  backend: nfs\n  nfs: {port: 5}\n";
    tu_write_file(home, ".config/strata/config.yaml", user, strlen(user), 0644);
    config_env env = {.home = home};
    engine_config c;
    char path[CONFIG_PATH_MAX];
    /* The project file wins over the user's; the env over the file. */
    assert_ok(config_resolve(ENGINE_OS_LINUX, dir, &env, NULL, &c, path));
    char *want = tu_path(dir, "strata.yaml");
    assert_string_equal(path, want);
    free(want);
    want = tu_path(dir, "st");
    assert_string_equal(c.store, want);
    free(want);
    assert_int_equal(c.enabled, CONFIG_ENABLED_FALSE);
    assert_false(c.pinned);
    env.mount_enabled = "on";
    assert_ok(config_resolve(ENGINE_OS_LINUX, dir, &env, NULL, &c, path));
    assert_int_equal(c.enabled, CONFIG_ENABLED_TRUE);
    assert_int_equal(c.enabled_from, CONFIG_FROM_ENV);
    /* Elsewhere, the user's file. */
    assert_ok(config_resolve(ENGINE_OS_LINUX, home, &env, NULL, &c, path));
    assert_true(c.pinned);
    assert_int_equal(c.backend, ENGINE_T_NFS);
    assert_int_equal(c.nfs_port, 5);
    /* Flags over everything. */
    config_layer flags;
    memset(&flags, 0, sizeof(flags));
    assert_ok(
        config_layer_set(ENGINE_OS_LINUX, &flags, "mount.backend", "none", "--backend", &env));
    assert_ok(config_resolve(ENGINE_OS_LINUX, home, &env, &flags, &c, path));
    assert_int_equal(c.backend, ENGINE_T_NONE);
    /* No file: defaults. */
    char *empty = tu_path(dir, "empty");
    mkdir(empty, 0755);
    config_env bare = {.home = empty};
    assert_ok(config_resolve(ENGINE_OS_LINUX, empty, &bare, NULL, &c, path));
    assert_string_equal(path, "");
    assert_int_equal(c.enabled, CONFIG_ENABLED_AUTO);
    /* A bad file names itself, with the line. */
    const char *broken = "mount:\n  enabled: perhaps\n";
    tu_write_file(empty, "strata.yaml", broken, strlen(broken), 0644);
    strata_err *e = config_resolve(ENGINE_OS_LINUX, empty, &bare, NULL, &c, path);
    assert_non_null(e);
    assert_non_null(strstr(e->msg, "/strata.yaml:2:12: bad value 'perhaps'"));
    strata_err_free(e);
    /* Not a file, not readable, too big. */
    config_layer l;
    assert_err(config_load_file(ENGINE_OS_LINUX, dir, &bare, &l), STRATA_E_INVALID);
    char *missing = tu_path(dir, "missing.yaml");
    assert_err(config_load_file(ENGINE_OS_LINUX, missing, &bare, &l), STRATA_E_NOTFOUND);
    size_t big = CONFIG_FILE_MAX + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    tu_write_file(dir, "big.yaml", text, big, 0644);
    free(text);
    char *bigp = tu_path(dir, "big.yaml");
    assert_err(config_load_file(ENGINE_OS_LINUX, bigp, &bare, &l), STRATA_E_INVALID);
    /* STRATA_CONFIG picks a file by name, relative to cwd. */
    bare.config = "home/.config/strata/config.yaml";
    assert_ok(config_resolve(ENGINE_OS_LINUX, dir, &bare, NULL, &c, path));
    assert_int_equal(c.nfs_port, 5);
    free(bigp);
    free(missing);
    free(empty);
    free(home);
    tu_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_enabled_values),
        cmocka_unit_test(test_backend_values),
        cmocka_unit_test(test_port_values),
        cmocka_unit_test(test_store_values),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_malformed_yaml),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests_name("engine_config", tests, NULL, NULL);
}
