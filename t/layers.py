#!/usr/bin/env python3
"""Checks lib/'s includes against the layers of docs/ARCHITECTURE.md.

The table after the "<!-- layers" comment lists, a row a layer from the
bottom, every module of lib/ ("name", or "name (file file ...)" for a
module of several files).  Every lib/*.c and lib/*.h must be listed, every
listed file must exist, and a file may include only headers of its own
layer or below.  Prints each fault; exits 1 if there is any.
"""
import os
import re
import sys

top = sys.argv[1] if len(sys.argv) > 1 else "."
doc = open(os.path.join(top, "docs", "ARCHITECTURE.md")).read()
start = doc.index("<!-- layers")
rows = []
for line in doc[start:].splitlines()[1:]:
    if not line.startswith("|"):
        if rows:
            break
        continue
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if cells[0] in ("layer", "---") or set(cells[0]) <= set("-"):
        continue
    rows.append(cells[1])

layer = {}
for i, cell in enumerate(rows):
    for m in re.finditer(r"([a-z0-9-]+)(?: \(([a-z0-9 -]+)\))?", cell):
        for f in (m.group(2).split() if m.group(2) else [m.group(1)]):
            layer[f] = i

faults = []
lib = os.path.join(top, "lib")
files = sorted(f for f in os.listdir(lib) if f.endswith((".c", ".h")))
present = {f[:-2] for f in files}
for name in sorted(set(layer) - present):
    faults.append("docs/ARCHITECTURE.md lists '%s', which lib/ does not have" % name)
for f in files:
    name = f[:-2]
    if name not in layer:
        faults.append("lib/%s is in no layer of docs/ARCHITECTURE.md" % f)
        continue
    for inc in re.findall(r'^#include "([a-z0-9-]+)\.h"', open(os.path.join(lib, f)).read(), re.M):
        if inc in layer and layer[inc] > layer[name]:
            faults.append("lib/%s (layer %d) includes %s.h (layer %d)" % (f, layer[name], inc, layer[inc]))
for fault in faults:
    print(fault)
sys.exit(1 if faults else 0)
