#!/usr/bin/env python3
"""The exported interface agrees in three places.

  exported dynamic symbols of libhosm.so (nm -D --defined-only)
  = the functions declared HOSM_API in include/hosm.h
  = the global names of lib/hosm.map

Also: every function declared in the header carries HOSM_API, the map exports
no wildcard and hides everything else (local: *), every exported symbol is a
function carrying the version node the map puts it in, and nothing is exported
twice.

usage: check_symbols.py --nm NM --lib LIBHOSM_SO --header HOSM_H --map HOSM_MAP
"""

import argparse
import collections
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
import abi_common  # noqa: E402


def exported_symbols(nm, lib, node_names):
    """{name: (nm type letter, version or None)} of the defined dynamic symbols."""
    out = subprocess.run([nm, '-D', '--defined-only', lib], check=True,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        kind, full = parts[-2], parts[-1]
        if kind == 'A' and full in node_names:
            continue  # the version node's own definition
        if '@@' in full:
            name, version = full.split('@@', 1)
        elif '@' in full:
            name, version = full.split('@', 1)
        else:
            name, version = full, None
        syms[name] = (kind, version)
    return syms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nm', required=True)
    ap.add_argument('--lib', required=True)
    ap.add_argument('--header', required=True)
    ap.add_argument('--map', required=True)
    a = ap.parse_args()

    errors = 0

    def fail(msg):
        nonlocal errors
        errors += 1
        print('FAIL: ' + msg)

    header, undecorated = abi_common.header_functions(a.header)
    nodes, problems = abi_common.map_nodes(a.map)
    for p in problems:
        fail('%s: %s' % (a.map, p))
    for name in undecorated:
        fail('%s declares %s() without HOSM_API' % (a.header, name))

    dup = [n for n, c in collections.Counter(header).items() if c > 1]
    if dup:
        fail('%s declares more than once: %s' % (a.header, ', '.join(sorted(dup))))

    map_node_of = {}
    for node, glob, _local in nodes:
        for sym in glob:
            if sym in map_node_of:
                fail('%s lists %s in %s and in %s' % (a.map, sym, map_node_of[sym], node))
            map_node_of[sym] = node
    if not nodes:
        fail('%s has no version node' % a.map)
    if not any('*' in local for _n, _g, local in nodes):
        fail('%s has no "local: *;": internal symbols would be exported' % a.map)

    node_names = {n for n, _g, _l in nodes}
    syms = exported_symbols(a.nm, a.lib, node_names)

    for name, (kind, version) in sorted(syms.items()):
        if kind not in ('T', 'i'):
            fail('%s exports %s as nm type %r: the API exports functions only'
                 % (a.lib, name, kind))
        if version is None:
            fail('%s exports %s without a symbol version' % (a.lib, name))
        elif name in map_node_of and version != map_node_of[name]:
            fail('%s exports %s@%s but %s puts it in %s'
                 % (a.lib, name, version, a.map, map_node_of[name]))

    h, m, e = set(header), set(map_node_of), set(syms)
    diffs = [
        (h - m, 'declared HOSM_API in %s but missing from %s' % (a.header, a.map)),
        (m - h, 'listed in %s but not declared HOSM_API in %s' % (a.map, a.header)),
        (h - e, 'declared HOSM_API in %s but not exported by %s (not defined, '
                'or hidden)' % (a.header, a.lib)),
        (e - h, 'exported by %s but not declared HOSM_API in %s' % (a.lib, a.header)),
        (m - e, 'listed in %s but not exported by %s' % (a.map, a.lib)),
        (e - m, 'exported by %s but not listed in %s' % (a.lib, a.map)),
    ]
    for names, what in diffs:
        if names:
            fail('%d symbol(s) %s:' % (len(names), what))
            for n in sorted(names):
                print('    ' + n)

    print('header: %d HOSM_API functions; map: %d names in %d node(s); '
          'library: %d exported symbols' % (len(h), len(m), len(nodes), len(e)))
    if errors:
        print('%d problem(s). The header, lib/hosm.map and the library must list '
              'the same functions; a new function goes into a new version node '
              'of the map once a release has shipped.' % errors)
        return 1
    print('OK: header, map and exported symbols agree')
    return 0


if __name__ == '__main__':
    sys.exit(main())
