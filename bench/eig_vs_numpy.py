#!/usr/bin/env python3
"""hosmi_sym_eig against numpy.linalg.eigh, interleaved, in process CPU time.

    /usr/bin/python3 bench/eig_vs_numpy.py BUILD/bench/eig_vs_numpy \
        [--before OLD/bench/eig_vs_numpy] [--rounds 5]

Each round runs, for D in 64, 256, 784, the C benchmark (the median of REPS
calls in a fresh process) and then numpy.linalg.eigh on a random symmetric
matrix of the same size (the median of REPS calls in this process); then the
clamped dense posterior covariance of a full-s2 model at D = 256 with the
given binary and, with --before, with a binary built from an older tree.
Alternating the two sides within each round exposes both to the same load.
Reported: per case the median over rounds of the per-round medians, all as
process CPU time (time.process_time, CLOCK_PROCESS_CPUTIME_ID: the sum over
threads), and the ratio C / numpy.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

REPS = {64: 40, 256: 7, 784: 3}


def run_c(binary, mode, d, reps):
    out = subprocess.run([binary, mode, str(d), str(reps)], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[2])


def run_numpy(a, reps):
    times = []
    for r in range(reps + 1):
        t0 = time.process_time()
        np.linalg.eigh(a)
        if r:
            times.append(time.process_time() - t0)
    return 1e3 * statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--before", help="eig_vs_numpy built from an older tree (cov only)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--cov-reps", type=int, default=7)
    args = p.parse_args()
    rng = np.random.default_rng(1)
    mats = {}
    for d in REPS:
        g = rng.standard_normal((d, d))
        mats[d] = np.tril(g) + np.tril(g, -1).T
    res = {}
    for r in range(args.rounds):
        for d, reps in REPS.items():
            res.setdefault(("c", d), []).append(run_c(args.binary, "eig", d, reps))
            res.setdefault(("np", d), []).append(run_numpy(mats[d], reps))
        res.setdefault("cov", []).append(run_c(args.binary, "cov", 256, args.cov_reps))
        if args.before:
            res.setdefault("cov_before", []).append(
                run_c(args.before, "cov", 256, args.cov_reps))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"load average at the end: {os.getloadavg()}")
    print(f"{'D':>5} {'hosmi_sym_eig ms':>17} {'numpy eigh ms':>14} {'ratio':>6}")
    for d in REPS:
        c, n = med[("c", d)], med[("np", d)]
        print(f"{d:>5} {c:>17.2f} {n:>14.2f} {c / n:>6.2f}")
    print(f"posterior_cov full s2 D=256 clamp=1: {med['cov']:.2f} ms"
          f" (rounds: {', '.join(f'{x:.1f}' for x in res['cov'])})")
    if args.before:
        print(f"  before (older tree): {med['cov_before']:.2f} ms"
              f" (rounds: {', '.join(f'{x:.1f}' for x in res['cov_before'])}),"
              f" speed-up {med['cov_before'] / med['cov']:.1f}x")


if __name__ == "__main__":
    main()
