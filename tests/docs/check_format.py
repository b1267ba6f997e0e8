#!/usr/bin/env python3
"""The file-format guide against real files.

    check_format.py --snippet HOSMCHECK.PY --writer WRITE_FILES --workdir DIR

Runs WRITE_FILES (tests/docs/write_files.c), which saves a model and a
checkpoint and prints their parameter and level counts, then checks with the
Python snippet of docs/format.md (extracted to HOSMCHECK.PY): the header,
format version and checksum, the section list, the sizes docs/format.md
gives, the snippet's report (and the example output the guide shows). A file
with one flipped byte must fail the checksum.
"""
import argparse
import importlib.util
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--snippet', required=True)
    ap.add_argument('--writer', required=True)
    ap.add_argument('--workdir', required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    spec = importlib.util.spec_from_file_location('hosmcheck', args.snippet)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print('FAIL', what)

    # (config, D, has s2): D = 3 with three levels is the example of docs/format.md.
    # With the file base's settings the files hold none (no CNFG).
    base = ' raw_head=0 s2_objective=d2sm'
    cases = [('hidden=8 depth=2 levels=3' + base, 3, False),
             ('hidden=5 depth=1 levels=1 sigma=0.25 act=tanh seed=5 threads=2' + base, 4,
              False),
             ('hidden=16 depth=3 levels=6' + base, 1, False),
             ('hidden=8 depth=2 levels=3 s2=lowrank rank=2' + base, 3, True),
             ('hidden=6 depth=1 levels=1 s2=full s2_hidden=9 s2_depth=2' + base, 4, True),
             ('hidden=6 depth=2 levels=4 s2=diag' + base, 5, True)]
    for k, (text, dim, has2) in enumerate(cases):
        model = os.path.join(args.workdir, 'model%d.hosm' % k)
        ckpt = os.path.join(args.workdir, 'ckpt%d.hosm' % k)
        out = subprocess.run([args.writer, text, str(dim), model, ckpt], check=True,
                             capture_output=True, text=True).stdout.split()
        P, L = int(out[0]), int(out[1])
        version = 2 if has2 else 1
        kind, ver, sections, data = mod.read_hosm(model)
        check(kind == 'HOSMMODL' and ver == version, 'model kind %r version %d' % (kind, ver))
        tags = [t for t, _, _ in sections]
        check(tags == (['ARCH', 'PRM1', 'S2NT'] if has2 else ['ARCH', 'PRM1']),
              'model sections %r' % tags)
        sizes = {t: n for t, _, n in sections}
        P1 = sizes['PRM1'] // 4
        P2 = (sizes['S2NT'] - 40) // 4 if has2 else 0
        check(P1 + P2 == P and sizes['ARCH'] == 88 + 8 * L, 'model section sizes %r' % sizes)
        check(len(data) == (204 if has2 else 148) + 8 * L + 4 * P, 'model size %d' % len(data))
        kind, ver, sections, cdata = mod.read_hosm(ckpt)
        check(kind == 'HOSMCKPT' and ver == version,
              'checkpoint kind %r version %d' % (kind, ver))
        check([(t, n) for t, _, n in sections][-3:] ==
              [('ADAM', 8 + 8 * P), ('EMA1', 4 * P), ('RNG1', 32)],
              'checkpoint sections %r' % sections)
        check(len(cdata) == (292 if has2 else 236) + 8 * L + 16 * P,
              'checkpoint size %d' % len(cdata))
        # The snippet's own report, as docs/format.md shows it.
        report = subprocess.run([sys.executable, args.snippet, ckpt], check=True,
                                capture_output=True, text=True).stdout.splitlines()
        check(report[0].startswith('HOSMCKPT version %d ARCH(%d) PRM1(%d)'
                                   % (version, 88 + 8 * L, 4 * P1)), 'report %r' % report[0])
        check(report[1].startswith('dim %d ' % dim) and
              report[1].endswith('levels %d s1 params %d' % (L, P1)), 'report %r' % report[1])
        check(len(report) == (4 if has2 else 3), 'report %r' % report)
        if k == 0:
            shown = ['HOSMCKPT version 1 ARCH(112) PRM1(620) ADAM(1248) EMA1(620) RNG1(32)',
                     'dim 3 hidden 8 depth 2 act 1 levels 3 s1 params 155',
                     'sigmas (1.0, 0.1, 0.01)']
            check(report == shown, 'the example output of docs/format.md: %r' % report)
        bad = bytearray(data)
        bad[len(bad) // 2] ^= 0x10
        path = os.path.join(args.workdir, 'bad%d.hosm' % k)
        with open(path, 'wb') as f:
            f.write(bad)
        try:
            mod.read_hosm(path)
            check(False, 'a flipped byte went unnoticed')
        except ValueError as e:
            check('checksum' in str(e), 'flipped byte: %s' % e)
    if failures:
        return 1
    print('ok: %d cases' % len(cases))
    return 0


if __name__ == '__main__':
    sys.exit(main())
