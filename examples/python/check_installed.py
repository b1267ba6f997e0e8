"""Check an installed hosm package (run by test_install.py and test_venv.py).

    check_installed.py ROOT VERSION

Run with no HOSM_LIBRARY, LD_LIBRARY_PATH or source tree on the path, from an
empty directory: hosm must import from under ROOT, load a libhosm from under
ROOT (the one installed with it), report VERSION, and train, query and
sample a small model.
"""
import os
import sys

import numpy as np

import hosm


def under(path, root):
    return os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)


def main():
    root, version = sys.argv[1:3]
    print(f"hosm {hosm.version()} from {hosm.__file__}, library {hosm.library_path}")
    assert under(hosm.__file__, root), f"package {hosm.__file__} is not under {root}"
    assert under(hosm.library_path, root), f"library {hosm.library_path} is not under {root}"
    assert hosm.version() == version, (hosm.version(), version)
    for name in ("HOSM_LIBRARY", "LD_LIBRARY_PATH"):
        assert name not in os.environ, name
    target = hosm.Mixture([0.5, 0.5], [[-2, 0], [2, 0]], [np.eye(2) * 0.25] * 2)
    data = target.sample(2000, seed=1)
    with hosm.Config("hidden=32 levels=4 sigma_max=3 sigma_min=0.1 batch=64 steps=200 "
                     "sampler=annealed sample_steps=20 step_size=1e-4") as cfg, \
            hosm.Model(2, cfg) as model, hosm.Trainer(model, cfg) as trainer:
        assert trainer.fit(data, progress=True)
        assert trainer.step_count == 200
        s = model.score(np.array([1.5, 0.5]))
        assert s.dtype == np.float64 and s.shape == (2,) and np.all(np.isfinite(s)), s
        with hosm.Sampler(model, cfg) as sampler:
            x = sampler.run(data[:100])
        assert x.shape == (100, 2) and np.all(np.isfinite(x))
    print("ok")


if __name__ == "__main__":
    main()
