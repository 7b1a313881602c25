#!/bin/bash
# End to end: python-fido2 0.9.1 (CTAP2, ClientPin, CredentialManagement,
# LargeBlobs, Fido2Client, Ctap1) drives vkey's FIDO applet through a
# private pcscd + vpcd, once per user-presence policy: auto, deny (after
# a daemon restart on the same state) and prompt (answered by vkey touch).
# The checks and their signature verification live in fido_pcsc.py.
#
# Env (set by meson): VKEY (the binary), VKEY_SOURCE_ROOT. Exit 77 = skip.
set -u -o pipefail

READER='Virtual PCD 00 00'
SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VKEY=${VKEY:?VKEY must name the vkey binary}
PY=/usr/bin/python3
TEST_PY=$SRC/tests/e2e/fido_pcsc.py

TMP=
VKEY_PID=
FAILS=0

. "$SRC/scripts/pcscd-harness.sh"

log() { printf '%s\n' "$*"; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
die() { log "FATAL: $*"; exit 1; }

cleanup() {
	stop_pid "$VKEY_PID"
	pcscd_stop
	[[ -n $TMP ]] && rm -rf "$TMP"
}
trap cleanup EXIT

# start_vkey POLICY: a daemon on the shared state file, logging to its own
# file per policy.
start_vkey() {
	local policy=$1
	vkey_serve "$TMP/vkey-$policy.log" "$PORT" --state "$TMP/key.db" \
		--up "$policy" --up-timeout 3 -v ||
		die "vkey --up $policy did not show up in $READER"
}

# SIGTERM must end the daemon cleanly (exit 0), so that leak reports,
# which come at exit, reach the log; no sanitizer report.
stop_vkey() {
	local policy=$1
	vkey_serve_stop "$TMP/vkey-$policy.log" >"$TMP/vkey-stop.txt" ||
		fail "--up $policy: $(cat "$TMP/vkey-stop.txt")"
}

py_test() {
	timeout 600 "$PY" "$TEST_PY" --reader "$READER" --state "$TMP/key.db" \
		--vkey "$VKEY" --carry "$TMP/carry.json" --leafs "$TMP/leafs.json" \
		"$@"
}

run_phase() {
	local policy=$1
	local ca=()
	[[ -f $TMP/ca.pem ]] && ca=(--ca "$TMP/ca.pem")
	log "--- phase: vkey serve --up $policy"
	start_vkey "$policy"
	py_test --phase "$policy" "${ca[@]}" || fail "the $policy phase failed"
	stop_vkey "$policy"
}

# The chains seen so far, against the CA that `vkey attestation export`
# prints (here from the state file itself: the daemon has stopped).
check_chains() {
	log "--- attestation chains against the key's CA"
	timeout 30 "$VKEY" attestation export --state "$TMP/key.db" \
		>"$TMP/ca.pem" || fail "vkey attestation export"
	py_test --phase chains --ca "$TMP/ca.pem" || fail "attestation chains"
}

main() {
	local t
	for t in pcscd flock; do
		command -v "$t" >/dev/null || { log "SKIP: $t not installed"; exit 77; }
	done
	[[ -x $PY ]] && "$PY" -c 'import fido2.pcsc, smartcard, cryptography' \
		2>/dev/null || { log "SKIP: python3-fido2/pyscard missing"; exit 77; }
	TMP=$(mktemp -d /tmp/vkey-e2e-fido.XXXXXX)
	export HOME=$TMP/home
	mkdir -p "$HOME"
	pcscd_lock 300 || die "cannot get pcscd to ourselves"
	PORT=$(pcscd_free_port_pair) || die "no free port pair"
	pcscd_start "$TMP" "$PORT" || die "pcscd did not start"
	log "pcscd pid $PCSCD_PID, vpcd ports $PORT/$((PORT + 1))"
	run_phase auto
	[[ -f $TMP/carry.json ]] || die "the auto phase left no credential"
	check_chains
	run_phase deny
	run_phase prompt
	if ((FAILS)); then
		for t in auto deny prompt; do
			log "--- --up $t daemon log (tail)"
			tail -25 "$TMP/vkey-$t.log" 2>/dev/null
		done
		log "$FAILS check(s) failed"
		exit 1
	fi
	log "all FIDO end-to-end checks passed"
}

main "$@"
