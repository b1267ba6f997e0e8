#!/usr/bin/env python3
"""Compare the ABI of the built libhosm.so with tests/abi/libhosm.abi.

abidw dumps the library's ABI from its DWARF (only the exported interfaces
and the types of the public headers; private struct layouts are dropped), and
abidiff compares the stored baseline with it. Any nonzero exit of abidiff
fails the test, added functions included: a new function or any other change
to the ABI needs a deliberate, reviewed update of the baseline
(tests/abi/update-baseline.sh).

Skips (exit 77) when abidw/abidiff are not installed, when the library has no
debug information, or on another architecture than the baseline's (x86_64).
Sanitizer builds are compared as usual: ASan and UBSan instrument function
bodies but leave the DWARF of the interface unchanged.

usage: check_abi.py [--update] --lib LIB --baseline FILE --source-root DIR
                    --build-root DIR --headers-dir DIR [--headers-dir DIR ...]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
import abi_common  # noqa: E402

# Options that make the dump independent of paths, of line numbers (so that
# editing a comment in the header does not touch the baseline), of the
# libraries libhosm links to, and of internal types.
ABIDW_OPTIONS = [
    '--no-corpus-path',
    '--no-comp-dir-path',
    '--no-show-locs',
    '--no-elf-needed',
    '--type-id-style', 'hash',
    '--drop-private-types',
    '--exported-interfaces-only',
]

ABIDIFF_OPTIONS = ['--no-default-suppression']

ABIDIFF_BITS = [
    (1, 'abidiff failed (error)'),
    (2, 'abidiff usage error'),
    (4, 'the ABI changed'),
    (8, 'the ABI changed incompatibly'),
]


def normalize_paths(xml, source_root, build_root):
    """Rewrite each translation unit's path relative to the source root.

    The compiler records source paths relative to the build directory, so the
    same library built elsewhere would otherwise give another dump."""
    src = os.path.realpath(source_root)

    def fix(m):
        p = m.group(2)
        if not os.path.isabs(p):
            p = os.path.join(build_root, p)
        p = os.path.normpath(os.path.realpath(p))
        if p == src or p.startswith(src + os.sep):
            p = os.path.relpath(p, src)
        return m.group(1) + p + m.group(3)

    return re.sub(r"(<abi-instr [^>]*?path=')([^']*)(')", fix, xml)


def dump(abidw, lib, out, a):
    cmd = [abidw] + ABIDW_OPTIONS
    for d in a.headers_dir:
        cmd += ['--headers-dir', d]
    cmd += ['--out-file', out, lib]
    print('$ ' + ' '.join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.stdout:
        print(p.stdout.rstrip())
    if p.returncode != 0:
        print('FAIL: abidw exited with %d' % p.returncode)
        return False
    with open(out, encoding='utf-8') as f:
        xml = f.read()
    with open(out, 'w', encoding='utf-8') as f:
        f.write(normalize_paths(xml, a.source_root, a.build_root))
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--update', action='store_true',
                    help='write the baseline instead of comparing with it')
    ap.add_argument('--lib', required=True)
    ap.add_argument('--baseline', required=True)
    ap.add_argument('--source-root', required=True)
    ap.add_argument('--build-root', required=True)
    ap.add_argument('--headers-dir', action='append', required=True)
    a = ap.parse_args()

    # When updating, a missing tool or missing debug info is an error.
    unable = 1 if a.update else abi_common.SKIP
    word = 'ERROR' if a.update else 'SKIP'

    abidw, abidiff = shutil.which('abidw'), shutil.which('abidiff')
    if not abidw or not abidiff:
        print('%s: abidw/abidiff not found on PATH: the ABI is not checked. '
              'Install libabigail (Debian: apt-get install abigail-tools).' % word)
        return unable

    elf = abi_common.Elf(a.lib)
    if not elf.has_debug_info():
        print('%s: %s has no debug information (.debug_info), which abidw needs: '
              'the ABI is not checked. Configure with -Ddebug=true (e.g. '
              '--buildtype=debugoptimized, the default).' % (word, a.lib))
        return unable
    if elf.machine != abi_common.Elf.EM_X86_64:
        print('%s: the baseline describes x86_64 and this library is for ELF '
              'machine %d: the ABI is not checked.' % (word, elf.machine))
        return unable

    if a.update:
        tmp = a.baseline + '.tmp'
        if not dump(abidw, a.lib, tmp, a):
            return 1
        os.replace(tmp, a.baseline)
        print('wrote %s' % a.baseline)
        return 0

    if not os.path.exists(a.baseline):
        print('FAIL: no baseline %s: run tests/abi/update-baseline.sh' % a.baseline)
        return 1

    with tempfile.TemporaryDirectory(prefix='hosm-abi-') as tmp:
        current = os.path.join(tmp, 'libhosm.abi')
        if not dump(abidw, a.lib, current, a):
            return 1
        cmd = [abidiff] + ABIDIFF_OPTIONS + [a.baseline, current]
        print('$ ' + ' '.join(cmd))
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        if p.stdout:
            print(p.stdout.rstrip())
        if p.returncode != 0:
            what = [text for bit, text in ABIDIFF_BITS if p.returncode & bit]
            print('FAIL: abidiff exited with %d (%s).' % (p.returncode, '; '.join(what)))
            print('If the change is intended (a new function, say), regenerate the '
                  'baseline with tests/abi/update-baseline.sh and review its diff. An '
                  'incompatible change also needs a new soversion (meson.build).')
            return 1
    print('OK: the ABI matches %s' % a.baseline)
    return 0


if __name__ == '__main__':
    sys.exit(main())
