#!/usr/bin/env python3
"""The values of the public enumerators are stable.

Status codes, config keys and enum values are passed as plain ints through
the API (and hard-coded by FFI users), so abidiff never sees them. This test
compares every enumerator of include/hosm.h with tests/abi/constants.txt:
a value must never change, an enumerator must never disappear, values must be
explicit and not shared within an enum, and a new enumerator must be added to
the baseline deliberately (tests/abi/update-baseline.sh).

usage: check_constants.py [--update] --header HOSM_H --baseline FILE
"""

import argparse
import collections
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
import abi_common  # noqa: E402

HEADER_LINE = ('# Enumerators of include/hosm.h: enum, name, value. Written by '
               'tests/abi/update-baseline.sh;\n# values are never changed or reused.\n')


def read_header(path, fail):
    values = collections.OrderedDict()
    for enum_name, name, value in abi_common.header_enums(path):
        if value is None:
            fail('%s: %s has no explicit value' % (enum_name, name))
            continue
        try:
            values[(enum_name, name)] = int(value, 0)
        except ValueError:
            fail('%s: %s = %s is not an integer literal' % (enum_name, name, value))
    by_value = collections.defaultdict(list)
    for (enum_name, name), v in values.items():
        by_value[(enum_name, v)].append(name)
    for (enum_name, v), names in by_value.items():
        if len(names) > 1:
            fail('%s: %s share the value %d' % (enum_name, ', '.join(names), v))
    return values


def read_baseline(path):
    values = collections.OrderedDict()
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].split()
            if line:
                values[(line[0], line[1])] = int(line[2])
    return values


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--update', action='store_true')
    ap.add_argument('--header', required=True)
    ap.add_argument('--baseline', required=True)
    a = ap.parse_args()

    errors = []
    header = read_header(a.header, errors.append)

    if a.update:
        if errors:
            for e in errors:
                print('ERROR: ' + e)
            return 1
        with open(a.baseline + '.tmp', 'w', encoding='utf-8') as f:
            f.write(HEADER_LINE)
            for (enum_name, name), v in header.items():
                f.write('%s %s %d\n' % (enum_name, name, v))
        os.replace(a.baseline + '.tmp', a.baseline)
        print('wrote %s (%d enumerators)' % (a.baseline, len(header)))
        return 0

    if not os.path.exists(a.baseline):
        errors.append('no baseline %s: run tests/abi/update-baseline.sh' % a.baseline)
        base = {}
    else:
        base = read_baseline(a.baseline)

    for key, v in base.items():
        if key not in header:
            errors.append('%s: %s (= %d) was removed or renamed' % (key[0], key[1], v))
        elif header[key] != v:
            errors.append('%s: %s changed from %d to %d' % (key[0], key[1], v, header[key]))
    added = [k for k in header if k not in base]
    for key in added:
        errors.append('%s: %s = %d is new: add it to the baseline with '
                      'tests/abi/update-baseline.sh' % (key[0], key[1], header[key]))

    if errors:
        for e in errors:
            print('FAIL: ' + e)
        return 1
    print('OK: %d enumerators match %s' % (len(header), a.baseline))
    return 0


if __name__ == '__main__':
    sys.exit(main())
