#!/bin/sh
# build.sh — build the libFuzzer targets and run each one for a while.
#
#   fuzz/build.sh [SECONDS]     build, then run every target SECONDS (default 60)
#   fuzz/build.sh 0             build only
#
# Targets: fuzz_idx, fuzz_png, fuzz_safetensors, fuzz_model_text, fuzz_jpeg, fuzz_cifar,
# fuzz_csv. Each is
# built with clang -fsanitize=fuzzer,address,undefined against the library
# sources (src/**/*.c except src/cli/). Runs start from fuzz/corpus/<target>
# (read only) with a scratch corpus in $BUILD/corpus/<target>; crash inputs
# are written to $BUILD/crash/<target>/. The reproducers of bugs found
# earlier, fuzz/corpus/crash/<target>/*, are replayed first. Exits non-zero if
# any reproducer or target crashes, leaks, times out or runs out of memory.
#
# Environment: CC (default clang-14 or clang), CNN_FUZZ_BUILD (default
# build-fuzz at the repository root), FUZZ_JOBS for parallel compilation.
set -eu

SECONDS_PER_TARGET=${1:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${CNN_FUZZ_BUILD:-$ROOT/build-fuzz}
if [ -z "${CC:-}" ]; then
    if command -v clang-14 >/dev/null 2>&1; then CC=clang-14; else CC=clang; fi
fi
TARGETS="fuzz_idx fuzz_png fuzz_safetensors fuzz_model_text fuzz_jpeg fuzz_cifar fuzz_csv"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fopenmp -Wall -Wno-unused-parameter -Wno-unused-function $SAN"
INC="-I$ROOT/include -I$ROOT/src"
LIBS="$(pkg-config --libs openblas) -lz $(pkg-config --libs libpng) -ljpeg -lm"

mkdir -p "$BUILD/obj"
echo "== compiling the library with $CC"
OBJS=""
for src in $(cd "$ROOT" && find src -name '*.c' ! -path 'src/cli/*' | sort); do
    obj="$BUILD/obj/$(echo "$src" | tr '/' '_' | sed 's/\.c$/.o/')"
    OBJS="$OBJS $obj"
    if [ ! -f "$obj" ] || [ "$ROOT/$src" -nt "$obj" ] || [ -n "$(find "$ROOT/include" "$ROOT/src" -name '*.h' -newer "$obj" 2>/dev/null | head -n 1)" ]; then
        echo "   $src"
        # the kernels are built once, generic (the library builds one per instruction set)
        DEFS=""
        case "$src" in src/ops/kernels/*) DEFS="-DCNN_ISA=generic" ;; esac
        $CC $CFLAGS $DEFS -fsanitize=fuzzer-no-link $INC -c "$ROOT/$src" -o "$obj"
    fi
done

for t in $TARGETS; do
    echo "== linking $t"
    $CC $CFLAGS -fsanitize=fuzzer $INC "$ROOT/fuzz/$t.c" $OBJS $LIBS -o "$BUILD/$t"
done

[ "$SECONDS_PER_TARGET" -gt 0 ] || exit 0

status=0
# Known crash reproducers (fuzz/corpus/crash/<target>/*) run first: each must
# now pass. They are kept out of the seed corpora so that a known bug does not
# stop the search for new ones.
for t in $TARGETS; do
    for f in "$ROOT"/fuzz/corpus/crash/"$t"/*; do
        [ -f "$f" ] || continue
        if "$BUILD/$t" -runs=1 "$f" >"$BUILD/$t.repro.log" 2>&1; then
            echo "== $t: reproducer $(basename "$f") passes"
        else
            status=1
            echo "== $t: reproducer $(basename "$f") still FAILS:"
            grep -E '^==[0-9]+==ERROR|SUMMARY|runtime error' "$BUILD/$t.repro.log" | head -n 3 | sed "s/^/   /"
        fi
    done
done

for t in $TARGETS; do
    mkdir -p "$BUILD/corpus/$t" "$BUILD/crash/$t"
    echo "== running $t for ${SECONDS_PER_TARGET}s"
    maxlen=65536
    [ "$t" = fuzz_safetensors ] && maxlen=262144 # LeNet's weights are a seed
    dict=""
    [ -f "$ROOT/fuzz/$t.dict" ] && dict="-dict=$ROOT/fuzz/$t.dict"
    if "$BUILD/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -max_len=$maxlen -print_final_stats=1 -artifact_prefix="$BUILD/crash/$t/" $dict \
        "$BUILD/corpus/$t" "$ROOT/fuzz/corpus/$t" >"$BUILD/$t.log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^Done' "$BUILD/$t.log" | sed "s/^/   /"
    else
        status=1
        echo "   FAILED: see $BUILD/$t.log and $BUILD/crash/$t/"
        grep -E '^==[0-9]+==ERROR|SUMMARY|runtime error|Test unit written' "$BUILD/$t.log" | head -n 5 | sed "s/^/   /"
    fi
done
exit $status
