#!/usr/bin/env python3
"""The hosm command-line tool end to end (suite 'cli').

usage: test_cli.py HOSM WORKDIR CASE

CASE is one of train, resume, sample, denoise, info, plot, sigint, errors.
Each case works in a fresh WORKDIR/CASE on a small 2-D Gaussian mixture that
it writes as .npy (float32 and float64) and as CSV, and trains tiny models
for a few dozen steps. Needs numpy (exit 77, "skipped", without it).
"""
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

try:
    import numpy as np
except ImportError:
    print("SKIP: numpy is not available")
    sys.exit(77)

HOSM = os.path.abspath(sys.argv[1])
WORK = os.path.join(os.path.abspath(sys.argv[2]), sys.argv[3])
CASE = sys.argv[3]
SVG = "{http://www.w3.org/2000/svg}"

# A tiny model: seconds are what the tests may spend, not accuracy.
TINY = ["hidden=16", "depth=1", "levels=3", "sigma_max=2", "sigma_min=0.2", "batch=64",
        "seed=3"]


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def run(*args, rc=0, stdin=None):
    """Run hosm; check the exit status; return (stdout, stderr)."""
    p = subprocess.run([HOSM] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, input=stdin,
                       timeout=100)
    shown = "hosm " + " ".join(str(a) for a in args)
    if p.returncode != rc:
        raise Failure("%s: exit status %d, expected %d\nstdout: %s\nstderr: %s"
                      % (shown, p.returncode, rc, p.stdout, p.stderr))
    return p.stdout, p.stderr


def fails(*args, rc=1, want=None):
    """hosm fails with status rc and exactly one line 'hosm: ...' on stderr,
    which contains `want`."""
    out, err = run(*args, rc=rc)
    lines = err.splitlines()
    shown = "hosm " + " ".join(str(a) for a in args)
    check(len(lines) == 1 and lines[0].startswith("hosm: "),
          "%s: stderr is not one 'hosm: ' line: %r" % (shown, err))
    check(want is None or want in lines[0], "%s: %r lacks %r" % (shown, lines[0], want))
    check(out == "", "%s: printed on stdout: %r" % (shown, out))
    return lines[0]


def mixture(n=600, seed=0):
    """Two Gaussians at (-2, 0) and (2, 0), sd 0.4, as float32."""
    rng = np.random.default_rng(seed)
    side = np.where(rng.random(n) < 0.5, -2.0, 2.0)
    x = np.stack([side, np.zeros(n)], 1) + 0.4 * rng.standard_normal((n, 2))
    return x.astype(np.float32)


def write_data(x):
    np.save("data.npy", x)
    np.save("data64.npy", x.astype(np.float64))
    with open("data.csv", "w") as f:
        f.write("x,y\n")
        for row in x:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def train(data, model, *settings, steps=40, extra=()):
    run("train", data, "-o", model, "-q", "steps=%d" % steps, *TINY, *settings, *extra)
    ckpt = extra[extra.index("--checkpoint") + 1] if "--checkpoint" in extra else model + ".ckpt"
    check(os.path.getsize(model) > 0 and os.path.getsize(ckpt) > 0,
          "train wrote no model or checkpoint")


def info(model):
    out, _ = run("info", model)
    fields = {}
    for line in out.splitlines():
        if ":" in line and not line.startswith(" "):
            key, value = line.split(":", 1)
            fields[key.strip()] = value.strip()
    return fields


def svg(path):
    root = ET.parse(path).getroot()
    check(root.tag == SVG + "svg", "%s: the root is %s, not svg" % (path, root.tag))
    return root


def group(root, gid):
    hits = [g for g in root.iter(SVG + "g") if g.get("id") == gid]
    check(len(hits) == 1, "expected one <g id=%r>, found %d" % (gid, len(hits)))
    return hits[0]


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- cases ---------------------------------------------------------------

def case_train():
    x = mixture()
    write_data(x)
    train("data.npy", "a.hosm")
    train("data.csv", "b.hosm")
    train("data64.npy", "c.hosm")
    # The same float32 values from three file types: the same model.
    check(read("a.hosm") == read("b.hosm") == read("c.hosm"),
          "training on the .npy, CSV and float64 .npy data gave different models")
    # Settings from a file; the command line overrides it.
    with open("cfg.txt", "w") as f:
        f.write("# a config file\nhidden=16 depth=1\nlevels=3 sigma_max=2  # ladder\n"
                "sigma_min=0.2 batch=64 seed=3 steps=999\n")
    run("train", "data.npy", "-o", "d.hosm", "-q", "--config", "cfg.txt", "steps=40")
    check(read("d.hosm") == read("a.hosm"), "--config and the command line disagree")
    # The log: a header and one line per step; progress lines on stderr.
    _, err = run("train", "data.npy", "-o", "e.hosm", "--log", "log.csv", "steps=40", *TINY)
    log = np.loadtxt("log.csv", delimiter=",", skiprows=1)
    check(log.shape == (40, 2) and (log[:, 0] == np.arange(1, 41)).all()
          and np.isfinite(log[:, 1]).all(), "bad log: %s" % (log.shape,))
    check("step 40/40" in err and "saved e.hosm" in err, "no progress lines: %r" % err)
    # --raw saves the last weights, which differ from their average.
    train("data.npy", "f.hosm", extra=["--raw", "--checkpoint", "f.ckpt"])
    check(os.path.exists("f.ckpt") and read("f.hosm") != read("a.hosm"),
          "--raw or --checkpoint had no effect")
    # A model with s2 and the keys that go with it.
    train("data.npy", "g.hosm", "s2=lowrank", "rank=1", "objective=dsm_vr",
          "s2_objective=d2sm_vr", "ema=0.9")
    check(info("g.hosm")["s2"] == "lowrank, rank 1", "s2 settings were not applied")


def case_resume():
    write_data(mixture())
    train("data.npy", "full.hosm", steps=80, extra=["--log", "full.csv"])
    train("data.npy", "half.hosm", steps=40, extra=["--log", "half.csv"])
    run("train", "data.npy", "-o", "resumed.hosm", "-q", "--resume", "half.hosm.ckpt",
        "--log", "half.csv", "steps=80", *TINY)
    check(read("resumed.hosm") == read("full.hosm"),
          "40 + 40 steps through a checkpoint differ from 80 steps")
    check(read("resumed.hosm.ckpt") == read("full.hosm.ckpt"), "the checkpoints differ")
    check(read("half.csv") == read("full.csv"), "the appended log differs from one run's")
    # Nothing to do: the checkpoint is at the target already.
    _, err = run("train", "data.npy", "-o", "again.hosm", "--resume", "full.hosm.ckpt",
                 "steps=80", *TINY)
    check("nothing to do" in err and read("again.hosm") == read("full.hosm"),
          "a finished checkpoint was not saved as is: %r" % err)
    # Another architecture: one clear line.
    fails("train", "data.npy", "-o", "x.hosm", "-q", "--resume", "half.hosm.ckpt",
          "steps=80", *TINY, "hidden=8", want="do not match")
    fails("train", "data.npy", "-o", "x.hosm", "-q", "--resume", "missing.ckpt", *TINY,
          want="missing.ckpt")
    fails("train", "data.npy", "-o", "x.hosm", "-q", "--resume", "full.hosm", *TINY,
          want="full.hosm")


def case_sample():
    write_data(mixture())
    train("data.npy", "m.hosm", steps=60)
    run("sample", "m.hosm", "-n", 50, "-o", "s.npy", "sample_steps=20", "seed=5", "-q")
    s = np.load("s.npy")
    check(s.dtype == np.float32 and s.shape == (50, 2) and np.isfinite(s).all(),
          "bad samples: %s %s" % (s.dtype, s.shape))
    run("sample", "m.hosm", "-n", 50, "-o", "s2.npy", "sample_steps=20", "seed=5", "-q")
    check(read("s.npy") == read("s2.npy"), "the same seed gave different samples")
    run("sample", "m.hosm", "-n", 50, "-o", "s3.npy", "sample_steps=20", "seed=6", "-q")
    check(read("s.npy") != read("s3.npy"), "another seed gave the same samples")
    # Annealed Langevin, a config file, CSV output, a final denoising step.
    with open("cfg.txt", "w") as f:
        f.write("sampler=annealed step_size=1e-3\n")
    _, err = run("sample", "m.hosm", "-n", 30, "-o", "a.csv", "--config", "cfg.txt",
                 "sample_steps=10", "--denoise")
    a = np.loadtxt("a.csv", delimiter=",", skiprows=1)
    check(a.shape == (30, 2) and "annealed, 30 steps" in err, "annealed: %s %r" % (a.shape, err))
    # Every sampler kind is named in the progress line.
    _, err = run("sample", "m.hosm", "-n", 4, "-o", "k.npy", "sampler=annealed_ozaki",
                 "hessian=jacobian", "sample_steps=2")
    check("annealed_ozaki, 6 steps" in err, "annealed_ozaki: %r" % err)
    # The sampling settings stored in the model file by 'hosm train'.
    train("data.npy", "ms.hosm", "sampler=annealed", "sample_steps=10", steps=20)
    _, err = run("sample", "ms.hosm", "-n", 30, "-o", "ms.npy")
    check("annealed, 30 steps" in err, "the model's settings were not used: %r" % err)
    _, err = run("sample", "ms.hosm", "-n", 30, "-o", "ms.npy", "sampler=langevin")
    check("langevin, 10 steps" in err, "the command line did not override: %r" % err)
    # From given states: zero steps' worth of change is impossible, but the
    # chains must start there (same seed, same init file: same result).
    np.save("init.npy", np.full((8, 2), 5.0, np.float32))
    run("sample", "m.hosm", "--init", "init.npy", "-o", "i1.npy", "sample_steps=1", "-q")
    i1 = np.load("i1.npy")
    check(i1.shape == (8, 2) and np.abs(i1 - 5.0).max() < 1.0,
          "--init: the chains did not start at the given states")
    fails("sample", "m.hosm", "-n", 9, "--init", "init.npy", "-o", "x.npy", rc=1, want="-n 9")
    fails("sample", "m.hosm", "-n", 5, "-o", "x.npy", "steps=10", rc=2, want="no effect")
    fails("sample", "m.hosm", "-n", 5, "-o", "x.npy", "sampler=metropolis", rc=2,
          want="sampler")
    fails("sample", "m.hosm", "-n", 0, "-o", "x.npy", rc=2, want="-n")
    fails("sample", "m.hosm", "-o", "x.npy", rc=2, want="-n N")
    fails("sample", "m.hosm.ckpt", "-n", 5, "-o", "x.npy", want="checkpoint")


def case_denoise():
    x = mixture()
    write_data(x)
    train("data.npy", "m.hosm", "s2=full", steps=60)
    train("data.npy", "plain.hosm", steps=20)
    noisy = (x[:20] + 0.2 * np.random.default_rng(1).standard_normal((20, 2))).astype(np.float32)
    np.save("noisy.npy", noisy)
    run("denoise", "m.hosm", "noisy.npy", "-o", "mean.npy", "--var", "var.npy", "--topk", 2,
        "--vals", "vals.npy", "--vecs", "vecs.npy")
    mean, var = np.load("mean.npy"), np.load("var.npy")
    vals, vecs = np.load("vals.npy"), np.load("vecs.npy")
    check(mean.shape == (20, 2) and var.shape == (20, 2) and vals.shape == (20, 2)
          and vecs.shape == (20, 2, 2), "shapes %s %s %s %s"
          % (mean.shape, var.shape, vals.shape, vecs.shape))
    check((var >= 0).all() and (vals[:, 0] >= vals[:, 1]).all() and (vals >= -1e-6).all(),
          "clamped variances or eigenvalues are negative or unsorted")
    check(np.allclose(np.linalg.norm(vecs, axis=2), 1, atol=1e-4), "eigenvectors not unit")
    # For D = 2 the two eigenvalues add up to the trace, the sum of the variances.
    check(np.allclose(vals.sum(1), var.sum(1), rtol=1e-3, atol=1e-6),
          "eigenvalues and variances disagree")
    check(np.abs(mean - noisy).max() > 0, "denoising changed nothing")
    # Other levels, unclamped, CSV in and out.
    run("denoise", "m.hosm", "noisy.npy", "-o", "mean0.npy", "--level", 0)
    run("denoise", "m.hosm", "noisy.npy", "-o", "meanL.npy", "--level", -3)
    check(read("mean0.npy") == read("meanL.npy") and read("mean0.npy") != read("mean.npy"),
          "--level 0 and -3 of 3 levels differ, or equal the smallest level")
    # --sigma: at a level it is that level (to float rounding); between levels
    # it answers; outside the levels, or with --level, it is a usage error.
    run("denoise", "m.hosm", "noisy.npy", "-o", "at2.npy", "--sigma", 2, "--var", "av.npy")
    run("denoise", "m.hosm", "noisy.npy", "-o", "lv0.npy", "--level", 0, "--var", "lv.npy")
    check(np.allclose(np.load("at2.npy"), np.load("lv0.npy"), rtol=1e-5, atol=1e-5)
          and np.allclose(np.load("av.npy"), np.load("lv.npy"), rtol=1e-4, atol=1e-5),
          "--sigma 2 differs from --level 0 (sigma_max = 2)")
    run("denoise", "m.hosm", "noisy.npy", "-o", "mid.npy", "--sigma", 0.5)
    check(np.isfinite(np.load("mid.npy")).all(), "--sigma 0.5")
    fails("denoise", "m.hosm", "noisy.npy", "-o", "x.npy", "--sigma", 3, rc=2, want="outside")
    fails("denoise", "m.hosm", "noisy.npy", "-o", "x.npy", "--sigma", 0.5, "--level", 1, rc=2,
          want="alternatives")
    run("denoise", "m.hosm", "data.csv", "-o", "d.csv", "--clamp", 0, "--var", "v.npy")
    check(np.loadtxt("d.csv", delimiter=",", skiprows=1).shape == (600, 2), "CSV output")
    run("denoise", "plain.hosm", "noisy.npy", "-o", "plain.npy")
    fails("denoise", "plain.hosm", "noisy.npy", "-o", "x.npy", "--var", "v.npy", want="no s2")
    fails("denoise", "m.hosm", "noisy.npy", "-o", "x.npy", "--topk", 3, "--vals", "v.npy",
          rc=2, want="larger than the dimension")
    fails("denoise", "m.hosm", "noisy.npy", "-o", "x.npy", "--vals", "v.npy", rc=2,
          want="--topk")
    fails("denoise", "m.hosm", "noisy.npy", "-o", "x.npy", "--topk", 1, rc=2, want="--vals")
    fails("denoise", "m.hosm", "noisy.npy", "-o", "x.npy", "--level", 3, rc=2, want="--level")
    fails("denoise", "m.hosm", "noisy.npy", "-o", "x.npy", "--clamp", 2, rc=2, want="--clamp")
    np.save("wide.npy", np.zeros((4, 3), np.float32))
    fails("denoise", "m.hosm", "wide.npy", "-o", "x.npy", want="3 columns")
    fails("denoise", "m.hosm", "noisy.npy", "-o", "x.csv", "--topk", 1, "--vecs", "w.csv",
          rc=2, want="CSV")


def case_info():
    write_data(mixture())
    train("data.npy", "m.hosm")
    train("data.npy", "s.hosm", "s2=diag", "act=tanh")
    a, b = info("m.hosm"), info("s.hosm")
    # Both hold the settings they were trained with (format version 3).
    check(a["format version"] == "3" and b["format version"] == "3",
          "format versions %s, %s" % (a["format version"], b["format version"]))
    check("steps=" in b["settings"] and "hidden=" not in b["settings"],
          "settings: %s" % b["settings"])
    check(a["dimension"] == "2" and a["levels"] == "3" and a["s2"] == "none"
          and b["s2"] == "diag", "info fields: %s" % a)
    check(int(a["parameters"]) < int(b["parameters"]), "parameter counts")
    check(a["file size"] == "%d bytes" % os.path.getsize("m.hosm"), "file size")
    out, _ = run("info", "m.hosm")
    check("sigma[0]       2" in out and "sigma[2]       0.2" in out, "sigmas: %s" % out)
    # The architecture line is settings that rebuild the same architecture.
    arch = b["architecture"].split()
    check("act=tanh" in arch and "hidden=16" in arch, "architecture: %s" % arch)
    run("train", "data.npy", "-o", "t.hosm", "-q", "steps=1", *arch)
    check(info("t.hosm")["architecture"] == b["architecture"], "architecture round trip")
    fails("info", "m.hosm.ckpt", want="checkpoint")
    with open("junk.hosm", "wb") as f:
        f.write(b"HOSMMODL" + b"\x07" * 40)
    fails("info", "junk.hosm", want="junk.hosm")
    with open("cut.hosm", "wb") as f:
        f.write(read("m.hosm")[:100])
    fails("info", "cut.hosm", want="cut.hosm")
    fails("info", rc=2, want="no model")
    fails("info", "m.hosm", "s.hosm", rc=2)


def case_plot():
    x = mixture()
    write_data(x)
    train("data.npy", "m.hosm", "s2=full", steps=60, extra=["--log", "log.csv"])
    run("sample", "m.hosm", "-n", 40, "-o", "s.npy", "sample_steps=5", "-q")
    run("plot", "m.hosm", "-o", "p.svg", "--samples", "s.npy", "--cov", "0,0;2,0.5;-2,-0.5")
    root = svg("p.svg")
    check(len(list(group(root, "heatmap").iter(SVG + "rect"))) >= 100, "heat map rows")
    arrows = [p for p in group(root, "arrows").iter(SVG + "path") if p.get("class") == "arrow"]
    check(len(arrows) > 400, "%d arrows" % len(arrows))
    check(len(list(group(root, "samples").iter(SVG + "circle"))) == 40, "sample dots")
    ellipses = list(group(root, "posterior").iter(SVG + "ellipse"))
    check(len(ellipses) == 6 and all(float(e.get("rx")) >= float(e.get("ry")) >= 0
                                     for e in ellipses), "posterior ellipses")
    text = " ".join(t.text or "" for t in root.iter(SVG + "text"))
    check("least-squares integration" in text and "not a gradient" in text, "caption")
    # The score field, none, another level; a name that needs escaping.
    run("plot", "m.hosm", "-o", "q.svg", "--field", "score", "--level", 0, "--no-arrows")
    root = svg("q.svg")
    check(not [g for g in root.iter(SVG + "g") if g.get("id") == "arrows"], "--no-arrows")
    shutil.copy("s.npy", "a&b<c>.npy")
    run("plot", "m.hosm", "-o", "r.svg", "--field", "none", "--samples", "a&b<c>.npy",
        "--range", "-3,3,-1,1")
    check("a&b<c>.npy" in " ".join(t.text or "" for t in svg("r.svg").iter(SVG + "text")),
          "the file name was not escaped and read back")
    # Two coordinates of a 3-D model, the third fixed by --at.
    np.save("d3.npy", np.concatenate([x, x[:, :1]], 1))
    train("d3.npy", "m3.hosm", steps=20)
    run("plot", "m3.hosm", "-o", "d3.svg", "--dims", "2,0", "--at", "0,1,0")
    svg("d3.svg")
    # The loss curve.
    run("plot", "--loss", "log.csv", "-o", "loss.svg")
    lines = {p.get("class"): p for p in svg("loss.svg").iter(SVG + "polyline")}
    check(set(lines) == {"raw", "mean"} and len(lines["raw"].get("points").split()) == 60,
          "loss curve polylines")
    with open("one.csv", "w") as f:
        f.write("loss\n1\n2\n")
    fails("plot", "--loss", "one.csv", "-o", "x.svg", want="two columns")
    fails("plot", "m.hosm", "-o", "x.svg", "--field", "heat", rc=2, want="--field")
    fails("plot", "m.hosm", "-o", "x.svg", "--dims", "0,0", rc=2, want="--dims")
    fails("plot", "m3.hosm", "-o", "x.svg", "--at", "1,2", rc=2, want="--at")
    fails("plot", "m.hosm", "-o", "x.svg", "--cov", "1;2", rc=2, want="--cov")
    fails("plot", "m3.hosm", "-o", "x.svg", "--cov", "0,0", want="no s2")
    fails("plot", "m.hosm", "-o", "no/such/dir/x.svg", want="cannot write")
    fails("plot", "m.hosm", rc=2, want="-o")


def case_sigint():
    write_data(mixture())
    # A run far too long to finish: stop it once the log shows progress.
    p = subprocess.Popen([HOSM, "train", "data.npy", "-o", "m.hosm", "--log", "log.csv",
                          "steps=100000000", *TINY],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if os.path.exists("log.csv") and os.path.getsize("log.csv") > 200:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    check(p.returncode == 130, "exit status %d after SIGINT, expected 130\n%s"
          % (p.returncode, err))
    check("stopped by signal 2" in err, "no note of the stop: %r" % err)
    check(not [l for l in err.splitlines() if l.startswith("hosm: ")],
          "an error was reported: %r" % err)
    log = np.loadtxt("log.csv", delimiter=",", skiprows=1)
    last = int(log[-1, 0])
    check(last >= 20 and (log[:, 0] == np.arange(1, last + 1)).all(), "log of the stopped run")
    # The model and the checkpoint exist and load: info, and a resume that
    # continues from the step where the run stopped.
    check(info("m.hosm")["dimension"] == "2", "the model does not load")
    run("train", "data.npy", "-o", "m2.hosm", "--resume", "m.hosm.ckpt", "--log", "log.csv",
        "-q", "steps=%d" % (last + 5), *TINY)
    log = np.loadtxt("log.csv", delimiter=",", skiprows=1)
    check((log[:, 0] == np.arange(1, last + 6)).all(), "the resumed run did not continue")


def case_errors():
    write_data(mixture(50))
    train("data.npy", "m.hosm", steps=5)
    # Usage errors: status 2.
    for args, want in [
            ((), "no command"),
            (("frobnicate",), "unknown command"),
            (("--frobnicate",), "unknown option"),
            (("train",), "no data file"),
            (("train", "data.npy"), "-o MODEL"),
            (("train", "data.npy", "data.csv", "-o", "x"), "one data file"),
            (("train", "data.npy", "-o"), "needs a value"),
            (("train", "data.npy", "-o", "x", "--bogus"), "unknown option"),
            (("train", "data.npy", "-o", "x", "--raw=1"), "takes no value"),
            (("train", "data.npy", "-o", "x", "hiden=3"), "unknown setting 'hiden'"),
            (("train", "data.npy", "-o", "x", "hidden=0"), "hidden"),
            (("train", "data.npy", "-o", "x", "hidden=lots"), "hidden"),
            (("train", "data.npy", "-o", "x", "act=relu"), "act"),
            (("train", "data.npy", "-o", "x", "init_noise=1"), "no effect"),
            (("train", "data.npy", "-o", "x", "hidden=8 final_denoise=1"), "'final_denoise'"),
            (("train", "data.npy", "-o", "x", "--checkpoint", "x"), "different files"),
            (("sample", "m.hosm", "-n", "many", "-o", "x.npy"), "not an integer"),
            (("denoise", "m.hosm", "-o", "x.npy"), "input file"),
            (("denoise", "m.hosm", "data.npy", "-o", "x.npy", "seed=1"), "no settings"),
            (("plot", "--loss", "log.csv", "m.hosm", "-o", "x.svg"), "no model"),
            (("help", "frobnicate"), "unknown command")]:
        fails(*args, rc=2, want=want)
    # Bad files: status 1.
    with open("nan.csv", "w") as f:
        f.write("x,y\n1,2\nnan,3\n")
    with open("ragged.csv", "w") as f:
        f.write("1,2\n3,4,5\n")
    with open("text.npy", "w") as f:
        f.write("1,2\n")
    np.save("big_endian.npy", np.zeros((4, 2), ">f4"))
    np.save("ints.npy", np.zeros((4, 2), np.int32))
    np.save("flat.npy", np.zeros(8, np.float32))
    np.save("fortran.npy", np.asfortranarray(np.zeros((4, 2), np.float32)))
    with open("cut.npy", "wb") as f:
        f.write(read("data.npy")[:60])
    with open("bad.cfg", "w") as f:
        f.write("hidden=8\n\nlevels=many\n")
    for args, want in [
            (("missing.npy",), "missing.npy: cannot open"),
            (("nan.csv",), "line 3, field 1: 'nan' is not a finite float"),
            (("ragged.csv",), "line 2 has 3 fields"),
            (("text.npy",), "magic"),
            (("big_endian.npy",), "dtype '>f4'"),
            (("ints.npy",), "dtype '<i4'"),
            (("flat.npy",), "1 dimension"),
            (("fortran.npy",), "Fortran"),
            (("cut.npy",), "truncated"),
            (("data.npy", "sigma_max=0.1", "sigma_min=2"), "must exceed sigma_min"),
            (("data.npy", "--config", "bad.cfg"), "bad.cfg:3"),
            (("data.npy", "--config", "none.cfg"), "none.cfg: cannot open"),
            (("data.npy", "--log", "no/such/dir/log.csv"), "log.csv: cannot write"),
            ]:
        line = fails("train", "-o", "x.hosm", "-q", *TINY, *args, want=want)
        check(not os.path.exists("x.hosm"), "a failed run wrote a model: %s" % line)
    fails("train", "data.npy", "-o", "no/such/dir/x.hosm", "-q", "steps=2",
          want="no/such/dir/x.hosm")
    fails("sample", "missing.hosm", "-n", 2, "-o", "x.npy", want="missing.hosm")
    fails("sample", "data.npy", "-n", 2, "-o", "x.npy", want="not a libhosm model")
    fails("sample", "m.hosm", "-n", 2, "-o", "no/such/dir/x.npy", want="cannot write")
    fails("denoise", "m.hosm", "nan.csv", "-o", "x.npy", want="nan.csv")
    # Help and version: status 0 on stdout.
    out, _ = run("--version")
    check(out.startswith("hosm ") and "libhosm" in out, "--version: %r" % out)
    out, _ = run("--help")
    check(all(c in out for c in ("train", "sample", "denoise", "info", "plot")), "--help")
    for cmd in ("train", "sample", "denoise", "info", "plot"):
        out, _ = run(cmd, "--help")
        check(out.startswith("usage: hosm " + cmd), "%s --help: %r" % (cmd, out[:40]))
        out2, _ = run("help", cmd)
        check(out2 == out, "hosm help %s" % cmd)


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    os.chdir(WORK)
    try:
        globals()["case_" + CASE]()
    except Failure as e:
        print("FAIL (%s): %s" % (CASE, e))
        return 1
    print("OK: %s" % CASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
