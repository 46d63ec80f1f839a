#!/usr/bin/env python3
"""The library's share of a Zephyr image, from its linker map: every input section kept by the
linker whose archive path contains PATTERN, as flash (.text, .rodata, .data.rel.ro, iterable
sections), .data, .bss/.noinit, and unwind tables (reported apart).
Usage: zephyr_map.py build/zephyr/zephyr.map azure_iot_hub [KEY]
With KEY, prints KEY_flash=, KEY_ram= (key=value lines, as scripts/footprint.sh writes them)."""
import re, sys, collections
path, pat = sys.argv[1], sys.argv[2]
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
for line in open(path, errors='replace'):
    line = line.rstrip('\n')
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
        if c: tot[c] += size
if len(sys.argv) > 3:
    print(f"{sys.argv[3]}_flash={tot['flash'] + tot['data']}")
    print(f"{sys.argv[3]}_ram={tot['data'] + tot['bss']}")
else:
    print(dict(tot), 'flash+data =', tot['flash'] + tot['data'], 'RAM data+bss =', tot['data'] + tot['bss'])
