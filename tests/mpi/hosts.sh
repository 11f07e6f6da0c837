#!/bin/sh
# hosts.sh CNN MAKE_DATA OUT — processes on separate "hosts" (network
# namespaces joined by veth links, tests/mpi/netns.sh), so the gradients and
# batch-norm sums cross a real TCP/IP stack: 2 and 3 hosts, then 2 hosts on
# links limited to 1 Gbit/s, each bit-identical to one process. Needs root
# (ip netns); reports "skipped" without it.
. "$(dirname "$0")/common.sh"
NETNS="$(dirname "$0")/netns.sh"
export CNN_NETNS_PREFIX=cnnt
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! ip netns add cnnt-probe 2>/dev/null; then
    echo "skipped: network namespaces need root and iproute2"
    exit 77
fi
ip netns del cnnt-probe
trap 'sh "$NETNS" down 3 >/dev/null 2>&1' EXIT INT TERM
mkdir -p "$OUT/data" && "$MAKE_DATA" "$OUT/data" 240 60 || exit 1
args="--data $OUT/data --epochs 2 --batch-size 30 --shard-size 4 --lr 0.05 --random-flip --quiet -j 1"
hosts_run() { # N NAME MODEL
    timeout 120 sh "$NETNS" run "$1" -- "$CNN" train --model "$3" $args --save "$OUT/$2.st" >"$OUT/$2.txt" 2>&1 ||
        fail "$2: status $?: $(cat "$OUT/$2.txt")"
}
for model in lenet lenet-bn; do
    "$CNN" train --model $model $args --save "$OUT/$model-1.st" >/dev/null 2>&1 || fail "$model: one process"
done
sh "$NETNS" up 3 || { fail "could not make the namespaces"; finish; }
for model in lenet lenet-bn; do
    for n in 2 3; do
        hosts_run $n $model-h$n $model
        same "$OUT/$model-1.st" "$OUT/$model-h$n.st" "$model: $n hosts == 1 process"
    done
done
grep -h "examples/sec" "$OUT"/*-h*.txt
sh "$NETNS" up 2 --rate 1gbit || { fail "could not limit the links"; finish; }
hosts_run 2 lenet-bn-1gbit lenet-bn
same "$OUT/lenet-bn-1.st" "$OUT/lenet-bn-1gbit.st" "lenet-bn: 2 hosts on 1 Gbit/s links == 1 process"
tc -n cnnt1 qdisc show dev eth0 | grep -q tbf && pass "the links were limited (tc tbf)" || fail "no tbf on the link"
finish
