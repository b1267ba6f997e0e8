#!/usr/bin/python3
"""libhosm at the PyTorch reference recipe of docs/accuracy.md.

The targets, the training recipe and the metric of the plain PyTorch
reference (Meng et al. 2021's models): K = 4 Gaussians with weights
0.4 / 0.3 / 0.2 / 0.1, means at radius 2.5, covariances Q diag(l) Q^T with
l ~ U[0.05, 1] from numpy's default_rng(1234 + D); 2 hidden layers of 256,
softplus, Adam 1e-3, batch 256, fresh draws every step, DSM-VR for s1; the
errors on 2000 noisy held-out points at the training sigma.

    /usr/bin/python3 bench/accuracy_ref.py job --D 8 --sigma 0.1 --run a c \\
        --seed 0 1 2 --steps 4000 [--set key=value ...] [--tag NAME] --out FILE
    /usr/bin/python3 bench/accuracy_ref.py job --ladder 0.4 0.05 4 --sigma 0.05 0.1 ...
    /usr/bin/python3 bench/accuracy_ref.py table FILE...
    /usr/bin/python3 bench/accuracy_ref.py compare FILE... --base TAG

Runs: a = s1 alone (DSM-VR), b = s1 + full s2 by D2SM, c = by D2SM-VR (w1 = 2,
since libhosm's L2 has no factor 1/2). --set adds config keys (ablations);
--tag names the variant in the table. Every error is the relative one
||est - exact|| / ||exact|| per point, reported as mean, median and p90 over
the points, and pooled: sqrt(sum ||est - exact||^2 / sum ||exact||^2).
compare gives each variant's error over the base variant's (means over
seeds) for s1 (run a), the symmetrised Jacobian (a) and the learned s2 (c),
cell by cell, and per variant how many cells it wins and the geometric
mean and range of the ratios. With --ladder SMAX SMIN L one model is trained on the geometric ladder of
L levels from SMAX to SMIN (the same steps in all, each point at a random
level) and evaluated at each --sigma, which must be one of its levels.
It needs libhosm built in ./build (or HOSM_LIBRARY) and the package in
examples/python on the path (the script adds it).
"""
import argparse
import collections
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples",
                                "python"))
import hosm  # noqa: E402

K = 4
WEIGHTS = [0.4, 0.3, 0.2, 0.1]
N_EVAL = 2000
EVAL_SEED = 987654


def mixture(weights, seed, D, eigenvalues):
    """Means at radius 2.5 (orthogonal directions, or a circle when D is
    smaller than the number of components) and covariances R diag(l) R^T
    with random rotations R and l = eigenvalues(rng, D), all from
    default_rng(seed)."""
    rng = np.random.default_rng(seed)
    k = len(weights)
    if D >= k:
        Q, _ = np.linalg.qr(rng.standard_normal((D, D)))
        mus = 2.5 * Q[:, :k].T
    else:
        th = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(k) / k
        mus = 2.5 * np.stack([np.cos(th), np.sin(th)], 1)
    covs = []
    for _ in range(k):
        R, _ = np.linalg.qr(rng.standard_normal((D, D)))
        c = (R * eigenvalues(rng, D)) @ R.T
        covs.append(0.5 * (c + c.T))
    return hosm.Mixture(weights, mus, np.stack(covs))


def reference_mixture(D):
    """The reference's mixture for dimension D, parameter for parameter."""
    return mixture(WEIGHTS, 1234 + D, D, lambda rng, n: rng.uniform(0.05, 1.0, size=n))


RUNS = {
    "a": "s2=none objective=dsm_vr",
    "b": "s2=full s2_objective=d2sm objective=dsm_vr w1=2",
    "c": "s2=full s2_objective=d2sm_vr objective=dsm_vr w1=2",
}
# raw_head=0: libhosm's scaled heads, the setting of the tables' "default" rows
RECIPE = "hidden=256 depth=2 act=softplus lr=1e-3 batch=256 raw_head=0"


HELDOUT_WEIGHTS = [0.45, 0.25, 0.13, 0.08, 0.06, 0.03]


def heldout_eigenvalues(rng, n):
    """Condition number 50: 0.02 and 1, the rest log-uniform between."""
    lam = np.exp(rng.uniform(np.log(0.02), 0.0, size=n))
    lam[0], lam[-1] = 0.02, 1.0
    return lam


def heldout_mixture(D):
    """Six components with very unequal weights, means at radius 2.5 and
    covariances of condition number 50, from default_rng(5678 + D)."""
    return mixture(HELDOUT_WEIGHTS, 5678 + D, D, heldout_eigenvalues)


MIXTURES = {"ref": reference_mixture, "heldout": heldout_mixture}


def calibration(model, xt, x0, sigma, H):
    """Predicted over realised squared error of the Tweedie mean: the summed
    trace of sigma^2 I + sigma^4 H over the summed ||mean - x0||^2."""
    err = model.denoise(xt).astype(np.float64) - x0
    pred = sigma ** 2 * xt.shape[1] + sigma ** 4 * np.trace(H, axis1=1, axis2=2)
    return float(pred.sum() / (err * err).sum())


def rel(est, exact):
    n = est.shape[0]
    d = (est - exact).reshape(n, -1)
    e = exact.reshape(n, -1)
    per = np.linalg.norm(d, axis=1) / np.linalg.norm(e, axis=1)
    pooled = np.sqrt((d * d).sum() / (e * e).sum())
    return dict(mean=float(per.mean()), median=float(np.median(per)),
                p90=float(np.quantile(per, 0.9)), pooled=float(pooled))


def train(D, sigma, run, steps, seed, extra, mixture="ref", ladder=None):
    mix = MIXTURES[mixture](D)
    noise = (f"sigma_max={ladder[0]} sigma_min={ladder[1]} levels={int(ladder[2])}" if ladder
             else f"sigma={sigma}")
    text = f"{RECIPE} {RUNS[run]} {noise} seed={seed} " + " ".join(extra)
    cfg = hosm.Config(text)
    model = hosm.Model(D, cfg)
    trainer = hosm.Trainer(model, cfg)
    draws = np.random.default_rng(10_000 + seed)
    t0 = time.process_time()
    for _ in range(steps):
        trainer.step(mix.sample(256, seed=int(draws.integers(1 << 62))))
    t_step = (time.process_time() - t0) / max(steps, 1)
    ema = hosm.Model(D, cfg)
    trainer.copy_ema(ema)
    return mix, model, ema, t_step


def evaluate(mix, model, sigma, has_s2, level=-1):
    D = mix.dim
    x = mix.sample(N_EVAL, seed=EVAL_SEED + D).astype(np.float64)
    z = np.random.default_rng(EVAL_SEED + D).standard_normal((N_EVAL, D))
    xt = (x + sigma * z).astype(np.float32)
    S1 = mix.score(xt.astype(np.float64), sigma)
    S2 = mix.hessian(xt.astype(np.float64), sigma)
    res = {"s1": rel(model.score(xt, level).astype(np.float64), S1)}
    J = model.score_jacobian(xt, level).astype(np.float64)
    res["jac"] = rel(J, S2)
    res["jacsym"] = rel(0.5 * (J + J.transpose(0, 2, 1)), S2)
    # calibration of the posterior trace: the exact s2 (sampling noise alone),
    # the Jacobian of s1 and the learned s2, each with the model's mean
    res["calib"] = {"exact": calibration(model, xt, x, sigma, S2),
                    "jacsym": calibration(model, xt, x, sigma, J)}
    if has_s2:
        H = model.hessian(xt, level).astype(np.float64)
        res["s2"] = rel(H, S2)
        # the learned s2 and the symmetrised Jacobian averaged
        res["blend"] = rel(0.5 * (H + 0.5 * (J + J.transpose(0, 2, 1))), S2)
        res["calib"]["s2"] = calibration(model, xt, x, sigma, H)
    return res


def trained(a, D, run, seed):
    """(sigma, level, mix, model, ema, t_step, t0) for each --sigma: one
    model per sigma, or one ladder model evaluated at each of its levels."""
    if not a.ladder:
        for sigma in a.sigma:
            t0 = time.time()
            yield (sigma, -1, *train(D, sigma, run, a.steps, seed, a.set, a.mixture), t0)
        return
    t0 = time.time()
    mix, model, ema, t_step = train(D, None, run, a.steps, seed, a.set, a.mixture, a.ladder)
    sigmas = list(model.sigmas)
    for sigma in a.sigma:
        lv = [i for i, s in enumerate(sigmas) if abs(s - sigma) <= 1e-6 * sigma]
        if not lv:
            sys.exit(f"sigma {sigma} is not a level of the ladder {sigmas}")
        yield sigma, lv[0], mix, model, ema, t_step, t0


def cmd_job(a):
    for D in a.D:
        for run in a.run:
            for seed in a.seed:
                for sigma, level, mix, model, ema, t_step, t0 in trained(a, D, run, seed):
                    rec = dict(tag=a.tag, set=a.set, mixture=a.mixture, D=D, sigma=sigma,
                               run=run, seed=seed)
                    if a.ladder:
                        rec.update(ladder=a.ladder, level=level)
                    rec.update(steps=a.steps, t_step_ms=1e3 * t_step,
                               t_total_s=time.time() - t0,
                               final=evaluate(mix, model, sigma, run != "a", level),
                               ema=evaluate(mix, ema, sigma, run != "a", level))
                    print(json.dumps(rec), flush=True)
                    if a.out:
                        with open(a.out, "a") as f:
                            f.write(json.dumps(rec) + "\n")


def cmd_table(a):
    recs = [json.loads(l) for fn in a.files for l in open(fn) if l.strip()]
    g = collections.defaultdict(list)
    for r in recs:
        mixture = r.get("mixture", "ref")
        tag = (r.get("tag") or "default") + ("" if mixture == "ref" else f" ({mixture})")
        g[(tag, r["D"], r["sigma"], r["run"])].append(r)
    cols = [("a", "s1"), ("a", "jacsym"), ("c", "jacsym"), ("b", "s2"), ("c", "s2")]
    head = "| variant | weights | D | sigma | " + " | ".join(f"{q} ({r})" for r, q in cols) + \
        " | seeds |"
    for stat in a.stat:
        print(f"\n### {stat} relative error (mean ± sd over seeds)\n")
        print(head)
        print("|" + "---|" * (5 + len(cols)))
        for tag, D, sigma in sorted({k[:3] for k in g}):
            for w in a.weights:
                cells, n = [], []
                for run, q in cols:
                    rs = g.get((tag, D, sigma, run), [])
                    v = np.array([r[w][q][stat] for r in rs if q in r[w]])
                    n.append(str(len(rs)))
                    cells.append("-" if len(v) == 0 else f"{v.mean():.3f}" if len(v) == 1
                                 else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}")
                print(f"| {tag} | {w} | {D} | {sigma} | " + " | ".join(cells) +
                      f" | {'/'.join(n)} |")
    ccols = [("a", "exact"), ("a", "jacsym"), ("c", "jacsym"), ("c", "s2")]
    print("\n### calibration: predicted trace / realised squared error (mean ± sd over seeds)\n")
    print("| variant | weights | D | sigma | " + " | ".join(f"{q} ({r})" for r, q in ccols) + " |")
    print("|" + "---|" * (4 + len(ccols)))
    for tag, D, sigma in sorted({k[:3] for k in g}):
        for w in a.weights:
            cells = []
            for run, q in ccols:
                v = np.array([r[w]["calib"][q] for r in g.get((tag, D, sigma, run), [])
                              if q in r[w].get("calib", {})])
                cells.append("-" if len(v) == 0 else f"{v.mean():.3f}" if len(v) == 1
                             else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}")
            print(f"| {tag} | {w} | {D} | {sigma} | " + " | ".join(cells) + " |")


def cmd_compare(a):
    g = collections.defaultdict(list)
    for fn in a.files:
        for line in open(fn):
            if line.strip():
                r = json.loads(line)
                g[(r.get("tag") or "default", r.get("mixture", "ref"), r["D"], r["sigma"],
                   r["run"])].append(r)
    tags = sorted({k[0] for k in g})
    if a.base not in tags:
        sys.exit(f"compare: no records tagged {a.base!r} (tags: {', '.join(tags)})")
    others = [t for t in tags if t != a.base]
    quants = [("a", "s1"), ("a", "jacsym"), ("c", "s2")]

    def value(tag, cell, run, q, w, stat):
        v = [r[w][q][stat] for r in g.get((tag,) + cell + (run,), []) if q in r[w]]
        return float(np.mean(v)) if v else None

    cells = sorted({k[1:4] for k in g})
    ratios = collections.defaultdict(list)  # (tag, w, stat) -> ratios
    print(f"\n### error / error of {a.base} (means over seeds)\n")
    print("| mixture | D | sigma | weights | stat | " +
          " | ".join(f"{t}: {q} ({r})" for t in others for r, q in quants) + " |")
    print("|" + "---|" * (5 + len(others) * len(quants)))
    for cell in cells:
        for w in a.weights:
            for stat in a.stat:
                row = []
                for t in others:
                    for run, q in quants:
                        b, v = value(a.base, cell, run, q, w, stat), value(t, cell, run, q, w,
                                                                          stat)
                        if b is None or v is None:
                            row.append("-")
                            continue
                        ratios[(t, w, stat)].append(v / b)
                        row.append(f"{v / b:.2f}")
                print(f"| {cell[0]} | {cell[1]} | {cell[2]} | {w} | {stat} | " +
                      " | ".join(row) + " |")
    print(f"\n### summary against {a.base}: cells below 1, geometric mean [min, max]\n")
    print("| variant | weights | stat | below | geometric mean | range |")
    print("|---|---|---|---|---|---|")
    for (t, w, stat), rs in sorted(ratios.items()):
        rs = np.array(rs)
        print(f"| {t} | {w} | {stat} | {int((rs < 1).sum())} of {len(rs)} | "
              f"{np.exp(np.log(rs).mean()):.2f} | [{rs.min():.2f}, {rs.max():.2f}] |")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sp = p.add_subparsers(dest="cmd", required=True)
    j = sp.add_parser("job")
    j.add_argument("--D", type=int, nargs="+", default=[8])
    j.add_argument("--sigma", type=float, nargs="+", default=[0.1])
    j.add_argument("--run", nargs="+", default=["a", "b", "c"], choices=sorted(RUNS))
    j.add_argument("--seed", type=int, nargs="+", default=[0])
    j.add_argument("--steps", type=int, default=4000)
    j.add_argument("--mixture", default="ref", choices=sorted(MIXTURES))
    j.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    j.add_argument("--ladder", type=float, nargs=3, metavar=("SMAX", "SMIN", "L"))
    j.add_argument("--tag", default="")
    j.add_argument("--out", default="")
    t = sp.add_parser("table")
    t.add_argument("files", nargs="+")
    t.add_argument("--stat", nargs="+", default=["mean", "pooled"])
    t.add_argument("--weights", nargs="+", default=["final", "ema"])
    c = sp.add_parser("compare")
    c.add_argument("files", nargs="+")
    c.add_argument("--base", required=True)
    c.add_argument("--stat", nargs="+", default=["mean", "pooled"])
    c.add_argument("--weights", nargs="+", default=["final", "ema"])
    a = p.parse_args()
    {"job": cmd_job, "table": cmd_table, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
