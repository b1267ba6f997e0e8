#!/usr/bin/python3
"""speed_torch.py - the PyTorch side of the side-by-side comparison with
libhosm (bench/speed.c is the other side, bench/side_by_side.py runs both).

usage: /usr/bin/python3 bench/speed_torch.py CASE [ROUNDS]
       /usr/bin/python3 bench/speed_torch.py --serve   (requests "CASE ROUNDS" on stdin)
       /usr/bin/python3 bench/speed_torch.py --check DIR   (after speed lossref DIR)

The same cases, unit counts and output format as bench/speed.c: one JSON
line per measurement with the number of units, the wall time
(time.perf_counter) and the process CPU time (time.process_time) in
seconds. Each process takes a warm-up before its first measurement.

PyTorch gets its best single-thread settings: OMP_NUM_THREADS and
BLIS_NUM_THREADS = 1 before torch is imported, torch.set_num_threads(1),
one inter-op thread, inference_mode for queries and sampling, parameters
without requires_grad for the Jacobian. Debian's torch calls sgemm_ of the
BLAS alternative (here BLIS's libblas.so.3, a separate copy of BLIS from
the libblis.so.4 that libhosm links). BLIS_ARCH_TYPE, if the caller sets
it, is a numeric BLIS arch_t id (for example 6 = zen3, 3 = haswell) and is
left alone here; it is reported in every line.

The models mirror libhosm's (docs/training.md): s1 = net(x) / sigma, a
separate s2 network of the same shape whose outputs are divided by
sigma^2 (diag: D outputs; full: D(D+1)/2 outputs gathered into a symmetric
D x D matrix), and the joint loss w1 * L1 / sigma^2 + L2 with w1 = 1.
"""
import json
import math
import os
import resource
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("BLIS_NUM_THREADS", "1")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass

HID, SIGMA, LR = 256, 0.1, 1e-3


def mlp(d_in, d_out):
    return nn.Sequential(nn.Linear(d_in, HID), nn.Softplus(), nn.Linear(HID, HID), nn.Softplus(),
                         nn.Linear(HID, d_out))


class S1(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.net = mlp(d, d)

    def forward(self, x):
        return self.net(x) * (1.0 / SIGMA)


class S2Diag(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.net = mlp(d, d)

    def forward(self, x):
        return self.net(x) * (1.0 / SIGMA ** 2)


class S2Full(nn.Module):
    """D(D+1)/2 outputs (the upper triangle row by row, as libhosm), gathered
    into the symmetric D x D matrix."""

    def __init__(self, d):
        super().__init__()
        self.d = d
        self.net = mlp(d, d * (d + 1) // 2)
        idx = torch.empty(d, d, dtype=torch.long)
        k = 0
        for a in range(d):
            for b in range(a, d):
                idx[a, b] = idx[b, a] = k
                k += 1
        self.register_buffer("idx", idx.reshape(-1))

    def forward(self, x):
        o = self.net(x) * (1.0 / SIGMA ** 2)
        return o[:, self.idx].view(-1, self.d, self.d)


def make_data(n, d):
    g = torch.Generator().manual_seed(1)
    c = torch.randint(0, 2, (n, 1), generator=g).float() * 3.0 - 1.5
    return c + 0.5 * torch.randn(n, d, generator=g)


def l1_terms(kind, s1_noisy, s1_clean, z):
    """Per-point DSM (or DSM-VR with the clean point's s1)."""
    w = z / SIGMA
    l1 = ((s1_noisy + w) ** 2).sum(1)
    if kind == "dsm_vr":
        l1 = l1 - 2.0 * (s1_clean * w).sum(1) - (w * w).sum(1)
    return l1


def make_step(case, d, batch):
    data = make_data(8192, d)
    torch.manual_seed(0)
    s1 = S1(d)
    s2 = None
    if case in ("vr_diag_d64", "rss_d784"):
        s2 = S2Diag(d)
    elif case == "full_d32":
        s2 = S2Full(d)
    params = list(s1.parameters()) + (list(s2.parameters()) if s2 is not None else [])
    try:  # the faster of the two Adam implementations on this CPU (see docs/performance.md)
        opt = torch.optim.Adam(params, lr=LR, foreach=FOREACH)
    except TypeError:
        opt = torch.optim.Adam(params, lr=LR)
    pos = [0]
    inv2 = 1.0 / SIGMA ** 2

    def loss_of(x, z):
        B = x.shape[0]
        if case == "dsm_d2":
            return l1_terms("dsm", s1(x + SIGMA * z), None, z).mean()
        if case == "full_d32":  # DSM + D2SM, full s2
            xt = x + SIGMA * z
            a = s1(xt)
            psi = s2(xt) + a.unsqueeze(2) * a.unsqueeze(1)
            w = z / SIGMA
            T = w.unsqueeze(2) * w.unsqueeze(1) - inv2 * torch.eye(d)
            l2 = ((psi - T) ** 2).sum((1, 2))
            return (l1_terms("dsm", a, None, z) * inv2 + l2).mean()
        # DSM-VR + D2SM-VR, diagonal s2: rows x + sigma z, x - sigma z, x
        rows = torch.cat([x + SIGMA * z, x - SIGMA * z, x], 0)
        a = s1(rows)
        q = s2(rows)
        psi = q + a * a
        pp, pm, p0 = psi[:B], psi[B:2 * B], psi[2 * B:]
        T = (z / SIGMA) ** 2 - inv2
        l2 = 0.5 * ((pp * pp).sum(1) + (pm * pm).sum(1)) - (T * (pp + pm - 2.0 * p0)).sum(1)
        return (l1_terms("dsm_vr", a[:B], a[2 * B:], z) * inv2 + l2).mean()

    def step():
        x = data[pos[0]:pos[0] + batch]
        pos[0] = (pos[0] + batch) % data.shape[0]
        z = torch.randn(batch, d)
        loss = loss_of(x, z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    step.params = params
    step.loss_of = loss_of
    return step


def emit(case, rnd, units, unit, wall, cpu, flops=0.0, **extra):
    rec = {"side": "torch", "case": case, "round": rnd, "units": units, "unit": unit,
           "wall_s": wall, "cpu_s": cpu}
    if flops:
        rec["gemm_flops_per_unit"] = flops
    rec.update(extra)
    rec["BLIS_ARCH_TYPE"] = os.environ.get("BLIS_ARCH_TYPE", "unset")
    print(json.dumps(rec), flush=True)


def timed(fn, n):
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return time.perf_counter() - w0, time.process_time() - c0


def mlp_step_flops(n, k0, o):
    fwd = 2.0 * n * (k0 * HID + HID * HID + HID * o)
    return 2.0 * fwd + 2.0 * n * (HID * HID + HID * o)


def mlp_fwd_flops(n, k0, o):
    return 2.0 * n * (k0 * HID + HID * HID + HID * o)


# case: (D, batch, timed steps, warm-up steps, GEMM flops a step) - as speed.c
TRAIN = {
    "dsm_d2": (2, 128, 150, 10, mlp_step_flops(128, 2, 2)),
    "vr_diag_d64": (64, 128, 24, 3, 2 * mlp_step_flops(3 * 128, 64, 64)),
    "full_d32": (32, 1024, 8, 1, mlp_step_flops(1024, 32, 32) + mlp_step_flops(1024, 32, 528)),
}


def train_case(case, rounds):
    d, batch, steps, warm, flops = TRAIN[case]
    step = make_step(case, d, batch)
    timed(step, warm)
    for r in range(rounds):
        w, c = timed(step, steps)
        emit(case, r, steps, "step", w, c, flops)


def current_rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4 / 1024.0


def rss_case(rounds):
    d, batch = 784, 128
    base = current_rss_mib()  # after importing torch, before the data and the model
    step = make_step("rss_d784", d, batch)
    flops = 2 * mlp_step_flops(3 * batch, d, d)
    timed(step, 2)
    for r in range(rounds):
        w, c = timed(step, 8)
        emit("rss_d784", r, 8, "step", w, c, flops,
             peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
             baseline_rss_mib=base, data_mib=8192 * d * 4 / 1048576.0)


def sgemm_case(rounds):
    """torch.mm at the GEMM shapes of one full_d32 step (as speed.c's sgemm_d32)."""
    n, d, o2 = 1024, 32, 528
    shapes = []
    for o in (d, o2):  # (transpose a, transpose b, m, n, k) as lib/nn/mlp.c
        shapes += [(0, 1, n, HID, d), (0, 1, n, HID, HID), (0, 1, n, o, HID), (1, 0, o, HID, n),
                   (0, 0, n, HID, o), (1, 0, HID, HID, n), (0, 0, n, HID, HID), (1, 0, HID, d, n)]
    ops, flops = [], 0.0
    for ta, tb, m, nn_, k in shapes:
        a = torch.randn(k, m).t() if ta else torch.randn(m, k)
        b = torch.randn(nn_, k).t() if tb else torch.randn(k, nn_)
        c = torch.empty(m, nn_)
        ops.append((a, b, c))
        flops += 2.0 * m * nn_ * k

    def one_pass():
        for a, b, c in ops:
            torch.mm(a, b, out=c)
    timed(one_pass, 3)
    for r in range(rounds):
        w, c = timed(one_pass, 12)
        emit("sgemm_d32", r, 12, "pass", w, c, flops)


def query_case(case, rounds):
    d, n = 64, 128
    x = make_data(n, d)
    torch.manual_seed(0)
    if case == "hessian_d64":
        s2 = S2Full(d)

        def fn():
            with torch.inference_mode():
                return s2(x)
        calls, flops, extra = 60, mlp_fwd_flops(n, d, d * (d + 1) // 2), {}
    else:
        import functorch
        s1 = S1(d)
        for p in s1.parameters():
            p.requires_grad_(False)
        how = functorch.jacfwd if case == "jacobian_d64_jacfwd" else functorch.jacrev
        jac = functorch.vmap(how(s1))
        fn = lambda: jac(x)  # noqa: E731
        calls, flops = 12, 0.0
        extra = {"method": "functorch.vmap(functorch.%s)" % how.__name__}
        if case == "estimate_d64":  # (s2 + the symmetrised Jacobian) / 2
            s2 = S2Full(d)

            def fn():
                j = jac(x)
                with torch.inference_mode():
                    return 0.5 * s2(x) + 0.25 * (j + j.transpose(1, 2))
    out = fn()
    assert tuple(out.shape) == (n, d, d)
    timed(fn, 3)
    for r in range(rounds):
        w, c = timed(fn, calls)
        emit(case, r, calls, "call", w, c, flops, points=n, **extra)


def langevin_case(rounds):
    d, chains, steps, eps = 64, 1000, 20, 1e-3
    torch.manual_seed(0)
    s1 = S1(d)
    x0 = make_data(chains, d)
    sq = math.sqrt(eps)

    def run(n=steps):
        x = x0.clone()
        with torch.inference_mode():
            for _ in range(n):
                x = x + (0.5 * eps) * s1(x) + sq * torch.randn(chains, d)
        return x
    run(3)
    for r in range(rounds):
        w, c = timed(run, 1)
        emit("langevin_d64", r, chains * steps, "chain-step", w, c, mlp_fwd_flops(1, d, d),
             chains=chains, steps=steps)


def update_case(rounds):
    """Adam's step and an EMA of the weights (decay 0.999, as libhosm's
    default) over the parameters of the case-7 model, with a fixed random
    gradient: the update half of a step alone."""
    s1, s2 = S1(784), S2Diag(784)
    params = list(s1.parameters()) + list(s2.parameters())
    ema = [p.detach().clone() for p in params]
    for p in params:
        p.grad = 1e-3 * torch.randn_like(p)
    opt = torch.optim.Adam(params, lr=LR, foreach=FOREACH)
    live = [p.detach() for p in params]

    def update():
        opt.step()
        torch._foreach_mul_(ema, 0.999)
        torch._foreach_add_(ema, live, alpha=0.001)
    timed(update, 4)
    for r in range(rounds):
        w, c = timed(update, 40)
        emit("update_d784", r, 40, "update", w, c, params=sum(p.numel() for p in params))


def info_case():
    libs = set()
    with open("/proc/self/maps") as f:
        torch.mm(torch.randn(64, 64), torch.randn(64, 64))  # loads and initialises the BLAS
        for line in f:
            p = line.split()[-1]
            if any(k in p for k in ("blas", "blis", "lapack", "dnnl", "mkl", "openblas")):
                libs.add(p)
    cfg = torch.__config__.show()
    blas_info = [s.strip() for s in cfg.replace(",", "\n").split("\n") if "BLAS_INFO" in s]
    print(json.dumps({"side": "torch", "case": "info", "torch_version": torch.__version__,
                      "threads": torch.get_num_threads(),
                      "interop_threads": torch.get_num_interop_threads(),
                      "blas_info": blas_info, "blas_libraries": sorted(libs),
                      "adam_foreach": FOREACH,
                      "BLIS_ARCH_TYPE": os.environ.get("BLIS_ARCH_TYPE", "unset"),
                      "BLIS_NUM_THREADS": os.environ.get("BLIS_NUM_THREADS"),
                      "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}), flush=True)


# Adam: foreach=True by default (at least as fast as torch 1.13's CPU default foreach=False
# here); HOSM_TORCH_FOREACH=0 picks False.
FOREACH = os.environ.get("HOSM_TORCH_FOREACH", "1") == "1"

def check_case(dirname):
    """--check DIR: the loss and gradient of make_step's loss at the weights,
    batch and noise that speed.c lossref DIR wrote, against libhosm's
    (hosm_trainer_gradient). The parameter layout of docs/format.md is the
    order of the nn.Linear weights and biases, s1's network then s2's."""
    import numpy as np

    def load(case, ext):
        return torch.from_numpy(np.fromfile(os.path.join(dirname, case + "." + ext),
                                            dtype=np.float32))
    with open(os.path.join(dirname, "lossref.jsonl")) as f:
        refs = [json.loads(line) for line in f if line.startswith("{")]
    for ref in refs:
        case, d, batch = ref["of"], ref["D"], ref["batch"]
        step = make_step(case, d, batch)
        model_params = step.params
        flat = load(case, "params")
        if sum(p.numel() for p in model_params) != flat.numel():
            sys.exit("check: %s: %d parameters here, %d in libhosm"
                     % (case, sum(p.numel() for p in model_params), flat.numel()))
        k = 0
        with torch.no_grad():
            for p in model_params:
                p.copy_(flat[k:k + p.numel()].view_as(p))
                k += p.numel()
        x, z = load(case, "x").view(batch, d), load(case, "z").view(batch, d)
        loss = step.loss_of(x, z)
        grads = torch.autograd.grad(loss, model_params)
        g = torch.cat([t.reshape(-1) for t in grads]).double()
        gref = load(case, "grad").double()
        print(json.dumps({"side": "torch", "case": "check", "of": case, "loss": loss.item(),
                          "loss_libhosm": ref["loss"],
                          "loss_rel_diff": abs(loss.item() - ref["loss"]) / abs(ref["loss"]),
                          "grad_rel_diff": float((g - gref).norm() / gref.norm())}), flush=True)


def run_case(case, rounds):
    if case == "info":
        info_case()
    elif case in TRAIN:
        train_case(case, rounds)
    elif case == "rss_d784":
        rss_case(rounds)
    elif case == "sgemm_d32":
        sgemm_case(rounds)
    elif case in ("hessian_d64", "jacobian_d64", "jacobian_d64_jacfwd", "estimate_d64"):
        query_case(case, rounds)
    elif case == "langevin_d64":
        langevin_case(rounds)
    elif case == "update_d784":
        update_case(rounds)
    else:
        sys.exit("speed_torch.py: unknown case " + case)


def serve():
    """--serve: read "CASE ROUNDS" lines from stdin and answer each with its
    JSON lines and then "#done", so that a driver pays for importing torch
    once. Every request builds its own model and data and takes its own
    warm-up, as a fresh process would."""
    for line in sys.stdin:
        if not line.strip():
            continue
        case, rounds = line.split()
        run_case(case, int(rounds))
        print("#done", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--serve":
        serve()
    elif sys.argv[1] == "--check":
        check_case(sys.argv[2])
    else:
        run_case(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3)
