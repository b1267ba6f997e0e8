#!/usr/bin/env python3
"""Runs a libFuzzer target of tests/fuzz (docs/reliability.md).

  run_fuzz.py run FUZZER SEEDS WORKDIR SECONDS
      a fixed-time run: new inputs go to WORKDIR/corpus (never into the
      source tree), crashes to WORKDIR/artifacts; fails if one was found and
      prints its reproduction.
  run_fuzz.py regress FUZZER REGRESSIONS_DIR
      runs every file of REGRESSIONS_DIR once. Files listed in
      REGRESSIONS_DIR/KNOWN (a name, whitespace, the issue) reproduce library
      bugs not fixed yet: they must still fail (expected failures); when one
      passes, the bug is fixed and its KNOWN line must be removed (the run then
      fails, so the list stays true). Every other file must pass.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ENV = dict(os.environ)
# allocator_may_return_null: a huge allocation returns NULL (and exercises the
# library's out-of-memory paths) instead of aborting in the sanitizer.
ENV.setdefault("ASAN_OPTIONS", "detect_leaks=1:allocator_may_return_null=1")
ENV.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")

# -malloc_limit_mb: an input of a few kilobytes never needs more; a bigger
# allocation means sizes were trusted before they were checked.
LIMITS = ["-rss_limit_mb=2048", "-malloc_limit_mb=512", "-timeout=20", "-max_len=8192"]


def run(fuzzer, seeds, work, seconds):
    corpus = os.path.join(work, "corpus")
    artifacts = os.path.join(work, "artifacts") + os.sep
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    cmd = [fuzzer, f"-max_total_time={seconds}", f"-artifact_prefix={artifacts}",
           "-print_final_stats=1"] + LIMITS + [corpus, seeds]
    print(" ".join(cmd), flush=True)
    rc = subprocess.call(cmd, env=ENV)
    found = sorted(os.listdir(artifacts))
    if rc != 0 or found:
        for f in found:
            print(f"CRASH: {artifacts}{f}\n  reproduce: {fuzzer} {artifacts}{f}")
        print("keep each crash input in tests/fuzz/regressions/<target>/ (see its README)")
        return 1
    return 0


def regress(fuzzer, rdir):
    known = {}
    kfile = os.path.join(rdir, "KNOWN")
    if os.path.exists(kfile):
        for line in open(kfile):
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, why = line.partition(" ")
                known[name] = why.strip()
    files = sorted(f for f in os.listdir(rdir) if f not in ("KNOWN", "README.md"))
    bad = 0
    for f in files:
        path = os.path.join(rdir, f)
        p = subprocess.run([fuzzer] + LIMITS + [path], env=ENV, capture_output=True, text=True)
        failed = p.returncode != 0
        if f in known:
            if failed:
                print(f"expected failure (known bug: {known[f]}): {f}")
            else:
                print(f"FIXED? {f} no longer fails: remove it from {kfile}")
                bad += 1
        elif failed:
            print(f"FAIL {f}: reproduce with {fuzzer} {path}\n{p.stderr[-4000:]}")
            bad += 1
        else:
            print(f"ok {f}")
    print(f"{len(files)} inputs, {len(known)} known failures, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    # The from-file targets write their input under TMPDIR; a crashing input
    # skips their clean-up, so each invocation gets a directory of its own.
    tmp = tempfile.mkdtemp(prefix="hosm-fuzz-")
    ENV["TMPDIR"] = tmp
    try:
        if sys.argv[1] == "run":
            rc = run(*sys.argv[2:6])
        else:
            rc = regress(*sys.argv[2:4])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(rc)
