#!/bin/bash
# End to end: unmodified ykman 4.0.9 reads vkey's device information and
# switches applications off and on through a private pcscd + vpcd; each
# change is checked by the applet then answering like an absent one (the
# same error ykman gives for OTP, which vkey does not have) and by the
# change surviving a restart of the daemon. docs/MGMT.md.
#
# Env (set by meson): VKEY (the binary), VKEY_SOURCE_ROOT. Exit 77 = skip.
set -u -o pipefail

READER='Virtual PCD 00 00'
SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VKEY=${VKEY:?VKEY must name the vkey binary}
PY=/usr/bin/python3
LOCK=00112233445566778899aabbccddeeff

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

need() {
	command -v "$1" >/dev/null || { log "SKIP: $1 not installed"; exit 77; }
}

yk() { timeout 60 ykman --reader "$READER" "$@" </dev/null 2>&1; }

# The status of one application in `ykman info`'s table ("Enabled",
# "Disabled", "Not available").
app_status() {
	local info=$1 app=$2
	awk -F'\t' -v a="$app" '{ sub(/ +$/, "", $1) } $1 == a {
		s = $2; sub(/ +$/, "", s); print s }' <<<"$info"
}

expect_apps() {
	local info=$1 want=$2 row app status got
	while IFS='=' read -r app status; do
		got=$(app_status "$info" "$app")
		[[ $got == "$status" ]] ||
			fail "info: $app is '$got', expected '$status'"
	done <<<"$want"
}

ALL_ON='OTP=Not available
FIDO U2F=Enabled
FIDO2=Enabled
OATH=Enabled
PIV=Enabled
OpenPGP=Enabled
YubiHSM Auth=Not available'

# What the device itself says, read with pyscard: the SELECT text.
check_select_text() {
	local out
	out=$(timeout 20 "$PY" - "$READER" <<'EOF'
import sys
from smartcard.System import readers
r = [x for x in readers() if str(x) == sys.argv[1]][0]
c = r.createConnection()
c.connect()
data, sw1, sw2 = c.transmit(list(bytes.fromhex("00A4040008A000000527471117")))
print("%02X%02X %s" % (sw1, sw2, bytes(data).decode()))
EOF
	) || { fail "pyscard SELECT: $out"; return; }
	[[ $out == "9000 vkey management 5.7.1" ]] ||
		fail "management SELECT answered '$out'"
	log "ok   SELECT management: ${out#* }"
}

check_info() {
	local out serial
	serial=$(timeout 10 "$VKEY" status --state "$TMP/key.db" |
		awk '$1 == "serial:" { print $2 }')
	[[ -n $serial ]] || fail "vkey status shows no serial"
	out=$(yk info) || { fail "ykman info: $out"; return; }
	log "--- ykman info ---"
	log "$out"
	log "---"
	grep -qx "Serial number: $serial" <<<"$out" ||
		fail "info: serial is not the key's ($serial)"
	grep -qx 'Firmware version: 5.7.1' <<<"$out" ||
		fail "info: firmware version is not 5.7.1"
	grep -q '^Form factor' <<<"$out" &&
		fail "info: a form factor is claimed"
	grep -qi 'nfc' <<<"$out" && fail "info: an NFC transport is claimed"
	grep -q 'Configured capabilities are protected' <<<"$out" &&
		fail "info: locked without a lock code"
	expect_apps "$out" "$ALL_ON"
	# ykman names every device it reads after Yubico's products; the
	# name is its own inference, so it is only noted here.
	log "note ykman's own name for the device: $(sed -n 's/^Device type: //p' <<<"$out")"
	log "ok   info: serial $serial, 5.7.1, no form factor, no NFC, apps"
}

# What ykman says for an application vkey really lacks (OTP).
ABSENT=
check_absent_reference() {
	ABSENT=$(yk otp info) && fail "ykman otp info succeeded: $ABSENT"
	grep -q 'not enabled or not available' <<<"$ABSENT" ||
		fail "otp info: unexpected error: $ABSENT"
	log "ok   absent OTP: $(tail -1 <<<"$ABSENT")"
}

# switch APP (ykman name) off, then run CMD...: it must fail exactly as
# the absent OTP application does, and info must show APP disabled.
check_disabled() {
	local app=$1 shown=$2 out
	shift 2
	out=$(yk config usb --disable "$app" --force) ||
		{ fail "config usb --disable $app: $out"; return; }
	out=$("${@}") && { fail "$* worked with $app disabled: $out"; return; }
	[[ $(tail -1 <<<"$out") == "$(tail -1 <<<"$ABSENT")" ]] ||
		fail "$* with $app disabled: '$out', absent OTP: '$ABSENT'"
	out=$(yk info) || { fail "info: $out"; return; }
	[[ $(app_status "$out" "$shown") == Disabled ]] ||
		fail "info does not show $shown disabled"
	log "ok   $app disabled: '$*' fails as for an absent application"
}

check_enabled() {
	local app=$1 shown=$2 out
	shift 2
	out=$(yk config usb --enable "$app" --force) ||
		{ fail "config usb --enable $app: $out"; return; }
	out=$("${@}") || { fail "$* with $app enabled again: $out"; return; }
	log "ok   $app enabled again: '$*' works"
}

# A disabled applet stays disabled across a daemon restart.
check_persists() {
	local out
	out=$(yk config usb --disable OATH --disable OPENPGP --force) ||
		{ fail "disable OATH+OPENPGP: $out"; return; }
	stop_vkey
	start_vkey
	out=$(yk info) || { fail "info after restart: $out"; return; }
	expect_apps "$out" 'OATH=Disabled
OpenPGP=Disabled
PIV=Enabled'
	out=$(yk oath accounts list) && fail "OATH works after restart: $out"
	out=$(yk openpgp info) && fail "OpenPGP works after restart: $out"
	out=$(timeout 10 "$VKEY" status --state "$TMP/key.db" 2>&1)
	grep -q '^mgmt: applications enabled: FIDO U2F, FIDO2, PIV; disabled: OATH, OpenPGP;' \
		<<<"$out" || fail "vkey status: $out"
	out=$(yk config usb --enable-all --force) ||
		{ fail "enable-all: $out"; return; }
	out=$(yk info)
	expect_apps "$out" "$ALL_ON"
	log "ok   switches persist across a daemon restart; --enable-all"
}

# FIDO over the reader (CTAP over ISO 7816): both halves off, the FIDO
# applet is absent and ykman's FIDO commands fail; back on, they work.
check_fido() {
	local out
	out=$(yk fido info) || { fail "fido info: $out"; return; }
	out=$(yk config usb --disable FIDO2 --disable U2F --force) ||
		{ fail "disable FIDO2+U2F: $out"; return; }
	out=$(yk fido info) && fail "fido info worked with FIDO off: $out"
	# python-fido2's words for a SELECT of the FIDO AID answered 6A82.
	grep -q 'FIDO applet selection failure' <<<"$out" ||
		fail "fido info with FIDO off: $out"
	out=$(yk config usb --enable FIDO2 --enable U2F --force) ||
		{ fail "enable FIDO2+U2F: $out"; return; }
	out=$(yk fido info) || fail "fido info with FIDO on again: $out"
	log "ok   FIDO off: 'fido info' fails; on again: works"
}

# ykman's client-side refusals keep working (OTP is not supported).
check_refusals() {
	local out
	out=$(yk config usb --enable OTP --force) &&
		fail "enable OTP accepted: $out"
	grep -q 'OTP not supported over USB' <<<"$out" ||
		fail "enable OTP: $out"
	out=$(yk config nfc --disable OATH --force) &&
		fail "config nfc accepted: $out"
	grep -q 'NFC not available' <<<"$out" || fail "config nfc: $out"
	log "ok   OTP and NFC refused"
}

check_lock_code() {
	local out
	out=$(yk config set-lock-code -n "$LOCK" --force) ||
		{ fail "set-lock-code: $out"; return; }
	out=$(yk info)
	grep -q 'Configured capabilities are protected by a lock code' \
		<<<"$out" || fail "info does not show the lock: $out"
	out=$(yk config usb --disable PIV --force) &&
		fail "config without the lock code worked: $out"
	out=$(yk config usb --disable PIV --force -L "${LOCK%??}00") &&
		fail "config with a wrong lock code worked: $out"
	grep -q 'Failed to configure' <<<"$out" ||
		fail "wrong lock code: $out"
	out=$(yk config usb --disable PIV --force -L "$LOCK") ||
		fail "config with the lock code: $out"
	out=$(yk config usb --enable PIV --force -L "$LOCK") ||
		fail "enable PIV with the lock code: $out"
	out=$(yk config set-lock-code --clear -l "$LOCK" --force) ||
		fail "clear lock code: $out"
	log "ok   lock code set, required, cleared"
}

start_vkey() {
	vkey_serve "$TMP/vkey.log" "$PORT" --state "$TMP/key.db" -v ||
		die "vkey did not show up in $READER"
}

stop_vkey() {
	vkey_serve_stop "$TMP/vkey.log" >"$TMP/vkey-stop.txt" ||
		fail "$(cat "$TMP/vkey-stop.txt")"
}

main() {
	local t t0=$SECONDS
	for t in pcscd ykman flock; do need "$t"; done
	[[ -x $PY ]] && "$PY" -c 'import smartcard' 2>/dev/null ||
		{ log "SKIP: python3-pyscard missing"; exit 77; }
	TMP=$(mktemp -d /tmp/vkey-mgmt.XXXXXX)
	export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/home/.config
	mkdir -p "$HOME"
	pcscd_lock 300 || die "cannot get pcscd to ourselves"
	PORT=$(pcscd_free_port_pair) || die "no free port pair"
	pcscd_start "$TMP" "$PORT" || die "pcscd did not start"
	start_vkey
	log "pcscd pid $PCSCD_PID, vkey pid $VKEY_PID in '$READER'"

	check_select_text
	check_info
	check_absent_reference
	check_disabled OATH OATH yk oath accounts list
	check_enabled OATH OATH yk oath accounts list
	check_disabled PIV PIV yk piv info
	check_enabled PIV PIV yk piv info
	check_fido
	check_refusals
	check_lock_code
	check_persists
	stop_vkey
	log "took $((SECONDS - t0)) s"
	if ((FAILS)); then
		log "--- daemon log (tail) ---"
		tail -40 "$TMP/vkey.log"
		log "$FAILS check(s) failed"
		exit 1
	fi
	log "all ykman management checks passed"
}

main "$@"
