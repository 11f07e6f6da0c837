#!/bin/sh
# kill.sh CNN MAKE_DATA OUT — faults. (1) kill -9 of one process: the job
# ends within 30 s with a non-zero status, the last checkpoint (process 0's)
# is intact, and --resume on 3 processes reaches the weights of an
# uninterrupted run, bit for bit. (2) SIGTERM to mpirun: a checkpoint is
# written and the job stops with a non-zero status; --resume on 4 processes
# reaches the same weights.
. "$(dirname "$0")/common.sh"
mkdir -p "$OUT/data" && "$MAKE_DATA" "$OUT/data" 1600 40 || exit 1
args="--model resnet-small --data $OUT/data --epochs 3 --batch-size 40 --shard-size 10 --lr 0.05 --quiet"
"$CNN" train $args -j 1 --save "$OUT/ref.st" >"$OUT/ref.txt" 2>&1 || { fail "reference: $(cat "$OUT/ref.txt")"; finish; }

# wait_for FILE: until it exists (at most 60 s)
wait_for() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$1" ]
}
now() { date +%s.%N; }
# elapsed T0 T1: seconds between, and whether under 30
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# (1) kill -9 process 1 after the first checkpoint
mpirun -np 2 sh -c 'echo $$ >"$0.$OMPI_COMM_WORLD_RANK"; exec "$1" train $2 --checkpoint "$3" --checkpoint-every 3' \
    "$OUT/pid" "$CNN" "$args" "$OUT/ck1" >"$OUT/kill.txt" 2>&1 &
job=$!
if wait_for "$OUT/ck1" && wait_for "$OUT/pid.1"; then
    sleep 0.3
    t0=$(now)
    kill -9 "$(cat "$OUT/pid.1")"
    # the job must end by itself within 30 s
    i=0
    while kill -0 $job 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    t1=$(now)
    kill -9 $job 2>/dev/null
    wait $job
    rc=$?
    took=$(elapsed "$t0" "$t1")
    if [ $rc -ne 0 ] && [ "${took%.*}" -lt 30 ]; then
        pass "kill -9 of process 1: the job ended in $took s with status $rc"
    else
        fail "kill -9 of process 1: status $rc after $took s: $(cat "$OUT/kill.txt")"
    fi
    grep -q "killed\|signal 9\|exited on signal" "$OUT/kill.txt" && pass "mpirun says a process was killed" ||
        fail "no message about the killed process: $(cat "$OUT/kill.txt")"
    mpirun -np 3 "$CNN" train $args --resume "$OUT/ck1" --save "$OUT/resumed3.st" >"$OUT/resume3.txt" 2>&1 ||
        fail "resume on 3 processes: $(cat "$OUT/resume3.txt")"
    same "$OUT/ref.st" "$OUT/resumed3.st" "resumed on 3 processes after kill -9 == uninterrupted"
else
    fail "no checkpoint appeared: $(cat "$OUT/kill.txt")"
    kill -9 $job 2>/dev/null
fi

# (2) SIGTERM to mpirun after the first checkpoint
mpirun -np 2 "$CNN" train $args --checkpoint "$OUT/ck2" --checkpoint-every 3 >"$OUT/term.txt" 2>&1 &
job=$!
if wait_for "$OUT/ck2"; then
    kill -TERM $job
    wait $job
    rc=$?
    [ $rc -ne 0 ] && pass "SIGTERM to mpirun: status $rc" || fail "SIGTERM to mpirun: status 0"
    grep -q "checkpoint written to" "$OUT/term.txt" && pass "SIGTERM: checkpoint written" ||
        fail "SIGTERM: no checkpoint message: $(cat "$OUT/term.txt")"
    mpirun -np 4 "$CNN" train $args --resume "$OUT/ck2" --save "$OUT/resumed4.st" >"$OUT/resume4.txt" 2>&1 ||
        fail "resume on 4 processes: $(cat "$OUT/resume4.txt")"
    same "$OUT/ref.st" "$OUT/resumed4.st" "resumed on 4 processes after SIGTERM == uninterrupted"
else
    fail "no checkpoint appeared: $(cat "$OUT/term.txt")"
    kill -9 $job 2>/dev/null
fi
finish
