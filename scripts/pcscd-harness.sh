# Shared helpers (source this file from bash) for tests and benchmarks that
# need a private pcscd with a vpcd reader pair on a free loopback port.
#
#   . scripts/pcscd-harness.sh
#   pcscd_lock                       # serialize with other pcscd users (waits)
#   port=$(pcscd_free_port_pair)     # N and N+1 both free
#   pcscd_start "$dir" "$port"       # sets PCSCD_PID; logs to $dir/pcscd.log
#   pcscd_wait_card 'Virtual PCD 00 00' 10
#   pcscd_stop
#
# pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME on the server side, so only one
# pcscd can run on the machine: the lock plus a liveness check make a
# second user wait, then fail with a clear message.

PCSCD_PY=/usr/bin/python3
PCSCD_VPCD_LIB=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
PCSCD_LOCK_FILE=${PCSCD_LOCK_FILE:-/tmp/vkey-pcscd.lock}
PCSCD_PID=

# PIDs of live pcscd processes (zombies awaiting their parent do not count).
pcscd_running() {
	ps -C pcscd -o pid=,stat= | awk '$2 !~ /^Z/ { print $1 }'
}

# Take an exclusive lock shared by every vkey test/bench using pcscd, then
# wait (bounded) for any foreign pcscd to go away.
pcscd_lock() {
	local wait=${1:-300} i
	exec {PCSCD_LOCK_FD}>"$PCSCD_LOCK_FILE"
	if ! flock -w "$wait" "$PCSCD_LOCK_FD"; then
		echo "pcscd-harness: another vkey test holds $PCSCD_LOCK_FILE" \
			"for more than ${wait}s" >&2
		return 1
	fi
	for ((i = 0; i < wait; i++)); do
		[[ -z $(pcscd_running) ]] && return 0
		((i == 0)) && echo "pcscd-harness: a pcscd is already running" \
			"(pid $(pcscd_running | tr '\n' ' ')); waiting up to ${wait}s" \
			"for it to exit (pcscd 1.9.9 has one fixed socket)" >&2
		sleep 1
	done
	echo "pcscd-harness: a foreign pcscd is still running; stop it" \
		"(e.g. systemctl stop pcscd.socket pcscd) and retry" >&2
	return 1
}

# Print a port N such that N and N+1 are free (vpcd listens on both, on
# all interfaces, so that is where they must be free).
pcscd_free_port_pair() {
	"$PCSCD_PY" - <<'EOF'
import random, socket
for _ in range(200):
    n = random.randrange(20000, 60000, 2)
    socks = []
    try:
        for p in (n, n + 1):
            s = socket.socket()
            socks.append(s)
            s.bind(("0.0.0.0", p))
        print(n)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
else:
    raise SystemExit("no free port pair")
EOF
}

# List reader names, one per line (empty when pcscd has none or is down).
pcscd_readers() {
	timeout 5 "$PCSCD_PY" -c '
from smartcard.System import readers
try:
    for r in readers(): print(r)
except Exception:
    pass' 2>/dev/null
}

# Start pcscd in the foreground on a private reader.conf in dir; wait until
# both vpcd readers exist.
pcscd_start() {
	local dir=$1 port=$2 i
	cat >"$dir/reader.conf" <<EOF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:$port
LIBPATH      $PCSCD_VPCD_LIB
CHANNELID    $port
EOF
	pcscd -f -c "$dir/reader.conf" >"$dir/pcscd.log" 2>&1 &
	PCSCD_PID=$!
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$PCSCD_PID" 2>/dev/null; then
			echo "pcscd-harness: pcscd exited at start:" >&2
			cat "$dir/pcscd.log" >&2
			PCSCD_PID=
			return 1
		fi
		[[ $(pcscd_readers | grep -c '^Virtual PCD') -ge 2 ]] && return 0
		sleep 0.1
	done
	echo "pcscd-harness: vpcd readers did not appear in 10s" >&2
	return 1
}

# Wait until a card is present in reader (vkey connected and answering
# the ATR request pcscd polls with).
pcscd_wait_card() {
	local reader=$1 secs=${2:-10}
	timeout $((secs + 5)) "$PCSCD_PY" - "$reader" "$secs" <<'EOF'
import sys, time
from smartcard.System import readers
from smartcard.Exceptions import NoCardException, CardConnectionException
name, secs = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + secs
while time.monotonic() < end:
    for r in readers():
        if str(r) != name:
            continue
        c = r.createConnection()
        try:
            c.connect()
            c.disconnect()
            sys.exit(0)
        except (NoCardException, CardConnectionException):
            pass
    time.sleep(0.1)
sys.exit("pcscd-harness: no card in %r after %gs" % (name, secs))
EOF
}

# Stop a process this shell started, by its PID: TERM, up to 5 s, KILL.
stop_pid() {
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# vkey_serve LOG PORT ARG...: start `$VKEY serve --vpcd 127.0.0.1:PORT
# ARG...` with its output appended to LOG, set VKEY_PID and wait until
# pcscd sees the card. Returns 1 (after printing LOG) when no card shows
# up within 15 s.
vkey_serve() {
	local log=$1 port=$2
	shift 2
	"$VKEY" serve --vpcd "127.0.0.1:$port" "$@" >>"$log" 2>&1 &
	VKEY_PID=$!
	pcscd_wait_card 'Virtual PCD 00 00' 15 && return 0
	cat "$log"
	return 1
}

# vkey_serve_stop LOG: SIGTERM the daemon vkey_serve started and expect
# a clean exit (so that leak reports, which come at exit, reach LOG) and
# no sanitizer report in LOG. Prints what is wrong and returns 1.
# Not in a subshell: it waits for this shell's child.
vkey_serve_stop() {
	local log=$1 rc bad=0
	[[ -n $VKEY_PID ]] || return 0
	kill "$VKEY_PID"
	timeout 10 tail --pid="$VKEY_PID" -f /dev/null
	wait "$VKEY_PID"
	rc=$?
	VKEY_PID=
	if [[ $rc != 0 ]]; then
		echo "vkey serve exited with $rc after SIGTERM"
		bad=1
	fi
	if grep -qE 'runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer' \
		"$log"; then
		echo "sanitizer report in $log:"
		grep -E -A30 'runtime error|Sanitizer' "$log" | head -80
		bad=1
	fi
	return $bad
}

# Stop the pcscd this shell started (by its PID only).
pcscd_stop() {
	stop_pid "$PCSCD_PID"
	PCSCD_PID=
}
