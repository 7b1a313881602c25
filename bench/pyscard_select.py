#!/usr/bin/python3
# SELECT round trips through pyscard, as the reference figures in
# REFERENCES.md were measured: pyscard_select.py [-n N] READER LABEL ...
# With two readers, the second line gives its ratio to the first.
import sys
import time

from smartcard.System import readers

SELECT_OATH = [0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01]


def measure(name, n):
    reader = next(r for r in readers() if str(r) == name)
    conn = reader.createConnection()
    conn.connect()
    ts = []
    for i in range(50 + n):
        t0 = time.perf_counter()
        _, sw1, sw2 = conn.transmit(SELECT_OATH)
        dt = time.perf_counter() - t0
        if (sw1, sw2) != (0x90, 0x00):
            sys.exit("%s: SELECT answered %02X%02X" % (name, sw1, sw2))
        if i >= 50:
            ts.append(dt)
    conn.disconnect()
    ts.sort()
    return ts[n // 2] * 1e6, ts[n * 9 // 10] * 1e6


def main(argv):
    n = 2000
    if argv[:1] == ["-n"]:
        n, argv = int(argv[1]), argv[2:]
    first = None
    for name, label in zip(argv[0::2], argv[1::2]):
        med, p90 = measure(name, n)
        note = ""
        if first is None:
            first = med
        else:
            note = "%.2fx the first line" % (med / first)
        print("%-46s median %8.2f us  p90 %8.2f us  %s" % (
            "pyscard SELECT  " + label, med, p90, note), flush=True)


main(sys.argv[1:])
