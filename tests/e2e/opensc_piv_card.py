#!/usr/bin/python3
"""Set up vkey's PIV card with raw APDUs, as a card management tool does
(docs/PIV.md): authenticate the management key (3DES, mutual), GENERATE
or IMPORT a key, PUT DATA a certificate or the key history object. Each
call is one PC/SC connection; short APDUs, command chaining (CLA 10) for
long data and GET RESPONSE for long answers, as yubico-piv-tool sends.

    opensc_piv_card.py READER generate SLOT ALG PEM_OUT [PIN_POLICY]
    opensc_piv_card.py READER import SLOT KEY_PEM [PIN_POLICY]
    opensc_piv_card.py READER cert SLOT CERT_DER
    opensc_piv_card.py READER history ON_CARD OFF_CARD
    opensc_piv_card.py READER policies NEVER_SLOT ONCE_SLOT ALWAYS_SLOT

"policies" checks the PIN policies at the card: the never-PIN slot (a
P-384 key) signs with no VERIFY, the once-PIN slot (RSA-2048) after one,
the always-PIN slot (P-256) once per VERIFY, then 6982 until the next.

SLOT: 9a 9c 9d 9e 82..95 (hex). ALG: rsa2048 p256 p384.
PIN_POLICY: default never once always.
"""
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

import card_common
from card_common import generated_key, public_key, tlv, tlv_parse, write_pem

MGMT_KEY = bytes.fromhex("010203040506070801020304050607080102030405060708")
PIV_AID = bytes.fromhex("A000000308")
ALG = {"rsa2048": 0x07, "p256": 0x11, "p384": 0x14}
CURVE = {0x11: ec.SECP256R1(), 0x14: ec.SECP384R1()}
PIN_POLICY = {"default": 0, "never": 1, "once": 2, "always": 3}


def slot_object(slot):
    """The certificate object of a key slot (SP 800-73-4 part 1 table 10)."""
    fixed = {0x9A: 0x5FC105, 0x9C: 0x5FC10A, 0x9D: 0x5FC10B, 0x9E: 0x5FC101}
    if slot in fixed:
        return fixed[slot]
    if 0x82 <= slot <= 0x95:
        return 0x5FC10D + slot - 0x82
    sys.exit("no certificate object for slot %02X" % slot)


class Card(card_common.Card):
    """The PIV application of the card in a reader."""

    def select(self):
        self.call("SELECT PIV", 0xA4, 0x04, 0x00, PIV_AID)

    def authenticate(self):
        """Mutual authentication with the 3DES management key."""
        des = Cipher(algorithms.TripleDES(MGMT_KEY), modes.ECB())
        resp = self.call("GENERAL AUTHENTICATE (witness)", 0x87, 0x03, 0x9B,
                         tlv(0x7C, tlv(0x80, b"")))
        witness = tlv_parse(tlv_parse(resp)[0x7C])[0x80]
        dec = des.decryptor()
        plain = dec.update(witness) + dec.finalize()
        challenge = os.urandom(8)
        resp = self.call("GENERAL AUTHENTICATE (challenge)", 0x87, 0x03,
                         0x9B, tlv(0x7C, tlv(0x80, plain) +
                                   tlv(0x81, challenge)))
        got = tlv_parse(tlv_parse(resp)[0x7C])[0x82]
        enc = des.encryptor()
        if got != enc.update(challenge) + enc.finalize():
            sys.exit("the card's answer to our challenge is wrong")

    def put_data(self, obj, content):
        data = tlv(0x5C, obj.to_bytes(3, "big")) + tlv(0x53, content)
        self.call("PUT DATA %06X" % obj, 0xDB, 0x3F, 0xFF, data)


def policy_tlv(name):
    p = PIN_POLICY[name]
    return tlv(0xAA, bytes([p])) if p else b""


def generate(card, slot, alg_name, out, policy="default"):
    alg = ALG[alg_name]
    template = tlv(0xAC, tlv(0x80, bytes([alg])) + policy_tlv(policy))
    pub = generated_key(card.call("GENERATE %02X" % slot, 0x47, 0x00, slot,
                                  template))
    write_pem(out, public_key(pub, CURVE.get(alg)))


def import_key(card, slot, pem, policy="default"):
    with open(pem, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        size = key.key_size // 16
        alg = {1024: 0x06, 2048: 0x07}[key.key_size]
        data = b"".join(tlv(t, v.to_bytes(size, "big")) for t, v in
                        ((1, n.p), (2, n.q), (3, n.dmp1), (4, n.dmq1),
                         (5, n.iqmp)))
    else:
        alg = {"secp256r1": 0x11, "secp384r1": 0x14}[key.curve.name]
        size = (key.curve.key_size + 7) // 8
        data = tlv(6, key.private_numbers().private_value.to_bytes(size,
                                                                     "big"))
    card.call("IMPORT %02X" % slot, 0xFE, alg, slot, data + policy_tlv(policy))


PIN = b"123456".ljust(8, b"\xff")


def sign_sw(card, slot, alg):
    """GENERAL AUTHENTICATE sign with a key of alg; returns the status."""
    if alg == 0x07:
        data = b"\x00\x01" + b"\xff" * 221 + b"\x00" + os.urandom(32)
    else:
        data = os.urandom(48 if alg == 0x14 else 32)
    body = tlv(0x7C, tlv(0x82, b"") + tlv(0x81, data))
    return card.send("GENERAL AUTHENTICATE %02X" % slot, 0x87, alg, slot,
                     body)[1]


def policies(card, never, once, always):
    """PIN never (P-384), once (RSA-2048) and always (P-256) slots."""
    steps = [("sign never", never, 0x14, 0x9000),
             ("sign once before VERIFY", once, 0x07, 0x6982),
             ("sign always before VERIFY", always, 0x11, 0x6982),
             ("VERIFY", None, 0, 0),
             ("sign always", always, 0x11, 0x9000),
             ("sign always again", always, 0x11, 0x6982),
             ("sign once", once, 0x07, 0x9000),
             ("sign once again", once, 0x07, 0x9000),
             ("VERIFY", None, 0, 0),
             ("sign always after a new VERIFY", always, 0x11, 0x9000)]
    for what, slot, alg, want in steps:
        if slot is None:
            card.call("VERIFY", 0x20, 0x00, 0x80, PIN)
            continue
        got = sign_sw(card, slot, alg)
        if got != want:
            sys.exit("%s (%02X): status %04X, want %04X" %
                     (what, slot, got, want))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    reader, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    card = Card(reader)
    card.select()
    card.authenticate()
    if cmd == "generate" and len(args) in (3, 4):
        generate(card, int(args[0], 16), *args[1:])
    elif cmd == "import" and len(args) in (2, 3):
        import_key(card, int(args[0], 16), *args[1:])
    elif cmd == "cert" and len(args) == 2:
        with open(args[1], "rb") as f:
            der = f.read()
        # SP 800-73-4 part 1 table 15: certificate, CertInfo, error detection
        card.put_data(slot_object(int(args[0], 16)),
                      tlv(0x70, der) + tlv(0x71, b"\x00") + tlv(0xFE, b""))
    elif cmd == "policies" and len(args) == 3:
        policies(card, *(int(a, 16) for a in args))
    elif cmd == "history" and len(args) == 2:
        # Key history object (table 19): keysWithOnCardCerts, ...OffCard
        card.put_data(0x5FC10C, tlv(0xC1, bytes([int(args[0])])) +
                      tlv(0xC2, bytes([int(args[1])])) + tlv(0xFE, b""))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
