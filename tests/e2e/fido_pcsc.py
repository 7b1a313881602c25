#!/usr/bin/python3
"""End to end: unmodified python-fido2 0.9.1 over PC/SC (pcscd + vpcd)
against `vkey serve`'s FIDO applet. Every attestation and assertion
signature is verified here, with python `cryptography`, not by the library.

Run by fido_pcsc.sh, once per user-presence policy of the daemon:
  fido_pcsc.py --reader R --state S --vkey BIN --phase auto|deny|prompt
The auto phase leaves a credential (and U2F registration) in --carry for
the later phases, which prove it survives a daemon restart."""

import argparse
import json
import os
import struct
import subprocess
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from hashlib import sha256 as _sha256

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from fido2.client import ClientError, Fido2Client
from fido2.ctap import CtapError
from fido2.ctap1 import APDU, ApduError, Ctap1
from fido2.ctap2 import (AuthenticatorData, ClientPin, Config, Ctap2,
                         CredentialManagement, LargeBlobs)
from fido2.ctap2.extensions import HmacSecretExtension
from fido2.pcsc import CtapPcscDevice
from smartcard.System import readers

ERR = CtapError.ERR
ES256, EDDSA = -7, -8
AAGUID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")
PIN = "vkey-e2e-4321"
ORIGIN, RP = "https://example.com", "example.com"
STATUS_UPNEEDED = 2
BULK = 1000


def sha256(b):
    return _sha256(b).digest()


FAILS = []


def ok(msg):
    print("ok   " + msg, flush=True)


def fail(msg):
    FAILS.append(msg)
    print("FAIL " + msg, flush=True)


def check(cond, msg):
    if cond:
        ok(msg)
    else:
        fail(msg)
    return cond


def expect_ctap(code, fn, *a, **kw):
    """fn must raise CtapError(code); returns True when it did."""
    try:
        fn(*a, **kw)
    except CtapError as e:
        if e.code == code:
            return True
        fail("expected %s, got %s" % (code.name, e))
        return False
    fail("expected %s, got success" % code.name)
    return False


def expect_sw(sw, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ApduError as e:
        if e.code == sw:
            return True
        fail("expected SW %04X, got %04X" % (sw, e.code))
        return False
    fail("expected SW %04X, got success" % sw)
    return False


# ---- keys and signatures -------------------------------------------------


def cose_public_key(cose):
    """(alg, cryptography public key) of a COSE_Key (RFC 8152)."""
    kty, alg = cose[1], cose[3]
    if kty == 2 and alg == ES256 and cose[-1] == 1:
        x, y = cose[-2], cose[-3]
        if len(x) != 32 or len(y) != 32:
            raise ValueError("EC2 coordinates of the wrong size")
        nums = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"),
                                             int.from_bytes(y, "big"),
                                             ec.SECP256R1())
        return alg, nums.public_key()
    if kty == 1 and alg == EDDSA and cose[-1] == 6:
        return alg, ed25519.Ed25519PublicKey.from_public_bytes(cose[-2])
    raise ValueError("unexpected COSE key %r" % (cose,))


def p256_point(raw):
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def sig_ok(alg, pub, msg, sig):
    try:
        if alg == EDDSA:
            pub.verify(sig, msg)
        else:
            pub.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def cert_signed_by(cert, issuer):
    try:
        issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                                   ec.ECDSA(cert.signature_hash_algorithm))
        return cert.issuer == issuer.subject
    except InvalidSignature:
        return False


def is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(
            x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def valid_now(cert):
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return cert.not_valid_before <= now <= cert.not_valid_after


class Trust:
    """The key's attestation CA, the root every attestation must reach.
    No vkey command prints it yet, so the first phase records each leaf
    and the `chains` phase checks them once the CA has been read from the
    stopped daemon's state file."""

    def __init__(self, ca_path):
        self.ca = load_cert(ca_path) if ca_path else None
        self.pending = {}

    def check_chain(self, leaf, extra, what):
        if self.ca is None:
            fp = leaf.fingerprint(hashes.SHA256())
            self.pending.setdefault(fp, (leaf, extra, what))
            return True
        return verify_chain(self.ca, leaf, extra, what)

    def save_pending(self, path):
        old = json.load(open(path)) if os.path.exists(path) else []
        for leaf, extra, what in self.pending.values():
            old.append({"what": what, "chain": [
                c.public_bytes(serialization.Encoding.DER).hex()
                for c in [leaf] + extra]})
        with open(path, "w") as f:
            json.dump(old, f)


def load_cert(path):
    with open(path, "rb") as f:
        data = f.read()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def verify_chain(ca, leaf, extra, what):
    good = cert_signed_by(ca, ca) and is_ca(ca) and valid_now(ca)
    chain = [leaf] + extra
    for child, parent in zip(chain, chain[1:] + [ca]):
        if child.fingerprint(hashes.SHA256()) == ca.fingerprint(
                hashes.SHA256()):
            break
        good = good and cert_signed_by(child, parent) and valid_now(child)
    if not good:
        fail("%s: attestation chain does not verify to the key's CA" % what)
    return good


def check_attestation_leaf(leaf, aaguid, what):
    """WebAuthn §8.2.1 packed attestation certificate requirements."""
    subj = leaf.subject
    ou = [a.value for a in subj.get_attributes_for_oid(
        NameOID.ORGANIZATIONAL_UNIT_NAME)]
    good = leaf.version == x509.Version.v3 and ou == [
        "Authenticator Attestation"]
    good = good and all(subj.get_attributes_for_oid(o) for o in (
        NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME))
    good = good and not is_ca(leaf)
    try:
        ext = leaf.extensions.get_extension_for_oid(AAGUID_OID)
        good = good and not ext.critical and \
            ext.value.value == b"\x04\x10" + aaguid
    except x509.ExtensionNotFound:
        pass
    if not good:
        fail("%s: attestation certificate breaks WebAuthn §8.2.1" % what)
    return good


class Ctx:
    def __init__(self, args):
        self.args = args
        self.trust = Trust(args.ca)
        self.dev = None
        self.ctap = None
        self.counter = 0

    # -- connection ------------------------------------------------------

    def connect(self):
        for r in readers():
            if str(r) == self.args.reader:
                self.dev = CtapPcscDevice(r.createConnection(), str(r))
                self.ctap = Ctap2(self.dev)
                return
        raise SystemExit("reader %r not found" % self.args.reader)

    def power_cycle(self):
        """Disconnect (pyscard unpowers the card) and connect again: a
        CTAP power-up event for the key."""
        self.dev.close()
        self.connect()

    def apdu(self, raw):
        resp, sw1, sw2 = self.dev.apdu_exchange(raw)
        return resp, sw1 << 8 | sw2

    # -- verified operations ----------------------------------------------

    def check_counter(self, auth_data, what):
        if auth_data.counter <= self.counter:
            fail("%s: counter %d did not grow past %d" %
                 (what, auth_data.counter, self.counter))
        self.counter = max(self.counter, auth_data.counter)

    def verify_attestation(self, att, cdh, rp_id, what):
        """Check a packed attestation; return (cred_id, alg, pubkey)."""
        ad = att.auth_data
        cd = ad.credential_data
        good = att.fmt == "packed" and ad.rp_id_hash == sha256(rp_id.encode())
        good = good and cd is not None and cd.aaguid == self.ctap.info.aaguid
        if not good:
            fail("%s: fmt %r or authData (rpIdHash, AAGUID) wrong" %
                 (what, att.fmt))
            raise RuntimeError(what)
        alg, pub = cose_public_key(cd.public_key)
        st = att.att_statement
        chain = [x509.load_der_x509_certificate(c) for c in st.get("x5c", [])]
        if not chain or st.get("alg") != ES256:
            fail("%s: packed attestation without x5c/ES256: %r" % (what, st))
            raise RuntimeError(what)
        if not sig_ok(ES256, chain[0].public_key(), bytes(ad) + cdh, st["sig"]):
            fail("%s: attestation signature does not verify" % what)
            raise RuntimeError(what)
        check_attestation_leaf(chain[0], cd.aaguid, what)
        self.trust.check_chain(chain[0], chain[1:], what)
        self.check_counter(ad, what) if ad.counter else None
        return cd.credential_id, alg, pub

    def verify_assertion(self, a, cdh, rp_id, alg, pub, what, up=True,
                         uv=None):
        ad = a.auth_data
        good = ad.rp_id_hash == sha256(rp_id.encode())
        good = good and bool(ad.flags & 0x01) == up
        if uv is not None:
            good = good and bool(ad.flags & 0x04) == uv
        if not good:
            fail("%s: authData rpIdHash/flags wrong (flags %02x)" %
                 (what, ad.flags))
        if not sig_ok(alg, pub, bytes(ad) + cdh, a.signature):
            fail("%s: assertion signature does not verify" % what)
            return False
        self.check_counter(ad, what)
        return good

    def make(self, rp_id, alg=ES256, rk=False, user=None, ext=None,
             pin_param=None, proto=None, options=None, on_keepalive=None):
        cdh = os.urandom(32)
        user = user or {"id": os.urandom(16), "name": "alice"}
        opts = dict(options or {})
        if rk:
            opts["rk"] = True
        att = self.ctap.make_credential(
            cdh, {"id": rp_id, "name": rp_id}, user,
            [{"type": "public-key", "alg": alg}], None, ext, opts or None,
            pin_param, proto, on_keepalive=on_keepalive)
        cid, a, pub = self.verify_attestation(att, cdh, rp_id,
                                              "makeCredential %s" % rp_id)
        if a != alg:
            fail("makeCredential: asked alg %d, got %d" % (alg, a))
        return {"id": cid, "alg": a, "pub": pub, "att": att, "user": user}

    def assert_(self, rp_id, cred, allow=True, options=None, ext=None,
                pin_param=None, proto=None, cdh=None, up=True, uv=None,
                on_keepalive=None):
        cdh = cdh or os.urandom(32)
        allow_list = [{"type": "public-key", "id": cred["id"]}] if allow \
            else None
        a = self.ctap.get_assertion(rp_id, cdh, allow_list, ext, options,
                                    pin_param, proto,
                                    on_keepalive=on_keepalive)
        got = a.credential["id"] if a.credential else cred["id"]
        if got != cred["id"]:
            fail("getAssertion %s: answered another credential" % rp_id)
        self.verify_assertion(a, cdh, rp_id, cred["alg"], cred["pub"],
                              "getAssertion %s" % rp_id, up=up, uv=uv)
        return a

    def pin_token(self, perms, rp_id=None):
        cp = ClientPin(self.ctap)
        return cp.protocol, cp.get_pin_token(PIN, perms, rp_id)


# ---- the checks ----------------------------------------------------------


def t_framing(c):
    """CTAP 2.1 §11.3 binding details seen as raw APDUs."""
    aid = bytes.fromhex("A0000006472F0001")
    resp, sw = c.apdu(b"\x00\xa4\x04\x00\x08" + aid)
    check(sw == 0x9000 and resp == b"U2F_V2", "SELECT answers U2F_V2")
    resp, sw = c.apdu(b"\x00\xa4\x04\x00\x05" + aid[:5])
    check(sw == 0x9000 and resp == b"U2F_V2", "SELECT by a partial AID")
    _, sw = c.apdu(b"\x80\x11\x00\x00\x00")
    check(sw == 0x6985, "NFCCTAP_GETRESPONSE with nothing in flight: 6985")
    _, sw = c.apdu(b"\x80\x10\x42\x00\x01\x04\x00")
    check(sw == 0x6A86, "NFCCTAP_MSG with P1 42: 6A86")
    resp, sw = c.apdu(b"\x80\x10\x00\x00\x01\x04\x00")
    check(sw in (0x9000,) or sw >> 8 == 0x61,
          "NFCCTAP_MSG with P1 00 (libfido2 style) answers at once")
    resp, sw = c.apdu(b"\x80\x10\x80\x00\x01\x42\x00")
    check(sw == 0x9000 and resp == bytes([ERR.INVALID_COMMAND]),
          "unknown CTAP command: 9000 + CTAP1_ERR_INVALID_COMMAND")
    _, sw = c.apdu(b"\x80\x99\x00\x00\x00")
    check(sw == 0x6D00, "unknown INS in class 80: 6D00")
    _, sw = c.apdu(b"\x00\x03\x00\x00\x00")
    check(sw == 0x9000, "U2F VERSION in class 00")
    resp, sw = c.apdu(b"\x00\x03\x00\x00\x01\x00\x00")
    check(sw == 0x6700, "U2F VERSION with data: 6700")
    _, sw = c.apdu(b"\x00\x55\x00\x00\x00")
    check(sw == 0x6D00, "unknown U2F INS: 6D00")
    # Command chaining in class 90 (CTAP 2.1 §11.3), split by hand: the
    # getInfo command byte alone, then an empty last part.
    _, sw = c.apdu(b"\x90\x10\x80\x00\x01\x04")
    resp, sw2 = c.apdu(b"\x80\x10\x80\x00\x00")
    check(sw == 0x9000 and (sw2 == 0x9000 or sw2 >> 8 == 0x61) and
          resp[:1] == b"\x00", "getInfo chained as CLA 90 + CLA 80 parts")


def t_info(c):
    info = c.ctap.info
    check("FIDO_2_0" in info.versions and "U2F_V2" in info.versions,
          "getInfo versions %s" % info.versions)
    check(len(info.aaguid) == 16 and any(info.aaguid), "getInfo AAGUID")
    check(info.options.get("rk") is True and info.options.get("up", True),
          "getInfo options rk/up: %s" % info.options)
    check("clientPin" in info.options, "getInfo: clientPin supported")
    check("hmac-secret" in info.extensions and
          "credProtect" in info.extensions,
          "getInfo extensions %s" % info.extensions)
    check(info.max_msg_size >= 1024, "maxMsgSize %d" % info.max_msg_size)


def t_make_get(c):
    for alg, name in ((ES256, "ES256"), (EDDSA, "EdDSA")):
        cred = c.make("es.example.com", alg)
        c.assert_("es.example.com", cred, uv=False)
        c.assert_("es.example.com", cred, options={"up": False}, up=False)
        ok("makeCredential + getAssertion %s (no PIN), signatures verified"
           % name)
    expect_ctap(ERR.NO_CREDENTIALS, c.assert_, "other.example.com", cred)
    ok("a credential for another RP is not found")
    cred = c.make("rk.example.com", ES256, rk=True)
    a = c.assert_("rk.example.com", cred, allow=False)
    check(a.user and a.user["id"] == cred["user"]["id"],
          "discoverable credential found without allowList, user id back")
    ex = [{"type": "public-key", "id": cred["id"]}]
    expect_ctap(ERR.CREDENTIAL_EXCLUDED, c.ctap.make_credential,
                os.urandom(32), {"id": "rk.example.com", "name": "x"},
                {"id": b"u", "name": "u"},
                [{"type": "public-key", "alg": ES256}], ex)
    ok("excludeList: CTAP2_ERR_CREDENTIAL_EXCLUDED")
    expect_ctap(ERR.UNSUPPORTED_ALGORITHM, c.ctap.make_credential,
                os.urandom(32), {"id": "x.example.com", "name": "x"},
                {"id": b"u", "name": "u"}, [{"type": "public-key",
                                             "alg": -257}])
    ok("RS256 only: CTAP2_ERR_UNSUPPORTED_ALGORITHM")


def u2f_register(c, app_id):
    ctap1 = Ctap1(c.dev)
    chal, app = os.urandom(32), sha256(app_id.encode())
    reg = ctap1.register(chal, app)
    cert = x509.load_der_x509_certificate(reg.certificate)
    msg = b"\x00" + app + chal + reg.key_handle + reg.public_key
    if not sig_ok(ES256, cert.public_key(), msg, reg.signature):
        fail("U2F register: attestation signature does not verify")
    c.trust.check_chain(cert, [], "U2F register")
    return {"id": reg.key_handle, "alg": ES256,
            "pub": p256_point(reg.public_key), "raw": reg.public_key}


def u2f_auth(c, app_id, reg, p1=0x03):
    chal, app = os.urandom(32), sha256(app_id.encode())
    data = chal + app + bytes([len(reg["id"])]) + reg["id"]
    resp = Ctap1(c.dev).send_apdu(ins=0x02, p1=p1, data=data)
    flags, counter = resp[0], struct.unpack(">I", resp[1:5])[0]
    sig = resp[5:]
    msg = app + bytes([flags]) + struct.pack(">I", counter) + chal
    if not sig_ok(ES256, reg["pub"], msg, sig):
        fail("U2F authenticate: signature does not verify")
    if counter <= c.counter:
        fail("U2F authenticate: counter %d did not grow" % counter)
    c.counter = max(c.counter, counter)
    return flags


def t_u2f(c):
    ctap1 = Ctap1(c.dev)
    check(ctap1.get_version() == "U2F_V2", "U2F VERSION: U2F_V2")
    reg = u2f_register(c, "https://u2f.example.com")
    ok("U2F register: attestation signature and chain verified")
    check(u2f_auth(c, "https://u2f.example.com", reg) == 0x01,
          "U2F authenticate (enforce): UP flag, signature verified")
    chal = os.urandom(32)
    app = sha256(b"https://u2f.example.com")
    expect_sw(APDU.USE_NOT_SATISFIED, ctap1.authenticate, chal, app,
              reg["id"], check_only=True)
    ok("U2F check-only with our key handle: 6985")
    bad = bytearray(reg["id"])
    bad[-1] ^= 1
    expect_sw(APDU.WRONG_DATA, ctap1.authenticate, chal, app, bytes(bad),
              check_only=True)
    expect_sw(APDU.WRONG_DATA, ctap1.authenticate, chal, app, bytes(bad))
    ok("U2F with a tampered key handle: 6A80")
    expect_sw(APDU.WRONG_DATA, ctap1.authenticate, chal,
              sha256(b"https://evil.example.com"), reg["id"])
    ok("U2F key handle under another application: 6A80")
    check(u2f_auth(c, "https://u2f.example.com", reg, p1=0x08) == 0x00,
          "U2F dont-enforce-user-presence-and-sign: flags 00, verified")
    _, sw = c.apdu(b"\x00\x01\x00\x00\x20" + os.urandom(32) + b"\x00")
    check(sw == 0x6700, "U2F register with 32 bytes: 6700")
    # Interoperation: the U2F registration through CTAP2 (rpId whose hash
    # is the application parameter) and a CTAP2 credential through U2F.
    rp = "u2f-interop.example.com"
    reg2 = u2f_register(c, rp)
    c.assert_(rp, reg2)
    ok("U2F registration used by CTAP2 getAssertion, verified")
    cred = c.make(rp, ES256)
    u2f_auth(c, rp, cred)
    ok("CTAP2 ES256 credential used by U2F authenticate, verified")
    ed = c.make(rp, EDDSA)
    expect_sw(APDU.WRONG_DATA, ctap1.authenticate, chal, sha256(rp.encode()),
              ed["id"])
    ok("EdDSA credential refused by U2F: 6A80")
    return reg


def hmac_get(c, cred, rp_id, salt, uv):
    """hmac-secret output1 through raw CTAP2 (with or without UV)."""
    pin_param = proto = None
    cdh = os.urandom(32)
    ext = HmacSecretExtension(c.ctap)
    inp = ext.process_get_input({"hmacGetSecret": {"salt1": salt}})
    if uv:
        proto, token = c.pin_token(ClientPin.PERMISSION.GET_ASSERTION, rp_id)
        pin_param = proto.authenticate(token, cdh)
        proto = proto.VERSION
    a = c.assert_(rp_id, cred, ext={"hmac-secret": inp}, cdh=cdh,
                  pin_param=pin_param, proto=proto, uv=uv)
    return ext.process_get_output(a.auth_data)["hmacGetSecret"]["output1"]


def t_hmac_secret_no_uv(c):
    cred = c.make("hmac.example.com", ES256,
                  ext={"hmac-secret": True})
    check(cred["att"].auth_data.extensions == {"hmac-secret": True},
          "makeCredential hmac-secret: extension output true")
    salt = os.urandom(32)
    o1 = hmac_get(c, cred, "hmac.example.com", salt, False)
    o2 = hmac_get(c, cred, "hmac.example.com", salt, False)
    o3 = hmac_get(c, cred, "hmac.example.com", os.urandom(32), False)
    other = c.make("hmac.example.com", ES256, ext={"hmac-secret": True})
    o4 = hmac_get(c, other, "hmac.example.com", salt, False)
    check(len(o1) == 32 and o1 == o2 and o1 != o3 and o1 != o4,
          "hmac-secret without UV: stable per credential and salt")
    return {"cred": cred, "salt": salt, "no_uv": o1}


def t_hmac_secret_uv(c, h):
    u1 = hmac_get(c, h["cred"], "hmac.example.com", h["salt"], True)
    u2 = hmac_get(c, h["cred"], "hmac.example.com", h["salt"], True)
    n = hmac_get(c, h["cred"], "hmac.example.com", h["salt"], False)
    check(u1 == u2 and u1 != h["no_uv"] and n == h["no_uv"],
          "hmac-secret with UV: stable, and different from without UV")


def t_cred_protect_no_pin(c):
    rp = "protect.example.com"
    creds = {}
    for level in (1, 2, 3):
        cred = c.make(rp, ES256, rk=True, ext={"credProtect": level},
                      user={"id": b"level%d" % level, "name": "l%d" % level})
        check(cred["att"].auth_data.extensions == {"credProtect": level},
              "credProtect %d echoed in authData" % level)
        creds[level] = cred
    a = c.ctap.get_assertions(rp, os.urandom(32))
    users = sorted(x.user["id"] for x in a)
    check(users == [b"level1"],
          "credProtect: without UV and allowList only level 1 is found")
    c.assert_(rp, creds[2])
    ok("credProtect 2 found without UV through its allowList")
    expect_ctap(ERR.NO_CREDENTIALS, c.assert_, rp, creds[3])
    ok("credProtect 3 not usable without UV, even listed")
    nr = c.make(rp, ES256, ext={"credProtect": 3})
    expect_sw(APDU.WRONG_DATA, Ctap1(c.dev).authenticate, os.urandom(32),
              sha256(rp.encode()), nr["id"])
    ok("credProtect 3 credential refused by U2F: 6A80")
    return creds


def t_cred_protect_uv(c, creds):
    rp = "protect.example.com"
    proto, token = c.pin_token(ClientPin.PERMISSION.GET_ASSERTION, rp)
    cdh = os.urandom(32)
    a = c.ctap.get_assertions(rp, cdh, None, None, None,
                              proto.authenticate(token, cdh), proto.VERSION)
    users = sorted(x.user["id"] for x in a)
    check(users == [b"level1", b"level2", b"level3"],
          "credProtect: with UV all three levels are found")
    for x in a:
        lvl = int(x.user["id"][-1:])
        c.verify_assertion(x, cdh, rp, ES256, creds[lvl]["pub"],
                           "getAssertion credProtect %d" % lvl, uv=True)


def lb_fragments(c, data, frag, proto=None, token=None):
    """Write the large-blob array in fragments as CTAP 2.1 §6.10.2 says:
    `length` (the total) on the first fragment only."""
    off = 0
    while off < len(data):
        part = data[off:off + frag]
        param = None
        if token:
            msg = b"\xff" * 32 + b"\x0c\x00" + struct.pack("<I", off) + \
                sha256(part)
            param = proto.authenticate(token, msg)
        c.ctap.large_blobs(off, set=part,
                           length=len(data) if off == 0 else None,
                           pin_uv_param=param,
                           pin_uv_protocol=proto.VERSION if token else None)
        off += len(part)


def blob_array_of_size(n):
    """A valid large-blob array (CTAP 2.1 §6.10.3 entries) whose CBOR
    encoding is exactly n bytes, so the whole storage gets used."""
    from fido2 import cbor
    k = n
    for _ in range(8):
        enc = cbor.encode([{1: os.urandom(k), 2: os.urandom(12), 3: k}])
        if len(enc) == n:
            return enc
        k -= len(enc) - n
        if k <= 0:
            return None
    return None


def lb_read(c, frag):
    buf, off = b"", 0
    while True:
        part = c.ctap.large_blobs(off, get=frag)[1]
        buf += part
        if len(part) < frag:
            return buf
        off += frag


def t_large_blobs(c, with_pin):
    info = c.ctap.get_info()
    if not info.options.get("largeBlobs"):
        fail("getInfo: largeBlobs not offered")
        return
    proto = token = None
    if with_pin:
        proto, token = c.pin_token(ClientPin.PERMISSION.LARGE_BLOB_WRITE)
    lb = LargeBlobs(c.ctap, proto, token)
    arr = [{1: os.urandom(40), 2: os.urandom(12), 3: 100}]
    lb.write_blob_array(arr)
    check(lb.read_blob_array() == arr,
          "large blobs%s: single-fragment write, read back" %
          (" (PIN)" if with_pin else ""))
    # A multi-fragment write done by the spec (0.9.1's write_blob_array
    # sends `length` on every fragment; see REFERENCES.md).
    room = info.max_large_blob or 1024
    body = blob_array_of_size(room - 16)
    if body is None:
        fail("large blobs: cannot size a test array for %d bytes" % room)
        return
    data = body + sha256(body)[:16]
    frag = max(64, len(data) // 3)
    lb_fragments(c, data, frag, proto, token)
    check(lb_read(c, frag) == data,
          "large blobs: %d bytes in %d fragments, read back" %
          (len(data), (len(data) + frag - 1) // frag))
    if with_pin:
        expect_ctap(ERR.PIN_REQUIRED, c.ctap.large_blobs, 0,
                    set=data[:64], length=len(data))
        ok("large blobs with a PIN set: write without a token refused")
    # The library's quirk seen from the key: length on a later fragment.
    try:
        c.ctap.large_blobs(0, set=data[:frag], length=len(data),
                           pin_uv_param=lb_param(proto, token, 0,
                                                 data[:frag]),
                           pin_uv_protocol=proto.VERSION if token else None)
        c.ctap.large_blobs(frag, set=data[frag:2 * frag],
                           length=len(data),
                           pin_uv_param=lb_param(proto, token, frag,
                                                 data[frag:2 * frag]),
                           pin_uv_protocol=proto.VERSION if token else None)
        fail("large blobs: `length` on a non-first fragment accepted")
    except CtapError as e:
        check(e.code == ERR.INVALID_PARAMETER,
              "large blobs: `length` on a non-first fragment refused "
              "(CTAP1_ERR_INVALID_PARAMETER)")
    # Back to a small array: 0.9.1's own writes work in one fragment only.
    lb.write_blob_array([])
    check(lb.read_blob_array() == [], "large blobs: emptied again")
    if info.options.get("rk") and with_pin:
        t_large_blob_key(c)


def lb_param(proto, token, off, part):
    if not token:
        return None
    msg = b"\xff" * 32 + b"\x0c\x00" + struct.pack("<I", off) + sha256(part)
    return proto.authenticate(token, msg)


def t_large_blob_key(c):
    rp = "blob.example.com"
    proto, token = c.pin_token(ClientPin.PERMISSION.MAKE_CREDENTIAL, rp)
    cdh = os.urandom(32)
    att = c.ctap.make_credential(
        cdh, {"id": rp, "name": rp}, {"id": b"blobuser", "name": "b"},
        [{"type": "public-key", "alg": ES256}], None, {"largeBlobKey": True},
        {"rk": True}, proto.authenticate(token, cdh), proto.VERSION)
    c.verify_attestation(att, cdh, rp, "makeCredential largeBlobKey")
    key = att.large_blob_key
    if not check(key is not None and len(key) == 32,
                 "makeCredential largeBlobKey: 32-byte key returned"):
        return
    proto, token = c.pin_token(ClientPin.PERMISSION.LARGE_BLOB_WRITE)
    lb = LargeBlobs(c.ctap, proto, token)
    lb.put_blob(key, b"vkey large blob " * 20)
    a = c.ctap.get_assertion(rp, os.urandom(32), None, {"largeBlobKey": True})
    check(a.large_blob_key == key and
          lb.get_blob(a.large_blob_key) == b"vkey large blob " * 20,
          "largeBlobKey from getAssertion opens the stored blob")


def t_bulk_create(c):
    rp = "bulk.example.com"
    creds = {}
    t0 = time.monotonic()
    for i in range(BULK):
        cred = c.make(rp, ES256, rk=True,
                      user={"id": b"bulk-%04d" % i, "name": "u%d" % i})
        creds[cred["id"]] = cred
    dt = time.monotonic() - t0
    check(len(creds) == BULK and dt < 60,
          "%d discoverable credentials created in %.1f s (%.1f ms each), "
          "every attestation verified" % (BULK, dt, dt * 1000 / BULK))
    return creds


def t_cred_mgmt(c, bulk):
    rp = "bulk.example.com"
    proto, token = c.pin_token(ClientPin.PERMISSION.CREDENTIAL_MGMT)
    cm = CredentialManagement(c.ctap, proto, token)
    meta = cm.get_metadata()
    n = meta[CredentialManagement.RESULT.EXISTING_CRED_COUNT]
    check(n >= BULK, "credMgmt metadata: %d discoverable credentials" % n)
    rps = cm.enumerate_rps()
    ids = [r[CredentialManagement.RESULT.RP]["id"] for r in rps]
    check(rp in ids, "credMgmt enumerateRPs lists %s (%d RPs)" %
          (rp, len(ids)))
    t0 = time.monotonic()
    got = cm.enumerate_creds(sha256(rp.encode()))
    dt = time.monotonic() - t0
    seen = {}
    for e in got:
        cid = e[CredentialManagement.RESULT.CREDENTIAL_ID]["id"]
        seen[cid] = e
    good = set(seen) == set(bulk)
    for cid, e in seen.items():
        if not good:
            break
        _, pub = cose_public_key(e[CredentialManagement.RESULT.PUBLIC_KEY])
        good = pub.public_numbers() == bulk[cid]["pub"].public_numbers() and \
            e[CredentialManagement.RESULT.USER]["id"] == \
            bulk[cid]["user"]["id"]
    check(good, "credMgmt enumerated all %d credentials of %s in %.1f s, "
          "ids, users and public keys match" % (len(got), rp, dt))
    t0 = time.monotonic()
    for cid in bulk:
        cm.delete_cred({"type": "public-key", "id": cid})
    dt = time.monotonic() - t0
    meta = cm.get_metadata()
    left = meta[CredentialManagement.RESULT.EXISTING_CRED_COUNT]
    check(left == n - BULK, "credMgmt deleted %d credentials in %.1f s "
          "(%d left)" % (BULK, dt, left))
    check(cm.enumerate_creds(sha256(rp.encode())) == [],
          "enumerating the emptied RP: no credentials")
    expect_ctap(ERR.NO_CREDENTIALS, c.ctap.get_assertion, rp, os.urandom(32))
    ok("getAssertion for the emptied RP: CTAP2_ERR_NO_CREDENTIALS")


def t_pin(c):
    cp = ClientPin(c.ctap)
    cp.set_pin(PIN)
    info = c.ctap.get_info()
    check(info.options.get("clientPin") is True, "PIN set: clientPin true")
    check(cp.get_pin_retries()[0] == 8, "PIN retries 8")
    # REFERENCES.md: 0.9.1 sends 0x09 without permissions here; CTAP 2.1
    # says MISSING_PARAMETER and the key must not loosen that.
    expect_ctap(ERR.MISSING_PARAMETER, cp.get_pin_token, PIN)
    ok("getPinUvAuthTokenUsingPinWithPermissions without permissions: "
       "CTAP2_ERR_MISSING_PARAMETER")
    bad = ClientPin(c.ctap)
    try:
        bad.get_pin_token("wrong-pin", ClientPin.PERMISSION.GET_ASSERTION,
                          RP)
        fail("a wrong PIN gave a token")
    except CtapError as e:
        check(e.code == ERR.PIN_INVALID, "wrong PIN: CTAP2_ERR_PIN_INVALID")
    check(cp.get_pin_retries()[0] == 7, "a wrong PIN costs one retry")
    c.pin_token(ClientPin.PERMISSION.GET_ASSERTION, RP)
    check(cp.get_pin_retries()[0] == 8, "the right PIN restores retries")
    cdh = os.urandom(32)
    expect_ctap(ERR.PIN_REQUIRED, c.ctap.make_credential, cdh,
                {"id": RP, "name": RP}, {"id": b"u", "name": "u"},
                [{"type": "public-key", "alg": ES256}], None, None,
                {"rk": True})
    ok("with a PIN set, a discoverable makeCredential needs a token")


def t_always_uv(c, reg):
    """CTAP 2.1 §7.2.4: alwaysUv turns U2F off; SELECT then says
    FIDO_2_0 (CTAP2 only)."""
    aid = bytes.fromhex("A0000006472F0001")
    app = "https://u2f.example.com"

    def toggle():
        proto, token = c.pin_token(ClientPin.PERMISSION.AUTHENTICATOR_CFG)
        Config(c.ctap, proto, token).toggle_always_uv()
        return c.ctap.get_info()

    info = toggle()
    check(info.options.get("alwaysUv") is True, "alwaysUv toggled on")
    resp, sw = c.apdu(b"\x00\xa4\x04\x00\x08" + aid)
    check(sw == 0x9000 and resp == b"FIDO_2_0",
          "alwaysUv: SELECT answers FIDO_2_0")
    expect_sw(0x6986, Ctap1(c.dev).register, os.urandom(32), os.urandom(32))
    expect_sw(0x6986, u2f_auth, c, app, reg)
    ok("alwaysUv: U2F register and authenticate refused (6986)")
    check("U2F_V2" not in info.versions,
          "alwaysUv: getInfo versions without U2F_V2: %s" % info.versions)
    info = toggle()
    resp, sw = c.apdu(b"\x00\xa4\x04\x00\x08" + aid)
    check(info.options.get("alwaysUv") is False and resp == b"U2F_V2" and
          u2f_auth(c, app, reg) == 1,
          "alwaysUv off again: U2F_V2 and U2F authenticate are back")


def t_client(c):
    """WebAuthn through python-fido2's Fido2Client, fixed origin."""
    client = Fido2Client(c.dev, ORIGIN)
    user = {"id": b"client-user", "name": "alice", "displayName": "Alice"}
    for alg in (ES256, EDDSA):
        res = client.make_credential({
            "rp": {"id": RP, "name": "Example"}, "user": user,
            "challenge": os.urandom(32),
            "pubKeyCredParams": [{"type": "public-key", "alg": alg}],
            "authenticatorSelection": {"requireResidentKey": True,
                                       "userVerification": "required"},
        }, pin=PIN)
        cdh = res.client_data.hash
        cid, a, pub = c.verify_attestation(res.attestation_object, cdh, RP,
                                           "Fido2Client make_credential")
        check(res.attestation_object.auth_data.flags & 0x05 == 0x05,
              "Fido2Client make_credential alg %d with PIN: UP+UV" % alg)
        sel = client.get_assertion({
            "rpId": RP, "challenge": os.urandom(32),
            "allowCredentials": [{"type": "public-key", "id": cid}],
            "userVerification": "required"}, pin=PIN)
        r = sel.get_response(0)
        ad = AuthenticatorData(r.authenticator_data)
        good = sig_ok(a, pub, bytes(ad) + r.client_data.hash, r.signature)
        check(good and ad.flags & 0x05 == 0x05,
              "Fido2Client get_assertion alg %d with PIN: UP+UV, verified"
              % alg)
    try:
        client.get_assertion({"rpId": RP, "challenge": os.urandom(32)})
        fail("Fido2Client without PIN on a PIN-protected key succeeded")
    except ClientError:
        ok("Fido2Client without PIN on a PIN-protected key: refused")


def t_reset(c):
    c.power_cycle()
    c.ctap.reset()
    info = c.ctap.get_info()
    c.counter = 0  # a factory reset may start the counter again
    check(info.options.get("clientPin") is False,
          "reset within the power-up window: PIN gone")
    expect_ctap(ERR.NO_CREDENTIALS, c.ctap.get_assertion, "rk.example.com",
                os.urandom(32))
    ok("reset: discoverable credentials gone")
    time.sleep(10.5)
    expect_ctap(ERR.NOT_ALLOWED, c.ctap.reset)
    ok("reset 10 s after power-up: CTAP2_ERR_NOT_ALLOWED")


def phase_auto(c):
    t_framing(c)
    t_info(c)
    t_make_get(c)
    u2f_reg = t_u2f(c)
    h = t_hmac_secret_no_uv(c)
    prot = t_cred_protect_no_pin(c)
    t_large_blobs(c, with_pin=False)
    bulk = t_bulk_create(c)
    t_pin(c)
    t_always_uv(c, u2f_reg)
    t_client(c)
    t_hmac_secret_uv(c, h)
    t_cred_protect_uv(c, prot)
    t_cred_mgmt(c, bulk)
    t_large_blobs(c, with_pin=True)
    t_reset(c)
    # What the next daemon runs use: made after the reset, so it must
    # survive a restart of the daemon.
    c.power_cycle()
    cred = c.make("carry.example.com", ES256)
    reg = u2f_register(c, "carry.example.com")
    with open(c.args.carry, "w") as f:
        json.dump({"cred": cred["id"].hex(),
                   "cred_pub": cred["att"].auth_data.credential_data
                   .public_key[-2].hex() + cred["att"].auth_data
                   .credential_data.public_key[-3].hex(),
                   "u2f": reg["id"].hex(), "u2f_pub": reg["raw"].hex(),
                   "counter": c.counter}, f)


def load_carry(c):
    with open(c.args.carry) as f:
        d = json.load(f)
    c.counter = d["counter"]
    cred = {"id": bytes.fromhex(d["cred"]), "alg": ES256,
            "pub": p256_point(b"\x04" + bytes.fromhex(d["cred_pub"]))}
    raw = bytes.fromhex(d["u2f_pub"])
    reg = {"id": bytes.fromhex(d["u2f"]), "alg": ES256,
           "pub": p256_point(raw), "raw": raw}
    return cred, reg


def phase_deny(c):
    cred, reg = load_carry(c)
    rp = "carry.example.com"
    expect_ctap(ERR.OPERATION_DENIED, c.make, rp, ES256)
    ok("deny: makeCredential refused (CTAP2_ERR_OPERATION_DENIED)")
    expect_ctap(ERR.OPERATION_DENIED, c.assert_, rp, cred)
    ok("deny: getAssertion with up refused")
    c.assert_(rp, cred, options={"up": False}, up=False)
    ok("deny: silent getAssertion (up=false) works after a restart, "
       "verified, counter kept growing")
    expect_sw(APDU.USE_NOT_SATISFIED, Ctap1(c.dev).register, os.urandom(32),
              os.urandom(32))
    ok("deny: U2F register 6985")
    expect_sw(APDU.USE_NOT_SATISFIED, u2f_auth, c, rp, reg)
    ok("deny: U2F authenticate (enforce) 6985")
    check(u2f_auth(c, rp, reg, p1=0x08) == 0,
          "deny: U2F dont-enforce works after a restart, verified")
    c.power_cycle()
    expect_ctap(ERR.OPERATION_DENIED, c.ctap.reset)
    ok("deny: reset refused")


def vkey_cli(args, *cmd):
    p = subprocess.run(["timeout", "30", args.vkey] + list(cmd) +
                       ["--state", args.state], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    return p.returncode, p.stdout.decode(errors="replace")


class Toucher:
    """Approve the next touch request through `vkey touch`; with status,
    first ask `vkey status` what the daemon is doing."""

    def __init__(self, args, delay, status=False):
        self.args, self.delay, self.rc = args, delay, None
        self.status = "" if status else None
        self.t = threading.Thread(target=self.run)
        self.t.start()

    def run(self):
        time.sleep(self.delay)
        if self.status is not None:
            self.status = vkey_cli(self.args, "status")[1]
        self.rc = vkey_cli(self.args, "touch", "--timeout", "20")[0]

    def join(self):
        self.t.join()
        return self.rc


def phase_prompt(c):
    cred, reg = load_carry(c)
    rp = "carry.example.com"
    seen = []
    touch = Toucher(c.args, 0.5, status=True)
    t0 = time.monotonic()
    made = c.make(rp, ES256, on_keepalive=seen.append)
    dt = time.monotonic() - t0
    check(touch.join() == 0 and STATUS_UPNEEDED in seen and dt >= 0.4,
          "prompt: makeCredential waited %.1f s with 9100 updates %s, "
          "then `vkey touch` approved it" % (dt, sorted(set(seen))))
    check("waiting for touch" in touch.status and
          ("fido: busy with a command" in touch.status or
           "applets: busy" in touch.status),
          "prompt: `vkey status` during the wait names the touch and "
          "does not touch the busy FIDO state")
    rc, out = vkey_cli(c.args, "status")
    check(rc == 0 and "fido: " in out and "discoverable" in out,
          "`vkey status` reports the FIDO applet: %s" %
          " / ".join(l for l in out.splitlines() if l.startswith("fido:")))
    seen = []
    t0 = time.monotonic()
    expect_ctap(ERR.USER_ACTION_TIMEOUT, c.assert_, rp, cred,
                on_keepalive=seen.append)
    dt = time.monotonic() - t0
    check(STATUS_UPNEEDED in seen and 2 < dt < 10,
          "prompt: unanswered getAssertion timed out after %.1f s "
          "(CTAP2_ERR_USER_ACTION_TIMEOUT)" % dt)
    touch = Toucher(c.args, 0.3)
    c.assert_(rp, made)
    check(touch.join() == 0, "prompt: getAssertion approved, verified")
    # P1 00 (no NFCCTAP_GETRESPONSE support, libfido2's way): the key
    # answers only when done, never 9100.
    touch = Toucher(c.args, 0.3)
    req = b"\x0b"  # authenticatorSelection: just a touch
    resp, sw = c.apdu(b"\x80\x10\x00\x00" + bytes([len(req)]) + req + b"\x00")
    check(touch.join() == 0 and sw == 0x9000 and resp == b"\x00",
          "prompt: NFCCTAP_MSG P1 00 blocks until the touch, no 9100")
    touch = Toucher(c.args, 0.3)
    check(u2f_auth(c, rp, reg) == 1 and touch.join() == 0,
          "prompt: U2F authenticate approved by `vkey touch`, verified")
    # A client that walks away mid-wait (re-SELECT) must not wedge the key.
    resp, sw = c.apdu(b"\x80\x10\x80\x00\x01\x0b\x00")
    aid = bytes.fromhex("A0000006472F0001")
    r2, sw2 = c.apdu(b"\x00\xa4\x04\x00\x08" + aid)
    _, sw3 = c.apdu(b"\x80\x11\x00\x00\x00")
    check(sw == 0x9100 and resp == bytes([STATUS_UPNEEDED]) and
          sw2 == 0x9000 and sw3 == 0x6985,
          "prompt: SELECT abandons a command waiting for a touch")
    c.assert_(rp, cred, options={"up": False}, up=False)
    ok("prompt: the key answers normally afterwards")


def phase_chains(args):
    """Check every leaf recorded earlier against the key's CA, as
    `vkey attestation export` printed it."""
    ca = load_cert(args.ca) if args.ca else None
    if not check(ca is not None, "attestation CA exported by vkey"):
        return
    check(cert_signed_by(ca, ca) and is_ca(ca) and valid_now(ca),
          "attestation CA: self-signed, CA:TRUE, valid now")
    seen = json.load(open(args.leafs)) if os.path.exists(args.leafs) else []
    good = 0
    for e in seen:
        chain = [x509.load_der_x509_certificate(bytes.fromhex(h))
                 for h in e["chain"]]
        good += verify_chain(ca, chain[0], chain[1:], e["what"])
    check(seen and good == len(seen),
          "%d attestation certificate(s) seen chain to the key's CA" %
          len(seen))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reader", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--vkey", required=True)
    ap.add_argument("--phase", required=True,
                    choices=("auto", "deny", "prompt", "chains"))
    ap.add_argument("--carry", required=True)
    ap.add_argument("--leafs", required=True,
                    help="attestation chains seen before the CA was known")
    ap.add_argument("--ca", help="the key's attestation CA (PEM or DER)")
    args = ap.parse_args()
    c = Ctx(args)
    try:
        if args.phase == "chains":
            phase_chains(args)
        else:
            c.connect()
            {"auto": phase_auto, "deny": phase_deny,
             "prompt": phase_prompt}[args.phase](c)
    except Exception as e:  # report, then count it as a failure
        traceback.print_exc()
        fail("%s phase stopped: %r" % (args.phase, e))
    finally:
        if c.dev is not None:
            try:
                c.dev.close()
            except Exception:
                pass
        c.trust.save_pending(args.leafs)
    if FAILS:
        print("%d check(s) failed in the %s phase" % (len(FAILS), args.phase))
        return 1
    print("all %s-phase FIDO checks passed" % args.phase)
    return 0


if __name__ == "__main__":
    sys.exit(main())
