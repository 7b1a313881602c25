#!/bin/bash
# End to end: vkey's NDEF tag read and written as an NFC Forum Type 4
# reader/writer does it (tests/ndef/ndef_reader.py over pyscard) through a
# private pcscd + vpcd, and `vkey ndef` through the daemon's control
# socket and on the state file after the daemon stops (same output both
# ways); read-only seen by the reader.
#
# Env (set by meson): VKEY (the binary), VKEY_SOURCE_ROOT. Exit 77 = skip.
set -u -o pipefail

READER='Virtual PCD 00 00'
SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VKEY=${VKEY:?VKEY must name the vkey binary}
PY=/usr/bin/python3
TAG="$SRC/tests/ndef/ndef_reader.py"

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

vk() { timeout 20 "$VKEY" ndef "$@" --state "$TMP/key.db" </dev/null; }

# reader ARGS...: run the Type 4 reader/writer, its JSON in $TMP/tag.json.
reader() {
	timeout 30 "$PY" "$TAG" "$1" "$READER" "${@:2}" >"$TMP/tag.json" \
		2>"$TMP/tag.err" || { fail "reader $1: $(cat "$TMP/tag.err")"; return 1; }
}

# field EXPR: a Python expression over the reader's JSON (j).
field() {
	"$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$TMP/tag.json" "$1"
}

expect_eq() { # what got want
	if [[ $2 == "$3" ]]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi
}

start_vkey() {
	vkey_serve "$TMP/vkey.log" "$PORT" --state "$TMP/key.db" --up auto -v ||
		die "vkey did not show up in $READER"
}

stop_vkey() {
	vkey_serve_stop "$TMP/vkey.log" >"$TMP/vkey-stop.txt" ||
		fail "$(cat "$TMP/vkey-stop.txt")"
}

# The capability container a Type 4 reader finds (write access last).
CC_PREFIX=000F2000FF00FF0406E104100200

check_empty_tag() {
	local out
	out=$(vk get) || fail "get: $out"
	expect_eq "fresh tag: vkey ndef get" "$out" "NDEF message: none, writable"
	reader read || return
	expect_eq "fresh tag: CC" "$(field 'j["cc"]')" "${CC_PREFIX}00"
	expect_eq "fresh tag: NLEN" "$(field 'j["nlen"]')" 0
}

check_uri_read_by_reader() {
	local url='https://www.example.com/vkey?q=1&r=%20' out
	out=$(vk set-uri "$url") || { fail "set-uri: $out"; return; }
	expect_eq "set-uri prints the record" "$(tail -1 <<<"$out")" "record 1: URI $url"
	reader read || return
	expect_eq "reader: URI" "$(field 'j["records"][0]["uri"]')" "$url"
	expect_eq "reader: prefix code https://www." \
		"$(field 'j["records"][0]["payload"][:2]')" 02
	expect_eq "reader: one record" "$(field 'len(j["records"])')" 1
}

# A text longer than MLe: the reader needs several READ BINARYs.
check_long_text_in_chunks() {
	local text out reads
	text=$(for i in $(seq 1 60); do printf 'Grüße %02d aus vkey. ' "$i"; done)
	out=$(vk set-text --lang de "$text") || { fail "set-text: $out"; return; }
	reader read || return
	expect_eq "reader: long text" "$(field 'j["records"][0]["text"]')" "$text"
	expect_eq "reader: language" "$(field 'j["records"][0]["lang"]')" de
	reads=$(field 'j["reads"]')
	local nlen mle
	nlen=$(field 'j["nlen"]')
	mle=$(field 'j["mle"]')
	expect_eq "reader: $nlen bytes in MLe ($mle) pieces" "$reads" \
		$(((nlen + mle - 1) / mle))
	((nlen > 1024)) && ok "message over 1 KiB ($nlen bytes)" ||
		fail "long text only $nlen bytes"
}

check_writer() {
	local url='https://example.org/written-by-a-reader' out
	reader write "$url" || return
	expect_eq "writer: every UPDATE BINARY 9000" "$(field 'j["sw"]')" 9000
	out=$(vk get) || { fail "get: $out"; return; }
	grep -qxF "record 1: URI $url" <<<"$out" && ok "vkey ndef get sees the writer's URI" ||
		fail "get after the writer: $out"
	out=$(timeout 10 "$VKEY" status --state "$TMP/key.db")
	grep -qF "bytes, 1 record (URI $url), writable" <<<"$out" &&
		ok "vkey status names the URI" || fail "status: $out"
	# a long text written by the reader, read back by vkey
	reader write-text en "$(printf 'x%.0s' $(seq 1 900))" || return
	expect_eq "writer: long text" "$(field 'j["sw"]')" 9000
	out=$(vk get --raw)
	expect_eq "vkey ndef get --raw is what the writer wrote" "$out" "$(field 'j["message"]')"
}

check_clear() {
	local out
	out=$(vk clear) || fail "clear: $out"
	reader read || return
	expect_eq "clear: NLEN 0" "$(field 'j["nlen"]')" 0
}

# While the daemon runs, `vkey ndef` can only go through its socket (the
# state file is locked); once it stops, the same commands open the file.
check_both_paths() {
	local via_daemon direct
	vk set-uri 'tel:+41 44 000 00 00' >/dev/null || fail "set-uri tel"
	via_daemon=$(vk get) || fail "get via daemon"
	stop_vkey
	direct=$(vk get) || fail "get direct: $direct"
	expect_eq "get: same text via daemon and direct" "$direct" "$via_daemon"
	grep -qxF 'record 1: URI tel:+41 44 000 00 00' <<<"$direct" ||
		fail "get direct: $direct"
	vk set-text 'written without a daemon' >/dev/null || fail "set-text direct"
	direct=$(vk get)
	start_vkey
	expect_eq "get via daemon after restart = direct get" "$(vk get)" "$direct"
	reader read || return
	expect_eq "reader sees the direct write" "$(field 'j["records"][0]["text"]')" \
		'written without a daemon'
}

check_read_only() {
	local out err_daemon err_direct get_daemon
	out=$(echo no | timeout 10 "$VKEY" ndef read-only --state "$TMP/key.db" 2>&1) &&
		fail "read-only without confirmation succeeded: $out"
	reader read || return
	expect_eq "unconfirmed: still writable" "$(field 'j["write_access"]')" 0
	out=$(vk read-only --yes) || { fail "read-only --yes: $out"; return; }
	expect_eq "read-only --yes" "$out" "NDEF tag: read-only"
	reader read || return
	expect_eq "read-only: CC write access FF" "$(field 'j["cc"]')" "${CC_PREFIX}FF"
	reader write 'https://example.org/refused' || return
	expect_eq "read-only: the writer's UPDATE BINARY refused" "$(field 'j["sw"]')" 6982
	reader read || return
	expect_eq "read-only: content unchanged" "$(field 'j["records"][0]["text"]')" \
		'written without a daemon'
	err_daemon=$(vk set-uri https://x.example 2>&1) && fail "set-uri on a read-only tag succeeded"
	expect_eq "read-only: set-uri refused via daemon" "$err_daemon" \
		"vkey ndef: the NDEF tag is read-only"
	vk clear >/dev/null 2>&1 && fail "clear on a read-only tag succeeded"
	get_daemon=$(vk get)
	stop_vkey
	err_direct=$(vk set-uri https://x.example 2>&1) && fail "direct set-uri on a read-only tag succeeded"
	expect_eq "read-only: same refusal direct" "$err_direct" "$err_daemon"
	expect_eq "read-only: same get direct" "$(vk get)" "$get_daemon"
	grep -q ', read-only$' <<<"$get_daemon" && ok "get says read-only" ||
		fail "get: $get_daemon"
}

main() {
	local t
	for t in pcscd flock; do need "$t"; done
	[[ -x $PY ]] && "$PY" -c 'import smartcard' 2>/dev/null ||
		{ log "SKIP: python3-pyscard missing"; exit 77; }
	TMP=$(mktemp -d /tmp/vkey-ndef.XXXXXX)
	pcscd_lock 300 || die "cannot get pcscd to ourselves"
	PORT=$(pcscd_free_port_pair) || die "no free port pair"
	pcscd_start "$TMP" "$PORT" || die "pcscd did not start"
	log "pcscd pid $PCSCD_PID, vpcd ports $PORT/$((PORT + 1))"
	start_vkey
	check_empty_tag
	check_uri_read_by_reader
	check_long_text_in_chunks
	check_writer
	check_clear
	check_both_paths
	check_read_only
	if ((FAILS)); then
		log "--- daemon log (tail) ---"
		tail -40 "$TMP/vkey.log"
		log "$FAILS check(s) failed"
		exit 1
	fi
	log "all NDEF checks passed"
}

main "$@"
