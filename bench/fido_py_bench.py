#!/usr/bin/python3
# FIDO round trips driven by python-fido2 0.9.1 over PC/SC, the way the
# CanoKey anchors in REFERENCES.md were measured (so the Python client's
# own cost is in both): fido_py_bench.py [-n N] READER
import os
import sys
import time

from fido2.ctap1 import Ctap1
from fido2.ctap2 import Ctap2
from fido2.pcsc import CtapPcscDevice
from smartcard.System import readers

ANCHORS = {"makeCredential ES256": 2.0, "getAssertion ES256": 1.1,
           "getAssertion EdDSA": 4.4, "U2F authenticate": 1.5}
RP = {"id": "pybench.example", "name": "pybench"}


def median_p90(fn, n):
    for _ in range(20):
        fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[n // 2] * 1e3, ts[n * 9 // 10] * 1e3


def main(argv):
    n = 500
    if argv[:1] == ["-n"]:
        n, argv = int(argv[1]), argv[2:]
    reader = next(r for r in readers() if str(r) == argv[0])
    dev = CtapPcscDevice(reader.createConnection(), str(reader))
    ctap, ctap1 = Ctap2(dev), Ctap1(dev)
    cdh = os.urandom(32)
    user = {"id": b"pybench", "name": "pybench"}

    def make(alg):
        return ctap.make_credential(cdh, RP, user,
                                    [{"type": "public-key", "alg": alg}])

    creds = {}
    for alg in (-7, -8):
        cd = make(alg).auth_data.credential_data
        creds[alg] = [{"type": "public-key", "id": cd.credential_id}]
    app = os.urandom(32)
    kh = ctap1.register(cdh, app).key_handle
    ops = [
        ("makeCredential ES256", lambda: make(-7)),
        ("getAssertion ES256",
         lambda: ctap.get_assertion(RP["id"], cdh, creds[-7])),
        ("getAssertion EdDSA",
         lambda: ctap.get_assertion(RP["id"], cdh, creds[-8])),
        ("U2F authenticate", lambda: ctap1.authenticate(cdh, app, kh)),
    ]
    for name, fn in ops:
        med, p90 = median_p90(fn, n)
        a = ANCHORS[name]
        print("%-46s median %8.2f us  p90 %8.2f us  CanoKey %.1f ms: "
              "%.2fx (%s)" % ("python-fido2 " + name, med * 1e3, p90 * 1e3,
                              a, med / a, "beats" if med < a else "SLOWER"),
              flush=True)
    dev.close()


if __name__ == "__main__":
    main(sys.argv[1:])
