/* Reads strata's configuration (see config.h): the YAML file through
 * libyaml's document API, the STRATA_* variables and flags through one
 * value checker, so that a value means the same wherever it is written,
 * and every rejection names its source and the accepted values.
 *
 * The walk over the YAML tree has a fixed depth (root, mount, mount.nfs),
 * so anchors and aliases, even ones that make the tree a cycle, cannot
 * make it loop or blow up. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "engine/config.h"

typedef enum {
    KEY_STORE,
    KEY_ENABLED,
    KEY_BACKEND,
    KEY_NFS_PORT,
} config_key;

static const char *const key_path[] = {"store", "mount.enabled", "mount.backend", "mount.nfs.port"};

#define ENABLED_ACCEPTED "use true, false or auto (also on, off)"
#define PORT_ACCEPTED    "use a port number from 0 to 65535 (0: any free port)"

const char *config_enabled_name(config_enabled e)
{
    switch (e) {
    case CONFIG_ENABLED_TRUE:
        return "true";
    case CONFIG_ENABLED_FALSE:
        return "false";
    case CONFIG_ENABLED_AUTO:
        break;
    }
    return "auto";
}

const char *config_origin_name(config_origin o)
{
    switch (o) {
    case CONFIG_FROM_FILE:
        return "file";
    case CONFIG_FROM_ENV:
        return "environment";
    case CONFIG_FROM_FLAGS:
        return "flags";
    case CONFIG_FROM_DEFAULT:
        break;
    }
    return "default";
}

/* An unset value: NULL or "" (shells make "unsetting" by assignment easy). */
static const char *val(const char *s)
{
    return s && *s ? s : NULL;
}

/* A value as it may be quoted in a message: at most 64 bytes, control
 * bytes as '?', so that a hostile file cannot garble the terminal. */
static void show(char out[80], const char *v, size_t len)
{
    size_t n = len > 64 ? 64 : len, o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (len > n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* ---- values, wherever they come from ----------------------------------- */

/* "~" and "~/x" become $HOME and $HOME/x; a relative path is taken from
 * base_dir (the config file's directory) when there is one, because a
 * config file should mean the same from whatever directory strata runs. */
static strata_err *parse_store(const char *v, size_t len, const char *where, const config_env *env,
                               const char *base_dir, char out[CONFIG_PATH_MAX])
{
    const char *prefix = "";
    const char *sep = "";
    const char *rest = v;
    size_t rest_len = len;
    if (v[0] == '~') {
        if (len > 1 && v[1] != '/') {
            char s[80];
            show(s, v, len);
            return strata_err_new(STRATA_E_INVALID,
                                  "write the full path, or '~/...' for your own home directory",
                                  "%s: store: '%s' uses '~user', which is not expanded", where, s);
        }
        prefix = val(env ? env->home : NULL);
        if (!prefix)
            return strata_err_new(STRATA_E_INVALID, "set HOME, or write the full path",
                                  "%s: store: cannot expand '~': no home directory is known",
                                  where);
        rest = v + 1; /* "" or "/..." */
        rest_len = len - 1;
    } else if (v[0] != '/' && base_dir && *base_dir) {
        prefix = base_dir;
        sep = base_dir[strlen(base_dir) - 1] == '/' ? "" : "/";
    }
    size_t plen = strlen(prefix), slen = strlen(sep);
    if (plen + slen + rest_len + 1 > CONFIG_PATH_MAX)
        return strata_err_new(STRATA_E_INVALID, "use a shorter path for the store",
                              "%s: store: the path is longer than %d bytes", where,
                              CONFIG_PATH_MAX - 1);
    memcpy(out, prefix, plen);
    memcpy(out + plen, sep, slen);
    memcpy(out + plen + slen, rest, rest_len);
    out[plen + slen + rest_len] = '\0';
    return NULL;
}

static bool is_word(const char *v, size_t len, const char *w)
{
    return strlen(w) == len && strncasecmp(v, w, len) == 0;
}

static strata_err *parse_enabled(const char *v, size_t len, const char *where, config_enabled *out)
{
    if (is_word(v, len, "true") || is_word(v, len, "on"))
        *out = CONFIG_ENABLED_TRUE;
    else if (is_word(v, len, "false") || is_word(v, len, "off"))
        *out = CONFIG_ENABLED_FALSE;
    else if (is_word(v, len, "auto"))
        *out = CONFIG_ENABLED_AUTO;
    else {
        char s[80];
        show(s, v, len);
        return strata_err_new(STRATA_E_INVALID, ENABLED_ACCEPTED,
                              "%s: bad value '%s' for mount.enabled", where, s);
    }
    return NULL;
}

/* The pin, mapped for the platform: on macOS "fuse" is the kext. */
static strata_err *parse_backend(engine_os os, const char *v, size_t len, const char *where,
                                 engine_transport *out)
{
    static const struct {
        const char *name;
        engine_transport t;
    } names[] = {
        {"fuse", ENGINE_T_FUSE}, {"kext", ENGINE_T_KEXT}, {"fskit", ENGINE_T_FSKIT},
        {"nfs", ENGINE_T_NFS},   {"none", ENGINE_T_NONE},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!is_word(v, len, names[i].name))
            continue;
        engine_transport t = names[i].t;
        if (os == ENGINE_OS_MACOS && t == ENGINE_T_FUSE)
            t = ENGINE_T_KEXT;
        if (!engine_transport_on(os, t))
            return strata_err_new(STRATA_E_INVALID,
                                  "on Linux, pin fuse, nfs or none (kext and fskit are macOS "
                                  "transports), or remove the pin",
                                  "%s: mount.backend: %s cannot work on Linux", where,
                                  names[i].name);
        *out = t;
        return NULL;
    }
    char s[80];
    show(s, v, len);
    return strata_err_new(STRATA_E_INVALID,
                          os == ENGINE_OS_MACOS
                              ? "use kext (or its alias fuse), fskit, nfs or none"
                              : "use fuse, nfs or none (kext and fskit exist only on macOS)",
                          "%s: bad value '%s' for mount.backend", where, s);
}

static strata_err *parse_port(const char *v, size_t len, const char *where, int *out)
{
    long n = 0;
    bool ok = len > 0 && len <= 5;
    for (size_t i = 0; ok && i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            ok = false;
        else
            n = n * 10 + (v[i] - '0');
    }
    if (!ok || n > 65535) {
        char s[80];
        show(s, v, len);
        return strata_err_new(STRATA_E_INVALID, PORT_ACCEPTED,
                              "%s: bad value '%s' for mount.nfs.port", where, s);
    }
    *out = (int)n;
    return NULL;
}

/* Checks and stores one value; the single place that knows what each key
 * accepts, for the file, the environment and the flags alike. A rejected
 * value leaves the layer as it was. */
static strata_err *set_value(engine_os os, config_layer *l, config_key key, const char *v,
                             size_t len, const char *where, const config_env *env,
                             const char *base_dir)
{
    if (memchr(v, '\0', len))
        return strata_err_new(STRATA_E_INVALID, "remove the NUL byte (\\0) from the value",
                              "%s: the value of %s contains a NUL byte", where, key_path[key]);
    if (len == 0)
        return strata_err_new(STRATA_E_INVALID,
                              key == KEY_STORE        ? "give the store's directory, e.g. "
                                                        "~/.local/share/strata"
                              : key == KEY_ENABLED    ? ENABLED_ACCEPTED
                              : key == KEY_NFS_PORT   ? PORT_ACCEPTED
                              : os == ENGINE_OS_MACOS ? "use kext, fskit, nfs or none"
                                                      : "use fuse, nfs or none",
                              "%s: %s needs a value", where, key_path[key]);
    strata_err *e = NULL;
    switch (key) {
    case KEY_STORE:
        e = parse_store(v, len, where, env, base_dir, l->store);
        if (!e)
            l->has_store = true;
        break;
    case KEY_ENABLED:
        e = parse_enabled(v, len, where, &l->enabled);
        if (!e)
            l->has_enabled = true;
        break;
    case KEY_BACKEND:
        e = parse_backend(os, v, len, where, &l->backend);
        if (!e)
            l->has_backend = true;
        break;
    case KEY_NFS_PORT:
        e = parse_port(v, len, where, &l->nfs_port);
        if (!e)
            l->has_nfs_port = true;
        break;
    }
    return e;
}

strata_err *config_layer_set(engine_os os, config_layer *l, const char *key, const char *value,
                             const char *where, const config_env *env)
{
    for (size_t k = 0; k < sizeof(key_path) / sizeof(key_path[0]); k++)
        if (!strcmp(key, key_path[k]))
            return set_value(os, l, (config_key)k, value ? value : "", value ? strlen(value) : 0,
                             where, env, NULL);
    return strata_err_new(STRATA_E_INTERNAL, NULL, "unknown config key '%s'", key);
}

strata_err *config_from_env(engine_os os, const config_env *env, config_layer *out)
{
    memset(out, 0, sizeof(*out));
    const struct {
        const char *value;
        config_key key;
        const char *name;
    } vars[] = {
        {env->store, KEY_STORE, "STRATA_STORE"},
        {env->mount_enabled, KEY_ENABLED, "STRATA_MOUNT_ENABLED"},
        {env->mount_backend, KEY_BACKEND, "STRATA_MOUNT_BACKEND"},
        {env->mount_nfs_port, KEY_NFS_PORT, "STRATA_MOUNT_NFS_PORT"},
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = val(vars[i].value);
        if (!v)
            continue;
        strata_err *e = set_value(os, out, vars[i].key, v, strlen(v), vars[i].name, env, NULL);
        if (e)
            return e;
    }
    return NULL;
}

/* ---- the YAML file ----------------------------------------------------- */

typedef struct yaml_ctx {
    engine_os os;
    const char *name;
    const config_env *env;
    char base_dir[CONFIG_PATH_MAX];
    yaml_document_t *doc;
    config_layer *out;
} yaml_ctx;

static void where_of(const yaml_ctx *c, yaml_mark_t m, char *buf, size_t n)
{
    snprintf(buf, n, "%s:%zu:%zu", c->name, m.line + 1, m.column + 1);
}

/* YAML's null: an empty plain scalar, or ~ / null written plainly. */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    return len == 0 || is_word(v, len, "~") || is_word(v, len, "null");
}

static const char *type_name(const yaml_node_t *n)
{
    return n->type == YAML_SEQUENCE_NODE  ? "a list"
           : n->type == YAML_MAPPING_NODE ? "a mapping"
                                          : "a single value";
}

/* Accepted keys as "a, b, c" for a hint. */
static void join_keys(const char *const keys[], char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; keys[i] && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? ", " : "", keys[i]);
}

/* A scalar value for key, checked and stored. */
static strata_err *scalar_value(yaml_ctx *c, config_key key, const yaml_node_t *v)
{
    char where[CONFIG_PATH_MAX + 64];
    where_of(c, v->start_mark, where, sizeof(where));
    if (v->type != YAML_SCALAR_NODE) {
        char hint[160];
        snprintf(hint, sizeof(hint), "write it as '%s: VALUE' on one line", key_path[key]);
        return strata_err_new(STRATA_E_INVALID, hint, "%s: %s takes a single value, not %s", where,
                              key_path[key], type_name(v));
    }
    if (is_null(v))
        return set_value(c->os, c->out, key, "", 0, where, c->env, c->base_dir);
    return set_value(c->os, c->out, key, (const char *)v->data.scalar.value, v->data.scalar.length,
                     where, c->env, c->base_dir);
}

/* Walks the pairs of a mapping whose keys must be among keys[] (NULL
 * ended, at most 8), calling visit for each; path names the mapping in
 * messages ("" for the top level). */
typedef strata_err *(*visit_fn)(yaml_ctx *c, size_t key_index, const yaml_node_t *value);

static strata_err *walk_mapping(yaml_ctx *c, const yaml_node_t *m, const char *path,
                                const char *const keys[], visit_fn visit)
{
    char where[CONFIG_PATH_MAX + 64];
    char accepted[160];
    join_keys(keys, accepted, sizeof(accepted));
    if (is_null(m))
        return NULL; /* "mount:" alone: nothing set */
    if (m->type != YAML_MAPPING_NODE) {
        where_of(c, m->start_mark, where, sizeof(where));
        char hint[256];
        if (*path)
            snprintf(hint, sizeof(hint), "write '%s:' and then its keys (%s) indented below it",
                     path, accepted);
        else
            snprintf(hint, sizeof(hint), "write its keys (%s) one per line, as 'key: value'",
                     accepted);
        return strata_err_new(STRATA_E_INVALID, hint,
                              *path ? "%s: %s must be a mapping of keys, not %s"
                                    : "%s: the config must be a mapping of keys%s, not %s",
                              where, path, type_name(m));
    }
    const yaml_node_t *seen[8] = {NULL};
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        if (!k || !v)
            return strata_err_new(STRATA_E_INTERNAL, NULL, "%s: broken YAML document", c->name);
        where_of(c, k->start_mark, where, sizeof(where));
        char hint[256];
        snprintf(hint, sizeof(hint), "the keys %s%s are: %s", *path ? "under " : "at the top level",
                 path, accepted);
        if (k->type != YAML_SCALAR_NODE)
            return strata_err_new(STRATA_E_INVALID, hint, "%s: a key must be a plain name, not %s",
                                  where, type_name(k));
        const char *name = (const char *)k->data.scalar.value;
        size_t len = k->data.scalar.length;
        size_t i = 0;
        while (keys[i] && !(strlen(keys[i]) == len && !memcmp(keys[i], name, len)))
            i++;
        if (!keys[i]) {
            char s[80];
            show(s, name, len);
            return strata_err_new(STRATA_E_INVALID, hint, "%s: unknown key '%s%s%s'", where, path,
                                  *path ? "." : "", s);
        }
        if (seen[i]) {
            return strata_err_new(STRATA_E_INVALID, "keep one of them, and delete the other",
                                  "%s: duplicate key '%s%s%s' (first at line %zu)", where, path,
                                  *path ? "." : "", keys[i], seen[i]->start_mark.line + 1);
        }
        seen[i] = k;
        strata_err *e = visit(c, i, v);
        if (e)
            return e;
    }
    return NULL;
}

static const char *const nfs_keys[] = {"port", NULL};
static const char *const mount_keys[] = {"enabled", "backend", "nfs", NULL};
static const char *const root_keys[] = {"store", "mount", NULL};

static strata_err *visit_nfs(yaml_ctx *c, size_t i, const yaml_node_t *v)
{
    (void)i; /* only "port" */
    return scalar_value(c, KEY_NFS_PORT, v);
}

static strata_err *visit_mount(yaml_ctx *c, size_t i, const yaml_node_t *v)
{
    switch (i) {
    case 0:
        return scalar_value(c, KEY_ENABLED, v);
    case 1:
        return scalar_value(c, KEY_BACKEND, v);
    default:
        return walk_mapping(c, v, "mount.nfs", nfs_keys, visit_nfs);
    }
}

static strata_err *visit_root(yaml_ctx *c, size_t i, const yaml_node_t *v)
{
    if (i == 0)
        return scalar_value(c, KEY_STORE, v);
    return walk_mapping(c, v, "mount", mount_keys, visit_mount);
}

/* libyaml's own error, with its position, as ours. */
static strata_err *yaml_error(const yaml_ctx *c, const yaml_parser_t *p)
{
    const char *hint = "fix the YAML there: indent with spaces (not tabs), and quote values "
                       "that contain ': ' or ' #'";
    if (p->error == YAML_MEMORY_ERROR)
        return strata_err_new(STRATA_E_NOMEM, NULL, "%s: out of memory reading YAML", c->name);
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->error == YAML_READER_ERROR)
        return strata_err_new(STRATA_E_INVALID, "save the file as UTF-8 text",
                              "%s: invalid YAML at byte %zu: %s", c->name, p->problem_offset,
                              problem);
    char where[CONFIG_PATH_MAX + 64];
    where_of(c, p->problem_mark, where, sizeof(where));
    if (p->context)
        return strata_err_new(STRATA_E_INVALID, hint, "%s: invalid YAML: %s (%s at line %zu)",
                              where, problem, p->context, p->context_mark.line + 1);
    return strata_err_new(STRATA_E_INVALID, hint, "%s: invalid YAML: %s", where, problem);
}

/* Nesting deeper than any config needs (it needs 3), and more anchors than
 * one would write, are refused before the tree is built: libyaml's
 * scanner takes time quadratic in the depth of open flow collections
 * ("[[[[..." of 250 KB took minutes), and its loader in the number of
 * anchors (30,000 took seconds), while this event pass is linear and
 * stops at the limit. A syntax error here is left for the loader, which
 * reports it the same way. */
#define CONFIG_MAX_DEPTH   32
#define CONFIG_MAX_ANCHORS 256

static strata_err *check_depth(const yaml_ctx *c, const char *text, size_t len)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return strata_err_new(STRATA_E_NOMEM, NULL, "%s: out of memory reading YAML", c->name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    strata_err *e = NULL;
    int depth = 0, anchors = 0;
    for (bool done = false; !done && !e;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        const yaml_char_t *anchor =
            ev.type == YAML_SCALAR_EVENT           ? ev.data.scalar.anchor
            : ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
            : ev.type == YAML_MAPPING_START_EVENT  ? ev.data.mapping_start.anchor
                                                   : NULL;
        if (anchor && ++anchors > CONFIG_MAX_ANCHORS) {
            char where[CONFIG_PATH_MAX + 64];
            where_of(c, ev.start_mark, where, sizeof(where));
            e = strata_err_new(STRATA_E_INVALID, "write the values out instead of anchoring them",
                               "%s: more than %d YAML anchors", where, CONFIG_MAX_ANCHORS);
        }
        switch (ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > CONFIG_MAX_DEPTH && !e) {
                char where[CONFIG_PATH_MAX + 64];
                where_of(c, ev.start_mark, where, sizeof(where));
                e = strata_err_new(STRATA_E_INVALID,
                                   "a config needs three levels (mount, nfs, port): flatten it",
                                   "%s: nested more than %d levels deep", where, CONFIG_MAX_DEPTH);
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return e;
}

strata_err *config_parse(engine_os os, const char *name, const char *text, size_t len,
                         const config_env *env, config_layer *out)
{
    memset(out, 0, sizeof(*out));
    yaml_ctx c = {.os = os, .name = name, .env = env, .out = out};
    const char *slash = strrchr(name, '/');
    if (slash) {
        size_t n = slash == name ? 1 : (size_t)(slash - name);
        if (n >= sizeof(c.base_dir))
            n = sizeof(c.base_dir) - 1;
        memcpy(c.base_dir, name, n);
        c.base_dir[n] = '\0';
    }
    strata_err *e = check_depth(&c, text, len);
    if (e)
        return e;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return strata_err_new(STRATA_E_NOMEM, NULL, "%s: out of memory reading YAML", name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_document_t doc;
    if (!yaml_parser_load(&p, &doc)) {
        e = yaml_error(&c, &p);
        yaml_parser_delete(&p);
        memset(out, 0, sizeof(*out));
        return e;
    }
    c.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        e = walk_mapping(&c, root, "", root_keys, visit_root);
        if (!e) {
            /* The rest of the stream must be empty: a second document would
             * be silently ignored otherwise. */
            yaml_document_t more;
            if (!yaml_parser_load(&p, &more)) {
                e = yaml_error(&c, &p);
            } else {
                yaml_node_t *r2 = yaml_document_get_root_node(&more);
                if (r2) {
                    char where[CONFIG_PATH_MAX + 64];
                    where_of(&c, r2->start_mark, where, sizeof(where));
                    e = strata_err_new(STRATA_E_INVALID,
                                       "keep one document: remove the '---' and merge the keys",
                                       "%s: a second YAML document; the config is one", where);
                }
                yaml_document_delete(&more);
            }
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    if (e)
        memset(out, 0, sizeof(*out));
    return e;
}

/* ---- finding and reading the file -------------------------------------- */

void config_env_get(config_env *env)
{
    memset(env, 0, sizeof(*env));
    env->home = val(getenv("HOME"));
    if (!env->home) {
        struct passwd *pw = getpwuid(getuid());
        env->home = pw && pw->pw_dir && pw->pw_dir[0] ? pw->pw_dir : NULL;
    }
    env->xdg_config_home = val(getenv("XDG_CONFIG_HOME"));
    env->xdg_data_home = val(getenv("XDG_DATA_HOME"));
    env->config = val(getenv("STRATA_CONFIG"));
    env->store = val(getenv("STRATA_STORE"));
    env->mount_enabled = val(getenv("STRATA_MOUNT_ENABLED"));
    env->mount_backend = val(getenv("STRATA_MOUNT_BACKEND"));
    env->mount_nfs_port = val(getenv("STRATA_MOUNT_NFS_PORT"));
}

/* a + "/" + b into out; false when it does not fit. */
static bool join(char out[CONFIG_PATH_MAX], const char *a, const char *b)
{
    int n =
        snprintf(out, CONFIG_PATH_MAX, "%s%s%s", a, *a && a[strlen(a) - 1] == '/' ? "" : "/", b);
    return n > 0 && n < CONFIG_PATH_MAX;
}

size_t config_candidates(const char *cwd, const config_env *env, char out[2][CONFIG_PATH_MAX])
{
    size_t n = 0;
    const char *explicit = val(env->config);
    if (explicit) {
        bool ok;
        if (explicit[0] == '/' || !cwd || cwd[0] != '/')
            ok = snprintf(out[0], CONFIG_PATH_MAX, "%s", explicit) < CONFIG_PATH_MAX;
        else
            ok = join(out[0], cwd, explicit);
        return ok ? 1 : 0;
    }
    if (cwd && cwd[0] == '/' && join(out[n], cwd, "strata.yaml"))
        n++;
    const char *xdg = val(env->xdg_config_home);
    if (xdg && xdg[0] == '/') {
        if (join(out[n], xdg, "strata/config.yaml"))
            n++;
    } else if (val(env->home)) {
        if (join(out[n], env->home, ".config/strata/config.yaml"))
            n++;
    }
    return n;
}

strata_err *config_locate(const char *cwd, const config_env *env, bool (*exists)(const char *path),
                          char path[CONFIG_PATH_MAX], bool *found)
{
    char cand[2][CONFIG_PATH_MAX];
    size_t n = config_candidates(cwd, env, cand);
    *found = false;
    path[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (exists(cand[i])) {
            memcpy(path, cand[i], strlen(cand[i]) + 1);
            *found = true;
            return NULL;
        }
    }
    if (val(env->config))
        return strata_err_new(STRATA_E_NOTFOUND,
                              "point STRATA_CONFIG at an existing file, or unset it",
                              "STRATA_CONFIG: no config file at %s", n ? cand[0] : env->config);
    return NULL;
}

strata_err *config_load_file(engine_os os, const char *path, const config_env *env,
                             config_layer *out)
{
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return strata_err_sys(errno, "check that the config file is readable", "read config %s",
                              path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int err = errno;
        close(fd);
        return strata_err_sys(err, NULL, "read config %s", path);
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
        close(fd);
        return strata_err_new(STRATA_E_INVALID, "point it at a small YAML file",
                              "config %s is not a regular file under %d KiB", path,
                              CONFIG_FILE_MAX / 1024);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            free(buf);
            close(fd);
            return strata_err_sys(err, NULL, "read config %s", path);
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    strata_err *e = config_parse(os, path, buf, got, env, out);
    free(buf);
    return e;
}

/* ---- merging ------------------------------------------------------------ */

void config_defaults(engine_os os, const config_env *env, config_layer *out)
{
    memset(out, 0, sizeof(*out));
    const char *data = val(env->xdg_data_home);
    if (data)
        out->has_store = join(out->store, data, "strata");
    else if (val(env->home))
        out->has_store = join(out->store, env->home, ".local/share/strata");
    out->has_enabled = true;
    out->enabled = os == ENGINE_OS_MACOS ? CONFIG_ENABLED_FALSE : CONFIG_ENABLED_AUTO;
    out->has_nfs_port = true;
    out->nfs_port = 0;
}

strata_err *config_merge(const config_layer *defaults, const config_layer *file,
                         const config_layer *env, const config_layer *flags, engine_config *out)
{
    memset(out, 0, sizeof(*out));
    out->enabled = CONFIG_ENABLED_AUTO;
    const config_layer *layers[] = {defaults, file, env, flags};
    const config_origin origin[] = {CONFIG_FROM_DEFAULT, CONFIG_FROM_FILE, CONFIG_FROM_ENV,
                                    CONFIG_FROM_FLAGS};
    bool has_store = false;
    for (size_t i = 0; i < 4; i++) {
        const config_layer *l = layers[i];
        if (!l)
            continue;
        if (l->has_store) {
            memcpy(out->store, l->store, sizeof(out->store));
            out->store_from = origin[i];
            has_store = true;
        }
        if (l->has_enabled) {
            out->enabled = l->enabled;
            out->enabled_from = origin[i];
        }
        if (l->has_backend) {
            out->pinned = true;
            out->backend = l->backend;
            out->backend_from = origin[i];
        }
        if (l->has_nfs_port) {
            out->nfs_port = l->nfs_port;
            out->nfs_port_from = origin[i];
        }
    }
    if (!has_store)
        return strata_err_new(STRATA_E_NOTFOUND,
                              "set STRATA_STORE or pass --store DIR to say where the store is",
                              "cannot find a home directory for the default store");
    return NULL;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

strata_err *config_resolve(engine_os os, const char *cwd, const config_env *env,
                           const config_layer *flags, engine_config *out,
                           char file_path[CONFIG_PATH_MAX])
{
    config_layer defaults, file, envl;
    config_defaults(os, env, &defaults);
    bool found = false;
    strata_err *e = config_locate(cwd, env, file_exists, file_path, &found);
    if (e)
        return e;
    memset(&file, 0, sizeof(file));
    if (found && (e = config_load_file(os, file_path, env, &file)))
        return e;
    if ((e = config_from_env(os, env, &envl)))
        return e;
    return config_merge(&defaults, found ? &file : NULL, &envl, flags, out);
}
