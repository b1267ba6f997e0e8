"""pip install of the source tree into a virtual environment, offline.

    test_venv.py SOURCE_DIR VERSION

Copies the source tree (without build directories), creates a venv with
--system-site-packages (for numpy, pip and meson-python), runs
`pip install --no-build-isolation --no-index` on the copy (meson-python
builds the project), and runs check_installed.py with the venv's python:
no HOSM_LIBRARY, no LD_LIBRARY_PATH, no PYTHONPATH. Exits 77 (skipped) when
numpy, pip, venv or meson-python (Debian: python3-mesonpy) is missing.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HOSM_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH", "LD_PRELOAD")}
    env.update(extra)
    return env


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def ignore_builds(directory, names):
    """Leave out .git, caches and meson build directories."""
    return [n for n in names
            if n in (".git", "__pycache__") or n.startswith(".mesonpy")
            or os.path.isdir(os.path.join(directory, n, "meson-private"))]


def main():
    source, version = sys.argv[1:3]
    for module in ("numpy", "pip", "venv", "mesonpy"):
        if importlib.util.find_spec(module) is None:
            print(f"{module} is not installed for {sys.executable}: skipped")
            return SKIP
    with tempfile.TemporaryDirectory(prefix="hosm-venv-") as tmp:
        src, venv, empty = (os.path.join(tmp, d) for d in ("src", "venv", "empty"))
        os.mkdir(empty)
        # Run the check from a copy: next to this file is the source tree's package.
        check = shutil.copy(os.path.join(HERE, "check_installed.py"), tmp)
        shutil.copytree(source, src, ignore=ignore_builds, symlinks=True)
        env = clean_env()
        run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv],
            env=env)
        python = os.path.join(venv, "bin", "python")
        run([python, "-m", "pip", "install", "--no-build-isolation", "--no-index", src],
            env=env, cwd=empty)
        run([python, check, venv, version], cwd=empty,
            env=clean_env(PYTHONDONTWRITEBYTECODE="1"))
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
