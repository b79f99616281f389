/* Parsers for macOS tool outputs and plists (see darwin_parse.h), pure so
 * that Linux tests can check them on recorded samples.
 *
 * Where the formats come from:
 * - sw_vers -productVersion prints the bare version ("14.6.1").
 * - kextstat, and kmutil showloaded that replaced it in macOS 11, print a
 *   table whose name column is "BUNDLE_ID (VERSION)".
 * - macFUSE's bundle keeps its version in Contents/Info.plist under
 *   CFBundleShortVersionString, as an XML plist.
 * - pluginkit -m prints one plug-in per line, "+    ID(VERSION)", the first
 *   column being the user's election (pluginkit(8)).
 * - dscl -read prints "Key: value value", continuing long values on lines
 *   that start with a space; dsmemberutil prints one sentence. */
#include <string.h>

#include "engine/darwin_parse.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The next whitespace-separated word in [*p, end), or false at the end. */
static bool next_word(const char **p, const char *end, const char **w, size_t *wl)
{
    const char *s = *p;
    while (s < end && is_space(*s))
        s++;
    if (s >= end)
        return false;
    const char *e = s;
    while (e < end && !is_space(*e))
        e++;
    *w = s;
    *wl = (size_t)(e - s);
    *p = e;
    return true;
}

static bool word_is(const char *w, size_t wl, const char *s)
{
    return wl == strlen(s) && memcmp(w, s, wl) == 0;
}

/* The end of the line that starts at s. */
static const char *line_end(const char *s, const char *end)
{
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    return nl ? nl : end;
}

bool darwin_parse_product_version(const char *text, size_t len, engine_version *v, char *str,
                                  size_t str_size)
{
    memset(v, 0, sizeof(*v));
    if (str_size)
        str[0] = '\0';
    const char *p = text, *w;
    size_t wl;
    if (!text || !next_word(&p, text + len, &w, &wl) || wl >= 32)
        return false;
    char buf[32];
    memcpy(buf, w, wl);
    buf[wl] = '\0';
    /* The whole word must be a version: "15.3.1", not "ProductVersion:". */
    for (size_t i = 0; i < wl; i++)
        if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.'))
            return false;
    if (!engine_version_parse(buf, v))
        return false;
    if (str_size) {
        size_t n = wl < str_size ? wl : str_size - 1;
        memcpy(str, buf, n);
        str[n] = '\0';
    }
    return true;
}

/* Decodes XML's predefined entities from [s, s+n) into out; false when
 * it does not fit or an entity is not one of them. */
static bool xml_unescape(const char *s, size_t n, char *out, size_t out_size)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        size_t used = 1;
        if (c == '&') {
            size_t k = 0;
            while (k < sizeof(ents) / sizeof(ents[0]) &&
                   !(n - i >= strlen(ents[k].ent) &&
                     memcmp(s + i, ents[k].ent, strlen(ents[k].ent)) == 0))
                k++;
            if (k == sizeof(ents) / sizeof(ents[0]))
                return false;
            c = ents[k].c;
            used = strlen(ents[k].ent);
        }
        if (o + 1 >= out_size)
            return false;
        out[o++] = c;
        i += used;
    }
    if (!out_size)
        return false;
    out[o] = '\0';
    return true;
}

bool darwin_parse_plist_string(const char *text, size_t len, const char *key, char *out,
                               size_t out_size)
{
    if (out_size)
        out[0] = '\0';
    if (!text || !key || len < 8 || !memcmp(text, "bplist", 6))
        return false;
    char pat[256];
    size_t klen = strlen(key);
    if (klen + 12 > sizeof(pat))
        return false;
    memcpy(pat, "<key>", 5);
    memcpy(pat + 5, key, klen);
    memcpy(pat + 5 + klen, "</key>", 6);
    size_t plen = klen + 11;
    const char *end = text + len;
    const char *k = memmem(text, len, pat, plen);
    if (!k)
        return false;
    const char *p = k + plen;
    while (p < end && is_space(*p))
        p++;
    static const char open[] = "<string>", close[] = "</string>";
    if ((size_t)(end - p) < sizeof(open) - 1 || memcmp(p, open, sizeof(open) - 1) != 0)
        return false;
    p += sizeof(open) - 1;
    const char *q = memmem(p, (size_t)(end - p), close, sizeof(close) - 1);
    if (!q)
        return false;
    /* Surrounding whitespace is not part of a version. */
    while (p < q && is_space(*p))
        p++;
    while (q > p && is_space(q[-1]))
        q--;
    return xml_unescape(p, (size_t)(q - p), out, out_size);
}

bool darwin_parse_macfuse_version(const char *text, size_t len, engine_version *v)
{
    char s[64];
    memset(v, 0, sizeof(*v));
    return darwin_parse_plist_string(text, len, "CFBundleShortVersionString", s, sizeof(s)) &&
           engine_version_parse(s, v);
}

bool darwin_parse_kext_loaded(const char *text, size_t len, const char *bundle_id,
                              engine_version *v)
{
    if (v)
        memset(v, 0, sizeof(*v));
    if (!text || !bundle_id || !*bundle_id)
        return false;
    const char *p = text, *end = text + len, *w;
    size_t wl;
    while (next_word(&p, end, &w, &wl)) {
        if (!word_is(w, wl, bundle_id))
            continue;
        /* The next word is "(VERSION)" in both tools' tables. */
        const char *q = p, *vw;
        size_t vl;
        if (v && next_word(&q, end, &vw, &vl) && vl > 2 && vw[0] == '(' && vw[vl - 1] == ')' &&
            vl < 40) {
            char buf[40];
            memcpy(buf, vw + 1, vl - 2);
            buf[vl - 2] = '\0';
            engine_version_parse(buf, v);
        }
        return true;
    }
    return false;
}

facts_fskit darwin_parse_pluginkit(const char *text, size_t len, const char *id_prefix)
{
    if (!text || !id_prefix || !*id_prefix)
        return FACTS_FSKIT_UNKNOWN;
    size_t plen = strlen(id_prefix);
    bool seen = false, enabled = false;
    const char *end = text + len;
    for (const char *s = text; s < end;) {
        const char *e = line_end(s, end);
        char election = s < e ? *s : '\n';
        if (election == '+' || election == '-' || election == '=' || election == '!' ||
            election == ' ') {
            const char *p = s + 1;
            while (p < e && (*p == ' ' || *p == '\t'))
                p++;
            if ((size_t)(e - p) >= plen && memcmp(p, id_prefix, plen) == 0) {
                seen = true;
                if (election == '+' || election == '!')
                    enabled = true;
            }
        }
        s = e < end ? e + 1 : end;
    }
    if (!seen)
        return FACTS_FSKIT_ABSENT;
    return enabled ? FACTS_FSKIT_ENABLED : FACTS_FSKIT_DISABLED;
}

bool darwin_parse_dscl_members(const char *text, size_t len, const char *user)
{
    static const char key[] = "GroupMembership:";
    if (!text || !user || !*user)
        return false;
    const char *end = text + len;
    for (const char *s = text; s < end;) {
        const char *e = line_end(s, end);
        if ((size_t)(e - s) >= sizeof(key) - 1 && memcmp(s, key, sizeof(key) - 1) == 0) {
            /* This line's values, then continuation lines (leading space). */
            const char *p = s + sizeof(key) - 1;
            for (;;) {
                const char *w;
                size_t wl;
                while (next_word(&p, e, &w, &wl))
                    if (word_is(w, wl, user))
                        return true;
                if (e >= end || e + 1 >= end || e[1] != ' ')
                    return false;
                p = e + 1;
                e = line_end(p, end);
            }
        }
        s = e < end ? e + 1 : end;
    }
    return false;
}

bool darwin_parse_id_groups(const char *text, size_t len, const char *group)
{
    if (!text || !group || !*group)
        return false;
    const char *p = text, *w;
    size_t wl;
    while (next_word(&p, text + len, &w, &wl))
        if (word_is(w, wl, group))
            return true;
    return false;
}

int darwin_parse_checkmembership(const char *text, size_t len)
{
    if (!text)
        return -1;
    if (memmem(text, len, "is not a member of the group", 28))
        return 0;
    if (memmem(text, len, "is a member of the group", 24))
        return 1;
    return -1;
}

const char *const darwin_abr_paths[] = {
    "/Applications/Admin By Request.app",
    "/Library/Application Support/Admin By Request",
    NULL,
};

bool darwin_abr_installed(const char *const present[], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!present[i])
            continue;
        /* Allow a trailing '/' from a directory listing. */
        size_t pl = strlen(present[i]);
        while (pl > 1 && present[i][pl - 1] == '/')
            pl--;
        for (size_t k = 0; darwin_abr_paths[k]; k++)
            if (strlen(darwin_abr_paths[k]) == pl && !memcmp(darwin_abr_paths[k], present[i], pl))
                return true;
    }
    return false;
}
