#!/bin/bash
# `make demo`: start one vkey key on the host, boot a QEMU guest with the
# key plugged in by usb-redir, and show what the guest's own libfido2 tools
# see (fido2-token -L and -I). Everything is temporary and stops by itself.
#
#   scripts/guest/demo.sh VKEY [xhci|uhci]
set -euo pipefail

VKEY=$(realpath "${1:?usage: demo.sh VKEY [xhci|uhci]}")
CONTROLLER=${2:-xhci}
GUEST_DIR=$(cd "$(dirname "$0")" && pwd)
WORK=

. "$GUEST_DIR/key.sh"

cleanup() {
	key_stop >/dev/null 2>&1 || true
	[[ -n $WORK ]] && rm -rf "$WORK"
}

# What the guest runs: found the key, list it, describe it.
guest_script() {
	cat <<'EOS'
echo
echo "---- inside the guest ($(uname -r), $(cut -d' ' -f1 /proc/uptime) s after boot) ----"
dev=
for i in $(seq 60); do
	dev=$(timeout 10 fido2-token -L 2>/dev/null | awk -F: '/vendor=0x1209/ { print $1; exit }')
	[ -n "$dev" ] && break
	sleep 0.5
done
if [ -z "$dev" ]; then
	echo "the key did not show up as a FIDO hidraw device"; exit 1
fi
echo '$ fido2-token -L'
timeout 20 fido2-token -L
echo
echo "\$ fido2-token -I $dev"
timeout 20 fido2-token -I "$dev"
echo "---- end of guest output ----"
EOS
}

main() {
	local rc=0
	if ! key_has_usbredir "$VKEY"; then
		echo "demo: this vkey has no 'serve --usbredir' yet (the USB transport" >&2
		echo "      is still being written); nothing to show." >&2
		exit 1
	fi
	trap cleanup EXIT
	WORK=$(mktemp -d /tmp/vkey-demo.XXXXXX)
	chmod 755 "$WORK"
	guest_script >"$WORK/demo.sh"

	cat <<EOT
== vkey demo ==
A fresh virtual key (state in $WORK/key.db) starts on this machine as
  vkey serve --state $WORK/key.db --usbredir $WORK/key.sock --up auto
and a QEMU guest (Debian kernel, TCG, no network) boots with it attached on
its $CONTROLLER USB controller through QEMU's stock usb-redir device:
  -chardev socket,id=key0,path=$WORK/key.sock -device usb-redir,chardev=key0
The guest runs the host's own fido2-token (libfido2) against /dev/hidraw*.
Booting (about 10 s)...
EOT
	key_start "$VKEY" "$WORK"
	"$GUEST_DIR/run-guest" --controller "$CONTROLLER" --usbredir "$KEY_SOCK" \
		--work "$WORK" --timeout 180 -- sh "$WORK/demo.sh" || rc=$?
	key_stop || true
	echo
	if ((rc == 0)); then
		cat <<EOT
That was a VM talking to vkey over USB. Next steps:
  make check            the guest tests (fido2-cred/assert, ssh-keygen -t ed25519-sk,
                        pcscd + libccid, ykman OATH) on qemu-xhci and piix3-usb-uhci
  docs/GUEST.md         how to boot your own guest with a key attached
EOT
	else
		echo "demo failed (exit $rc); vkey's log:"
		tail -20 "$KEY_LOG"
	fi
	return "$rc"
}

main "$@"
