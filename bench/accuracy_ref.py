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
    /usr/bin/python3 bench/accuracy_ref.py controls --mixture ref [--calib-points N]

Runs: a = s1 alone (DSM-VR), b = s1 + full s2 by D2SM, c = by D2SM-VR (w1 = 2,
since libhosm's L2 has no factor 1/2). --set adds config keys (ablations);
--tag names the variant in the table. Every error is the relative one
||est - exact|| / ||exact|| per point, reported as mean, median and p90 over
the points, and pooled: sqrt(sum ||est - exact||^2 / sum ||exact||^2).
--calib-points N adds the calibration (predicted posterior trace over
realised squared error) on N fresh points with standard errors, overall and
by decile of the predicted trace, and the exact posterior's own ("oracle",
expectation 1) as the measure of the sampling noise; controls gives that
and the calibration of a zero Hessian per cell, without training.
compare gives each variant's error over the base variant's (means over
seeds) for s1 (run a), the symmetrised Jacobian (a) and the learned s2 (c),
cell by cell, and per variant how many cells it wins and the geometric
mean and range of the ratios. With --ladder SMAX SMIN L one model is trained on the geometric ladder of
L levels from SMAX to SMIN (the same steps in all, each point at a random
level) and evaluated at each --sigma, which must be one of its levels.
--init sets an initialisation the library does not offer (ablations).
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
    return ratio(pred, (err * err).sum(1))["ratio"]


def ratio(pred, err):
    """sum(pred) / sum(err) and its standard error over the points (the
    delta method: the ratio of two sums of the same points' terms)."""
    r = pred.sum() / err.sum()
    return dict(ratio=float(r), se=float(np.sqrt(((pred - r * err) ** 2).sum()) / err.sum()))


def calibration_points(mix, model, sigma, has_s2, level, n, chunk=10_000):
    """Calibration on n fresh noisy points, each with its standard error.
    "oracle" is the exact posterior, its mean and its trace, whose ratio has
    expectation exactly 1: it measures the sampling noise alone; "zero" is
    the exact mean with a zero Hessian (trace sigma^2 D), which says how
    much of the predicted trace the Hessian decides. The others use the
    model's Tweedie mean with the trace of the exact s2 ("exact"), of the
    Jacobian of s1 ("jacsym", whose trace is the symmetrised one's) and of
    the learned s2 ("s2"); without a model only the first two. Only traces
    are needed, so this queries diagonals and scales to many points."""
    D = mix.dim
    keys = ["oracle", "zero"] + (["exact", "jacsym"] if model else []) + \
        (["s2"] if model and has_s2 else [])
    pred = {k: [] for k in keys}
    err = {k: [] for k in keys}
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        seed = EVAL_SEED + 1 + 7919 * (start // chunk) + D
        x = mix.sample(m, seed=seed).astype(np.float64)
        xt = (x + sigma * np.random.default_rng(seed).standard_normal((m, D))).astype(np.float32)
        x64 = xt.astype(np.float64)
        base = sigma ** 2 * D
        exact = base + sigma ** 4 * np.trace(mix.hessian(x64, sigma), axis1=1, axis2=2)
        e_oracle = ((mix.posterior_mean(x64, sigma) - x) ** 2).sum(1)
        traces = {"oracle": (exact, e_oracle), "zero": (np.full(m, base), e_oracle)}
        if model:
            e_model = ((model.denoise(xt, level).astype(np.float64) - x) ** 2).sum(1)
            traces["exact"] = (exact, e_model)
            traces["jacsym"] = (base + sigma ** 4 * model.score_jacobian_diag(xt, level)
                                .astype(np.float64).sum(1), e_model)
        if model and has_s2:
            traces["s2"] = (base + sigma ** 4 * model.hessian_diag(xt, level)
                            .astype(np.float64).sum(1), e_model)
        for k, (p, e) in traces.items():
            pred[k].append(p)
            err[k].append(e)
    out = {"n": n}
    for k in keys:
        p, e = np.concatenate(pred[k]), np.concatenate(err[k])
        out[k] = ratio(p, e)
        # by decile of the predicted trace: are the large ones large where the errors are?
        deciles = np.array_split(np.argsort(p, kind="stable"), 10)
        out[k]["deciles"] = [ratio(p[i], e[i])["ratio"] for i in deciles]
    return out


def rel(est, exact):
    n = est.shape[0]
    d = (est - exact).reshape(n, -1)
    e = exact.reshape(n, -1)
    per = np.linalg.norm(d, axis=1) / np.linalg.norm(e, axis=1)
    pooled = np.sqrt((d * d).sum() / (e * e).sum())
    return dict(mean=float(per.mean()), median=float(np.median(per)),
                p90=float(np.quantile(per, 0.9)), pooled=float(pooled))


# Initialisations the library does not offer, set through the parameter
# layout of docs/format.md before training (ablations).
INITS = {
    "zero_head": "the output layers of s1 and s2, weights and biases, at 0",
    "s2_minus_identity": "the bias of s2's diagonal outputs at -1: s2 starts at -I / sigma^2, "
                         "a zero posterior covariance",
}


def initialise(model, cfg, how):
    """One-level models (a ladder's level biases follow the output layers)."""
    if model.num_levels > 1:
        sys.exit("--init: one-level models only")
    D, p = model.dim, model.get_params()
    structure, rank = model.s2_structure
    outputs2 = {hosm.S2.NONE: 0, hosm.S2.DIAG: D, hosm.S2.LOWRANK: D * rank + D,
                hosm.S2.FULL: D * (D + 1) // 2}[structure]
    with hosm.Config(cfg.text() + " s2=none") as c1, hosm.Model(D, c1) as m1:
        p1 = m1.num_params
    h1 = cfg["hidden"]
    if how == "zero_head":
        p[p1 - D * (h1 + 1):p1] = 0
        if outputs2:
            p[p.size - outputs2 * ((cfg["s2_hidden"] or h1) + 1):] = 0
    elif how == "s2_minus_identity":
        if structure != hosm.S2.FULL:
            sys.exit("--init s2_minus_identity: a full s2 only")
        a = np.arange(D)
        p[p.size - outputs2 + a * D - a * (a - 1) // 2] = -1.0
    model.set_params(p)


def train(D, sigma, run, steps, seed, extra, mixture="ref", ladder=None, init=None):
    mix = MIXTURES[mixture](D)
    noise = (f"sigma_max={ladder[0]} sigma_min={ladder[1]} levels={int(ladder[2])}" if ladder
             else f"sigma={sigma}")
    text = f"{RECIPE} {RUNS[run]} {noise} seed={seed} " + " ".join(extra)
    cfg = hosm.Config(text)
    model = hosm.Model(D, cfg)
    if init:
        initialise(model, cfg, init)
    trainer = hosm.Trainer(model, cfg)
    draws = np.random.default_rng(10_000 + seed)
    t0 = time.process_time()
    for _ in range(steps):
        trainer.step(mix.sample(256, seed=int(draws.integers(1 << 62))))
    t_step = (time.process_time() - t0) / max(steps, 1)
    ema = hosm.Model(D, cfg)
    trainer.copy_ema(ema)
    return mix, model, ema, t_step


def evaluate(mix, model, sigma, has_s2, level=-1, calib_points=0):
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
    if calib_points:
        res["calib_points"] = calibration_points(mix, model, sigma, has_s2, level, calib_points)
    return res


def trained(a, D, run, seed):
    """(sigma, level, mix, model, ema, t_step, t0) for each --sigma: one
    model per sigma, or one ladder model evaluated at each of its levels."""
    if not a.ladder:
        for sigma in a.sigma:
            t0 = time.time()
            yield (sigma, -1, *train(D, sigma, run, a.steps, seed, a.set, a.mixture,
                                     init=a.init), t0)
        return
    t0 = time.time()
    mix, model, ema, t_step = train(D, None, run, a.steps, seed, a.set, a.mixture, a.ladder,
                                    a.init)
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
                    if a.init:
                        rec.update(init=a.init)
                    if a.ladder:
                        rec.update(ladder=a.ladder, level=level)
                    rec.update(steps=a.steps, t_step_ms=1e3 * t_step,
                               t_total_s=time.time() - t0,
                               final=evaluate(mix, model, sigma, run != "a", level,
                                              a.calib_points),
                               ema=evaluate(mix, ema, sigma, run != "a", level, a.calib_points))
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
    calibration_points_table(g, a.weights)


def calibration_points_table(g, weights):
    """The records' --calib-points calibration: per cell the mean over seeds
    of the overall ratio with the largest standard error of one seed, and
    the range of the ratios by decile of predicted trace over all seeds."""
    ccols = [("a", "oracle"), ("a", "jacsym"), ("c", "jacsym"), ("c", "s2")]
    rows = []
    for tag, D, sigma in sorted({k[:3] for k in g}):
        for w in weights:
            cells = []
            for run, q in ccols:
                cs = [r[w]["calib_points"][q] for r in g.get((tag, D, sigma, run), [])
                      if q in r[w].get("calib_points", {})]
                if not cs:
                    cells.append("-")
                    continue
                dec = [d for c in cs for d in c["deciles"]]
                cells.append(f"{np.mean([c['ratio'] for c in cs]):.3f} "
                             f"(se {max(c['se'] for c in cs):.3f}; deciles "
                             f"{min(dec):.2f}–{max(dec):.2f})")
            if any(c != "-" for c in cells):
                rows.append(f"| {tag} | {w} | {D} | {sigma} | " + " | ".join(cells) + " |")
    if not rows:
        return
    n = {r[w]["calib_points"]["n"] for rs in g.values() for r in rs for w in weights
         if "calib_points" in r[w]}
    print(f"\n### calibration on {'/'.join(map(str, sorted(n)))} fresh points: mean over seeds "
          "(largest standard error of one seed; range by decile of predicted trace)\n")
    print("| variant | weights | D | sigma | " + " | ".join(f"{q} ({r})" for r, q in ccols) + " |")
    print("|" + "---|" * (4 + len(ccols)))
    print("\n".join(rows))


def cmd_controls(a):
    """The calibration of the exact posterior and of a zero Hessian, per cell."""
    print(f"\n### calibration controls on {a.calib_points} fresh points (exact posterior mean)\n")
    print("| mixture | D | sigma | exact trace: overall (se) | deciles | zero Hessian: overall "
          "| deciles |")
    print("|---|---|---|---|---|---|---|")
    for D in a.D:
        for sigma in a.sigma:
            c = calibration_points(MIXTURES[a.mixture](D), None, sigma, False, -1,
                                   a.calib_points)
            o, z = c["oracle"], c["zero"]
            print(f"| {a.mixture} | {D} | {sigma} | {o['ratio']:.3f} ({o['se']:.3f}) | "
                  f"{min(o['deciles']):.2f}–{max(o['deciles']):.2f} | {z['ratio']:.3f} | "
                  f"{min(z['deciles']):.2f}–{max(z['deciles']):.2f} |", flush=True)


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
    j.add_argument("--init", choices=sorted(INITS),
                   help="an initialisation for ablations: " +
                        "; ".join(f"{k}: {v}" for k, v in INITS.items()))
    j.add_argument("--calib-points", type=int, default=0, metavar="N",
                   help="also the calibration on N fresh points, with standard errors")
    j.add_argument("--tag", default="")
    j.add_argument("--out", default="")
    t = sp.add_parser("table")
    t.add_argument("files", nargs="+")
    t.add_argument("--stat", nargs="+", default=["mean", "pooled"])
    t.add_argument("--weights", nargs="+", default=["final", "ema"])
    k = sp.add_parser("controls")
    k.add_argument("--D", type=int, nargs="+", default=[2, 8, 32])
    k.add_argument("--sigma", type=float, nargs="+", default=[0.05, 0.1, 0.3])
    k.add_argument("--mixture", default="ref", choices=sorted(MIXTURES))
    k.add_argument("--calib-points", type=int, default=100_000)
    c = sp.add_parser("compare")
    c.add_argument("files", nargs="+")
    c.add_argument("--base", required=True)
    c.add_argument("--stat", nargs="+", default=["mean", "pooled"])
    c.add_argument("--weights", nargs="+", default=["final", "ema"])
    a = p.parse_args()
    {"job": cmd_job, "table": cmd_table, "compare": cmd_compare,
     "controls": cmd_controls}[a.cmd](a)


if __name__ == "__main__":
    main()
