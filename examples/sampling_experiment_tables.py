#!/usr/bin/env python3
"""Markdown tables of sampling_experiment's CSVs (docs/sampling.md).

    usage: sampling_experiment_tables.py CSV [CSV ...]

The CSVs may hold several seeds (the seed column) and several targets. For
every target and source, with S the step count of the Ozaki kinds' runs
(every sampler was measured there), B per seed the equal CPU budget (the
smallest over the samplers of their median CPU time of a whole run) and
the level the exact draws' mean energy distance plus two standard
deviations, it prints:

  1. a table per sampler: CPU milliseconds per step (all chains); the step
     sizes at which no chain diverged in any seed ("stable"); the KSD and
     the energy distance at S steps, the energy distance within B (the
     best checkpoint whose CPU time is within B) and the CPU seconds to the
     level (the first checkpoint at or below it), each at the stable step
     size whose median over seeds is the best: median over seeds [min,
     max] (step size, and the median step count). The ESS per CPU second
     of the whole run at the stable step size with the largest one among
     those whose final states are at the level (marked "*" if there is
     none: then at the step size of the best energy distance at S); the
     occupancy error at S (mixtures) and the acceptance rate at the step
     size of the best energy distance at S;
  2. a table per step size (equal step size): KSD / energy distance at S
     steps of every sampler, medians over seeds; "div" where chains
     diverged in some seed, "fail" where a run stopped;

and at the end a summary line per target and source: how many times
smaller the KSD at S, the energy distance at S and within B, and the CPU
seconds to the level are for the better Ozaki kind (ozaki, or ozaki_l0 on
the mixtures) than for Langevin, and its ESS per CPU second over
Langevin's; the same for MH-Ozaki against MALA. Runs that returned a
failure count as diverged. Standard library only.
"""
import csv
import math
import statistics
import sys
from collections import defaultdict

KINDS = ["langevin", "ozaki", "ozaki_l0", "mala", "mh_ozaki"]
TARGETS = ["gauss2-100", "gauss2-1000", "gauss32-100", "gauss32-1000", "mix2", "mix8"]
SOURCES = ["exact", "learned-full", "learned-diag"]
INF = float("inf")


def num(v):
    return float(v) if v not in ("", "nan", "-nan") else float("nan")


def finite(x):
    return x == x and abs(x) != INF


def g(x, d=2):
    if x != x:
        return "-"
    if abs(x) == INF:
        return "inf"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{max(d - 1, 0)}e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    if abs(x) >= 10 ** d:  # whole numbers, to d significant digits
        return f"{round(x, d - 1 - int(math.floor(math.log10(abs(x))))):.0f}"
    return f"{x:.{d}g}"


def spread(vals, d=2):
    vals = [v for v in vals if v == v]
    if not vals:
        return "-"
    med = statistics.median(vals)
    if len(vals) == 1:
        return g(med, d)
    return f"{g(med, d)} [{g(min(vals), d)}, {g(max(vals), d)}]"


class Group:
    """The runs of one target and source: runs[sampler][eps][seed] = rows by steps."""

    def __init__(self, rows):
        self.exact = defaultdict(list)
        self.runs = defaultdict(lambda: defaultdict(dict))
        for r in rows:
            seed = r["seed"]
            if r["sampler"] == "exact":
                self.exact[seed].append(r)
            else:
                self.runs[r["sampler"]][num(r["step_size"])].setdefault(seed, []).append(r)
        for s in self.runs.values():
            for e in s.values():
                for seed in e:
                    e[seed].sort(key=lambda r: int(r["steps"]))
        self.samplers = [k for k in KINDS if k in self.runs]
        self.seeds = sorted({seed for s in self.runs.values() for e in s.values() for seed in e})
        self.S = min(int(v[-1]["steps"]) for s in self.runs.values() for e in s.values()
                     for v in e.values())
        self.B = {seed: min(statistics.median(num(e[seed][-1]["cpu_seconds"])
                                              for e in self.runs[s].values() if seed in e)
                            for s in self.samplers) for seed in self.seeds}

    def ok(self, s, eps):
        e = self.runs[s][eps]
        return len(e) == len(self.seeds) and all(
            int(v[-1]["diverged"]) == 0 and int(v[-1]["status"]) >= 0 for v in e.values())

    def stable(self, s):
        return [eps for eps in sorted(self.runs[s]) if self.ok(s, eps)]

    def at(self, s, eps, seed, steps):
        for r in self.runs[s][eps].get(seed, []):
            if int(r["steps"]) == steps:
                return r
        return None

    def values_at_S(self, s, eps, key):
        return [num(r[key]) if r else float("nan")
                for r in (self.at(s, eps, seed, self.S) for seed in self.seeds)]

    def within_B(self, s, eps, key):
        """Per seed, the best value of key over the checkpoints within B, and its steps."""
        out = []
        for seed in self.seeds:
            cands = [r for r in self.runs[s][eps].get(seed, [])
                     if num(r["cpu_seconds"]) <= self.B[seed] * 1.0001 and num(r[key]) == num(r[key])]
            out.append(min(((num(r[key]), int(r["steps"])) for r in cands), default=(INF, 0)))
        return out

    def best(self, s, values):
        """The stable step size with the smallest median of values(eps), and the values there."""
        best = None
        for eps in self.stable(s):
            v = values(eps)
            m = statistics.median(x[0] if isinstance(x, tuple) else x for x in v)
            if m == m and (best is None or m < best[0]):
                best = (m, eps, v)
        return best

    def to_floor(self, s, eps, level):
        """Per seed, the CPU seconds and steps of the first checkpoint whose
        energy distance is at most level (inf if none)."""
        out = []
        for seed in self.seeds:
            hit = [r for r in self.runs[s][eps].get(seed, [])
                   if num(r["energy_distance"]) <= level]
            out.append((num(hit[0]["cpu_seconds"]), int(hit[0]["steps"])) if hit else (INF, 0))
        return out

    def final(self, s, eps, key):
        return [num(self.runs[s][eps][seed][-1][key]) for seed in self.seeds]

    def ess_eps(self, s, level, tuned):
        """The step size of the ESS column: of the stable ones whose final
        states are at the exact draws' level (median over seeds), the one
        with the largest median ESS per CPU second of the whole run; else
        tuned (marked)."""
        best = None
        for eps in self.stable(s):
            ed = statistics.median(self.final(s, eps, "energy_distance"))
            ess = statistics.median(self.final(s, eps, "ess_per_cpu_second"))
            if ed <= level and ess == ess and (best is None or ess > best[0]):
                best = (ess, eps)
        return (best[1], "") if best else (tuned, "\\*")

    def floor(self):
        ksd = [num(r["ksd"]) for v in self.exact.values() for r in v]
        ed = [num(r["energy_distance"]) for v in self.exact.values() for r in v]
        occ = [num(r["occupancy_tv"]) for v in self.exact.values() for r in v]
        sd = statistics.stdev(ed) if len(ed) > 1 else 0.0
        return statistics.mean(ksd), statistics.mean(ed) + 2 * sd, statistics.mean(occ)


def sampler_row(gr, s, mix):
    level = gr.floor()[1]
    done = [v[-1] for e in gr.runs[s].values() for v in e.values()]
    ms = statistics.mean(1e3 * num(r["cpu_seconds"]) / int(r["steps"]) for r in done)
    st = gr.stable(s)
    cells = [s, g(ms), f"{st[0]:g} to {st[-1]:g}" if st else "none"]
    k = gr.best(s, lambda eps: gr.values_at_S(s, eps, "ksd"))
    e = gr.best(s, lambda eps: gr.values_at_S(s, eps, "energy_distance"))
    b = gr.best(s, lambda eps: gr.within_B(s, eps, "energy_distance"))
    f = gr.best(s, lambda eps: gr.to_floor(s, eps, level))
    cells.append(f"{spread(k[2], 3)} ({k[1]:g})" if k else "-")
    cells.append(f"{spread(e[2])} ({e[1]:g})" if e else "-")
    for x in (b, f):
        if x and finite(x[0]):
            steps = int(statistics.median(y[1] for y in x[2]))
            cells.append(f"{spread([y[0] for y in x[2]])} ({x[1]:g}, {steps})")
        else:
            cells.append("-" if x is b else "not reached")
    if e:
        eps, mark = gr.ess_eps(s, level, e[1])
        ess = gr.final(s, eps, "ess_per_cpu_second")
        cells.append(f"{spread(ess)} ({eps:g}{mark})")
        if mix:
            cells.append(spread(gr.values_at_S(s, e[1], "occupancy_tv")))
        acc = [num(gr.runs[s][e[1]][seed][-1]["acceptance"]) for seed in gr.seeds]
        cells.append(f"{statistics.median(acc):.2f}")
    else:
        cells += ["-"] * (3 if mix else 2)
    return cells, (k, e, b, f, (ess, mark) if e else ([], ""))


def per_sampler_table(gr, mix):
    head = ["sampler", "ms/step", "stable eps", "KSD at S (eps)", "energy dist. at S (eps)",
            "energy dist. within B (eps, steps)", "CPU s to the exact level (eps, steps)",
            "ESS/CPU s (eps)"] + \
        (["occ. error at S"] if mix else []) + ["accept."]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    best = {}
    for s in gr.samplers:
        cells, best[s] = sampler_row(gr, s, mix)
        print("| " + " | ".join(cells) + " |")
    return best


def equal_eps_table(gr):
    print("| eps | " + " | ".join(gr.samplers) + " |")
    print("|" + "---|" * (len(gr.samplers) + 1))
    for eps in sorted({e for s in gr.samplers for e in gr.runs[s]}):
        cells = [f"{eps:g}"]
        for s in gr.samplers:
            if eps not in gr.runs[s]:
                cells.append("")
                continue
            last = [v[-1] for v in gr.runs[s][eps].values()]
            if any(int(r["status"]) < 0 for r in last):
                cells.append("fail")
            elif any(int(r["diverged"]) > 0 for r in last):
                cells.append("div")
            else:
                k = statistics.median(gr.values_at_S(s, eps, "ksd"))
                ed = statistics.median(gr.values_at_S(s, eps, "energy_distance"))
                cells.append(f"{g(k)} / {g(ed)}")
        print("| " + " | ".join(cells) + " |")


def ratio(a, b, level=None):
    """How many times smaller the median of b is than that of a (> 1: b is
    better). With level (energy distances), values below it are noise and
    count as level: "≥" marks a ratio whose second value is at the level,
    "=" two values at the level."""
    if not a or not b:
        return "-"
    ma, mb = statistics.median(a), statistics.median(b)
    if ma != ma or mb != mb:
        return "-"
    if level is not None:
        if ma <= level and mb <= level:
            return "="
        pre = "≥" if mb <= level else ""
        ma, mb = max(ma, level), max(mb, level)
    else:
        pre = ""
    if not finite(ma):
        return "inf" if finite(mb) else "-"
    return pre + (g(ma / mb) if mb > 0 else "-")


def to_level(gr, a, fa, fb):
    """The ratio of the CPU seconds to the exact level, a's over b's; when a
    never reached it, a lower bound from the length of a's runs."""
    if not fb or not finite(fb[0]):
        return "-" if not fa or not finite(fa[0]) else "0"
    tb = statistics.median(y[0] for y in fb[2])
    if fa and finite(fa[0]):
        return g(statistics.median(y[0] for y in fa[2]) / tb)
    longest = min(statistics.median(num(v[-1]["cpu_seconds"]) for v in e.values())
                  for e in gr.runs[a].values())
    return ">" + g(longest / tb)


def summary(groups):
    print("\n| target, source | Langevin / Ozaki: KSD at S | ED at S | ED within B "
          "| CPU s to the level | ESS/s, Ozaki / Langevin | MALA / MH-Ozaki: KSD at S | ED at S "
          "| ED within B | CPU s to the level | ESS/s, MH-Ozaki / MALA |")
    print("|" + "---|" * 11)
    for (tg, src), (gr, best) in groups:
        level = gr.floor()[1]

        def pair(a, b):
            if a not in best or b not in best:
                return ["-"] * 5
            (ka, ea, ba, fa, sa), (kb, eb, bb, fb, sb) = best[a], best[b]
            first = lambda x: [y[0] for y in x[2]] if x else [INF]
            return [ratio(ka[2] if ka else [INF], kb[2] if kb else [INF]),
                    ratio(ea[2] if ea else [INF], eb[2] if eb else [INF], level),
                    ratio(first(ba), first(bb), level),
                    to_level(gr, a, fa, fb),
                    ratio(sb[0], sa[0]) + ("\\*" if sa[1] or sb[1] else "")
                    if sa[0] and sb[0] else "-"]
        oz = "ozaki"
        if "ozaki_l0" in best and best["ozaki_l0"][1] and (
                not best["ozaki"][1] or best["ozaki_l0"][1][0] < best["ozaki"][1][0]):
            oz = "ozaki_l0"
        cells = [f"{tg}, {src}" + (" (ozaki_l0)" if oz == "ozaki_l0" else "")]
        cells += pair("langevin", oz) + pair("mala", "mh_ozaki")
        print("| " + " | ".join(cells) + " |")


def main(paths):
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            rows += list(csv.DictReader(f))
    by = defaultdict(list)
    for r in rows:
        by[(r["target"], r["source"])].append(r)
    order = sorted(by, key=lambda k: (TARGETS.index(k[0]) if k[0] in TARGETS else 99,
                                      SOURCES.index(k[1]) if k[1] in SOURCES else 99))
    done = []
    for key in order:
        gr = Group(by[key])
        ksd, ed, occ = gr.floor()
        mix = occ == occ
        print(f"\n#### {key[0]}, {key[1]} scores\n")
        chains = by[key][0]["chains"]
        print(f"Seeds {', '.join(gr.seeds)}; {chains} chains; S = {gr.S} steps; B = "
              f"{spread(list(gr.B.values()))} CPU s. Exact draws: KSD {g(ksd, 3)}, energy "
              f"distance below {g(ed)} (mean + 2 sd)"
              + (f", occupancy error {g(occ)}" if mix else "") + ".\n")
        best = per_sampler_table(gr, mix)
        print("\nEqual step size: KSD / energy distance at S steps (medians over seeds).\n")
        equal_eps_table(gr)
        done.append((key, (gr, best)))
    print("\n#### Summary: how many times smaller the second sampler's value is "
          "(> 1: the second is better)")
    summary(done)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
