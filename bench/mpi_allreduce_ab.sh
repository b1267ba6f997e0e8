#!/bin/sh
# mpi_allreduce_ab.sh BUILD: the low-rank case of docs/scaling.md on 1 rank,
# 2 ranks with Open MPI's choice of allreduce algorithm and 2 ranks with its
# ring algorithm, in turn, three rounds. BUILD was configured with
# -Dmpi=enabled. Prints the load before each run and each run's summary.
set -eu
train="$1/examples/mpi/hosm_mpi_train"
mpirun=mpirun
[ "$(id -u)" = 0 ] && mpirun="mpirun --allow-run-as-root"
base="hidden=512 depth=2 sigma=0.5 batch=1024 lr=1e-3 threads=1 s2=lowrank rank=16 steps=24"
ring="--mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm 4"
for r in 1 2 3; do
  for v in 1 2 2ring; do
    np=${v%ring}; extra=""; [ "$v" = 2ring ] && extra="$ring"
    echo "== lowrank, $v rank(s); $(uptime | sed 's/.*load/load/')"
    # shellcheck disable=SC2086
    $mpirun -np "$np" --bind-to core $extra $train --mixture 10 --dim 784 --n 16384 \
      --config "$base" --noise blocks --sync-timing --print-every 0 --target-loss 1.03e7 --loss-window 10 2>&1 | grep -E "^(done|target)"
  done
done
