#!/bin/bash
# End to end: unmodified OpenSC 0.23 (opensc-tool, openpgp-tool,
# pkcs15-tool, pkcs11-tool with opensc-pkcs11.so) sees vkey's OpenPGP card
# through a private pcscd + vpcd, generates keys on it, and signs and
# decrypts with them; every signature and plaintext is checked with openssl
# against the public key the card gave out.
#
# Env (set by meson): VKEY (the binary), VKEY_SOURCE_ROOT. Exit 77 = skip.
# VKEY_OPENSC_DEBUG=N writes OpenSC's debug log (level N) to
# $TMP/opensc-debug.log and keeps $TMP.
set -u -o pipefail

SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRC/tests/e2e/opensc_common.sh"

HELPER=$SRC/tests/e2e/opensc_openpgp_card.py
PIN=123456
ADMIN_PIN=12345678
# OpenSC's driver: openpgp only, as the card also answers the PIV AID
# and OpenSC 0.23 tries its PIV-II driver first.
DRIVER=openpgp
# The card's extended length information (7F66): 2048 both ways. vpcd
# answers no PC/SC part 10 feature request, so OpenSC cannot learn that
# the reader passes extended APDUs and assumes 255/256 bytes; a CCID
# reader reports its size (dwMaxAPDUDataSize). Say it in opensc.conf, as
# its manual suggests for such readers (see check_gen_short_reader for
# what happens without it).
LIMITS="max_send_size = 2048; max_recv_size = 2048;"

trap opensc_cleanup EXIT

opt() { timeout 120 openpgp-tool -r "$RIDX" "$@" </dev/null 2>&1; }

# ---- reader and card ---------------------------------------------------

check_readers() {
	find_reader || return
	run "opensc-tool -n" ost -n || return
	expect "opensc-tool -n: $(tail -1 <<<"$OUT")" '^OpenPGP card v3'
	run "opensc-tool --atr" ost --atr || return
	expect "opensc-tool --atr: vkey's ATR" '^3[bB][: ]?[fF][aA]'
}

check_card_info() {
	run "openpgp-tool --card-info" opt --card-info || return
	expect "openpgp-tool --card-info: AID D2760001240103 04 FF00..." \
		'D2760001240103 ?04 ?FF ?00|[Dd]2:?76:?00:?01:?24:?01:?03:?04:?[Ff][Ff]:?00'
	expect "openpgp-tool --card-info: version 3.4" 'ersion.*3\.4'
	log "$(grep -iE 'aid|version|serial|manufact' <<<"$OUT" | sed 's/^/     /')"
	# The serial in the AID is the key's, as `vkey status` prints it.
	local serial ours
	serial=$(awk -F': *' '/^serial:/ { print $2 }' \
		<<<"$(timeout 10 "$VKEY" status --state "$TMP/key.db" 2>&1)")
	ours=$(awk '/Serial number:/ { print $3 }' <<<"$OUT")
	if [[ -n $serial && $(printf '%08X' "$serial") == "$ours" ]]; then
		ok "openpgp-tool serial $ours = vkey status serial $serial"
	else
		fail "openpgp-tool serial '$ours', vkey status serial '$serial'"
	fi
	run "openpgp-tool --user-info" opt --user-info || return
	expect "openpgp-tool --user-info: cardholder data readable" \
		'Account|Name|Language|Gender'
}

# ---- keys: OpenSC generates RSA; the helper puts an EC key on -----------

gen_keys() {
	run "openpgp-tool --gen-key 1 (rsa2048)" opt --verify CHV3 \
		--pin "$ADMIN_PIN" --gen-key 1 --key-type rsa2048 &&
		ok "openpgp-tool --gen-key 1 --key-type rsa2048"
	run "openpgp-tool --gen-key 2 (rsa2048)" opt --verify CHV3 \
		--pin "$ADMIN_PIN" --gen-key 2 --key-type rsa2048 &&
		ok "openpgp-tool --gen-key 2 --key-type rsa2048"
	run "raw GENERATE key 3 (ECDSA P-256)" timeout 60 "$PY" "$HELPER" \
		"$READER" aut p256 "$TMP/aut-p256.pem" &&
		ok "raw APDUs: key 3 ECDSA P-256 generated, fingerprint and date set"
	run "openpgp-tool --key-info" opt --key-info || return
	expect "openpgp-tool --key-info: key 1 RSA 2048" 'RSA2048|RSA 2048|rsa2048'
	log "$(sed 's/^/     /' <<<"$OUT" | head -30)"
}

check_pkcs15() {
	run "pkcs15-tool --list-keys" p15 --list-keys || return
	local n
	n=$(grep -c 'Private .* Key \[' <<<"$OUT")
	if ((n == 3)); then
		ok "pkcs15-tool --list-keys: 3 private keys"
	else
		fail "pkcs15-tool --list-keys: $n private keys, want 3:"
		log "$OUT"
	fi
	expect "pkcs15-tool --list-keys: Signature key RSA 2048" \
		'Private RSA Key \[Signature key\]'
	expect "pkcs15-tool --list-keys: Encryption key RSA" \
		'Private RSA Key \[Encryption key\]'
	expect "pkcs15-tool --list-keys: Authentication key EC" \
		'Private EC Key \[Authentication key\]'
	run "pkcs15-tool --list-public-keys" p15 --list-public-keys || return
	n=$(grep -c 'Public .* Key \[' <<<"$OUT")
	if ((n == 3)); then
		ok "pkcs15-tool --list-public-keys: 3 public keys"
	else
		fail "pkcs15-tool --list-public-keys: $n public keys, want 3:"
		log "$OUT"
	fi
	run "pkcs15-tool --list-pins" p15 --list-pins || return
	expect "pkcs15-tool --list-pins: User PIN, 3 tries" 'Tries left +: 3'
}

# ---- PKCS#11 ------------------------------------------------------------

check_pkcs11_list() {
	run "pkcs11-tool --list-slots" p11 --list-slots || return
	expect "pkcs11-tool --list-slots: an OpenPGP token" \
		'token label +: OpenPGP card'
	SLOT_SIG=$(awk '/^Slot /{s=$2} /token label.*User PIN \(sig\)/{print s; exit}' <<<"$OUT")
	SLOT_USER=$(awk '/^Slot /{s=$2} /token label.*User PIN\)$/{print s; exit}' <<<"$OUT")
	[[ -n $SLOT_SIG && -n $SLOT_USER ]] ||
		fail "pkcs11-tool --list-slots: no 'User PIN' and 'User PIN (sig)' slots: $OUT"
	log "     slots: User PIN (sig) = $SLOT_SIG, User PIN = $SLOT_USER"
	run "pkcs11-tool --list-objects" p11 --slot "$SLOT_USER" --list-objects ||
		return
	expect "pkcs11-tool --list-objects (User PIN slot): public keys" \
		'Public Key Object; RSA 2048 bits'
	expect "pkcs11-tool --list-objects (User PIN slot): EC public key" \
		'Public Key Object; EC'
	run "pkcs11-tool --list-objects --login" p11 --slot "$SLOT_USER" \
		--login --pin "$PIN" --list-objects || return
	expect "pkcs11-tool --login --list-objects: private keys" \
		'Private Key Object; RSA'
	expect "pkcs11-tool --login --list-objects: EC private key" \
		'Private Key Object; EC'
}

# Read a public key by id out through PKCS#11 into $TMP/NAME.pem.
read_pub() {
	local slot=$1 id=$2 name=$3
	run "pkcs11-tool --read-object --type pubkey --id $id" p11 \
		--slot "$slot" --read-object --type pubkey --id "$id" \
		-o "$TMP/$name.der" || return 1
	run "openssl pkey (pubkey $id)" openssl pkey -pubin -inform DER \
		-in "$TMP/$name.der" -out "$TMP/$name.pem" || return 1
}

check_sign_rsa() {
	read_pub "$SLOT_SIG" 01 sig || return
	sign_rsa_sha256 "$TMP/sig.pem" key1 --slot "$SLOT_SIG" --login \
		--pin "$PIN" --id 01 || return
	ok "pkcs11-tool --sign -m SHA256-RSA-PKCS (PSO:CDS, RSA-2048): openssl verifies"
	# A second signature without a new login: PW1 stays valid (C4 01).
	run "pkcs11-tool --sign RSA-PKCS (key 1, DigestInfo)" p11 \
		--slot "$SLOT_SIG" --login --pin "$PIN" --sign --id 01 \
		-m SHA256-RSA-PKCS -i "$TMP/msg-key1" -o "$TMP/sig1b.bin" || return
	cmp -s "$TMP/sig-key1" "$TMP/sig1b.bin" &&
		ok "RSA PKCS#1 v1.5 signature is deterministic" ||
		fail "two RSA PKCS#1 v1.5 signatures of one message differ"
}

check_sign_ecdsa() {
	read_pub "$SLOT_USER" 03 aut || return
	if cmp -s <(openssl pkey -pubin -in "$TMP/aut.pem") \
		<(openssl pkey -pubin -in "$TMP/aut-p256.pem"); then
		ok "PKCS#11 public key 03 = the point GENERATE returned"
	else
		fail "PKCS#11 public key 03 differs from GENERATE's"
	fi
	sign_ecdsa "$TMP/aut-p256.pem" key3 sha256 --slot "$SLOT_USER" \
		--login --pin "$PIN" --id 03 &&
		ok "pkcs11-tool --sign -m ECDSA (INTERNAL AUTHENTICATE, P-256): openssl verifies"
}

check_decrypt_rsa() {
	read_pub "$SLOT_USER" 02 dec || return
	decrypt_rsa_pkcs1 "$TMP/dec.pem" key2 --slot "$SLOT_USER" --login \
		--pin "$PIN" --id 02 &&
		ok "pkcs11-tool --decrypt -m RSA-PKCS (PSO:DECIPHER, RSA-2048): plaintext matches"
}

check_wrong_pin() {
	run "pkcs15-tool --list-pins (before)" p15 --list-pins || return
	OUT=$(p11 --slot "$SLOT_USER" --login --pin 999999 --list-objects)
	if [[ $? == 0 ]]; then
		fail "login with a wrong PIN succeeded: $OUT"
		return
	fi
	grep -q 'CKR_PIN_INCORRECT' <<<"$OUT" &&
		ok "wrong PIN: CKR_PIN_INCORRECT" ||
		fail "wrong PIN: no CKR_PIN_INCORRECT in: $OUT"
	run "pkcs15-tool --list-pins" p15 --list-pins || return
	expect "pkcs15-tool --list-pins: 2 tries left after a wrong PIN" \
		'Tries left +: 2'
	# A right PIN restores the counter.
	run "login after a wrong PIN" p11 --slot "$SLOT_USER" --login \
		--pin "$PIN" --list-objects || return
	run "pkcs15-tool --list-pins (after)" p15 --list-pins || return
	if grep -q 'Tries left *: 2' <<<"$OUT"; then
		fail "tries left not restored after the right PIN: $OUT"
	else
		ok "right PIN restores the retry counter"
	fi
}

# Second key set: ECDSA P-256 as the signature key (PSO:CDS), RSA-2048
# generated by OpenSC as the authentication key (INTERNAL AUTHENTICATE),
# ECDH P-256 as the decryption key (PSO:DECIPHER with A6 7F49 86).
gen_keys_2() {
	run "raw GENERATE key 1 (ECDSA P-256)" timeout 60 "$PY" "$HELPER" \
		"$READER" sig p256 "$TMP/sig-p256.pem" &&
		ok "raw APDUs: key 1 ECDSA P-256"
	run "raw GENERATE key 2 (ECDH P-256)" timeout 60 "$PY" "$HELPER" \
		"$READER" dec ecdh-p256 "$TMP/dec-p256.pem" &&
		ok "raw APDUs: key 2 ECDH P-256"
	run "openpgp-tool --gen-key 3 (rsa2048)" opt --verify CHV3 \
		--pin "$ADMIN_PIN" --gen-key 3 --key-type rsa2048 &&
		ok "openpgp-tool --gen-key 3 --key-type rsa2048"
	run "pkcs15-tool --list-keys (second set)" p15 --list-keys || return
	expect "pkcs15-tool --list-keys: Signature key EC" \
		'Private EC Key \[Signature key\]'
	expect "pkcs15-tool --list-keys: Encryption key EC" \
		'Private EC Key \[Encryption key\]'
	expect "pkcs15-tool --list-keys: Authentication key RSA" \
		'Private RSA Key \[Authentication key\]'
}

check_sign_ecdsa_cds() {
	sign_ecdsa "$TMP/sig-p256.pem" key1-ec sha256 --slot "$SLOT_SIG" \
		--login --pin "$PIN" --id 01 &&
		ok "pkcs11-tool --sign -m ECDSA (PSO:CDS, P-256): openssl verifies"
}

check_sign_rsa_auth() {
	read_pub "$SLOT_USER" 03 aut-rsa || return
	sign_rsa_sha256 "$TMP/aut-rsa.pem" key3-rsa --slot "$SLOT_USER" \
		--login --pin "$PIN" --id 03 &&
		ok "pkcs11-tool --sign -m SHA256-RSA-PKCS (INTERNAL AUTHENTICATE, RSA-2048): openssl verifies"
}

# ECDH with the card's key 2, checked against openssl's derivation.
check_ecdh() {
	derive_ecdh "$TMP/dec-p256.pem" key2-ecdh P-256 --slot "$SLOT_USER" \
		--login --pin "$PIN" --id 02 &&
		ok "pkcs11-tool --derive -m ECDH1-DERIVE (PSO:DECIPHER, ECDH P-256): secret matches openssl's"
}

# With OpenSC's default reader limits (255/256), as a user of `make run`
# gets them: OpenSC still sends extended APDUs where the card announces
# them (the 257-byte RSA cryptogram goes out with Lc 0101), so signing and
# decryption work as above; only its key generation trips (see below).
check_short_reader() {
	log "-- OpenSC's default reader limits (max_send_size 255, max_recv_size 256)"
	opensc_conf "$DRIVER"
	check_sign_rsa
	check_sign_ecdsa
	check_decrypt_rsa
	opensc_conf "$DRIVER" "$LIMITS"
}

# OpenSC 0.23's own key generation on such a reader: it sends GENERATE
# extended with Le = max_recv_size = 256 into a 256-byte buffer, so the
# 61xx rest of the 270-byte answer is never fetched, the public key does
# not parse and no fingerprint is stored (the key then stays invisible
# to PKCS#15). The card's answer is ISO 7816-4's; recorded as a note.
check_gen_short_reader() {
	local fpr
	opensc_conf "$DRIVER"
	run "openpgp-tool --gen-key 1 (short reader)" opt --verify CHV3 \
		--pin "$ADMIN_PIN" --gen-key 1 --key-type rsa2048 || return
	run "openpgp-tool --key-info" opt --key-info || return
	fpr=$(awk '/Sig Fingerprint/ { print $3 }' <<<"$OUT")
	if [[ $fpr =~ ^(00:){19}00$ ]]; then
		log "note openpgp-tool --gen-key with OpenSC's default 256-byte limit" \
			"stores no fingerprint (OpenSC 0.23: extended GENERATE, Le 256," \
			"no GET RESPONSE room); with max_recv_size set it does"
	else
		ok "openpgp-tool --gen-key with the default limits: fingerprint $fpr"
	fi
	opensc_conf "$DRIVER" "$LIMITS"
}

# EdDSA (algorithm 16): does OpenSC 0.23 offer an Ed25519 signature key?
check_eddsa() {
	local out
	run "raw GENERATE key 1 (Ed25519)" timeout 60 "$PY" "$HELPER" \
		"$READER" sig ed25519 "$TMP/sig-ed.pem" || return
	run "pkcs15-tool --list-keys (Ed25519)" p15 --list-keys || return
	if ! grep -q 'Signature key' <<<"$OUT"; then
		log "note OpenSC 0.23 lists no Ed25519 (algorithm 16) OpenPGP key;" \
			"EdDSA through OpenSC not checked"
		return
	fi
	head -c 100 /dev/urandom >"$TMP/ed-msg"
	run "pkcs11-tool --sign EDDSA (key 1)" p11 --slot "$SLOT_SIG" \
		--login --pin "$PIN" --sign --id 01 -m EDDSA \
		-i "$TMP/ed-msg" -o "$TMP/ed-sig" || return
	if run "openssl verify Ed25519" openssl pkeyutl -verify -pubin \
		-inkey "$TMP/sig-ed.pem" -rawin -in "$TMP/ed-msg" \
		-sigfile "$TMP/ed-sig"; then
		ok "pkcs11-tool --sign -m EDDSA (PSO:CDS, Ed25519): openssl verifies"
	fi
}

main() {
	opensc_begin vkey-e2e-opensc opensc-tool openpgp-tool pkcs15-tool \
		pkcs11-tool
	opensc_conf "$DRIVER" "$LIMITS"

	check_readers
	check_card_info
	gen_keys
	check_pkcs15
	check_pkcs11_list
	check_sign_rsa
	check_sign_ecdsa
	check_decrypt_rsa
	check_short_reader
	check_wrong_pin
	log "-- second key set"
	gen_keys_2
	check_sign_ecdsa_cds
	check_sign_rsa_auth
	check_ecdh
	check_eddsa
	check_gen_short_reader
	OUT=$(timeout 10 "$VKEY" status --state "$TMP/key.db" 2>&1)
	expect "vkey status: $(grep '^openpgp: [0-9]' <<<"$OUT")" \
		'^openpgp: 3 of 3 keys'
	opensc_end "OpenSC OpenPGP"
}

main "$@"
