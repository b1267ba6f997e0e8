#!/usr/bin/env python3
"""Markdown tables of objectives_experiment's CSVs (docs/objectives.md).

    usage: objectives_experiment_tables.py CSV [CSV ...]

The CSVs may hold several targets ("noisy", "clean"), dimensions, objectives
and seeds. For every target it prints, with S the step count of the runs
(the largest step of a run that was not capped) and B the equal CPU budget
of a dimension and seed (DSM's training CPU seconds for its S steps):

  1. equal steps: the error after S steps, pooled and per-point mean, of
     the EMA weights, median over seeds [min, max]; a run stopped by the
     CPU cap gives its error where it stopped, marked with the median step
     count reached;
  2. where some run was capped: every objective's pooled error at the
     largest checkpoint that all runs of that dimension reached;
  3. equal time: the error at the last checkpoint whose training CPU time
     is within B (the EMA weights and the current weights), with the median
     step count reached;
  4. the CPU milliseconds per step (training CPU of the whole run over its
     steps, median over seeds) and the ratio to DSM's at the same D;
  5. a summary per D: the best objective at equal steps (at S, leaving out
     capped runs, and at the checkpoint of table 2) and at equal time
     (smallest median pooled error of the EMA weights), and every
     objective's pooled error relative to it.

Standard library only.
"""
import csv
import math
import statistics
import sys
from collections import defaultdict

OBJECTIVES = ["dsm", "dsm_vr", "ssm", "ssm_vr", "exact_sm"]
NAMES = {"dsm": "DSM", "dsm_vr": "DSM-VR", "ssm": "SSM", "ssm_vr": "SSM-VR",
         "exact_sm": "exact SM"}
TARGETS = ["noisy", "clean"]


def g(x, d=3):
    """d decimals below 1, else d significant digits (whole numbers from 10^d)."""
    if x != x:
        return "-"
    if abs(x) < 1:
        return f"{x:.{d}f}"
    return f"{x:.{max(d - 1 - int(math.floor(math.log10(abs(x)))), 0)}f}"


def spread(vals, d=3):
    vals = [v for v in vals if v == v]
    if not vals:
        return "-"
    med = statistics.median(vals)
    if len(vals) == 1:
        return g(med, d)
    return f"{g(med, d)} [{g(min(vals), d)}, {g(max(vals), d)}]"


class Target:
    """The runs of one target: runs[D][objective][seed] = rows by steps."""

    def __init__(self, rows):
        self.runs = defaultdict(lambda: defaultdict(dict))
        for r in rows:
            self.runs[int(r["D"])][r["objective"]].setdefault(int(r["seed"]), []).append(r)
        for by_obj in self.runs.values():
            for by_seed in by_obj.values():
                for v in by_seed.values():
                    v.sort(key=lambda r: (int(r["steps"]), float(r["cpu_seconds"])))
        self.dims = sorted(self.runs)
        self.objectives = [o for o in OBJECTIVES if any(o in self.runs[D] for D in self.dims)]
        self.S = max(int(v[-1]["steps"]) for by_obj in self.runs.values()
                     for by_seed in by_obj.values() for v in by_seed.values()
                     if int(v[-1]["capped"]) == 0)

    def seeds(self, D, o):
        return sorted(self.runs[D].get(o, {}))

    def last(self, D, o):
        return [self.runs[D][o][s][-1] for s in self.seeds(D, o)]

    def budget(self, D, seed):
        v = self.runs[D].get("dsm", {}).get(seed)
        return float(v[-1]["cpu_seconds"]) if v and int(v[-1]["capped"]) == 0 else None

    def within(self, D, o):
        """Per seed, the last row whose CPU time is within B."""
        out = []
        for s in self.seeds(D, o):
            b = self.budget(D, s)
            if b is None:
                continue
            rows = [r for r in self.runs[D][o][s] if float(r["cpu_seconds"]) <= b * (1 + 1e-9)]
            if rows:
                out.append(max(rows, key=lambda r: float(r["cpu_seconds"])))
        return out

    def at_step(self, D, o, step):
        out = []
        for s in self.seeds(D, o):
            rows = [r for r in self.runs[D][o][s] if int(r["steps"]) == step]
            if rows:
                out.append(rows[0])
        return out

    def common_step(self, D):
        """The largest step at which every run of D has a row."""
        sets = [set(int(r["steps"]) for r in v)
                for by_seed in self.runs[D].values() for v in by_seed.values()]
        common = set.intersection(*sets) if sets else set()
        return max(common) if common else None

    def ms_per_step(self, D, o):
        return [1e3 * float(r["cpu_seconds"]) / int(r["steps"]) for r in self.last(D, o)]


def col(rows, key):
    return [float(r[key]) for r in rows]


def header(t, first):
    print("| " + first + " | " + " | ".join(f"D = {D}" for D in t.dims) + " |")
    print("|---" * (len(t.dims) + 1) + "|")


def equal_steps(t, key, what):
    print(f"\n{what} after S = {t.S} steps, EMA weights: median over seeds [min, max].\n")
    header(t, "objective")
    for o in t.objectives:
        cells = []
        for D in t.dims:
            rows = t.last(D, o)
            if not rows:
                cells.append("")
                continue
            c = spread(col(rows, key))
            if any(int(r["capped"]) for r in rows):
                c += f" (capped at {int(statistics.median(int(r['steps']) for r in rows))} steps)"
            cells.append(c)
        print(f"| {NAMES[o]} | " + " | ".join(cells) + " |")


def capped_steps(t):
    dims = [D for D in t.dims if any(int(r["capped"]) for o in t.objectives
                                     for r in t.last(D, o))]
    if not dims:
        return
    print("\nEqual steps where a run was capped: pooled error (EMA weights) at the largest "
          "checkpoint that every run of that D reached, median over seeds [min, max].\n")
    print("| D | steps | " + " | ".join(NAMES[o] for o in t.objectives) + " |")
    print("|---" * (len(t.objectives) + 2) + "|")
    for D in dims:
        c = t.common_step(D)
        if c is None:
            continue
        cells = [spread(col(t.at_step(D, o, c), "ema_pooled")) for o in t.objectives]
        print(f"| {D} | {c} | " + " | ".join(cells) + " |")


def equal_time(t, key, what):
    print(f"\n{what} at equal CPU time: the last checkpoint within B (DSM's CPU time for S "
          "steps at that D and seed); median over seeds [min, max] (median steps reached).\n")
    header(t, "objective")
    for o in t.objectives:
        cells = []
        for D in t.dims:
            rows = t.within(D, o)
            if not rows:
                cells.append("no step within B" if t.last(D, o) else "")
                continue
            steps = int(statistics.median(int(r["steps"]) for r in rows))
            cells.append(f"{spread(col(rows, key))} ({steps})")
        print(f"| {NAMES[o]} | " + " | ".join(cells) + " |")


def budgets(t):
    dims = [D for D in t.dims if t.seeds(D, "dsm")]
    if dims:
        print("\nB per D, median over seeds: " + ", ".join(
            f"{g(statistics.median([t.budget(D, s) for s in t.seeds(D, 'dsm')]))} CPU s "
            f"(D = {D})" for D in dims) + ".")


def per_step(t):
    print("\nCPU milliseconds per step (training CPU of the whole run over its steps, one "
          "thread, median over seeds) and the ratio to DSM at the same D; last column: the "
          "time per step at the largest D over the smallest.\n")
    print("| objective | " + " | ".join(f"D = {D}" for D in t.dims) +
          f" | D = {t.dims[-1]} / D = {t.dims[0]} |")
    print("|---" * (len(t.dims) + 2) + "|")
    dsm = {D: statistics.median(t.ms_per_step(D, "dsm")) for D in t.dims
           if t.ms_per_step(D, "dsm")}
    for o in t.objectives:
        cells, meds = [], {}
        for D in t.dims:
            v = t.ms_per_step(D, o)
            if not v:
                cells.append("")
                continue
            meds[D] = statistics.median(v)
            r = f" ({meds[D] / dsm[D]:.1f}x)" if D in dsm else ""
            cells.append(f"{g(meds[D])}{r}")
        growth = (f"{meds[t.dims[-1]] / meds[t.dims[0]]:.1f}x"
                  if t.dims[0] in meds and t.dims[-1] in meds else "-")
        print(f"| {NAMES[o]} | " + " | ".join(cells) + f" | {growth} |")


def summary(t):
    print("\nSummary: the objective with the smallest median pooled error (EMA weights), and "
          "every objective's median pooled error over the best one's. At S steps a capped "
          "objective is left out (\"capped\"); the row \"equal steps at N\" compares all at "
          "the largest checkpoint every run of that D reached.\n")
    print("| D | comparison | best | " + " | ".join(NAMES[o] for o in t.objectives) + " |")
    print("|---" * (len(t.objectives) + 3) + "|")
    for D in t.dims:
        capped = {o for o in t.objectives if any(int(r["capped"]) for r in t.last(D, o))}
        comparisons = [(f"equal steps ({t.S})", lambda o: [] if o in capped else t.last(D, o))]
        c = t.common_step(D) if capped else None
        if c is not None:
            comparisons.append((f"equal steps at {c}", lambda o: t.at_step(D, o, c)))
        comparisons.append(("equal time", lambda o: t.within(D, o)))
        for label, get in comparisons:
            med = {}
            for o in t.objectives:
                rows = get(o)
                if rows:
                    med[o] = statistics.median(col(rows, "ema_pooled"))
            if not med:
                continue
            best = min(med, key=med.get)
            cells = [f"{med[o] / med[best]:.2f}" if o in med else
                     "capped" if o in capped and label.startswith("equal steps (") else ""
                     for o in t.objectives]
            print(f"| {D} | {label} | {NAMES[best]} ({g(med[best])}) | " + " | ".join(cells) + " |")


def main(paths):
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            rows += list(csv.DictReader(f))
    by = defaultdict(list)
    for r in rows:
        by[r["target"]].append(r)
    for target in sorted(by, key=lambda k: TARGETS.index(k) if k in TARGETS else 99):
        t = Target(by[target])
        seeds = sorted({int(r["seed"]) for r in by[target]})
        print(f"\n#### Target: {target} ({'the score of q_sigma at noisy points' if target == 'noisy' else 'the clean score at clean points'}); seeds {', '.join(map(str, seeds))}\n")
        print("Relative score error against the oracle: pooled = sqrt(sum ||s - s*||^2 / "
              "sum ||s*||^2); mean = the mean over the points of ||s - s*|| / ||s*||.")
        equal_steps(t, "ema_pooled", "Pooled error")
        equal_steps(t, "ema_mean", "Per-point mean error")
        capped_steps(t)
        equal_time(t, "ema_pooled", "Pooled error, EMA weights,")
        equal_time(t, "final_pooled", "Pooled error, current weights,")
        equal_time(t, "ema_mean", "Per-point mean error, EMA weights,")
        budgets(t)
        per_step(t)
        summary(t)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
