#!/bin/bash
# End to end: the owner's commands (vkey list, reset, config) through a
# running daemon's control socket and on the state file (the same text
# both ways); each reset's effect seen by real clients over PC/SC
# (tests/admin/admin_card.py: python-fido2, raw APDUs through pyscard);
# vkey config persisted across restarts and honoured by vkey serve (the
# command line winning), applets switched off answering SELECT 6A82, the
# USB identity in `usbip list -r`; the control socket's permissions
# (tests/admin/ctl_peer.py).
#
# Env (set by meson): VKEY (the binary), VKEY_SOURCE_ROOT. Exit 77 = skip.
set -u -o pipefail

READER='Virtual PCD 00 00'
SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VKEY=${VKEY:?VKEY must name the vkey binary}
PY=/usr/bin/python3
CARD="$SRC/tests/admin/admin_card.py"

TMP=
VKEY_PID=
FAILS=0

. "$SRC/scripts/pcscd-harness.sh"

log() { printf '%s\n' "$*"; }
ok() { log "ok   $*"; }
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

vk() { timeout 20 "$VKEY" "$@" --state "$TMP/key.db" </dev/null 2>&1; }
card() { timeout 30 "$PY" "$CARD" "$READER" "$@" 2>&1; }

expect_eq() { # what got want
	if [[ $2 == "$3" ]]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi
}

start_vkey() { # extra serve options...
	vkey_serve "$TMP/vkey.log" "$PORT" --state "$TMP/key.db" -v "$@" ||
		die "vkey did not show up in $READER"
}

stop_vkey() {
	vkey_serve_stop "$TMP/vkey.log" >"$TMP/vkey-stop.txt" ||
		fail "$(cat "$TMP/vkey-stop.txt")"
}

# What `vkey list X` and `vkey X list` print, into $TMP/$1.list.
save_lists() {
	local tag=$1 a out
	for a in fido oath piv openpgp ndef; do
		out=$(vk list "$a") || fail "list $a ($tag): $out"
		printf '%s\n' "$out" >"$TMP/$tag.$a"
	done
	out=$(vk config show) || fail "config show ($tag): $out"
	printf '%s\n' "$out" >"$TMP/$tag.config"
}

# Phase A: a daemon with --up auto; data in every applet; settings.
phase_daemon_fill() {
	local out a
	start_vkey --up auto
	out=$(card fill)
	expect_eq "fill: every applet took its data" "$out" \
		'{"fido": "ok", "oath": "9000", "openpgp": "9000", "piv": "9000"}'
	out=$(vk ndef set-uri https://example.com/admin) || fail "ndef: $out"
	for a in oath openpgp piv; do
		expect_eq "$a changed before any reset" "$(card check $a)" changed
	done
	save_lists daemon
	grep -q 'example.com' "$TMP/daemon.fido" && ok "list fido shows the credential" ||
		fail "list fido: $(cat "$TMP/daemon.fido")"
	grep -q 'admin-test' "$TMP/daemon.oath" && ok "list oath shows the account" ||
		fail "list oath: $(cat "$TMP/daemon.oath")"
	expect_eq "vkey list oath = vkey oath list" "$(vk oath list)" "$(cat "$TMP/daemon.oath")"
	expect_eq "vkey list fido = vkey fido list" "$(vk fido list)" "$(cat "$TMP/daemon.fido")"
	expect_eq "vkey list piv = vkey piv list" "$(vk piv list)" "$(cat "$TMP/daemon.piv")"
	expect_eq "vkey list openpgp = vkey openpgp list" "$(vk openpgp list)" \
		"$(cat "$TMP/daemon.openpgp")"
	expect_eq "vkey list ndef = vkey ndef get" "$(vk ndef get)" "$(cat "$TMP/daemon.ndef")"

	expect_eq "config set usb-product" "$(vk config set usb-product 'Admin Test Key')" \
		"usb-product: Admin Test Key (vkey serve uses it from its next start, unless its command line gives --usb-product)"
	out=$(vk config set usb-pid 0xBEEF) || fail "usb-pid: $out"
	out=$(vk config set up deny) || fail "up: $out"
	out=$(vk config set up-timeout 0)
	[[ $? == 1 && $out == 'up-timeout takes 1..600 seconds' ]] &&
		ok "config refuses up-timeout 0" || fail "up-timeout 0: $out"
	expect_eq "config disable oath (daemon)" "$(vk config disable oath)" \
		"applets usb: enabled fido2,u2f,piv,openpgp; disabled oath"
	expect_eq "oath off at once: SELECT 6A82" "$(card select oath)" 6A82
	expect_eq "piv still on: SELECT 9000" "$(card select piv)" 9000
	save_lists daemon

	"$PY" "$SRC/tests/admin/ctl_peer.py" "$TMP/key.db.ctl" >"$TMP/peer.txt" 2>&1 ||
		fail "control socket checks: $(cat "$TMP/peer.txt")"
	while read -r line; do log "$line"; done <"$TMP/peer.txt"
	grep -q 'peer uid 65534 .* refused' "$TMP/vkey.log" &&
		ok "daemon logs the refused peer" || fail "no log line for the refused peer"
	stop_vkey
}

# Phase B: no daemon: the same text; a reset on the file; refusals.
phase_direct() {
	local a out
	for a in fido oath piv openpgp ndef config; do
		out=$(vk list "$a" 2>/dev/null)
		[[ $a == config ]] && out=$(vk config show)
		expect_eq "direct = daemon: ${a}" "$out" "$(cat "$TMP/daemon.$a")"
	done
	out=$(vk reset piv)
	[[ $? == 1 && $out == *'not on a terminal: give --yes'* ]] &&
		ok "reset without a terminal and --yes refused" || fail "reset piv: $out"
	expect_eq "direct reset oath" "$(vk reset oath --yes)" \
		"oath: back to its factory state"
	out=$(vk reset nosuch --yes)
	[[ $? == 1 && $out == *"no applet 'nosuch'"* ]] && ok "unknown applet refused" ||
		fail "reset nosuch: $out"
}

# Phase C: the daemon takes `config set up deny`; resets through it.
phase_daemon_resets() {
	local a out
	start_vkey
	grep -q "user presence: deny" "$TMP/vkey.log" &&
		ok "serve takes up deny from vkey config" || fail "serve ignored up deny"
	expect_eq "FIDO makeCredential refused under up deny" "$(card fido-make)" \
		"ctap-error OPERATION_DENIED"
	expect_eq "oath still off after the restart" "$(card select oath)" 6A82
	out=$(vk config enable oath) || fail "enable oath: $out"
	expect_eq "oath on again: SELECT 9000" "$(card select oath)" 9000
	expect_eq "oath reset on the file: account gone" "$(card check oath)" factory
	expect_eq "refused reset left piv as it was" "$(card check piv)" changed
	for a in openpgp piv fido ndef; do
		expect_eq "daemon reset $a" "$(vk reset "$a" --yes)" \
			"$a: back to its factory state"
	done
	expect_eq "openpgp PIN back to 123456" "$(card check openpgp)" factory
	expect_eq "piv management key back to the default" "$(card check piv)" factory
	expect_eq "fido: no credential listed" "$(vk list fido)" ""
	vk status | grep -qx 'fido: 0 discoverable credentials (room for 2000 more)' &&
		ok "status: fido empty" || fail "status after fido reset: $(vk status)"
	expect_eq "ndef: no message" "$(vk list ndef)" "NDEF message: none, writable"
	out=$(vk config disable piv) || fail "disable piv: $out"
	expect_eq "piv off" "$(card select piv)" 6A82
	expect_eq "daemon reset mgmt" "$(vk reset mgmt --yes)" "mgmt: back to its factory state"
	expect_eq "mgmt reset: piv on again" "$(card select piv)" 9000
	stop_vkey
}

# Phase D: the USB identity from vkey config in usbip's device list.
phase_usbip() {
	local port out
	if ! command -v usbip >/dev/null; then
		log "skip usbip list -r: usbip not installed"
		return
	fi
	port=$(pcscd_free_port_pair) || die "no free port"
	"$VKEY" serve --state "$TMP/key.db" --usbip "127.0.0.1:$port" \
		>>"$TMP/vkey.log" 2>&1 &
	VKEY_PID=$!
	for _ in $(seq 1 50); do
		out=$(timeout 5 usbip --tcp-port "$port" list -r 127.0.0.1 2>&1) &&
			[[ $out == *1-1* ]] && break
		sleep 0.1
	done
	[[ $out == *'(1209:beef)'* ]] && ok "usbip list -r: usb-pid from vkey config" ||
		fail "usbip list -r: $out"
	stop_vkey
}

# Phase E: --up auto on the command line wins; a full reset.
phase_reset_all() {
	local a out
	start_vkey --up auto
	grep -q "user presence: auto" <(tail -5 "$TMP/vkey.log") &&
		ok "command line --up auto wins over vkey config" || fail "--up auto lost"
	out=$(card fill)
	expect_eq "fill again" "$out" \
		'{"fido": "ok", "oath": "9000", "openpgp": "9000", "piv": "9000"}'
	out=$(vk ndef set-text hello) || fail "ndef: $out"
	out=$(vk reset --all --yes)
	[[ $out == 'every applet back to its factory state, settings cleared; serial '*' kept' ]] &&
		ok "reset --all" || fail "reset --all: $out"
	for a in oath openpgp piv; do
		expect_eq "after --all: $a factory" "$(card check $a)" factory
	done
	expect_eq "after --all: fido empty" "$(vk list fido)" ""
	expect_eq "after --all: ndef empty" "$(vk list ndef)" "NDEF message: none, writable"
	out=$(vk config show)
	[[ $(grep -c '(default)$' <<<"$out") == 6 ]] && ok "after --all: every setting default" ||
		fail "config after --all: $out"
	out=$(vk status)
	for a in "openpgp: warning: the default PIN (123456) is still set" \
		"piv: warning: the default management key (010203...08) is still set" \
		"oath: 0 accounts (0 touch-required), access code not set"; do
		grep -qxF "$a" <<<"$out" && ok "status: $a" || fail "status lacks '$a': $out"
	done
	stop_vkey
}

main() {
	need pcscd
	[[ -f $PCSCD_VPCD_LIB ]] || { log "SKIP: vsmartcard-vpcd not installed"; exit 77; }
	"$PY" -c 'import smartcard, fido2, cryptography' 2>/dev/null ||
		{ log "SKIP: pyscard, python-fido2 or cryptography missing"; exit 77; }
	TMP=$(mktemp -d)
	pcscd_lock 300 || die "cannot get pcscd to ourselves"
	PORT=$(pcscd_free_port_pair) || die "no free port pair"
	pcscd_start "$TMP" "$PORT" || die "pcscd did not start"
	phase_daemon_fill
	phase_direct
	phase_daemon_resets
	phase_usbip
	phase_reset_all
	if ((FAILS > 0)); then
		log "$FAILS check(s) failed; daemon log:"
		tail -40 "$TMP/vkey.log"
		exit 1
	fi
	log "all admin checks passed"
}

main "$@"
