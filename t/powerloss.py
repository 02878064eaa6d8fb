#!/usr/bin/env python3
"""Power-loss check of snap's store writes, in the manner of ALICE
(application-level crash consistency, OSDI 2014).

For each scenario (a snapshot, a second snapshot that moves the ref, a gc)
the command is run once under strace to list its sync calls (fsync,
fdatasync, syncfs), then once per sync boundary K with the K-th sync call
replaced by a SIGKILL of the whole run.  The store on disk is then S_K:
everything written before that call, as the page cache holds it.  From the
traces up to K the script knows which files' data and which directory
entries had been made durable, and builds in scratch copies the states a
power cut at K could leave:

  crash    S_K as it is (a process crash: the page cache survives)
  data     every directory operation kept, every file's data written since
           its last fsync lost (a file renamed into place before its data
           was synced shows up short or empty)
  torn     as data, but half of each file's unsynced tail kept
  dirs     as data, and every create, link, rename, unlink, mkdir, rmdir in
           a directory not fsynced since undone (old files come back from
           the copy of the store taken before the run)

and one more boundary after the command has exited (a power cut right after
success, where the ref must hold its new value).  Each state must pass
snap-fsck, each ref must hold its old or its new value, and every snapshot
complete before the command (and the new one, where its ref moved) must
restore byte-identical to the tree it was taken from.

The command's binaries are run through wrappers that run each under its
own strace (strace counts `when=` per syscall and per thread, so the
injection goes to the one process that makes the K-th call, and the
script checks afterwards that the call it stopped was the K-th).

Usage: powerloss.py [--all | --every N] [--keep] [--verbose] SCENARIO...
Scenarios: snapshot-first snapshot-second gc gc-deleted-ref
Prints per scenario:
  power-loss: SCENARIO N boundaries, M states, B bad
Exit status: 0 when nothing is bad, 1 when a state is bad, 2 on a harness
error (strace missing, a run that did not behave as recorded).
Environment: SNAP_POWERLOSS_ALL=1 is --all; SNAP_BUILD the build tree.
"""

import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

SYNC_CALLS = ("fsync", "fdatasync", "syncfs")
TRACED = ("openat,open,creat,write,pwrite64,writev,pwritev,pwritev2,lseek,"
          "fsync,fdatasync,syncfs,sync_file_range,rename,renameat,renameat2,"
          "link,linkat,unlink,unlinkat,mkdir,mkdirat,rmdir,symlink,symlinkat,"
          "ftruncate,truncate,fallocate,close,dup,dup2,dup3,execve")
SNAP_TIME = 1700000000


class HarnessError(Exception):
    pass


def here():
    return os.path.dirname(os.path.abspath(__file__))


BUILD = os.environ.get("SNAP_BUILD") or os.path.dirname(here())
BIN = os.path.join(BUILD, "bin")
VERBOSE = False


def log(msg):
    if VERBOSE:
        print(msg, file=sys.stderr)


def run(cmd, env=None, cwd=None, check=True, timeout=300):
    p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    if check and p.returncode != 0:
        raise HarnessError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                p.stderr.decode(errors="replace").strip()))
    return p


def copy_tree(src, dst):
    if os.path.lexists(dst):
        rm_tree(dst)
    run(["cp", "-a", src, dst])


def rm_tree(path):
    # Objects are 0444 in 0755 directories: plain rmtree copes, but a
    # directory made read-only by a test would not; make sure.
    if not os.path.lexists(path):
        return
    run(["chmod", "-R", "u+w", path], check=False)
    shutil.rmtree(path)


# ---- strace parsing ----

LINE = re.compile(r"^(\d+)\s+(.*)$")
STR = re.compile(r'"((?:[^"\\]|\\.)*)"(?:\.\.\.)?')
FDARG = re.compile(r"^(-?\d+)(?:<(.*)>)?$")


def c_unescape(s):
    out = bytearray()
    i = 0
    b = s.encode("utf-8", "surrogateescape")
    while i < len(b):
        c = b[i]
        if c == 0x5c and i + 1 < len(b):
            n = b[i + 1]
            simple = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord("v"): 11,
                      ord("f"): 12, ord('"'): 34, ord("\\"): 92}
            if n in simple:
                out.append(simple[n])
                i += 2
                continue
            if n == ord("x"):
                out.append(int(b[i + 2:i + 4], 16))
                i += 4
                continue
            if 0x30 <= n <= 0x37:
                j = i + 1
                while j < len(b) and j < i + 4 and 0x30 <= b[j] <= 0x37:
                    j += 1
                out.append(int(b[i + 1:j], 8) & 0xff)
                i = j
                continue
        out.append(c)
        i += 1
    return out.decode("utf-8", "surrogateescape")


def split_args(s):
    """Splits a syscall's argument text at top-level commas; quoted strings
    were already replaced by placeholders."""
    args, depth, cur = [], 0, ""
    for ch in s:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        args.append(cur.strip())
    return args


class Call:
    __slots__ = ("tid", "name", "args", "strs", "ret", "retpath", "injected", "raw")

    def __repr__(self):
        return self.raw


def parse_trace(path):
    """Returns the completed calls of one strace -f -y output file, in the
    order they returned, and whether the process was killed."""
    calls, pending, killed = [], {}, False
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            m = LINE.match(line)
            if not m:
                continue
            tid, rest = int(m.group(1)), m.group(2)
            if rest.startswith("+++ killed by SIGKILL"):
                killed = True
                continue
            if rest.startswith("+++") or rest.startswith("---"):
                continue
            if rest.endswith("<unfinished ...>"):
                pending[tid] = rest[:-len("<unfinished ...>")].rstrip()
                continue
            r = re.match(r"^<\.\.\. (\w+) resumed>\s?(.*)$", rest)
            if r:
                start = pending.pop(tid, None)
                if start is None:
                    continue
                rest = start + r.group(2)
            c = parse_call(tid, rest)
            if c:
                calls.append(c)
    if killed:
        # A call stopped by the injected SIGKILL never returns: strace
        # prints "= ?" for it.
        for c in reversed(calls):
            if c.name in SYNC_CALLS and c.ret is None:
                c.injected = True
                break
    return calls, killed


def parse_call(tid, text):
    m = re.match(r"^(\w+)\((.*)$", text)
    if not m:
        return None
    name, body = m.group(1), m.group(2)
    strs = []

    def keep(mo):
        strs.append(c_unescape(mo.group(1)))
        return "\x00%d" % (len(strs) - 1)

    body = STR.sub(keep, body)
    # The return value follows the last ") = " (a resumed call may have
    # padding before the "=").
    ends = list(re.finditer(r"\)\s+= ", body))
    if not ends:
        return None
    argtext, rettext = body[:ends[-1].start()], body[ends[-1].end():]
    c = Call()
    c.tid, c.name, c.raw = tid, name, text
    c.args = split_args(argtext)
    c.strs = strs
    c.injected = "(INJECTED)" in rettext
    rm = re.match(r"^(-?\d+|0x[0-9a-f]+)(?:<([^>]*)>)?", rettext)
    if rm:
        v = rm.group(1)
        c.ret = int(v, 16) if v.startswith("0x") else int(v)
        c.retpath = rm.group(2)
    else:
        c.ret, c.retpath = None, None
    return c


def arg_str(c, a):
    """The string an argument placeholder stands for."""
    m = re.match(r"^\x00(\d+)$", a)
    return c.strs[int(m.group(1))] if m else None


def arg_fd(c, a):
    """(fd, path) of an argument printed with -y, or (None, None)."""
    if a == "AT_FDCWD":
        return ("AT_FDCWD", None)
    m = FDARG.match(a)
    if not m:
        return (None, None)
    p = m.group(2)
    if p is not None and p.endswith(" (deleted)"):
        p = None
    return (int(m.group(1)), p)


# ---- the model ----

class Inode:
    __slots__ = ("id", "kind", "s0", "size", "dsize", "dirty", "overwritten")

    def __init__(self, iid, kind, s0=None, size=0, durable=True):
        self.id, self.kind, self.s0 = iid, kind, s0
        self.size = size
        self.dsize = size if durable else 0
        self.dirty = not durable
        self.overwritten = False


class Side:
    """One change to one directory entry: add (with the entry it replaced,
    if any) or remove."""
    __slots__ = ("seq", "dir", "path", "kind", "inode", "old", "op")

    def __init__(self, seq, path, kind, inode, old, op):
        self.seq, self.path, self.kind = seq, path, kind
        self.dir = os.path.dirname(path)
        self.inode, self.old, self.op = inode, old, op


class Model:
    """Replays the traced calls over the namespace of S_0 and records, for
    each file, how much of its data is durable, and for each directory
    entry change whether its directory was fsynced after it."""

    def __init__(self, store, cwd):
        self.store = os.path.realpath(store)
        self.cwd = cwd
        self.ns = {}          # relative path -> Inode
        self.sides = []
        self.dir_synced = {}  # relative dir -> seq of its last fsync
        self.all_synced = -1  # seq of the last syncfs
        self.seq = 0
        self.notes = set()
        self.next_id = 0
        byino = {}
        for root, dirs, files in os.walk(self.store):
            for n in dirs + files:
                p = os.path.join(root, n)
                st = os.lstat(p)
                rel = os.path.relpath(p, self.store)
                key = (st.st_dev, st.st_ino)
                if key in byino:
                    self.ns[rel] = byino[key]
                    continue
                kind = "d" if stat.S_ISDIR(st.st_mode) else ("l" if stat.S_ISLNK(st.st_mode) else "f")
                ino = self.new_inode(kind, s0=rel, size=st.st_size, durable=True)
                byino[key] = ino
                self.ns[rel] = ino
        self.ns["."] = self.new_inode("d", s0=".", durable=True)

    def new_inode(self, kind, s0=None, size=0, durable=False):
        self.next_id += 1
        return Inode(self.next_id, kind, s0, size, durable)

    def rel(self, path, dirpath=None):
        """A path made relative to the store, or None when outside it."""
        if path is None:
            return None
        if not os.path.isabs(path):
            path = os.path.join(dirpath or self.cwd, path)
        path = os.path.normpath(path)
        if path == self.store:
            return "."
        if path.startswith(self.store + "/"):
            return path[len(self.store) + 1:]
        return None

    def at_path(self, c, fdarg, patharg):
        fd, dpath = arg_fd(c, fdarg)
        p = arg_str(c, patharg)
        if p is None:
            return None
        if fd == "AT_FDCWD" or os.path.isabs(p):
            return self.rel(p)
        return self.rel(p, dpath)

    def add_side(self, path, kind, inode, old, op):
        self.sides.append(Side(self.seq, path, kind, inode, old, op))

    def apply_process(self, calls):
        """Applies one process's calls; returns True if it ended at an
        injected sync call (the kill point)."""
        fds = {}   # fd -> [inode, offset, append]
        for c in calls:
            self.seq += 1
            if c.injected:
                return True
            if c.ret is None or c.ret < 0:
                continue
            n = c.name
            if n in ("openat", "open", "creat"):
                if n == "openat":
                    path = self.at_path(c, c.args[0], c.args[1])
                    flags = c.args[2] if len(c.args) > 2 else ""
                else:
                    path = self.rel(arg_str(c, c.args[0]))
                    flags = c.args[1] if n == "open" and len(c.args) > 1 else "O_CREAT|O_WRONLY|O_TRUNC"
                if c.retpath is not None and self.rel(c.retpath) is not None:
                    path = self.rel(c.retpath)
                if path is None:
                    fds.pop(c.ret, None)
                    continue
                ino = self.ns.get(path)
                if ino is None:
                    kind = "d" if "O_DIRECTORY" in flags else "f"
                    ino = self.new_inode(kind)
                    self.ns[path] = ino
                    self.add_side(path, "add", ino, None, c)
                if "O_TRUNC" in flags and ino.size:
                    ino.size = 0
                    ino.dirty = True
                    ino.overwritten = True
                    self.notes.add("a file was truncated by O_TRUNC: its old data is not modelled")
                fds[c.ret] = [ino, 0, "O_APPEND" in flags]
            elif n in ("dup", "dup2", "dup3"):
                fd, _ = arg_fd(c, c.args[0])
                if fd in fds:
                    fds[c.ret] = fds[fd]
            elif n == "close":
                fd, _ = arg_fd(c, c.args[0])
                fds.pop(fd, None)
            elif n in ("write", "writev", "pwrite64", "pwritev", "pwritev2"):
                fd, fpath = arg_fd(c, c.args[0])
                ent = fds.get(fd)
                if ent is None:
                    r = self.rel(fpath)
                    if r is None or r not in self.ns:
                        continue
                    ent = fds[fd] = [self.ns[r], self.ns[r].size, False]
                ino = ent[0]
                if n in ("pwrite64", "pwritev", "pwritev2"):
                    off = int(c.args[3], 0)   # pwrite64, pwritev: the 4th
                else:
                    off = ino.size if ent[2] else ent[1]
                    ent[1] = off + c.ret
                if c.ret > 0:
                    if off < ino.dsize:
                        ino.overwritten = True
                    ino.size = max(ino.size, off + c.ret)
                    ino.dirty = True
            elif n == "lseek":
                fd, _ = arg_fd(c, c.args[0])
                if fd in fds:
                    fds[fd][1] = c.ret
            elif n in ("ftruncate", "fallocate"):
                fd, _ = arg_fd(c, c.args[0])
                ent = fds.get(fd)
                if ent is None:
                    continue
                ino = ent[0]
                if n == "ftruncate":
                    ln = int(c.args[1], 0)
                    if ln < ino.dsize:
                        ino.overwritten = True
                    ino.size = ln
                    ino.dirty = True
                elif c.args[1] == "0":
                    ino.size = max(ino.size, int(c.args[2], 0) + int(c.args[3], 0))
                    ino.dirty = True
            elif n in ("fsync", "fdatasync"):
                fd, fpath = arg_fd(c, c.args[0])
                ino = fds[fd][0] if fd in fds else None
                r = self.rel(fpath)
                if ino is None and r is not None:
                    ino = self.ns.get(r)
                if ino is None:
                    continue
                if ino.kind == "d":
                    if r is not None:
                        self.dir_synced[r] = self.seq
                else:
                    ino.dsize, ino.dirty, ino.overwritten = ino.size, False, False
            elif n == "syncfs":
                self.all_synced = self.seq
                for ino in set(self.ns.values()):
                    ino.dsize, ino.dirty, ino.overwritten = ino.size, False, False
                for s in self.sides:
                    if s.inode.kind != "d":
                        s.inode.dsize = s.inode.size
                        s.inode.dirty = False
            elif n in ("mkdir", "mkdirat"):
                path = self.at_path(c, c.args[0], c.args[1]) if n == "mkdirat" else self.rel(arg_str(c, c.args[0]))
                if path is None:
                    continue
                ino = self.new_inode("d", durable=True)
                self.ns[path] = ino
                self.add_side(path, "add", ino, None, c)
            elif n in ("symlink", "symlinkat"):
                path = self.at_path(c, c.args[1], c.args[2]) if n == "symlinkat" else self.rel(arg_str(c, c.args[1]))
                if path is None:
                    continue
                ino = self.new_inode("l", durable=True)
                self.ns[path] = ino
                self.add_side(path, "add", ino, None, c)
            elif n in ("unlink", "unlinkat", "rmdir"):
                if n == "unlinkat":
                    path = self.at_path(c, c.args[0], c.args[1])
                else:
                    path = self.rel(arg_str(c, c.args[0]))
                if path is None or path not in self.ns:
                    continue
                ino = self.ns.pop(path)
                self.add_side(path, "remove", ino, None, c)
            elif n in ("rename", "renameat", "renameat2", "link", "linkat"):
                if n in ("rename", "link"):
                    src, dst = self.rel(arg_str(c, c.args[0])), self.rel(arg_str(c, c.args[1]))
                else:
                    src = self.at_path(c, c.args[0], c.args[1])
                    dst = self.at_path(c, c.args[2], c.args[3])
                if n == "renameat2" and len(c.args) > 4 and "RENAME_EXCHANGE" in c.args[4]:
                    self.notes.add("RENAME_EXCHANGE is not modelled")
                if src is None and dst is None:
                    continue
                ino = self.ns.get(src) if src is not None else None
                if ino is None:
                    ino = self.new_inode("f", durable=True)
                    self.notes.add("a file came into the store from outside it: %s" % c.raw)
                is_rename = n.startswith("rename")
                if is_rename and src is not None:
                    self.ns.pop(src, None)
                    self.add_side(src, "remove", ino, None, c)
                    if ino.kind == "d":
                        self.notes.add("a directory was renamed: its entries are not followed")
                if dst is not None:
                    old = self.ns.get(dst)
                    self.ns[dst] = ino
                    self.add_side(dst, "add", ino, old, c)
        return False

    def durable(self, side):
        return max(self.dir_synced.get(side.dir, -1), self.all_synced) > side.seq


# ---- building power-loss states ----

def names_of(ns, ino):
    return [p for p, i in ns.items() if i is ino]


def apply_data_loss(model, scratch, torn=False):
    """Truncates every file whose data is not durable to its durable size
    (torn: keeps half of the unsynced tail).  Returns the changes made."""
    changes = []
    for p, ino in sorted(model.ns.items()):
        if ino.kind != "f" or not ino.dirty:
            continue
        fp = os.path.join(scratch, p)
        if not os.path.isfile(fp) or os.path.islink(fp):
            continue
        size = os.path.getsize(fp)
        keep = min(ino.dsize, size)
        if torn:
            keep = keep + (size - keep) // 2
        if keep < size:
            st = os.stat(fp)
            os.chmod(fp, st.st_mode | stat.S_IWUSR)
            with open(fp, "r+b") as f:
                f.truncate(keep)
            os.chmod(fp, stat.S_IMODE(st.st_mode))
            os.utime(fp, ns=(st.st_atime_ns, st.st_mtime_ns))
            changes.append("%s: %d of %d bytes" % (p, keep, size))
    return changes


def materialize(model, ns, scratch, s0, path, ino, limbo):
    fp = os.path.join(scratch, path)
    parent = os.path.dirname(fp)
    if not os.path.isdir(parent):
        return "skip %s (its directory is gone)" % path
    if os.path.lexists(fp):
        remove_path(fp)
    if ino.kind == "d":
        os.mkdir(fp)
        ns[path] = ino
        return "dir %s" % path
    src = None
    for q in names_of(ns, ino):
        if os.path.lexists(os.path.join(scratch, q)):
            src = os.path.join(scratch, q)
            break
    how = "from %s" % (os.path.relpath(src, scratch) if src else "")
    if src is None and ino.id in limbo:
        src = limbo[ino.id]
        how = "with the content of its undone name"
    if src is None and ino.s0 is not None and os.path.lexists(os.path.join(s0, ino.s0)):
        src = os.path.join(s0, ino.s0)
        how = "from S_0"
    if src is None:
        # A file made and removed within the run: its content was never
        # named anywhere we can copy from.  Its data was durable only if
        # synced; an empty file stands for it.
        open(fp, "wb").close()
        how = "empty (content not kept)"
        if ino.dsize:
            model.notes.add("made and removed within the run, brought back empty (its content is not traced): %s" % path)
    else:
        shutil.copy2(src, fp, follow_symlinks=False)
        if ino.kind == "f" and ino.dirty and os.path.getsize(fp) > ino.dsize:
            os.chmod(fp, 0o644)
            with open(fp, "r+b") as f:
                f.truncate(ino.dsize)
            shutil.copystat(src, fp)
    ns[path] = ino
    return "restore %s %s" % (path, how)


def remove_path(fp):
    if os.path.isdir(fp) and not os.path.islink(fp):
        rm_tree(fp)
    else:
        os.unlink(fp)


def undo_dir_ops(model, scratch, s0, only=None):
    """Undoes, newest first, every directory entry change whose directory
    was not fsynced after it (only: in that directory alone).  Returns the
    changes made."""
    ns = dict(model.ns)
    changes = []
    # A name undone may be the only one of its file, which an older undone
    # change brings back under another name (a rename undone: the new name
    # goes first, the old one comes back): keep the content aside.
    limbo_dir = scratch + ".limbo"
    if os.path.lexists(limbo_dir):
        rm_tree(limbo_dir)
    os.mkdir(limbo_dir)
    limbo = {}
    for s in reversed(model.sides):
        if model.durable(s) or (only is not None and s.dir != only):
            continue
        fp = os.path.join(scratch, s.path)
        if s.kind == "add":
            if ns.get(s.path) is s.inode:
                if os.path.lexists(fp):
                    inside = [(s.path, s.inode)] if s.inode.kind != "d" else \
                        [(q, i) for q, i in ns.items() if q.startswith(s.path + "/") and i.kind != "d"]
                    for q, i in inside:
                        qp = os.path.join(scratch, q)
                        if i.id not in limbo and os.path.isfile(qp) and not os.path.islink(qp):
                            keep = os.path.join(limbo_dir, str(i.id))
                            os.rename(qp, keep)
                            limbo[i.id] = keep
                    if os.path.lexists(fp):
                        remove_path(fp)
                del ns[s.path]
                if s.inode.kind == "d":
                    for q in [q for q in ns if q.startswith(s.path + "/")]:
                        del ns[q]
                changes.append("undo %s: remove %s" % (s.op.name, s.path))
            if s.old is not None:
                changes.append("undo %s: %s" % (s.op.name, materialize(model, ns, scratch, s0, s.path, s.old, limbo)))
        else:
            if s.path not in ns:
                changes.append("undo %s: %s" % (s.op.name, materialize(model, ns, scratch, s0, s.path, s.inode, limbo)))
    rm_tree(limbo_dir)
    return changes


# ---- scenarios ----

def make_tree(d, seed, nfiles=200, big=(3 * 1024 * 1024 + 17, 1536 * 1024, 1100 * 1024)):
    rnd = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"snap", b"store", b"pack", b"\n"]
    os.makedirs(d)
    for i in range(nfiles):
        sub = os.path.join(d, "dir%d" % (i % 7), "sub%d" % (i % 3))
        os.makedirs(sub, exist_ok=True)
        n = rnd.randrange(0, 20000)
        if i % 2:
            data = rnd.randbytes(n)
        else:
            data = b" ".join(rnd.choice(words) for _ in range(n // 5))
        with open(os.path.join(sub, "f%03d" % i), "wb") as f:
            f.write(data)
    for k, n in enumerate(big):
        with open(os.path.join(d, "big%d.bin" % k), "wb") as f:
            f.write(rnd.randbytes(n))


def change_tree(d, seed):
    rnd = random.Random(seed)
    files = sorted(os.path.join(r, n) for r, _, fs in os.walk(d) for n in fs)
    for p in files[:12]:
        with open(p, "ab") as f:
            f.write(rnd.randbytes(100))
    for p in files[12:15]:
        os.unlink(p)
    for i in range(5):
        with open(os.path.join(d, "new%d" % i), "wb") as f:
            f.write(rnd.randbytes(3000 * (i + 1)))
    big = os.path.join(d, "big0.bin")
    with open(big, "r+b") as f:
        f.seek(1024 * 1024)
        f.write(rnd.randbytes(4096))


class Scenario:
    def __init__(self, name, work):
        self.name = name
        self.work = os.path.join(work, name)
        os.makedirs(self.work)
        self.store = os.path.join(self.work, "store")
        self.s0 = os.path.join(self.work, "s0")
        self.env = dict(os.environ)
        for k in ("SNAP_FAULT", "SNAP_SESSION"):
            self.env.pop(k, None)
        self.env.update(SNAP_DIR=self.store, SNAP_HOST="powerloss", TZ="UTC",
                        LC_ALL="C", PATH=BIN + ":" + os.environ.get("PATH", ""))
        self.snapshots = {}   # snapshot id -> source directory it was taken from
        self.command = None
        self.new_source = None
        self.extra_wrappers = {}

    def snap(self, *args, env=None):
        return run(list(args), env=env or self.env, cwd=self.work).stdout.decode().strip()

    def snapshot(self, src, t, ref="main"):
        env = dict(self.env, SNAP_TIME="%d +0000" % t)
        sid = self.snap("snap-snapshot", "-r", ref, "-m", "t%d" % t, src, env=env)
        frozen = os.path.join(self.work, "src-%s" % sid[:12])
        copy_tree(src, frozen)
        self.snapshots[sid] = frozen
        return sid

    def age(self):
        past = int(time.time()) - 3600
        for root, _, files in os.walk(os.path.join(self.store, "objects")):
            for n in files:
                os.utime(os.path.join(root, n), (past, past), follow_symlinks=False)

    def setup(self):
        self.snap("snap-init", "-q", self.store)
        src = os.path.join(self.work, "src")
        make_tree(src, 1)
        t = SNAP_TIME
        if self.name == "snapshot-first":
            self.command = ["snap-snapshot", "-m", "new", src]
            self.new_source = src
        elif self.name == "snapshot-second":
            self.snapshot(src, t)
            change_tree(src, 2)
            self.command = ["snap-snapshot", "-m", "new", src]
            self.new_source = src
        elif self.name in ("gc", "gc-deleted-ref"):
            self.snapshot(src, t)
            change_tree(src, 2)
            self.snapshot(src, t + 100)
            if self.name == "gc-deleted-ref":
                other = os.path.join(self.work, "other")
                make_tree(other, 3, nfiles=40, big=(1200 * 1024,))
                gone = self.snapshot(other, t + 200, ref="old")
                self.snap("snap-update-ref", "-d", "refs/snapshots/old")
                del self.snapshots[gone]
            self.age()
            self.command = ["snap-gc", "--prune=now"]
        elif self.name == "selftest-unsynced-ref":
            # Not snap: a writer that renames a ref into place before its
            # data is synced, to show that the check finds such a defect.
            a = self.snapshot(src, t)
            change_tree(src, 2)
            b = self.snapshot(src, t + 100, ref="other")
            ref = os.path.join(self.store, "refs", "snapshots", "main")
            code = ("import os,sys\n"
                    "ref=sys.argv[1]; d=os.path.dirname(ref)\n"
                    "f=open(ref+'.new','w'); f.write(sys.argv[2]+'\\n'); f.close()\n"
                    "os.rename(ref+'.new', ref)\n"
                    "fd=os.open(d, os.O_RDONLY); os.fsync(fd); os.close(fd)\n")
            self.extra_wrappers["unsynced-ref-writer"] = sys.executable
            self.command = ["unsynced-ref-writer", "-c", code, ref, b]
        else:
            raise HarnessError("unknown scenario '%s'" % self.name)
        self.env["SNAP_TIME"] = "%d +0000" % (t + 1000)
        copy_tree(self.store, self.s0)
        self.old_refs = read_refs(self.s0)


def read_refs(store):
    refs = {}
    top = os.path.join(store, "refs")
    for root, _, files in os.walk(top):
        for n in files:
            # Locks, and a ref's hidden ".NAME.new" on its way in, are
            # not refs (no ref name starts with '.': docs/FORMAT.md).
            if n.endswith(".lock") or n.startswith("."):
                continue
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                refs[os.path.relpath(p, store)] = f.read().decode(errors="replace")
    return refs


WRAPPER = r"""#!/bin/sh
# Runs one snap binary under its own strace; the run's Nth binary is
# stopped at the given sync call, and then the whole run is killed.
n=$(cat "$PL_DIR/count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$PL_DIR/count"
inject=
if [ "$n" = "${PL_TARGET_INV:-}" ]; then
	inject="-e inject=$PL_TARGET_CALL:error=EIO:signal=SIGKILL:when=$PL_TARGET_NTH"
fi
strace -f -qq -y -s 0 -o "$PL_DIR/trace.$n" -e trace=$PL_TRACED $inject @REAL@ "$@"
rc=$?
if [ -n "$inject" ] && grep -q 'killed by SIGKILL' "$PL_DIR/trace.$n"; then
	: > "$PL_DIR/killed"
	kill -KILL 0
fi
exit $rc
"""


def write_wrapper(path, real):
    with open(path, "w") as f:
        f.write(WRAPPER.replace("@REAL@", "'%s'" % real))
    os.chmod(path, 0o755)


def make_wrappers(wdir, extra=None):
    os.makedirs(wdir)
    for n, real in (extra or {}).items():
        write_wrapper(os.path.join(wdir, n), real)
    for n in sorted(os.listdir(BIN)):
        p = os.path.join(BIN, n)
        with open(p, "rb") as f:
            if f.read(4) != b"\x7fELF":
                # Porcelain scripts: their binaries are wrapped instead.
                os.symlink(p, os.path.join(wdir, n))
                continue
        write_wrapper(os.path.join(wdir, n), p)


class Runner:
    def __init__(self, sc):
        self.sc = sc
        self.wdir = os.path.join(sc.work, "wrap")
        make_wrappers(self.wdir, sc.extra_wrappers)
        # Porcelain scripts found through the wrapper directory call the
        # wrappers, which call the real binaries.
        self.env = dict(sc.env, PATH=self.wdir + ":" + sc.env["PATH"],
                        PL_BIN=BIN, PL_TRACED=TRACED)

    def once(self, target=None):
        """Runs the command on a fresh copy of S_0; returns the list of
        per-process traces (in run order), the exit code and whether the
        run was stopped."""
        sc = self.sc
        copy_tree(sc.s0, sc.store)
        d = tempfile.mkdtemp(dir=sc.work, prefix="run-")
        env = dict(self.env, PL_DIR=d)
        if target:
            env.update(PL_TARGET_INV=str(target[0]), PL_TARGET_CALL=target[1],
                       PL_TARGET_NTH=str(target[2]))
        cmd = [os.path.join(self.wdir, sc.command[0])] + sc.command[1:]
        p = subprocess.Popen(cmd, env=env, cwd=sc.work, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        out, err = p.communicate(timeout=600)
        n = int(open(os.path.join(d, "count")).read()) if os.path.exists(os.path.join(d, "count")) else 0
        traces = []
        for i in range(1, n + 1):
            tp = os.path.join(d, "trace.%d" % i)
            if os.path.exists(tp):
                traces.append(parse_trace(tp))
            else:
                traces.append(([], False))
        stopped = os.path.exists(os.path.join(d, "killed"))
        if not VERBOSE:
            rm_tree(d)
        return traces, p.returncode, stopped, out.decode(errors="replace"), err.decode(errors="replace")


def sync_list(traces):
    """Every sync call of a run in order: (invocation, syscall, its number
    among that thread's calls of that syscall, the call)."""
    res = []
    for inv, (calls, _) in enumerate(traces, 1):
        per = {}
        for c in calls:
            if c.name in SYNC_CALLS:
                key = (c.tid, c.name)
                per[key] = per.get(key, 0) + 1
                res.append((inv, c.name, per[key], c))
    return res


def describe(c):
    """A sync call as "fsync(objects/pack)", its path below the store."""
    fd, p = arg_fd(c, c.args[0]) if c.args else (None, None)
    if p:
        p = re.sub(r"^.*?/store(/|$)", lambda m: "" if m.group(1) else ".", p)
    return "%s(%s)" % (c.name, p or "?")


class Checker:
    def __init__(self, sc, new_refs):
        self.sc = sc
        self.new_refs = new_refs
        self.env = dict(sc.env)
        self.env.pop("SNAP_TIME", None)

    def check(self, scratch, must_be_new=False):
        """Returns a list of problems of the store at scratch (empty: good)."""
        env = dict(self.env, SNAP_DIR=scratch)
        problems = []
        p = run(["snap-fsck", "--no-dangling"], env=env, cwd=self.sc.work, check=False)
        if p.returncode != 0:
            problems.append("snap-fsck exit %d: %s" % (
                p.returncode, (p.stdout + p.stderr).decode(errors="replace").strip().replace("\n", "; ")[:600]))
        refs = read_refs(scratch)
        names = set(refs) | set(self.sc.old_refs) | set(self.new_refs)
        restore = dict(self.sc.snapshots)
        for r in sorted(names):
            v, old, new = refs.get(r), self.sc.old_refs.get(r), self.new_refs.get(r)
            if v not in (old, new):
                problems.append("ref %s holds %r, neither old %r nor new %r" % (r, v, old, new))
            elif must_be_new and v != new:
                problems.append("ref %s lost its new value after the command succeeded" % r)
            if v is not None and v == new and v != old and self.sc.new_source:
                restore[v.strip()] = self.sc.new_source
        for sid, src in sorted(restore.items()):
            out = os.path.join(self.sc.work, "restored")
            if os.path.lexists(out):
                rm_tree(out)
            p = run(["snap-restore", sid, out], env=env, cwd=self.sc.work, check=False)
            if p.returncode != 0:
                problems.append("snap-restore %s exit %d: %s" % (sid[:12], p.returncode,
                                                                 p.stderr.decode(errors="replace").strip()[:300]))
                continue
            p = run(["diff", "-r", "--no-dereference", src, out], check=False)
            if p.returncode != 0:
                problems.append("snapshot %s restores different from its tree: %s" % (
                    sid[:12], p.stdout.decode(errors="replace").strip()[:300]))
            rm_tree(out)
        return problems


def choose(n, every):
    if every <= 1 or n <= 2:
        return list(range(1, n + 1))
    ks = set(range(1, n + 1, every))
    ks.add(1)
    ks.add(n)
    return sorted(ks)


def run_scenario(name, work, every, keep_bad, per_dir):
    sc = Scenario(name, work)
    sc.setup()
    runner = Runner(sc)
    traces, rc, stopped, out, err = runner.once()
    if rc != 0:
        raise HarnessError("%s: the recorded run failed (exit %d): %s" % (name, rc, err.strip()))
    syncs = sync_list(traces)
    new_refs = read_refs(sc.store)
    checker = Checker(sc, new_refs)
    final = os.path.join(sc.work, "final")
    copy_tree(sc.store, final)
    probs = checker.check(final, must_be_new=True)
    if probs:
        raise HarnessError("%s: the store after a clean run is bad: %s" % (name, "; ".join(probs)))
    n = len(syncs)
    log("%s: %d sync calls:" % (name, n))
    for i, (inv, call, nth, c) in enumerate(syncs, 1):
        log("  %3d  [%d] %s #%d  %s" % (i, inv, call, nth, describe(c)))
    bad, states, tried, notes = [], 0, 0, set()
    ks = choose(n, every) + [n + 1]
    for k in ks:
        if k <= n:
            inv, call, nth, c = syncs[k - 1]
            # strace counts when= per thread: where two threads of one
            # process sync, a run may stop at the other one's call.  That
            # run is not used; the boundary is tried again.
            for attempt in range(4):
                ktraces, rc, stopped, out, err = runner.once((inv, call, nth))
                got = sync_list(ktraces)
                hit = [i for i, s in enumerate(got, 1) if s[3].injected]
                if stopped and hit == [k] and got[k - 1][3].name == c.name:
                    break
            else:
                raise HarnessError("%s: boundary %d (%s): the runs stopped at sync %s, not %d"
                                   % (name, k, describe(c), hit, k))
            where = "boundary %d/%d: %s (process %d)" % (k, n, describe(c), inv)
        else:
            ktraces = traces
            copy_tree(final, sc.store)
            where = "after exit"
        tried += 1
        model = Model(sc.s0, sc.work)
        model.store = os.path.realpath(sc.store)
        for calls, _ in ktraces:
            if model.apply_process(calls):
                break
        sk = os.path.join(sc.work, "sk")
        copy_tree(sc.store, sk)
        variants = []
        variants.append(("crash", lambda d: []))
        variants.append(("data", lambda d: apply_data_loss(model, d)))
        variants.append(("torn", lambda d: apply_data_loss(model, d, torn=True)))
        variants.append(("dirs", lambda d: apply_data_loss(model, d) + undo_dir_ops(model, d, sc.s0)))
        if per_dir:
            for dname in sorted({x.dir for x in model.sides if not model.durable(x)}):
                variants.append(("dirs:" + dname, lambda d, dn=dname:
                                 apply_data_loss(model, d) + undo_dir_ops(model, d, sc.s0, only=dn)))
        seen = set()
        for vname, fn in variants:
            scratch = os.path.join(sc.work, "state")
            copy_tree(sk, scratch)
            changes = fn(scratch)
            key = tuple(changes)
            if vname != "crash" and (not changes or key in seen):
                continue
            seen.add(key)
            states += 1
            probs = checker.check(scratch, must_be_new=(k == n + 1))
            if probs:
                label = "%s, state %s" % (where, vname)
                bad.append((label, changes, probs))
                if keep_bad:
                    dst = os.path.join(keep_bad, "%s-%d-%s" % (name, k, vname))
                    copy_tree(scratch, dst)
            log("  %s %s: %d changes, %s" % (where, vname, len(changes), "bad" if probs else "ok"))
            for ch in changes:
                log("      %s" % ch)
        notes |= model.notes
    print("power-loss: %s %d boundaries, %d states, %d bad" % (name, tried, states, len(bad)))
    for label, changes, probs in bad:
        print("  bad: %s" % label)
        for ch in changes[:12]:
            print("    change: %s" % ch)
        if len(changes) > 12:
            print("    change: ... %d more" % (len(changes) - 12))
        for pr in probs:
            print("    problem: %s" % pr)
    for nt in sorted(notes):
        print("  note: %s" % nt)
    sys.stdout.flush()
    return len(bad)


def main(argv):
    global VERBOSE
    every = int(os.environ.get("SNAP_POWERLOSS_EVERY", "1"))
    if os.environ.get("SNAP_POWERLOSS_ALL") == "1":
        every = 1
    keep = None
    per_dir = os.environ.get("SNAP_POWERLOSS_ALL") == "1"
    names = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--all":
            every = 1
        elif a == "--every":
            every = int(args.pop(0))
        elif a == "--per-dir":
            per_dir = True
        elif a == "--keep":
            keep = args.pop(0)
        elif a in ("-v", "--verbose"):
            VERBOSE = True
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        elif a.startswith("-"):
            print("powerloss: unknown option '%s'" % a, file=sys.stderr)
            return 2
        else:
            names.append(a)
    if os.environ.get("SNAP_POWERLOSS_ALL") == "1":
        every = 1
    if not names:
        names = ["snapshot-first", "snapshot-second", "gc", "gc-deleted-ref"]
    if not shutil.which("strace"):
        print("powerloss: strace is needed (apt-get install strace)", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="snap-powerloss.")
    total_bad = 0
    try:
        for n in names:
            total_bad += run_scenario(n, work, every, keep, per_dir)
    except HarnessError as e:
        print("powerloss: %s" % e, file=sys.stderr)
        return 2
    finally:
        if not VERBOSE:
            rm_tree(work)
        else:
            print("powerloss: work left in %s" % work, file=sys.stderr)
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
