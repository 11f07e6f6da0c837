#!/bin/sh
# mismatch.sh CNN MAKE_DATA OUT — processes that do not hold the same data,
# settings or model stop at the start, with a message naming the process
# that differs and what differs, printed once, and a non-zero status.
. "$(dirname "$0")/common.sh"
mkdir -p "$OUT/a" && "$MAKE_DATA" "$OUT/a" 60 20 || exit 1
cp -r "$OUT/a" "$OUT/b"
# one pixel of one training image differs
printf '\377' | dd of="$OUT/b/train-images-idx3-ubyte" bs=1 seek=5000 conv=notrunc 2>/dev/null
# run_on_1 WHAT ARGS1 ARGS2: process 1 gets ARGS2, the others ARGS1
check() {
    what=$1 expect=$2 a1=$3 a2=$4
    timeout 60 mpirun -np 2 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then a=$2; else a=$1; fi; exec "$0" train --epochs 1 --batch-size 20 $a' \
        "$CNN" "$a1" "$a2" >"$OUT/$what.txt" 2>&1
    rc=$?
    if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then fail "$what: exit status $rc, expected a failure: $(cat "$OUT/$what.txt")"; return; fi
    if ! grep -q "process 1 of 2 differs from process 0 in $expect" "$OUT/$what.txt"; then
        fail "$what: expected 'process 1 of 2 differs from process 0 in $expect', found: $(cat "$OUT/$what.txt")"
        return
    fi
    n=$(grep -c "differs from process 0" "$OUT/$what.txt")
    [ "$n" -eq 1 ] && pass "$what: stopped (status $rc), named once: $(grep differs "$OUT/$what.txt")" ||
        fail "$what: the message was printed $n times"
}
check data "the training data" "--data $OUT/a" "--data $OUT/b"
check settings "the settings" "--data $OUT/a --lr 0.1" "--data $OUT/a --lr 0.2"
check model "the model" "--data $OUT/a --model lenet" "--data $OUT/a --model lenet-bn"
check seed "the weights it starts from" "--data $OUT/a --init default" "--data $OUT/a --init xavier"
check isa "the instruction set" "--data $OUT/a --isa generic" "--data $OUT/a --isa avx2"
finish
