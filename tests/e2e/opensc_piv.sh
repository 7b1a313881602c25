#!/bin/bash
# End to end: unmodified OpenSC 0.23 (opensc-tool, pkcs15-tool, pkcs11-tool
# with opensc-pkcs11.so) and OpenSSH's PKCS#11 client see vkey's PIV card
# through a private pcscd + vpcd. Keys are put on the card with raw APDUs
# (opensc_piv_card.py: management key, GENERATE / IMPORT, certificates
# made by openssl); every signature, plaintext and shared secret OpenSC
# returns is checked with openssl against the key the card gave out.
#
# Keys: 9A RSA-2048 generated · 9C P-256 generated (PIN always) · 9D
# RSA-2048 imported · 9E P-384 generated (no PIN) · 82 P-256 imported and
# 83 P-384 generated (retired key management, announced by the key
# history object).
#
# OpenSC's driver is forced to PIV-II through a private opensc.conf
# (card_drivers = PIV-II): vkey's card answers the OpenPGP AID too.
#
# Env (set by meson): VKEY (the binary), VKEY_SOURCE_ROOT. Exit 77 = skip.
# VKEY_OPENSC_DEBUG=N writes OpenSC's debug log (level N) to
# $TMP/opensc-debug.log and keeps $TMP.
set -u -o pipefail

SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRC/tests/e2e/opensc_common.sh"

HELPER=$SRC/tests/e2e/opensc_piv_card.py
PIN=123456
NEW_PIN=87654321

# PKCS#15 ids OpenSC's PIV emulation gives the slots.
declare -A ID=([9a]=01 [9c]=02 [9d]=03 [9e]=04 [82]=05 [83]=06)

# OpenSC's driver: PIV-II only, as the card also answers the OpenPGP AID,
# whose driver OpenSC would otherwise try first.
DRIVER=PIV-II

AGENT_PID=

cleanup() {
	stop_pid "$AGENT_PID"
	opensc_cleanup
}
trap cleanup EXIT

card() { timeout 60 "$PY" "$HELPER" "$READER" "$@" </dev/null 2>&1; }

# ---- reader and card ---------------------------------------------------

check_readers() {
	find_reader || return
	run "opensc-tool --name" ost --name || return
	expect "opensc-tool --name: $(tail -1 <<<"$OUT")" \
		'^Personal Identity Verification Card'
}

# opensc-tool -s prints each answer as a hex dump, 16 bytes a line and
# an ASCII column (the last line padded to the column only when there
# are several): keep one line per answer, "SW=9000 <hex bytes>".
answers() {
	awk 'function hexpart(l,   n, r) {
			for (n = 16; n > 0; n--) {
				r = length(l) - 3 * n
				if (substr(l, 1, 3 * n) ~ /^([0-9A-F][0-9A-F] )+$/ &&
				    (r == n || r == 48 - 2 * n))
					return substr(l, 1, 3 * n)
			}
			return ""
		}
		/^Received \(SW1=/ { if (a != "") print a
			sw = $0; sub(/.*SW1=0x/, "", sw); s1 = substr(sw, 1, 2)
			sw = $0; sub(/.*SW2=0x/, "", sw)
			a = "SW=" toupper(s1 substr(sw, 1, 2)) " "; next }
		/^Sending:/ { if (a != "") print a; a = ""; next }
		a != "" { a = a hexpart($0) }
		END { if (a != "") print a }' <<<"$OUT" | sed 's/ $//'
}

# Raw APDUs through OpenSC: SELECT, GET VERSION, GET SERIAL, discovery.
check_apdus() {
	local serial
	run "opensc-tool -s SELECT, GET VERSION, GET DATA 7E, GET SERIAL" ost \
		-s 00:A4:04:00:05:A0:00:00:03:08:00 -s 00:FD:00:00:00 \
		-s 00:CB:3F:FF:03:5C:01:7E:00 -s 00:F8:00:00:00 || return
	OUT=$(answers)
	expect "opensc-tool -s SELECT: application property template" \
		'^SW=9000 61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08$'
	expect "opensc-tool -s GET VERSION: 05 07 01" '^SW=9000 05 07 01$'
	expect "opensc-tool -s GET DATA 7E: discovery object" \
		'^SW=9000 7E 12 4F 0B A0 00 00 03 08 00 00 10 00 01 00 5F 2F 02 40 00$'
	serial=$(awk -F': *' '/^serial:/ { print $2 }' \
		<<<"$(timeout 10 "$VKEY" status --state "$TMP/key.db" 2>&1)")
	if [[ -n $serial ]] &&
		grep -q "^SW=9000 $(printf '%08X' "$serial" | sed 's/../& /g;s/ $//')$" <<<"$OUT"; then
		ok "opensc-tool -s GET SERIAL = vkey status serial $serial"
	else
		fail "GET SERIAL does not give vkey status serial '$serial': $OUT"
	fi
}

# ---- keys: raw APDUs put them on, openssl certifies them ---------------

# A CA of our own signs each slot's certificate (no keyUsage, so OpenSC
# takes each slot's default usage).
make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-nodes -subj "/CN=vkey e2e CA" -days 30 -keyout "$TMP/ca.key" \
		-out "$TMP/ca.pem" 2>/dev/null || die "openssl: no CA"
}

certify() {
	local slot=$1
	openssl x509 -new -subj "/CN=vkey PIV $slot" -days 30 \
		-force_pubkey "$TMP/$slot.pub" -CA "$TMP/ca.pem" \
		-CAkey "$TMP/ca.key" -outform DER -out "$TMP/$slot.crt" \
		2>"$TMP/x509.err" || { fail "openssl x509 for $slot: $(cat "$TMP/x509.err")"; return 1; }
	run "PUT DATA certificate $slot" card cert "$slot" "$TMP/$slot.crt"
}

gen_key() {
	local slot=$1 alg=$2 policy=${3:-default}
	run "GENERATE $slot $alg" card generate "$slot" "$alg" \
		"$TMP/$slot.pub" "$policy" || return
	[[ $policy == default ]] && policy="the slot's default"
	certify "$slot" &&
		ok "raw APDUs: $slot $alg generated (PIN policy: $policy), certificate written"
}

import_key() {
	local slot=$1 alg=$2
	case $alg in
	rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
		-out "$TMP/$slot.key" 2>/dev/null ;;
	p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$TMP/$slot.key" 2>/dev/null ;;
	esac
	openssl pkey -in "$TMP/$slot.key" -pubout -out "$TMP/$slot.pub" ||
		{ fail "openssl key for $slot"; return; }
	run "IMPORT $slot $alg" card import "$slot" "$TMP/$slot.key" || return
	certify "$slot" &&
		ok "raw APDUs: $slot $alg imported from openssl, certificate written"
}

setup_keys() {
	make_ca
	gen_key 9a rsa2048
	gen_key 9c p256 always
	import_key 9d rsa2048
	gen_key 9e p384 never
	import_key 82 p256
	gen_key 83 p384
	run "PUT DATA key history" card history 2 0 &&
		ok "raw APDUs: key history object: 2 retired keys with certificates"
}

# ---- PKCS#15 ------------------------------------------------------------

check_pkcs15() {
	local slot
	run "pkcs15-tool --dump" p15 --dump || return
	expect "pkcs15-tool --dump: OpenSC's PIV emulation" \
		'Manufacturer ID: +piv_II'
	expect_count "pkcs15-tool --dump: X.509 certificates" \
		'^X\.509 Certificate \[' 6
	run "pkcs15-tool --list-keys" p15 --list-keys || return
	expect_count "pkcs15-tool --list-keys: private keys" \
		'^Private (RSA|EC) Key \[' 6
	expect "pkcs15-tool --list-keys: 9A RSA 2048" \
		'Private RSA Key \[PIV AUTH key\]'
	expect "pkcs15-tool --list-keys: 9C EC" 'Private EC Key \[SIGN key\]'
	expect "pkcs15-tool --list-keys: 82 EC" \
		'Private EC Key \[Retired KEY MAN 1\]'
	expect "pkcs15-tool --list-keys: 83 EC" \
		'Private EC Key \[Retired KEY MAN 2\]'
	run "pkcs15-tool --list-public-keys" p15 --list-public-keys || return
	expect_count "pkcs15-tool --list-public-keys: public keys" \
		'^Public (RSA|EC) Key \[' 6
	for slot in 9a 9c 9d 9e 82 83; do
		run "pkcs15-tool --read-certificate ${ID[$slot]}" p15 \
			--read-certificate "${ID[$slot]}" || continue
		openssl x509 -outform DER -out "$TMP/$slot.read" <<<"$OUT" \
			2>/dev/null
		same_file "pkcs15-tool --read-certificate ${ID[$slot]} = the $slot certificate written" \
			"$TMP/$slot.crt" "$TMP/$slot.read"
	done
	run "pkcs15-tool --list-pins" p15 --list-pins || return
	expect "pkcs15-tool --list-pins: PIN, reference 0x80" \
		'Reference +: 128|Reference +: 0x80'
}

# ---- PKCS#11 ------------------------------------------------------------

check_pkcs11_list() {
	run "pkcs11-tool -L" p11 -L || return
	expect "pkcs11-tool -L: a token in '$READER'" "$READER"
	expect "pkcs11-tool -L: token label from the 9A certificate" \
		'token label +: vkey PIV 9a'
	run "pkcs11-tool -O" p11 -O || return
	expect_count "pkcs11-tool -O: certificates" '^Certificate Object' 6
	expect_count "pkcs11-tool -O: public keys" '^Public Key Object' 6
	expect "pkcs11-tool -O: RSA 2048 public key" \
		'Public Key Object; RSA 2048 bits'
	expect "pkcs11-tool -O: P-384 public key" 'Public Key Object; EC.*384'
	run "pkcs11-tool --login -O" p11 --login --pin "$PIN" -O || return
	expect_count "pkcs11-tool --login -O: private keys" \
		'^Private Key Object' 6
	# 9C: CKA_ALWAYS_AUTHENTICATE (pkcs11-tool prints it under Access).
	if awk '/^Private Key Object/ { p = 0 } /label: +SIGN key/ { p = 1 }
		p && /Access:.*always authenticate/ { f = 1 } END { exit !f }' <<<"$OUT"; then
		ok "pkcs11-tool --login -O: 9C SIGN key is always authenticate"
	else
		fail "9C key without CKA_ALWAYS_AUTHENTICATE:"
		log "$OUT"
	fi
	run "pkcs11-tool -M" p11 --login --pin "$PIN" -M || return
	MECHS=$OUT
}

has_mech() { grep -qE "^ *$1[, ]" <<<"$MECHS"; }

check_sign_rsa() {
	local id=${ID[9a]} msg=$TMP/msg-9a
	head -c 32 /dev/urandom >"$TMP/raw-in"
	run "pkcs11-tool --sign RSA-PKCS (9A)" p11 --login --pin "$PIN" \
		--sign --id "$id" -m RSA-PKCS -i "$TMP/raw-in" -o "$TMP/sig-raw" &&
		run "openssl verifyrecover (9A)" openssl pkeyutl -verifyrecover \
			-pubin -inkey "$TMP/9a.pub" -in "$TMP/sig-raw" \
			-out "$TMP/raw-back" &&
		same_file "pkcs11-tool --sign -m RSA-PKCS (9A RSA-2048): openssl recovers the input" \
			"$TMP/raw-in" "$TMP/raw-back"
	sign_rsa_sha256 "$TMP/9a.pub" 9a --login --pin "$PIN" --id "$id" &&
		ok "pkcs11-tool --sign -m SHA256-RSA-PKCS (9A RSA-2048): openssl verifies"
	if ! has_mech SHA256-RSA-PKCS-PSS; then
		note "OpenSC offers no SHA256-RSA-PKCS-PSS for the PIV card: PSS not checked"
		return
	fi
	run "pkcs11-tool --sign SHA256-RSA-PKCS-PSS (9A)" p11 --login \
		--pin "$PIN" --sign --id "$id" -m SHA256-RSA-PKCS-PSS \
		--mgf MGF1-SHA256 --salt-len 32 \
		-i "$msg" -o "$TMP/sig-pss" &&
		run "openssl verify PSS (9A)" openssl dgst -sha256 \
			-verify "$TMP/9a.pub" -sigopt rsa_padding_mode:pss \
			-sigopt rsa_pss_saltlen:32 -signature "$TMP/sig-pss" "$msg" &&
		ok "pkcs11-tool --sign -m SHA256-RSA-PKCS-PSS (9A RSA-2048): openssl verifies"
}

# ECDSA: on a hash (the card gets it as is) and on a message.
# pkcs11-tool logs in before any signature, whatever the key's PIN
# policy (9E's is checked without a PIN in check_pin_policies).
check_sign_ec() {
	local slot=$1 md=$2 id=${ID[$1]} what mech
	what="$slot $(openssl pkey -pubin -in "$TMP/$slot.pub" -text_pub -noout |
		awk '/NIST CURVE/ { print $3 }')"
	sign_ecdsa "$TMP/$slot.pub" "$slot" "$md" --login --pin "$PIN" \
		--id "$id" &&
		ok "pkcs11-tool --sign -m ECDSA ($what, ${md^^} hash): openssl verifies"
	mech=ECDSA-${md^^}
	if ! has_mech "$mech"; then
		note "OpenSC offers no $mech: not checked"
		return
	fi
	run "pkcs11-tool --sign $mech ($slot)" p11 --login --pin "$PIN" --sign \
		--id "$id" -m "$mech" --signature-format openssl \
		-i "$TMP/msg-$slot" -o "$TMP/sig2-$slot" &&
		run "openssl verify $mech ($slot)" openssl dgst "-$md" -verify \
			"$TMP/$slot.pub" -signature "$TMP/sig2-$slot" "$TMP/msg-$slot" &&
		ok "pkcs11-tool --sign -m $mech ($what): openssl verifies"
}

# PIN policies at the card, behind what OpenSC shows: 9E (never) signs
# and 9A (once) does not before a VERIFY; after one, 9C (always) signs
# once, then 6982 until the next VERIFY, as CKA_ALWAYS_AUTHENTICATE
# promises, while 9A keeps signing. Without a login, PKCS#11 already
# shows 9E's private key (OpenSC: no PIN for the card authentication key).
check_pin_policies() {
	run "PIN policies at the card (9E, 9A, 9C)" card policies 9e 9a 9c &&
		ok "raw APDUs: 9E signs without a PIN, 9A after one VERIFY, 9C once per VERIFY (then 6982)"
	run "pkcs11-tool -O (no login)" p11 -O || return
	expect "pkcs11-tool -O without login: 9E's private key (PIN never)" \
		'^Private Key Object; EC'
	expect_count "pkcs11-tool -O without login: only 9E's private key" \
		'^Private Key Object' 1
}

check_decrypt() {
	local id=${ID[9d]} pt
	decrypt_rsa_pkcs1 "$TMP/9d.pub" 9d --login --pin "$PIN" --id "$id" &&
		ok "pkcs11-tool --decrypt -m RSA-PKCS (9D imported RSA-2048): plaintext matches"
	# RSA-X-509: a raw block below the modulus (leading zero byte).
	{ printf '\0'; head -c 255 /dev/urandom; } >"$TMP/block"
	run "openssl encrypt raw (9D)" openssl pkeyutl -encrypt -pubin \
		-inkey "$TMP/9d.pub" -pkeyopt rsa_padding_mode:none \
		-in "$TMP/block" -out "$TMP/ct-raw" &&
		run "pkcs11-tool --decrypt RSA-X-509 (9D)" p11 --login --pin "$PIN" \
			--decrypt --id "$id" -m RSA-X-509 -i "$TMP/ct-raw" \
			-o "$TMP/pt-raw" || return
	# OpenSC may drop the leading zero of the raw block.
	pt=$(xxd -p "$TMP/pt-raw" | tr -d '\n')
	if [[ $pt == "$(xxd -p "$TMP/block" | tr -d '\n')" ||
		$pt == "$(tail -c 255 "$TMP/block" | xxd -p | tr -d '\n')" ]]; then
		ok "pkcs11-tool --decrypt -m RSA-X-509 (9D): raw block matches"
	else
		fail "RSA-X-509: $(head -c 64 <<<"$pt")..."
	fi
	if ! has_mech RSA-PKCS-OAEP; then
		note "OpenSC offers no RSA-PKCS-OAEP for the PIV card: OAEP not checked"
		return
	fi
	run "openssl encrypt OAEP (9D)" openssl pkeyutl -encrypt -pubin \
		-inkey "$TMP/9d.pub" -pkeyopt rsa_padding_mode:oaep \
		-pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
		-in "$TMP/secret-9d" -out "$TMP/ct-oaep" &&
		run "pkcs11-tool --decrypt RSA-PKCS-OAEP (9D)" p11 --login \
			--pin "$PIN" --decrypt --id "$id" -m RSA-PKCS-OAEP \
			--hash-algorithm SHA256 --mgf MGF1-SHA256 \
			-i "$TMP/ct-oaep" -o "$TMP/pt-oaep" &&
		same_file "pkcs11-tool --decrypt -m RSA-PKCS-OAEP SHA-256 (9D): plaintext matches" \
			"$TMP/secret-9d" "$TMP/pt-oaep"
}

# ECDH with the card's key in slot, checked against openssl's derivation.
check_derive() {
	local slot=$1 curve=$2
	derive_ecdh "$TMP/$slot.pub" "$slot" "$curve" --login --pin "$PIN" \
		--id "${ID[$slot]}" &&
		ok "pkcs11-tool --derive -m ECDH1-DERIVE ($slot $curve): secret = openssl pkeyutl -derive"
}

# ---- OpenSSH through PKCS#11 -------------------------------------------

# ssh-keygen -D lists the card's keys: each of our six public keys, in
# OpenSSH form, must be among them.
check_ssh_list() {
	local slot want missing=()
	run "ssh-keygen -D" timeout 60 ssh-keygen -D "$MODULE" </dev/null ||
		return
	for slot in 9a 9c 9d 9e 82 83; do
		want=$(ssh-keygen -i -m PKCS8 -f "$TMP/$slot.pub" | awk '{ print $2 }')
		grep -qF -- "$want" <<<"$OUT" || missing+=("$slot")
	done
	if ((${#missing[@]} == 0)); then
		ok "ssh-keygen -D opensc-pkcs11.so: the 6 keys (RSA-2048, P-256, P-384)"
	else
		fail "ssh-keygen -D: keys of ${missing[*]} missing:"
		log "$OUT"
	fi
}

# ssh-agent holds the PKCS#11 keys (PIN through SSH_ASKPASS); ssh-keygen
# -Y signs with the card's 9A (RSA-2048) and 9E (P-384) keys through the
# agent, and verifies. Not 9C: OpenSSH 9.2's agent refuses keys with
# CKA_ALWAYS_AUTHENTICATE ("need pin entry": it logs in again only when
# interactive, as ssh -I is).
check_ssh_agent() {
	local slot
	printf '#!/bin/sh\necho %s\n' "$PIN" >"$TMP/askpass"
	chmod 700 "$TMP/askpass"
	eval "$(timeout 10 ssh-agent -s -a "$TMP/agent.sock")" >/dev/null ||
		{ fail "ssh-agent did not start"; return; }
	AGENT_PID=$SSH_AGENT_PID
	run "ssh-add -s" env SSH_ASKPASS="$TMP/askpass" SSH_ASKPASS_REQUIRE=force \
		DISPLAY=:0 timeout 60 ssh-add -s "$MODULE" </dev/null || return
	run "ssh-add -l" timeout 10 ssh-add -l </dev/null || return
	expect_count "ssh-add -s opensc-pkcs11.so: keys in the agent" \
		'(RSA|ECDSA)\)$' 6
	head -c 200 /dev/urandom >"$TMP/ssh-msg"
	for slot in 9a 9e; do
		ssh-keygen -i -m PKCS8 -f "$TMP/$slot.pub" >"$TMP/$slot.ssh"
		printf 'e2e@vkey %s\n' "$(cat "$TMP/$slot.ssh")" >"$TMP/allowed"
		rm -f "$TMP/ssh-msg.sig"
		run "ssh-keygen -Y sign ($slot)" timeout 60 ssh-keygen -Y sign \
			-f "$TMP/$slot.ssh" -n file "$TMP/ssh-msg" </dev/null &&
			run "ssh-keygen -Y verify ($slot)" timeout 30 ssh-keygen \
				-Y verify -f "$TMP/allowed" -I e2e@vkey -n file \
				-s "$TMP/ssh-msg.sig" <"$TMP/ssh-msg" &&
			ok "ssh-agent + PKCS#11: ssh-keygen -Y sign with $slot verifies"
	done
	stop_pid "$AGENT_PID"
	AGENT_PID=
	unset SSH_AUTH_SOCK SSH_AGENT_PID
}

# ---- PIN -----------------------------------------------------------------

# The card's own count: VERIFY without data (63 Cx) through opensc-tool.
card_tries() {
	OUT=$(ost -s 00:A4:04:00:05:A0:00:00:03:08:00 -s 00:20:00:80)
	answers | tail -1
}

# A wrong PIN: CKR_PIN_INCORRECT, one try gone at the card (63 C2); a
# second one leaves the last try, which PKCS#11 reports as "final user
# PIN try"; the right PIN gives all three back.
check_wrong_pin() {
	local t
	OUT=$(p11 --login --pin 999999 -O)
	if [[ $? == 0 ]]; then
		fail "login with a wrong PIN succeeded: $OUT"
		return
	fi
	expect "pkcs11-tool --login with a wrong PIN: CKR_PIN_INCORRECT" \
		'CKR_PIN_INCORRECT'
	t=$(card_tries)
	[[ $t == 'SW=63C2' ]] && ok "wrong PIN: the card reports 2 tries left (63 C2)" ||
		fail "tries after a wrong PIN: '$t', want SW=63C2"
	OUT=$(p11 --login --pin 999999 -O)
	run "pkcs11-tool -L" p11 -L || return
	expect "second wrong PIN: pkcs11-tool -L says final user PIN try" \
		'token flags.*final user PIN try'
	run "login after two wrong PINs" p11 --login --pin "$PIN" -O || return
	t=$(card_tries)
	[[ $t == 'SW=63C3' ]] && ok "the right PIN gives the 3 tries back (63 C3)" ||
		fail "tries after the right PIN: '$t', want SW=63C3"
	run "pkcs11-tool -L" p11 -L || return
	if grep -q 'final user PIN try' <<<"$OUT"; then
		fail "pkcs11-tool -L still says final user PIN try"
	else
		ok "pkcs11-tool -L: no PIN warning after the right PIN"
	fi
}

check_change_pin() {
	run "pkcs11-tool --change-pin" p11 --login --pin "$PIN" --change-pin \
		--new-pin "$NEW_PIN" || return
	run "login with the new PIN" p11 --login --pin "$NEW_PIN" -O &&
		ok "pkcs11-tool --change-pin: the new PIN logs in"
	OUT=$(p11 --login --pin "$PIN" -O)
	grep -q CKR_PIN_INCORRECT <<<"$OUT" &&
		ok "after --change-pin the old PIN is CKR_PIN_INCORRECT" ||
		fail "old PIN after change: $OUT"
	run "sign with the new PIN (9A)" p11 --login --pin "$NEW_PIN" --sign \
		--id "${ID[9a]}" -m SHA256-RSA-PKCS -i "$TMP/msg-9a" \
		-o "$TMP/sig-new" &&
		run "openssl verify (new PIN)" openssl dgst -sha256 -verify \
			"$TMP/9a.pub" -signature "$TMP/sig-new" "$TMP/msg-9a" &&
		ok "signature with the new PIN verifies"
	run "pkcs11-tool --change-pin back" p11 --login --pin "$NEW_PIN" \
		--change-pin --new-pin "$PIN" &&
		ok "pkcs11-tool --change-pin back to the default"
}

main() {
	opensc_begin vkey-e2e-opensc-piv opensc-tool pkcs15-tool pkcs11-tool \
		ssh-keygen ssh-agent ssh-add
	opensc_conf "$DRIVER"

	check_readers
	check_apdus
	setup_keys
	check_pkcs15
	check_pkcs11_list
	check_sign_rsa
	check_sign_ec 9c sha256
	check_sign_ec 9e sha384
	check_pin_policies
	check_decrypt
	check_derive 82 P-256
	check_derive 83 P-384
	check_ssh_list
	check_ssh_agent
	check_wrong_pin
	check_change_pin
	OUT=$(timeout 10 "$VKEY" status --state "$TMP/key.db" 2>&1)
	expect "vkey status: $(grep '^piv: [0-9]' <<<"$OUT")" \
		'^piv: 6 of 24 key slots used, PIN tries 3 of 3'
	opensc_end "OpenSC PIV"
}

main "$@"
