#!/usr/bin/python3
"""Run a command on a pseudo-terminal and answer its prompts.

    pty_answer.py [--timeout S] [--answer REGEX TEXT]... -- COMMAND [ARG...]

libfido2's tools and ssh-keygen read PINs with readpassphrase(3) from
/dev/tty, which flushes typed-ahead input (TCSAFLUSH) before each prompt:
piping PINs in does not work, answering each prompt after it shows does.
Whenever the output not yet answered matches REGEX, TEXT and a newline are
typed. The command's output is copied to stdout; the exit status is the
command's (124 on timeout).
"""

import os
import pty
import re
import select
import signal
import sys
import time


def parse(argv):
    timeout, rules = 60.0, []
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] == "--timeout":
            timeout = float(argv[i + 1])
            i += 2
        elif argv[i] == "--answer":
            rules.append((re.compile(argv[i + 1]), argv[i + 2]))
            i += 3
        else:
            sys.exit(f"pty_answer: unknown option {argv[i]}")
    if i + 1 >= len(argv):
        sys.exit(__doc__)
    return timeout, rules, argv[i + 1:]


def run(timeout, rules, cmd):
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    deadline = time.monotonic() + timeout
    pending = ""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            print("\npty_answer: timed out", file=sys.stderr)
            return 124
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            data = b""
        if not data:
            break
        text = data.decode(errors="replace")
        sys.stdout.write(text)
        sys.stdout.flush()
        pending += text
        for regex, answer in rules:
            if regex.search(pending):
                os.write(fd, answer.encode() + b"\n")
                pending = ""
                break
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) & 0xFF


if __name__ == "__main__":
    sys.exit(run(*parse(sys.argv[1:])))
