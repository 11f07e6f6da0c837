# common.sh — sourced by the multi-process tests: CNN (the tool), OUT (a
# fresh directory), MAKE_DATA; mpirun's settings for this machine.
set -u
CNN=$1 MAKE_DATA=$2 OUT=$3
rm -rf "$OUT" && mkdir -p "$OUT" || exit 1
# mpirun refuses root unless told; more processes than cores is allowed here;
# TCP between processes (as between hosts), never shared memory tricks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,tcp OMPI_MCA_mpi_yield_when_idle=1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
# same A B WHAT: the two files are byte for byte the same
same() {
    if cmp -s "$1" "$2"; then pass "$3"; else fail "$3: $1 and $2 differ ($(cmp "$1" "$2" 2>&1 | head -1))"; fi
}
finish() {
    if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
    echo "all passed"
}
