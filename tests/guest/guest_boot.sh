#!/bin/bash
# The guest harness alone, without any vkey code: boot once per USB
# controller with QEMU's own usb-kbd attached, and check inside the guest
# that the host root is mounted, the work share is writable and the
# keyboard enumerated (hidraw node, product string). A failure here is the
# harness's (kernel, initramfs, QEMU), not the key's.
set -euo pipefail

SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
RUN_GUEST=$SRC/scripts/guest/run-guest
WORK=

need() {
	command -v "$1" >/dev/null || { echo "SKIP: $1 not installed (scripts/deps.sh)"; exit 77; }
}

cleanup() { [[ -n $WORK ]] && rm -rf "$WORK"; }

# Runs in the guest: everything it checks is printed, the status says it all.
guest_check() {
	cat <<'EOS'
set -u
fail() { echo "guest: FAIL $*"; exit 1; }
[ -x /usr/bin/fido2-token ] || fail "host root not mounted"
echo written-in-guest >out.txt || fail "work share not writable"
touch /tmp/x /run/x || fail "no tmpfs on /tmp or /run"
for i in $(seq 50); do
	grep -qs 'QEMU USB Keyboard' /sys/bus/usb/devices/*/product && ls /dev/hidraw0 >/dev/null 2>&1 && break
	sleep 0.2
done
grep -s . /sys/bus/usb/devices/*/product
ls /dev/hidraw0 || fail "usb-kbd did not enumerate"
echo "guest: ok ($(cut -d' ' -f1 /proc/uptime) s since boot)"
EOS
}

run_one() {
	local controller=$1 t0 rc=0
	t0=$(date +%s%N)
	timeout 300 "$RUN_GUEST" --controller "$controller" --usb-kbd --work "$WORK" \
		--timeout 240 -- bash "$WORK/check.sh" || rc=$?
	echo "== $controller: exit $rc, $((($(date +%s%N) - t0) / 1000000)) ms wall"
	((rc == 0)) && [[ $(cat "$WORK/out.txt") == written-in-guest ]]
}

main() {
	local failed=0 passed=0 c
	need qemu-system-x86_64
	need busybox
	trap cleanup EXIT
	WORK=$(mktemp -d /tmp/vkey-guest-boot.XXXXXX)
	guest_check >"$WORK/check.sh"
	for c in xhci uhci; do
		rm -f "$WORK/out.txt"
		if run_one "$c"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	done
	echo "$passed passed, $failed failed"
	((failed == 0))
}

main "$@"
