/* Tree-path rules shared by the manifest codec, import, export and the CLI,
 * so that every layer agrees on what a valid name is. */
#include "base/path.h"

#include <stdlib.h>
#include <string.h>

bool path_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > PATH_NAME_MAX)
        return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '/' || name[i] == '\0')
            return false;
    return true;
}

strata_err *path_validate(const char *p, size_t len)
{
    if (len == 0)
        return strata_err_new(STRATA_E_INVALID, NULL, "empty path");
    if (len > PATH_TREE_MAX)
        return strata_err_new(STRATA_E_INVALID, NULL, "path of %zu bytes is longer than %d", len,
                              PATH_TREE_MAX);
    if (p[0] == '/')
        return strata_err_new(STRATA_E_INVALID, NULL, "absolute path '%.*s'", (int)len, p);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] == '\0')
            return strata_err_new(STRATA_E_INVALID, NULL, "path contains a NUL byte");
        if (i == len || p[i] == '/') {
            size_t n = i - start;
            if (n == 0)
                return strata_err_new(STRATA_E_INVALID, NULL, "empty component in '%.*s'", (int)len,
                                      p);
            if (n == 2 && p[start] == '.' && p[start + 1] == '.')
                return strata_err_new(STRATA_E_INVALID, NULL, "'..' in path '%.*s'", (int)len, p);
            if (!path_name_valid(p + start, n))
                return strata_err_new(STRATA_E_INVALID, NULL, "invalid component in '%.*s'",
                                      (int)len, p);
            start = i + 1;
        }
    }
    return NULL;
}

int path_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++) {
        unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[i];
        if (ca == cb)
            continue;
        /* '/' sorts first, so a directory precedes its siblings' names
         * that merely share its prefix ("a/b" < "a.txt"). */
        if (ca == '/')
            return -1;
        if (cb == '/')
            return 1;
        return ca < cb ? -1 : 1;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

size_t path_parent_len(const char *p, size_t len)
{
    while (len > 0 && p[len - 1] != '/')
        len--;
    return len > 0 ? len - 1 : 0;
}

char *path_join(const char *a, const char *b)
{
    size_t al = strlen(a), bl = strlen(b);
    char *s = malloc(al + bl + 2);
    if (!s)
        return NULL;
    memcpy(s, a, al);
    size_t n = al;
    if (al && bl)
        s[n++] = '/';
    memcpy(s + n, b, bl);
    s[n + bl] = '\0';
    return s;
}

strata_err *path_normalize(const char *in, char **out)
{
    size_t len = strlen(in);
    char *s = malloc(len + 1);
    if (!s)
        return strata_err_new(STRATA_E_NOMEM, NULL, "out of memory");
    size_t n = 0;
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t cl = (size_t)(e - p);
        if (cl == 0)
            break;
        if (cl == 2 && p[0] == '.' && p[1] == '.') {
            free(s);
            return strata_err_new(STRATA_E_INVALID,
                                  "name the path from the layer's root, "
                                  "without '..'",
                                  "path '%s' contains '..'", in);
        }
        if (!(cl == 1 && p[0] == '.')) {
            if (n)
                s[n++] = '/';
            memcpy(s + n, p, cl);
            n += cl;
        }
        p = e;
    }
    s[n] = '\0';
    if (n > PATH_TREE_MAX) {
        free(s);
        return strata_err_new(STRATA_E_INVALID, NULL, "path '%.40s...' is too long", in);
    }
    *out = s;
    return NULL;
}
