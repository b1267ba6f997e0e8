#!/usr/bin/env python3
"""README.md's two quick-start commands must be the bodies of .ci/run's
quickstart_build and quickstart_test (with $sudo standing for sudo)."""
import re
import sys

readme, ci = (open(p, encoding="utf-8").read() for p in sys.argv[1:3])
section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
commands = [line.strip() for line in section.splitlines() if line.startswith("    ")]
bodies = [re.search(r"%s\(\) \{\n\s*(.*?)\n\}" % name, ci, re.S).group(1).strip()
          for name in ("quickstart_build", "quickstart_test")]
bodies = [b.replace("$sudo ", "sudo ") for b in bodies]
if commands != bodies:
    print("README quick start:", *commands, sep="\n  ")
    print(".ci/run:", *bodies, sep="\n  ")
    sys.exit(1)
print("README quick start and .ci/run agree:", *commands, sep="\n  ")
