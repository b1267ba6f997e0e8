#!/usr/bin/env python3
"""Install libhosm into a temporary, non-default prefix and use it there.

1. meson setup --prefix=<tmp>/prefix of this source tree, build the
   installed targets, meson install;
2. the prefix holds exactly the public headers in include/, hosm.pc, and
   libhosm.so -> libhosm.so.0 -> libhosm.so.X.Y.Z with SONAME libhosm.so.0,
   and bin/hosm, the command-line tool, which runs with the installed library;
3. with PKG_CONFIG_PATH set to the installed pkgconfig directory,
   `pkg-config --cflags --libs hosm` points into the prefix, and
   consumer.c (C11) and consumer.cpp (C++11) compile with only those flags
   (-Wall -Wextra -Werror -pedantic) and pass when run with LD_LIBRARY_PATH
   set to the installed library directory; the C program also checks that
   the libhosm it loaded is the installed one.

usage: install_test.py --source-root DIR --version VERSION
                       --meson ARG [--meson ARG ...] --cc ARG [--cc ARG ...]
                       [--cxx ARG ...]
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
import abi_common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = time.monotonic()


class Failure(Exception):
    pass


def run(cmd, env=None, quiet=False):
    print('[%5.1fs] $ %s' % (time.monotonic() - T0, ' '.join(shlex.quote(c) for c in cmd)))
    sys.stdout.flush()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.stdout and (p.returncode or not quiet):
        print(p.stdout.rstrip())
    if p.returncode:
        raise Failure('%s exited with %d' % (cmd[0], p.returncode))
    return p.stdout


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def find_one(root, name):
    hits = [os.path.join(d, name) for d, _dirs, files in os.walk(root) if name in files]
    check(len(hits) == 1, 'expected one %s under %s, found %s' % (name, root, hits or 'none'))
    return hits[0]


def soname(readelf, lib):
    out = run([readelf, '-d', lib], quiet=True)
    for line in out.splitlines():
        if '(SONAME)' in line and '[' in line:
            return line[line.index('[') + 1:line.rindex(']')]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--source-root', required=True)
    ap.add_argument('--version', required=True)
    ap.add_argument('--meson', action='append', required=True)
    ap.add_argument('--cc', action='append', required=True)
    ap.add_argument('--cxx', action='append', default=[])
    a = ap.parse_args()

    readelf, pkg_config = shutil.which('readelf'), shutil.which('pkg-config')
    ninja = shutil.which('ninja') or shutil.which('samu')
    if not readelf or not pkg_config or not ninja:
        print('SKIP: readelf (binutils), pkg-config or ninja not found')
        return abi_common.SKIP

    with tempfile.TemporaryDirectory(prefix='hosm-install-') as tmp:
        build, prefix = os.path.join(tmp, 'build'), os.path.join(tmp, 'prefix')
        try:
            env = dict(os.environ)
            env.pop('DESTDIR', None)
            run(a.meson + ['setup', build, a.source_root, '--prefix=' + prefix],
                env=env, quiet=True)
            # Build only what gets installed (the rest of the tree is tested
            # elsewhere), then install exactly what `meson install` would.
            targets = json.loads(run(a.meson + ['introspect', '--targets', build],
                                     env=env, quiet=True))
            outputs = [os.path.relpath(f, build) for t in targets if t['installed']
                       for f in t['filename']]
            check(outputs, 'no installed target in the build')
            run([ninja, '-C', build] + outputs, env=env, quiet=True)
            run(a.meson + ['install', '-C', build, '--quiet', '--no-rebuild'],
                env=env, quiet=True)

            # What was installed
            incdir = os.path.join(prefix, 'include')
            check(os.path.isdir(incdir), 'nothing installed in %s' % incdir)
            headers = sorted(os.listdir(incdir))
            check(headers == ['hosm.h', 'hosm_version.h'],
                  '%s should hold exactly the public headers hosm.h and '
                  'hosm_version.h, it holds %s' % (incdir, headers))
            pc = find_one(prefix, 'hosm.pc')
            libdir = os.path.dirname(os.path.dirname(pc))
            dev_link = os.path.join(libdir, 'libhosm.so')
            so_link = os.path.join(libdir, 'libhosm.so.0')
            real = os.path.join(libdir, 'libhosm.so.' + a.version)
            for f in (dev_link, so_link, real):
                check(os.path.exists(f), '%s was not installed' % f)
            check(os.path.islink(dev_link) and os.path.islink(so_link)
                  and os.path.realpath(dev_link) == os.path.realpath(real)
                  and os.path.realpath(so_link) == os.path.realpath(real),
                  'expected libhosm.so -> libhosm.so.0 -> libhosm.so.%s' % a.version)
            name = soname(readelf, real)
            check(name == 'libhosm.so.0', 'SONAME of %s is %s, expected libhosm.so.0'
                  % (real, name))
            print('installed: %s, %s, SONAME %s' % (', '.join(headers), pc, name))

            # The command-line tool, run against the installed library
            tool = os.path.join(prefix, 'bin', 'hosm')
            check(os.path.isfile(tool), '%s was not installed' % tool)
            toolenv = dict(os.environ)
            toolenv['LD_LIBRARY_PATH'] = libdir
            out = run([tool, '--version'], env=toolenv)
            check(out.strip() == 'hosm %s (libhosm %s)' % (a.version, a.version),
                  'hosm --version printed %r' % out)

            # pkg-config from the prefix
            pcenv = dict(os.environ)
            pcenv['PKG_CONFIG_PATH'] = os.path.dirname(pc)
            for var in ('PKG_CONFIG_SYSROOT_DIR', 'PKG_CONFIG_ALLOW_SYSTEM_CFLAGS',
                        'PKG_CONFIG_ALLOW_SYSTEM_LIBS'):
                pcenv.pop(var, None)
            pkgc = [pkg_config]
            version = run(pkgc + ['--modversion', 'hosm'], env=pcenv).strip()
            check(version == a.version, 'pkg-config --modversion hosm gives %s, expected %s'
                  % (version, a.version))
            pc_prefix = run(pkgc + ['--variable=prefix', 'hosm'], env=pcenv).strip()
            check(pc_prefix == prefix, 'hosm.pc has prefix=%s, expected %s'
                  % (pc_prefix, prefix))
            flags = shlex.split(run(pkgc + ['--cflags', '--libs', 'hosm'], env=pcenv))
            check('-I' + incdir in flags, '-I%s missing from %s' % (incdir, flags))
            check('-L' + libdir in flags, '-L%s missing from %s' % (libdir, flags))
            check('-lhosm' in flags, '-lhosm missing from %s' % flags)

            # Consumers
            runenv = dict(os.environ)
            runenv['LD_LIBRARY_PATH'] = libdir
            warn = ['-Wall', '-Wextra', '-Werror', '-pedantic']
            exe = os.path.join(tmp, 'consumer-c')
            run(a.cc + ['-std=c11'] + warn + [os.path.join(HERE, 'consumer.c'), '-o', exe]
                + flags)
            run([exe, a.version, libdir], env=runenv)
            if a.cxx:
                exe = os.path.join(tmp, 'consumer-cxx')
                run(a.cxx + ['-std=c++11'] + warn
                    + [os.path.join(HERE, 'consumer.cpp'), '-o', exe] + flags)
                run([exe, a.version], env=runenv)
            else:
                print('note: no C++ compiler, the C++ consumer was not built')
        except Failure as e:
            print('FAIL: %s' % e)
            return 1
    print('OK: installed into a temporary prefix and used through pkg-config '
          '(%.1f s)' % (time.monotonic() - T0))
    return 0


if __name__ == '__main__':
    sys.exit(main())
