# shellcheck shell=bash
# Shared by the OpenSC end-to-end tests (opensc_openpgp.sh, opensc_piv.sh):
# source it from bash with SRC set to the source tree. It sets READER,
# VKEY (from the environment), PY and MODULE, sources
# scripts/pcscd-harness.sh and gives: result helpers (log, ok, fail, note,
# die, run, expect, expect_count, same_file), the bounded OpenSC clients
# (ost, p15, p11; ost and p15 on reader index $RIDX), a private
# opensc.conf, checks of the card's PKCS#11 operations against openssl,
# and the start and end of a test (opensc_begin, opensc_end).
#
# VKEY_OPENSC_DEBUG=N writes OpenSC's debug log (level N) to
# $TMP/opensc-debug.log and keeps $TMP.

READER='Virtual PCD 00 00'
VKEY=${VKEY:?VKEY must name the vkey binary}
PY=/usr/bin/python3
MODULE=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
# The card helpers import card_common.py: no __pycache__ in the source tree.
export PYTHONDONTWRITEBYTECODE=1

TMP=
VKEY_PID=
T0=
FAILS=0
OUT=

. "$SRC/scripts/pcscd-harness.sh"

log() { printf '%s\n' "$*"; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
die() { log "FATAL: $*"; exit 1; }
ok() { log "ok   $*"; }
note() { log "note $*"; }

# Stop what opensc_begin started; remove $TMP unless debugging.
opensc_cleanup() {
	stop_pid "$VKEY_PID"
	pcscd_stop
	if [[ -n $TMP && -z ${VKEY_OPENSC_DEBUG:-} ]]; then
		rm -rf "$TMP"
	elif [[ -n $TMP ]]; then
		log "kept $TMP"
	fi
}

need() {
	command -v "$1" >/dev/null || { log "SKIP: $1 not installed"; exit 77; }
}

# Every OpenSC tool bounded, stdin closed; output to stdout+stderr.
list_readers() { timeout 30 opensc-tool --list-readers </dev/null 2>&1; }
ost() { timeout 60 opensc-tool -r "$RIDX" "$@" </dev/null 2>&1; }
p15() { timeout 60 pkcs15-tool -r "$RIDX" "$@" </dev/null 2>&1; }
p11() { timeout 60 pkcs11-tool --module "$MODULE" "$@" </dev/null 2>&1; }

# Run a command, keep its output (and errors) in $OUT; on failure report
# it.
run() {
	local what=$1
	shift
	OUT=$("$@" 2>&1)
	local rc=$?
	if ((rc != 0)); then
		fail "$what (rc $rc):"
		log "$OUT"
		return 1
	fi
	return 0
}

# Find an extended regex in $OUT or fail with the output.
expect() {
	local what=$1 pattern=$2
	if grep -qE -- "$pattern" <<<"$OUT"; then
		ok "$what"
		return 0
	fi
	fail "$what: no /$pattern/ in:"
	log "$OUT"
	return 1
}

# Count lines matching a regex in $OUT against a wanted number.
expect_count() {
	local what=$1 pattern=$2 want=$3 n
	n=$(grep -cE -- "$pattern" <<<"$OUT")
	if ((n == want)); then
		ok "$what: $n"
		return 0
	fi
	fail "$what: $n, want $want:"
	log "$OUT"
	return 1
}

same_file() {
	local what=$1 a=$2 b=$3
	if cmp -s "$a" "$b"; then
		ok "$what"
	else
		fail "$what: $(xxd -p "$a" | tr -d '\n' | head -c 160) !=" \
			"$(xxd -p "$b" | tr -d '\n' | head -c 160)"
	fi
}

# A private opensc.conf: OpenSC's card driver DRIVER only (vkey's card
# answers both the OpenPGP and the PIV AID), the pcsc reader driver's
# settings LIMITS (none: OpenSC's defaults), no file cache, debug only
# when asked.
opensc_conf() {
	local driver=$1 limits=${2:-}
	cat >"$TMP/opensc.conf" <<EOF
app default {
	debug = ${VKEY_OPENSC_DEBUG:-0};
	debug_file = $TMP/opensc-debug.log;
	card_drivers = $driver;
	reader_driver pcsc {
		$limits
	}
	framework pkcs15 {
		use_file_caching = no;
	}
}
EOF
	export OPENSC_CONF=$TMP/opensc.conf
}

# Set RIDX to OpenSC's index of $READER, which must hold a card.
find_reader() {
	run "opensc-tool --list-readers" list_readers || return
	RIDX=$(awk -v r="$READER" '$0 ~ r "$" { print $1; exit }' <<<"$OUT")
	[[ -n $RIDX ]] || die "no '$READER' in: $OUT"
	expect "opensc-tool --list-readers: '$READER' (#$RIDX) has a card" \
		"^$RIDX +Yes .*$READER\$"
}

# ---- the card's results checked with openssl ------------------------------
# Each takes the key's public key (PEM), a name for its files in $TMP, and
# then the pkcs11-tool arguments that pick the key (slot, login, PIN, id);
# it returns 0 when openssl agrees and reports what went wrong otherwise.

# sign_rsa_sha256 PUB NAME P11ARG...: a SHA256-RSA-PKCS signature of a
# random message ($TMP/msg-NAME), verified by openssl dgst.
sign_rsa_sha256() {
	local pub=$1 name=$2
	shift 2
	head -c 1000 /dev/urandom >"$TMP/msg-$name"
	run "pkcs11-tool --sign SHA256-RSA-PKCS ($name)" p11 "$@" --sign \
		-m SHA256-RSA-PKCS -i "$TMP/msg-$name" -o "$TMP/sig-$name" &&
		run "openssl verify SHA256-RSA-PKCS ($name)" openssl dgst -sha256 \
			-verify "$pub" -signature "$TMP/sig-$name" "$TMP/msg-$name"
}

# sign_ecdsa PUB NAME MD P11ARG...: an ECDSA signature (DER) of the MD
# hash of a random message ($TMP/msg-NAME), verified by openssl pkeyutl.
sign_ecdsa() {
	local pub=$1 name=$2 md=$3
	shift 3
	head -c 700 /dev/urandom >"$TMP/msg-$name"
	openssl dgst "-$md" -binary "$TMP/msg-$name" >"$TMP/hash-$name"
	run "pkcs11-tool --sign ECDSA ($name)" p11 "$@" --sign -m ECDSA \
		--signature-format openssl -i "$TMP/hash-$name" \
		-o "$TMP/sig-$name" &&
		run "openssl verify ECDSA ($name)" openssl pkeyutl -verify -pubin \
			-inkey "$pub" -in "$TMP/hash-$name" -sigfile "$TMP/sig-$name"
}

# decrypt_rsa_pkcs1 PUB NAME P11ARG...: openssl encrypts a random secret
# ($TMP/secret-NAME) with PKCS#1 v1.5 padding, pkcs11-tool decrypts it
# with RSA-PKCS; the plaintexts must match.
decrypt_rsa_pkcs1() {
	local pub=$1 name=$2
	shift 2
	head -c 32 /dev/urandom >"$TMP/secret-$name"
	run "openssl encrypt PKCS#1 ($name)" openssl pkeyutl -encrypt -pubin \
		-inkey "$pub" -pkeyopt rsa_padding_mode:pkcs1 \
		-in "$TMP/secret-$name" -out "$TMP/ct-$name" &&
		run "pkcs11-tool --decrypt RSA-PKCS ($name)" p11 "$@" --decrypt \
			-m RSA-PKCS -i "$TMP/ct-$name" -o "$TMP/pt-$name" || return
	cmp -s "$TMP/secret-$name" "$TMP/pt-$name" && return 0
	fail "RSA-PKCS decrypt ($name): plaintext differs:" \
		"$(xxd -p "$TMP/pt-$name" | head -2)"
	return 1
}

# derive_ecdh PUB NAME CURVE P11ARG...: pkcs11-tool derives with the
# card's key and a fresh peer's public key; openssl derives the same
# secret from the peer's private key.
derive_ecdh() {
	local pub=$1 name=$2 curve=$3
	shift 3
	openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$curve" \
		-out "$TMP/peer-$name.pem" 2>/dev/null &&
		openssl pkey -in "$TMP/peer-$name.pem" -pubout -outform DER \
			-out "$TMP/peer-$name.der" 2>/dev/null ||
		{ fail "openssl peer key $curve ($name)"; return 1; }
	run "openssl pkeyutl -derive ($name)" openssl pkeyutl -derive \
		-inkey "$TMP/peer-$name.pem" -peerkey "$pub" \
		-out "$TMP/ecdh-want-$name" &&
		run "pkcs11-tool --derive ECDH1-DERIVE ($name)" p11 "$@" \
			--derive -m ECDH1-DERIVE -i "$TMP/peer-$name.der" \
			-o "$TMP/ecdh-got-$name" || return
	cmp -s "$TMP/ecdh-want-$name" "$TMP/ecdh-got-$name" && return 0
	fail "ECDH ($name): card $(xxd -p "$TMP/ecdh-got-$name" | tr -d '\n')," \
		"openssl $(xxd -p "$TMP/ecdh-want-$name" | tr -d '\n')"
	return 1
}

# ---- start and end -------------------------------------------------------

# opensc_begin NAME TOOL...: skip (exit 77) without pcscd, the OpenSC
# TOOLs, OpenSC's PKCS#11 module, pyscard or python3-cryptography; then
# $TMP (/tmp/NAME.XXXXXX) with a private HOME, pcscd to ourselves on a
# free vpcd port pair ($PORT), and vkey serve on a fresh key in $READER.
# T0: the time pcscd became ours.
opensc_begin() {
	local name=$1 t
	shift
	for t in pcscd flock xxd openssl "$@"; do
		need "$t"
	done
	[[ -r $MODULE ]] || { log "SKIP: $MODULE missing"; exit 77; }
	[[ -x $PY ]] && "$PY" -c 'import smartcard, cryptography' 2>/dev/null ||
		{ log "SKIP: python3-pyscard or python3-cryptography missing"; exit 77; }
	TMP=$(mktemp -d "/tmp/$name.XXXXXX")
	export HOME=$TMP/home XDG_CACHE_HOME=$TMP/home/.cache
	mkdir -p "$HOME"
	pcscd_lock 300 || die "cannot get pcscd to ourselves"
	T0=$(date +%s)
	PORT=$(pcscd_free_port_pair) || die "no free port pair"
	pcscd_start "$TMP" "$PORT" || die "pcscd did not start"
	log "pcscd pid $PCSCD_PID, vpcd ports $PORT/$((PORT + 1))"
	vkey_serve "$TMP/vkey.log" "$PORT" --state "$TMP/key.db" --up auto -v ||
		die "vkey did not show up in $READER"
	log "vkey pid $VKEY_PID in '$READER'"
}

# opensc_end WHAT: SIGTERM must end the daemon cleanly, with no
# sanitizer report; then the time since T0 and the verdict (exit 1, with
# the daemon's log, on any failure).
opensc_end() {
	local what=$1
	vkey_serve_stop "$TMP/vkey.log" >"$TMP/vkey-stop.txt" ||
		fail "$(cat "$TMP/vkey-stop.txt")"
	log "time: $(($(date +%s) - T0)) s"
	if ((FAILS)); then
		log "--- daemon log (tail) ---"
		tail -40 "$TMP/vkey.log"
		log "$FAILS check(s) failed"
		exit 1
	fi
	log "all $what checks passed"
}
