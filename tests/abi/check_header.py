#!/usr/bin/env python3
"""The public header compiles on its own, warning-free, in C and C++.

Writes a translation unit that includes hosm.h first (twice, for the include
guard), takes the address of every HOSM_API function and uses every
enumerator and version macro, then compiles it with -Wall -Wextra -Werror
-pedantic and a few more warnings, and checks with nm that every function is
referenced by its plain C name (extern "C" works in C++). hosm_version.h is
also compiled on its own.

usage: check_header.py --lang c|c++ --std STD --header HOSM_H --nm NM
                       -I DIR [-I DIR ...] -- COMPILER [ARGS...]
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
import abi_common  # noqa: E402

WARNINGS = ['-Wall', '-Wextra', '-Werror', '-pedantic', '-Wundef', '-Wshadow',
            '-Wno-deprecated-declarations']  # deprecated API is still referenced
WARNINGS_LANG = {
    'c': ['-Wstrict-prototypes', '-Wmissing-prototypes'],
    'c++': ['-Wold-style-cast', '-Wzero-as-null-pointer-constant'],
}


def translation_unit(lang, functions, enumerators):
    cxx = lang == 'c++'

    def fn(expr):
        return ('reinterpret_cast<hosm_abi_fn>(%s)' if cxx else '(hosm_abi_fn)(%s)') % expr

    def ll(expr):
        return ('static_cast<long long>(%s)' if cxx else '(long long)(%s)') % expr

    null = 'nullptr' if cxx else '0'
    lines = [
        '/* Written by tests/abi/check_header.py: hosm.h must come first. */',
        '#include <hosm.h>',
        '#include <hosm.h>',
        '#include <hosm_version.h>',
        '',
        'typedef void (*hosm_abi_fn)(void);',
        'extern const hosm_abi_fn hosm_abi_table[];',
        'const hosm_abi_fn hosm_abi_table[] = {',
    ]
    lines += ['    %s,' % fn('&' + f) for f in functions]
    lines += [
        '};',
        '',
        'long long hosm_abi_constants(void);',
        'long long hosm_abi_constants(void)',
        '{',
        '    const char *version = HOSM_VERSION_STRING;',
        '    hosm_progress_fn cb = %s;' % null,
        '    hosm_config *cfg = %s;' % null,
        '    long long sum = HOSM_VERSION_NUMBER + HOSM_VERSION_MAJOR'
        ' + HOSM_VERSION_MINOR + HOSM_VERSION_PATCH;',
        '    sum += %s + %s + %s;' % (ll('version[0]'), ll('cb == ' + null),
                                      ll('cfg == ' + null)),
    ]
    for enum_name, name, _value in enumerators:
        if enum_name != '(anonymous)':
            lines.append('    { enum %s e = %s; sum += %s; }'
                         % (enum_name, name, ll('e')))
        else:
            lines.append('    sum += %s;' % ll(name))
    lines += ['    return sum;', '}', '']
    return '\n'.join(lines)


def run(cmd):
    print('$ ' + ' '.join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.stdout:
        print(p.stdout.rstrip())
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lang', choices=['c', 'c++'], required=True)
    ap.add_argument('--std', required=True)
    ap.add_argument('--header', required=True)
    ap.add_argument('--nm', required=True)
    ap.add_argument('-I', dest='incdirs', action='append', default=[])
    ap.add_argument('compiler', nargs='+')
    a = ap.parse_args()

    functions, _ = abi_common.header_functions(a.header)
    enumerators = abi_common.header_enums(a.header)
    if not functions:
        print('FAIL: no HOSM_API function found in %s' % a.header)
        return 1

    ext = '.c' if a.lang == 'c' else '.cpp'
    flags = ['-x', a.lang, '-std=' + a.std] + WARNINGS + WARNINGS_LANG[a.lang]
    flags += ['-I' + d for d in a.incdirs]
    failed = False
    with tempfile.TemporaryDirectory(prefix='hosm-header-') as tmp:
        # hosm_version.h alone.
        src = os.path.join(tmp, 'version_only' + ext)
        with open(src, 'w') as f:
            f.write('#include <hosm_version.h>\n'
                    'int hosm_abi_version(void);\n'
                    'int hosm_abi_version(void) { return HOSM_VERSION_NUMBER; }\n')
        if run(a.compiler + flags + ['-c', src, '-o', src + '.o']).returncode:
            print('FAIL: hosm_version.h does not compile on its own')
            failed = True

        src = os.path.join(tmp, 'header' + ext)
        with open(src, 'w') as f:
            f.write(translation_unit(a.lang, functions, enumerators))
        obj = src + '.o'
        if run(a.compiler + flags + ['-c', src, '-o', obj]).returncode:
            print('FAIL: hosm.h does not compile cleanly as %s (-std=%s); the '
                  'translation unit was:' % (a.lang, a.std))
            with open(src) as f:
                for i, line in enumerate(f, 1):
                    print('%4d  %s' % (i, line.rstrip()))
            return 1

        nm = subprocess.run([a.nm, '-P', '-u', obj], check=True, stdout=subprocess.PIPE,
                            universal_newlines=True).stdout
        undefined = {line.split()[0] for line in nm.splitlines() if line.strip()}
        missing = [f for f in functions if f not in undefined]
        if missing:
            print('FAIL: these functions are not referenced by their C names '
                  '(missing extern "C"?): ' + ', '.join(missing))
            print('undefined symbols of the object: ' + ', '.join(sorted(undefined)))
            failed = True

    if failed:
        return 1
    print('OK: hosm.h compiles as %s -std=%s with %d functions and %d enumerators'
          % (a.lang, a.std, len(functions), len(enumerators)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
