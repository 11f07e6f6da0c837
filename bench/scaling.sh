#!/bin/sh
# scaling.sh [OUT.tsv] — data-parallel training speed on this machine
# (docs/SCALING.md): for lenet, resnet-small and vgg-small on Fashion-MNIST
# (`cnn data fetch` first), batch 256:
#   - the time of one shard alone (1 process, 1 thread) for shard sizes
#     16..128: the compute side of the cost model (bench/scaling_model.py)
#   - 1 process x 1 thread, 1 process x 2 threads, 2 processes x 1 thread
#   - 2 and 3 "hosts" (network namespaces, tests/mpi/netns.sh; root) on links
#     of 10 Gbit/s, 1 Gbit/s and 100 Mbit/s (tc tbf), with and without
#     --overlap, and with one message per tensor / 1 MiB buckets / one bucket
# One TSV row per run: model procs threads link overlap bucket_kb shard
# examples_per_s exchange_pct grad_pct. Run as root; takes about 20 minutes.
set -u
cd "$(dirname "$0")/.."
OUT=${1:-build/scaling.tsv}
CNN=${CNN:-build/cnn}
NETNS=tests/mpi/netns.sh
export CNN_NETNS_PREFIX=cnnb OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,tcp OMPI_MCA_mpi_yield_when_idle=1
DATA=build/scaling-data
# the training set as it is, a test set of 512 images (evaluation is not timed, only waited for)
mkdir -p "$DATA"
ln -sf "$PWD/data/fashion-mnist/train-images-idx3-ubyte.gz" "$DATA/" 2>/dev/null
ln -sf "$PWD/data/fashion-mnist/train-labels-idx1-ubyte.gz" "$DATA/" 2>/dev/null
for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do
    [ -e "data/fashion-mnist/$f" ] && ln -sf "$PWD/data/fashion-mnist/$f" "$DATA/$f"
done
{ printf '\000\000\010\003\000\000\002\000\000\000\000\034\000\000\000\034'
  (gzip -dc data/fashion-mnist/t10k-images-idx3-ubyte.gz 2>/dev/null || cat data/fashion-mnist/t10k-images-idx3-ubyte) |
      tail -c +17 | head -c 401408; } >"$DATA/t10k-images-idx3-ubyte"
{ printf '\000\000\010\001\000\000\002\000'
  (gzip -dc data/fashion-mnist/t10k-labels-idx1-ubyte.gz 2>/dev/null || cat data/fashion-mnist/t10k-labels-idx1-ubyte) |
      tail -c +9 | head -c 512; } >"$DATA/t10k-labels-idx1-ubyte"

steps() { case $1 in lenet) echo 80 ;; *) echo 8 ;; esac; }
printf 'model\tprocs\tthreads\tlink\toverlap\tbucket_kb\tshard\texamples_per_s\texchange_pct\tgrad_pct\n' >"$OUT"
# row MODEL PROCS THREADS LINK OVERLAP BUCKET SHARD OUTPUT-FILE
row() {
    r=$(grep "examples/sec" "$8" | sed 's/ examples.*//')
    x=$(grep -o '[0-9]*% of it exchanging' "$8" | sed 's/%.*//')
    g=$(grep -o '[0-9]*% gradients' "$8" | sed 's/%.*//')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "${r:-?}" "${x:-0}" "${g:-0}" >>"$OUT"
    tail -1 "$OUT"
}
train() { # MODEL SHARD [extra options]: the options of every run
    m=$1 s=$2; shift 2
    echo "--model $m --data $DATA --batch-size 256 --epochs 1 --max-steps $(steps $m) --shard-size $s --lr 0.1 --quiet $*"
}
t=build/scaling.out
# LOCAL=0: only the runs on namespace hosts
[ "${LOCAL:-1}" = 0 ] || for m in lenet resnet-small vgg-small; do
    for s in 16 32 64 128; do
        $CNN train $(train $m $s) -j 1 >$t 2>&1; row $m 1 1 none - - $s $t
    done
    $CNN train $(train $m 128) -j 2 >$t 2>&1; row $m 1 2 none - - 128 $t
    $CNN train $(train $m 0) -j 2 >$t 2>&1; row $m 1 2 none - - 0 $t
    mpirun -np 2 --bind-to none $CNN train $(train $m 128) -j 1 >$t 2>&1; row $m 2 1 local - 1024 128 $t
done
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
    for link in none 10gbit 1gbit 100mbit; do
        for n in 2 3; do
            if [ $link = none ]; then sh $NETNS up $n; else sh $NETNS up $n --rate $link; fi
            shard=128; [ $n = 3 ] && shard=64
            for m in lenet resnet-small vgg-small; do
                for ov in 0 1; do
                    o=; [ $ov = 1 ] && o=--overlap
                    timeout 300 sh $NETNS run $n -- $CNN train $(train $m $shard $o) -j 1 >$t 2>&1
                    row $m $n 1 $link $ov 1024 $shard $t
                done
                if [ $n = 2 ] && [ $link = 1gbit ]; then
                    for b in 0 1048576; do
                        timeout 300 sh $NETNS run 2 -- $CNN train $(train $m 128 --bucket-kb $b) -j 1 >$t 2>&1
                        row $m 2 1 $link 0 $b 128 $t
                    done
                fi
            done
        done
    done
    sh $NETNS down 3
fi
echo "wrote $OUT"
