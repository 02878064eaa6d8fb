"""A push client for the transfer protocol tests, to send what snap-push
never would.

    import pushclient
    c = pushclient.Push(store, oid)   # snap-serve STORE, greeted, 'push'
                                      # asked for refs/snapshots/main = oid
    c.frame(b'pack 1\\n'); ...; c.flush()
    c.finish()                        # prints the server's answer, exits
                                      # with snap-serve's status
"""
import subprocess
import sys


class Push:
    def __init__(self, store, oid):
        self.p = subprocess.Popen(['snap-serve', store], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        while self.read() is not None:
            pass
        self.frame(b'push\n')
        self.frame(b'update ' + b'0' * 64 + b' ' + oid.encode() + b' refs/snapshots/main\n')
        self.flush()
        assert self.read() == b'ready\n' and self.read() is None

    def frame(self, b):
        self.p.stdin.write(b'%04x' % (len(b) + 4) + b)

    def flush(self):
        self.p.stdin.write(b'0000')
        self.p.stdin.flush()

    def read(self):
        n = int(self.p.stdout.read(4), 16)
        return self.p.stdout.read(n - 4) if n else None

    def finish(self):
        sys.stdout.write(self.read().decode())
        self.p.stdin.close()
        sys.exit(self.p.wait())
