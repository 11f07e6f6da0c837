#!/bin/sh
# netns-exec.sh HOST CMD... — mpirun's "ssh" for netns.sh: runs CMD in the
# network namespace named HOST (Open MPI passes the remote command as words
# that a shell must read, as ssh would). PMIx keeps its job data in plain
# memory (gds hash): its shared-memory store is per host, not per namespace.
host=$1
shift
PMIX_MCA_gds=hash exec ip netns exec "$host" sh -c "$*"
