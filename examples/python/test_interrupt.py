"""Ctrl-C during training and sampling, delivered as a real SIGINT.

A child process trains a small model for many steps (and then samples for
many steps); about a second into each long call this test sends it SIGINT
and expects KeyboardInterrupt within a second, the steps done kept, and the
trainer, model and sampler still usable. The phases:

  fit          Trainer.fit() without a callback
  fit-cb       Trainer.fit() with a callback (once swallowed by ctypes)
  run          Sampler.run()
  custom       fit() under a SIGINT handler of the program's own: it is
               called, and fit() returns False (stopped) instead of raising

Run by meson (suite 'python') with HOSM_LIBRARY set and the package on
PYTHONPATH, or by hand:
    HOSM_LIBRARY=build/lib/libhosm.so PYTHONPATH=examples/python \\
        /usr/bin/python3 examples/python/test_interrupt.py
"""

import json
import os
import signal
import subprocess
import sys
import time

CHILD = r'''
import json, signal, sys, time
import numpy as np
import hosm

def say(**kw):
    print(json.dumps(kw), flush=True)

cfg = hosm.Config("hidden=16 depth=1 levels=4 sigma_max=2 sigma_min=0.1 batch=32 "
                  "steps=100000000 sampler=annealed sample_steps=100000000 step_size=1e-5")
mix = hosm.Mixture([1.0], [[0.0, 0.0]], [np.eye(2)])
data = mix.sample(500, seed=1)
model = hosm.Model(2, cfg)
trainer = hosm.Trainer(model, cfg)
x = data[:4]

def phase(name, call):
    say(phase=name)
    t0 = time.monotonic()
    try:
        result = call()
    except KeyboardInterrupt:
        say(interrupted=name, at=time.monotonic(), elapsed=time.monotonic() - t0,
            steps=trainer.step_count,
            handler_restored=signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        return
    say(returned=name, result=result, at=time.monotonic(), steps=trainer.step_count)

phase("fit", lambda: trainer.fit(data))
before = trainer.step_count
seen = []
phase("fit-cb", lambda: trainer.fit(data, lambda step, loss: seen.append(step)))
# The trainer and the model still work: the steps were kept, training continues.
s = model.score(x)
assert np.all(np.isfinite(s)), s
n = trainer.step_count
trainer.fit(data, lambda step, loss: step >= n + 5)
say(check="usable", steps_before=before, callback_steps=len(seen), steps_after=trainer.step_count,
    continued=trainer.step_count == n + 5, finite=bool(np.all(np.isfinite(model.score(x)))))

sampler = hosm.Sampler(model, cfg)
phase("run", lambda: sampler.run(data[:64]))
short = hosm.Config("sampler=langevin sample_steps=3 step_size=1e-5")
with hosm.Sampler(model, short) as quick:
    out = quick.run(data[:8])
say(check="sampler", finite=bool(np.all(np.isfinite(out))))

calls = []
signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
phase("custom", lambda: trainer.fit(data))
say(check="custom", calls=len(calls),
    restored=signal.getsignal(signal.SIGINT) is not signal.default_int_handler)
'''

LIMIT = 1.0  # seconds from SIGINT to KeyboardInterrupt


def main():
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                             env=env)
    failures = []
    messages = {}
    sent = {}
    try:
        for line in child.stdout:
            msg = json.loads(line)
            print("child:", line.rstrip())
            if "phase" in msg:
                time.sleep(1.0)
                sent[msg["phase"]] = time.monotonic()
                child.send_signal(signal.SIGINT)
            for key in ("interrupted", "returned", "check"):
                if key in msg:
                    messages[key + ":" + msg[key]] = msg
                    if key != "check":
                        delay = msg["at"] - sent[msg[key]]
                        print(f"  {msg[key]}: {delay:.3f} s from SIGINT to return")
                        if delay > LIMIT:
                            failures.append(f"{msg[key]}: {delay:.3f} s after SIGINT")
        rc = child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    if rc != 0:
        failures.append(f"child exited with {rc}")
    for name in ("fit", "fit-cb", "run"):
        msg = messages.get("interrupted:" + name)
        if msg is None:
            failures.append(f"{name}: no KeyboardInterrupt ({msg})")
        elif not msg["handler_restored"]:
            failures.append(f"{name}: the SIGINT handler was not restored")
    if messages.get("interrupted:fit", {}).get("steps", 0) <= 0:
        failures.append("fit: no steps kept")
    usable = messages.get("check:usable", {})
    if not (usable.get("steps_before", 0) > 0 and usable.get("callback_steps", 0) > 0
            and usable.get("continued") and usable.get("finite")):
        failures.append(f"after the interruptions: {usable}")
    if not messages.get("check:sampler", {}).get("finite"):
        failures.append("the sampler did not work after the interruption")
    returned, custom = messages.get("returned:custom", {}), messages.get("check:custom", {})
    if not (returned.get("result") is False and custom.get("calls") == 1
            and custom.get("restored")):
        failures.append(f"custom handler: {returned}, {custom}")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
