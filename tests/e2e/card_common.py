"""Raw APDU helpers shared by the e2e card set-up scripts
(opensc_openpgp_card.py, opensc_piv_card.py): BER-TLV, one PC/SC
connection to a named reader with short APDUs, command chaining and GET
RESPONSE, and the public key of a GENERATE answer as PEM."""
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from smartcard.System import readers

CHUNK = 255  # data bytes in one short APDU of a chain


def tlv(tag, value):
    """BER-TLV with a one- to three-byte tag and a definite length."""
    t = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    n = len(value)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82, n >> 8, n & 0xFF])
    return t + ln + value


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
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(data[i:i + k], "big")
            i += k
        if i + n > len(data):
            sys.exit("truncated TLV %X" % tag)
        out[tag] = bytes(data[i:i + n])
        i += n
    return out


class Card:
    """A connection to the card in the reader called name."""

    def __init__(self, name):
        rs = [r for r in readers() if str(r) == name]
        if not rs:
            sys.exit("no reader %r" % name)
        self.conn = rs[0].createConnection()
        self.conn.connect()

    def send(self, what, ins, p1, p2, data=b"", le=True):
        """Send one command, chained in 255-byte pieces (each with Le 00
        when le); gather 61xx. Returns the answer and its status word."""
        pieces = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
        pieces = pieces or [b""]
        for k, piece in enumerate(pieces):
            cla = 0x10 if k < len(pieces) - 1 else 0x00
            apdu = [cla, ins, p1, p2]
            if piece:
                apdu += [len(piece)] + list(piece)
            if le:
                apdu += [0x00]
            resp, sw1, sw2 = self.conn.transmit(apdu)
            if cla == 0x10 and (sw1, sw2) != (0x90, 0x00):
                sys.exit("%s: chained piece %d: status %02X%02X" %
                         (what, k, sw1, sw2))
        for _ in range(64):  # response chaining, bounded
            if sw1 != 0x61:
                break
            more, sw1, sw2 = self.conn.transmit([0, 0xC0, 0, 0, sw2])
            resp += more
        return bytes(resp), sw1 << 8 | sw2

    def call(self, what, ins, p1, p2, data=b"", le=True):
        """send() that must succeed."""
        resp, sw = self.send(what, ins, p1, p2, data, le)
        if sw != 0x9000:
            sys.exit("%s: status %04X" % (what, sw))
        return resp


def generated_key(resp):
    """The items of the 7F49 public key template in a GENERATE answer."""
    return tlv_parse(tlv_parse(resp)[0x7F49])


def public_key(pub, curve=None):
    """The key in 7F49's items: 81 n, 82 e (RSA); 86 point on curve (EC,
    an ec curve object) or Ed25519 (curve "ed25519")."""
    if 0x81 in pub:
        return rsa.RSAPublicNumbers(int.from_bytes(pub[0x82], "big"),
                                    int.from_bytes(pub[0x81], "big")
                                    ).public_key()
    if curve == "ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(pub[0x86])
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, pub[0x86])


def write_pem(path, key):
    """A public key as SubjectPublicKeyInfo PEM, for openssl."""
    with open(path, "wb") as f:
        f.write(key.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo))
