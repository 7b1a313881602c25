#!/usr/bin/python3
"""What ykman 4.0.9's CLI does not print, read with its own library
(yubikit) for tests/e2e/piv_tools.sh: GET METADATA of a key slot, the PIN,
the PUK and the management key (ykman 5's `piv keys info`), and the
Yubico extensions of an attestation certificate.

  piv_tools_meta.py slot READER SLOT [PUBLIC.pem]
      "alg=ECCP256 pin=ONCE touch=NEVER origin=generated"; writes the
      public key the card reports; exit 3 when the slot is empty (6A88)
  piv_tools_meta.py pins READER
      "pin=3/3 pin_default=1 puk=3/3 puk_default=1 mgm=TDES
      mgm_default=1 mgm_touch=NEVER"
  piv_tools_meta.py attestation CERT.pem
      "version=5.7.1 serial=N pin=ONCE touch=NEVER"
"""
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from ykman.pcsc import list_devices
from yubikit.core.smartcard import ApduError, SmartCardConnection, SW
from yubikit.piv import PIN_POLICY, SLOT, TOUCH_POLICY, PivSession


def session_on(reader):
    devices = [d for d in list_devices(reader) if d.reader.name == reader]
    if not devices:
        sys.exit("no PC/SC reader named %r" % reader)
    return devices[0].open_connection(SmartCardConnection)


def cmd_slot(reader, slot, out=None):
    with session_on(reader) as conn:
        piv = PivSession(conn)
        try:
            m = piv.get_slot_metadata(SLOT(int(slot, 16)))
        except ApduError as e:
            if e.sw == SW.REFERENCE_DATA_NOT_FOUND:
                print("empty")
                return 3
            raise
    print(
        "alg=%s pin=%s touch=%s origin=%s"
        % (
            m.key_type.name,
            m.pin_policy.name,
            m.touch_policy.name,
            "generated" if m.generated else "imported",
        )
    )
    if out:
        with open(out, "wb") as f:
            f.write(
                m.public_key.public_bytes(
                    serialization.Encoding.PEM,
                    serialization.PublicFormat.SubjectPublicKeyInfo,
                )
            )
    return 0


def cmd_pins(reader):
    with session_on(reader) as conn:
        piv = PivSession(conn)
        pin = piv.get_pin_metadata()
        puk = piv.get_puk_metadata()
        mgm = piv.get_management_key_metadata()
    print(
        "pin=%d/%d pin_default=%d puk=%d/%d puk_default=%d mgm=%s "
        "mgm_default=%d mgm_touch=%s"
        % (
            pin.attempts_remaining,
            pin.total_attempts,
            pin.default_value,
            puk.attempts_remaining,
            puk.total_attempts,
            puk.default_value,
            mgm.key_type.name,
            mgm.default_value,
            mgm.touch_policy.name,
        )
    )
    return 0


def yubico_ext(cert, arc):
    oid = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.%d" % arc)
    try:
        return cert.extensions.get_extension_for_oid(oid).value.value
    except x509.ExtensionNotFound:
        return None


def cmd_attestation(path):
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    version = yubico_ext(cert, 3)
    serial = yubico_ext(cert, 7)
    policy = yubico_ext(cert, 8)
    out = []
    out.append("version=" + (".".join(str(b) for b in version) if version else "-"))
    # The serial is a DER INTEGER (02 len value).
    if serial and len(serial) >= 3 and serial[0] == 0x02:
        out.append("serial=%d" % int.from_bytes(serial[2 : 2 + serial[1]], "big"))
    else:
        out.append("serial=-")
    if policy and len(policy) == 2:
        out.append("pin=" + PIN_POLICY(policy[0]).name)
        out.append("touch=" + TOUCH_POLICY(policy[1]).name)
    else:
        out.append("pin=- touch=-")
    print(" ".join(out))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "slot":
        return cmd_slot(*argv[1:4])
    if len(argv) == 2 and argv[0] == "pins":
        return cmd_pins(argv[1])
    if len(argv) == 2 and argv[0] == "attestation":
        return cmd_attestation(argv[1])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
