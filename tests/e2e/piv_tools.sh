#!/bin/bash
# End to end: Debian's yubico-piv-tool 2.2 and ykman 4.0.9, unmodified,
# drive vkey's PIV applet through a private pcscd + vpcd: keys of every
# algorithm they know generated and imported into the four PIV slots and
# retired ones with PIN and touch policies, certificates, objects, the
# CHUID and CCC, PIN/PUK/management key changes (3DES and AES, the
# PIN-protected management key), retry counters, attestation and reset.
# Every signature the card makes is checked with openssl against the
# public key the card gave out; touch waits for `vkey touch`.
#
# Env (set by meson): VKEY (the binary), VKEY_SOURCE_ROOT. Exit 77 = skip.
# PIV_TOOLS_DEBUG=1: yubico-piv-tool -v 2 (APDUs) and ykman --log-level
# DEBUG in every failure's output, vkey serve -vv, $TMP kept.
set -u -o pipefail

READER='Virtual PCD 00 00'
SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VKEY=${VKEY:?VKEY must name the vkey binary}
PY=/usr/bin/python3
META=$SRC/tests/e2e/piv_tools_meta.py
DEBUG=${PIV_TOOLS_DEBUG:-}

PIN=123456
PUK=12345678
MGM=010203040506070801020304050607080102030405060708
MGM_NEW=0f1e2d3c4b5a69780f1e2d3c4b5a69788796a5b4c3d2e1f0
declare -A AES_KEY=(
	[AES128]=00112233445566778899aabbccddeeff
	[AES192]=000102030405060708090a0b0c0d0e0f1011121314151617
	[AES256]=202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f
)
UP_TIMEOUT=5

TMP=
VKEY_PID=
TOUCH_PID=
FAILS=0
PASSES=0
TIMEOUTS=0
OUT=
HEX=

. "$SRC/scripts/pcscd-harness.sh"

log() { printf '%s\n' "$*"; }
ok() { log "ok   $*"; PASSES=$((PASSES + 1)); }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
die() { log "FATAL: $*"; exit 1; }
# fail_out WHAT: fail and show the client's output ($OUT), indented.
fail_out() {
	fail "$1"
	sed 's/^/     | /' <<<"$OUT" | head -"${2:-25}"
}

cleanup() {
	stop_pid "$TOUCH_PID"
	stop_pid "$VKEY_PID"
	pcscd_stop
	if [[ -n $TMP && -z $DEBUG ]]; then
		rm -rf "$TMP"
	elif [[ -n $TMP ]]; then
		log "kept $TMP"
	fi
}
trap cleanup EXIT

need() {
	command -v "$1" >/dev/null || { log "SKIP: $1 not installed"; exit 77; }
}

# ---- the clients, each bounded by timeout; stdin closed so that a prompt
# fails instead of waiting ------------------------------------------------

ypt() {
	local v=()
	[[ -n $DEBUG ]] && v=(-v 2)
	timeout 60 yubico-piv-tool "${v[@]}" -r "$READER" "$@" </dev/null 2>&1
}
yk() {
	local v=()
	[[ -n $DEBUG ]] && v=(--log-level DEBUG)
	timeout 60 ykman "${v[@]}" --reader "$READER" piv "$@" </dev/null 2>&1
}
meta() { timeout 30 "$PY" "$META" "$@" 2>&1; }

# A client killed by its timeout: the card stopped answering or the
# client waits for something that never comes. Three of them end the run
# (rather than waiting out every remaining call).
timed_out() {
	fail_out "$1: timed out (the client hung; killed after its timeout)"
	TIMEOUTS=$((TIMEOUTS + 1))
	if ((TIMEOUTS >= 3)); then
		[[ -f $TMP/vkey.log ]] && tail -30 "$TMP/vkey.log"
		die "$TIMEOUTS client calls timed out; giving up"
	fi
}

# run WHAT CMD...: OUT = the command's output; fail with it on rc != 0.
run() {
	local what=$1 rc
	shift
	OUT=$("$@")
	rc=$?
	if ((rc == 124)); then
		timed_out "$what"
	elif ((rc != 0)); then
		fail_out "$what (rc $rc)"
	fi
	return $((rc != 0))
}

# refuse WHAT CMD...: the command must fail (and not by a timeout).
refuse() {
	local what=$1 rc
	shift
	OUT=$("$@")
	rc=$?
	if ((rc == 0)); then
		fail_out "$what: succeeded, expected a refusal"
		return 1
	elif ((rc == 124)); then
		timed_out "$what"
		return 1
	fi
	return 0
}

# has WHAT PATTERN: an extended regex must match $OUT.
has() {
	if grep -qE -- "$2" <<<"$OUT"; then
		ok "$1"
		return 0
	fi
	fail_out "$1: no /$2/ in"
	return 1
}

# ---- openssl helpers -----------------------------------------------------

# The SHA-256 of a public key's DER SubjectPublicKeyInfo (PEM in $1).
pub_id() {
	openssl pkey -pubin -in "$1" -outform DER 2>/dev/null | sha256sum |
		cut -c1-64
}
cert_pub() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }
key_pub() { openssl pkey -in "$1" -pubout 2>/dev/null; }

# same_pub A B: two PEM public keys are the same key.
same_pub() {
	local a b
	a=$(pub_id "$1")
	b=$(pub_id "$2")
	[[ -s $1 && -s $2 && $a == "$b" ]]
}

# RSA1024, RSA2048, ECCP256, ECCP384 for a PEM public key.
pub_alg() {
	local text bits
	text=$(openssl pkey -pubin -in "$1" -text -noout 2>/dev/null) || return 1
	bits=$(sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p' <<<"$text")
	if grep -q '^Modulus' <<<"$text"; then
		echo "RSA$bits"
	else
		echo "ECCP$bits"
	fi
}

# A fresh private key: openssl_key rsa1024|rsa2048|p256|p384 FILE [trad].
openssl_key() {
	local opts
	case $1 in
	rsa*) opts=(-algorithm RSA -pkeyopt "rsa_keygen_bits:${1#rsa}") ;;
	p256) opts=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) ;;
	p384) opts=(-algorithm EC -pkeyopt ec_paramgen_curve:P-384) ;;
	esac
	if [[ ${3:-} == trad ]]; then
		openssl genpkey "${opts[@]}" 2>/dev/null |
			openssl pkey -traditional -out "$2" 2>/dev/null
	else
		openssl genpkey "${opts[@]}" -out "$2" 2>/dev/null
	fi
}

# A certificate for a public key, issued by the test's own CA (so that no
# on-card signature is needed: for touch keys).
ca_cert() {
	local pub=$1 cn=$2 out=$3
	openssl x509 -new -subj "/CN=$cn" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
		-force_pubkey "$pub" -days 30 -out "$out" 2>/dev/null
}

# verify_self_signed WHAT CERT PUB: the certificate's own signature
# (made on the card) verifies and it carries the key the card gave.
verify_self_signed() {
	local what=$1 cert=$2 pub=$3
	OUT=$(openssl verify -check_ss_sig -CAfile "$cert" "$cert" 2>&1)
	if [[ $? != 0 ]]; then
		fail_out "$what: openssl verify of the card-signed certificate"
		return 1
	fi
	cert_pub "$cert" >"$cert.pub"
	if ! same_pub "$cert.pub" "$pub"; then
		fail "$what: certificate's public key is not the one the card generated"
		return 1
	fi
	ok "$what: card-signed certificate verified by openssl, same public key"
}

# dgst_verify WHAT HASH PUB DATA SIG
dgst_verify() {
	local what=$1 hash=${2,,} pub=$3 data=$4 sig=$5
	OUT=$(openssl dgst "-$hash" -verify "$pub" -signature "$sig" "$data" 2>&1)
	if [[ $? == 0 && $OUT == "Verified OK" ]]; then
		ok "$what: openssl dgst -$hash -verify: Verified OK"
	else
		fail_out "$what: openssl dgst -$hash -verify"
	fi
}

# Default PIN policy of a slot (docs/PIV.md).
default_pin_policy() {
	case $1 in
	9c) echo ALWAYS ;;
	9e) echo NEVER ;;
	*) echo ONCE ;;
	esac
}

# The policy a slot ends up with: "-" or DEFAULT means the slot's default.
eff_pin() {
	if [[ $2 == - || ${2^^} == DEFAULT ]]; then
		default_pin_policy "$1"
	else
		echo "${2^^}"
	fi
}
eff_touch() {
	if [[ $1 == - || ${1^^} == DEFAULT ]]; then echo NEVER; else echo "${1^^}"; fi
}

# check_meta WHAT SLOT ALG PIN TOUCH ORIGIN PUB: GET METADATA agrees.
check_meta() {
	local what=$1 slot=$2 want
	want="alg=$3 pin=$4 touch=$5 origin=$6"
	OUT=$(meta slot "$READER" "$slot" "$TMP/$slot.meta.pub")
	if [[ $OUT != "$want" ]]; then
		fail_out "$what: metadata '$OUT', want '$want'"
		return 1
	fi
	if ! same_pub "$TMP/$slot.meta.pub" "$7"; then
		fail "$what: metadata public key differs from $7"
		return 1
	fi
	ok "$what: metadata $want, same public key"
}

vkey_serial() {
	timeout 10 "$VKEY" status --state "$TMP/key.db" 2>/dev/null |
		awk -F': *' '/^serial:/ { print $2; exit }'
}

# Run a command while `vkey touch` approves, after a second, the one
# user-presence request it waits for. A `vkey touch` that approved
# nothing (still waiting 2 s after the command ended, or failed) adds a
# line "(vkey touch failed: ...)" to the output.
with_touch() {
	local rc i
	(sleep 1; exec timeout 30 "$VKEY" touch --state "$TMP/key.db" --timeout 20) \
		>"$TMP/touch.out" 2>&1 &
	TOUCH_PID=$!
	"$@"
	rc=$?
	for ((i = 0; i < 20; i++)); do
		kill -0 "$TOUCH_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$TOUCH_PID" 2>/dev/null; then
		stop_pid "$TOUCH_PID"
		log "(vkey touch failed: no request came to approve)"
	elif ! wait "$TOUCH_PID"; then
		log "(vkey touch failed: $(tr '\n' ' ' <"$TMP/touch.out"))"
	fi
	TOUCH_PID=
	return $rc
}

# ==== yubico-piv-tool =====================================================

ypt_info() {
	run "yubico-piv-tool -a version" ypt -a version &&
		has "yubico-piv-tool -a version: 5.7.1" '^Application version 5\.7\.1 found\.'
	run "yubico-piv-tool -a status" ypt -a status || return
	has "status: Version 5.7.1" $'^Version:\t5\.7\.1$'
	has "status: PIN tries left 3" $'^PIN tries left:\t3$'
	has "status: no CHUID on a fresh card" $'^CHUID:\tNo data available'
	if [[ -n $SERIAL ]] && grep -qx $'Serial Number:\t'"$SERIAL" <<<"$OUT"; then
		ok "status: Serial Number $SERIAL = vkey status serial"
	else
		fail_out "status: no 'Serial Number: $SERIAL' (vkey status)"
	fi
	OUT=$(meta pins "$READER")
	[[ $OUT == "pin=3/3 pin_default=1 puk=3/3 puk_default=1 mgm=TDES mgm_default=1 mgm_touch=NEVER" ]] &&
		ok "factory metadata: $OUT" || fail_out "factory PIN/PUK/management key metadata"
}

# slot alg pin-policy touch-policy hash: generated by yubico-piv-tool.
YPT_KEYS=(
	"9a RSA2048 - - SHA256"
	"9c ECCP256 - - SHA256"
	"9d RSA1024 - - SHA1"
	"9e ECCP384 - - SHA384"
	"82 ECCP256 never - SHA256"
	"83 RSA2048 always - SHA512"
	"84 ECCP384 once never SHA384"
	"95 RSA1024 never - SHA256"
)

# Sign a file with the slot's key (PIN verified first), check it with
# openssl against the public key PUB.
ypt_sign_check() {
	local what=$1 slot=$2 alg=$3 hash=$4 pub=$5
	head -c 1000 /dev/urandom >"$TMP/$slot.data"
	run "$what: --sign" ypt -a verify-pin -P "$PIN" --sign -s "$slot" -A "$alg" \
		-H "$hash" -i "$TMP/$slot.data" -o "$TMP/$slot.sig" || return
	dgst_verify "$what: --sign -H $hash" "$hash" "$pub" "$TMP/$slot.data" "$TMP/$slot.sig"
}

# test-signature and test-decipher against the certificate CERT.
ypt_test_ops() {
	local what=$1 slot=$2 alg=$3 hash=$4 cert=$5 want
	run "$what: test-signature" ypt -a verify-pin -P "$PIN" -a test-signature \
		-s "$slot" -H "$hash" -i "$cert" &&
		has "$what: test-signature -H $hash" '^Successful (RSA|ECDSA) verification'
	[[ $alg == RSA* ]] && want='^Successfully performed RSA decryption' ||
		want='^Successfully performed ECDH exchange'
	run "$what: test-decipher" ypt -a verify-pin -P "$PIN" -a test-decipher \
		-s "$slot" -i "$cert" && has "$what: test-decipher" "$want"
}

ypt_generate_one() {
	local slot=$1 alg=$2 pp=$3 tp=$4 hash=$5 opts=() what pub
	what="ypt $slot $alg pin=$pp touch=$tp"
	pub=$TMP/$slot.pub
	[[ $pp != - ]] && opts+=("--pin-policy=$pp")
	[[ $tp != - ]] && opts+=("--touch-policy=$tp")
	run "$what: generate" ypt --key="$MGM" -a generate -s "$slot" -A "$alg" \
		"${opts[@]}" -o "$pub" || return
	if [[ $(pub_alg "$pub") == "$alg" ]]; then
		ok "$what: generated, public key is $alg"
	else
		fail "$what: public key is '$(pub_alg "$pub")', not $alg"
		return
	fi
	check_meta "$what" "$slot" "$alg" "$(eff_pin "$slot" "$pp")" \
		"$(eff_touch "$tp")" generated "$pub"
	# A self-signed certificate, signed on the card by ykman.
	run "$what: ykman certificates generate" yk certificates generate \
		-m "$MGM" -P "$PIN" -s "CN=ypt $slot" "$slot" "$pub" || return
	run "$what: read-certificate" ypt -a read-certificate -s "$slot" \
		-o "$TMP/$slot.crt" || return
	verify_self_signed "$what" "$TMP/$slot.crt" "$pub"
	ypt_test_ops "$what" "$slot" "$alg" "$hash" "$TMP/$slot.crt"
	ypt_sign_check "$what" "$slot" "$alg" "$hash" "$pub"
}

ypt_generate() {
	local row
	for row in "${YPT_KEYS[@]}"; do
		# shellcheck disable=SC2086
		ypt_generate_one $row
	done
}

# `vkey piv list` on the daemon's key: the generated keys with their
# algorithms and policies, the attestation key.
vkey_piv_list() {
	run "vkey piv list" timeout 10 "$VKEY" piv list --state "$TMP/key.db" ||
		return
	has "vkey piv list: 9a RSA-2048" '^9a authentication +rsa2048 +generated pin once'
	has "vkey piv list: 9c P-256, PIN always" '^9c signature +p256 +generated pin always'
	has "vkey piv list: 82 P-256, PIN never" '^82 retired 1 +p256 +generated pin never'
	has "vkey piv list: 95 RSA-1024" '^95 retired 20 +rsa1024 '
	has "vkey piv list: f9 attestation key" '^f9 attestation +p256 +generated pin never +touch never +certificate'
}

# count PATTERN: matching lines in $OUT.
count() { grep -cE -- "$1" <<<"$OUT"; }

# PIN policies as the card enforces them, seen through test-signature.
ypt_pin_policies() {
	# never: no VERIFY needed.
	run "9e (never): test-signature without the PIN" ypt -a test-signature \
		-s 9e -H SHA384 -i "$TMP/9e.crt" &&
		ok "9e (PIN never): signs without the PIN"
	run "82 (never): test-signature without the PIN" ypt -a test-signature \
		-s 82 -i "$TMP/82.crt" && ok "82 (--pin-policy=never): signs without the PIN"
	# once: refused without the PIN; one VERIFY serves two signatures.
	refuse "9a (once) without the PIN" ypt -a test-signature -s 9a \
		-i "$TMP/9a.crt" && ok "9a (PIN once): refused without the PIN"
	OUT=$(ypt -a verify-pin -P "$PIN" -a test-signature -a test-signature \
		-s 9a -i "$TMP/9a.crt")
	(($(count '^Successful RSA verification') == 2)) &&
		ok "9a (PIN once): one VERIFY, two signatures" ||
		fail_out "9a (PIN once): one VERIFY, two signatures"
	# always: one VERIFY serves one signature.
	local slot
	for slot in 9c 83; do
		OUT=$(ypt -a verify-pin -P "$PIN" -a test-signature -a test-signature \
			-s "$slot" -i "$TMP/$slot.crt")
		if (($(count '^Successful (RSA|ECDSA) verification') == 1)) &&
			grep -q 'Failed signing test data' <<<"$OUT"; then
			ok "$slot (PIN always): one VERIFY, one signature; the second refused"
		else
			fail_out "$slot (PIN always): second signature after one VERIFY"
		fi
	done
}

# slot openssl-key-kind pin-policy touch-policy hash: imported.
YPT_IMPORTS=(
	"86 rsa2048 never - SHA256 pkcs8"
	"87 p256 - never SHA256 trad"
	"88 p384 always - SHA384 pkcs8"
	"89 rsa1024 - - SHA1 trad"
)

ypt_import_one() {
	local slot=$1 kind=$2 pp=$3 tp=$4 hash=$5 form=$6 opts=() what alg
	what="ypt import $slot $kind pin=$pp touch=$tp ($form PEM)"
	case $kind in
	rsa*) alg=RSA${kind#rsa} ;;
	p*) alg=ECCP${kind#p} ;;
	esac
	openssl_key "$kind" "$TMP/$slot.key" "$form" || { fail "$what: openssl key"; return; }
	key_pub "$TMP/$slot.key" >"$TMP/$slot.pub"
	openssl req -x509 -new -key "$TMP/$slot.key" -subj "/CN=imported $slot" \
		-days 30 -out "$TMP/$slot.crt" 2>/dev/null || { fail "$what: openssl req"; return; }
	[[ $pp != - ]] && opts+=("--pin-policy=$pp")
	[[ $tp != - ]] && opts+=("--touch-policy=$tp")
	run "$what: import-key" ypt --key="$MGM" -a import-key -s "$slot" \
		"${opts[@]}" -i "$TMP/$slot.key" || return
	has "$what: import-key" '^Successfully imported a new private key'
	run "$what: import-certificate" ypt --key="$MGM" -a import-certificate \
		-s "$slot" -i "$TMP/$slot.crt" || return
	run "$what: read-certificate" ypt -a read-certificate -s "$slot" -K DER \
		-o "$TMP/$slot.back.der" || return
	if cmp -s <(openssl x509 -in "$TMP/$slot.crt" -outform DER) "$TMP/$slot.back.der"; then
		ok "$what: import-certificate, read-certificate -K DER gives it back"
	else
		fail "$what: read-certificate differs from the imported certificate"
	fi
	check_meta "$what" "$slot" "$alg" "$(eff_pin "$slot" "$pp")" \
		"$(eff_touch "$tp")" imported "$TMP/$slot.pub"
	ypt_test_ops "$what" "$slot" "$alg" "$hash" "$TMP/$slot.crt"
	ypt_sign_check "$what" "$slot" "$alg" "$hash" "$TMP/$slot.pub"
	refuse "$what: attest" ypt -a attest -s "$slot" &&
		ok "$what: an imported key is not attested"
}

# A PKCS#12 file (key and certificate, password protected).
ypt_import_p12() {
	local what="ypt import 8a PKCS12 (P-256 key + certificate)"
	openssl_key p256 "$TMP/8a.key" && key_pub "$TMP/8a.key" >"$TMP/8a.pub" &&
		openssl req -x509 -new -key "$TMP/8a.key" -subj "/CN=p12" -days 30 \
			-out "$TMP/8a.crt" 2>/dev/null &&
		openssl pkcs12 -export -inkey "$TMP/8a.key" -in "$TMP/8a.crt" \
			-passout pass:p12secret -out "$TMP/8a.p12" 2>/dev/null ||
		{ fail "$what: openssl pkcs12"; return; }
	run "$what" ypt --key="$MGM" -a import-key -a import-certificate -s 8a \
		-K PKCS12 -p p12secret -i "$TMP/8a.p12" || return
	has "$what: key and certificate imported" '^Successfully imported a new certificate'
	run "$what: read-certificate" ypt -a read-certificate -s 8a -o "$TMP/8a.back" || return
	[[ $(cert_pub "$TMP/8a.back") == "$(cat "$TMP/8a.pub")" ]] &&
		ok "$what: read-certificate gives its certificate" ||
		fail "$what: certificate read back differs"
	check_meta "$what" 8a ECCP256 ONCE NEVER imported "$TMP/8a.pub"
	ypt_test_ops "$what" 8a ECCP256 SHA256 "$TMP/8a.crt"
	ypt_sign_check "$what" 8a ECCP256 SHA256 "$TMP/8a.pub"
}

ypt_import() {
	local row
	for row in "${YPT_IMPORTS[@]}"; do
		# shellcheck disable=SC2086
		ypt_import_one $row
	done
	ypt_import_p12
}

# delete-certificate: the object is gone, the key stays.
ypt_delete_cert() {
	run "delete-certificate -s 89" ypt --key="$MGM" -a delete-certificate -s 89 || return
	refuse "read-certificate -s 89 after delete" ypt -a read-certificate -s 89 &&
		ok "delete-certificate -s 89: read-certificate fails afterwards"
	OUT=$(meta slot "$READER" 89)
	[[ $OUT == alg=RSA1024* ]] && ok "delete-certificate -s 89: the key stays" ||
		fail_out "delete-certificate -s 89: metadata of the key"
}

# F9's certificate (object 5FFF01), kept for the ykman part.
read_f9() {
	run "read-certificate -s f9" ypt -a read-certificate -s f9 -o "$TMP/f9.pem" ||
		return 1
	OUT=$(openssl verify -check_ss_sig -CAfile "$TMP/f9.pem" "$TMP/f9.pem" 2>&1) ||
		{ fail_out "f9 certificate: not self-signed"; return 1; }
	F9_FPR=$(openssl x509 -in "$TMP/f9.pem" -noout -fingerprint -sha256)
	ok "read-certificate -s f9: self-signed attestation certificate"
}

# check_attestation WHAT ATT PUB PIN TOUCH: chain to F9, same key, the
# Yubico extensions carry the version, serial and policies.
check_attestation() {
	local what=$1 att=$2 pub=$3 want
	OUT=$(openssl verify -CAfile "$TMP/f9.pem" "$att" 2>&1)
	if [[ $? != 0 ]]; then
		fail_out "$what: openssl verify against the F9 certificate"
		return 1
	fi
	cert_pub "$att" >"$att.pub"
	if ! same_pub "$att.pub" "$pub"; then
		fail "$what: attested public key differs from the generated one"
		return 1
	fi
	want="version=5.7.1 serial=$SERIAL pin=$4 touch=$5"
	OUT=$(meta attestation "$att")
	if [[ $OUT != "$want" ]]; then
		fail_out "$what: Yubico extensions '$OUT', want '$want'"
		return 1
	fi
	ok "$what: verifies against F9, same key, $want"
}

ypt_attest() {
	read_f9 || return
	local row slot alg pp tp hash
	for row in "${YPT_KEYS[@]}"; do
		read -r slot alg pp tp hash <<<"$row"
		run "attest -s $slot" ypt -a attest -s "$slot" -o "$TMP/$slot.att" ||
			continue
		check_attestation "yubico-piv-tool -a attest -s $slot ($alg)" \
			"$TMP/$slot.att" "$TMP/$slot.pub" "$(eff_pin "$slot" "$pp")" \
			"$(eff_touch "$tp")"
	done
	refuse "attest -s 93 (empty)" ypt -a attest -s 93 &&
		ok "attest -s 93: an empty slot is not attested"
}

# Hex of a file, lower case, nothing else.
hexof() { od -An -tx1 -v "$1" | tr -d ' \n'; }
clean_hex() { tr -d ' \n\r\t' | tr 'A-F' 'a-f'; }

# read_hex WHAT ID [PIN]: HEX = the object's content as read-object -f hex
# writes it (to a file: the output stays apart from the messages).
read_hex() {
	local pin=()
	[[ -n ${3:-} ]] && pin=(-a verify-pin -P "$3")
	HEX=
	rm -f "$TMP/obj.hex"
	run "$1" ypt "${pin[@]}" -a read-object --id "$2" -f hex -o "$TMP/obj.hex" ||
		return 1
	HEX=$(clean_hex <"$TMP/obj.hex")
}

ypt_objects() {
	local small=$TMP/obj.small big=$TMP/obj.big
	head -c 200 /dev/urandom | od -An -tx1 -v | tr -d ' \n' >"$small"
	run "write-object 5fc10c (hex)" ypt --key="$MGM" -a write-object \
		--id 0x5fc10c -f hex -i "$small" || return
	read_hex "read-object 5fc10c (hex)" 0x5fc10c || return
	[[ $HEX == "$(cat "$small")" ]] &&
		ok "write-object/read-object 5fc10c: 200 bytes as hex" ||
		fail "read-object 5fc10c: '$HEX' differs from what was written"
	# 3000 bytes: chained commands in, a long answer out.
	head -c 3000 /dev/urandom >"$big"
	run "write-object 5fc123 (binary)" ypt --key="$MGM" -a write-object \
		--id 0x5fc123 -f binary -i "$big" || return
	run "read-object 5fc123 (binary)" ypt -a read-object --id 0x5fc123 \
		-f binary -o "$TMP/obj.big.back" &&
		cmp -s "$big" "$TMP/obj.big.back" &&
		ok "write-object/read-object 5fc123: 3000 bytes binary" ||
		fail "read-object 5fc123: differs from what was written"
	run "ykman objects export 5FC123" yk objects export 5FC123 "$TMP/obj.yk" &&
		cmp -s "$big" "$TMP/obj.yk" &&
		ok "ykman objects export 5FC123 reads yubico-piv-tool's 3000 bytes" ||
		fail "ykman objects export 5FC123 differs"
	# The size limit, 3052 bytes of content.
	head -c 3052 /dev/urandom >"$TMP/obj.3052"
	head -c 3053 /dev/urandom >"$TMP/obj.3053"
	run "ykman objects import 5FC123 (3052 bytes)" yk objects import -m "$MGM" \
		5FC123 "$TMP/obj.3052" &&
		yk objects export 5FC123 "$TMP/obj.3052.back" >/dev/null &&
		cmp -s "$TMP/obj.3052" "$TMP/obj.3052.back" &&
		ok "ykman objects import/export 5FC123: 3052 bytes (the limit)"
	refuse "ykman objects import 5FC123 (3053 bytes)" yk objects import \
		-m "$MGM" 5FC123 "$TMP/obj.3053" &&
		ok "ykman objects import 5FC123: 3053 bytes refused"
	# An empty write deletes.
	run "ykman objects import 5FC123 (empty)" yk objects import -m "$MGM" \
		5FC123 /dev/null &&
		refuse "objects export after delete" yk objects export 5FC123 - &&
		has "ykman: an empty object import deletes it" 'No data found'
	# The discovery object.
	run "ykman objects export DISCOVERY" yk objects export DISCOVERY "$TMP/7e" &&
		[[ $(hexof "$TMP/7e") == 4f0ba0000003080000100001005f2f024000 ]] &&
		ok "discovery object: 4F 0B <PIV AID> 5F2F 02 4000" ||
		fail "discovery object: $(hexof "$TMP/7e")"
	# PIN-protected read (printed information 5FC109); removed again
	# because ykman keeps its protected management key there.
	printf 'printed information' >"$TMP/printed"
	run "ykman objects import 5FC109" yk objects import -m "$MGM" 5FC109 \
		"$TMP/printed" || return
	refuse "read-object 5fc109 without the PIN" ypt -a read-object \
		--id 0x5fc109 -f binary && ok "read-object 5fc109: needs the PIN"
	run "read-object 5fc109 with the PIN" ypt -a verify-pin -P "$PIN" \
		-a read-object --id 0x5fc109 -f binary -o "$TMP/printed.back" &&
		cmp -s "$TMP/printed" "$TMP/printed.back" &&
		ok "read-object 5fc109 after verify-pin: the content" ||
		fail "read-object 5fc109 after verify-pin"
	run "delete 5FC109" yk objects import -m "$MGM" 5FC109 /dev/null
}

ypt_chuid_ccc() {
	local chuid ccc
	run "set-chuid, set-ccc" ypt --key="$MGM" -a set-chuid -a set-ccc || return
	has "set-chuid" '^Successfully set new CHUID'
	has "set-ccc" '^Successfully set new CCC'
	read_hex "read-object 5fc102" 0x5fc102 && chuid=$HEX
	read_hex "read-object 5fc107" 0x5fc107 && ccc=$HEX
	run "status" ypt -a status || return
	[[ -n ${chuid:-} && $(sed -n 's/^CHUID:\t//p' <<<"$OUT" | clean_hex) == "$chuid" ]] &&
		ok "status: CHUID = read-object 5fc102 (${#chuid} hex digits)" ||
		fail_out "status: CHUID line vs read-object 5fc102 '${chuid:-}'"
	[[ -n ${ccc:-} && $(sed -n 's/^CCC:\t//p' <<<"$OUT" | clean_hex) == "$ccc" ]] &&
		ok "status: CCC = read-object 5fc107" ||
		fail_out "status: CCC line vs read-object 5fc107 '${ccc:-}'"
	(($(count '^Slot [0-9a-f]+:') >= 10)) &&
		ok "status: lists $(count '^Slot [0-9a-f]+:') certificates" ||
		fail_out "status: certificate list"
}

ypt_mgm_key() {
	run "set-mgm-key" ypt --key="$MGM" -a set-mgm-key -n "$MGM_NEW" || return
	has "set-mgm-key to a new 3DES key" '^Successfully set new management key'
	refuse "old management key" ypt --key="$MGM" -a set-ccc &&
		has "set-mgm-key: the old key fails" 'Failed authentication'
	run "new management key" ypt --key="$MGM_NEW" -a set-ccc &&
		ok "set-mgm-key: the new key authenticates (set-ccc)"
	OUT=$(meta pins "$READER")
	[[ $OUT == *"mgm=TDES mgm_default=0"* ]] &&
		ok "metadata: TDES, not the default" || fail_out "metadata after set-mgm-key"
	run "set-mgm-key back" ypt --key="$MGM_NEW" -a set-mgm-key -n "$MGM" &&
		run "default key again" ypt --key="$MGM" -a set-ccc &&
		ok "set-mgm-key back to the default, which authenticates"
	OUT=$(meta pins "$READER")
	[[ $OUT == *"mgm=TDES mgm_default=1"* ]] &&
		ok "metadata: the default key again" || fail_out "metadata after set-mgm-key back"
}

# verify_wrong N: a wrong PIN leaves N tries (or blocks: N = 0).
ypt_verify_wrong() {
	OUT=$(ypt -a verify-pin -P 999999)
	if (($1 > 0)); then
		has "verify-pin wrong: $1 tries left" "Pin verification failed, $1 tries left"
	else
		has "verify-pin wrong: blocked" 'Pin verification failed, 0 tries left|Pin code blocked'
	fi
}

ypt_pins() {
	run "change-pin" ypt -a change-pin -P "$PIN" -N 654321 &&
		has "change-pin 123456 -> 654321" '^Successfully changed the pin code'
	ypt_verify_wrong 2
	run "verify-pin new" ypt -a verify-pin -P 654321 &&
		has "verify-pin with the new PIN" '^Successfully verified PIN'
	run "status" ypt -a status && has "a right PIN restores the tries" $'^PIN tries left:\t3$'
	run "change-pin back" ypt -a change-pin -P 654321 -N "$PIN" &&
		ok "change-pin back to 123456"
	run "change-puk" ypt -a change-puk -P "$PUK" -N 87654321 &&
		has "change-puk 12345678 -> 87654321" '^Successfully changed the puk code'
	OUT=$(ypt -a change-puk -P "$PUK" -N 11111111)
	has "change-puk with the old PUK: 2 tries left" 'now 2 tries left'
	run "change-puk back" ypt -a change-puk -P 87654321 -N "$PUK" &&
		ok "change-puk back to 12345678"
	OUT=$(meta pins "$READER")
	[[ $OUT == "pin=3/3 pin_default=1 puk=3/3 puk_default=1"* ]] &&
		ok "metadata: PIN and PUK default, 3/3 each" || fail_out "metadata after PIN changes"
	# Block the PIN, unblock it with the PUK.
	ypt_verify_wrong 2
	ypt_verify_wrong 1
	ypt_verify_wrong 0
	OUT=$(ypt -a verify-pin -P "$PIN")
	has "blocked: the right PIN is refused" 'Pin code blocked'
	OUT=$(ypt -a unblock-pin -P 87654321 -N 246810)
	has "unblock-pin with a wrong PUK: 2 tries left" 'now 2 tries left'
	run "unblock-pin" ypt -a unblock-pin -P "$PUK" -N 246810 &&
		has "unblock-pin with the PUK" '^Successfully unblocked the pin code'
	run "verify-pin after unblock" ypt -a verify-pin -P 246810 &&
		ok "unblock-pin: the new PIN verifies"
	run "change-pin back" ypt -a change-pin -P 246810 -N "$PIN"
	# pin-retries needs the management key and the PIN.
	refuse "pin-retries without the PIN" ypt --key="$MGM" -a pin-retries \
		--pin-retries 5 --puk-retries 4 &&
		ok "pin-retries: refused without verify-pin"
	run "pin-retries" ypt --key="$MGM" -a verify-pin -P "$PIN" -a pin-retries \
		--pin-retries 5 --puk-retries 4 &&
		has "pin-retries 5/4" 'Successfully changed pin retries to 5 and puk retries to 4'
	run "status" ypt -a status && has "status after pin-retries: 5 tries" $'^PIN tries left:\t5$'
	OUT=$(meta pins "$READER")
	[[ $OUT == "pin=5/5 pin_default=1 puk=4/4 puk_default=1"* ]] &&
		ok "metadata after pin-retries: $OUT" || fail_out "metadata after pin-retries"
	run "pin-retries back" ypt --key="$MGM" -a verify-pin -P "$PIN" -a pin-retries \
		--pin-retries 3 --puk-retries 3 && ok "pin-retries back to 3/3"
}

# Block the PIN and the PUK with yubico-piv-tool (bounded: 8 tries each).
ypt_block_all() {
	local i
	for ((i = 0; i < 8; i++)); do
		OUT=$(ypt -a verify-pin -P 999999)
		grep -q 'Pin code blocked' <<<"$OUT" && break
	done
	for ((i = 0; i < 8; i++)); do
		OUT=$(ypt -a change-puk -P 99999999 -N 88888888)
		grep -q 'puk code is blocked' <<<"$OUT" && break
	done
	((i < 8))
}

ypt_reset() {
	OUT=$(ypt -a reset)
	has "reset refused while PIN and PUK work" 'Reset failed'
	ypt_block_all || { fail_out "could not block PIN and PUK"; return; }
	ok "PIN and PUK blocked"
	run "reset" ypt -a reset && has "reset" '^Successfully reset the application'
	run "status after reset" ypt -a status || return
	(($(count '^Slot [0-9a-f]+:') == 0)) && ok "status after reset: no certificates" ||
		fail_out "status after reset still lists certificates"
	has "status after reset: no CHUID" $'^CHUID:\tNo data available'
	has "status after reset: 3 PIN tries" $'^PIN tries left:\t3$'
	OUT=$(meta slot "$READER" 9a)
	[[ $OUT == empty ]] && ok "after reset: slot 9a empty (6A88)" ||
		fail_out "after reset: slot 9a metadata"
	run "default PIN after reset" ypt -a verify-pin -P "$PIN" &&
		ok "after reset: the default PIN verifies"
	run "default management key after reset" ypt --key="$MGM" -a set-ccc &&
		ok "after reset: the default management key authenticates"
	run "f9 after reset" ypt -a read-certificate -s f9 -o "$TMP/f9.after" &&
		[[ $(openssl x509 -in "$TMP/f9.after" -noout -fingerprint -sha256) == "$F9_FPR" ]] &&
		ok "after reset: the F9 attestation certificate is kept" ||
		fail "after reset: the F9 certificate changed"
}

# ==== ykman ==============================================================

yk_info() {
	run "ykman piv info" yk info || return
	has "ykman piv info: PIV version 5.7.1" '^PIV version: 5\.7\.1'
	has "ykman piv info: PIN tries 3/3" '^PIN tries remaining: 3/3'
	has "ykman piv info: default PIN warned" 'Using default PIN'
	has "ykman piv info: default management key, TDES" '^Management key algorithm: TDES'
}

# slot alg pin-policy touch-policy: generated by ykman.
YK_KEYS=(
	"9a RSA2048 ONCE NEVER"
	"9c ECCP256 DEFAULT DEFAULT"
	"9d ECCP384 NEVER DEFAULT"
	"9e RSA1024 DEFAULT NEVER"
	"8c ECCP256 ALWAYS NEVER"
	"94 ECCP384 NEVER CACHED"
)

yk_generate_one() {
	local slot=$1 alg=$2 pp=$3 tp=$4 what pub
	what="ykman $slot $alg pin=$pp touch=$tp"
	pub=$TMP/yk$slot.pub
	run "$what: keys generate" yk keys generate -m "$MGM" -a "$alg" \
		--pin-policy "$pp" --touch-policy "$tp" "$slot" "$pub" || return
	[[ $(pub_alg "$pub") == "$alg" ]] && ok "$what: keys generate" ||
		{ fail "$what: public key is '$(pub_alg "$pub")'"; return; }
	check_meta "$what" "$slot" "$alg" "$(eff_pin "$slot" "$pp")" \
		"$(eff_touch "$tp")" generated "$pub"
	run "$what: keys export" yk keys export "$slot" "$TMP/yk$slot.exp" &&
		same_pub "$TMP/yk$slot.exp" "$pub" &&
		ok "$what: keys export gives the generated key" ||
		fail "$what: keys export differs"
	run "$what: keys attest" yk keys attest "$slot" "$TMP/yk$slot.att" &&
		check_attestation "$what: keys attest" "$TMP/yk$slot.att" "$pub" \
			"$(eff_pin "$slot" "$pp")" "$(eff_touch "$tp")"
	[[ $(eff_touch "$tp") != NEVER ]] && return
	run "$what: certificates generate" yk certificates generate -m "$MGM" \
		-P "$PIN" -s "CN=ykman $slot,O=vkey" "$slot" "$pub" || return
	run "$what: certificates export" yk certificates export "$slot" \
		"$TMP/yk$slot.crt" || return
	verify_self_signed "$what: certificates generate" "$TMP/yk$slot.crt" "$pub"
}

yk_generate() {
	local row
	run "ykman certificates export f9" yk certificates export f9 "$TMP/yk.f9" &&
		[[ $(openssl x509 -in "$TMP/yk.f9" -noout -fingerprint -sha256) == "$F9_FPR" ]] &&
		ok "ykman certificates export f9: the attestation certificate" ||
		fail "ykman certificates export f9 differs from yubico-piv-tool's"
	for row in "${YK_KEYS[@]}"; do
		# shellcheck disable=SC2086
		yk_generate_one $row
	done
	run "ykman piv info" yk info || return
	has "ykman piv info: lists slot 9a" '^Slot 9a:'
	has "ykman piv info: slot 9d ECCP384" $'^\tAlgorithm:\tECCP384'
	has "ykman piv info: subject DN" $'Subject DN:\tCN=ykman 9c,O=vkey|Subject DN:\tO=vkey,CN=ykman 9c'
}

# slot kind pin-policy touch-policy: imported by ykman (8f: an encrypted
# PEM key).
yk_import() {
	local what slot
	openssl_key p256 "$TMP/yk8d.key" && openssl_key rsa2048 "$TMP/yk8e.key" &&
		openssl_key p384 "$TMP/yk8f.plain" &&
		openssl pkey -in "$TMP/yk8f.plain" -aes256 -passout pass:keypw \
			-out "$TMP/yk8f.key" 2>/dev/null || { fail "openssl keys"; return; }
	run "ykman keys import 8d (P-256, pin never)" yk keys import -m "$MGM" \
		--pin-policy NEVER 8d "$TMP/yk8d.key" &&
		ok "ykman keys import 8d P-256 --pin-policy NEVER"
	run "ykman keys import 8e (RSA-2048, touch never)" yk keys import -m "$MGM" \
		--touch-policy NEVER 8e "$TMP/yk8e.key" &&
		ok "ykman keys import 8e RSA-2048 --touch-policy NEVER"
	run "ykman keys import 8f (P-384, encrypted PEM)" yk keys import -m "$MGM" \
		-p keypw 8f "$TMP/yk8f.key" &&
		ok "ykman keys import 8f P-384 from an encrypted PEM"
	key_pub "$TMP/yk8d.key" >"$TMP/yk8d.pub"
	key_pub "$TMP/yk8e.key" >"$TMP/yk8e.pub"
	key_pub "$TMP/yk8f.plain" >"$TMP/yk8f.pub"
	check_meta "ykman import 8d" 8d ECCP256 NEVER NEVER imported "$TMP/yk8d.pub"
	check_meta "ykman import 8e" 8e RSA2048 ONCE NEVER imported "$TMP/yk8e.pub"
	check_meta "ykman import 8f" 8f ECCP384 ONCE NEVER imported "$TMP/yk8f.pub"
	for slot in 8d 8e 8f; do
		what="ykman import $slot"
		run "$what: keys export" yk keys export "$slot" "$TMP/yk$slot.exp" &&
			same_pub "$TMP/yk$slot.exp" "$TMP/yk$slot.pub" &&
			ok "$what: keys export gives the imported key" ||
			fail "$what: keys export differs"
		refuse "$what: keys attest" yk keys attest "$slot" - &&
			has "$what: not attested" 'Attestation failed'
		openssl req -x509 -new -key "$TMP/yk$slot.key" -passin pass:keypw \
			-subj "/CN=yk import $slot" -days 30 -out "$TMP/yk$slot.crt" 2>/dev/null
		# --verify: ykman signs with the slot's key and checks the
		# signature against the certificate's key.
		run "$what: certificates import --verify" yk certificates import \
			-m "$MGM" -P "$PIN" --verify "$slot" "$TMP/yk$slot.crt" &&
			ok "$what: certificates import --verify (an on-card signature)"
		run "$what: certificates export" yk certificates export "$slot" \
			"$TMP/yk$slot.back" &&
			cmp -s <(openssl x509 -in "$TMP/yk$slot.crt" -outform DER) \
				<(openssl x509 -in "$TMP/yk$slot.back" -outform DER) &&
			ok "$what: certificates export gives it back" ||
			fail "$what: certificates export differs"
	done
	refuse "certificates import --verify with a foreign certificate" \
		yk certificates import -m "$MGM" -P "$PIN" --verify 8e "$TMP/yk8d.crt" &&
		has "ykman certificates import --verify: a foreign certificate refused" \
			'not tied to the private key'
	run "certificates delete 8d" yk certificates delete -m "$MGM" 8d &&
		refuse "certificates export 8d after delete" yk certificates export 8d - &&
		has "ykman certificates delete 8d: gone" 'No certificate found'
}

# change-pin with a wrong PIN until it says N tries (bounded).
yk_access() {
	run "change-pin" yk access change-pin -P "$PIN" -n 11223344 &&
		has "ykman access change-pin" '^New PIN set'
	refuse "change-pin wrong" yk access change-pin -P 000000 -n 22334455 &&
		has "ykman change-pin with a wrong PIN: 2 tries left" 'PIN change failed - 2 tries left'
	run "change-pin back" yk access change-pin -P 11223344 -n "$PIN" &&
		ok "ykman change-pin back"
	run "change-puk" yk access change-puk -p "$PUK" -n 23456789 &&
		has "ykman access change-puk" '^New PUK set'
	run "change-puk back" yk access change-puk -p 23456789 -n "$PUK" &&
		ok "ykman change-puk back"
	refuse "change-pin wrong 1" yk access change-pin -P 000000 -n 22334455
	refuse "change-pin wrong 2" yk access change-pin -P 000000 -n 22334455
	refuse "change-pin wrong 3" yk access change-pin -P 000000 -n 22334455 &&
		has "ykman: third wrong PIN blocks it" 'PIN is blocked'
	refuse "unblock-pin wrong PUK" yk access unblock-pin -p 00000000 -n 135790 &&
		has "ykman unblock-pin with a wrong PUK: 2 tries left" 'PIN unblock failed - 2 tries left'
	run "unblock-pin" yk access unblock-pin -p "$PUK" -n 135790 &&
		has "ykman access unblock-pin" '^PIN unblocked'
	run "change-pin back" yk access change-pin -P 135790 -n "$PIN" &&
		ok "ykman: the unblocked PIN works"
	OUT=$(meta pins "$READER")
	[[ $OUT == "pin=3/3 pin_default=1 puk=3/3 puk_default=1"* ]] &&
		ok "metadata: PIN and PUK back to default, tries restored" ||
		fail_out "metadata after ykman PIN changes"
	run "set-retries" yk access set-retries 5 6 -m "$MGM" -P "$PIN" -f &&
		has "ykman access set-retries 5 6" 'Default PINs are set'
	run "info" yk info && has "ykman info after set-retries: 5/5" '^PIN tries remaining: 5/5'
	OUT=$(meta pins "$READER")
	[[ $OUT == "pin=5/5 pin_default=1 puk=6/6 puk_default=1"* ]] &&
		ok "metadata after set-retries: $OUT" || fail_out "metadata after set-retries"
	run "set-retries back" yk access set-retries 3 3 -m "$MGM" -P "$PIN" -f &&
		ok "ykman set-retries back to 3 3"
}

# use_mgm WHAT KEY: an operation that needs the management key KEY.
use_mgm() {
	run "$1" yk objects generate chuid -m "$2" &&
		ok "$1: authenticates (objects generate chuid)"
}

yk_mgm_key() {
	local alg key prev=$MGM
	run "change-management-key TDES" yk access change-management-key \
		-m "$MGM" -n "$MGM_NEW" -f && ok "ykman change-management-key: a new TDES key"
	use_mgm "new TDES key" "$MGM_NEW"
	refuse "old key" yk objects generate chuid -m "$MGM" &&
		has "ykman: the old key fails" 'Authentication with management key failed'
	prev=$MGM_NEW
	for alg in AES128 AES192 AES256; do
		key=${AES_KEY[$alg]}
		run "change-management-key $alg" yk access change-management-key \
			-m "$prev" -a "$alg" -n "$key" -f || continue
		prev=$key
		run "info" yk info &&
			has "ykman change-management-key -a $alg: info says $alg" \
				"^Management key algorithm: $alg"
		use_mgm "$alg key" "$key"
	done
	OUT=$(meta pins "$READER")
	[[ $OUT == *"mgm=AES256 mgm_default=0 mgm_touch=NEVER" ]] &&
		ok "metadata: AES256 management key" || fail_out "metadata after AES256"
	# yubico-piv-tool 2.2 knows 3DES only: with an AES key it cannot
	# authenticate, and says so.
	refuse "yubico-piv-tool with an AES management key" ypt --key="$MGM" -a set-ccc &&
		ok "yubico-piv-tool 2.2 (3DES only) fails cleanly against an AES key"
	# --protect: a random AES-256 key kept in 5FC109 behind the PIN,
	# flagged in 5FFF00.
	run "change-management-key --protect" yk access change-management-key \
		-m "$prev" -P "$PIN" -a AES256 --protect -f || return
	run "info" yk info &&
		has "ykman --protect: info says the key is stored, PIN-protected" \
			'stored on the YubiKey, protected by PIN'
	run "certificates delete with the PIN only" yk certificates delete -P "$PIN" 9e &&
		ok "ykman --protect: the PIN alone authenticates (reads 5FC109)"
	read_hex "read-object 5fff00" 0x5fff00 &&
		[[ $HEX == 8003810102 ]] &&
		ok "5FFF00 readable without the PIN: 80 03 81 01 02 (key protected)" ||
		fail "5FFF00 content: '$HEX'"
	refuse "read-object 5fc109 without the PIN" ypt -a read-object --id 0x5fc109 &&
		ok "5FC109 not readable without the PIN"
	read_hex "read-object 5fc109 with the PIN" 0x5fc109 "$PIN" &&
		[[ $HEX =~ ^88228920[0-9a-f]{64}$ ]] &&
		ok "5FC109 after verify-pin: 88 22 89 20 <32-byte key>" ||
		fail "5FC109 content: '$HEX'"
	# And back to the default 3DES key, authenticated by the PIN.
	run "change-management-key back" yk access change-management-key -P "$PIN" \
		-a TDES -n "$MGM" -f || return
	run "info" yk info || return
	grep -q 'stored on the YubiKey' <<<"$OUT" &&
		fail_out "ykman: key still said to be stored" ||
		has "ykman: back to the default TDES key" 'Using default Management key'
	read_hex "read-object 5fc109" 0x5fc109 "$PIN" && [[ $HEX == 8800 ]] &&
		ok "5FC109 cleared (88 00)" || fail "5FC109 after unprotect: '$HEX'"
	use_mgm "default key again" "$MGM"
}

yk_reset() {
	run "ykman piv reset" yk reset -f &&
		has "ykman piv reset (blocks PIN and PUK itself)" '^Success'
	run "info" yk info || return
	has "after ykman reset: 3/3 PIN tries" '^PIN tries remaining: 3/3'
	has "after ykman reset: TDES default management key" 'Using default Management key'
	grep -qE '^Slot ' <<<"$OUT" && fail_out "after ykman reset: certificates left" ||
		ok "after ykman reset: no certificates"
	OUT=$(meta slot "$READER" 9c)
	[[ $OUT == empty ]] && ok "after ykman reset: slot 9c empty" ||
		fail_out "after ykman reset: slot 9c metadata"
	run "f9" yk certificates export f9 "$TMP/yk.f9.after" &&
		[[ $(openssl x509 -in "$TMP/yk.f9.after" -noout -fingerprint -sha256) == "$F9_FPR" ]] &&
		ok "after ykman reset: F9 certificate kept" ||
		fail "after ykman reset: F9 certificate changed"
}

# ==== touch ================================================================

touch_keys() {
	local slot tp
	for slot in 9a 9d; do
		[[ $slot == 9a ]] && tp=always || tp=cached
		run "generate $slot touch $tp" ypt --key="$MGM" -a generate -s "$slot" \
			-A ECCP256 --pin-policy=never --touch-policy="$tp" \
			-o "$TMP/t$slot.pub" || return 1
		ca_cert "$TMP/t$slot.pub" "touch $slot" "$TMP/t$slot.crt" ||
			{ fail "openssl certificate for touch $slot"; return 1; }
	done
	ok "touch keys: 9a touch always, 9d touch cached (P-256, PIN never)"
}

# test_sig SLOT: one test-signature with the touch key.
test_sig() { ypt -a test-signature -s "$1" -i "$TMP/t$1.crt"; }

# Cached first: a touch counts for 15 s for every key (one timer, as on
# a YubiKey), so no other touch may come just before.
touch_cached() {
	OUT=$(with_touch ypt -a test-signature -a test-signature -s 9d -i "$TMP/t9d.crt")
	(($(count '^Successful ECDSA verification') == 2)) &&
		! grep -q '^(vkey touch failed' <<<"$OUT" &&
		ok "touch cached: one touch (vkey touch), two signatures" ||
		fail_out "touch cached: one touch, two signatures"
	# The next run begins with a card reset: the touch still counts.
	run "touch cached, next run" test_sig 9d &&
		ok "touch cached: still counts in the next run (after a card reset)"
}

touch_always() {
	local t0 dt
	t0=$(date +%s)
	refuse "touch always, no touch" test_sig 9a && {
		dt=$(($(date +%s) - t0))
		((dt >= UP_TIMEOUT - 1 && dt < UP_TIMEOUT + 20)) &&
			ok "touch always: no touch, the signature fails after ${dt}s" ||
			fail_out "touch always: refused after ${dt}s (--up-timeout $UP_TIMEOUT)"
	}
	OUT=$(with_touch test_sig 9a)
	has "touch always: vkey touch approves, the signature verifies" \
		'^Successful ECDSA verification'
	OUT=$(with_touch ypt -a test-signature -a test-signature -s 9a -i "$TMP/t9a.crt")
	(($(count '^Successful ECDSA verification') == 1)) &&
		ok "touch always: a second signature needs another touch" ||
		fail_out "touch always: second signature on one touch"
	run "attest 9a" ypt -a attest -s 9a -o "$TMP/t9a.att" &&
		check_attestation "attest touch-always 9a" "$TMP/t9a.att" "$TMP/t9a.pub" \
			NEVER ALWAYS
}

# The management key with touch always (set-mgm-key --touch-policy=always,
# P2 = FE).
touch_mgm() {
	run "set-mgm-key touch" ypt --key="$MGM" -a set-mgm-key -n "$MGM" \
		--touch-policy=always || return
	OUT=$(meta pins "$READER")
	[[ $OUT == *"mgm=TDES "*"mgm_touch=ALWAYS" ]] &&
		ok "set-mgm-key --touch-policy=always: metadata says touch always" ||
		fail_out "metadata after set-mgm-key --touch-policy=always"
	refuse "management key, no touch" ypt --key="$MGM" -a set-ccc &&
		has "management key touch always: no touch, authentication fails" \
			'Failed authentication'
	OUT=$(with_touch ypt --key="$MGM" -a set-ccc)
	has "management key touch always: authenticates after vkey touch" \
		'^Successfully set new CCC'
	OUT=$(with_touch ypt --key="$MGM" -a set-mgm-key -n "$MGM")
	has "set-mgm-key back to touch never (one touch)" '^Successfully set new management key'
	OUT=$(meta pins "$READER")
	[[ $OUT == *"mgm_touch=NEVER" ]] && ok "management key touch never again" ||
		fail_out "metadata: management key touch"
}

touch_section() {
	touch_keys || return
	check_meta "touch 9a" 9a ECCP256 NEVER ALWAYS generated "$TMP/t9a.pub"
	check_meta "touch 9d" 9d ECCP256 NEVER CACHED generated "$TMP/t9d.pub"
	touch_cached
	touch_always
	touch_mgm
}

# ==== main =================================================================

start_vkey() {
	local verbosity=-v
	[[ -n $DEBUG ]] && verbosity=-vv
	vkey_serve "$TMP/vkey.log" "$PORT" --state "$TMP/key.db" --up prompt \
		--up-timeout "$UP_TIMEOUT" "$verbosity" ||
		die "vkey did not show up in $READER"
}

stop_vkey() {
	vkey_serve_stop "$TMP/vkey.log" >"$TMP/vkey-stop.txt" &&
		ok "vkey serve: clean exit on SIGTERM, no sanitizer report" ||
		fail "$(cat "$TMP/vkey-stop.txt")"
}

main() {
	local t start
	for t in pcscd yubico-piv-tool ykman openssl flock; do need "$t"; done
	[[ -x $PY ]] && "$PY" -c 'import smartcard, ykman, yubikit' 2>/dev/null ||
		{ log "SKIP: python3-pyscard or ykman's python modules missing"; exit 77; }
	start=$(date +%s)
	TMP=$(mktemp -d /tmp/vkey-piv-tools.XXXXXX)
	export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/home/.config
	mkdir -p "$HOME"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$TMP/ca.key" 2>/dev/null &&
		openssl x509 -new -subj /CN=piv-tools-ca -key "$TMP/ca.key" -days 30 \
			-out "$TMP/ca.pem" 2>/dev/null || die "openssl: test CA"
	pcscd_lock 300 || die "cannot get pcscd to ourselves"
	PORT=$(pcscd_free_port_pair) || die "no free port pair"
	pcscd_start "$TMP" "$PORT" || die "pcscd did not start"
	start_vkey
	SERIAL=$(vkey_serial)
	F9_FPR=
	log "pcscd $PCSCD_PID, vkey $VKEY_PID in '$READER', serial ${SERIAL:-?}"

	log "--- yubico-piv-tool 2.2"
	ypt_info
	ypt_generate
	vkey_piv_list
	ypt_pin_policies
	ypt_import
	ypt_delete_cert
	ypt_attest
	ypt_objects
	ypt_chuid_ccc
	ypt_mgm_key
	ypt_pins
	ypt_reset
	log "--- ykman 4.0.9"
	yk_info
	yk_generate
	yk_import
	yk_access
	yk_mgm_key
	yk_reset
	log "--- touch (vkey serve --up prompt --up-timeout $UP_TIMEOUT)"
	touch_section
	stop_vkey
	log "($(($(date +%s) - start)) s)"
	if ((FAILS)); then
		log "--- daemon log (tail) ---"
		tail -40 "$TMP/vkey.log"
	fi
	log "$PASSES passed, $FAILS failed"
	((FAILS == 0))
}

main "$@"
