#!/bin/bash
# `vkey serve --usbip`: bad addresses refused with a sentence, a warning
# for addresses beyond loopback, two keys on one address sharing one
# server, and Linux's own usbip tool listing them.
set -uo pipefail

VKEY=${VKEY:?VKEY is not set}
TMP=$(mktemp -d /tmp/vkey-serve-usbip.XXXXXX)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
FAILED=0
fail() {
	echo "FAIL $*"
	FAILED=$((FAILED + 1))
}

A=$TMP/a.db
B=$TMP/b.db

# refused "expected message" ARGS...: exit 2, the message, no state file.
refused() {
	local want=$1 out rc
	shift
	out=$(timeout 10 "$VKEY" serve "$@" 2>&1)
	rc=$?
	if [[ $rc != 2 ]] || ! grep -qF -- "$want" <<<"$out"; then
		fail "serve $*: rc $rc, output: $out (wanted: $want)"
	elif compgen -G "$TMP/*.db" >/dev/null; then
		fail "serve $*: opened a key before refusing"
		rm -f "$TMP"/*.db*
	else
		echo "ok   refused: $want"
	fi
}

refused "usbip address '127.0.0.1:99999' is not" --state "$A" --usbip 127.0.0.1:99999
refused "usbip address '::1' is not" --state "$A" --usbip ::1
refused "usbip address '127.0.0.1:' is not" --state "$A" --usbip 127.0.0.1:
refused "cannot resolve no-such-host.invalid" --state "$A" --usbip no-such-host.invalid:3240
refused "--usbip given twice for key 1" --state "$A" --usbip :3240 --usbip :3241
refused "need --usbredir, --usbredir-connect or --usbip" --state "$A" --usb-pid 1234

# Beyond loopback: a warning when the options are checked. Key 2 is left
# without a transport so the command stops before binding anything.
out=$(timeout 10 "$VKEY" serve --state "$A" --usbip 0.0.0.0:0 --state "$B" 2>&1)
rc=$?
if [[ $rc == 2 ]] && grep -q "warning: --usbip 0.0.0.0:0 is reachable beyond this machine" <<<"$out" &&
	! compgen -G "$TMP/*.db" >/dev/null; then
	echo "ok   warning for 0.0.0.0"
else
	fail "0.0.0.0: rc $rc, output: $out"
fi
out=$(timeout 10 "$VKEY" serve --state "$A" --usbip 127.0.0.1:0 --state "$B" 2>&1)
if grep -q "warning" <<<"$out"; then
	fail "loopback address warned about: $out"
fi

# --help names the option.
if ! "$VKEY" serve --help | grep -qF -- "--usbip ADDR"; then
	fail "--help does not mention --usbip"
fi

# Two keys on one address: one server, one line naming both bus ids.
"$VKEY" serve --state "$A" --usbip 127.0.0.1:0 \
	--state "$B" --usbip 127.0.0.1:0 --usb-pid 000c >"$TMP/log" 2>&1 &
pid=$!
port=
for ((i = 0; i < 100; i++)); do
	port=$(sed -n 's/^vkey: USB\/IP server on 127\.0\.0\.1:\([0-9]*\): .*/\1/p' "$TMP/log")
	[[ -n $port ]] && break
	sleep 0.1
done
lines=$(grep -c "USB/IP server on" "$TMP/log")
if [[ -n $port && $lines == 1 ]] &&
	grep -q "key 1 as bus id 1-1, key 2 as bus id 1-2" "$TMP/log"; then
	echo "ok   two keys share one server on port $port"
else
	fail "two keys on one --usbip address:"
	cat "$TMP/log"
fi

# Linux's usbip tool lists both devices with their bus ids and IDs.
if [[ -z $port ]]; then
	fail "no port to list"
elif ! command -v usbip >/dev/null; then
	echo "skip usbip list: the usbip tool is not installed"
else
	list=$(timeout 10 usbip --tcp-port "$port" list -r 127.0.0.1 2>&1)
	if grep -q "1-1:.*(1209:0001)" <<<"$list" &&
		grep -q "1-2:.*(1209:000c)" <<<"$list" &&
		grep -q "(03/00/00)" <<<"$list" && grep -q "(0b/00/00)" <<<"$list"; then
		echo "ok   usbip list -r shows 1-1 and 1-2"
	else
		fail "usbip list -r:"
		echo "$list"
	fi
	# The daemon is unharmed: a second listing gives the same.
	list2=$(timeout 10 usbip --tcp-port "$port" list -r 127.0.0.1 2>&1)
	[[ $list2 == "$list" ]] || fail "second usbip list differs: $list2"
fi

# A second daemon on the same port is refused with a sentence.
if [[ -n $port ]]; then
	out=$(timeout 10 "$VKEY" serve --state "$TMP/c.db" --usbip "127.0.0.1:$port" 2>&1)
	rc=$?
	if [[ $rc == 0 ]] || ! grep -q "usbip 127.0.0.1:$port" <<<"$out"; then
		fail "second daemon on port $port: rc $rc, output: $out"
	else
		echo "ok   a busy port is refused"
	fi
fi

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
if [[ $rc != 0 ]]; then
	fail "SIGTERM: rc $rc"
	cat "$TMP/log"
else
	echo "ok   SIGTERM stops the server"
fi

if [[ $FAILED != 0 ]]; then
	echo "$FAILED check(s) failed"
	exit 1
fi
