#!/usr/bin/env python3
"""ssh, counting the bytes that cross: for make bench's push section.

Runs $BENCH_SSH (the ssh command, split on spaces) with this script's
arguments, passes standard input and output through, and appends one line
"SENT RECEIVED" (bytes to and from the far side) to $BENCH_WIRE, when
set, as the connection ends.  Exits with ssh's status.
"""
import os
import subprocess
import sys
import threading

p = subprocess.Popen(os.environ["BENCH_SSH"].split() + sys.argv[1:],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
counts = [0, 0]


def pump(src, dst, i):
    while True:
        try:
            b = os.read(src, 1 << 16)
        except OSError:
            break
        if not b:
            break
        counts[i] += len(b)
        try:
            while b:
                b = b[os.write(dst, b):]
        except OSError:
            break


def upstream():
    pump(0, p.stdin.fileno(), 0)
    try:
        p.stdin.close()
    except OSError:
        pass


t = threading.Thread(target=upstream, daemon=True)
t.start()
pump(p.stdout.fileno(), 1, 1)
rc = p.wait()
if os.environ.get("BENCH_WIRE"):
    with open(os.environ["BENCH_WIRE"], "a") as f:
        f.write("%d %d\n" % (counts[0], counts[1]))
sys.exit(rc)
