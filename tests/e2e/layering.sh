#!/usr/bin/env bash
# The layout is the architecture: a file under src/X/ may include headers
# only from X itself or from the layers below it (see DESIGN.md), and every
# .c file opens with a comment saying what it is for.
. "$(dirname "$0")/lib.sh"
src="$(cd "$(dirname "$0")/../.." && pwd)/src"
order=(base store layer vfs transport engine cli)
rank() {
    local i
    for i in "${!order[@]}"; do
        [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }
    done
    echo 99
}

bad=""
for f in "$src"/*/*.[ch] "$src"/*/*/*.[ch]; do
    [ -f "$f" ] || continue
    rel=${f#"$src"/}
    layer=${rel%%/*}
    mine=$(rank "$layer")
    while IFS= read -r inc; do
        dep=${inc%%/*}
        [ "$(rank "$dep")" -le "$mine" ] || bad="$bad
$rel includes $inc"
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | grep '/')
done
t_eq "no layer includes a layer above it" "" "$bad"

nohead=""
for f in "$src"/*/*.c "$src"/*/*/*.c; do
    [ -f "$f" ] || continue
    head -c 2 "$f" | grep -q '/\*' || nohead="$nohead ${f#"$src"/}"
done
t_eq "every .c file opens with a comment" "" "$nohead"

t_done
