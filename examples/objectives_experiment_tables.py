#!/usr/bin/env python3
"""Markdown tables of objectives_experiment's CSVs (docs/objectives.md).

    usage: objectives_experiment_tables.py CSV [CSV ...]

The CSVs may hold several targets ("noisy", "clean"), parameterizations
("score", "energy"; a CSV without the column is "score"), dimensions,
objectives and seeds. The score-network DSM rows of a CSV that also holds
energy rows (objectives_experiment --score-budget) are the reference of that
CSV's energy runs, not a group of their own. For every parameterization and
target it prints, with S the step count of the runs
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

For an energy target whose CSV has the score-network DSM reference, also:

  6. equal time against the score network: the error of every energy run
     at its last checkpoint within B_s (the reference's training CPU time
     for S steps in the same process, D and seed), with the median step
     count reached, and the CPU time per step as a multiple of the
     reference's;

and where the score-network runs of the same target were given too (the
CSVs of a score run):

  7. energy against score network, objective by objective: the median error
     of the energy runs and its ratio to the score network's (EMA weights,
     pooled and per-point mean), at equal steps (S; where either was capped,
     the largest checkpoint that every run of that objective and D of both
     reached) and at equal time (the energy runs within B_s, the score
     runs within their own B: each a score-network DSM's S steps in its own
     process), and the best objective of each at equal time;
  8. the CPU time per step of each objective in score-network DSM steps,
     energy (against the reference in its process) next to score network
     (against DSM in its process), and their ratio.

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

    def within(self, D, o, budget=None):
        """Per seed, the last row whose CPU time is within B (or budget(seed))."""
        out = []
        for s in self.seeds(D, o):
            b = budget(s) if budget else self.budget(D, s)
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

    def steps_of(self, D, o):
        return [set(int(r["steps"]) for r in v) for v in self.runs[D].get(o, {}).values()]


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


def vs_reference(t, ref):
    """Table 6: the energy runs at the score network's budget B_s."""
    B_s = lambda D: lambda s: ref.budget(D, s)
    for key, what in [("ema_pooled", "Pooled error"), ("ema_mean", "Per-point mean error")]:
        print(f"\n{what} (EMA weights) at equal CPU time with the score network: the last "
              "checkpoint within B_s (the score network's CPU time for S steps with DSM, in "
              "the same process, D and seed); median over seeds [min, max] (median steps "
              "reached).\n")
        header(t, "objective")
        for o in t.objectives:
            cells = []
            for D in t.dims:
                rows = t.within(D, o, B_s(D))
                if not rows:
                    cells.append("no step within B_s" if t.last(D, o) else "")
                    continue
                steps = int(statistics.median(int(r["steps"]) for r in rows))
                cells.append(f"{spread(col(rows, key))} ({steps})")
            print(f"| {NAMES[o]} | " + " | ".join(cells) + " |")
    dims = [D for D in t.dims if ref.seeds(D, "dsm")]
    print("\nB_s per D, median over seeds: " + ", ".join(
        f"{g(statistics.median([ref.budget(D, s) for s in ref.seeds(D, 'dsm')]))} CPU s "
        f"(D = {D})" for D in dims) + ".")


def ratio_cell(e, s):
    if not e:
        return ""
    me = statistics.median(e)
    return f"{g(me)} ({me / statistics.median(s):.2f}x)" if s else g(me)


def compare(st, et, ref, key, what):
    """Table 7: energy against score network, objective by objective."""
    print(f"\n{what} (EMA weights) of the energy model, median over seeds, and in brackets "
          "its ratio to the score network's (below 1: the energy model is better). Equal "
          f"steps: after S = {et.S} steps, or where a run of either was capped, at the "
          "largest checkpoint every run of that objective and D reached (the step count "
          "given). Equal time: the energy runs within B_s, the score-network runs within "
          "their B (each a score-network DSM's S steps in its own process).\n")
    dims = [D for D in et.dims if D in st.dims]
    print("| objective | comparison | " + " | ".join(f"D = {D}" for D in dims) + " |")
    print("|---" * (len(dims) + 2) + "|")
    objs = [o for o in et.objectives if o in st.objectives]
    for o in objs:
        cells = []
        for D in dims:
            capped = any(int(r["capped"]) for r in et.last(D, o) + st.last(D, o))
            if not capped:
                cells.append(ratio_cell(col(et.last(D, o), key), col(st.last(D, o), key)))
                continue
            sets = et.steps_of(D, o) + st.steps_of(D, o)
            common = set.intersection(*sets) if sets else set()
            if not common:
                cells.append("")
                continue
            c = max(common)
            cells.append(ratio_cell(col(et.at_step(D, o, c), key), col(st.at_step(D, o, c), key))
                         + f" at {c}")
        print(f"| {NAMES[o]} | equal steps | " + " | ".join(cells) + " |")
        cells = [ratio_cell(col(et.within(D, o, lambda s: ref.budget(D, s)), key),
                            col(st.within(D, o), key)) for D in dims]
        print(f"| {NAMES[o]} | equal time | " + " | ".join(cells) + " |")
    cells = []
    for D in dims:
        best = []
        for get in [lambda o: et.within(D, o, lambda s: ref.budget(D, s)),
                    lambda o: st.within(D, o)]:
            med = {o: statistics.median(col(get(o), key)) for o in objs if get(o)}
            best.append(min(med.items(), key=lambda kv: kv[1]) if med else None)
        if None in best:
            cells.append("")
            continue
        (eo, ev), (so, sv) = best
        cells.append(f"{NAMES[eo]} {g(ev)} against {NAMES[so]} {g(sv)} ({ev / sv:.2f}x)")
    print("| best of each | equal time | " + " | ".join(cells) + " |")


def compare_cost(st, et, ref):
    """Table 8: the time per step in score-network DSM steps."""
    print("\nCPU time per step in score-network DSM steps (median over seeds of the time per "
          "step, over the median of the score-network DSM's in the same process): energy "
          "model; score network; and the energy model's time per step over the score "
          "network's (the ratio of the two multiples).\n")
    dims = [D for D in et.dims if D in ref.dims]
    print("| objective | " + " | ".join(f"D = {D}" for D in dims) + " |")
    print("|---" * (len(dims) + 1) + "|")
    for o in et.objectives:
        cells = []
        for D in dims:
            e = et.ms_per_step(D, o)
            if not e:
                cells.append("")
                continue
            xe = statistics.median(e) / statistics.median(ref.ms_per_step(D, "dsm"))
            s = st.ms_per_step(D, o) if st and D in st.dims else []
            if s:
                xs = statistics.median(s) / statistics.median(st.ms_per_step(D, "dsm"))
                cells.append(f"{xe:.1f}x; {xs:.1f}x; {xe / xs:.2f}")
            else:
                cells.append(f"{xe:.1f}x")
        print(f"| {NAMES[o]} | " + " | ".join(cells) + " |")


def param(r):
    return r.get("parameterization") or "score"


def main(paths):
    by = defaultdict(list)   # (parameterization, target) -> rows
    refs = defaultdict(list)  # target -> the score-network DSM reference rows of energy CSVs
    for p in paths:
        with open(p, newline="") as f:
            rows = list(csv.DictReader(f))
        mixed = len({param(r) for r in rows}) > 1
        for r in rows:
            if mixed and param(r) == "score":
                refs[r["target"]].append(r)
            else:
                by[(param(r), r["target"])].append(r)
    order = lambda k: (k[0] != "score", TARGETS.index(k[1]) if k[1] in TARGETS else 99)
    for key in sorted(by, key=order):
        par, target = key
        t = Target(by[key])
        seeds = sorted({int(r["seed"]) for r in by[key]})
        what = ("the score of q_sigma at noisy points" if target == "noisy"
                else "the clean score at clean points")
        lead = "Target" if par == "score" else f"{par.capitalize()} model, target"
        print(f"\n#### {lead}: {target} ({what}); seeds {', '.join(map(str, seeds))}\n")
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
        if par == "score" or not refs.get(target):
            continue
        ref = Target(refs[target])
        vs_reference(t, ref)
        st = Target(by[("score", target)]) if ("score", target) in by else None
        if st:
            compare(st, t, ref, "ema_pooled", "Pooled error")
            compare(st, t, ref, "ema_mean", "Per-point mean error")
        compare_cost(st, t, ref)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
