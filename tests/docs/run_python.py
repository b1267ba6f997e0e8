#!/usr/bin/env python3
"""Run a Python snippet of the guides with the package of examples/python.

    run_python.py SNIPPET BINDING_DIR

Runs SNIPPET in a fresh temporary directory, with BINDING_DIR on PYTHONPATH
and the environment's HOSM_LIBRARY. Exits 77 (skipped) when numpy is
missing, as the binding needs it.
"""
import os
import subprocess
import sys
import tempfile

SKIP = 77


def main():
    snippet, binding = (os.path.abspath(a) for a in sys.argv[1:3])
    try:
        import numpy  # noqa: F401
    except ImportError:
        print('numpy is not installed for %s: skipped' % sys.executable)
        return SKIP
    env = dict(os.environ)
    env['PYTHONPATH'] = binding + os.pathsep + env.get('PYTHONPATH', '')
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    with tempfile.TemporaryDirectory(prefix='hosm-docs-') as tmp:
        return subprocess.run([sys.executable, snippet], cwd=tmp, env=env).returncode


if __name__ == '__main__':
    sys.exit(main())
