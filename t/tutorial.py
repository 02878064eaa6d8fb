#!/usr/bin/env python3
"""Runs the sh blocks of a tutorial in markdown, in order, in one shell.

    python3 t/tutorial.py docs/TUTORIAL.md WORKDIR

In a ```sh block, a line "$ CMD" is a command (a line ending in a
backslash goes on with the next); the lines under it, up to the next
command or the end of the block, are what it must print, stdout and stderr
together.  In them "…" stands for any text within a line, and a line that
is only "…" for any number of lines.  A command with no lines under it
must print nothing.  Every command must exit 0.  Prints the first step
that failed and exits 1; exits 0 when all passed.
"""
import os
import re
import subprocess
import sys


def steps(path):
    out, block, cmd, want = [], False, None, []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not block:
            if line.strip() == "```sh":
                block = True
            continue
        if line.strip() == "```" or line.startswith("$ "):
            if cmd is not None:
                out.append((cmd, want))
            cmd, want = None, []
            if line.strip() == "```":
                block = False
                continue
            cmd = line[2:]
            while cmd.endswith("\\") and i < len(lines):
                cmd = cmd + "\n" + lines[i]
                i += 1
            continue
        if cmd is not None:
            want.append(line)
    return out


def pattern(want):
    rx = ""
    for line in want:
        if line == "…":
            rx += r"(?:[^\n]*\n)*"
        else:
            rx += "[^\n]*".join(re.escape(p) for p in line.split("…")) + r"\n"
    return re.compile(rx + r"\Z")


def main():
    doc, work = sys.argv[1], sys.argv[2]
    todo = steps(doc)
    if not todo:
        print("no commands found in " + doc)
        return 1
    script = ["set +e", 'cd "$HOME" || exit 1']
    for n, (cmd, _) in enumerate(todo):
        script.append("{\n%s\n} > %s/out.%d 2>&1 < /dev/null; echo $? > %s/rc.%d"
                      % (cmd, work, n, work, n))
    with open(os.path.join(work, "tutorial.sh"), "w", encoding="utf-8") as f:
        f.write("\n".join(script) + "\n")
    subprocess.run(["bash", os.path.join(work, "tutorial.sh")], check=False)
    for n, (cmd, want) in enumerate(todo):
        try:
            with open("%s/out.%d" % (work, n), encoding="utf-8", errors="replace") as f:
                got = f.read()
            with open("%s/rc.%d" % (work, n), encoding="utf-8") as f:
                rc = int(f.read())
        except OSError:
            print("step %d did not run: $ %s" % (n + 1, cmd))
            return 1
        if got and not got.endswith("\n"):
            got += "\n"
        if rc != 0 or not pattern(want).match(got):
            print("step %d: $ %s" % (n + 1, cmd))
            print("exit status %d; printed:\n%s" % (rc, got))
            print("wanted:\n%s" % "\n".join(want))
            return 1
    print("%d commands ran as the tutorial says" % len(todo))
    return 0


if __name__ == "__main__":
    sys.exit(main())
