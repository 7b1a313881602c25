#!/usr/bin/python3
"""A pinentry for the gpg_card test: answers GETPIN from a file.

gpg's own requests use loopback pinentry; this one serves what arrives
through gpg-agent's ssh socket (ssh-keygen -Y sign on the card's
authentication key) and the touch prompts scdaemon shows. Every request
is appended to a log so the test can tell what was asked.

  gpg_card_pinentry.py PIN-FILE LOG-FILE   (started by gpg-agent)
"""

import os
import sys


def esc(s):
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def main():
    pin_file, log_file = sys.argv[1], sys.argv[2]
    log = open(log_file, "a")
    out = sys.stdout
    out.write("OK pinentry for vkey tests\n")
    out.flush()
    for line in sys.stdin:
        line = line.rstrip("\r\n")
        cmd, _, arg = line.partition(" ")
        cmd = cmd.upper()
        if cmd in ("SETDESC", "SETPROMPT", "GETPIN", "CONFIRM", "MESSAGE"):
            log.write("%d %s %s\n" % (os.getpid(), cmd, arg))
            log.flush()
        if cmd == "GETPIN":
            try:
                with open(pin_file) as f:
                    pin = f.read().strip()
            except OSError:
                out.write("ERR 83886179 Operation cancelled <Pinentry>\n")
                out.flush()
                continue
            out.write("D %s\nOK\n" % esc(pin))
        elif cmd == "GETINFO" and arg == "pid":
            out.write("D %d\nOK\n" % os.getpid())
        elif cmd == "GETINFO" and arg == "version":
            out.write("D 1.2.1\nOK\n")
        elif cmd == "BYE":
            out.write("OK closing connection\n")
            out.flush()
            break
        else:
            out.write("OK\n")
        out.flush()


if __name__ == "__main__":
    main()
