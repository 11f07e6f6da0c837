#!/bin/sh
# same.sh CNN MAKE_DATA OUT — N processes give the weights of one, bit for bit:
# N = 2, 3, 4 for a model without batch norm (lenet) and three with it
# (lenet-bn, resnet-small, vgg-small: global batch statistics, Dropout),
# a batch of 30 that no N divides, shards of 4 (the last of 2), random
# flips and crops. Then the shard size is shown to matter (4 vs 8 differ:
# the comparison can fail), and 5 processes on 3 shards (2 idle) still agree.
. "$(dirname "$0")/common.sh"
mkdir -p "$OUT/data" && "$MAKE_DATA" "$OUT/data" 180 70 || exit 1
args="--data $OUT/data --epochs 2 --batch-size 30 --shard-size 4 --lr 0.05 --momentum 0.9 --random-flip --random-crop 2 --quiet"
for model in lenet lenet-bn resnet-small vgg-small; do
    "$CNN" train --model $model $args -j 1 --save "$OUT/$model-1.st" --log "$OUT/$model-1.jsonl" >"$OUT/$model-1.txt" 2>&1 ||
        { fail "$model: one process: $(cat "$OUT/$model-1.txt")"; continue; }
    for n in 2 3 4; do
        if ! mpirun -np $n "$CNN" train --model $model $args --save "$OUT/$model-$n.st" --log "$OUT/$model-$n.jsonl" \
            >"$OUT/$model-$n.txt" 2>&1; then
            fail "$model: $n processes: $(cat "$OUT/$model-$n.txt")"
            continue
        fi
        same "$OUT/$model-1.st" "$OUT/$model-$n.st" "$model: weights of $n processes == 1 process"
        # the figures of the log (loss, accuracies, learning rate) too
        for f in 1 $n; do sed 's/, "compute_seconds.*//' "$OUT/$model-$f.jsonl" >"$OUT/$model-$f.fig"; done
        same "$OUT/$model-1.fig" "$OUT/$model-$n.fig" "$model: per-epoch figures of $n processes == 1 process"
    done
done
# the gradients in buckets of 4 KiB or one per tensor, sent during the backward: the same weights
for opt in "--bucket-kb 0" "--bucket-kb 4 --overlap" "--bucket-kb 0 --overlap"; do
    for model in lenet-bn resnet-small; do
        mpirun -np 3 "$CNN" train --model $model $args $opt --save "$OUT/opt.st" >"$OUT/opt.txt" 2>&1 ||
            fail "$model $opt: $(cat "$OUT/opt.txt")"
        same "$OUT/$model-1.st" "$OUT/opt.st" "$model: 3 processes with $opt == 1 process"
    done
done
"$CNN" train --model lenet-bn $args --shard-size 8 -j 1 --save "$OUT/bn-s8.st" >/dev/null 2>&1
if cmp -s "$OUT/lenet-bn-1.st" "$OUT/bn-s8.st"; then fail "shard sizes 4 and 8 gave the same weights"; else pass "shard sizes 4 and 8 differ"; fi
mpirun -np 5 "$CNN" train --model lenet-bn ${args% --quiet} --shard-size 12 --save "$OUT/bn-5.st" >"$OUT/bn-5.txt" 2>&1 || fail "5 processes: $(cat "$OUT/bn-5.txt")"
"$CNN" train --model lenet-bn $args --shard-size 12 -j 2 --save "$OUT/bn-12.st" >/dev/null 2>&1
same "$OUT/bn-12.st" "$OUT/bn-5.st" "lenet-bn: 5 processes, 3 shards (2 processes idle) == 1 process"
grep -q "2 of the 5 processes have none" "$OUT/bn-5.txt" && pass "idle processes are noted" || fail "no note of idle processes: $(cat "$OUT/bn-5.txt")"
finish
