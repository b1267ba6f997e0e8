#!/usr/bin/env python3
"""Copy one code block out of a Markdown guide.

    extract.py GUIDE.md NAME OUTPUT

writes the fenced code block that follows the line `<!-- file: NAME -->` in
GUIDE.md to OUTPUT, so that the tests build and run the code the guides show.
"""
import os
import sys


def extract(text, name):
    lines = text.split('\n')
    marker = '<!-- file: %s -->' % name
    for i, line in enumerate(lines):
        if line.strip() != marker:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j >= len(lines) or not lines[j].startswith('```'):
            raise ValueError('%s: no code block after %s' % (name, marker))
        fence = lines[j][:3]
        body = []
        for k in range(j + 1, len(lines)):
            if lines[k].startswith(fence):
                return '\n'.join(body) + '\n'
            body.append(lines[k])
        raise ValueError('%s: unterminated code block' % name)
    raise ValueError('no block marked %s' % marker)


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    guide, name, output = sys.argv[1:]
    with open(guide, encoding='utf-8') as f:
        code = extract(f.read(), name)
    tmp = output + '.tmp'
    with open(tmp, 'w', encoding='utf-8', newline='\n') as f:
        f.write(code)
    os.replace(tmp, output)
    return 0


if __name__ == '__main__':
    sys.exit(main())
