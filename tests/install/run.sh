#!/usr/bin/env bash
# run.sh BUILD_DIR SOURCE_DIR — install cnn into a temporary prefix, move the
# prefix elsewhere (nothing may remember where it was installed), then use it
# as a user would:
#   - the installed cnn finds its models (no ./models, no CNN_MODELS_DIR) and
#     CNN_MODELS_DIR adds a directory; bash completion and the man page are
#     installed, and the man page lists every option of every --help;
#   - a C program built with pkg-config (shared, with the soname libcnn.so.0;
#     and fully static with --static), and with find_package(cnn CONFIG)
#     (cnn::cnn and cnn::cnn_static), runs;
#   - the same project with add_subdirectory(cnn source) builds and runs.
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
tmp=$(mktemp -d /tmp/cnn-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/first" >/dev/null
mv "$tmp/first" "$tmp/prefix"
p=$tmp/prefix
libdir=$(dirname "$(find "$p" -name libcnn.a | head -1)")
[ -f "$p/include/cnn.h" ] || fail "no include/cnn.h"
[ -f "$p/share/bash-completion/completions/cnn" ] || fail "no bash completion"
[ -f "$p/share/man/man1/cnn.1" ] || fail "no man page"
soname=$(readelf -d "$libdir/libcnn.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libcnn.so.0 ] || fail "libcnn.so's soname is '$soname', expected libcnn.so.0"

# The tool, from a directory without models/.
mkdir "$tmp/work" "$tmp/mymodels"
cd "$tmp/work"
out=$(env -u CNN_MODELS_DIR "$p/bin/cnn" summary lenet) || fail "installed cnn cannot find lenet: $out"
grep -q "Total params: 61,706" <<<"$out" || fail "cnn summary lenet: $out"
# ... and those are the installed ones, not the source tree's.
sed -i 's/nn.Linear(84, 10)/nn.Linear(84, 9)/' "$p/share/cnn/models/lenet.txt"
out=$(env -u CNN_MODELS_DIR "$p/bin/cnn" summary lenet) || fail "installed cnn: $out"
grep -q "Total params: 61,621" <<<"$out" || fail "cnn summary lenet did not read the installed lenet.txt: $out"
sed -i 's/nn.Linear(84, 9)/nn.Linear(84, 10)/' "$p/share/cnn/models/lenet.txt"
sed 's/nn.Linear(84, 10)/nn.Linear(84, 7)/' "$src/models/lenet.txt" >"$tmp/mymodels/mine.txt"
out=$(CNN_MODELS_DIR=$tmp/mymodels "$p/bin/cnn" summary mine) || fail "CNN_MODELS_DIR: $out"
grep -q "Total params: 61,451" <<<"$out" || fail "CNN_MODELS_DIR model: $out"
version=$("$p/bin/cnn" --version | head -1 | cut -d' ' -f2)
[ "$version" = "$(pkg-config --modversion "$libdir/pkgconfig/cnn.pc")" ] || fail "cnn --version says $version, cnn.pc another"
grep -q "^\.TH CNN 1 .*\"cnn $version\"" "$p/share/man/man1/cnn.1" || fail "cnn.1 is not of version $version"

# The man page has every long option of every command.
for cmd in train eval predict summary data; do
    for opt in $("$p/bin/cnn" "$cmd" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+'); do
        grep -qF -- "$(sed 's/-/\\-/g' <<<"$opt")" "$p/share/man/man1/cnn.1" || fail "cnn.1 lacks $cmd $opt"
    done
done

# Bash completion, from the installed script and the installed tool.
complete_line() { # words... -> the completions of the last one
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cnn; printf "%s\n" "${COMPREPLY[@]}"' \
        _ "$p/share/bash-completion/completions/cnn" "$@"
}
complete_line "$p/bin/cnn" tr | grep -qx train || fail "completion of 'cnn tr'"
complete_line "$p/bin/cnn" train --epo | grep -qx -- --epochs || fail "completion of 'cnn train --epo'"
complete_line "$p/bin/cnn" eval --wei | grep -qx -- --weights || fail "completion of 'cnn eval --wei'"
complete_line "$p/bin/cnn" train --optimizer ad | grep -qx adamw || fail "completion of --optimizer"
complete_line "$p/bin/cnn" train --model res | grep -qx resnet-small || fail "completion of --model (installed models)"

# pkg-config, with the moved prefix.
export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -o shared_pc "$src/tests/install/consumer.c" $(pkg-config --cflags --libs cnn) \
    -Wl,-rpath,"$(pkg-config --variable=libdir cnn)"
readelf -d shared_pc | grep -q 'NEEDED.*\[libcnn.so.0\]' || fail "shared_pc does not need libcnn.so.0"
./shared_pc "$p/share/cnn/models/lenet.txt"
cc -static -o static_pc "$src/tests/install/consumer.c" $(pkg-config --cflags cnn) \
    $(pkg-config --static --libs cnn) 2>static.log || { cat static.log >&2; fail "static link with pkg-config --static"; }
readelf -d static_pc 2>/dev/null | grep -q NEEDED && fail "static_pc needs shared libraries"
./static_pc "$p/share/cnn/models/lenet.txt"

# find_package(cnn CONFIG): cnn::cnn and cnn::cnn_static.
cmake -S "$src/tests/install/cmake_consumer" -B fp -DCMAKE_PREFIX_PATH="$p" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build fp >/dev/null
fp/consumer_shared "$p/share/cnn/models/lenet.txt"
fp/consumer_static "$p/share/cnn/models/lenet.txt"
readelf -d fp/consumer_shared | grep -q 'NEEDED.*\[libcnn.so.0\]' || fail "cnn::cnn is not libcnn.so.0"
readelf -d fp/consumer_static | grep -q 'NEEDED.*libcnn' && fail "cnn::cnn_static links libcnn.so"

# add_subdirectory(cnn): the same project with the source tree inside it.
if [ "${CNN_TEST_SUBDIRECTORY:-1}" = 1 ]; then
    cmake -S "$src/tests/install/cmake_consumer" -B sub -DCNN_SOURCE="$src" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build sub -j2 >/dev/null
    sub/consumer_static "$src/models/lenet.txt"
    sub/consumer_shared "$src/models/lenet.txt"
fi
echo "install test: prefix, tool, models, completion, man page, pkg-config (shared, static), find_package, add_subdirectory: ok"
