#!/usr/bin/env bash
# Benchmark: cnn vs PyTorch side by side in one run, on every model in models/
# (or those of MODELS), on the same Fashion-MNIST IDX files:
#   - training examples/s at batch 256 (compute only, as d2l counts), 1 and 2 threads
#   - inference examples/s at batch 256 (eval mode, no gradients)
#   - latency of one forward at batch 1, 4 and 16, and the examples/s it gives
#   - the peak resident memory of each side's process (training + inference)
#   - the FP32 FMA peak of the widest vector unit, probed in the same run
#     (build/bench/fma_peak), and the fraction of it each cnn figure reaches
# cnn runs build/bench/bench_model (the public API: cnn_train, cnn_model_forward);
# PyTorch runs bench/torch_model.py on the same model text, with the same init
# (xavier_uniform_), optimizer (SGD), loss (cross-entropy), batch and data.
#
#   bash bench/run.sh [--quick] [--chapter]
#   MODELS="lenet vgg-small" THREADS="1 2" REPEAT=3 LATENCY=1,4,16 TSV=out.tsv bash bench/run.sh
#
# Every figure is the best of REPEAT rounds (3; --quick: 1 round of shorter
# measurements, a few minutes for all models). In each round every (model,
# threads) pair runs cnn and PyTorch one right after the other, the order
# alternating between rounds, then probes the FMA peak: the host may be shared
# and noisy, and a busy neighbour lowers whichever side runs beside it. Within
# a run each figure is that of the median step or forward (see bench_model.c).
# Before each measurement it waits (up to QUIET_WAIT=10 s) for the other
# processes to leave the CPUs under QUIET=25 % busy, and says how many
# measurements had to start anyway.
# A model that cannot take the images of DATA (another channel count or
# size) is skipped with cnn's message.
# The learning rate is the model file's own ("--lr X" in its comments, else
# 0.1, or LR); "--resize N" in its comments gives a 1 x N x N input.
# --chapter adds the chapter's LeNet over whole epochs (`cnn train` against
# bench/torch_lenet.py, d2l's code), wall time included.
#
# FLOP per example: the mult-adds of `cnn summary MODEL` x 2; a training
# example is 3 forwards (forward, input gradient, weight gradient) less the
# first layer's input gradient, which training never computes.
#
# Needs a build in build/ and the data in data/fashion-mnist (cnn data fetch).
# PyTorch (Debian's python3-torch) is optional: without it only cnn is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
CNN=./build/cnn
BENCH=./build/bench/bench_model
PEAK=./build/bench/fma_peak
DATA=${DATA:-data/fashion-mnist}
PY=${PY:-/usr/bin/python3}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-1 2}
LATENCY=${LATENCY:-1,4,16}
TRAIN_S=3 INFER_S=1.5 REPS=5 WARMUP=3
chapter=0
for a in "$@"; do
    case $a in
    --quick) REPEAT=1 TRAIN_S=1 INFER_S=0.6 REPS=3 WARMUP=2 QUIET_WAIT=${QUIET_WAIT:-6} ;;
    --chapter) chapter=1 ;;
    *) echo "usage: bash bench/run.sh [--quick] [--chapter]"; exit 2 ;;
    esac
done
for f in "$CNN" "$BENCH" "$PEAK"; do
    [ -x "$f" ] || { echo "bench: $f missing: build first (cmake --build build)"; exit 1; }
done
[ -e "$DATA/train-images-idx3-ubyte.gz" ] || [ -e "$DATA/train-images-idx3-ubyte" ] || "$CNN" data fetch
if [ -z "${MODELS:-}" ]; then
    MODELS=$(for f in models/*.txt; do basename "$f" .txt; done | LC_ALL=C sort)
fi
for m in $MODELS; do
    [ -f "models/$m.txt" ] || { echo "bench: no models/$m.txt"; exit 1; }
done
have_torch=0
"$PY" -c "import torch" 2>/dev/null && have_torch=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the machine, the build, the ISA -------------------------------------
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
[ -n "$cpu" ] || cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
has() { case " $flags " in *" $1 "*) echo "$1 yes" ;; *) echo "$1 no" ;; esac; }
echo "machine: $cpu, $(nproc) cores; CPU flags: $(has avx512f), $(has avx2), $(has fma)"
isa=$("$CNN" --version 2>/dev/null | sed -n 's/^isa:[[:space:]]*//p' | head -1)
if [ -z "$isa" ]; then
    # no run-time choice: the kernels are those the build's flags enabled; say
    # which vector registers the binary uses at all
    isa="chosen at build time (cnn --version names none)"
    if command -v objdump > /dev/null; then
        dis=$(objdump -d --no-show-raw-insn "$CNN")
        isa="$isa; instructions in build/cnn on zmm (16-lane) registers: $(grep -c '%zmm' <<< "$dis" || true), on ymm (8-lane): $(grep -c '%ymm' <<< "$dis" || true)"
    fi
fi
echo "cnn: $("$CNN" --version 2>/dev/null | head -1), ISA: $isa"
if [ -f build/CMakeCache.txt ]; then
    cache() { sed -n "s/^$1:[A-Z]*=//p" build/CMakeCache.txt | head -1; }
    bt=$(cache CMAKE_BUILD_TYPE)
    # the library's compile flags as the build uses them (Makefile generators), less warnings
    cflags=$(sed -n 's/^C_FLAGS = //p' build/CMakeFiles/cnn_objects.dir/flags.make 2>/dev/null |
        tr ' ' '\n' | grep -vE '^-W|^$' | paste -sd' ')
    echo "build: $bt, $(cache CMAKE_C_COMPILER) $("$(cache CMAKE_C_COMPILER)" -dumpfullversion 2>/dev/null || true), flags: ${cflags:-$(cache "CMAKE_C_FLAGS_$(echo "$bt" | tr a-z A-Z)")}"
fi
rev=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD 2>/dev/null || rev="$rev (with local changes)"
echo "source: $rev; $(date -u '+%Y-%m-%d %H:%M UTC')"
if [ $have_torch = 1 ]; then
    # ATen's own kernels use the "CPU capability" (AVX2 by default in 1.13);
    # oneDNN (MKL-DNN), which runs the convolutions, picks its own ISA.
    echo "pytorch: $("$PY" -c 'import torch; print(torch.__version__)'), $("$PY" -c 'import torch; print(torch.__config__.show())' |
        grep -oE 'CPU capability usage: [A-Z0-9_]+|MKL-DNN v[0-9.]+' | paste -sd, | sed 's/,/, /g')"
else
    echo "pytorch: not installed ($PY -c 'import torch' failed): cnn only"
fi
echo "batch 256 for training and inference; latency batches $LATENCY; best of $REPEAT interleaved rounds"
echo

# ---- measuring -----------------------------------------------------------
declare -A R  # R[side:model:threads:key] = best value over the rounds

# keep SIDE MODEL T FILE: fold a run's "key value" lines into R (the highest
# rate, the lowest latency, the largest RSS).
keep() {
    local k v id
    while read -r k v; do
        [[ $k =~ ^(train_examples_per_sec|infer_examples_per_sec|examples_per_sec_[0-9]+|latency_ms_[0-9]+|max_rss_kib)$ ]] || continue
        id="$1:$2:$3:$k"
        if [ -z "${R[$id]:-}" ]; then R[$id]=$v
        elif [[ $k == latency_ms_* ]]; then R[$id]=$(awk -v a="${R[$id]}" -v b="$v" 'BEGIN { print (b < a) ? b : a }')
        else R[$id]=$(awk -v a="${R[$id]}" -v b="$v" 'BEGIN { print (b > a) ? b : a }')
        fi
    done < "$4"
}

# busy: the percentage of all CPUs' time spent busy over half a second (between
# our measurements: other processes).
busy() {
    local c a b d e f g h i j
    read -r c a b d e f g h i j < /proc/stat
    local t0=$((a + b + d + e + f + g + h)) i0=$((e + f))
    sleep 0.5
    read -r c a b d e f g h i j < /proc/stat
    local t1=$((a + b + d + e + f + g + h)) i1=$((e + f))
    echo $(( t1 > t0 ? 100 - 100 * (i1 - i0) / (t1 - t0) : 0 ))
}
# quiet: wait up to QUIET_WAIT seconds for the host to be under QUIET % busy;
# counts the measurements that had to start on a busy host.
QUIET=${QUIET:-25} QUIET_WAIT=${QUIET_WAIT:-10}
runs=0 busy_runs=0
quiet() {
    local waited=0 b
    runs=$((runs + 1))
    [ -r /proc/stat ] || return 0
    while b=$(busy); [ "$b" -gt "$QUIET" ]; do
        if [ $waited -ge "$QUIET_WAIT" ]; then
            busy_runs=$((busy_runs + 1))
            return 0
        fi
        sleep 1
        waited=$((waited + 2))
    done
}

# run SIDE MODEL T: one measurement of one side.
run() {
    local side=$1 m=$2 t=$3 out="$tmp/$1.$2.$3"
    quiet
    local args=(--threads "$t" --lr "${lr[$m]}" --warmup "$WARMUP" --train-seconds "$TRAIN_S"
        --infer-seconds "$INFER_S" --reps "$REPS" --latency "$LATENCY" --data "$DATA")
    [ "${resize[$m]}" = 0 ] || args+=(--resize "${resize[$m]}")
    if [ "$side" = cnn ]; then
        "$BENCH" "models/$m.txt" "${args[@]}" > "$out" 2> "$out.err" || { echo "bench: cnn $m $t threads failed:"; cat "$out.err"; exit 1; }
    else
        "$PY" bench/torch_model.py "models/$m.txt" "${args[@]}" > "$out" 2> "$out.err" || { echo "bench: pytorch $m $t threads failed:"; cat "$out.err"; exit 1; }
    fi
    keep "$side" "$m" "$t" "$out"
}

# Each model once, briefly, on DATA: a model that cannot take DATA's images
# (another channel count or size) is skipped with cnn's message; the input
# shape it reports gives the FLOP count.
declare -A lr resize macs first
ok_models="" skipped=""
for m in $MODELS; do
    txt="models/$m.txt"
    lr[$m]=${LR:-$(grep '^[[:space:]]*#' "$txt" | grep -oE -- '--lr[ =][0-9.]+' | head -1 | grep -oE '[0-9.]+$' || true)}
    [ -n "${lr[$m]}" ] || lr[$m]=0.1
    resize[$m]=$(grep '^[[:space:]]*#' "$txt" | grep -oE -- '--resize[ =][0-9]+' | head -1 | grep -oE '[0-9]+$' || true)
    [ -n "${resize[$m]}" ] || resize[$m]=0
    probe=(--data "$DATA" --threads 1 --warmup 0 --train-seconds 0 --infer-seconds 0 --reps 1 --latency 1 --lr "${lr[$m]}")
    [ "${resize[$m]}" = 0 ] || probe+=(--resize "${resize[$m]}")
    if ! "$BENCH" "$txt" "${probe[@]}" > "$tmp/probe" 2>&1 || ! grep -q '^max_rss_kib' "$tmp/probe"; then
        skipped="$skipped$m: $(grep -m1 . "$tmp/probe" | cut -c1-300)"$'\n'
        continue
    fi
    ok_models="$ok_models $m"
    shape=$(sed -n 's/.*, input \([0-9]*\)x\([0-9]*\)x\([0-9]*\),.*/\1,\2,\3/p' "$tmp/probe" | head -1)
    # forward mult-adds per example, and those of the first layer
    read -r macs[$m] first[$m] < <("$CNN" summary "$txt" --input-shape "$shape" | awk '/Mult-Adds/ { on = 1; next } /Total mult-adds/ { on = 0 }
        on { v = $NF; gsub(",", "", v); if (v ~ /^[0-9]+$/) { sum += v; if (!seen) { first = v; seen = 1 } } }
        END { printf "%.0f %.0f\n", sum, first }')
done
MODELS=$ok_models
[ -z "$skipped" ] || printf "skipped (they do not take the images of %s):\n%s\n" "$DATA" "$skipped"
[ -n "$MODELS" ] || { echo "bench: no model to measure"; exit 1; }

declare -A peak
start=$(date +%s)
for rep in $(seq "$REPEAT"); do
    echo "round $rep/$REPEAT ($(( $(date +%s) - start )) s)" >&2
    for m in $MODELS; do
        for t in $THREADS; do
            sides="cnn pytorch"
            [ $have_torch = 1 ] || sides=cnn
            [ $((rep % 2)) = 1 ] || [ $have_torch = 0 ] || sides="pytorch cnn"
            for s in $sides; do run "$s" "$m" "$t"; done
            g=$("$PEAK" --threads "$t" 2>/dev/null | grep -oE '[0-9.]+ GFLOP' | grep -oE '[0-9.]+' || echo 0)
            peak[$t]=$(awk -v a="${peak[$t]:-0}" -v b="$g" 'BEGIN { print (b > a) ? b : a }')
        done
    done
done
echo "measured in $(( $(date +%s) - start )) s" >&2
[ $busy_runs = 0 ] || echo "note: $busy_runs of $runs measurements started with the host over $QUIET% busy after waiting ${QUIET_WAIT} s (other processes): their figures are low"

# ---- the tables ----------------------------------------------------------
lanes=$("$PEAK" --threads 1 2>/dev/null | grep -oE '[0-9]+ lanes \([a-z0-9+]+\)' || echo "no FMA unit found")
narrow=$("$PEAK" --threads 1 --isa avx2 2>/dev/null | grep -oE '[0-9.]+ GFLOP/s' || true)
for t in $THREADS; do
    echo "FMA peak, $t threads: ${peak[$t]} GFLOP/s ($lanes; the best probe of the run)"
done
[ -z "$narrow" ] || [[ $lanes != 16* ]] || echo "  (8-lane AVX2 FMAs reach $narrow with 1 thread)"
# T threads should reach close to T times one thread's peak; far less means
# other processes held cores through every probe, and through the T-thread
# measurements too: their figures, ratios and fractions of the peak are not
# the code's.
set -- $THREADS
for t in $THREADS; do
    awk -v a="${peak[$t]}" -v b="${peak[$1]}" -v t="$t" -v o="$1" 'BEGIN { if (t > o && a < 0.75 * b * t / o)
        printf "WARNING: the %s-thread peak is %.2fx the %s-thread one (expected about %dx): cores were taken by other processes throughout; %s-thread figures below are not measurements of the code\n", t, a / b, o, t / o, t }'
done
echo

get() { echo "${R[$1]:--}"; }
# ratio A B: A / B, or - when either is missing
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'; }
# pct RATE FLOP T: the fraction of the T-thread peak that RATE examples/s of FLOP each reach
pct() { awk -v r="$1" -v f="$2" -v p="${peak[$3]:-0}" 'BEGIN { if (r != "-" && p > 0) printf "%.1f%%", 100 * r * f / (p * 1e9); else print "-" }'; }
num() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else if (v >= 100) printf "%.0f", v; else if (v >= 1) printf "%.2f", v; else printf "%.4f", v }'; }
row() { printf "%-8s %-30s %12s %12s %12s %10s\n" "$@"; }
[ -z "${TSV:-}" ] || printf "model\tthreads\tmetric\tcnn\tpytorch\tratio\tcnn_peak_fraction\n" > "$TSV"
tsv() { [ -z "${TSV:-}" ] || printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$@" >> "$TSV"; }

for m in $MODELS; do
    fwd=$(awk -v m="${macs[$m]}" 'BEGIN { printf "%.0f", 2 * m }')
    trn=$(awk -v m="${macs[$m]}" -v f="${first[$m]}" 'BEGIN { printf "%.0f", 2 * (3 * m - f) }')
    echo "== $m: $(awk -v m="${macs[$m]}" 'BEGIN { printf "%.2f", m / 1e6 }') M mult-adds per forward, $(awk -v f="$trn" 'BEGIN { printf "%.2f", f / 1e6 }') MFLOP per training example, lr ${lr[$m]}$([ "${resize[$m]}" = 0 ] || echo ", input 1x${resize[$m]}x${resize[$m]}") =="
    row threads metric cnn pytorch "cnn/pytorch" "cnn %peak"
    for t in $THREADS; do
        for k in train_examples_per_sec infer_examples_per_sec; do
            c=$(get "cnn:$m:$t:$k") p=$(get "pytorch:$m:$t:$k")
            f=$([ $k = train_examples_per_sec ] && echo "$trn" || echo "$fwd")
            label=$([ $k = train_examples_per_sec ] && echo "train examples/s" || echo "infer examples/s (batch 256)")
            row "$t" "$label" "$(num "$c")" "$(num "$p")" "$(ratio "$c" "$p")" "$(pct "$c" "$f" "$t")"
            tsv "$m" "$t" "$k" "$c" "$p" "$(ratio "$c" "$p")" "$(pct "$c" "$f" "$t")"
        done
        for b in ${LATENCY//,/ }; do
            c=$(get "cnn:$m:$t:latency_ms_$b") p=$(get "pytorch:$m:$t:latency_ms_$b")
            # the ratio of latencies as a speed-up: PyTorch's time over cnn's
            row "$t" "batch $b latency ms (speed-up)" "$(num "$c")" "$(num "$p")" "$(ratio "$p" "$c")" ""
            tsv "$m" "$t" "latency_ms_$b" "$c" "$p" "$(ratio "$p" "$c")" ""
            c=$(get "cnn:$m:$t:examples_per_sec_$b") p=$(get "pytorch:$m:$t:examples_per_sec_$b")
            row "$t" "batch $b examples/s" "$(num "$c")" "$(num "$p")" "$(ratio "$c" "$p")" "$(pct "$c" "$fwd" "$t")"
            tsv "$m" "$t" "examples_per_sec_$b" "$c" "$p" "$(ratio "$c" "$p")" "$(pct "$c" "$fwd" "$t")"
        done
        c=$(get "cnn:$m:$t:max_rss_kib") p=$(get "pytorch:$m:$t:max_rss_kib")
        mib() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.0f", v / 1024 }'; }
        row "$t" "peak RSS MiB" "$(mib "$c")" "$(mib "$p")" "$(ratio "$c" "$p")" ""
        tsv "$m" "$t" "max_rss_kib" "$c" "$p" "$(ratio "$c" "$p")" ""
    done
    set -- $THREADS
    if [ $# -ge 2 ]; then
        echo "  $2 threads vs $1, training: cnn $(ratio "$(get "cnn:$m:$2:train_examples_per_sec")" "$(get "cnn:$m:$1:train_examples_per_sec")")x, pytorch $(ratio "$(get "pytorch:$m:$2:train_examples_per_sec")" "$(get "pytorch:$m:$1:train_examples_per_sec")")x"
    fi
    echo
done

# One line per model: the ratios the speed targets are stated in.
echo "summary (cnn/pytorch; latency as PyTorch's time over cnn's; RSS as cnn's over PyTorch's):"
printf "%-14s" model
for t in $THREADS; do printf " %9s" "train ${t}t" "infer ${t}t" "b1 lat ${t}t"; done
printf " %9s\n" "RSS"
for m in $MODELS; do
    printf "%-14s" "$m"
    for t in $THREADS; do
        printf " %9s" "$(ratio "$(get "cnn:$m:$t:train_examples_per_sec")" "$(get "pytorch:$m:$t:train_examples_per_sec")")" \
            "$(ratio "$(get "cnn:$m:$t:infer_examples_per_sec")" "$(get "pytorch:$m:$t:infer_examples_per_sec")")" \
            "$(ratio "$(get "pytorch:$m:$t:latency_ms_1")" "$(get "cnn:$m:$t:latency_ms_1")")"
    done
    set -- $THREADS
    printf " %9s\n" "$(ratio "$(get "cnn:$m:$1:max_rss_kib")" "$(get "pytorch:$m:$1:max_rss_kib")")"
done

[ $chapter = 1 ] || exit 0

# ---- the chapter's LeNet over whole epochs -------------------------------
# `cnn train` against bench/torch_lenet.py (d2l's train_ch6: DataLoader, test
# accuracy after each epoch), 2 epochs, best of REPEAT interleaved rounds.
echo
echo "the chapter's LeNet, cnn train vs bench/torch_lenet.py, 2 epochs, best of $REPEAT:"
field() { grep -oE "$2" "$tmp/$1.out" | tail -1 | grep -oE '[0-9]+(\.[0-9]+)?' | head -1; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
row threads metric cnn pytorch "cnn/pytorch" ""
for t in $THREADS; do
    c_train=0 c_wall=0 p_train=0 p_wall=0
    for rep in $(seq "$REPEAT"); do
        "$CNN" train --data "$DATA" --epochs 2 --threads "$t" --quiet > "$tmp/ch.out"
        c_train=$(max "$c_train" "$(field ch '[0-9.]+ examples/sec')")
        c_wall=$(max "$c_wall" "$(awk -v w="$(field ch '[0-9.]+ s wall')" 'BEGIN { printf "%.1f", 120000 / w }')")
        if [ $have_torch = 1 ]; then
            "$PY" bench/torch_lenet.py --data "$DATA" --epochs 2 --threads "$t" --quiet > "$tmp/tch.out"
            p_train=$(max "$p_train" "$(field tch '[0-9.]+ examples/sec')")
            p_wall=$(max "$p_wall" "$(awk -v w="$(field tch '[0-9.]+ s wall')" 'BEGIN { printf "%.1f", 120000 / w }')")
        fi
    done
    row "$t" "train examples/s (compute)" "$(num "$c_train")" "$(num "$p_train")" "$(ratio "$c_train" "$p_train")" ""
    row "$t" "train examples/s (wall)" "$(num "$c_wall")" "$(num "$p_wall")" "$(ratio "$c_wall" "$p_wall")" ""
done
