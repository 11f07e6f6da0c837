#!/usr/bin/env bash
# Benchmark: cnn vs PyTorch on the chapter's LeNet, same data, same batch size,
# in one run. Prints a table of ratios (training examples/sec compute-only and
# wall, inference examples/sec, peak RSS) for 1 and 2 threads, the achieved
# GFLOP/s against the FMA peak and the ceiling it sets, the same ratios for
# LeNet with ReLU and max pooling, and how cost grows with batch size and width.
#
#   bash bench/run.sh [--quick]       (EPOCHS=2 REPEAT=3 by default; --quick: 1 and 1)
#
# Each figure is the best of REPEAT interleaved rounds for each side.
#
# Needs a build in build/ and the data in data/fashion-mnist (cnn data fetch).
# PyTorch (Debian's python3-torch) is optional: without it only cnn is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
CNN=./build/cnn
DATA=data/fashion-mnist
PY=/usr/bin/python3
EPOCHS=${EPOCHS:-2}
REPEAT=${REPEAT:-3}
[ "${1:-}" = "--quick" ] && EPOCHS=1 REPEAT=1
[ -x "$CNN" ] || { echo "bench: build first (cmake --build build)"; exit 1; }
[ -e "$DATA/train-images-idx3-ubyte.gz" ] || [ -e "$DATA/train-images-idx3-ubyte" ] || "$CNN" data fetch
have_torch=0
"$PY" -c "import torch" 2>/dev/null && have_torch=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run LABEL CMD... : runs CMD under /usr/bin/time, keeps stdout and max RSS (KiB).
run() {
    local label=$1; shift
    /usr/bin/time -f "%M" -o "$tmp/$label.rss" "$@" > "$tmp/$label.out" 2> "$tmp/$label.err" ||
        { echo "bench: $label failed:"; cat "$tmp/$label.err"; exit 1; }
}
field() { grep -oE "$2" "$tmp/$1.out" | tail -1 | grep -oE '[0-9]+(\.[0-9]+)?' | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# FLOPs per training example: forward mult-adds from `cnn summary`, x2 FLOP per
# mult-add, x3 for forward + backward (input and weight gradients), less the
# first layer's input gradient, which training never computes.
read -r macs first_macs < <("$CNN" summary lenet | awk '/Mult-Adds/ { on = 1; next } /Total mult-adds/ { on = 0 }
    on { v = $NF; gsub(",", "", v); if (v ~ /^[0-9]+$/) { sum += v; if (!first) first = v } }
    END { printf "%.6f %.6f\n", sum / 1e6, first / 1e6 }')
flop_per_example=$(awk -v m="$macs" -v f="$first_macs" 'BEGIN { printf "%.0f", (3 * m - f) * 1e6 * 2 }')
mhz=$(grep -m1 -oE 'cpu MHz\s*:\s*[0-9.]+' /proc/cpuinfo | grep -oE '[0-9.]+$' || echo 0)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, ${mhz} MHz"
echo "LeNet: ${macs} M mult-adds forward per example, ~$(awk -v f="$flop_per_example" 'BEGIN{printf "%.2f", f/1e6}') MFLOP per training example"
echo "epochs per measurement: $EPOCHS, batch 256, best of $REPEAT interleaved rounds"
echo

printf "%-8s %-28s %12s %12s %8s\n" threads metric cnn pytorch ratio
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
for t in 1 2; do
    c_train=0 c_wall=0 c_inf=0 c_rss=0 p_train=0 p_wall=0 p_inf=0 p_rss=0 peak=0
    # REPEAT rounds, cnn and PyTorch one after the other in each: the best
    # throughput of each side and the largest RSS (the host is shared and noisy).
    for rep in $(seq "$REPEAT"); do
        run cnn$t "$CNN" train --data "$DATA" --epochs "$EPOCHS" --threads "$t" --quiet --save "$tmp/w.safetensors"
        run cnneval$t "$CNN" eval --data "$DATA" --threads "$t" --weights "$tmp/w.safetensors"
        c_train=$(max "$c_train" "$(field cnn$t '[0-9.]+ examples/sec')")
        c_wall=$(max "$c_wall" "$(awk -v e="$EPOCHS" -v w="$(field cnn$t '[0-9.]+ s wall')" 'BEGIN { printf "%.1f", 60000 * e / w }')")
        c_inf=$(max "$c_inf" "$(field cnneval$t '[0-9.]+ images/sec')")
        c_rss=$(max "$c_rss" "$(cat "$tmp/cnn$t.rss")")
        if [ $have_torch = 1 ]; then
            run torch$t "$PY" bench/torch_lenet.py --data "$DATA" --epochs "$EPOCHS" --threads "$t" --quiet
            json=$(tail -1 "$tmp/torch$t.out")
            p_train=$(max "$p_train" "$(echo "$json" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["train_examples_per_sec"])')")
            p_wall=$(max "$p_wall" "$(echo "$json" | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(60000*$EPOCHS/d['wall_seconds'])")")
            p_inf=$(max "$p_inf" "$(echo "$json" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["infer_examples_per_sec"])')")
            p_rss=$(max "$p_rss" "$(cat "$tmp/torch$t.rss")")
        fi
        peak=$(max "$peak" "$(./build/bench/fma_peak --threads "$t" 2>/dev/null | grep -oE '[0-9.]+ GFLOP' |
            grep -oE '[0-9.]+' || echo 0)")
    done
    printf "%-8s %-28s %12.0f %12.0f %8s\n" "$t" "train examples/s (compute)" "$c_train" "$p_train" "$(ratio "$c_train" "$p_train")"
    printf "%-8s %-28s %12.0f %12.0f %8s\n" "$t" "train examples/s (wall)" "$c_wall" "$p_wall" "$(ratio "$c_wall" "$p_wall")"
    printf "%-8s %-28s %12.0f %12.0f %8s\n" "$t" "inference examples/s" "$c_inf" "$p_inf" "$(ratio "$c_inf" "$p_inf")"
    printf "%-8s %-28s %12s %12s %8s\n" "$t" "peak RSS (MiB)" "$((c_rss / 1024))" "$((p_rss / 1024))" "$(ratio "$p_rss" "$c_rss")x less"
    gflops=$(awk -v r="$c_train" -v f="$flop_per_example" 'BEGIN { printf "%.1f", r * f / 1e9 }')
    # the FMA peak measured in each round (turbo clock; the highest, as a busy
    # neighbour lowers a probe), else cores x 32 FLOP/cycle x the nominal clock
    [ "$peak" != 0 ] || peak=$(awk -v t="$t" -v m="$mhz" 'BEGIN { printf "%.1f", t * 32 * m / 1e3 }')
    echo "         cnn: $gflops GFLOP/s of a $peak GFLOP/s FMA peak ($t threads, bench/fma_peak): $(awk -v g="$gflops" -v p="$peak" 'BEGIN { if (p > 0) printf "%.0f%%", 100 * g / p; else print "-" }')"
    # The ceiling: every FLOP at the peak and nothing else (no activation,
    # pooling or copy costs anything), and the fraction of the peak that 5x
    # PyTorch's examples/sec would take.
    if [ $have_torch = 1 ]; then
        awk -v p="$peak" -v f="$flop_per_example" -v m="$macs" -v pt="$p_train" -v pi="$p_inf" 'BEGIN {
            if (p <= 0 || pt <= 0 || pi <= 0) exit
            tr = p * 1e9 / f; inf = p * 1e9 / (2 * m * 1e6)
            printf "         at the peak: %.0f training examples/s (%.2fx PyTorch), %.0f inference (%.2fx);\n", tr, tr / pt, inf, inf / pi
            printf "         5x PyTorch takes %.0f%% of the peak in training, %.0f%% in inference\n", 500 * pt * f / (p * 1e9), 500 * pi * 2 * m * 1e6 / (p * 1e9) }'
    fi
    eval "c_train_$t=$c_train"
done
echo "cnn 2 threads vs 1 thread: $(ratio "$c_train_2" "$c_train_1")x"
echo

# The chapter's LeNet in its modern form (ReLU, MaxPool2d(2); lr 0.1), one
# epoch per measurement, the same rounds as above.
echo "LeNet with ReLU and max pooling (models/lenet-modern.txt), 1 epoch, best of $REPEAT:"
printf "%-8s %-28s %12s %12s %8s\n" threads metric cnn pytorch ratio
for t in 1 2; do
    c_train=0 c_inf=0 p_train=0 p_inf=0
    for rep in $(seq "$REPEAT"); do
        run modern$t "$CNN" train --model models/lenet-modern.txt --lr 0.1 --data "$DATA" --epochs 1 --threads "$t" \
            --quiet --save "$tmp/m.safetensors"
        run moderneval$t "$CNN" eval --model models/lenet-modern.txt --data "$DATA" --threads "$t" \
            --weights "$tmp/m.safetensors"
        c_train=$(max "$c_train" "$(field modern$t '[0-9.]+ examples/sec')")
        c_inf=$(max "$c_inf" "$(field moderneval$t '[0-9.]+ images/sec')")
        if [ $have_torch = 1 ]; then
            run tmodern$t "$PY" bench/torch_lenet.py --model lenet-modern --lr 0.1 --data "$DATA" --epochs 1 \
                --threads "$t" --quiet
            json=$(tail -1 "$tmp/tmodern$t.out")
            p_train=$(max "$p_train" "$(echo "$json" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["train_examples_per_sec"])')")
            p_inf=$(max "$p_inf" "$(echo "$json" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["infer_examples_per_sec"])')")
        fi
    done
    printf "%-8s %-28s %12.0f %12.0f %8s\n" "$t" "train examples/s (compute)" "$c_train" "$p_train" "$(ratio "$c_train" "$p_train")"
    printf "%-8s %-28s %12.0f %12.0f %8s\n" "$t" "inference examples/s" "$c_inf" "$p_inf" "$(ratio "$c_inf" "$p_inf")"
done
echo

echo "cost vs batch size (cnn, 2 threads, training examples/s, compute only):"
for b in 1 16 64 256 1024; do
    steps=$(( 20000 / b > 0 ? 20000 / b : 1 ))
    [ $b = 1 ] && steps=3000
    run batch$b "$CNN" train --data "$DATA" --epochs 1 --batch-size $b --max-steps $steps --threads 2 --quiet
    printf "  batch %-5s %10.0f examples/s\n" $b "$(field batch$b '[0-9.]+ examples/sec')"
done
echo
if [ -f models/lenet-wide.txt ]; then
    echo "wider network (models/lenet-wide.txt, 4x channels), 2 threads:"
    run wide "$CNN" train --model models/lenet-wide.txt --data "$DATA" --epochs 1 --threads 2 --quiet
    printf "  cnn %10.0f examples/s\n" "$(field wide '[0-9.]+ examples/sec')"
fi
