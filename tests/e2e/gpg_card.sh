#!/bin/bash
# End to end: Debian 12's unmodified GnuPG 2.2.40 (gpg, gpg-agent,
# scdaemon over PC/SC) and OpenSSH drive vkey's OpenPGP card applet
# through a private pcscd + vpcd: card status, on-card key generation for
# every algorithm gpg offers, ssh through gpg-agent, keytocard, PINs and
# the resetting code, KDF, touch (UIF) and factory reset.
#
# Env (set by meson): VKEY (the binary), VKEY_SOURCE_ROOT. Exit 77 = skip.
# GPG_CARD_ONLY=3,5 runs only those sections (each starts a fresh key):
#   1 status and cardholder data   5 PIN change, block, resetting code
#   2 on-card keys, every algorithm 6 KDF
#   3 ssh through gpg-agent         7 UIF (touch)
#   4 keytocard                     8 factory reset
# Section 2 does section 3's ssh checks too when both run.
# GPG_CARD_ALGOS="cv25519 rsa2048" limits section 2 to those algorithms.
# GPG_CARD_KEEP=1 keeps the temporary directory (logs, homedirs; scdaemon
# logs every APDU to <section>.g/scd.log).
# Needs Debian's scdaemon package (GnuPG's card daemon) besides gnupg.
set -u -o pipefail

READER='Virtual PCD 00 00'
SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VKEY=${VKEY:?VKEY must name the vkey binary}
PY=/usr/bin/python3
DRIVE=$SRC/tests/e2e/gpg_card_drive.py
PINENTRY=$SRC/tests/e2e/gpg_card_pinentry.py
ONLY=${GPG_CARD_ONLY:-}
UP_TIMEOUT=6

TMP=
VKEY_PID=
TOUCH_PID=
PORT=
STATE=
FAILS=0
PASSES=0
SECTION=
# The card's current PINs (the test changes them).
PW1=123456
PW3=12345678

. "$SRC/scripts/pcscd-harness.sh"

log() { printf '%s\n' "$*"; }
ok() { PASSES=$((PASSES + 1)); log "ok   [$SECTION] $*"; }
fail() { log "FAIL [$SECTION] $*"; FAILS=$((FAILS + 1)); }
die() { log "FATAL: $*"; exit 1; }

# fail_out NAME FILE: a failed check with the tool's output.
fail_out() {
	fail "$1"
	sed 's/^/     | /' "$2" | tail -${3:-60}
}

cleanup() {
	stop_pid "$TOUCH_PID"
	stop_gnupg
	stop_pid "$VKEY_PID"
	pcscd_stop
	if [[ -n $TMP ]]; then
		if [[ ${GPG_CARD_KEEP:-} == 1 ]]; then
			log "kept $TMP"
		else
			rm -rf "$TMP"
		fi
	fi
}
trap cleanup EXIT

need() {
	command -v "$1" >/dev/null || { log "SKIP: $1 not installed"; exit 77; }
}

want() { [[ -z $ONLY || ,$ONLY, == *,$1,* ]]; }

# ---- the key and the GnuPG home ------------------------------------------

start_vkey() {
	local attempt
	for attempt in 1 2 3; do
		vkey_serve "$STATE.log" "$PORT" --state "$STATE" --up prompt \
			--up-timeout "$UP_TIMEOUT" -v >/dev/null && return 0
		# pcscd 1.9.9 now and then misses a vpcd card that arrives
		# while it is still tearing down the previous one (no power-on
		# ever reaches the key); a second connection is seen.
		log "note: $READER stayed empty; reconnecting the key (attempt $attempt)"
		stop_pid "$VKEY_PID"
		VKEY_PID=
		wait_no_card
		sleep 1
	done
	cat "$STATE.log"
	die "vkey did not show up in $READER"
}

# SIGTERM must end the daemon cleanly, with no sanitizer report.
stop_vkey() {
	vkey_serve_stop "$STATE.log" >"$TMP/vkey-stop.txt" ||
		fail "$(cat "$TMP/vkey-stop.txt")"
}

# wait_no_card: after a key went away, wait until pcscd has seen the
# reader empty; otherwise pcscd_wait_card may connect to the stale card
# and scdaemon then finds no card at all.
wait_no_card() {
	timeout 15 "$PY" - "$READER" <<'EOF'
import sys, time
from smartcard.System import readers
from smartcard.Exceptions import NoCardException, CardConnectionException
end = time.monotonic() + 10
while time.monotonic() < end:
    r = [r for r in readers() if str(r) == sys.argv[1]]
    try:
        c = r[0].createConnection()
        c.connect()
        c.disconnect()
    except (NoCardException, CardConnectionException, IndexError):
        sys.exit(0)
    time.sleep(0.1)
sys.exit("a card is still in %r" % sys.argv[1])
EOF
}

# scd_pid: the running scdaemon's PID (empty when none runs).
scd_pid() {
	timeout 10 gpg-connect-agent --no-autostart 'SCD GETINFO pid' /bye \
		2>/dev/null | sed -n 's/^D \([0-9][0-9]*\)$/\1/p'
}

# scd_wait_gone PID: scdaemon can outlive the request to exit by a
# moment, still holding the card; wait until it is gone.
scd_wait_gone() {
	[[ $1 =~ ^[0-9]+$ ]] && timeout 10 tail --pid="$1" -f /dev/null
	return 0
}

stop_gnupg() {
	local pid
	[[ -n ${GNUPGHOME:-} && -d $GNUPGHOME ]] || return 0
	pid=$(scd_pid)
	timeout 20 gpgconf --kill all >/dev/null 2>&1
	scd_wait_gone "$pid"
}

# new_card NAME: a fresh key (new state file, so new serial and factory
# state) and a fresh GnuPG home for one section.
new_card() {
	local name=$1
	stop_gnupg
	if [[ -n $VKEY_PID ]]; then
		stop_vkey
		wait_no_card || log "note: $READER did not empty"
		sleep 0.5 # let pcscd finish with the old card
	fi
	SECTION=$name
	STATE=$TMP/$name.db
	PW1=123456
	PW3=12345678
	export GNUPGHOME=$TMP/$name.g
	mkdir -m 700 "$GNUPGHOME"
	local lib=/usr/lib/x86_64-linux-gnu/libpcsclite.so.1
	{
		echo disable-ccid
		[[ -e $lib ]] && echo "pcsc-driver $lib"
		echo "reader-port $READER"
		echo "log-file $GNUPGHOME/scd.log"
		echo "debug 2048"
	} >"$GNUPGHOME/scdaemon.conf"
	cat >"$GNUPGHOME/pinentry" <<EOF
#!/bin/sh
exec $PY $PINENTRY $GNUPGHOME/pin $GNUPGHOME/pinentry.log
EOF
	chmod 700 "$GNUPGHOME/pinentry"
	echo "$PW1" >"$GNUPGHOME/pin"
	cat >"$GNUPGHOME/gpg-agent.conf" <<EOF
allow-loopback-pinentry
enable-ssh-support
pinentry-program $GNUPGHOME/pinentry
log-file $GNUPGHOME/agent.log
EOF
	echo "keyid-format long" >"$GNUPGHOME/gpg.conf"
	start_vkey
	log "--- section $name: key $STATE (vkey pid $VKEY_PID)"
}

# ---- running gpg ---------------------------------------------------------

# G ARGS: gpg in batch mode; card PINs come from --passphrase (loopback).
G() {
	timeout 300 gpg --batch --no-tty --pinentry-mode loopback "$@" </dev/null
}

# drive OUT ANSWER... -- GPG-ARGS: an interactive gpg dialogue (see
# gpg_card_drive.py), its transcript in OUT. Card PINs are answered by
# what scdaemon asks for: pin.pin, pin.admin, pin.new-pin, ...
drive() {
	local out=$1
	shift
	timeout 900 "$PY" "$DRIVE" --timeout 800 --scd-log "$GNUPGHOME/scd.log" \
		"$@" >"$out" 2>&1
}

# card_status_colons: gpg --card-status --with-colons on stdout.
cs() { G --with-colons --card-status 2>&1; }
# cs_field FILE NAME: the fields after NAME: of that line.
cs_field() { awk -F: -v n="$2" '$1 == n { sub(/^[^:]*:/, ""); print; exit }' "$1"; }

# expect_field NAME FILE FIELD VALUE: one check of a colon line.
expect_field() {
	local name=$1 file=$2 field=$3 want=$4 got
	got=$(cs_field "$file" "$field")
	if [[ $got == "$want" ]]; then
		ok "$name: $field:$got"
	else
		fail_out "$name: $field: got '$got', want '$want'" "$file"
	fi
}

new_data() {
	head -c 3000 /dev/urandom | base64 >"$TMP/data"
	printf 'vkey %s\n' "$(date +%s%N)" >>"$TMP/data"
}

# sign_verify NAME FPR [PIN]: a detached signature by the card's
# signature key, verified by gpg; the signing key must be FPR's primary.
sign_verify() {
	local name=$1 fpr=$2 pin=${3:-$PW1}
	new_data
	rm -f "$TMP/data.sig"
	if ! G --status-fd 1 --passphrase "$pin" -u "$fpr!" --detach-sign \
		-o "$TMP/data.sig" "$TMP/data" >"$TMP/out" 2>&1; then
		fail_out "$name: sign" "$TMP/out"
		return 1
	fi
	if ! G --status-fd 1 --verify "$TMP/data.sig" "$TMP/data" \
		>"$TMP/out" 2>&1 || ! grep -q "VALIDSIG $fpr " "$TMP/out"; then
		fail_out "$name: verify" "$TMP/out"
		return 1
	fi
	ok "$name: sign + verify"
}

# encrypt_decrypt NAME FPR [PIN]: encrypt to FPR's encryption subkey,
# decrypt with the card's decryption key.
encrypt_decrypt() {
	local name=$1 fpr=$2 pin=${3:-$PW1}
	new_data
	rm -f "$TMP/data.gpg" "$TMP/data.out"
	if ! G --trust-model always -r "$fpr" -e -o "$TMP/data.gpg" "$TMP/data" >"$TMP/out" 2>&1; then
		fail_out "$name: encrypt" "$TMP/out"
		return 1
	fi
	if ! G --status-fd 1 --passphrase "$pin" -d -o "$TMP/data.out" \
		"$TMP/data.gpg" >"$TMP/out" 2>&1 ||
		! grep -q DECRYPTION_OKAY "$TMP/out" ||
		! cmp -s "$TMP/data" "$TMP/data.out"; then
		fail_out "$name: decrypt" "$TMP/out"
		return 1
	fi
	ok "$name: encrypt + decrypt"
}

# ssh_check NAME FPR: gpg-agent's ssh socket lists the card's
# authentication key (the same key gpg exports for FPR), and ssh-keygen
# -Y signs with it through the agent; ssh-keygen verifies. The card is
# reset first, so the agent asks for the PIN through its pinentry
# (gpg_card_pinentry.py), as on a first ssh use.
ssh_check() {
	local name=$1 fpr=$2 sock want got asked
	sock=$(gpgconf --list-dirs agent-ssh-socket)
	want=$(G --export-ssh-key "$fpr" 2>"$TMP/out" | awk '{ print $1, $2 }')
	[[ -n $want ]] || { fail_out "$name: gpg --export-ssh-key" "$TMP/out"; return 1; }
	if ! SSH_AUTH_SOCK=$sock timeout 60 ssh-add -L >"$TMP/ssh-add" 2>&1; then
		fail_out "$name: ssh-add -L" "$TMP/ssh-add"
		return 1
	fi
	got=$(grep 'cardno:' "$TMP/ssh-add" | awk '{ print $1, $2 }')
	if [[ $got != "$want" ]]; then
		fail "$name: ssh-add -L lists '${got:-nothing}' for the card, gpg exports '$want'"
		sed 's/^/     | /' "$TMP/ssh-add"
		return 1
	fi
	echo "$want" >"$TMP/id.pub"
	echo "vkey@example.org $want" >"$TMP/allowed"
	new_data
	rm -f "$TMP/data.sig"
	echo "$PW1" >"$GNUPGHOME/pin"
	card_reset
	asked=$(cat "$GNUPGHOME/pinentry.log" 2>/dev/null | grep -c GETPIN)
	if ! SSH_AUTH_SOCK=$sock timeout 60 ssh-keygen -Y sign -f "$TMP/id.pub" \
		-n file "$TMP/data" </dev/null >"$TMP/out" 2>&1; then
		fail_out "$name: ssh-keygen -Y sign through gpg-agent" "$TMP/out"
		return 1
	fi
	if ! timeout 60 ssh-keygen -Y verify -f "$TMP/allowed" -I vkey@example.org \
		-n file -s "$TMP/data.sig" <"$TMP/data" >"$TMP/out" 2>&1; then
		fail_out "$name: ssh-keygen -Y verify" "$TMP/out"
		return 1
	fi
	asked=$(($(cat "$GNUPGHOME/pinentry.log" 2>/dev/null | grep -c GETPIN) - asked))
	((asked >= 1)) || fail "$name: ssh signature without a PIN after a card reset"
	ok "$name: ssh-add -L lists the card key (${want%% *}); ssh-keygen -Y sign/verify (PIN through pinentry)"
}

# ---- on-card key generation ------------------------------------------------

# The key-attr answers per algorithm (gpg 2.2.40 with --expert numbers
# its curve menu 1 Curve 25519, 3 NIST P-256, 4 P-384, 5 P-521,
# 6-8 Brainpool P-256/384/512, 9 secp256k1) and the keyattr lines
# card-status must show afterwards (algo ids 1 RSA, 18 ECDH, 19 ECDSA,
# 22 EdDSA).
attr_answers() {
	local algo=$1 k
	for k in 1 2 3; do
		case $algo in
		rsa*) echo cardedit.genkeys.algo=1 "cardedit.genkeys.size=${algo#rsa}" ;;
		cv25519) echo cardedit.genkeys.algo=2 keygen.curve=1 ;;
		nistp256) echo cardedit.genkeys.algo=2 keygen.curve=3 ;;
		nistp384) echo cardedit.genkeys.algo=2 keygen.curve=4 ;;
		nistp521) echo cardedit.genkeys.algo=2 keygen.curve=5 ;;
		brainpoolP256r1) echo cardedit.genkeys.algo=2 keygen.curve=6 ;;
		brainpoolP384r1) echo cardedit.genkeys.algo=2 keygen.curve=7 ;;
		brainpoolP512r1) echo cardedit.genkeys.algo=2 keygen.curve=8 ;;
		secp256k1) echo cardedit.genkeys.algo=2 keygen.curve=9 ;;
		esac
	done
}

want_keyattr() {
	local c=$1
	case $1 in
	rsa*) printf '1:%s:' "${1#rsa}"; return ;;
	cv25519) printf '%s' "22:Ed25519: 18:Curve25519: 22:Ed25519:"; return ;;
	nistp*) c="NIST P-${1#nistp}" ;;
	esac
	printf '%s' "19:$c: 18:$c: 19:$c:"
}

# card_generate NAME ALGO: key-attr then generate, as a user would in
# --card-edit; sets FPR to the new key's fingerprint.
card_generate() {
	local name=$1 algo=$2 t0 attrs got want k
	t0=$(date +%s)
	FPR=
	# shellcheck disable=SC2046
	drive "$TMP/gen.out" \
		cardedit.prompt=admin cardedit.prompt=key-attr \
		$(attr_answers "$algo") \
		cardedit.prompt=generate \
		cardedit.genkeys.backup_enc=n \
		cardedit.genkeys.replace_keys*=y \
		keygen.valid=0 \
		"keygen.name=Card $algo" "keygen.email=$algo@example.org" \
		keygen.comment= \
		keygen.userid.cmd*=O \
		cardedit.prompt=quit \
		"pin.admin*=$PW3" "pin.pin*=$PW1" \
		-- --expert --card-edit
	local rc=$?
	FPR=$(awk '/\[GNUPG:\] KEY_CREATED / { print $NF; exit }' "$TMP/gen.out")
	if [[ $rc != 0 || -z $FPR ]]; then
		fail_out "$name: generate $algo on the card (rc $rc)" "$TMP/gen.out" 80
		return 1
	fi
	cs >"$TMP/cs"
	got=
	for k in 1 2 3; do
		got+=$(awk -F: -v k=$k '$1 == "keyattr" && $2 == k { print $3 ":" $4 ":" }' "$TMP/cs")" "
	done
	want=$(want_keyattr "$algo")
	[[ $algo == rsa* ]] && want="$want $want $want"
	if [[ ${got% } != "$want" ]]; then
		fail_out "$name: keyattr after key-attr $algo: '${got% }', want '$want'" "$TMP/cs"
		return 1
	fi
	ok "$name: generated $algo on the card in $(($(date +%s) - t0)) s ($FPR)"
}

# ---- sections --------------------------------------------------------------

# 1: factory state as gpg shows it, and the cardholder data objects.
section_status() {
	new_card 1-status
	local serial out
	G --card-status >"$TMP/cs.txt" 2>&1 || { fail_out "card-status" "$TMP/cs.txt"; return; }
	# vkey status prints the serial in decimal, gpg in hex.
	serial=$(timeout 10 "$VKEY" status --state "$STATE" 2>&1 |
		awk '$1 == "serial:" && $2 ~ /^[0-9]+$/ { printf "%08X", $2; exit }')
	grep -q "^Reader ...........: $READER" "$TMP/cs.txt" &&
		grep -q '^Application ID ...: D276000124010304FF00' "$TMP/cs.txt" &&
		grep -q '^Version ..........: 3.4$' "$TMP/cs.txt" &&
		grep -q '^Manufacturer .....: unmanaged S/N range$' "$TMP/cs.txt" &&
		grep -q '^Signature PIN ....: not forced$' "$TMP/cs.txt" &&
		grep -q '^Key attributes ...: rsa2048 rsa2048 rsa2048$' "$TMP/cs.txt" &&
		grep -q '^PIN retry counter : 3 0 3$' "$TMP/cs.txt" &&
		grep -q '^Signature counter : 0$' "$TMP/cs.txt" &&
		grep -q '^Signature key ....: \[none\]$' "$TMP/cs.txt" ||
		{ fail_out "card-status factory state" "$TMP/cs.txt"; }
	if [[ -n $serial ]] && grep -q "^Serial number ....: $serial\$" "$TMP/cs.txt"; then
		ok "card-status: serial $serial (as vkey status), version 3.4, retries 3 0 3, PIN not forced"
	else
		fail_out "card-status serial: vkey status says '${serial:-?}'" "$TMP/cs.txt"
	fi
	cs >"$TMP/cs"
	expect_field "factory" "$TMP/cs" version 0304:
	expect_field "factory" "$TMP/cs" pinretry 3:0:3:
	expect_field "factory" "$TMP/cs" forcepin 0:::
	expect_field "factory" "$TMP/cs" kdf off:
	expect_field "factory" "$TMP/cs" maxpinlen 127:127:127:

	# Cardholder data objects, set as the admin in --card-edit.
	drive "$TMP/do.out" \
		cardedit.prompt=admin \
		cardedit.prompt=name keygen.smartcard.surname=Doe \
		"keygen.smartcard.givenname=Jane Q" \
		cardedit.prompt=lang cardedit.change_lang=deen \
		cardedit.prompt=sex cardedit.change_sex=F \
		cardedit.prompt=url "cardedit.change_url=https://keys.example.org/jane.asc" \
		cardedit.prompt=login cardedit.change_login=jane \
		"cardedit.prompt=cafpr 1" \
		"cardedit.change_cafpr=0123456789ABCDEF0123456789ABCDEF01234567" \
		cardedit.prompt=forcesig \
		cardedit.prompt=quit \
		"pin.admin=$PW3" \
		-- --card-edit
	[[ $? == 0 ]] || fail_out "card-edit name/lang/sex/url/login/cafpr/forcesig" "$TMP/do.out"
	grep -q 'SC_OP_FAILURE' "$TMP/do.out" && fail_out "card-edit: a card operation failed" "$TMP/do.out"
	cs >"$TMP/cs"
	expect_field "data" "$TMP/cs" name "Jane Q:Doe:"
	expect_field "data" "$TMP/cs" lang deen:
	expect_field "data" "$TMP/cs" sex f:
	expect_field "data" "$TMP/cs" url "https\x3a//keys.example.org/jane.asc:"
	expect_field "data" "$TMP/cs" login jane:
	expect_field "data" "$TMP/cs" forcepin 1:::
	expect_field "data" "$TMP/cs" cafpr "0123456789ABCDEF0123456789ABCDEF01234567:::"
	G --card-status >"$TMP/cs.txt" 2>&1
	grep -q '^Name of cardholder: Jane Q Doe$' "$TMP/cs.txt" &&
		grep -q '^URL of public key : https://keys.example.org/jane.asc$' "$TMP/cs.txt" &&
		grep -q '^Login data .......: jane$' "$TMP/cs.txt" &&
		grep -q '^Signature PIN ....: forced$' "$TMP/cs.txt" &&
		ok "card-status shows name, URL, login, forced PIN" ||
		fail_out "card-status after setting data" "$TMP/cs.txt"
	drive "$TMP/do.out" cardedit.prompt=admin cardedit.prompt=forcesig \
		cardedit.prompt=quit "pin.admin*=$PW3" -- --card-edit ||
		fail_out "forcesig back" "$TMP/do.out"
	cs >"$TMP/cs"
	expect_field "data" "$TMP/cs" forcepin 0:::

	# Cardholder certificate (7F21, up to 2048 bytes: extended Lc/Le or
	# chaining) and login data at gpg's 254-byte limit, from files.
	head -c 2000 /dev/urandom >"$TMP/cert.in"
	head -c 254 /dev/urandom | base64 -w0 | head -c 254 >"$TMP/login.in"
	rm -f "$TMP/cert.out"
	drive "$TMP/do.out" cardedit.prompt=admin \
		"cardedit.prompt=writecert 3 < $TMP/cert.in" \
		"cardedit.prompt=readcert 3 > $TMP/cert.out" \
		"cardedit.prompt=login < $TMP/login.in" \
		cardedit.prompt=quit "pin.admin*=$PW3" -- --card-edit
	if [[ $? == 0 ]] && ! grep -q SC_OP_FAILURE "$TMP/do.out" &&
		cmp -s "$TMP/cert.in" "$TMP/cert.out"; then
		ok "writecert/readcert: a 2000-byte certificate read back"
	else
		fail_out "writecert 3 / readcert 3 (2000 bytes)" "$TMP/do.out"
	fi
	cs >"$TMP/cs"
	expect_field "data" "$TMP/cs" login "$(cat "$TMP/login.in"):"
}

# 2 (and 3): generate on the card for every algorithm, sign/verify,
# encrypt/decrypt, and ssh where OpenSSH knows the curve.
section_algos() {
	new_card 2-algos
	local algo
	local algos=(cv25519 nistp256 nistp384 nistp521 brainpoolP256r1
		brainpoolP384r1 brainpoolP512r1 secp256k1 rsa2048 rsa3072 rsa4096)
	[[ -n ${GPG_CARD_ALGOS:-} ]] && read -r -a algos <<<"$GPG_CARD_ALGOS"
	local c0 c1
	for algo in "${algos[@]}"; do
		card_generate "$algo" "$algo" || continue
		cs >"$TMP/cs"
		c0=$(cs_field "$TMP/cs" sigcount | cut -d: -f1)
		sign_verify "$algo" "$FPR"
		cs >"$TMP/cs"
		c1=$(cs_field "$TMP/cs" sigcount | cut -d: -f1)
		((c1 == c0 + 1)) || fail "$algo: signature counter $c0 -> $c1 after one signature"
		encrypt_decrypt "$algo" "$FPR"
		case $algo in
		cv25519 | nistp256 | nistp384 | nistp521 | rsa*)
			want 3 && ssh_check "$algo" "$FPR" ;;
		esac
	done
}

# 3 alone: ssh through gpg-agent on Ed25519, NIST P-256 and RSA-2048.
section_ssh() {
	new_card 3-ssh
	local algo
	for algo in cv25519 nistp256 rsa2048; do
		card_generate "$algo" "$algo" || continue
		encrypt_decrypt "$algo" "$FPR"
		ssh_check "$algo" "$FPR"
	done
}

# keytocard_check NAME PRIMARY ENC AUTH: a software key made by gpg,
# moved slot by slot to the card with --edit-key keytocard.
keytocard_check() {
	local name=$1 palgo=$2 ealgo=$3 aalgo=$4 fpr t0
	t0=$(date +%s)
	if ! G --passphrase '' --quick-gen-key "Soft $name <$name@example.org>" \
		"$palgo" sign,cert 0 >"$TMP/out" 2>&1; then
		fail_out "$name: --quick-gen-key $palgo" "$TMP/out"
		return 1
	fi
	fpr=$(G --with-colons -K "$name@example.org" 2>/dev/null |
		awk -F: '$1 == "fpr" { print $10; exit }')
	G --passphrase '' --quick-add-key "$fpr" "$ealgo" encr 0 >"$TMP/out" 2>&1 &&
		G --passphrase '' --quick-add-key "$fpr" "$aalgo" auth 0 >>"$TMP/out" 2>&1 ||
		{ fail_out "$name: --quick-add-key" "$TMP/out"; return 1; }
	log "     $name: software key $fpr made in $(($(date +%s) - t0)) s"
	drive "$TMP/k2c.out" \
		keyedit.prompt=keytocard keyedit.keytocard.use_primary=y \
		cardedit.genkeys.storekeytype=1 \
		"keyedit.prompt=key 1" keyedit.prompt=keytocard \
		cardedit.genkeys.storekeytype=2 \
		"keyedit.prompt=key 1" "keyedit.prompt=key 2" keyedit.prompt=keytocard \
		cardedit.genkeys.storekeytype=3 \
		keyedit.prompt=save \
		cardedit.genkeys.replace_key*=y \
		"pin.admin*=$PW3" \
		-- --edit-key "$fpr"
	local rc=$?
	if [[ $rc != 0 ]] || grep -q 'KEYTOCARD failed' "$TMP/k2c.out"; then
		fail_out "$name: keytocard (rc $rc)" "$TMP/k2c.out" 80
		return 1
	fi
	G -K "$fpr" >"$TMP/out" 2>&1
	if [[ $(grep -cE '^(sec|ssb)>' "$TMP/out") == 3 ]] &&
		grep -q "Card serial no\. = FF00 $(cs_serial)\$" "$TMP/out"; then
		ok "$name: keytocard moved 3 keys in $(($(date +%s) - t0)) s; gpg -K shows card stubs (sec>/ssb>)"
	else
		fail_out "$name: gpg -K after keytocard" "$TMP/out"
	fi
	cs >"$TMP/cs"
	grep -q "^fpr:${fpr}:" "$TMP/cs" ||
		fail_out "$name: card's signature fingerprint is not $fpr" "$TMP/cs"
	sign_verify "$name" "$fpr"
	encrypt_decrypt "$name" "$fpr"
	ssh_check "$name" "$fpr"
}

section_keytocard() {
	new_card 4-keytocard
	# RSA first: scdaemon 2.2.40 switches a slot's attributes from RSA to
	# ECC on import, but refuses RSA into an ECC slot ("unsupported
	# algorithm: RSA", rsa_writekey), whatever the card.
	keytocard_check k2c-rsa4096 rsa4096 rsa4096 rsa4096
	keytocard_check k2c-nistp384 nistp384 nistp384 nistp384/ecdsa
	keytocard_check k2c-ed25519 ed25519 cv25519 ed25519
}

# card_reset: start a new scdaemon, so that it forgets every PIN it
# verified and asks for them again (the next operation sends VERIFY with
# whatever PIN the test sets now). Not `SCD RESET`: scdaemon 2.2.40
# handles the card-status change a reset makes in its ticker thread and,
# when that races with the next command, exits silently (the agent then
# reports "End of file"); killing it is deterministic.
card_reset() {
	local i pid
	pid=$(scd_pid)
	timeout 30 gpgconf --kill scdaemon >/dev/null 2>&1
	scd_wait_gone "$pid"
	for ((i = 0; i < 50; i++)); do
		timeout 10 gpg-connect-agent 'SCD SERIALNO' /bye 2>&1 |
			grep -q '^S SERIALNO' && return 0
		sleep 0.2
	done
	log "note: scdaemon did not see the card again after a restart"
}

# cs_serial: the card's serial as gpg shows it (8 hex digits).
cs_serial() { cs >"$TMP/cs"; cs_field "$TMP/cs" serial | cut -d: -f1; }

# retries: the card's PIN retry counters as "a:b:c:".
retries() { cs >"$TMP/cs"; cs_field "$TMP/cs" pinretry; }

# 5: change PIN, Admin PIN, set the resetting code; block PW1 and
# unblock it with the resetting code, then with the Admin PIN.
section_pins() {
	new_card 5-pins
	card_generate pins cv25519 || return
	local fpr=$FPR r i
	drive "$TMP/pw.out" cardedit.prompt=passwd cardedit.prompt=quit \
		"pin.pin=$PW1" pin.new-pin=654321 \
		-- --card-edit
	if [[ $? == 0 ]] && grep -q 'SC_OP_SUCCESS' "$TMP/pw.out"; then
		PW1=654321
		ok "passwd (user): PIN changed"
	else
		fail_out "passwd (user): change PIN" "$TMP/pw.out"
	fi
	drive "$TMP/pw.out" cardedit.prompt=admin cardedit.prompt=passwd \
		cardutil.change_pin.menu=3 cardutil.change_pin.menu=4 \
		cardutil.change_pin.menu=q cardedit.prompt=quit \
		"pin.admin=$PW3" pin.new-admin=87654321 \
		pin.admin=87654321 pin.new-reset-code=11223344 \
		-- --card-edit
	if [[ $? == 0 && $(grep -c 'SC_OP_SUCCESS' "$TMP/pw.out") == 2 ]]; then
		PW3=87654321
		ok "passwd (admin): Admin PIN changed, Reset Code set"
	else
		fail_out "passwd (admin): change Admin PIN, set Reset Code" "$TMP/pw.out"
	fi
	r=$(retries)
	[[ $r == 3:3:3: ]] && ok "retry counters 3 3 3 with a Reset Code" ||
		fail_out "retry counters after setting the Reset Code: $r" "$TMP/cs"
	card_reset
	sign_verify "new PIN" "$fpr"
	card_reset
	if G --passphrase 123456 -u "$fpr!" --detach-sign -o "$TMP/x.sig" \
		"$TMP/data" >"$TMP/out" 2>&1; then
		fail "the old PIN still signs"
	else
		ok "the old PIN is refused"
	fi
	# Block PW1: three wrong PINs (one done above).
	for i in 1 2; do
		card_reset
		G --passphrase 000000 -u "$fpr!" --detach-sign -o "$TMP/x.sig" \
			"$TMP/data" >"$TMP/out" 2>&1 && fail "a wrong PIN signed"
	done
	r=$(retries)
	[[ $r == 0:3:3: ]] && ok "PW1 blocked after 3 wrong PINs (retries 0 3 3)" ||
		fail_out "retry counters after 3 wrong PINs: $r (want 0:3:3:)" "$TMP/cs"
	card_reset
	if G --passphrase "$PW1" -u "$fpr!" --detach-sign -o "$TMP/x.sig" \
		"$TMP/data" >"$TMP/out" 2>&1; then
		fail "a blocked PW1 still signs"
	else
		ok "blocked PW1: the right PIN is refused too"
	fi
	drive "$TMP/ub.out" cardedit.prompt=unblock cardedit.prompt=quit \
		pin.reset-code=11223344 pin.new-pin=135790 \
		-- --card-edit
	if [[ $? == 0 ]] && grep -q 'SC_OP_SUCCESS' "$TMP/ub.out"; then
		PW1=135790
		ok "unblock with the Reset Code"
	else
		fail_out "unblock with the Reset Code" "$TMP/ub.out"
	fi
	r=$(retries)
	[[ $r == 3:3:3: ]] && ok "retries 3 3 3 after unblock" ||
		fail_out "retry counters after unblock: $r" "$TMP/cs"
	card_reset
	sign_verify "after unblock" "$fpr"
	encrypt_decrypt "after unblock" "$fpr"
	# Block again; the Admin PIN unblocks (passwd menu 2).
	for i in 1 2 3; do
		card_reset
		G --passphrase 000000 -u "$fpr!" --detach-sign -o "$TMP/x.sig" \
			"$TMP/data" >"$TMP/out" 2>&1
	done
	r=$(retries)
	[[ $r == 0:3:3: ]] || fail_out "retry counters after 3 more wrong PINs: $r" "$TMP/cs"
	drive "$TMP/ub.out" cardedit.prompt=admin cardedit.prompt=passwd \
		cardutil.change_pin.menu=2 cardutil.change_pin.menu=q \
		cardedit.prompt=quit \
		"pin.admin=$PW3" pin.new-pin=246800 \
		-- --card-edit
	if [[ $? == 0 ]] && grep -q 'SC_OP_SUCCESS' "$TMP/ub.out"; then
		PW1=246800
		ok "unblock with the Admin PIN"
	else
		fail_out "unblock with the Admin PIN" "$TMP/ub.out"
	fi
	card_reset
	sign_verify "after admin unblock" "$fpr"
	pin_rules "$fpr"
}

# The card's own PIN rules, seen as raw APDUs through scdaemon: VERIFY
# without data tells whether PW1 is verified, P1=FF forgets it, and with
# the signature PIN forced (gpg's forcesig: C4 byte 1 = 00) a VERIFY 81
# lasts for one signature only (the card's key 1 is Ed25519 here).
pin_rules() {
	local fpr=$1 out want l
	l=$(printf '%02X' ${#PW1})
	card_reset
	# First forget what an earlier command verified (the card keeps a
	# verified PIN until it is reset or powered off).
	out=$(scd_apdu "00 20 FF 81" "00 20 00 81" \
		"00 20 00 81 $l $(hex "$PW1")" "00 20 00 81" "00 20 FF 81" \
		"00 20 00 81")
	want=$'90 00\n63 C3\n90 00\n90 00\n90 00\n63 C3'
	[[ $out == "$want" ]] &&
		ok "VERIFY 81 without data: 63C3, then 9000 once verified; P1=FF forgets" ||
		fail "VERIFY status / P1=FF: got [${out//$'\n'/ | }], want [${want//$'\n'/ | }]"
	drive "$TMP/fs.out" cardedit.prompt=admin cardedit.prompt=forcesig \
		cardedit.prompt=quit "pin.admin*=$PW3" -- --card-edit ||
		{ fail_out "forcesig" "$TMP/fs.out"; return; }
	cs >"$TMP/cs"
	[[ $(cs_field "$TMP/cs" forcepin) == 1::: ]] || fail_out "forcesig: forcepin" "$TMP/cs"
	card_reset
	local msg=0102030405060708091011121314151617181920212223242526272829303132
	msg=$(sed 's/../& /g; s/ $//' <<<"$msg")
	out=$(scd_apdu "00 20 00 81 $l $(hex "$PW1")" "00 2A 9E 9A 20 $msg 00" \
		"00 2A 9E 9A 20 $msg 00")
	if [[ $(sed -n 1p <<<"$out") == "90 00" &&
		$(sed -n 2p <<<"$out" | wc -w) == 66 && $(sed -n 2p <<<"$out") == *" 90 00" &&
		$(sed -n 3p <<<"$out") == "69 82" ]]; then
		ok "forced signature PIN: one PSO:CDS per VERIFY 81, the next answers 6982"
	else
		fail "forced signature PIN: VERIFY 81, PSO:CDS, PSO:CDS answered [${out//$'\n'/ | }]"
	fi
	card_reset
	sign_verify "forced PIN, 1st signature" "$fpr" &&
		sign_verify "forced PIN, 2nd signature" "$fpr"
	drive "$TMP/fs.out" cardedit.prompt=admin cardedit.prompt=forcesig \
		cardedit.prompt=quit "pin.admin*=$PW3" -- --card-edit ||
		fail_out "forcesig back" "$TMP/fs.out"
}

# 6: KDF-DO. gpg hashes the PINs from then on.
section_kdf() {
	new_card 6-kdf
	card_generate kdf cv25519 || return
	local fpr=$FPR
	drive "$TMP/kdf.out" cardedit.prompt=admin cardedit.prompt=kdf-setup \
		cardedit.prompt=quit "pin.admin*=$PW3" -- --card-edit
	if [[ $? != 0 ]] || grep -q SC_OP_FAILURE "$TMP/kdf.out"; then
		fail_out "kdf-setup" "$TMP/kdf.out"
		return
	fi
	cs >"$TMP/cs"
	expect_field "kdf" "$TMP/cs" kdf on:
	PW1=123456 PW3=12345678
	card_reset
	sign_verify "kdf, factory PIN" "$fpr"
	encrypt_decrypt "kdf, factory PIN" "$fpr"
	drive "$TMP/pw.out" cardedit.prompt=admin cardedit.prompt=passwd \
		cardutil.change_pin.menu=1 cardutil.change_pin.menu=3 \
		cardutil.change_pin.menu=q cardedit.prompt=quit \
		"pin.pin=$PW1" pin.new-pin=a-long-kdf-pin \
		"pin.admin=$PW3" pin.new-admin=a-long-admin-kdf-pin \
		-- --card-edit
	if [[ $? == 0 && $(grep -c 'SC_OP_SUCCESS' "$TMP/pw.out") == 2 ]]; then
		PW1=a-long-kdf-pin PW3=a-long-admin-kdf-pin
		ok "kdf: PIN and Admin PIN changed"
	else
		fail_out "kdf: change PINs" "$TMP/pw.out"
	fi
	card_reset
	sign_verify "kdf, new PIN" "$fpr"
	encrypt_decrypt "kdf, new PIN" "$fpr"
	# The Reset Code is hashed with its own salt: set it, block PW1,
	# unblock with it.
	drive "$TMP/pw.out" cardedit.prompt=admin cardedit.prompt=passwd \
		cardutil.change_pin.menu=4 cardutil.change_pin.menu=q \
		cardedit.prompt=quit \
		"pin.admin=$PW3" pin.new-reset-code=kdf-reset-code \
		-- --card-edit
	[[ $? == 0 ]] && grep -q SC_OP_SUCCESS "$TMP/pw.out" ||
		fail_out "kdf: set the Reset Code" "$TMP/pw.out"
	local i
	for i in 1 2 3; do
		card_reset
		G --passphrase wrong-pin -u "$fpr!" --detach-sign -o "$TMP/x.sig" \
			"$TMP/data" >"$TMP/out" 2>&1 && fail "kdf: a wrong PIN signed"
	done
	[[ $(retries) == 0:3:3: ]] || fail_out "kdf: PW1 not blocked after 3 wrong PINs" "$TMP/cs"
	drive "$TMP/ub.out" cardedit.prompt=unblock cardedit.prompt=quit \
		pin.reset-code=kdf-reset-code pin.new-pin=kdf-pin-after-reset \
		-- --card-edit
	if [[ $? == 0 ]] && grep -q SC_OP_SUCCESS "$TMP/ub.out"; then
		PW1=kdf-pin-after-reset
		ok "kdf: unblock with the hashed Reset Code"
	else
		fail_out "kdf: unblock with the Reset Code" "$TMP/ub.out"
	fi
	card_reset
	sign_verify "kdf, after unblock" "$fpr"
	card_generate "kdf, new Admin PIN" nistp256 &&
		sign_verify "kdf nistp256" "$FPR" &&
		encrypt_decrypt "kdf nistp256" "$FPR"
}

# scd_apdu HEX...: raw APDUs through scdaemon (gpg-connect-agent); prints
# each response (data and status word as spaced hex bytes), one line per
# APDU. gpg-connect-agent --hex shows the Assuan data lines as they came,
# with %25, %0A and %0D still escaped: undone here.
scd_apdu() {
	local args=("SCD SERIALNO") a
	for a in "$@"; do args+=("SCD APDU $a"); done
	timeout 30 gpg-connect-agent --hex "${args[@]}" /bye 2>&1 | "$PY" -c '
import re, sys
acc = b""
for line in sys.stdin:
    if line.startswith("D["):
        acc += bytes.fromhex(re.sub(r"^D\[[0-9a-f]+\] +", "", line)[:48])
    elif line.startswith("OK") and acc:
        raw = re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), acc)
        print(" ".join("%02X" % b for b in raw))
        acc = b""
    elif line.startswith("ERR"):
        print(line.strip())
        acc = b""
'
}

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# 7: UIF. GnuPG 2.2.40 has no "uif" command (2.3 added it), so the UIF
# DOs are written with PUT DATA through scdaemon; with the signature,
# decryption and authentication keys' UIF on, each use waits for `vkey
# touch` (the key serves with --up prompt).
section_uif() {
	new_card 7-uif
	card_generate uif cv25519 || return
	local fpr=$FPR t0 dt out pw3len
	pw3len=$(printf '%02X' ${#PW3})
	out=$(scd_apdu "00 20 00 83 $pw3len $(hex "$PW3")" \
		"00 DA 00 D6 02 01 20" "00 DA 00 D7 02 01 20" "00 DA 00 D8 02 01 20" \
		"00 CA 00 D6 00" "00 CA 00 D7 00" "00 CA 00 D8 00")
	if [[ $out == $'90 00\n90 00\n90 00\n90 00\n01 20 90 00\n01 20 90 00\n01 20 90 00' ]]; then
		ok "uif: PUT DATA D6/D7/D8 = 01 20 (UIF on), read back"
	else
		fail "uif: VERIFY 83, PUT DATA D6/D7/D8 01 20, GET DATA answered: ${out//$'\n'/ | }"
		return
	fi
	# Touched after a second: the signature is made.
	(sleep 1; exec timeout 30 "$VKEY" touch --state "$STATE" --timeout 20) \
		>"$TMP/touch.out" 2>&1 &
	TOUCH_PID=$!
	sign_verify "uif touched" "$fpr"
	wait "$TOUCH_PID" || fail_out "uif: vkey touch (sign) failed" "$TMP/touch.out"
	TOUCH_PID=
	# No touch: the signature fails after --up-timeout.
	new_data
	t0=$(date +%s)
	if G --passphrase "$PW1" -u "$fpr!" --detach-sign -o "$TMP/x.sig" \
		"$TMP/data" >"$TMP/out" 2>&1; then
		fail_out "uif: signed without a touch" "$TMP/out"
	else
		dt=$(($(date +%s) - t0))
		if ((dt >= UP_TIMEOUT - 1 && dt < UP_TIMEOUT + 30)); then
			ok "uif: no touch, the signature fails after $dt s"
		else
			fail_out "uif: no touch, failed after $dt s (--up-timeout $UP_TIMEOUT)" "$TMP/out"
		fi
	fi
	# The card still works afterwards; decryption waits for a touch too.
	(sleep 1; exec timeout 30 "$VKEY" touch --state "$STATE" --timeout 20) \
		>"$TMP/touch.out" 2>&1 &
	TOUCH_PID=$!
	encrypt_decrypt "uif touched" "$fpr"
	wait "$TOUCH_PID" || fail_out "uif: vkey touch (decrypt) failed" "$TMP/touch.out"
	TOUCH_PID=
	# And so does ssh authentication.
	(sleep 1; exec timeout 30 "$VKEY" touch --state "$STATE" --timeout 20) \
		>"$TMP/touch.out" 2>&1 &
	TOUCH_PID=$!
	ssh_check "uif touched" "$fpr"
	wait "$TOUCH_PID" || fail_out "uif: vkey touch (ssh) failed" "$TMP/touch.out"
	TOUCH_PID=
	# Permanent (02) cannot be switched off; a factory reset clears it.
	out=$(scd_apdu "00 20 00 83 $pw3len $(hex "$PW3")" "00 DA 00 D8 02 02 20" \
		"00 DA 00 D8 02 00 20" "00 CA 00 D8 00")
	if [[ $(sed -n 2p <<<"$out") == "90 00" && $(sed -n 3p <<<"$out") != "90 00" &&
		$(sed -n 4p <<<"$out") == "02 20 90 00" ]]; then
		ok "uif permanent: PUT DATA D8 00 20 refused ($(sed -n 3p <<<"$out")), stays 02"
	else
		fail "uif permanent: VERIFY 83, PUT D8 02 20, PUT D8 00 20, GET D8 answered [${out//$'\n'/ | }]"
	fi
	# The daemon's log: each of those waited for the touch.
	local what
	for what in "signature: approved" "signature: timed out" \
		"decryption: approved" "authentication: approved"; do
		grep -q "user presence for openpgp $what" "$STATE.log" ||
			fail_out "uif: no 'user presence for openpgp $what' in the daemon's log" "$STATE.log" 20
	done
}

# 8: private DOs, then factory-reset in --card-edit brings back the
# factory state.
section_reset() {
	new_card 8-reset
	card_generate reset nistp384 || return
	# With keys on the card, gpg verifies PW1 as 82 for private DOs 1 and 3
	# (without, only as 81, and the card rightly refuses PUT DATA 0101).
	drive "$TMP/r.out" cardedit.prompt=admin \
		cardedit.prompt=name keygen.smartcard.surname=Doe \
		keygen.smartcard.givenname=John \
		cardedit.prompt=url "cardedit.change_url=https://example.org/k" \
		"cardedit.prompt=privatedo 1" cardedit.change_private_do=first-private \
		"cardedit.prompt=privatedo 2" cardedit.change_private_do=second-private \
		"cardedit.prompt=privatedo 3" cardedit.change_private_do=third-private \
		"cardedit.prompt=privatedo 4" cardedit.change_private_do=fourth-private \
		cardedit.prompt=passwd cardutil.change_pin.menu=1 \
		cardutil.change_pin.menu=q \
		cardedit.prompt=quit \
		"pin.admin*=$PW3" "pin.pin=$PW1" "pin.pin=$PW1" pin.new-pin=999999 \
		-- --card-edit
	if [[ $? != 0 ]] || grep -q SC_OP_FAILURE "$TMP/r.out"; then
		fail_out "name, url, private DOs 1-4, passwd before the reset" "$TMP/r.out"
	else
		PW1=999999
	fi
	cs >"$TMP/cs"
	grep -q '^private_do:1:first-private:$' "$TMP/cs" &&
		grep -q '^private_do:2:second-private:$' "$TMP/cs" &&
		ok "private DOs 1 and 2 read back (no PIN needed)" ||
		fail_out "private DOs 1 and 2" "$TMP/cs"
	# DO 3 is read after VERIFY PW1 (82), DO 4 after PW3 (83); gpg 2.2.40
	# shows them only while it has verified those, so ask directly.
	local out
	card_reset
	out=$(scd_apdu "00 CA 01 03 00" "00 CA 01 04 00" \
		"00 20 00 82 06 $(hex "$PW1")" "00 CA 01 03 00" "00 CA 01 04 00" \
		"00 20 00 83 08 $(hex "$PW3")" "00 CA 01 04 00")
	local want="69 82
69 82
90 00
$(hex third-private | sed 's/../& /g; s/ $//') 90 00
69 82
90 00
$(hex fourth-private | sed 's/../& /g; s/ $//') 90 00"
	[[ ${out^^} == "${want^^}" ]] &&
		ok "private DO 3 needs PW1 (82), DO 4 needs PW3: refused (6982) before, read back after" ||
		fail "private DOs 3/4 GET DATA around VERIFY 82/83: got [${out//$'\n'/ | }], want [${want//$'\n'/ | }]"
	drive "$TMP/r.out" cardedit.prompt=admin cardedit.prompt=factory-reset \
		cardedit.factory-reset.proceed=y cardedit.factory-reset.really=yes \
		cardedit.prompt=quit \
		-- --card-edit
	if [[ $? != 0 ]] || grep -q SC_OP_FAILURE "$TMP/r.out"; then
		fail_out "factory-reset" "$TMP/r.out"
	fi
	PW1=123456 PW3=12345678
	G --card-status >"$TMP/cs.txt" 2>&1
	grep -q '^Version ..........: 3.4$' "$TMP/cs.txt" &&
		grep -q '^Name of cardholder: \[not set\]$' "$TMP/cs.txt" &&
		grep -q '^URL of public key : \[not set\]$' "$TMP/cs.txt" &&
		grep -q '^Key attributes ...: rsa2048 rsa2048 rsa2048$' "$TMP/cs.txt" &&
		grep -q '^PIN retry counter : 3 0 3$' "$TMP/cs.txt" &&
		grep -q '^Signature counter : 0$' "$TMP/cs.txt" &&
		grep -q '^Signature key ....: \[none\]$' "$TMP/cs.txt" &&
		grep -q '^Encryption key....: \[none\]$' "$TMP/cs.txt" &&
		grep -q '^Authentication key: \[none\]$' "$TMP/cs.txt" &&
		! grep -q '^Private DO' "$TMP/cs.txt" &&
		ok "factory-reset: card-status shows the factory state" ||
		fail_out "card-status after factory-reset" "$TMP/cs.txt"
	cs >"$TMP/cs"
	expect_field "after reset" "$TMP/cs" kdf off:
	expect_field "after reset" "$TMP/cs" forcepin 0:::
	# The factory PINs work again.
	card_generate "after reset" cv25519 && sign_verify "after reset" "$FPR"
}

main() {
	local t for_t0 s
	for t in pcscd gpg gpg-agent gpgconf gpg-connect-agent ssh-keygen ssh-add flock; do
		need "$t"
	done
	[[ -x /usr/lib/gnupg/scdaemon ]] || { log "SKIP: scdaemon not installed"; exit 77; }
	[[ -x $PY ]] && "$PY" -c 'import smartcard' 2>/dev/null ||
		{ log "SKIP: python3-pyscard missing"; exit 77; }
	TMP=$(mktemp -d /tmp/vkey-gpg.XXXXXX)
	export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/home/.config
	mkdir -p "$HOME"
	unset GPG_AGENT_INFO SSH_AUTH_SOCK
	pcscd_lock 300 || die "cannot get pcscd to ourselves"
	PORT=$(pcscd_free_port_pair) || die "no free port pair"
	pcscd_start "$TMP" "$PORT" || die "pcscd did not start"
	log "pcscd pid $PCSCD_PID, vpcd ports $PORT/$((PORT + 1)); $(gpg --version | head -1)"
	for_t0=$(date +%s)
	for s in 1:section_status 2:section_algos 3:section_ssh \
		4:section_keytocard 5:section_pins 6:section_kdf 7:section_uif \
		8:section_reset; do
		want "${s%%:*}" || continue
		# Section 2 runs the ssh checks too when both are wanted.
		[[ $s == 3:* ]] && want 2 && continue
		t=$(date +%s)
		"${s#*:}"
		log "--- section ${s%%:*} took $(($(date +%s) - t)) s"
	done
	stop_gnupg
	stop_vkey
	log "total $(($(date +%s) - for_t0)) s"
	if ((FAILS)); then
		log "$PASSES passed, $FAILS failed"
		exit 1
	fi
	log "$PASSES passed, 0 failed"
}

main "$@"
