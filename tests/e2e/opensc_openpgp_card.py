#!/usr/bin/python3
"""Put a key on vkey's OpenPGP card with raw APDUs, the way a host tool
such as GnuPG does: PUT DATA algorithm attributes, GENERATE, then the
fingerprint and generation date the host computes. The public key the
card returned is written as PEM, for openssl to verify against.

    opensc_openpgp_card.py READER SLOT ALGO PEM_OUT
      SLOT: sig | dec | aut     ALGO: rsa2048 | p256 | ecdh-p256 | ed25519
"""
import hashlib
import struct
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from smartcard.System import readers

PW3 = b"12345678"
DATE = 1700000000  # fixed key creation time (fingerprint input)

OID = {
    "p256": bytes.fromhex("2a8648ce3d030107"),
    "ed25519": bytes.fromhex("2b06010401da470f01"),
}
# algorithm attributes (OpenPGP card 3.4 §4.4.3.10), OpenPGP algo id
ALGO = {
    "rsa2048": (bytes.fromhex("010800002000"), 1),
    "p256": (b"\x13" + OID["p256"], 19),
    "ecdh-p256": (b"\x12" + OID["p256"], 18),
    "ed25519": (b"\x16" + OID["ed25519"], 22),
}
SLOT = {"sig": (0xB6, 0), "dec": (0xB8, 1), "aut": (0xA4, 2)}


def tlv_parse(data):
    """Top-level BER-TLV items as a dict tag -> value."""
    out, i = {}, 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            tag = tag << 8 | data[i]
            i += 1
        n = data[i]
        i += 1
        if n == 0x81:
            n = data[i]
            i += 1
        elif n == 0x82:
            n = data[i] << 8 | data[i + 1]
            i += 2
        out[tag] = bytes(data[i:i + n])
        i += n
    return out


class Card:
    def __init__(self, name):
        rs = [r for r in readers() if str(r) == name]
        if not rs:
            sys.exit("no reader %r" % name)
        self.conn = rs[0].createConnection()
        self.conn.connect()

    def call(self, what, apdu, ok=(0x9000,)):
        data, sw1, sw2 = self.conn.transmit(list(apdu))
        while sw1 == 0x61:  # response chaining
            more, sw1, sw2 = self.conn.transmit([0, 0xC0, 0, 0, sw2])
            data += more
        sw = sw1 << 8 | sw2
        if sw not in ok:
            sys.exit("%s: status %04X" % (what, sw))
        return bytes(data)

    def put(self, tag, value):
        self.call("PUT DATA %02X" % tag,
                  bytes([0, 0xDA, 0, tag, len(value)]) + value)


def mpi(b):
    b = b.lstrip(b"\0")
    bits = (len(b) - 1) * 8 + b[0].bit_length() if b else 0
    return struct.pack(">H", bits) + b


def fingerprint(algo_id, oid, pub):
    """OpenPGP v4 fingerprint (RFC 4880 §12.2) of the key's public packet."""
    body = bytes([4]) + struct.pack(">I", DATE) + bytes([algo_id])
    if algo_id == 1:
        body += mpi(pub[0x81]) + mpi(pub[0x82])
    else:
        point = pub[0x86]
        if algo_id == 22:
            point = b"\x40" + point
        body += bytes([len(oid)]) + oid + mpi(point)
        if algo_id == 18:  # KDF parameters: SHA-256, AES-128
            body += bytes([3, 1, 8, 7])
    return hashlib.sha1(b"\x99" + struct.pack(">H", len(body)) + body).digest()


def public_pem(algo, pub):
    if algo == "rsa2048":
        key = rsa.RSAPublicNumbers(int.from_bytes(pub[0x82], "big"),
                                   int.from_bytes(pub[0x81], "big")).public_key()
    elif algo == "ed25519":
        key = ed25519.Ed25519PublicKey.from_public_bytes(pub[0x86])
    else:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                           pub[0x86])
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    reader, slot, algo, out = sys.argv[1:]
    crt, idx = SLOT[slot]
    attr, algo_id = ALGO[algo]
    card = Card(reader)
    card.call("SELECT", bytes.fromhex("00A4040006D27600012401"))
    card.call("VERIFY PW3", bytes([0, 0x20, 0, 0x83, len(PW3)]) + PW3)
    card.put(0xC1 + idx, attr)
    resp = card.call("GENERATE", bytes([0, 0x47, 0x80, 0, 2, crt, 0, 0]))
    pub = tlv_parse(tlv_parse(resp)[0x7F49])
    oid = attr[1:]
    card.put(0xC7 + idx, fingerprint(algo_id, oid, pub))
    card.put(0xCE + idx, struct.pack(">I", DATE))
    with open(out, "wb") as f:
        f.write(public_pem(algo, pub))


if __name__ == "__main__":
    main()
