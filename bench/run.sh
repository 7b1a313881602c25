#!/bin/bash
# Run every vkey benchmark against a build dir and print the figures beside
# the reference anchors: bench/run.sh BUILD_DIR [ITERATIONS]
set -u -o pipefail

BUILD=$(cd "${1:?usage: bench/run.sh BUILD_DIR [ITERATIONS]}" && pwd)
N=${2:-2000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
VKEY=${VKEY:-$BUILD/vkey}
PY=/usr/bin/python3
VKEY_READER='Virtual PCD 00 00'
FLOOR_READER='Virtual PCD 00 01'

TMP=
VKEY_PID=
FLOOR_PID=
PCSC_UP=0

. "$SRC/scripts/pcscd-harness.sh"

cleanup() {
	stop_pid "$FLOOR_PID"
	stop_pid "$VKEY_PID"
	pcscd_stop
	[[ -n $TMP ]] && rm -rf "$TMP"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

header() {
	echo "== vkey benchmarks ($(date -u +%F), $(nproc) cores, N=$N;" \
		"medians and p90 in microseconds) =="
	echo "anchors measured earlier on this machine (pyscard, median of 2000):"
	echo "  CanoKey virtual card in pcscd: SELECT 70 us, OATH CALCULATE 80 us"
	echo "  do-nothing C card through vpcd: SELECT 85 us"
	echo "  CanoKey virtual card (python-fido2): makeCredential ES256 2.0 ms," \
		"getAssertion ES256 1.1 ms, EdDSA 4.4 ms, U2F authenticate 1.5 ms"
	echo
}

inproc() {
	echo "-- (c, d) in process: vkey_apdu() and the raw primitive"
	"$BUILD/bench/inproc_bench" "$TMP/inproc.db" $((N * 10)) ||
		echo "inproc_bench failed"
	echo
}

# Private pcscd: vkey serve in slot 00 00, the do-nothing card in 00 01.
start_pcsc() {
	pcscd_lock 300 || return 1
	PORT=$(pcscd_free_port_pair) || return 1
	pcscd_start "$TMP" "$PORT" || return 1
	"$VKEY" serve --state "$TMP/key.db" --vpcd "127.0.0.1:$PORT" \
		--up auto >"$TMP/vkey.log" 2>&1 &
	VKEY_PID=$!
	"$BUILD/bench/floor_card" $((PORT + 1)) &
	FLOOR_PID=$!
	pcscd_wait_card "$VKEY_READER" 15 && pcscd_wait_card "$FLOOR_READER" 15 &&
		PCSC_UP=1
}

pcsc() {
	local idle
	echo "-- (a, b, e) through PC/SC: libpcsclite -> pcscd -> vpcd -> card"
	if ! start_pcsc; then
		echo "PC/SC benchmarks skipped (no pcscd/vpcd or vkey did not connect)"
		[[ -f $TMP/vkey.log ]] && tail -5 "$TMP/vkey.log"
		return
	fi
	sleep 1
	idle=$(rss_kib "$VKEY_PID")
	timeout 300 "$BUILD/bench/pcsc_bench" -n "$N" \
		--floor-reader "$FLOOR_READER" --vkey-reader "$VKEY_READER" ||
		echo "pcsc_bench failed"
	timeout 300 "$PY" "$SRC/bench/pyscard_select.py" -n "$N" \
		"$FLOOR_READER" "do-nothing C card (floor)" \
		"$VKEY_READER" "vkey serve" || echo "pyscard_select failed"
	echo
	echo "-- (f) memory of one vkey serve with one key"
	printf '%-46s %6s KiB\n' "VmRSS idle (connected, before any APDU)" "$idle"
	printf '%-46s %6s KiB\n' "VmRSS after the PC/SC runs" "$(rss_kib "$VKEY_PID")"
}

# FIDO after the OATH figures (it stores 1,000 credentials in the daemon's
# key): fido_bench in process and through the same pcscd, then the
# client the CanoKey anchors were measured with.
fido() {
	local args=(--state "$TMP/fido-inproc.db" -n "$N")
	echo
	echo "-- (g) FIDO: raw OpenSSL, in process (vkey_apdu; ctap_cbor alone)" \
		"and through PC/SC"
	((PCSC_UP)) && args+=(--reader "$VKEY_READER")
	timeout 900 "$BUILD/bench/fido_bench" "${args[@]}" || echo "fido_bench failed"
	if ((PCSC_UP)) && "$PY" -c 'import fido2.pcsc' 2>/dev/null; then
		timeout 300 "$PY" "$SRC/bench/fido_py_bench.py" -n $((N / 4)) \
			"$VKEY_READER" || echo "fido_py_bench failed"
	fi
}

# ---- OpenPGP card ------------------------------------------------------
# PSO:CDS, PSO:DECIPHER and GENERATE through the same pcscd and vkey serve
# (its OpenPGP applet gets keys of its own), each beside the raw OpenSSL
# operation timed in the same run; RSA key generation is slow and
# variable, so it runs fewer times (about 30 s in all).
openpgp() {
	echo
	echo "-- (i) OpenPGP card through PC/SC: PSO and GENERATE beside raw OpenSSL"
	echo "   (CanoKey on this machine: P-256 sign 0.84 ms, Ed25519 2.2 ms," \
		"RSA-2048 2.7 ms, RSA-4096 11.9 ms, RSA-2048 keygen ~80 ms)"
	if ((!PCSC_UP)); then
		echo "OpenPGP benchmark skipped (no pcscd/vpcd with vkey serve)"
		return
	fi
	timeout 600 "$BUILD/bench/openpgp_bench" --reader "$VKEY_READER" \
		-n $((N / 5 < 10 ? 10 : N / 5)) --gen-2048 15 --gen-4096 5 ||
		echo "openpgp_bench failed"
}

# ---- PIV -----------------------------------------------------------------
# GENERAL AUTHENTICATE (sign, ECDH) and GENERATE through the same pcscd
# and vkey serve (its PIV applet gets keys of its own), each beside the
# raw OpenSSL operation timed in the same run; RSA key generation runs
# fewer times (about 30 s in all).
piv() {
	echo
	echo "-- (j) PIV through PC/SC: GENERAL AUTHENTICATE and GENERATE beside raw OpenSSL"
	echo "   (CanoKey on this machine: P-256 sign 0.74 ms, RSA-2048 sign 2.4 ms," \
		"RSA-2048 keygen ~57 ms)"
	if ((!PCSC_UP)); then
		echo "PIV benchmark skipped (no pcscd/vpcd with vkey serve)"
		return
	fi
	timeout 600 "$BUILD/bench/piv_bench" --reader "$VKEY_READER" \
		-n $((N / 5 < 10 ? 10 : N / 5)) --gen-2048 15 --gen-4096 5 ||
		echo "piv_bench failed"
}

# A libfido2 client inside a QEMU guest, through usb-redir and CTAPHID (two
# guest boots, about a minute; VKEY_BENCH_GUEST=0 skips it).
guest() {
	echo
	echo "-- (h) FIDO from inside a QEMU guest (usb-redir, CTAPHID, hidraw, libfido2)"
	timeout 900 "$SRC/bench/guest_bench.sh" "$VKEY" 300 || echo "guest_bench failed"
}

main() {
	TMP=$(mktemp -d /tmp/vkey-bench.XXXXXX)
	header
	[[ -x $BUILD/bench/inproc_bench ]] && inproc
	if [[ -x $BUILD/bench/pcsc_bench && -x $VKEY ]] && command -v pcscd >/dev/null; then
		pcsc
	else
		echo "PC/SC benchmarks skipped (pcsc_bench, vkey or pcscd missing)"
	fi
	if [[ -x $BUILD/bench/fido_bench ]]; then
		fido
	fi
	if [[ -x $BUILD/bench/openpgp_bench ]]; then
		openpgp
	fi
	if [[ -x $BUILD/bench/piv_bench ]]; then
		piv
	fi
	if [[ ${VKEY_BENCH_GUEST:-1} != 0 ]]; then
		guest
	fi
}

main
