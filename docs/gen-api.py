#!/usr/bin/env python3
"""Generate docs/api.md, the API reference, from the comments of include/hosm.h.

    gen-api.py [--header PATH] OUTPUT      write the reference to OUTPUT ('-': stdout)
    gen-api.py [--header PATH] --check [API_MD]
                                           generate into a temporary file and
                                           compare with API_MD (default: the
                                           api.md beside this script); exit 1
                                           and print a diff when they differ

The reference has one section per "@name" group of the header (in header
order), with every enum (values and comments), typedef and function
(signature and comment) of the group. Declarations outside a group get a
section of their own. The output depends only on the header (and on
hosm_version.h.in beside it, for the version macros), so it is deterministic.
Python 3 standard library only.
"""

import argparse
import difflib
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_HEADER = os.path.normpath(os.path.join(HERE, '..', 'include', 'hosm.h'))
DEFAULT_OUTPUT = os.path.join(HERE, 'api.md')


class HeaderError(Exception):
    pass


# ---------------------------------------------------------------------------
# Tokenising the header into comments, preprocessor lines and code statements


def tokenize(text):
    """Yield (kind, value, line) with kind in 'doc', 'comment', 'code'.

    Doc comments are /** ... */ (value: the text inside). Code is returned
    statement by statement: up to ';' at brace depth 0, or a complete
    braced block with its trailing ';'. Preprocessor lines are dropped."""
    i, n, line = 0, len(text), 1
    code, code_line, depth = [], None, 0
    while i < n:
        if text.startswith('/*', i):
            end = text.find('*/', i + 2)
            if end < 0:
                raise HeaderError('unterminated comment at line %d' % line)
            body = text[i + 2:end]
            kind = 'doc' if body.startswith('*') and not body.startswith('**') else 'comment'
            if kind == 'doc':
                body = body[1:]
            if depth > 0:
                # Comments inside a braced block (enum members) stay in it.
                code.append(text[i:end + 2])
            else:
                yield (kind, body, line)
            line += text.count('\n', i, end + 2)
            i = end + 2
            continue
        if text.startswith('//', i):
            end = text.find('\n', i)
            i = n if end < 0 else end
            continue
        c = text[i]
        at_line_start = text.rfind('\n', 0, i) + 1
        if c == '#' and text[at_line_start:i].strip() == '' and depth == 0 and not \
                ''.join(code).strip():
            # A preprocessor directive, with its continuation lines.
            j = i
            while True:
                end = text.find('\n', j)
                if end < 0:
                    end = n
                    break
                if text[end - 1] == '\\':
                    j = end + 1
                    continue
                break
            line += text.count('\n', i, end)
            i = end
            continue
        if c == '\n':
            line += 1
        if not c.isspace() and code_line is None:
            code_line = line
        code.append(c)
        if c == '{':
            depth += 1
        elif c == '}':
            depth -= 1
        elif c == ';' and depth == 0:
            stmt = ''.join(code).strip()
            code, depth = [], 0
            yield ('code', stmt, code_line)
            code_line = None
        i += 1
    if ''.join(code).strip():
        raise HeaderError('unterminated declaration at line %d' % code_line)


def drop_cplusplus(text):
    """Blank the lines of '#ifdef __cplusplus' blocks (extern "C" { and its
    closing brace), keeping the line count."""
    out, skipping, depth = [], False, 0
    for ln in text.split('\n'):
        s = ln.strip()
        if not skipping and re.match(r'#\s*ifdef\s+__cplusplus\b', s):
            skipping, depth = True, 1
            out.append('')
            continue
        if skipping:
            if re.match(r'#\s*if', s):
                depth += 1
            elif re.match(r'#\s*endif', s):
                depth -= 1
                if depth == 0:
                    skipping = False
            out.append('')
            continue
        out.append(ln)
    return '\n'.join(out)


# ---------------------------------------------------------------------------
# Comment text to Markdown


def comment_lines(body):
    """The lines of a comment without the leading ' * ' decoration."""
    lines = body.split('\n')
    out = []
    for ln in lines:
        s = ln.rstrip()
        m = re.match(r'^\s*\*(?!/)', s)
        if m:
            s = s[m.end():]
        out.append(s)
    # Drop a common indentation of the non-empty lines.
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    indents = [len(s) - len(s.lstrip()) for s in out if s.strip()]
    cut = min(indents) if indents else 0
    return [s[cut:] if s.strip() else '' for s in out]


def escape(text):
    """Escape the few characters Markdown would misread in prose (outside
    `code spans`, which are kept as they are)."""
    parts = re.split(r'(`[^`]*`)', text)
    for k in range(0, len(parts), 2):
        t = parts[k].replace('\\', '\\\\').replace('*', '\\*')
        # '<' only where it could open an HTML tag or an autolink.
        t = re.sub(r'<(?=[A-Za-z/!?])', '&lt;', t)
        # Mentions of the guides become links (api.md sits beside them), with
        # their section anchor if they have one: docs/math.md#32-second-order-d2sm.
        parts[k] = re.sub(r'\bdocs/([\w-]+\.md(?:#[\w-]*\w)?)\b', r'[docs/\1](\1)', t)
    return ''.join(parts)


def markdown(lines):
    """Render comment lines as Markdown blocks: paragraphs, and '- ' lists
    whose items continue on deeper-indented lines."""
    blocks, para, items = [], [], []

    def flush():
        if para:
            blocks.append(escape(' '.join(para)))
            para.clear()
        if items:
            blocks.append('\n'.join('- ' + escape(' '.join(it)) for it in items))
            items.clear()

    item_indent = None
    for s in lines:
        if not s.strip():
            flush()
            item_indent = None
            continue
        stripped = s.lstrip()
        indent = len(s) - len(stripped)
        if stripped.startswith('- '):
            if para:
                blocks.append(escape(' '.join(para)))
                para.clear()
            items.append([stripped[2:].strip()])
            item_indent = indent
            continue
        if items and item_indent is not None and indent > item_indent:
            items[-1].append(stripped)
            continue
        if items:
            flush()
            item_indent = None
        para.append(stripped)
    flush()
    return blocks


def one_line(body):
    return ' '.join(s.strip() for s in comment_lines(body) if s.strip())


# ---------------------------------------------------------------------------
# Declarations


def normalize(decl):
    decl = re.sub(r'\bHOSM_API\s+', '', decl)
    decl = re.sub(r'\s+', ' ', decl).strip()
    decl = re.sub(r'\(\s+', '(', decl)
    decl = re.sub(r'\s+\)', ')', decl)
    decl = re.sub(r'\s+,', ',', decl)
    return decl


def wrap_signature(sig, width=88):
    """One line if it fits, else one parameter a line aligned after '('."""
    if len(sig) <= width:
        return sig
    open_ = sig.index('(')
    close = sig.rindex(')')
    params = [p.strip() for p in sig[open_ + 1:close].split(',')]
    pad = ' ' * (open_ + 1)
    lines = [sig[:open_ + 1] + params[0] + ',']
    for p in params[1:-1]:
        lines.append(pad + p + ',')
    lines.append(pad + params[-1] + sig[close:])
    return '\n'.join(lines)


def parse_enum(stmt):
    m = re.match(r'enum\s+(\w+)\s*\{(.*)\}\s*;$', stmt, re.S)
    if not m:
        raise HeaderError('cannot parse enum: %s' % stmt[:60])
    name, body = m.group(1), m.group(2)
    rows = []
    pos = 0
    pattern = re.compile(
        r'/\*\*<(?P<doc>.*?)\*/|/\*(?P<comment>.*?)\*/|(?P<name>[A-Z_][A-Z0-9_]*)\s*'
        r'(?:=\s*(?P<value>[^,/]+?))?\s*(?:,|(?=/\*)|$)', re.S)
    for t in pattern.finditer(body):
        if t.group('doc') is not None:
            if not rows or rows[-1][0] != 'member':
                raise HeaderError('member comment without a member in enum %s' % name)
            rows[-1][3] = ' '.join(t.group('doc').split())
        elif t.group('comment') is not None:
            rows.append(['label', ' '.join(t.group('comment').split()), None, None])
        elif t.group('name'):
            rows.append(['member', t.group('name'), (t.group('value') or '').strip(), ''])
        pos = t.end()
    # Implicit values count up from the previous one.
    nxt = 0
    for r in rows:
        if r[0] != 'member':
            continue
        if r[2]:
            try:
                nxt = int(r[2], 0) + 1
            except ValueError:
                nxt = None
        elif nxt is not None:
            r[2] = str(nxt)
            nxt += 1
    return name, rows


def classify(stmt):
    """('enum'|'typedef'|'function'|None, name)."""
    s = stmt
    if s.startswith('enum') and '{' in s:
        return 'enum', re.match(r'enum\s+(\w+)', s).group(1)
    if s.startswith('typedef'):
        m = re.search(r'\(\s*\*\s*(\w+)\s*\)', s)
        if m:
            return 'typedef', m.group(1)
        m = re.search(r'(\w+)\s*;$', s)
        return 'typedef', m.group(1)
    if 'HOSM_API' in s and '(' in s:
        m = re.search(r'(\w+)\s*\(', s)
        return 'function', m.group(1)
    return None, None


# ---------------------------------------------------------------------------
# The document model


class Section:
    def __init__(self, title, note, intro):
        self.title = title      # heading
        self.note = note        # parenthetical of the @name line, or ''
        self.intro = intro      # comment lines
        self.items = []         # (kind, name, stmt, doc_lines)


def split_name_line(first):
    """'Samplers (docs/math.md#8-samplers; ...)' -> ('Samplers', 'docs/math.md#8-samplers; ...')."""
    first = first.strip()
    if first.endswith(')'):
        depth = 0
        for k in range(len(first) - 1, -1, -1):
            if first[k] == ')':
                depth += 1
            elif first[k] == '(':
                depth -= 1
                if depth == 0:
                    if k > 0 and first[k - 1] == ' ':
                        return first[:k].rstrip(), first[k + 1:-1]
                    break
    return first, ''


def parse_header(text):
    overview = None
    sections = []
    current = None          # Section of an open @name group, or None
    in_group = False
    pending_doc = None
    loose = None            # Section collecting declarations outside groups
    for kind, value, line in tokenize(drop_cplusplus(text)):
        if kind == 'comment':
            if overview is None and not sections and value.strip():
                overview = comment_lines(value)
            continue
        if kind == 'doc':
            stripped = value.strip()
            if stripped.startswith('@name'):
                lines = comment_lines(value)
                first = lines[0].strip()[len('@name'):].strip()
                title, note = split_name_line(first)
                current = Section(title, note, lines[1:])
                sections.append(current)
                in_group = False
                loose = None
                pending_doc = None
            elif stripped == '@{':
                if current is None:
                    raise HeaderError('line %d: @{ without @name' % line)
                in_group = True
            elif stripped == '@}':
                in_group = False
                current = None
            else:
                if pending_doc is not None:
                    raise HeaderError('line %d: two doc comments in a row' % line)
                pending_doc = comment_lines(value)
            continue
        stmt = value
        if not stmt or stmt == '}':
            continue
        ckind, name = classify(stmt)
        if ckind is None:
            pending_doc = None
            continue
        doc = pending_doc or []
        pending_doc = None
        if current is not None and (in_group or not current.items):
            target = current
        else:
            if loose is None:
                loose = Section(None, '', [])
                sections.append(loose)
            target = loose
        target.items.append((ckind, name, stmt, doc))
    for s in sections:
        if s.title is None:
            s.title = ', '.join(item[1] for item in s.items)
    return overview or [], sections


def version_macros(header_path):
    path = os.path.join(os.path.dirname(header_path), 'hosm_version.h.in')
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding='utf-8') as f:
        for ln in f:
            m = re.match(r'#define\s+(HOSM_VERSION_\w+)\s+(.*\S)', ln)
            if m:
                out.append((m.group(1), m.group(2)))
    return out


# ---------------------------------------------------------------------------
# Rendering


def anchor(title):
    a = title.strip().lower()
    a = re.sub(r'[^\w\- ]', '', a)
    return a.replace(' ', '-')


def cell(text):
    return escape(text).replace('|', '\\|')


def render(header_path, text):
    overview, sections = parse_header(text)
    out = []
    w = out.append
    w('# libhosm API reference')
    w('')
    w('Generated by `docs/gen-api.py` from the comments of `include/hosm.h`; do not edit by '
      'hand (the `docs` test suite fails when this file and the header disagree). The guides '
      'are listed in [README.md](README.md).')
    w('')
    if overview:
        w('## Overview')
        w('')
        # The first line names the library; the rest are the conventions.
        body = overview
        for block in markdown(body):
            w(block)
            w('')
    w('## Contents')
    w('')
    titles = []
    for s in sections:
        titles.append(s.title)
    macros = version_macros(header_path)
    for t in titles:
        w('- [%s](#%s)' % (escape(t), anchor(t)))
    if macros:
        w('- [Version macros](#version-macros)')
    w('- [Index](#index)')
    w('')
    index = []
    for s in sections:
        w('## ' + escape(s.title))
        w('')
        if s.note:
            w('*(' + escape(s.note) + ')*')
            w('')
        for block in markdown(s.intro):
            w(block)
            w('')
        single = len(s.items) == 1 and s.title == s.items[0][1]
        for kind, name, stmt, doc in s.items:
            index.append((name, kind, s.title if single else name))
            if not single:
                w('### ' + name)
                w('')
            if kind == 'enum':
                ename, rows = parse_enum(stmt)
                for block in markdown(doc):
                    w(block)
                    w('')
                w('| Name | Value | Meaning |')
                w('|---|---|---|')
                for r in rows:
                    if r[0] == 'label':
                        w('| *%s* | | |' % cell(r[1]))
                    else:
                        w('| `%s` | %s | %s |' % (r[1], cell(r[2]), cell(r[3])))
                w('')
            else:
                w('```c')
                w(wrap_signature(normalize(stmt)))
                w('```')
                w('')
                if doc:
                    for block in markdown(doc):
                        w(block)
                        w('')
                elif kind == 'typedef' and re.match(r'typedef\s+struct\s+(\w+)\s+\1\s*;$',
                                                    normalize(stmt)):
                    w('An opaque handle: its fields are private.')
                    w('')
    if macros:
        w('## Version macros')
        w('')
        w('Defined in `hosm_version.h`, which `hosm.h` includes. The build generates it from '
          '`include/hosm_version.h.in`, filling in each `@...@` from the project version:')
        w('')
        w('```c')
        width = max(len(name) for name, _ in macros)
        for name, value in macros:
            w('#define %-*s %s' % (width, name, value))
        w('```')
        w('')
        for name, _ in macros:
            index.append((name, 'macro', 'version-macros'))
    w('## Index')
    w('')
    for name, kind, target in sorted(index, key=lambda t: t[0].lower()):
        link = target if kind == 'macro' else anchor(target)
        w('- [`%s`](#%s) (%s)' % (name, link, kind))
    w('')
    return '\n'.join(out)


def generate(header_path):
    with open(header_path, encoding='utf-8') as f:
        text = f.read()
    return render(header_path, text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--header', default=DEFAULT_HEADER, help='the public header to read')
    ap.add_argument('--check', nargs='?', const=DEFAULT_OUTPUT, metavar='API_MD',
                    help='compare a fresh reference with API_MD instead of writing')
    ap.add_argument('output', nargs='?', help="where to write the reference ('-': stdout)")
    args = ap.parse_args(argv)
    if (args.check is None) == (args.output is None):
        ap.error('give either an output path or --check')
    try:
        doc = generate(args.header)
    except (OSError, HeaderError) as e:
        print('gen-api.py: %s' % e, file=sys.stderr)
        return 2
    if args.check is not None:
        fd, tmp = tempfile.mkstemp(prefix='hosm-api-', suffix='.md')
        try:
            with os.fdopen(fd, 'w', encoding='utf-8', newline='\n') as f:
                f.write(doc)
            with open(tmp, encoding='utf-8') as f:
                fresh = f.read()
        finally:
            os.unlink(tmp)
        try:
            with open(args.check, encoding='utf-8') as f:
                committed = f.read()
        except OSError as e:
            print('gen-api.py: %s' % e, file=sys.stderr)
            return 1
        if committed == fresh:
            return 0
        sys.stderr.writelines(difflib.unified_diff(
            committed.splitlines(True), fresh.splitlines(True),
            args.check, 'generated from ' + args.header))
        print('\n%s is out of date: run docs/gen-api.py %s' % (args.check, args.check),
              file=sys.stderr)
        return 1
    if args.output == '-':
        sys.stdout.write(doc)
        return 0
    directory = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(prefix='.api-', suffix='.md', dir=directory)
    with os.fdopen(fd, 'w', encoding='utf-8', newline='\n') as f:
        f.write(doc)
    os.chmod(tmp, 0o644)
    os.replace(tmp, args.output)
    return 0


if __name__ == '__main__':
    sys.exit(main())
