#!/usr/bin/env bash
# Regenerate the ABI baselines that the 'abi' test suite compares against:
#
#   tests/abi/libhosm.abi     abidw's dump of libhosm.so: exported functions
#                             and the public types of include/ (abi-check)
#   tests/abi/constants.txt   every enumerator of include/hosm.h and its value
#                             (abi-constants)
#
# Usage: tests/abi/update-baseline.sh [BUILDDIR]
#
#   Without BUILDDIR the library is configured with meson's defaults of this
#   project (buildtype debugoptimized, so with debug info) in a temporary
#   directory, built and dumped; the directory is removed afterwards.
#   With BUILDDIR that build's libhosm.so is rebuilt and dumped; it must have
#   debug info (-Ddebug=true).
#
# Needs abidw (Debian: abigail-tools), meson, ninja and python3. The abidw
# options live in tests/abi/check_abi.py, shared with the test, so the dump
# does not depend on where the tree or the build directory is.
#
# Run it only for a deliberate change of the ABI (new functions, new
# enumerators, a new version node in lib/hosm.map), then review the diff of
# both files before committing them. A change that breaks existing callers
# (removed or changed functions, changed enumerator values) is never fixed
# by regenerating: it needs a new soversion, and should not happen at all.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

tmp=
cleanup() { if [ -n "$tmp" ]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT

if [ $# -ge 1 ]; then
    build=$(cd "$1" && pwd)
else
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/hosm-baseline.XXXXXX")
    build=$tmp/build
    meson setup "$build" "$src" >"$tmp/setup.log" || { cat "$tmp/setup.log"; exit 1; }
fi
meson compile -C "$build" lib/hosm:shared_library

lib=$(meson introspect --targets "$build" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["name"] == "hosm" and t["type"] == "shared library":
        print(t["filename"][0])
        break
')
if [ -z "$lib" ]; then
    echo "no shared library target 'hosm' in $build" >&2
    exit 1
fi

python3 "$here/check_abi.py" --update --lib "$lib" --baseline "$here/libhosm.abi" \
    --source-root "$src" --build-root "$build" \
    --headers-dir "$src/include" --headers-dir "$build/include"
python3 "$here/check_constants.py" --update --header "$src/include/hosm.h" \
    --baseline "$here/constants.txt"
