/* Relative paths inside a tree: validation, ordering and joining.
 *
 * A tree path is relative, made of components separated by single '/'. No
 * component is empty, ".", ".." or longer than PATH_NAME_MAX, and no byte is
 * NUL. Paths are ordered component by component, which is the same as a
 * byte-wise order in which '/' sorts before every other byte: so a directory
 * is immediately followed by everything beneath it. */
#ifndef STRATA_BASE_PATH_H
#define STRATA_BASE_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define PATH_NAME_MAX 255  /* bytes in one component */
#define PATH_TREE_MAX 4095 /* bytes in a whole tree path */

/* A single component: non-empty, not "." or "..", no '/' or NUL, short. */
bool path_name_valid(const char *name, size_t len);

/* A whole tree path, as defined above. The error names the problem. */
strata_err *path_validate(const char *p, size_t len);

/* Tree order (see above): <0, 0, >0 like memcmp. */
int path_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* Length of the parent's path (0 for a top-level entry). */
size_t path_parent_len(const char *p, size_t len);

/* "a" + "b" -> "a/b"; either side may be empty. malloc'd; NULL when out of
 * memory. */
char *path_join(const char *a, const char *b);

/* Normalizes a path given by a user for use inside a tree: strips leading
 * and trailing '/', folds "//" and drops "." components. ".." is rejected.
 * "" and "/" mean the root and give "". Result is malloc'd into *out. */
strata_err *path_normalize(const char *in, char **out);

#endif
