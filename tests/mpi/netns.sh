#!/bin/sh
# netns.sh — "hosts" on one machine: network namespaces joined by veth links
# to a bridge, and mpirun launching into them through `ip netns exec`
# instead of ssh, so that every byte between processes crosses a real TCP/IP
# stack (root only).
#
#   netns.sh up N [--rate R] [--delay D]  make hosts PREFIX1..N (10.77.0.1..N),
#                                         links limited to rate R (tc tbf,
#                                         e.g. 1gbit; bursts of 32 KiB at most,
#                                         so a small gradient cannot pass at
#                                         line rate) and delay D (tc netem)
#   netns.sh run N [mpirun options] -- CMD...   one process per host
#   netns.sh down N
# PREFIX is $CNN_NETNS_PREFIX (default cnnh).
set -eu
P=${CNN_NETNS_PREFIX:-cnnh}
BR=${P}br
here=$(cd "$(dirname "$0")" && pwd)

up() {
    n=$1; shift
    rate= delay=
    while [ $# -gt 0 ]; do
        case $1 in
        --rate) rate=$2; shift 2 ;;
        --delay) delay=$2; shift 2 ;;
        *) echo "netns.sh: unknown option $1" >&2; exit 2 ;;
        esac
    done
    down "$n" 2>/dev/null || true
    ip link add "$BR" type bridge
    ip addr add 10.77.0.254/24 dev "$BR"
    ip link set "$BR" up
    k=1
    while [ $k -le "$n" ]; do
        ns=$P$k
        ip netns add "$ns"
        ip link add "${P}v$k" type veth peer name eth0 netns "$ns"
        ip link set "${P}v$k" master "$BR" up
        ip -n "$ns" addr add "10.77.0.$k/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
        # what leaves each host: a rate (token bucket) and a delay
        if [ -n "$delay" ]; then
            tc -n "$ns" qdisc add dev eth0 root handle 1: netem delay "$delay" ${rate:+rate $rate}
        elif [ -n "$rate" ]; then
            tc -n "$ns" qdisc add dev eth0 root tbf rate "$rate" burst 32kb latency 50ms
        fi
        k=$((k + 1))
    done
}

down() {
    n=$1
    k=1
    while [ $k -le "$n" ]; do
        ip netns del "$P$k" 2>/dev/null || true
        ip link del "${P}v$k" 2>/dev/null || true
        k=$((k + 1))
    done
    ip link del "$BR" 2>/dev/null || true
}

run() {
    n=$1; shift
    hosts=$(mktemp)
    k=1
    while [ $k -le "$n" ]; do echo "$P$k slots=1" >>"$hosts"; k=$((k + 1)); done
    opts=
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts="$opts $1"; shift; done
    [ $# -gt 0 ] && shift
    set +e
    # the launcher's "ssh HOST CMD" is "ip netns exec HOST sh -c CMD"; every
    # connection (launcher and processes) on the namespaces' subnet. The
    # daemons of several "hosts" share one real host: their topology is not
    # put in shared memory (rtc_hwloc_vmhole none), where two of them at the
    # same address crash in hwloc_shmem_topology_write.
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PMIX_MCA_gds=hash \
        mpirun -np "$n" --hostfile "$hosts" --mca plm_rsh_agent "$here/netns-exec.sh" \
        --mca oob_tcp_if_include 10.77.0.0/24 --mca btl_tcp_if_include 10.77.0.0/24 --mca btl self,tcp \
        --mca mpi_yield_when_idle 1 --mca rtc_hwloc_vmhole none --bind-to none $opts "$@"
    rc=$?
    rm -f "$hosts"
    return $rc
}

cmd=${1:-}; [ $# -gt 0 ] && shift
case $cmd in
up) up "$@" ;;
down) down "$@" ;;
run) run "$@" ;;
*) echo "usage: netns.sh up N [--rate R] [--delay D] | run N [mpirun options] -- CMD... | down N" >&2; exit 2 ;;
esac
