#!/bin/sh
# check_layers.sh — the source tree's floors, checked (README, "Where things are"):
#
#   cli -> train -> nn -> {ops, data, io} -> core
#
# A file under src/<floor>/ may include headers of its own folder and of
# floors below it; never of a floor above, and never sideways between ops,
# data and io; training reaches the kernels of ops/ only through nn/. src/cnn_internal.h belongs to core. The command line (src/cli)
# is a client of the public header alone: it includes "cnn.h" and its own
# headers, and CMakeLists.txt gives it no -I src. Exit 1 with every
# violation listed. Only src/ops/ includes <cblas.h>.
set -u
cd "$(dirname "$0")/.."

rank() {
    case "$1" in
    core) echo 1 ;;
    ops | data | io) echo 2 ;;
    nn) echo 3 ;;
    train) echo 4 ;;
    cli) echo 5 ;;
    *) echo 0 ;;
    esac
}

bad=0
for f in $(find src -name '*.[ch]' | sort); do
    floor=$(echo "$f" | cut -d/ -f2)
    case "$floor" in *.h | *.c) floor=core ;; esac
    own=$(rank "$floor")
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        case "$inc" in
        cnn.h) continue ;;
        cnn_internal.h) to=core ;;
        */*) to=${inc%%/*} ;;
        *) continue ;; # a header of the same folder
        esac
        if [ "$floor" = cli ]; then
            echo "$f: includes \"$inc\": the command line may include only \"cnn.h\" and its own headers"
            bad=1
            continue
        fi
        [ "$to" = "$floor" ] && continue
        if [ "$floor" = train ] && [ "$to" = ops ]; then
            echo "$f: includes \"$inc\": training reaches the kernels through nn/ (e.g. nn/loss.h)"
            bad=1
            continue
        fi
        r=$(rank "$to")
        if [ "$r" -eq 0 ] || [ "$r" -ge "$own" ]; then
            echo "$f: includes \"$inc\": $floor may not include $to (floors: cli -> train -> nn -> {ops, data, io} -> core)"
            bad=1
        fi
    done
done
# BLAS is a kernel matter: only src/ops/ calls it.
for f in $(grep -rl '#[[:space:]]*include[[:space:]]*<cblas.h>' src | grep -v '^src/ops/'); do
    echo "$f: includes <cblas.h>: only src/ops/ may call BLAS"
    bad=1
done
if grep -n 'target_include_directories(cnn PRIVATE' CMakeLists.txt; then
    echo "CMakeLists.txt: the cnn tool must be built from the public header alone (no -I src)"
    bad=1
fi
[ "$bad" -eq 0 ] && echo "layers: every include goes down the floors; the CLI uses the public header only"
exit "$bad"
