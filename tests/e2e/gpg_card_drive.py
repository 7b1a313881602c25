#!/usr/bin/python3
"""Drive one gpg command through its --command-fd/--status-fd protocol.

gpg asks every question as a status line "GET_LINE|GET_BOOL|GET_HIDDEN
<keyword>"; this answers each by keyword from the answers on the command
line, so a prompt that comes in another order or not at all shows up as
a failure instead of a wrong answer.

  gpg_card_drive.py [--timeout S] [--scd-log FILE] ANSWER... -- GPG-ARGS...

ANSWER is KEYWORD=VALUE (used once, in the order given among answers to
the same keyword) or KEYWORD*=VALUE (used whenever no once-answer for the
keyword is left, any number of times, possibly never). A keyword with no
answer left gets "quit"/"n"/"" and counts as an error, as does a
once-answer never asked for. Status lines, answers and gpg's output are
printed; the exit status is gpg's, or 3 when gpg succeeded but the
dialogue did not go as scripted.

Card PINs all arrive as GET_HIDDEN passphrase.enter (loopback pinentry
tells no more). With --scd-log (scdaemon's log-file, with debug output
on), the prompt scdaemon asked for names the PIN: the keyword becomes
pin.admin, pin.new-admin, pin.pin, pin.new-pin, pin.reset-code or
pin.new-reset-code; passphrase.enter answers whatever has none. gpg-agent
asks for a new PIN twice (the second time to confirm it, with no new
scdaemon prompt): the confirmation gets the same answer.
"""

import os
import re
import subprocess
import sys
import threading
import time

FALLBACK = {"GET_BOOL": "n", "GET_HIDDEN": ""}
QUIT_KEYWORDS = ("cardedit.prompt", "keyedit.prompt")


def parse(argv):
    timeout = 300.0
    scd_log = None
    while len(argv) >= 2 and argv[0] in ("--timeout", "--scd-log"):
        if argv[0] == "--timeout":
            timeout = float(argv[1])
        else:
            scd_log = argv[1]
        argv = argv[2:]
    if "--" not in argv:
        sys.exit("usage: gpg_card_drive.py [--timeout S] ANSWER... -- GPG-ARGS")
    cut = argv.index("--")
    once, sticky = [], {}
    for a in argv[:cut]:
        key, sep, value = a.partition("=")
        if not sep:
            sys.exit("bad answer %r (want KEYWORD=VALUE)" % a)
        if key.endswith("*"):
            sticky[key[:-1]] = value
        else:
            once.append([key, value])
    return timeout, scd_log, once, sticky, argv[cut + 1:]


class ScdLog:
    """What scdaemon last asked the agent for, from its log file."""

    ASK = re.compile(r"asking for PIN '([^']*)'")

    def __init__(self, path):
        self.path = path
        self.pos = os.path.getsize(path) if path and os.path.exists(path) else 0

    def role(self):
        if not self.path:
            return None
        prompt = None
        for _ in range(10):
            try:
                with open(self.path, "rb") as f:
                    f.seek(self.pos)
                    data = f.read()
            except OSError:
                return None
            self.pos += len(data)
            for m in self.ASK.finditer(data.decode(errors="replace")):
                prompt = m.group(1)
            if prompt is not None:
                break
            time.sleep(0.05)
        if prompt is None:
            return None
        if prompt.startswith("|A|"):
            return "admin"
        if prompt.startswith("|AN|"):
            return "new-admin"
        if prompt.startswith("|RN|"):
            return "new-reset-code"
        if prompt.startswith("|N|"):
            return "new-pin"
        if "Reset Code" in prompt:
            return "reset-code"
        return "pin"


def take(once, sticky, kw):
    for i, (key, value) in enumerate(once):
        if key == kw:
            del once[i]
            return value
    return sticky.get(kw)


def main():
    timeout, scd_log, once, sticky, gpg_args = parse(sys.argv[1:])
    scd = ScdLog(scd_log)
    rfd, wfd = os.pipe()
    cmd = ["gpg", "--no-tty", "--pinentry-mode", "loopback",
           "--command-fd", "0", "--status-fd", str(wfd)] + gpg_args
    t0 = time.monotonic()
    out = sys.stdout
    out.write("DRIVE: %s\n" % " ".join(cmd))
    out.flush()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, pass_fds=(wfd,),
                            stdout=sys.stdout, stderr=subprocess.STDOUT)
    os.close(wfd)
    errors = []
    timer = threading.Timer(timeout, lambda: (errors.append(
        "timeout after %gs" % timeout), proc.kill()))
    timer.daemon = True
    timer.start()
    unexpected = 0
    last_new = None  # (keyword, answer) of the last new-PIN prompt
    with os.fdopen(rfd, "r", errors="replace") as status:
        for line in status:
            line = line.rstrip("\n")
            out.write("[%6.2f] %s\n" % (time.monotonic() - t0, line))
            parts = line.split()
            if len(parts) < 3 or parts[0] != "[GNUPG:]" or \
                    parts[1] not in ("GET_LINE", "GET_BOOL", "GET_HIDDEN"):
                out.flush()
                continue
            kind, kw = parts[1], parts[2]
            answer = role = None
            if kind == "GET_HIDDEN" and kw == "passphrase.enter":
                role = scd.role()
                if role:
                    kw = "pin." + role
                    answer = take(once, sticky, kw)
                    last_new = (kw, answer) if role.startswith("new-") else None
                    if answer is None:
                        kw = "passphrase.enter"
                elif last_new and last_new[1] is not None:
                    kw, answer = last_new[0] + ".repeat", last_new[1]
                    last_new = None
            if answer is None:
                answer = take(once, sticky, kw)
            if answer is None:
                unexpected += 1
                errors.append("unexpected prompt %s %s%s" % (
                    kind, kw, " (scdaemon: %s)" % role if role else ""))
                answer = "quit" if kw in QUIT_KEYWORDS else FALLBACK.get(kind, "q")
                if unexpected > 6:
                    errors.append("too many unexpected prompts; killing gpg")
                    proc.kill()
                    break
            # Test PINs only: shown, to tell which PIN went where.
            out.write("DRIVE: %s -> %r\n" % (kw, answer))
            out.flush()
            try:
                proc.stdin.write((answer + "\n").encode())
                proc.stdin.flush()
            except BrokenPipeError:
                break
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    rc = proc.wait()
    timer.cancel()
    for key, value in once:
        errors.append("answer never asked for: %s=%s" % (key, value))
    for e in errors:
        out.write("DRIVE ERROR: %s\n" % e)
    out.write("DRIVE: gpg exit %d after %.1fs\n" % (rc, time.monotonic() - t0))
    out.flush()
    if rc == 0 and errors:
        rc = 3
    sys.exit(rc)


if __name__ == "__main__":
    main()
