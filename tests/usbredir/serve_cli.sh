#!/bin/bash
# `vkey serve` command line: several keys, per-key options, and a clear
# refusal (exit 2, before any key opens) for each bad combination.
set -uo pipefail

VKEY=${VKEY:?VKEY is not set}
TMP=$(mktemp -d /tmp/vkey-serve-cli.XXXXXX)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
FAILED=0

# refused "expected message" ARGS...: exit 2, the message, no state file.
refused() {
	local want=$1 out rc
	shift
	out=$(timeout 10 "$VKEY" serve "$@" 2>&1)
	rc=$?
	if [[ $rc != 2 ]] || ! grep -qF -- "$want" <<<"$out"; then
		echo "FAIL serve $*: rc $rc, output: $out (wanted: $want)"
		FAILED=$((FAILED + 1))
		return
	fi
	if compgen -G "$TMP/*.db" >/dev/null; then
		echo "FAIL serve $*: opened a key before refusing"
		FAILED=$((FAILED + 1))
		rm -f "$TMP"/*.db*
		return
	fi
	echo "ok   refused: $want"
}

A=$TMP/a.db
B=$TMP/b.db
refused "key 1 ($A) has no transport" --state "$A" --state "$B" --vpcd 127.0.0.1:9
refused "need --usbredir, --usbredir-connect or --usbip" --state "$A" --usb-vid 1234
refused "--usb-vid takes a hex ID" --state "$A" --usbredir "$TMP/a.sock" --usb-vid zz
refused "--usb-pid takes a hex ID" --state "$A" --usbredir "$TMP/a.sock" --usb-pid 10000
refused "--usb-product takes 1..126" --state "$A" --usbredir "$TMP/a.sock" --usb-product ""
refused "keys 1 and 2 have the same --state" --state "$A" --vpcd 127.0.0.1:9 --state "$A" --vpcd 127.0.0.1:8
refused "keys 1 and 2 have the same --usbredir" --state "$A" --usbredir "$TMP/s" --state "$B" --usbredir "$TMP/s"
refused "--vpcd given twice for key 1" --vpcd 127.0.0.1:9 --state "$A" --vpcd 127.0.0.1:8
refused "--pcap records USB transfers" --pcap "$TMP/x.pcap" --state "$A" --vpcd 127.0.0.1:9
refused "neither a path" --state "$A" --usbredir nonsense
refused "port 1-65535" --state "$A" --usbredir 127.0.0.1:0
refused "--up takes auto, deny or prompt" --state "$A" --usbredir "$TMP/s" --up maybe
refused "--up-timeout takes 1..600" --state "$A" --usbredir "$TMP/s" --up-timeout 0
refused "unexpected argument" --state "$A" --usbredir "$TMP/s" extra

# --help names every option.
help=$("$VKEY" serve --help)
for opt in --state --vpcd --usbredir --usbredir-connect --usb-vid --usb-pid \
	--usb-manufacturer --usb-product --up --up-timeout --pcap --log-secrets \
	--usbip; do
	if ! grep -qF -- "$opt" <<<"$help"; then
		echo "FAIL --help does not mention $opt"
		FAILED=$((FAILED + 1))
	fi
done

# A listening socket that is not ours is left alone.
touch "$TMP/file"
out=$(timeout 10 "$VKEY" serve --state "$A" --usbredir "$TMP/file" 2>&1)
if [[ $? == 0 ]] || ! grep -q "not a socket" <<<"$out" || [[ ! -f $TMP/file ]]; then
	echo "FAIL a plain file as --usbredir: $out"
	FAILED=$((FAILED + 1))
else
	echo "ok   a plain file is not taken over"
fi

# Options before the first --state belong to the first key; two keys,
# each on its own socket and control socket.
"$VKEY" serve --usbredir "$TMP/a.sock" --up auto --state "$A" \
	--state "$B" --usbredir "$TMP/b.sock" >"$TMP/log" 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do
	[[ -S $TMP/a.sock && -S $TMP/b.sock && -S $A.ctl && -S $B.ctl ]] && break
	sleep 0.1
done
if [[ -S $TMP/a.sock && -S $TMP/b.sock && -S $A.ctl && -S $B.ctl ]] &&
	grep -q "listening on $TMP/a.sock; user presence: auto" "$TMP/log" &&
	grep -q "listening on $TMP/b.sock; user presence: prompt" "$TMP/log"; then
	echo "ok   two keys, options before the first --state"
else
	echo "FAIL two keys:"
	cat "$TMP/log"
	FAILED=$((FAILED + 1))
fi
# A second daemon on a socket in use is refused, the socket kept.
out=$(timeout 10 "$VKEY" serve --state "$TMP/c.db" --usbredir "$TMP/a.sock" 2>&1)
if [[ $? == 0 ]] || ! grep -q "another process listens" <<<"$out" || [[ ! -S $TMP/a.sock ]]; then
	echo "FAIL second daemon on a busy socket: $out"
	FAILED=$((FAILED + 1))
else
	echo "ok   a busy socket is not taken over"
fi
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
if [[ $rc != 0 || -e $TMP/a.sock || -e $TMP/b.sock ]]; then
	echo "FAIL stop: rc $rc, sockets left: $(ls "$TMP")"
	FAILED=$((FAILED + 1))
else
	echo "ok   SIGTERM stops both keys and removes their sockets"
fi

((FAILED == 0)) || { echo "$FAILED failed"; exit 1; }
