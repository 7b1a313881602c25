#!/usr/bin/python3
"""Writes the seed corpus of fuzz/fuzz_ndef.c (fuzz/corpus/ndef).

msg_*: byte 0x80, then an NDEF message for the codec.
apdu_*: byte 0 a command count, then 2-byte length + APDU each, sent to
the selected NDEF application; FF 01 (read-only), FF 02 <message>
(owner's write) and FF 03 (owner's read) are the harness's
pseudo-commands."""
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus", "ndef")

MB, ME, CF, SR, IL = 0x80, 0x40, 0x20, 0x10, 0x08


def record(tnf, type_=b"", payload=b"", id_=b"", flags=0, short=None):
    if short is None:
        short = len(payload) < 256
    hdr = flags | tnf | (SR if short else 0) | (IL if id_ else 0)
    b = bytes([hdr, len(type_)])
    b += bytes([len(payload)]) if short else len(payload).to_bytes(4, "big")
    if id_:
        b += bytes([len(id_)])
    return b + type_ + id_ + payload


def message(*recs):
    """recs: (tnf, type, payload, id) tuples; MB/ME set here."""
    b = b""
    for i, (tnf, t, p, i_d) in enumerate(recs):
        flags = (MB if i == 0 else 0) | (ME if i == len(recs) - 1 else 0)
        b += record(tnf, t, p, i_d, flags)
    return b


def uri(code, rest):
    return (1, b"U", bytes([code]) + rest, b"")


def text(lang, s, utf16=False):
    body = s.encode("utf-16-be" if utf16 else "utf-8")
    status = len(lang) | (0x80 if utf16 else 0)
    return (1, b"T", bytes([status]) + lang + body, b"")


def apdu(ins, p1, p2, data=b"", le=None, cla=0):
    b = bytes([cla, ins, p1, p2])
    ext = len(data) > 255 or (le is not None and le > 256)
    if data:
        b += (b"\x00" + len(data).to_bytes(2, "big")) if ext else bytes([len(data)])
        b += data
    if le is not None:
        if ext:
            b += (b"" if data else b"\x00") + (le & 0xFFFF).to_bytes(2, "big")
        else:
            b += bytes([le & 0xFF])
    return b


def select_file(fid, p2=0x0C):
    return apdu(0xA4, 0x00, p2, fid.to_bytes(2, "big"))


def read(off, le):
    return apdu(0xB0, off >> 8, off & 0xFF, le=le)


def update(off, data):
    return apdu(0xD6, off >> 8, off & 0xFF, data)


SELECT_APP = apdu(0xA4, 0x04, 0x00, bytes.fromhex("D2760000850101"), le=0)


def sequence(cmds):
    assert len(cmds) <= 32
    b = bytes([len(cmds)])
    for c in cmds:
        b += len(c).to_bytes(2, "big") + c
    return b


def write_procedure(msg, mlc=255):
    cmds = [select_file(0xE104), update(0, b"\x00\x00")]
    for off in range(0, len(msg), mlc):
        cmds.append(update(2 + off, msg[off:off + mlc]))
    cmds.append(update(0, len(msg).to_bytes(2, "big")))
    return cmds


URI_MSG = message(uri(0x04, b"example.com/vkey"))
TEXT_MSG = message(text(b"en", "hello, tag"))
LONG_MSG = message(text(b"en", "x" * 700))

SEEDS = {
    "msg_uri": b"\x80" + URI_MSG,
    "msg_text_utf16": b"\x80" + message(text(b"de", "Gr\u00fc\u00dfe \U0001F600", True)),
    "msg_several_ids": b"\x80" + message(
        uri(0x01, b"example.org"),
        (2, b"text/plain", b"abc", b"id1"),
        (4, b"example.com:t", b"\x01\x02", b""),
        (5, b"", b"\xff", b""),
        (0, b"", b"", b"")),
    "msg_long_record": b"\x80" + bytes([MB | ME | 1, 1]) + (3).to_bytes(4, "big") + b"U\x03ab",
    "msg_chunked": b"\x80" + record(1, b"T", b"\x02en", b"i", MB | CF)
                   + record(6, b"", b"ab", b"", CF) + record(6, b"", b"cd", b"", 0)
                   + record(1, b"U", b"\x00x", b"", ME),
    "msg_trailing": b"\x80" + URI_MSG + b"\x00",
    "msg_bad_tnf": b"\x80" + bytes.fromhex("D60000"),
    "apdu_read_procedure": sequence([
        SELECT_APP, select_file(0xE103), read(0, 15), select_file(0xE104),
        read(0, 2), read(2, 255), read(257, 255)]),
    "apdu_write_procedure": sequence(write_procedure(LONG_MSG) + [
        read(0, 2), read(2, 0), b"\xff\x03"]),
    "apdu_errors": sequence([
        read(0, 2), update(0, b"\x00\x01"), select_file(0x3F00),
        select_file(0xE103, 0x00), update(0, b"\x00"), select_file(0xE104),
        read(0x1002, 1), read(0x1000, 5), read(0x7FFF, 1), apdu(0xB0, 0x81, 0, le=2),
        update(0, b"\x10\x01"), update(0x1001, b"\x01\x02"), apdu(0xD6, 0, 0),
        apdu(0xB0, 0, 0, b"\x01", 2), apdu(0xB0, 0, 0, le=0x1002), apdu(0xCA, 0, 0, le=0)]),
    "apdu_chained_update": sequence([select_file(0xE104)] + [
        apdu(0xD6, 0, 0, (len(LONG_MSG).to_bytes(2, "big") + LONG_MSG)[o:o + 255],
             cla=0x10 if o + 255 < len(LONG_MSG) + 2 else 0)
        for o in range(0, len(LONG_MSG) + 2, 255)] + [read(2, 0)]),
    "apdu_read_only": sequence([
        b"\xff\x02" + URI_MSG, select_file(0xE104), update(0, b"\x00\x00"),
        b"\xff\x01", update(0, b"\x00\x00"), select_file(0xE103), read(0, 15),
        update(0, b"\x00"), b"\xff\x02" + TEXT_MSG, b"\xff\x03"]),
    "apdu_owner_write": sequence([
        b"\xff\x02" + TEXT_MSG, b"\xff\x03", b"\xff\x02" + b"\xd1\x01", b"\xff\x02",
        select_file(0xE104), read(0, 0)]),
}

os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"wrote {len(SEEDS)} seeds to {out}")
