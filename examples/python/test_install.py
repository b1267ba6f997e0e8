"""`meson install` of libhosm and the Python package into a temporary prefix.

    test_install.py MESON SOURCE_DIR VERSION

Configures the source tree with --prefix in a temporary directory, builds the
library, installs, and runs check_installed.py with the prefix's site
directory as the only addition to the path: no HOSM_LIBRARY, no
LD_LIBRARY_PATH. Then checks that with the default prefix /usr/local (staged
with --destdir) the package lands where this interpreter looks for packages.
Exits 77 (skipped) without numpy.
"""
import glob
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


def package_dirs(root):
    return glob.glob(os.path.join(root, "**", "hosm", "__init__.py"), recursive=True)


def main():
    meson, source, version = sys.argv[1:4]
    try:
        import numpy  # noqa: F401
    except ImportError:
        print(f"numpy is not installed for {sys.executable}: skipped")
        return SKIP
    with tempfile.TemporaryDirectory(prefix="hosm-install-") as tmp:
        build, prefix, empty = (os.path.join(tmp, d) for d in ("build", "prefix", "empty"))
        os.mkdir(empty)
        # Run the check from a copy: next to this file is the source tree's package.
        check = shutil.copy(os.path.join(HERE, "check_installed.py"), tmp)
        env = clean_env()
        run([meson, "setup", build, source, "--prefix", prefix], env=env,
            stdout=subprocess.DEVNULL)
        run([meson, "compile", "-C", build, "lib/hosm:shared_library",
             "examples/cli/hosm:executable"], env=env, stdout=subprocess.DEVNULL)
        run([meson, "install", "-C", build, "--no-rebuild", "--quiet"], env=env)
        found = package_dirs(prefix)
        assert len(found) == 1, found
        site = os.path.dirname(os.path.dirname(found[0]))
        print("package in", site, flush=True)
        run([sys.executable, check, prefix, version],
            cwd=empty, env=clean_env(PYTHONPATH=site, PYTHONDONTWRITEBYTECODE="1"))

        # The default prefix, staged: the package must go where the
        # interpreter searches, so that `import hosm` needs no PYTHONPATH.
        stage = os.path.join(tmp, "stage")
        run([meson, "configure", build, "-Dprefix=/usr/local"], env=env,
            stdout=subprocess.DEVNULL)
        run([meson, "compile", "-C", build, "lib/hosm:shared_library",
             "examples/cli/hosm:executable"], env=env,  # regenerates
            stdout=subprocess.DEVNULL)
        run([meson, "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", stage],
            env=env)
        found = package_dirs(stage)
        assert len(found) == 1, found
        site = os.sep + os.path.relpath(os.path.dirname(os.path.dirname(found[0])), stage)
        searched = subprocess.run([sys.executable, "-I", "-c", "import sys; print(*sys.path)"],
                                  check=True, capture_output=True, text=True).stdout.split()
        print(f"prefix /usr/local: package in {site}; {sys.executable} searches {searched}")
        assert site in searched, f"{site} is not on the path of {sys.executable}"
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
