#!/usr/bin/python3
"""Writes the seed corpus of fuzz/fuzz_usbip.c (fuzz/corpus/usbip): what a
Linux client sends a USB/IP server (the usbip tool's operation requests,
then vhci-hcd's URBs), each file behind the harness's two shape bytes
(byte 0: read size, end-of-stream and writer flags; byte 1: writer budget).
Seeds that talk to the card read 63 bytes at a time: the harness lets the
device answer after each read, so commands run one by one.

    fuzz/gen_usbip_corpus.py fuzz/corpus/usbip"""
import os
import struct
import sys

VERSION = 0x0111
OP_REQ_DEVLIST = 0x8005
OP_REQ_IMPORT = 0x8003
CMD_SUBMIT, CMD_UNLINK = 1, 2
OUT, IN = 0, 1
NO_ISO = -1
DEVID = 1 << 16 | 1  # bus 1, device 1


def op(code, busid=None):
    b = struct.pack(">HHI", VERSION, code, 0)
    if busid is not None:
        b += busid.encode().ljust(32, b"\0")
    return b


class Client:
    """A URB stream with increasing seqnums, like vhci-hcd's."""

    def __init__(self, npackets=NO_ISO):
        self.seq = 0
        self.npackets = npackets
        self.b = b""

    def submit(self, direction, ep, length, setup=b"\0" * 8, data=b""):
        self.seq += 1
        flags = 0x200 if direction == IN else 0
        self.b += struct.pack(">IIIIIIiiii8s", CMD_SUBMIT, self.seq, DEVID,
                              direction, ep, flags, length, 0,
                              self.npackets, 0, setup)
        if direction == OUT:
            self.b += data
        return self.seq

    def unlink(self, target):
        self.seq += 1
        self.b += struct.pack(">IIIII", CMD_UNLINK, self.seq, DEVID, OUT, 0)
        self.b += struct.pack(">I24x", target)
        return self.seq

    def control(self, rt, req, value, index, length, data=b""):
        setup = struct.pack("<BBHHH", rt, req, value, index, length)
        return self.submit(IN if rt & 0x80 else OUT, 0, length, setup, data)

    def enumerate(self):
        """What Linux's hub driver, usbhid and libccid ask first."""
        self.control(0x80, 6, 0x0100, 0, 8)
        self.control(0x80, 6, 0x0100, 0, 18)
        self.control(0x80, 6, 0x0200, 0, 9)
        self.control(0x80, 6, 0x0200, 0, 255)
        self.control(0x80, 6, 0x0F00, 0, 5)
        self.control(0x80, 6, 0x0F00, 0, 12)
        self.control(0x80, 6, 0x0300, 0, 255)
        self.control(0x80, 6, 0x0302, 0x0409, 255)
        self.control(0x80, 6, 0x0301, 0x0409, 255)
        self.control(0x80, 6, 0x0303, 0x0409, 255)
        self.control(0x00, 9, 1, 0, 0)
        self.control(0x21, 0x0A, 0, 0, 0)
        self.control(0x81, 6, 0x2200, 0, 34)
        self.control(0xA1, 0x02, 0, 1, 64)
        self.control(0xA1, 0x03, 0, 1, 64)

    def hid(self, cid, cmd, payload):
        """A CTAPHID message as 64-byte interrupt OUT reports."""
        first = struct.pack(">IBH", cid, cmd, len(payload)) + payload[:57]
        self.submit(OUT, 1, 64, data=first.ljust(64, b"\0"))
        rest, seq = payload[57:], 0
        while rest:
            cont = struct.pack(">IB", cid, seq) + rest[:59]
            self.submit(OUT, 1, 64, data=cont.ljust(64, b"\0"))
            rest, seq = rest[59:], seq + 1

    def hid_in(self, count=1):
        return [self.submit(IN, 1, 64) for _ in range(count)]

    def ccid(self, msg_type, payload=b"", seq=0, level=0):
        msg = struct.pack("<BIBBBH", msg_type, len(payload), 0, seq, 0,
                          level) + payload
        self.submit(OUT, 2, len(msg), data=msg)

    def ccid_in(self, length=65546):
        return self.submit(IN, 2, length)


SELECT_OATH = bytes.fromhex("00a4040007a0000005272101")
SELECT_FIDO = bytes.fromhex("00a4040008a0000006472f0001")
NONCE = bytes(range(1, 9))
BROADCAST = 0xFFFFFFFF
CID = 1  # the first channel INIT hands out in a fresh process


def imported(npackets=NO_ISO):
    c = Client(npackets)
    c.b = op(OP_REQ_IMPORT, "1-1")
    return c


def seeds():
    s = {}
    s["devlist"] = b"\0\0" + op(OP_REQ_DEVLIST)
    s["devlist-bytewise"] = b"\x01\x80" + op(OP_REQ_DEVLIST)
    s["import-unknown"] = b"\0\0" + op(OP_REQ_IMPORT, "1-9")
    s["import-old-version"] = b"\0\0" + struct.pack(">HHI", 0x0106,
                                                    OP_REQ_IMPORT, 0) + \
        b"1-1".ljust(32, b"\0")

    c = imported()
    c.enumerate()
    c.hid_in()
    c.hid(BROADCAST, 0x86, NONCE)
    c.hid_in()
    c.hid(CID, 0x90, b"\x04")
    c.hid_in(6)
    c.ccid(0x62)
    c.ccid_in()
    c.ccid(0x6F, SELECT_OATH, 1)
    c.ccid_in()
    c.ccid(0x6F, SELECT_FIDO, 2)
    c.ccid_in(64)
    c.ccid_in(64)
    s["enumerate-ctaphid-ccid"] = b"\x3f\0" + c.b

    c = imported(npackets=0)
    c.enumerate()
    c.hid(BROADCAST, 0x86, NONCE)
    c.hid_in(2)
    s["enumerate-old-vhci"] = b"\x87\x02" + c.b

    c = imported()
    c.control(0x00, 9, 1, 0, 0)
    pending = c.hid_in()[0]
    c.unlink(pending)
    c.hid(BROADCAST, 0x86, NONCE)
    c.hid_in()
    answered = c.control(0x80, 6, 0x0100, 0, 18)
    c.unlink(answered)
    c.unlink(12345)
    first, second = c.hid_in(2)
    c.unlink(first)
    c.hid(BROADCAST, 0x86, NONCE)
    c.ccid_in()
    c.unlink(c.seq)
    s["unlink"] = b"\x3f\0" + c.b

    c = imported()
    c.control(0x00, 9, 1, 0, 0)
    c.hid(BROADCAST, 0x86, NONCE)
    c.hid_in()
    c.control(0x23, 3, 4, 1, 0)  # port reset
    c.hid_in()
    c.control(0x80, 8, 0, 0, 1)
    c.control(0x00, 9, 1, 0, 0)
    c.hid(BROADCAST, 0x86, NONCE)
    c.hid_in()
    s["port-reset"] = b"\x3f\0" + c.b

    c = imported()
    c.control(0x00, 9, 1, 0, 0)
    c.ccid(0x62)
    c.ccid_in()
    c.ccid(0x6F, bytes.fromhex("00a404000003e8") + b"\xa5" * 1000, 1)
    c.ccid_in(64)
    c.ccid_in(64)
    c.ccid(0x6F, SELECT_OATH, 2)
    c.ccid_in(0x7FFFFFFF)
    c.ccid(0x6F, bytes.fromhex("00a1000000"), 3)  # LIST
    c.ccid_in(10)
    c.ccid_in(10)
    s["ccid-long"] = b"\x3f\0" + c.b

    c = imported()
    for _ in range(200):
        c.control(0x80, 6, 0x0200, 0, 255)
    s["backpressure"] = b"\x80\x00" + c.b

    c = imported()
    c.control(0x00, 9, 1, 0, 0)
    c.hid_in(3)
    c.ccid_in()
    c.hid(BROADCAST, 0x86, NONCE)
    s["peer-gone"] = b"\x40\0" + c.b

    c = imported()
    c.control(0x00, 9, 1, 0, 0)
    c.hid_in(70)  # beyond what a connection holds
    s["too-many-in"] = b"\0\0" + c.b

    c = imported()
    c.control(0x80, 6, 0x0600, 0, 10)  # stalls
    c.control(0x80, 6, 0x0100, 0, 18, b"")
    c.submit(IN, 5, 64)
    c.submit(OUT, 0, 18, struct.pack("<BBHHH", 0x80, 6, 0x100, 0, 18),
             b"\0" * 18)
    c.submit(OUT, 2, 16, data=b"\0" * 16)  # not configured: stall
    s["stalls"] = b"\0\0" + c.b
    return s


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
