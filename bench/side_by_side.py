#!/usr/bin/python3
"""side_by_side.py - libhosm against PyTorch on the same cases, one thread each.

usage: /usr/bin/python3 bench/side_by_side.py [--build build] [--rounds 5]
           [--per-process 1] [--torch-blis-arch-type auto|ID]
           [--torch-alt-blis-arch-type 3] [--raw FILE]

Runs bench/speed (the C program, built in BUILD/bench/speed) and
bench/speed_torch.py alternately, case by case, for ROUNDS rounds
(C, torch, C, torch, ...); each request builds its model, takes its
warm-up and then PER_PROCESS measurements. The C side is a fresh process
for every request. The PyTorch side runs in a long-lived worker
(speed_torch.py --serve), so that the 1 to 2 s of importing torch is paid
once; only the peak-RSS case runs in fresh processes on both sides. It then prints the medians,
over all measurements of a side, of the CPU time (process time) and of the
wall time per unit, as a Markdown table with the ratio libhosm / PyTorch in
throughput terms (> 1: libhosm is faster; for memory: PyTorch / libhosm,
> 1: libhosm uses less), together with the load average, the CPU model and
the BLIS sub-configuration each side used.

Before timing, it checks that the two sides compute the same thing: the
loss and parameter gradient of PyTorch's training step at libhosm's initial
weights, batch and noise (speed lossref, speed_torch.py --check) against
hosm_trainer_gradient(), for the three training cases.

libhosm gets no settings: BLIS_ARCH_TYPE is removed from its environment, so
BLIS picks its sub-configuration from the CPU model (reported by
bli_arch_query_id()). PyTorch gets OMP_NUM_THREADS = BLIS_NUM_THREADS = 1,
torch.set_num_threads(1), Adam with foreach=True, and BLIS_ARCH_TYPE =
--torch-blis-arch-type ("auto", the default, leaves it unset). In Debian's
BLIS 0.9.0 BLIS_ARCH_TYPE takes the numeric arch_t id (0 skx, 3 haswell,
6 zen3, 7 zen2, 8 zen); a name or an empty value aborts the process. The
torch sgemm row is also measured with BLIS_ARCH_TYPE =
--torch-alt-blis-arch-type (default 3, haswell), to show whether another
sub-configuration would serve PyTorch better.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"

# (key, side(s), case, what the table calls it)
CASES = [
    ("dsm_d2", "1. DSM, D=2, batch 128", "steps/s"),
    ("vr_diag_d64", "2. DSM-VR + D2SM-VR, diag s2, D=64, batch 128", "steps/s"),
    ("full_d32", "3. DSM + D2SM, full s2 (packed), D=32, batch 1024", "steps/s"),
    ("sgemm_d32", "3'. raw sgemm at the case-3 GEMM shapes", "GFLOP/s"),
    ("hessian_d64", "4. full-s2 Hessian, 128 points, D=64", "ms/call"),
    ("jacobian_d64", "5. Jacobian of s1, 128 points, D=64", "ms/call"),
    ("estimate_d64", "5'. Hessian estimate 'average' (full s2 and sym. Jacobian), 128 points, D=64",
     "ms/call"),
    ("langevin_d64", "6. Langevin, 1000 chains, D=64", "us/chain-step"),
    ("update_d784", "8. Adam + EMA update of the case-7 model (936 480 parameters)", "ms/update"),
    ("rss_d784", "7. joint diag training (DSM-VR + D2SM-VR), D=784, batch 128", "peak RSS MB"),
]
# Extra PyTorch-only runs: (label, case, in the worker with the alternative BLIS_ARCH_TYPE)
TORCH_EXTRA = [
    ("jacobian_d64_jacfwd", "jacobian_d64_jacfwd", False),
    ("sgemm_d32_alt", "sgemm_d32", True),
]


def run(cmd, env):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    recs, other = [], []
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            recs.append(json.loads(line))
        else:
            other.append(line)
    if p.returncode != 0:
        sys.exit("%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stdout))
    return recs, other


class TorchWorker:
    """speed_torch.py --serve: one process, torch imported once."""

    def __init__(self, torch_py, env):
        self.p = subprocess.Popen([PY, torch_py, "--serve"], env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, universal_newlines=True, bufsize=1)

    def run(self, case, rounds):
        self.p.stdin.write("%s %d\n" % (case, rounds))
        self.p.stdin.flush()
        recs = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                sys.exit("speed_torch.py --serve ended during %s" % case)
            if line.startswith("#done"):
                return recs
            if line.startswith("{"):
                recs.append(json.loads(line))

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def uptime():
    return subprocess.run(["uptime"], stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()


def med(v):
    return statistics.median(v) if v else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--per-process", type=int, default=1)
    ap.add_argument("--torch-blis-arch-type", default="auto")
    ap.add_argument("--torch-alt-blis-arch-type", default="3")
    ap.add_argument("--raw", help="also write every JSON line to this file")
    args = ap.parse_args()

    speed = os.path.join(args.build, "bench", "speed")
    if not os.access(speed, os.X_OK):
        sys.exit("no %s: build first (meson setup %s -Dbuildtype=release && ninja -C %s)"
                 % (speed, args.build, args.build))
    torch_py = os.path.join(HERE, "speed_torch.py")

    env_c = dict(os.environ)
    env_c.pop("BLIS_ARCH_TYPE", None)
    env_t = dict(os.environ)
    env_t["OMP_NUM_THREADS"] = env_t["BLIS_NUM_THREADS"] = "1"
    if args.torch_blis_arch_type == "auto":
        env_t.pop("BLIS_ARCH_TYPE", None)
    else:
        env_t["BLIS_ARCH_TYPE"] = args.torch_blis_arch_type

    def sub_config(env, cmd):
        e = dict(env)
        e["BLIS_ARCH_DEBUG"] = "1"
        recs, other = run(cmd, e)
        m = [re.search(r"sub-configuration '([^']+)'", s) for s in other]
        return recs, ", ".join(sorted({x.group(1) for x in m if x}))

    c_info, c_dbg = sub_config(env_c, [speed, "info"])
    t_info, t_dbg = sub_config(env_t, [PY, torch_py, "info"])
    env_ta = dict(env_t)
    env_ta["BLIS_ARCH_TYPE"] = args.torch_alt_blis_arch_type
    _, t_dbg_alt = sub_config(env_ta, [PY, torch_py, "info"])

    # The same function on both sides: loss and gradient at libhosm's weights.
    with tempfile.TemporaryDirectory() as tmp:
        refs, _ = run([speed, "lossref", tmp], env_c)
        with open(os.path.join(tmp, "lossref.jsonl"), "w") as f:
            for rec in refs:
                f.write(json.dumps(rec) + "\n")
        checks, _ = run([PY, torch_py, "--check", tmp], env_t)

    # PyTorch runs in two long-lived workers (one per BLIS_ARCH_TYPE setting), so
    # that importing torch is paid once; the peak-RSS case needs fresh
    # processes and runs as one on both sides.
    worker = TorchWorker(torch_py, env_t)
    worker_alt = TorchWorker(torch_py, env_ta)
    start = uptime()
    t0 = time.time()
    loads, raw = [], []
    res = {}  # (side, case) -> list of records
    for r in range(args.rounds):
        for key, _, _ in CASES:
            for side in ("libhosm", "torch"):
                loads.append(os.getloadavg()[0])
                if side == "libhosm":
                    recs, _ = run([speed, key, str(args.per_process)], env_c)
                elif key == "rss_d784":
                    recs, _ = run([PY, torch_py, key, str(args.per_process)], env_t)
                else:
                    recs = worker.run(key, args.per_process)
                res.setdefault((side, key), []).extend(recs)
                raw += recs
        for label, case, alt in TORCH_EXTRA:
            loads.append(os.getloadavg()[0])
            recs = (worker_alt if alt else worker).run(case, args.per_process)
            res.setdefault(("torch", label), []).extend(recs)
            raw += recs
        print("round %d/%d done, %.0f s, load %.2f" % (r + 1, args.rounds, time.time() - t0,
                                                      os.getloadavg()[0]), file=sys.stderr)
    end = uptime()
    worker.close()
    worker_alt.close()
    if args.raw:
        with open(args.raw, "w") as f:
            for rec in c_info + t_info + refs + checks + raw:
                f.write(json.dumps(rec) + "\n")

    def per_unit(side, key, what):
        recs = res.get((side, key), [])
        return med([x[what] / x["units"] for x in recs])

    def cpu_share(side, key):
        recs = res.get((side, key), [])
        return med([x["cpu_s"] / x["wall_s"] for x in recs])

    # --- the table --------------------------------------------------------
    rows = []
    for key, name, unit in CASES:
        h_cpu, h_wall = per_unit("libhosm", key, "cpu_s"), per_unit("libhosm", key, "wall_s")
        t_cpu, t_wall = per_unit("torch", key, "cpu_s"), per_unit("torch", key, "wall_s")
        if key == "rss_d784":
            hr = res[("libhosm", key)][-1]
            tr = res[("torch", key)][-1]
            h_pk = med([x["peak_rss_mib"] for x in res[("libhosm", key)]]) * 1.048576
            t_pk = med([x["peak_rss_mib"] for x in res[("torch", key)]]) * 1.048576
            rows.append((name, "peak RSS, MB", h_pk, t_pk, t_pk / h_pk, None, None, None))
            h_d = h_pk - hr["baseline_rss_mib"] * 1.048576
            t_d = t_pk - tr["baseline_rss_mib"] * 1.048576
            rows.append(("   the same, above the process's RSS before data and model",
                         "MB", h_d, t_d, t_d / h_d, None, None, None))
            rows.append(("   its step time", "steps/s", 1 / h_cpu, 1 / t_cpu, t_cpu / h_cpu,
                         1 / h_wall, 1 / t_wall, t_wall / h_wall))
            continue
        if unit == "steps/s":
            rows.append((name, unit, 1 / h_cpu, 1 / t_cpu, t_cpu / h_cpu,
                         1 / h_wall, 1 / t_wall, t_wall / h_wall))
        elif unit == "GFLOP/s":
            fl = res[("libhosm", key)][0]["gemm_flops_per_unit"] * 1e-9
            rows.append((name + " (libhosm: its products, hosmi_sgemm; PyTorch: torch.mm)", unit,
                         fl / h_cpu, fl / t_cpu, t_cpu / h_cpu, fl / h_wall, fl / t_wall,
                         t_wall / h_wall))
        elif unit in ("ms/call", "ms/update"):
            rows.append((name, unit, h_cpu * 1e3, t_cpu * 1e3, t_cpu / h_cpu,
                         h_wall * 1e3, t_wall * 1e3, t_wall / h_wall))
        else:
            rows.append((name, unit, h_cpu * 1e6, t_cpu * 1e6, t_cpu / h_cpu,
                         h_wall * 1e6, t_wall * 1e6, t_wall / h_wall))
        if key == "full_d32":
            fl = res[("libhosm", key)][0]["gemm_flops_per_unit"] * 1e-9
            rows.append(("   its GEMM rate (%.3f GFLOP a step)" % fl, "GFLOP/s", fl / h_cpu,
                         fl / t_cpu, t_cpu / h_cpu, fl / h_wall, fl / t_wall, t_wall / h_wall))
        if key == "sgemm_d32":
            fl = res[("libhosm", "full_d32")][0]["gemm_flops_per_unit"] * 1e-9
            raw_h = fl / per_unit("libhosm", "sgemm_d32", "cpu_s")
            raw_t = fl / per_unit("torch", "sgemm_d32", "cpu_s")
            step_h = fl / per_unit("libhosm", "full_d32", "cpu_s")
            step_t = fl / per_unit("torch", "full_d32", "cpu_s")
            rows.append(("   case-3 step GEMM rate / own raw sgemm rate (CPU)", "%",
                         100 * step_h / raw_h, 100 * step_t / raw_t, None, None, None, None))
        if key == "jacobian_d64":
            tj = per_unit("torch", "jacobian_d64_jacfwd", "cpu_s")
            tjw = per_unit("torch", "jacobian_d64_jacfwd", "wall_s")
            rows.append(("   PyTorch with functorch.vmap(jacfwd) instead", unit, h_cpu * 1e3,
                         tj * 1e3, tj / h_cpu, h_wall * 1e3, tjw * 1e3, tjw / h_wall))

    def f(v):
        if v is None:
            return "-"
        if v != v:
            return "nan"
        return "%.3g" % v if abs(v) < 1000 else "%.0f" % v

    out = []
    out.append("| case | unit | libhosm (CPU) | PyTorch (CPU) | ratio (CPU) | "
               "libhosm (wall) | PyTorch (wall) | ratio (wall) |")
    out.append("|---|---|---|---|---|---|---|---|")
    for row in rows:
        out.append("| " + " | ".join([row[0], row[1]] + [f(v) for v in row[2:]]) + " |")

    ta = per_unit("torch", "sgemm_d32_alt", "cpu_s")
    fl = res[("libhosm", "full_d32")][0]["gemm_flops_per_unit"] * 1e-9
    shares = {s: med([cpu_share(s, k) for k, _, _ in CASES]) for s in ("libhosm", "torch")}
    hi = c_info[0]
    ti = t_info[0]
    print("## side_by_side.py: %d rounds, %d measurement(s) a process, %.0f s"
          % (args.rounds, args.per_process, time.time() - t0))
    print()
    print("- CPU: %s, %d logical CPUs; %s" % (cpu_model(), os.cpu_count(), platform.platform()))
    print("- uptime at start: `%s`" % start)
    print("- uptime at end:   `%s`" % end)
    print("- 1-min load average when each process started: median %.2f, min %.2f, max %.2f"
          % (med(loads), min(loads), max(loads)))
    print("- median CPU time / wall time of a measurement: libhosm %.2f, PyTorch %.2f"
          % (shares["libhosm"], shares["torch"]))
    print("- libhosm %s, BLIS %s: bli_arch_query_id() = %d, bli_arch_string() = '%s'; "
          "BLIS_ARCH_TYPE unset; BLIS_ARCH_DEBUG says '%s'; the library's products use '%s' "
          "(gemm_kernels=auto); 1 thread (threads=1)"
          % (hi["hosm_version"], hi["blis_version"], hi["blis_arch_id"], hi["blis_arch"], c_dbg,
             hi.get("hosm_kernels", "?")))
    print("- PyTorch %s: %s; BLAS libraries loaded: %s; threads %d, inter-op %d; "
          "BLIS_ARCH_TYPE=%s, so BLIS_ARCH_DEBUG says '%s'; Adam foreach=%s"
          % (ti["torch_version"], "; ".join(ti["blas_info"]), ", ".join(ti["blas_libraries"]),
             ti["threads"], ti["interop_threads"], ti["BLIS_ARCH_TYPE"], t_dbg,
             ti["adam_foreach"]))
    print("- PyTorch raw sgemm at the case-3 shapes with BLIS_ARCH_TYPE=%s instead ('%s'): "
          "%.1f GFLOP/s (CPU), against %.1f in the table"
          % (args.torch_alt_blis_arch_type, t_dbg_alt, fl / ta,
             fl / per_unit("torch", "sgemm_d32", "cpu_s")))
    print("- same function on both sides (PyTorch's loss and gradient at libhosm's initial "
          "weights, batch and noise, against hosm_trainer_gradient()): "
          + "; ".join("%s loss rel. diff %.1e, gradient %.1e"
                      % (c["of"], c["loss_rel_diff"], c["grad_rel_diff"]) for c in checks))
    print()
    print("\n".join(out))


if __name__ == "__main__":
    main()
