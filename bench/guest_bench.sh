#!/bin/bash
# FIDO round trips from a client inside a QEMU guest, through usb-redir and
# CTAPHID: bench/guest_assert.c (libfido2, hidraw) built here and run in
# one guest per USB controller, then once more over USB/IP (the guest
# kernel's vhci-hcd, reaching `vkey serve --usbip` through QEMU's user
# network). Prints medians; never fails on time.
#
#   bench/guest_bench.sh VKEY [ITERATIONS]
set -uo pipefail

VKEY=$(realpath "${1:?usage: bench/guest_bench.sh VKEY [ITERATIONS]}")
N=${2:-300}
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=

. "$SRC/scripts/guest/key.sh"

cleanup() {
	key_stop >/dev/null 2>&1
	[[ -n $WORK ]] && rm -rf "$WORK"
}

skip() { echo "guest benchmark skipped: $*"; exit 0; }

# One guest: a fresh key, the bench program, its figures.
run_on() {
	local controller=$1 rc=0
	echo "-- from a guest on $controller (usb-redir -> CTAPHID -> hidraw -> libfido2)"
	rm -f "$WORK/key.db"*
	key_start "$VKEY" "$WORK" || return 1
	timeout 600 "$SRC/scripts/guest/run-guest" --controller "$controller" \
		--usbredir "$KEY_SOCK" --work "$WORK" --timeout 540 \
		--console "$WORK/console.log" -- "$WORK/guest_assert" -n "$N" || rc=$?
	key_stop
	grep -E '^guest ' "$WORK/console.log"
	if ((rc != 0)); then
		echo "guest_assert failed on $controller (exit $rc):"
		grep -v '^guest ' "$WORK/console.log" | tail -15
	fi
}

# In the guest: the network to the relay, usbip attach, then the bench on
# the hidraw node that appears.
write_usbip_guest() {
	cat <<'EOF'
set -u
ip link set lo up && ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up || exit 1
timeout 30 usbip attach -r 10.0.2.100 -b 1-1 || exit 1
for _ in $(seq 100); do
	for h in /sys/class/hidraw/hidraw*; do
		[[ -e $h ]] && readlink -f "$h/device" | grep -q vhci_hcd && {
			exec ./guest_assert -n "$1" "/dev/${h##*/}"
		}
	done
	sleep 0.2
done
echo "no hidraw node under vhci_hcd"
exit 1
EOF
}

run_usbip() {
	local rc=0 port
	echo "-- from a guest over USB/IP (vhci-hcd -> CTAPHID -> hidraw -> libfido2;"
	echo "   QEMU user network, one guestfwd relay to 127.0.0.1)"
	rm -f "$WORK/key.db"*
	key_serve "$VKEY" "$WORK/vkey.log" --state "$WORK/key.db" \
		--usbip 127.0.0.1:0 --up auto
	port=$(key_usbip_port) || return 1
	write_usbip_guest >"$WORK/usbip_guest.sh"
	timeout 600 "$SRC/scripts/guest/run-guest" --usbip-fwd "$port" \
		--work "$WORK" --timeout 540 --console "$WORK/console.log" \
		-- bash "$WORK/usbip_guest.sh" "$N" || rc=$?
	key_stop
	grep -E '^guest ' "$WORK/console.log"
	if ((rc != 0)); then
		echo "guest_assert over USB/IP failed (exit $rc):"
		grep -v '^guest ' "$WORK/console.log" | tail -15
	fi
}

main() {
	command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64"
	[[ -f /usr/include/fido.h ]] || skip "no libfido2-dev"
	key_has_usbredir "$VKEY" || skip "$VKEY has no 'serve --usbredir'"
	trap cleanup EXIT
	WORK=$(mktemp -d /tmp/vkey-guest-bench.XXXXXX)
	chmod 755 "$WORK"
	cc -O2 -Wall -Wextra -Werror -I"$SRC/bench" -o "$WORK/guest_assert" \
		"$SRC/bench/guest_assert.c" "$SRC/bench/stats.c" -lfido2 ||
		skip "guest_assert did not build"
	run_on xhci
	run_on uhci
	if key_has_usbip "$VKEY" && command -v usbip >/dev/null &&
		command -v socat >/dev/null; then
		run_usbip
	else
		echo "-- USB/IP guest run skipped (no --usbip, usbip or socat)"
	fi
}

main "$@"
