#!/usr/bin/python3
"""An NFC Forum Type 4 Tag reader and writer (mapping 2.0) over PC/SC with
pyscard, doing exactly what a Type 4 reader does, for tests/ndef/ndef_pcsc.sh.

  ndef_reader.py read READER          the read procedure; prints JSON
  ndef_reader.py write READER URI     the write procedure with a URI record
  ndef_reader.py write-text READER LANG TEXT

The NDEF decoding here is written independently of vkey's own codec, so
the test compares two implementations. Exit 1 with a message on any
deviation from the procedure."""
import json
import sys

from smartcard.System import readers

AID = bytes.fromhex("D2760000850101")
CC_FID = 0xE103

# NFC Forum RTD-URI 1.0, the URI identifier codes.
URI_PREFIXES = [
    "", "http://www.", "https://www.", "http://", "https://", "tel:",
    "mailto:", "ftp://anonymous:anonymous@", "ftp://ftp.", "ftps://",
    "sftp://", "smb://", "nfs://", "ftp://", "dav://", "news:", "telnet://",
    "imap:", "rtsp://", "urn:", "pop:", "sip:", "sips:", "tftp:", "btspp://",
    "btl2cap://", "btgoep://", "tcpobex://", "irdaobex://", "file://",
    "urn:epc:id:", "urn:epc:tag:", "urn:epc:pat:", "urn:epc:raw:",
    "urn:epc:", "urn:nfc:",
]


def die(msg):
    sys.exit(f"ndef_reader: {msg}")


class Tag:
    def __init__(self, name):
        matches = [r for r in readers() if str(r) == name]
        if not matches:
            die(f"no reader {name!r}")
        self.conn = matches[0].createConnection()
        self.conn.connect()
        self.apdus = 0

    def tx(self, apdu):
        data, sw1, sw2 = self.conn.transmit(list(apdu))
        self.apdus += 1
        return bytes(data), (sw1 << 8) | sw2

    def expect(self, what, apdu, want_len=None):
        data, sw = self.tx(apdu)
        if sw != 0x9000:
            die(f"{what}: SW {sw:04X}")
        if want_len is not None and len(data) != want_len:
            die(f"{what}: {len(data)} bytes, expected {want_len}")
        return data

    def select_file(self, fid):
        self.expect(f"SELECT FILE {fid:04X}",
                    bytes([0x00, 0xA4, 0x00, 0x0C, 0x02]) + fid.to_bytes(2, "big"), 0)

    def read(self, off, n):
        return self.expect(f"READ BINARY {off}+{n}",
                           bytes([0x00, 0xB0, off >> 8, off & 0xFF, n & 0xFF]), n)

    def update(self, off, data):
        return self.tx(bytes([0x00, 0xD6, off >> 8, off & 0xFF, len(data)]) + data)

    def open_cc(self):
        """SELECT the application, the CC, read and check it (T4T §5.1)."""
        self.expect("SELECT NDEF application",
                    bytes([0x00, 0xA4, 0x04, 0x00, len(AID)]) + AID + b"\x00", 0)
        self.select_file(CC_FID)
        cc = self.read(0, 15)
        cclen = int.from_bytes(cc[0:2], "big")
        if cclen != 15 or cc[2] != 0x20:
            die(f"CC: length {cclen}, mapping version {cc[2]:02X}")
        mle, mlc = int.from_bytes(cc[3:5], "big"), int.from_bytes(cc[5:7], "big")
        if mle < 0x0F or mlc < 1 or cc[7] != 0x04 or cc[8] != 0x06:
            die(f"CC: bad MLe/MLc or file control TLV: {cc.hex()}")
        info = {
            "cc": cc.hex().upper(),
            "mle": mle,
            "mlc": mlc,
            "fid": int.from_bytes(cc[9:11], "big"),
            "max_size": int.from_bytes(cc[11:13], "big"),
            "read_access": cc[13],
            "write_access": cc[14],
        }
        if info["read_access"] != 0:
            die("CC: read access not granted")
        return info


def decode(msg):
    """Records of an NDEF message (no chunks: vkey never writes them)."""
    recs, off, first = [], 0, True
    while off < len(msg):
        hdr, tl = msg[off], msg[off + 1]
        off += 2
        if bool(hdr & 0x80) != first:
            die("MB flag out of place")
        first = False
        if hdr & 0x10:
            pl, off = msg[off], off + 1
        else:
            pl, off = int.from_bytes(msg[off:off + 4], "big"), off + 4
        il = 0
        if hdr & 0x08:
            il, off = msg[off], off + 1
        typ = msg[off:off + tl]
        off += tl + il
        payload = msg[off:off + pl]
        off += pl
        if len(payload) != pl:
            die("record runs past the message")
        rec = {"tnf": hdr & 7, "type": typ.decode("latin-1"),
               "payload": payload.hex().upper()}
        if hdr & 7 == 1 and typ == b"U":
            rec["uri"] = URI_PREFIXES[payload[0]] + payload[1:].decode("utf-8")
        if hdr & 7 == 1 and typ == b"T":
            n = payload[0] & 0x3F
            rec["lang"] = payload[1:1 + n].decode("ascii")
            body = payload[1 + n:]
            if not payload[0] & 0x80:
                rec["text"] = body.decode("utf-8")
            elif body[:2] in (b"\xfe\xff", b"\xff\xfe"):
                rec["text"] = body.decode("utf-16")
            else:
                rec["text"] = body.decode("utf-16-be")
        recs.append(rec)
        if hdr & 0x40:
            if off != len(msg):
                die("bytes after the record with ME")
            return recs
    die("no record with ME")


def read_tag(tag):
    """The Type 4 read procedure (T4T §6.4.1)."""
    info = tag.open_cc()
    tag.select_file(info["fid"])
    nlen = int.from_bytes(tag.read(0, 2), "big")
    if nlen > info["max_size"] - 2:
        die(f"NLEN {nlen} over the maximum {info['max_size'] - 2}")
    msg, reads = b"", 0
    while len(msg) < nlen:
        n = min(info["mle"], nlen - len(msg))
        msg += tag.read(2 + len(msg), n)
        reads += 1
    info.update(nlen=nlen, message=msg.hex().upper(), reads=reads,
                records=decode(msg) if nlen else [])
    return info


def write_tag(tag, msg):
    """The Type 4 write procedure (T4T §6.4.2): NLEN 0, message, NLEN.
    Returns the first status word that is not 9000, or 9000."""
    info = tag.open_cc()
    if len(msg) > info["max_size"] - 2:
        die("message too long for the tag")
    tag.select_file(info["fid"])
    steps = [(0, b"\x00\x00")]
    for off in range(0, len(msg), info["mlc"]):
        steps.append((2 + off, msg[off:off + info["mlc"]]))
    steps.append((0, len(msg).to_bytes(2, "big")))
    for off, data in steps:
        _, sw = tag.update(off, data)
        if sw != 0x9000:
            return sw, info
    return 0x9000, info


def record(typ, payload):
    short = len(payload) < 256
    hdr = 0xC1 | (0x10 if short else 0)
    plen = bytes([len(payload)]) if short else len(payload).to_bytes(4, "big")
    return bytes([hdr, len(typ)]) + plen + typ + payload


def uri_record(uri):
    code = max((i for i, p in enumerate(URI_PREFIXES) if uri.startswith(p)),
               key=lambda i: len(URI_PREFIXES[i]))
    return record(b"U", bytes([code]) + uri[len(URI_PREFIXES[code]):].encode())


def text_record(lang, text):
    return record(b"T", bytes([len(lang)]) + lang.encode() + text.encode())


def main():
    cmd, name = sys.argv[1], sys.argv[2]
    tag = Tag(name)
    if cmd == "read":
        out = read_tag(tag)
    elif cmd in ("write", "write-text"):
        msg = uri_record(sys.argv[3]) if cmd == "write" else \
            text_record(sys.argv[3], sys.argv[4])
        sw, info = write_tag(tag, msg)
        out = {"sw": f"{sw:04X}", "write_access": info["write_access"],
               "message": msg.hex().upper()}
    else:
        die(f"unknown command {cmd}")
    out["apdus"] = tag.apdus
    print(json.dumps(out))


main()
