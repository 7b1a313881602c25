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

from cryptography.hazmat.primitives.asymmetric import ec

from card_common import Card, generated_key, public_key, write_pem

PW3 = b"12345678"
DATE = 1700000000  # fixed key creation time (fingerprint input)
OPENPGP_AID = bytes.fromhex("D27600012401")

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


def put(card, tag, value):
    card.call("PUT DATA %02X" % tag, 0xDA, 0, tag, value, le=False)


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


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    reader, slot, algo, out = sys.argv[1:]
    crt, idx = SLOT[slot]
    attr, algo_id = ALGO[algo]
    card = Card(reader)
    card.call("SELECT", 0xA4, 0x04, 0x00, OPENPGP_AID, le=False)
    card.call("VERIFY PW3", 0x20, 0, 0x83, PW3, le=False)
    put(card, 0xC1 + idx, attr)
    pub = generated_key(card.call("GENERATE", 0x47, 0x80, 0,
                                  bytes([crt, 0])))
    oid = attr[1:]
    put(card, 0xC7 + idx, fingerprint(algo_id, oid, pub))
    put(card, 0xCE + idx, struct.pack(">I", DATE))
    write_pem(out, public_key(pub, "ed25519" if algo == "ed25519"
                              else ec.SECP256R1()))


if __name__ == "__main__":
    main()
