#!/bin/bash
# End to end: unmodified ykman 4.0.9 drives vkey's OATH applet through a
# private pcscd + vpcd; every code it prints is checked against oathtool.
#
# Env (set by meson): VKEY (the binary), VKEY_SOURCE_ROOT. Exit 77 = skip.
set -u -o pipefail

READER='Virtual PCD 00 00'
SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VKEY=${VKEY:?VKEY must name the vkey binary}
PY=/usr/bin/python3

# Secrets (base32). One is longer than SHA-1's block, so ykman hashes it
# client side (RFC 2104 key shortening) and oathtool hashes it per HMAC.
S20=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
S32=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3HO6DZPIYDCMRTGQ2Q
S64=AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPSAIJCEMSCKJRHFAUSUKZMFUXC6MBRGIZTINJWG44DSOR3HQ6T4PY
S80=KRUGS4ZANFZSAYJANRXW4ZZAONSWG4TFOQQGM33SEBEE2QKDFVJUQQJREBVWK6JAONUG64TUMVXGS3THFQQG233SMUQHI2DBNYQDMNBAMJ4XIZLTEBWG63THFYXC4LRO

TMP=
VKEY_PID=
TOUCH_PID=
FAILS=0

. "$SRC/scripts/pcscd-harness.sh"

log() { printf '%s\n' "$*"; }
fail() { log "FAIL: $*"; FAILS=$((FAILS + 1)); }
die() { log "FATAL: $*"; exit 1; }

cleanup() {
	stop_pid "$TOUCH_PID"
	stop_pid "$VKEY_PID"
	pcscd_stop
	[[ -n $TMP ]] && rm -rf "$TMP"
}
trap cleanup EXIT

need() {
	command -v "$1" >/dev/null || { log "SKIP: $1 not installed"; exit 77; }
}

yk() { timeout 60 ykman --reader "$READER" "$@" </dev/null; }

# --- TOTP/HOTP reference codes ------------------------------------------

# oathtool's TOTP code for secret at unix time t.
ref_totp() {
	local alg=$1 digits=$2 period=$3 secret=$4 t=$5
	oathtool --totp="$alg" -d "$digits" --time-step-size="${period}s" \
		-b "$secret" --now "@$t"
}

# Avoid starting a run within 2 s of a 30 s step boundary (60 s steps
# are aligned on them too); the before/after check below catches the rest.
avoid_step_edge() {
	local s
	s=$(date +%s)
	if ((s % 30 >= 28)); then sleep $((30 - s % 30)).2; fi
}

# Run "ykman oath accounts code ARGS" and print "t0 t1" then its stdout.
timed_code() {
	local t0 t1 out
	avoid_step_edge
	t0=$(date +%s)
	out=$(yk oath accounts code "$@") || return 1
	t1=$(date +%s)
	printf '%s %s\n%s\n' "$t0" "$t1" "$out"
}

# Check one TOTP code; returns 2 when the step changed during the call
# (the caller retries once).
check_totp() {
	local name=$1 alg=$2 digits=$3 period=$4 secret=$5 code=$6 t0=$7 t1=$8
	local want
	if ((t0 / period != t1 / period)); then
		return 2
	fi
	want=$(ref_totp "$alg" "$digits" "$period" "$secret" "$t0")
	if [[ $code != "$want" ]]; then
		fail "$name: ykman code $code, oathtool $want (t=$t0)"
		return 1
	fi
	log "ok   $name: $code"
	return 0
}

# ---- account table: name alg digits period secret ----------------------
TOTP_ACCOUNTS=(
	"t-sha1-6-30 sha1 6 30 $S20"
	"t-sha256-8-30 sha256 8 30 $S32"
	"t-sha512-8-60 sha512 8 60 $S64"
	"t-sha1-8-60 sha1 8 60 $S80"
	"Example:alice sha512 6 30 $S20"
	"t-sha256-6-60 sha256 6 60 $S32"
)

add_accounts() {
	local row name alg digits period secret
	for row in "${TOTP_ACCOUNTS[@]}"; do
		read -r name alg digits period secret <<<"$row"
		local issuer=() acct=$name
		if [[ $name == *:* ]]; then
			issuer=(-i "${name%%:*}")
			acct=${name#*:}
		fi
		yk oath accounts add -f "${issuer[@]}" -o TOTP -a "${alg^^}" \
			-d "$digits" -P "$period" "$acct" "$secret" >/dev/null ||
			fail "add $name"
	done
	yk oath accounts add -f -o HOTP -a SHA1 -d 6 -c 5 h-sha1-6 "$S20" \
		>/dev/null || fail "add h-sha1-6"
	yk oath accounts add -f -o HOTP -a SHA256 -d 8 h-sha256-8 "$S32" \
		>/dev/null || fail "add h-sha256-8"
	yk oath accounts add -f --touch -o TOTP -a SHA1 -d 6 touchy "$S20" \
		>/dev/null || fail "add touchy"
}

# Every TOTP account, asked one by one (-s), retried once across a step.
check_single_codes() {
	local pw=("$@") row name alg digits period secret out try rc
	for row in "${TOTP_ACCOUNTS[@]}"; do
		read -r name alg digits period secret <<<"$row"
		for try in 1 2; do
			out=$(timed_code -s "${pw[@]}" "$name") ||
				{ fail "code -s $name"; break; }
			check_totp "$name" "$alg" "$digits" "$period" "$secret" \
				"$(sed -n 2p <<<"$out")" $(head -1 <<<"$out")
			rc=$?
			[[ $rc == 2 && $try == 1 ]] && continue
			[[ $rc == 2 ]] && fail "$name: step changed twice"
			break
		done
	done
}

# "code" with no query: CALCULATE ALL, then a recalculation for 60 s
# periods. Parse "name  code" lines and check each TOTP one.
check_all_codes() {
	local pw=("$@") out t0 t1 row name alg digits period secret code try
	for try in 1 2; do
		out=$(timed_code "${pw[@]}") || { fail "code (all)"; return; }
		read -r t0 t1 <<<"$(head -1 <<<"$out")"
		((t0 / 30 == t1 / 30)) && break
	done
	for row in "${TOTP_ACCOUNTS[@]}"; do
		read -r name alg digits period secret <<<"$row"
		code=$(awk -v n="$(cred_id "$name" "$period")" \
			'$1 == n { print $NF }' <<<"$out")
		[[ -n $code ]] || { fail "code (all): no line for $name"; continue; }
		check_totp "all:$name" "$alg" "$digits" "$period" "$secret" \
			"$code" "$t0" "$t1"
	done
	grep -q '^h-sha1-6 .*\[HOTP Account\]' <<<"$out" ||
		fail "code (all): HOTP not shown as [HOTP Account]"
	grep -q '^touchy .*\[Requires Touch\]' <<<"$out" ||
		fail "code (all): touch account not shown as [Requires Touch]"
}

# HOTP: each single calculation advances the counter by one.
check_hotp() {
	local c code want
	for c in 5 6 7; do
		code=$(yk oath accounts code -s h-sha1-6) || { fail "hotp sha1"; return; }
		want=$(oathtool --hotp -d 6 -c "$c" -b "$S20")
		[[ $code == "$want" ]] && log "ok   h-sha1-6 counter $c: $code" ||
			fail "h-sha1-6 counter $c: ykman $code, oathtool $want"
	done
	for c in 0 1; do
		code=$(yk oath accounts code -s h-sha256-8) || { fail "hotp sha256"; return; }
		want=$(python_hotp sha256 8 "$c" "$S32")
		[[ $code == "$want" ]] && log "ok   h-sha256-8 counter $c: $code" ||
			fail "h-sha256-8 counter $c: ykman $code, reference $want"
	done
}

# oathtool 2.6 has no HOTP with SHA-256: RFC 4226 with another hash, in
# Python's hmac (checked against oathtool for SHA-1 in check_reference).
python_hotp() {
	"$PY" - "$@" <<'EOF'
import base64, hashlib, hmac, struct, sys
alg, digits, counter, secret = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
key = base64.b32decode(secret + "=" * (-len(secret) % 8))
mac = hmac.new(key, struct.pack(">Q", counter), getattr(hashlib, alg)).digest()
off = mac[-1] & 15
v = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
print(str(v % 10 ** digits).rjust(digits, "0"))
EOF
}

check_reference() {
	[[ $(python_hotp sha1 6 5 "$S20") == "$(oathtool --hotp -d 6 -c 5 -b "$S20")" ]] ||
		die "python HOTP reference disagrees with oathtool"
}

# A touch account: unanswered it times out; answered by `vkey touch` it
# yields the right code.
check_touch() {
	local out t0 t1 code rc
	avoid_step_edge
	out=$(timeout 60 ykman --reader "$READER" oath accounts code -s touchy \
		</dev/null 2>&1)
	rc=$?
	if [[ $rc == 0 ]]; then
		fail "touch: code without approval ($out)"
	else
		grep -q 'Touch account timed out' <<<"$out" &&
			log "ok   touch: unanswered request timed out" ||
			log "note touch: unanswered request failed: $out"
	fi
	timeout 30 "$VKEY" touch --state "$TMP/key.db" --timeout 20 \
		>"$TMP/touch.out" 2>&1 &
	TOUCH_PID=$!
	t0=$(date +%s)
	code=$(yk oath accounts code -s touchy) || fail "touch: ykman failed"
	t1=$(date +%s)
	wait "$TOUCH_PID" || fail "touch: vkey touch failed: $(cat "$TMP/touch.out")"
	TOUCH_PID=
	check_totp touchy sha1 6 30 "$S20" "$code" "$t0" "$t1"
	[[ $? == 2 ]] && log "note touchy: step changed, not compared"
}

# ykman prints credential ids: "60/name" for a non-default period.
cred_id() {
	if (($2 == 30)); then echo "$1"; else echo "$2/$1"; fi
}

check_list() {
	local out row name alg digits period secret
	out=$(yk oath accounts list -o -P) || { fail "list"; return; }
	for row in "${TOTP_ACCOUNTS[@]}"; do
		read -r name alg digits period secret <<<"$row"
		grep -qxF "$(cred_id "$name" "$period"), TOTP, $period" <<<"$out" ||
			fail "list: no '$(cred_id "$name" "$period"), TOTP, $period' in: $out"
	done
	grep -qx 'h-sha1-6, HOTP, 0' <<<"$out" || fail "list: h-sha1-6 not HOTP"
	log "ok   list ($(wc -l <<<"$out") accounts)"
}

check_rename_delete() {
	local out
	yk oath accounts rename -f t-sha1-6-30 Renamed:bob >/dev/null ||
		fail "rename"
	out=$(yk oath accounts list)
	grep -qx 'Renamed:bob' <<<"$out" && ! grep -qx 't-sha1-6-30' <<<"$out" ||
		fail "rename: list shows $out"
	yk oath accounts rename -f Renamed:bob t-sha1-6-30 >/dev/null ||
		fail "rename back"
	yk oath accounts add -f doomed "$S20" >/dev/null || fail "add doomed"
	yk oath accounts delete -f doomed >/dev/null || fail "delete"
	yk oath accounts list | grep -qx doomed && fail "delete: still listed"
	log "ok   rename, delete"
}

# vkey's own commands reach the running daemon over <state>.ctl.
check_vkey_cli() {
	local out
	out=$(timeout 10 "$VKEY" status --state "$TMP/key.db" 2>&1) ||
		fail "vkey status: $out"
	[[ -n $out ]] || fail "vkey status printed nothing"
	out=$(timeout 10 "$VKEY" oath list --state "$TMP/key.db" 2>&1) ||
		fail "vkey oath list: $out"
	grep -q 't-sha256-8-30' <<<"$out" || fail "vkey oath list: $out"
	log "ok   vkey status / oath list through the control socket"
}

# A second daemon on the same state must fail at once, naming the file.
check_second_serve() {
	local out rc t0
	t0=$(date +%s%N)
	out=$(timeout 10 "$VKEY" serve --state "$TMP/key.db" \
		--vpcd "127.0.0.1:$PORT" 2>&1)
	rc=$?
	if [[ $rc == 0 || $rc == 124 ]]; then
		fail "second serve: rc $rc (expected a refusal): $out"
	elif ! grep -qF "$TMP/key.db" <<<"$out"; then
		fail "second serve: message does not name the file: $out"
	elif (($(date +%s%N) - t0 > 3000000000)); then
		fail "second serve: refusal took more than 3 s"
	else
		log "ok   second serve refused: $(head -1 <<<"$out")"
	fi
}

# pcscd going away and coming back: the transport reconnects by itself.
check_pcscd_restart() {
	local out
	pcscd_stop
	sleep 0.5
	pcscd_start "$TMP" "$PORT" || die "pcscd did not restart"
	pcscd_wait_card "$READER" 10 || { fail "no card after pcscd restart"; return; }
	out=$(yk oath accounts list 2>&1)
	grep -q t-sha256-8-30 <<<"$out" || fail "ykman after pcscd restart: $out"
	grep -q 'disconnected' "$TMP/vkey.log" ||
		fail "no vpcd 'disconnected' line in the daemon's log"
	log "ok   vkey reconnected after a pcscd restart"
}

check_password() {
	local out
	yk oath access change -n 'pass word 1' >/dev/null || fail "set password"
	out=$(yk oath accounts list 2>&1) &&
		fail "list without password succeeded: $out"
	out=$(yk oath accounts list -p 'wrong' 2>&1) &&
		fail "list with wrong password succeeded: $out"
	out=$(yk oath accounts list -p 'pass word 1' 2>&1)
	grep -q t-sha256-8-30 <<<"$out" || fail "list with password: $out"
	check_single_codes -p 'pass word 1'
	check_all_codes -p 'pass word 1'
	yk oath access change -p 'pass word 1' -n 'pw2' >/dev/null ||
		fail "change password"
	yk oath accounts list -p 'pw2' >/dev/null || fail "list with new password"
	log "ok   password set, required, changed"
}

check_reset() {
	local out
	yk oath reset -f >/dev/null || fail "reset"
	out=$(yk oath accounts list 2>&1) || fail "list after reset: $out"
	[[ -z $out ]] || fail "accounts survived reset: $out"
	log "ok   reset (accounts and password gone)"
}

start_vkey() {
	vkey_serve "$TMP/vkey.log" "$PORT" --state "$TMP/key.db" \
		--up prompt --up-timeout 3 -v || die "vkey did not show up in $READER"
}

# SIGTERM must end the daemon cleanly, with no sanitizer report.
stop_vkey() {
	vkey_serve_stop "$TMP/vkey.log" >"$TMP/vkey-stop.txt" ||
		fail "$(cat "$TMP/vkey-stop.txt")"
}

main() {
	local t
	for t in pcscd ykman oathtool flock; do need "$t"; done
	[[ -x $PY ]] && "$PY" -c 'import smartcard' 2>/dev/null ||
		{ log "SKIP: python3-pyscard missing"; exit 77; }
	TMP=$(mktemp -d /tmp/vkey-e2e.XXXXXX)
	export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/home/.config
	mkdir -p "$HOME"
	check_reference
	pcscd_lock 300 || die "cannot get pcscd to ourselves"
	PORT=$(pcscd_free_port_pair) || die "no free port pair"
	pcscd_start "$TMP" "$PORT" || die "pcscd did not start"
	log "pcscd pid $PCSCD_PID, vpcd ports $PORT/$((PORT + 1))"
	start_vkey
	log "vkey pid $VKEY_PID in '$READER'"

	out=$(timeout 60 ykman --reader 'Virtual PCD' oath info </dev/null 2>&1)
	log "note ykman --reader 'Virtual PCD' (matches both slots): ${out//$'\n'/ }"
	yk oath info >"$TMP/info" 2>&1 || die "ykman oath info: $(cat "$TMP/info")"

	add_accounts
	check_list
	check_single_codes
	check_all_codes
	check_hotp
	check_touch
	check_rename_delete
	check_vkey_cli
	check_second_serve
	check_pcscd_restart
	check_password
	check_reset
	grep -q 'connected' "$TMP/vkey.log" ||
		fail "no vpcd 'connected' line in the daemon's log"
	stop_vkey
	if ((FAILS)); then
		log "--- daemon log (tail) ---"
		tail -40 "$TMP/vkey.log"
		log "$FAILS check(s) failed"
		exit 1
	fi
	log "all ykman OATH checks passed"
}

main "$@"
