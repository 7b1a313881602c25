#!/usr/bin/python3
"""The control socket's permission checks (run as root by
admin_pcsc.sh): the socket file is 0600; another uid cannot connect
through it; and when the file is opened up for the test, a peer whose
credentials (taken at connect) are neither the daemon's uid nor root is
refused by the daemon itself.

  ctl_peer.py SOCKET  -> one line per check: "ok ..." or "FAIL ..."
"""

import os
import socket
import stat
import sys

NOBODY = 65534


def ask(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b"status\n")
    out = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        out += b
    s.close()
    return out.decode(errors="replace")


def as_nobody(path):
    """Connect as uid 65534 in a child; its answer (or errno) on a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            msg = "answer:" + ask(path)
        except OSError as e:
            msg = "errno:%d" % e.errno
        os.write(w, msg.encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    os.waitpid(pid, 0)
    return data.decode(errors="replace")


def main():
    path = sys.argv[1]
    fails = 0

    def check(cond, msg):
        nonlocal fails
        print(("ok   " if cond else "FAIL ") + msg)
        fails += 0 if cond else 1

    mode = stat.S_IMODE(os.stat(path).st_mode)
    check(mode == 0o600, "socket file mode %o is 0600" % mode)
    check(ask(path).rstrip().endswith("ok"), "root is answered")
    got = as_nobody(path)
    check(got == "errno:13", "uid %d cannot connect to the 0600 file (%s)"
          % (NOBODY, got[:40]))
    # Open the way for the test only: the daemon's own check must refuse.
    parent = os.path.dirname(path)
    pmode = stat.S_IMODE(os.stat(parent).st_mode)
    os.chmod(parent, pmode | 0o011)
    os.chmod(path, 0o666)
    try:
        got = as_nobody(path)
    finally:
        os.chmod(path, 0o600)
        os.chmod(parent, pmode)
    check(got == "answer:permission denied\nerror\n",
          "uid %d refused by peer credentials (%r)" % (NOBODY, got[:60]))
    check("serial:" not in got, "nothing of the key reaches uid %d" % NOBODY)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
