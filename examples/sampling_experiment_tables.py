#!/usr/bin/env python3
"""Markdown tables of sampling_experiment's CSV (docs/sampling.md).

    usage: sampling_experiment_tables.py CSV [CSV ...]

For every target and source, and every sampler, over the runs without
diverged chains:
  - equal steps: the best KSD and the best energy distance over the step
    sizes at the Ozaki kinds' last step count S (the largest step count every
    sampler reached);
  - equal CPU time: the best KSD and energy distance over step sizes and
    checkpoints whose CPU time is within the budget B, the smallest over the
    samplers of their median CPU time of a whole run;
  - at the step size with the best energy distance at S steps, over that
    sampler's whole run: the smallest ESS over coordinates (second half of
    the run), ESS per CPU second, the occupancy error at the end (mixtures)
    and the acceptance rate;
  - the largest ESS per CPU second of a whole run over the step sizes (a
    large step of an unadjusted kind buys ESS with bias);
  - the CPU milliseconds per step (all chains), mean over step sizes.
Runs that returned a failure (the status column) count as diverged.
Standard library only.
"""
import csv
import statistics
import sys
from collections import defaultdict


def num(v):
    return float(v) if v not in ("", "nan", "-nan") else float("nan")


def main(paths):
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            rows += list(csv.DictReader(f))
    groups = defaultdict(list)
    for r in rows:
        groups[(r["target"], r["source"])].append(r)
    for (target, source), rs in groups.items():
        exact = [r for r in rs if r["sampler"] == "exact"]
        samplers = []
        for r in rs:
            if r["sampler"] != "exact" and r["sampler"] not in samplers:
                samplers.append(r["sampler"])
        runs = defaultdict(lambda: defaultdict(list))  # sampler -> eps -> rows
        for r in rs:
            if r["sampler"] != "exact":
                runs[r["sampler"]][num(r["step_size"])].append(r)
        last = {s: {e: max(v, key=lambda r: int(r["steps"])) for e, v in runs[s].items()}
                for s in samplers}
        S = min(int(r["steps"]) for s in samplers for r in last[s].values())
        B = min(statistics.median(num(r["cpu_seconds"]) for r in last[s].values()) for s in samplers)
        e = exact[0] if exact else None
        print(f"\n#### {target}, {source} scores")
        if e:
            occ = f", occupancy error {num(e['occupancy_tv']):.3f}" if e["occupancy_tv"] not in ("nan", "") else ""
            print(f"\nExact draws ({e['chains']} points, mean of 5 sets): KSD {num(e['ksd']):.3g}, "
                  f"energy distance {num(e['energy_distance']):.2g}{occ}. Equal steps: S = {S}; "
                  f"equal CPU time: B = {B:.3g} s.\n")
        mix = e is not None and e["occupancy_tv"] not in ("nan", "")
        head = ("| sampler | ms/step | stable eps | KSD at S (eps) | energy dist. at S (eps) "
                "| KSD within B (eps, steps) | energy dist. within B (eps, steps) "
                "| ESS min | ESS/CPU s | " + ("occ. error | " if mix else "") + "accept. | max ESS/CPU s (eps) |")
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for s in samplers:
            ok = [r for v in runs[s].values() for r in v
                  if int(r["diverged"]) == 0 and int(r.get("status", 0)) >= 0]
            eps_ok = sorted({num(r["step_size"]) for r in ok})
            eps_all = sorted(runs[s])
            ms = statistics.mean(1e3 * num(r["cpu_seconds"]) / int(r["steps"]) for r in last[s].values())

            def best(cands, key):
                cands = [r for r in cands if num(r[key]) == num(r[key]) and abs(num(r[key])) != float("inf")]
                return min(cands, key=lambda r: num(r[key])) if cands else None

            atS = [r for r in ok if int(r["steps"]) == S]
            inB = [r for r in ok if num(r["cpu_seconds"]) <= B * 1.0001]
            k1, e1 = best(atS, "ksd"), best(atS, "energy_distance")
            k2, e2 = best(inB, "ksd"), best(inB, "energy_distance")
            stable = (f"{eps_ok[0]:g} to {eps_ok[-1]:g}" if eps_ok else "none") + \
                (f" (of {eps_all[0]:g} to {eps_all[-1]:g})")
            cells = [s, f"{ms:.3g}", stable,
                     f"{num(k1['ksd']):.3g} ({num(k1['step_size']):g})" if k1 else "-",
                     f"{num(e1['energy_distance']):.2g} ({num(e1['step_size']):g})" if e1 else "-",
                     f"{num(k2['ksd']):.3g} ({num(k2['step_size']):g}, {k2['steps']})" if k2 else "-",
                     f"{num(e2['energy_distance']):.2g} ({num(e2['step_size']):g}, {e2['steps']})" if e2 else "-"]
            if e1:
                e1 = last[s][num(e1["step_size"])]
                cells += [f"{num(e1['ess_min']):.0f}", f"{num(e1['ess_per_cpu_second']):.3g}"]
                if mix:
                    cells.append(f"{num(e1['occupancy_tv']):.3f}")
                cells.append(f"{num(e1['acceptance']):.2f}")
            else:
                cells += ["-", "-"] + (["-"] if mix else []) + ["-"]
            fin = [r for r in ok if r is last[s][num(r["step_size"])]
                   and num(r["ess_per_cpu_second"]) == num(r["ess_per_cpu_second"])]
            m = max(fin, key=lambda r: num(r["ess_per_cpu_second"])) if fin else None
            cells.append(f"{num(m['ess_per_cpu_second']):.3g} ({num(m['step_size']):g})" if m else "-")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
