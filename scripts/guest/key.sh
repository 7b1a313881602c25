# shellcheck shell=bash
# Host side of a guest run (source from bash): start `vkey serve` with one
# key listening for QEMU's usb-redir chardev, stop it, check its log.
#
#   . scripts/guest/key.sh
#   key_start VKEY DIR [extra serve options]  # sets KEY_PID, KEY_SOCK, KEY_LOG
#   scripts/guest/run-guest --usbredir "$KEY_SOCK" ...
#   key_stop                                  # TERM, bounded wait, KILL
#   key_log_clean                             # no sanitizer report in KEY_LOG
#
# Any other set of keys and transports:
#   key_serve VKEY LOG SERVE_OPTIONS...       # sets KEY_PID, KEY_LOG
#   key_wait_socket SOCKET                    # a --usbredir socket listens
#   port=$(key_usbip_port)                    # the --usbip server's port

KEY_PID=
KEY_SOCK=
KEY_LOG=

# Does this vkey have the usbredir transport yet?
key_has_usbredir() {
	"$1" serve --help 2>&1 | grep -q -- '--usbredir'
}

# Does this vkey have the USB/IP transport yet?
key_has_usbip() {
	"$1" serve --help 2>&1 | grep -q -- '--usbip'
}

key_start() {
	local vkey=$1 dir=$2
	shift 2
	KEY_SOCK=$dir/key.sock
	rm -f "$KEY_SOCK"
	key_serve "$vkey" "$dir/vkey.log" --state "$dir/key.db" \
		--usbredir "$KEY_SOCK" --up auto "$@"
	key_wait_socket "$KEY_SOCK"
}

# `vkey serve` with the options given, output (both streams) in LOG.
key_serve() {
	local vkey=$1
	KEY_LOG=$2
	shift 2
	"$vkey" serve "$@" >"$KEY_LOG" 2>&1 &
	KEY_PID=$!
}

# Waits (10 s) until vkey listens on the unix socket SOCKET.
key_wait_socket() {
	local sock=$1 i
	for ((i = 0; i < 100; i++)); do # 10 s
		[[ -S $sock ]] && return 0
		kill -0 "$KEY_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "vkey serve did not listen on $sock; its log:" >&2
	tail -20 "$KEY_LOG" >&2
	return 1
}

# Waits (10 s) for serve's "vkey: USB/IP server on HOST:PORT: ..." line and
# prints PORT (the one the kernel chose for --usbip HOST:0).
key_usbip_port() {
	local i port
	for ((i = 0; i < 100; i++)); do # 10 s
		port=$(sed -En 's|^vkey: USB/IP server on .*:([0-9]+): .*|\1|p' "$KEY_LOG" | head -1)
		[[ -n $port ]] && { echo "$port"; return 0; }
		kill -0 "$KEY_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "vkey serve announced no USB/IP server; its log:" >&2
	tail -20 "$KEY_LOG" >&2
	return 1
}

# Returns vkey's exit status when it stopped on TERM, 137 if it had to be
# killed (a daemon that ignores TERM is a bug worth failing on).
key_stop() {
	local pid=$KEY_PID i rc=0
	[[ -n $pid ]] || return 0
	KEY_PID=
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null || rc=$?
		echo "vkey serve had already exited (status $rc)" >&2
		return "$((rc ? rc : 1))"
	fi
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do # 10 s
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "vkey serve ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 137
	fi
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

# An ASan/UBSan build of vkey reports into its log (make check runs the
# whole suite again under the sanitizers).
key_log_clean() {
	if grep -Eq 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$KEY_LOG"; then
		echo "sanitizer report in $KEY_LOG:" >&2
		grep -E -A30 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' \
			"$KEY_LOG" | head -80 >&2
		return 1
	fi
	return 0
}
