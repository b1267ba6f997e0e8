"""Helpers shared by the ABI tests: reading include/hosm.h, lib/hosm.map and
ELF files with the Python standard library only."""

import re
import struct

SKIP = 77  # meson's exit code for a skipped test


def strip_comments(text):
    """Remove /* */ and // comments, keeping line structure."""
    def blank(m):
        return re.sub(r'[^\n]', ' ', m.group(0))
    text = re.sub(r'/\*.*?\*/', blank, text, flags=re.S)
    return re.sub(r'//[^\n]*', '', text)


def _code_statements(path):
    """The header's declarations outside the preprocessor, split at ';'."""
    with open(path, encoding='utf-8') as f:
        text = strip_comments(f.read())
    lines = []
    continued = False
    for line in text.splitlines():
        directive = continued or line.lstrip().startswith('#')
        continued = directive and line.rstrip().endswith('\\')
        if not directive:
            lines.append(line)
    text = '\n'.join(lines)
    # extern "C" { ... } wrappers are not declarations.
    text = re.sub(r'extern\s+"C"\s*\{', ' ', text)
    return text


def header_functions(path):
    """Parse the public header.

    Returns (exported, unexported): the names of the functions declared with
    HOSM_API, and the names of function declarations that lack it."""
    text = _code_statements(path)
    # Enum bodies and typedefs of function pointers are not function
    # declarations; drop enum bodies wholesale.
    text = re.sub(r'\benum\s+\w*\s*\{.*?\}', 'enum', text, flags=re.S)
    exported, unexported = [], []
    for stmt in text.split(';'):
        stmt = ' '.join(stmt.replace('{', ' ').replace('}', ' ').split())
        if '(' not in stmt or stmt.startswith('typedef'):
            continue
        m = re.search(r'(\w+)\s*\(', stmt)
        if not m:
            continue
        name = m.group(1)
        if re.search(r'\bHOSM_API\b', stmt):
            exported.append(name)
        else:
            unexported.append(name)
    return exported, unexported


def header_enums(path):
    """All enumerators of the public header as a list of
    (enum name, enumerator, value text)."""
    text = _code_statements(path)
    out = []
    for m in re.finditer(r'\benum\s+(\w*)\s*\{(.*?)\}', text, flags=re.S):
        enum_name = m.group(1) or '(anonymous)'
        for item in m.group(2).split(','):
            item = ' '.join(item.split())
            if not item:
                continue
            name, eq, value = item.partition('=')
            out.append((enum_name, name.strip(), value.strip() if eq else None))
    return out


def map_nodes(path):
    """Parse a linker version script.

    Returns (nodes, problems): nodes is a list of (node name, [global names],
    [local patterns]) in file order; problems lists anything this project's
    map should not contain."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'#[^\n]*', ' ', text)
    nodes, problems = [], []
    pos = 0
    node_re = re.compile(r'\s*([A-Za-z_][\w.]*)?\s*\{(.*?)\}\s*([\w.]*)\s*;', re.S)
    while True:
        m = node_re.match(text, pos)
        if not m:
            break
        pos = m.end()
        name, body = m.group(1) or '', m.group(2)
        glob, local, section = [], [], None
        for tok in re.split(r'(global\s*:|local\s*:|;)', body):
            tok = tok.strip()
            if not tok or tok == ';':
                continue
            if re.fullmatch(r'global\s*:', tok):
                section = glob
            elif re.fullmatch(r'local\s*:', tok):
                section = local
            elif section is None:
                glob.append(tok)  # names before any label are global
            else:
                section.append(tok)
        for sym in glob:
            if re.search(r'[*?\[\]]', sym):
                problems.append('%s: wildcard %r in global: would export '
                                'symbols nobody declared' % (name, sym))
        nodes.append((name, glob, local))
    if text[pos:].strip():
        problems.append('could not parse the map after offset %d: %r'
                        % (pos, text[pos:pos + 60]))
    return nodes, problems


class Elf:
    """The few facts the tests need from an ELF file's headers."""

    EM_X86_64 = 62

    def __init__(self, path):
        with open(path, 'rb') as f:
            data = f.read()
        if data[:4] != b'\x7fELF':
            raise ValueError('%s is not an ELF file' % path)
        self.is64 = data[4] == 2
        end = '<' if data[5] == 1 else '>'
        self.machine = struct.unpack_from(end + 'H', data, 0x12)[0]
        if self.is64:
            shoff, = struct.unpack_from(end + 'Q', data, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(end + 'HHH', data, 0x3A)
            sec_fmt, name_at, off_at = end + 'IIQQQQ', 0, 4
        else:
            shoff, = struct.unpack_from(end + 'I', data, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(end + 'HHH', data, 0x2E)
            sec_fmt, name_at, off_at = end + 'IIIIII', 0, 4
        secs = [struct.unpack_from(sec_fmt, data, shoff + i * shentsize)
                for i in range(shnum)]
        self.sections = []
        if secs and shstrndx < len(secs):
            str_off, str_size = secs[shstrndx][off_at], secs[shstrndx][off_at + 1]
            strtab = data[str_off:str_off + str_size]
            for s in secs:
                n = s[name_at]
                self.sections.append(strtab[n:strtab.index(b'\0', n)].decode())

    def has_debug_info(self):
        return any(s in ('.debug_info', '.zdebug_info') for s in self.sections)
