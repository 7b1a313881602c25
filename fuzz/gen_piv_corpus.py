#!/usr/bin/python3
"""Writes the seed corpus of fuzz/fuzz_piv.c (fuzz/corpus/piv): one file per sequence of APDUs
(byte 0: command count, then 2-byte length + APDU). FF 9B <alg> <key> is
the harness's pseudo-command for management-key authentication."""
import os
import sys
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, ed25519, x25519
from cryptography.x509.oid import NameOID

out = sys.argv[1]
MGMT = bytes(range(1, 9)) * 3
AUTH3DES = b"\xff\x9b\x03" + MGMT


def tlv(tag, value):
    t = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    n = len(value)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = b"\x81" + bytes([n])
    else:
        ln = b"\x82" + n.to_bytes(2, "big")
    return t + ln + value


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


def chained(ins, p1, p2, data, le=0):
    cmds = []
    for off in range(0, len(data), 255):
        piece = data[off:off + 255]
        last = off + 255 >= len(data)
        cmds.append(apdu(ins, p1, p2, piece, le if last else None,
                         0 if last else 0x10))
    return cmds


def pin(v):
    return v.ljust(8, b"\xff")


def verify(v=None, p1=0):
    return apdu(0x20, p1, 0x80, pin(v) if v is not None else b"")


def get_data(obj):
    return apdu(0xCB, 0x3F, 0xFF, tlv(0x5C, obj), 0)


def put_data(obj, content):
    return apdu(0xDB, 0x3F, 0xFF, tlv(0x5C, obj) + tlv(0x53, content))


def generate(slot, alg, pin_pol=None, touch=None):
    t = tlv(0x80, bytes([alg]))
    if pin_pol is not None:
        t += tlv(0xAA, bytes([pin_pol]))
    if touch is not None:
        t += tlv(0xAB, bytes([touch]))
    return apdu(0x47, 0, slot, tlv(0xAC, t), 0)


def gen_auth(alg, slot, tag, data):
    return apdu(0x87, alg, slot, tlv(0x7C, tlv(0x82, b"") + tlv(tag, data)), 0)


def metadata(ref):
    return apdu(0xF7, 0, ref, le=0)


GET_RESPONSE = apdu(0xC0, 0, 0, le=0)


def write(name, cmds):
    assert len(cmds) <= 32, name
    b = bytes([len(cmds)])
    for c in cmds:
        b += len(c).to_bytes(2, "big") + c
    with open(os.path.join(out, name), "wb") as f:
        f.write(b)


def ec_point(key):
    return key.public_key().public_bytes(serialization.Encoding.X962,
                                         serialization.PublicFormat.UncompressedPoint)


def raw_pub(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def pkcs1_block(k, data):
    return b"\x00\x01" + b"\xff" * (k - len(data) - 3) + b"\x00" + data


host256 = ec.generate_private_key(ec.SECP256R1())
host384 = ec.generate_private_key(ec.SECP384R1())
hostx = x25519.X25519PrivateKey.generate()
hash32 = bytes(range(32))

write("identity", [
    apdu(0xA4, 4, 0, bytes.fromhex("A000000308000010000100"), 0),
    apdu(0xA4, 4, 0x0C, bytes.fromhex("A000000308")),
    apdu(0xFD, 0, 0, le=0),
    apdu(0xF8, 0, 0, le=0),
    get_data(b"\x7e"),
    get_data(b"\x7f\x61"),
    get_data(b"\x5f\xc1\x02"),
    get_data(b"\x5f\xff\x01"),
    GET_RESPONSE,
    metadata(0x80), metadata(0x81), metadata(0x9B), metadata(0x9A),
    metadata(0xF9),
    apdu(0xFD, 1, 0, le=0),
    apdu(0x01, 0, 0),
    apdu(0xFD, 0, 0, cla=0x80),
    apdu(0xFD, 0, 0, cla=0x0C),
    apdu(0xA4, 0, 0, b"\x3f\x00"),
])

write("pins", [
    verify(),
    verify(b"000000"),
    verify(b"123456"),
    verify(),
    verify(None, 0xFF),
    apdu(0x20, 0, 0x80, b"1234567"),
    apdu(0x24, 0, 0x80, pin(b"123456") + pin(b"abcdef")),
    apdu(0x24, 0, 0x80, pin(b"abcdef") + pin(b"12\xff456")),
    apdu(0x24, 0, 0x80, pin(b"abcdef") + pin(b"123")),
    apdu(0x24, 0, 0x81, pin(b"12345678") + pin(b"87654321")),
    apdu(0x2C, 0, 0x80, pin(b"00000000") + pin(b"111111")),
    apdu(0x2C, 0, 0x80, pin(b"87654321") + pin(b"111111")),
    verify(b"111111"),
    metadata(0x80), metadata(0x81),
    AUTH3DES,
    apdu(0xFA, 5, 7),
    metadata(0x80), metadata(0x81),
    apdu(0xFA, 0, 7),
    apdu(0x24, 0, 0x80, b"\xff" * 15),
    apdu(0x2C, 0, 0x81, pin(b"12345678") + pin(b"111111")),
])

aes = bytes(range(0x40, 0x60))
write("mgmt_keys", [
    AUTH3DES,
    apdu(0xFF, 0xFF, 0xFE, b"\x0c" + tlv(0x9B, aes)),
    metadata(0x9B),
    b"\xff\x9b\x0c" + aes,
    apdu(0xFF, 0xFF, 0xFF, b"\x08" + tlv(0x9B, aes[:16])),
    b"\xff\x9b\x08" + aes[:16],
    apdu(0xFF, 0xFF, 0xFF, b"\x0a" + tlv(0x9B, aes[:24])),
    b"\xff\x9b\x0a" + aes[:24],
    apdu(0xFF, 0xFF, 0xFF, b"\x0a" + tlv(0x9B, aes[:16])),
    apdu(0xFF, 0xFF, 0xFF, b"\x03" + tlv(0x9B, b"\x01" * 24)),
    b"\xff\x9b\x03" + b"\x01" * 24,
    apdu(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x81, b"")), 0),
    apdu(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x82, bytes(8))), 0),
    apdu(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x80, b"")), 0),
    apdu(0xFD, 0, 0, le=0),
    apdu(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x80, bytes(8)) + tlv(0x81, bytes(8))), 0),
    apdu(0x87, 0x08, 0x9B, tlv(0x7C, tlv(0x80, b"")), 0),
    apdu(0x87, 0x03, 0x9B, b"\x7c\x00", 0),
    metadata(0x9B),
])

write("generate_ec", [
    AUTH3DES,
    generate(0x9A, 0x11),
    generate(0x9D, 0x14, 0x03, 0x03),
    generate(0x9C, 0xE0, 0x01, 0x02),
    generate(0x9E, 0xE1),
    generate(0x82, 0x11, 0x02, 0x01),
    verify(b"123456"),
    gen_auth(0x11, 0x9A, 0x81, hash32),
    gen_auth(0x11, 0x9A, 0x85, ec_point(host256)),
    gen_auth(0x14, 0x9D, 0x81, hash32 + hash32[:16]),
    gen_auth(0x14, 0x9D, 0x85, ec_point(host384)),
    gen_auth(0xE0, 0x9C, 0x81, b"message to sign"),
    gen_auth(0xE1, 0x9E, 0x85, raw_pub(hostx)),
    gen_auth(0x11, 0x82, 0x81, hash32[:20]),
    metadata(0x9A), metadata(0x9D), metadata(0x9C), metadata(0x9E),
    apdu(0xF9, 0x9A, 0, le=0),
    apdu(0xF9, 0x9C, 0, le=0),
    apdu(0xF9, 0x9B, 0, le=0),
    gen_auth(0x14, 0x9A, 0x81, hash32),
    gen_auth(0x11, 0x9A, 0x81, hash32 + b"\x00"),
    gen_auth(0x11, 0x9B, 0x81, hash32),
])

write("generate_rsa", [
    AUTH3DES,
    generate(0x9A, 0x06),
    verify(b"123456"),
    gen_auth(0x06, 0x9A, 0x81, pkcs1_block(128, hash32)),
    generate(0x9D, 0x07, 0x01),
    *chained(0x87, 0x07, 0x9D, tlv(0x7C, tlv(0x82, b"") +
                                   tlv(0x81, pkcs1_block(256, hash32)))),
    GET_RESPONSE,
    generate(0x9E, 0x06, None, None),
    apdu(0x47, 0, 0x9E, tlv(0xAC, tlv(0x80, b"\x06")), 0x20),
    GET_RESPONSE,
    metadata(0x9D),
    apdu(0xF9, 0x9D, 0, le=0),
    GET_RESPONSE,
    gen_auth(0x06, 0x9A, 0x81, b"\x00" * 127),
])

# Host keys to import.
rsa_key = rsa.generate_private_key(65537, 1024)
rn = rsa_key.private_numbers()
p256 = ec.generate_private_key(ec.SECP256R1())
edk = ed25519.Ed25519PrivateKey.generate()
xk = x25519.X25519PrivateKey.generate()


def rsa_import(n, extra=0):
    ln = 64 + extra
    return b"".join(tlv(i + 1, v.to_bytes(ln, "big")) for i, v in enumerate(
        [n.p, n.q, n.dmp1, n.dmq1, n.iqmp]))


write("import_move", [
    AUTH3DES,
    apdu(0xFE, 0x06, 0x9A, rsa_import(rn) + tlv(0xAA, b"\x01")),
    apdu(0xFE, 0x11, 0x9C, tlv(0x06, p256.private_numbers().private_value.to_bytes(32, "big"))
         + tlv(0xAB, b"\x03")),
    apdu(0xFE, 0xE0, 0x9D, tlv(0x07, edk.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption()))),
    apdu(0xFE, 0xE1, 0x9E, tlv(0x08, xk.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption()))),
    metadata(0x9A), metadata(0x9C),
    gen_auth(0x06, 0x9A, 0x81, pkcs1_block(128, hash32)),
    verify(b"123456"),
    gen_auth(0x11, 0x9C, 0x81, hash32),
    gen_auth(0xE0, 0x9D, 0x81, b"imported"),
    gen_auth(0xE1, 0x9E, 0x85, raw_pub(hostx)),
    apdu(0xF9, 0x9A, 0, le=0),
    apdu(0xF6, 0x82, 0x9A),
    apdu(0xF6, 0x9C, 0x82),
    apdu(0xF6, 0xFF, 0x9D),
    apdu(0xF6, 0xF9, 0x9E),
    apdu(0xF6, 0x9A, 0xF9),
    metadata(0x82), metadata(0x9C), metadata(0x9D),
    gen_auth(0x06, 0x9C, 0x81, pkcs1_block(128, hash32)),
    apdu(0xFE, 0x06, 0x9A, rsa_import(rn, 1)),
    apdu(0xFE, 0x11, 0x9A, tlv(0x06, b"\x00" * 32)),
    apdu(0xFE, 0x07, 0x9A, tlv(0x06, bytes(32))),
    apdu(0xFE, 0x11, 0xF9, tlv(0x06, b"\x01" * 32)),
])

cert_like = tlv(0x70, bytes(range(256)) * 4) + tlv(0x71, b"\x00") + tlv(0xFE, b"")
big = bytes((i * 7) & 0xFF for i in range(1500))
write("put_data", [
    AUTH3DES,
    put_data(b"\x5f\xc1\x05", cert_like),
    get_data(b"\x5f\xc1\x05"),
    GET_RESPONSE, GET_RESPONSE, GET_RESPONSE, GET_RESPONSE,
    put_data(b"\x5f\xc1\x09", b"printed info"),
    get_data(b"\x5f\xc1\x09"),
    verify(b"123456"),
    get_data(b"\x5f\xc1\x09"),
    *chained(0xDB, 0x3F, 0xFF, tlv(0x5C, b"\x5f\xc1\x0d") + tlv(0x53, big), None),
    apdu(0xCB, 0x3F, 0xFF, tlv(0x5C, b"\x5f\xc1\x0d"), 0x10000),
    put_data(b"\x5f\xc1\x0d", b""),
    get_data(b"\x5f\xc1\x0d"),
    put_data(b"\x7f\x61", b"bio"),
    put_data(b"\x5f\xff\x00", b"\x88\x00"),
    put_data(b"\x5f\xc1\x02", bytes(3053)),
    put_data(b"\x5f\xc1\x25", b"x"),
    apdu(0xDB, 0x3F, 0xFF, tlv(0x5C, b"\x5f\xc1\x05")),
    apdu(0xDB, 0x3F, 0xFE, tlv(0x5C, b"\x5f\xc1\x05") + tlv(0x53, b"")),
    apdu(0xCB, 0x3F, 0xFF, b"\x5c\x03\x5f\xc1", 0),
    apdu(0xCB, 0x3F, 0xFF, b"\x5c\x00", 0),
])

write("reset", [
    AUTH3DES,
    generate(0x9A, 0x11),
    put_data(b"\x5f\xc1\x05", b"cert"),
    apdu(0xFB, 0, 0),
    verify(b"000000"), verify(b"000000"), verify(b"000000"), verify(b"000000"),
    apdu(0xFB, 0, 0),
    apdu(0x2C, 0, 0x80, b"\xff" * 16),
    apdu(0x2C, 0, 0x80, b"\xff" * 16),
    apdu(0x2C, 0, 0x80, b"\xff" * 16),
    apdu(0xFB, 0, 0),
    apdu(0xA4, 4, 0, bytes.fromhex("A000000308"), 0),
    metadata(0x9A), metadata(0x80), metadata(0x9B), metadata(0xF9),
    get_data(b"\x5f\xc1\x05"),
    verify(b"123456"),
])

write("malformed", [
    b"",
    b"\x00",
    b"\x00\x87",
    b"\x00\x87\x11\x9a\x05\x7c",
    b"\x00\x87\x11\x9a\x04\x7c\x05\x82\x00",
    apdu(0x87, 0x11, 0x9A, b"\x7c\x81"),
    apdu(0x87, 0x11, 0x9A, b"\x7c\x82\xff\xff"),
    apdu(0x87, 0x11, 0x9A, b"\x7c\x04\x82\x00\x81\x7f"),
    apdu(0x47, 0, 0x9A, b"\xac\x83\x00\x00\x03\x80\x01\x11"),
    apdu(0x47, 0, 0x9A, b"\xac\x03\x80\x01"),
    apdu(0xFE, 0x06, 0x9A, b"\x01\x82\xff\xff"),
    apdu(0xFE, 0x11, 0x9A, b"\x06\x20"),
    apdu(0xDB, 0x3F, 0xFF, b"\x5c\x03\x5f\xc1\x05\x53\x84\x00\x00\x00\x01\x00"),
    apdu(0xCB, 0x3F, 0xFF, b"\x5c\x84\x00\x00\x00\x03\x5f\xc1\x05"),
    apdu(0x20, 0, 0x80, b"\xff" * 255),
    apdu(0xFF, 0xFF, 0xFF, b"\x0c\x9b\x81"),
    apdu(0xF7, 0, 0x9A, le=0),
    apdu(0xF6, 0x9A, 0x9A),
    apdu(0xF9, 0x00, 0x00, le=0),
    apdu(0xFA, 0, 0),
    b"\x10\xdb\x3f\xff\x03\x5c\x03\x5f",
    apdu(0xC0, 0, 0, le=0),
    b"\xff\x9b\x03\x01",
])

# An own attestation key in F9 with its certificate: the next input then
# starts from a new key.
f9 = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz attestation")])
now = datetime.datetime(2024, 1, 1)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(f9.public_key()).serial_number(7)
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
        .sign(f9, hashes.SHA256()))
der = cert.public_bytes(serialization.Encoding.DER)
write("attest_own_f9", [
    AUTH3DES,
    apdu(0xFE, 0x11, 0xF9, tlv(0x06, f9.private_numbers().private_value.to_bytes(32, "big"))),
    put_data(b"\x5f\xff\x01", tlv(0x70, der) + tlv(0x71, b"\x00") + tlv(0xFE, b"")),
    generate(0x9A, 0x11),
    generate(0x9C, 0xE0),
    apdu(0xF9, 0x9A, 0, le=0),
    apdu(0xF9, 0x9C, 0, le=0),
    metadata(0xF9),
    get_data(b"\x5f\xff\x01"),
])
