#!/bin/bash
# FIDO round trips from a client inside a QEMU guest, through usb-redir and
# CTAPHID: bench/guest_assert.c (libfido2, hidraw) built here and run in
# one guest per USB controller. Prints medians; never fails on time.
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
}

main "$@"
