#!/usr/bin/python3
# The vpcd transport against a scripted reader (no pcscd): controls, APDUs,
# malformed messages that must drop the connection, reconnects, prompt stop.
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

VKEY = os.environ["VKEY"]
SELECT_OATH = bytes.fromhex("00A4040007A0000005272101")


def recv_msg(c):
    hdr = b""
    while len(hdr) < 2:
        chunk = c.recv(2 - len(hdr))
        if not chunk:
            raise EOFError("vkey closed the connection")
        hdr += chunk
    n = hdr[0] << 8 | hdr[1]
    body = b""
    while len(body) < n:
        chunk = c.recv(n - len(body))
        if not chunk:
            raise EOFError("short message from vkey")
        body += chunk
    return body


def send_msg(c, payload):
    c.sendall(len(payload).to_bytes(2, "big") + payload)


def expect_closed(c, what):
    c.settimeout(5)
    if c.recv(16) != b"":
        sys.exit("FAIL: %s did not drop the connection" % what)
    c.close()


def main():
    tmp = tempfile.mkdtemp(prefix="vkey-vpcd.")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)
    port = srv.getsockname()[1]
    log_path = os.path.join(tmp, "vkey.log")
    with open(log_path, "w") as log:
        p = subprocess.Popen([VKEY, "serve", "--state", tmp + "/key.db",
                              "--vpcd", "127.0.0.1:%d" % port, "-v"],
                             stdout=log, stderr=log)
    try:
        run(srv, p)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        text = open(log_path).read()
        subprocess.run(["rm", "-rf", tmp])
    if re.search(r"runtime error|Sanitizer", text):
        sys.exit("FAIL: sanitizer report:\n" + text)
    for want in ("connected", "protocol error: message length 0",
                 "unknown control 0x09"):
        if want not in text:
            sys.exit("FAIL: log lacks %r:\n%s" % (want, text))
    print("vpcd protocol checks passed")


def run(srv, p):
    c, _ = srv.accept()
    send_msg(c, b"\x04")
    atr = recv_msg(c)
    if not (atr[:1] == b"\x3b" and 2 <= len(atr) <= 33):
        sys.exit("FAIL: ATR %s" % atr.hex())
    send_msg(c, b"\x01")            # power on: no reply
    send_msg(c, SELECT_OATH)
    r = recv_msg(c)
    if r[-2:] != b"\x90\x00":
        sys.exit("FAIL: SELECT OATH answered %s" % r.hex())
    send_msg(c, b"\x02")            # reset: no reply; the card still answers
    send_msg(c, SELECT_OATH)
    if recv_msg(c)[-2:] != b"\x90\x00":
        sys.exit("FAIL: SELECT after reset")
    c.sendall(b"\x00\x00")          # zero length: protocol error
    expect_closed(c, "a zero-length message")
    t = time.monotonic()
    c, _ = srv.accept()
    print("reconnected %.0f ms after a protocol error" % ((time.monotonic() - t) * 1e3))
    c.sendall(b"\x00\x05\x00\xa4")  # truncated, then the reader goes away
    c.close()
    c, _ = srv.accept()
    send_msg(c, b"\x09")            # unknown control: ignored, no reply
    send_msg(c, b"\x00")            # power off: no reply
    send_msg(c, b"\x04")
    if recv_msg(c) != atr:
        sys.exit("FAIL: ATR changed")
    t = time.monotonic()
    p.terminate()
    rc = p.wait(10)
    ms = (time.monotonic() - t) * 1e3
    if rc != 0 or ms > 2000:
        sys.exit("FAIL: vkey serve stopped with %d after %.0f ms" % (rc, ms))
    print("stopped in %.0f ms while connected" % ms)


main()
