#!/usr/bin/env python3
"""The library's share of a Zephyr image, from its linker map: every input section kept by the
linker whose archive path contains PATTERN, as flash (.text, .rodata, .data.rel.ro, iterable
sections), .data, .bss/.noinit, and unwind tables (reported apart).

One exception: a `compiler_builtins` member of the Rust archive (Rust's copy of libgcc's
helpers) that the linker pulled in for another library (the map's "Archive member included to
satisfy reference by file" names an object not ours) and that no other object of ours
references is not counted: in practice `__udivti3`, which only mbed TLS calls. Without our
archive the linker would take it from libgcc, and it would count for neither library. Its size
is reported apart (KEY_foreign=).

Usage: zephyr_map.py build/zephyr/zephyr.map azure_iot_hub [KEY]
With KEY, prints KEY_flash=, KEY_ram=, KEY_foreign= (key=value lines, as scripts/footprint.sh
writes them)."""
import collections
import os
import re
import subprocess
import sys

path, pat = sys.argv[1], sys.argv[2]
# Paths in the map are relative to the build directory, the parent of the map's directory.
build_dir = os.path.dirname(os.path.dirname(os.path.abspath(path)))
lines = open(path, errors='replace').read().splitlines()


def included_members():
    """{`archive(member)`: (archive, member, first referencing file)} for every member of our
    archives that the linker took."""
    out = {}
    for i, line in enumerate(lines):
        if line.startswith(('Discarded input sections', 'Memory Configuration')):
            break
        m = re.match(r'^(\S+\.a)\((\S+)\)$', line)
        if not (m and pat in m.group(1) and i + 1 < len(lines)):
            continue
        ref = re.match(r'^\s+(\S+) \((\S+)\)$', lines[i + 1])
        out[m.group(0)] = (m.group(1), m.group(2), ref.group(1) if ref else '')
    return out


def symbols(archive):
    """{member: (defined, undefined)} global symbol names of every member of `archive`, from
    readelf (nm would hand Rust objects, which carry LLVM bitcode, to an LTO plugin that may not
    read them); None when the archive or readelf is missing."""
    if not os.path.exists(archive):
        return None
    try:
        out = subprocess.run(['readelf', '-s', '-W', archive], capture_output=True,
                             text=True).stdout
    except OSError:
        return None
    table, member = {}, None
    for line in out.splitlines():
        m = re.match(r'^File: .*\((.*)\)$', line)
        if m:
            member = m.group(1)
            table[member] = (set(), set())
            continue
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if member is None or len(f) < 8 or f[4] not in ('GLOBAL', 'WEAK'):
            continue
        table[member][1 if f[6] == 'UND' else 0].add(f[7])
    return table


# Every archive of ours that has a section in the image.
our_archives = {m.group(1) for m in (re.search(r'(\S*' + re.escape(pat) + r'\S*\.a)\(', l)
                                       for l in lines) if m}


def only_for_others():
    """The `compiler_builtins` members pulled in for an object not ours that none of our other
    linked objects reference."""
    taken = included_members()
    foreign = set()
    for full, (archive, member, ref) in taken.items():
        if not member.startswith('compiler_builtins') or pat in ref:
            continue
        table = symbols(os.path.join(build_dir, archive))
        if not table or member not in table:
            continue  # cannot tell: counted
        wanted = set()
        for other_full, (other_archive, other, _) in taken.items():
            if other_full != full and other_archive == archive and other in table:
                wanted |= table[other][1]
        # Our other archives (the C glue, linked whole): every member.
        for other_archive in our_archives - {archive}:
            for _, und in (symbols(os.path.join(build_dir, other_archive)) or {}).values():
                wanted |= und
        if table[member][0] and not table[member][0] & wanted:
            foreign.add(full)
    return foreign


foreign_members = only_for_others()
tot = collections.Counter()
pending = None
started = False


def cls(sec):
    if sec.startswith(('.debug', '.llvm', '.comment', '.note')): return None
    if sec.startswith('.eh_frame') or sec.startswith('.debug_frame'): return 'eh_frame'
    if sec.startswith(('.text', '.rodata', '.data.rel.ro')): return 'flash'
    if sec.startswith('.data'): return 'data'
    if sec.startswith(('.bss', '.noinit', 'COMMON')): return 'bss'
    return 'flash'  # iterable sections (log_const_area, k_mutex_area, initlevel...)


for line in lines:
    if not started:
        started = line.startswith('Linker script and memory map')
        continue
    m = re.match(r'^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)', line)
    if m:
        sec, size, f = m.group(1), int(m.group(3), 16), m.group(4)
    else:
        m1 = re.match(r'^ (\S+)$', line)
        if m1:
            pending = m1.group(1); continue
        m2 = re.match(r'^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)', line)
        if not (m2 and pending): continue
        sec, size, f = pending, int(m2.group(2), 16), m2.group(3)
        pending = None
    if pat in f:
        c = cls(sec)
        if c and f in foreign_members:
            if c in ('flash', 'data'):
                tot['foreign'] += size
        elif c:
            tot[c] += size
if len(sys.argv) > 3:
    print(f"{sys.argv[3]}_flash={tot['flash'] + tot['data']}")
    print(f"{sys.argv[3]}_ram={tot['data'] + tot['bss']}")
    print(f"{sys.argv[3]}_foreign={tot['foreign']}")
else:
    print(dict(tot), 'flash+data =', tot['flash'] + tot['data'], 'RAM data+bss =',
          tot['data'] + tot['bss'], 'not counted (pulled in for other libraries) =',
          tot['foreign'])
