"""Where `meson install` puts the hosm package (run by meson.build at setup).

    site_dir.py PREFIX MESON_DIR

Prints MESON_DIR (the python module's choice) if the interpreter running this
script searches it; else the interpreter's own site directory under PREFIX,
if it has one; else MESON_DIR. On Debian, meson chooses
PREFIX/lib/python3/dist-packages, which /usr/bin/python3 searches for the
prefix /usr but not for /usr/local, where it searches
/usr/local/lib/python3.X/dist-packages instead.
"""
import os
import sys


def main():
    prefix, meson_dir = sys.argv[1:3]
    searched = [p for p in sys.path[1:] if p]  # not this script's directory
    real = [os.path.realpath(p) for p in searched]
    if os.path.realpath(meson_dir) in real:
        print(meson_dir)
        return
    root = os.path.realpath(prefix).rstrip(os.sep) + os.sep
    for path, resolved in zip(searched, real):
        if resolved.startswith(root) and path.rstrip(os.sep).endswith(("site-packages",
                                                                        "dist-packages")):
            print(path)
            return
    print(meson_dir)


if __name__ == "__main__":
    main()
