#!/bin/sh
# mpi_scaling.sh BUILD [ROUNDS]: steps per second and time to a fixed loss of
# examples/mpi/hosm_mpi_train on 1 and 2 ranks, interleaved, at D = 784,
# global batch 1024 (docs/scaling.md). BUILD was configured with -Dmpi=enabled.
# Prints the load before each run and each run's summary lines. MPIRUN_ARGS
# adds mpirun options (e.g. Open MPI's choice of allreduce algorithm), S2
# restricts the runs to "diag" or "lowrank".
set -eu
build=$1
rounds=${2:-3}
train="$build/examples/mpi/hosm_mpi_train"
mpirun=mpirun
[ "$(id -u)" = 0 ] && mpirun="mpirun --allow-run-as-root"
base="hidden=512 depth=2 sigma=0.5 batch=1024 lr=1e-3 threads=1"
run() { # s2-keys steps target ranks
    echo "== $1, $4 rank(s); $(uptime | sed 's/.*load/load/')"
    # shellcheck disable=SC2086
    $mpirun -np "$4" --bind-to core ${MPIRUN_ARGS:-} "$train" --mixture 10 --dim 784 --n 16384 \
        --config "$base $1 steps=$2" --noise blocks --sync-timing --print-every 0 \
        --target-loss "$3" --loss-window 10 2>&1 | grep -E "^(done|target)"
}
r=1
while [ "$r" -le "$rounds" ]; do
    for np in 1 2; do
        [ "${S2:-diag}" = diag ] && run "s2=diag" 30 38500 "$np"
        [ "${S2:-lowrank}" = lowrank ] && run "s2=lowrank rank=16" 24 1.03e7 "$np"
    done
    r=$((r + 1))
done
