#!/bin/sh
# check_symbols.sh LIBCNN_SO CNN_H — the shared library exports exactly the
# public API: every dynamic symbol it defines must be a function or object
# declared in the public header (read through the preprocessor, so comments
# do not count). Anything else (a cnn__ internal, a helper without static)
# is listed and the check fails.
set -eu
lib=$1
header=$2
cc=${CC:-cc}
declared=$(mktemp)
exported=$(mktemp)
trap 'rm -f "$declared" "$exported"' EXIT
"$cc" -E -P -I "$(dirname "$header")" "$header" | grep -oE '\bcnn_[A-Za-z0-9_]+[[:space:]]*\(' |
    sed 's/[[:space:](]//g' | sort -u > "$declared"
nm -D --defined-only "$lib" | awk '{print $3}' | sort -u > "$exported"
n=$(wc -l < "$exported")
extra=$(comm -23 "$exported" "$declared")
if [ -n "$extra" ]; then
    echo "$lib exports $(echo "$extra" | wc -l) of $n symbols that $header does not declare:"
    echo "$extra" | sed 's/^/  /'
    exit 1
fi
if [ "$n" -eq 0 ]; then
    echo "$lib exports nothing (expected the public API)"
    exit 1
fi
echo "$lib: all $n exported symbols are declared in $header"
