#!/usr/bin/python3
"""The card side of tests/admin/admin_pcsc.sh: what a reset must undo,
made and checked through real clients over PC/SC (python-fido2 for FIDO,
raw APDUs through pyscard for OATH, OpenPGP, PIV and SELECT).

  admin_card.py READER fill STATE_JSON      put data in every applet
  admin_card.py READER check APPLET STATE_JSON  -> prints "factory" or
                                                 "changed" for the applet
  admin_card.py READER select APPLET        -> prints the SELECT status
  admin_card.py READER fido-make            -> prints "ok" or the CTAP error
"""

import json
import os
import sys

from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.pcsc import CtapPcscDevice
from smartcard.System import readers

AIDS = {
    "oath": "A0000005272101",
    "openpgp": "D27600012401",
    "piv": "A000000308",
    "fido": "A0000006472F0001",
    "ndef": "D2760000850101",
}
PIV_DEFAULT = bytes.fromhex("010203040506070801020304050607080102030405060708")
PIV_NEW = bytes(range(0x30, 0x48))
PGP_NEW_PIN = b"654321"


def reader(name):
    for r in readers():
        if str(r) == name:
            return r
    raise SystemExit("reader %r not found" % name)


class Card:
    def __init__(self, name):
        self.conn = reader(name).createConnection()
        self.conn.connect()

    def tx(self, hexstr_or_bytes):
        apdu = bytes.fromhex(hexstr_or_bytes) \
            if isinstance(hexstr_or_bytes, str) else hexstr_or_bytes
        data, sw1, sw2 = self.conn.transmit(list(apdu))
        return bytes(data), sw1 << 8 | sw2

    def select(self, applet):
        aid = bytes.fromhex(AIDS[applet])
        return self.tx(bytes([0, 0xA4, 4, 0, len(aid)]) + aid)[1]


def tdes(key, block, decrypt):
    c = Cipher(TripleDES(key), modes.ECB())
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(block) + op.finalize()


def piv_auth(card, key):
    """3DES mutual authentication (SP 800-73-4 witness/challenge)."""
    card.select("piv")
    r, sw = card.tx("0087039B047C028000")
    if sw != 0x9000 or len(r) < 12:
        return False
    witness = tdes(key, r[4:12], True)
    chal = os.urandom(8)
    body = bytes([0x7C, 0x14, 0x80, 8]) + witness + bytes([0x81, 8]) + chal
    r, sw = card.tx(bytes([0, 0x87, 3, 0x9B, len(body)]) + body)
    return sw == 0x9000 and r[4:12] == tdes(key, chal, False)


def fido_make(name, rk):
    dev = CtapPcscDevice(reader(name).createConnection(), name)
    ctap = Ctap2(dev)
    try:
        ctap.make_credential(os.urandom(32),
                             {"id": "example.com", "name": "example"},
                             {"id": os.urandom(8), "name": "alice"},
                             [{"type": "public-key", "alg": -7}], None, None,
                             {"rk": True} if rk else None)
        return "ok"
    except CtapError as e:
        return "ctap-error %s" % e.code.name
    finally:
        dev.close()


def fill(name):
    out = {"fido": fido_make(name, True)}
    card = Card(name)
    # OATH: one TOTP account (PUT: name, key).
    card.select("oath")
    name_tlv = b"\x71\x0aadmin-test"
    key_tlv = b"\x73\x12\x21\x06" + b"0123456789abcdef"
    out["oath"] = "%04X" % card.tx(bytes([0, 1, 0, 0,
                                          len(name_tlv + key_tlv)]) +
                                   name_tlv + key_tlv)[1]
    # OpenPGP: PW1 123456 -> 654321.
    card.select("openpgp")
    body = b"123456" + PGP_NEW_PIN
    out["openpgp"] = "%04X" % card.tx(bytes([0, 0x24, 0, 0x81, len(body)]) +
                                      body)[1]
    # PIV: a new management key after authenticating with the default.
    if piv_auth(card, PIV_DEFAULT):
        body = bytes([3, 0x9B, 24]) + PIV_NEW
        out["piv"] = "%04X" % card.tx(bytes([0, 0xFF, 0xFF, 0xFF,
                                             len(body)]) + body)[1]
    else:
        out["piv"] = "default key refused"
    print(json.dumps(out))


def check(name, applet):
    """factory: the applet shows its factory state; changed: what fill
    put there is still in effect."""
    if applet == "fido":
        return
    card = Card(name)
    if applet == "oath":
        card.select("oath")
        r, sw = card.tx("00A1000000")
        print("factory" if sw == 0x9000 and b"admin-test" not in r
              else "changed" if b"admin-test" in r else "sw %04X" % sw)
    elif applet == "openpgp":
        card.select("openpgp")
        sw = card.tx(b"\x00\x20\x00\x81\x06" + b"123456")[1]
        print("factory" if sw == 0x9000 else "changed")
    elif applet == "piv":
        print("factory" if piv_auth(card, PIV_DEFAULT) else
              "changed" if piv_auth(card, PIV_NEW) else "neither key")


def main():
    name, cmd = sys.argv[1], sys.argv[2]
    if cmd == "fill":
        fill(name)
    elif cmd == "check":
        check(name, sys.argv[3])
    elif cmd == "select":
        print("%04X" % Card(name).select(sys.argv[3]))
    elif cmd == "fido-make":
        print(fido_make(name, False))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
