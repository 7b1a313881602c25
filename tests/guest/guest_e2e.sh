#!/bin/bash
# End to end in a QEMU guest: `vkey serve` on the host attaches one key by
# usb-redir to a guest on the USB controller named by $1 (xhci or uhci);
# in_guest.sh drives it there with unmodified clients (fido2-tools,
# ssh-keygen, pcscd + libccid, ykman). One boot runs every check.
# Afterwards: vkey stops cleanly on SIGTERM, its log has no sanitizer
# report, and its --pcap capture decodes in tshark with both the CTAPHID
# (interrupt) and CCID (bulk) traffic in it. The work directory is kept
# when something failed, or always with VKEY_GUEST_KEEP=1.
set -euo pipefail

CONTROLLER=${1:?usage: guest_e2e.sh xhci|uhci}
SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VKEY=${VKEY:-$SRC/build/vkey}
WORK=
FAILED=()

. "$SRC/scripts/guest/key.sh"

need() {
	command -v "$1" >/dev/null || { echo "SKIP: $1 not installed (scripts/deps.sh)"; exit 77; }
}

cleanup() {
	key_stop >/dev/null 2>&1 || true
	if [[ -n $WORK ]]; then
		if ((${#FAILED[@]})) || [[ ${VKEY_GUEST_KEEP:-0} != 0 ]]; then
			echo "kept $WORK for inspection (vkey.log, steps/*.log, usb.pcap)"
		else
			rm -rf "$WORK"
		fi
	fi
}

# Interrupt (CTAPHID) and bulk (CCID) transfers both in the capture.
check_pcap() {
	local pcap=$WORK/usb.pcap types
	need tshark
	[[ -s $pcap ]] || { echo "no capture at $pcap"; return 1; }
	types=$(timeout 120 tshark -r "$pcap" -T fields -e usb.transfer_type 2>/dev/null | sort | uniq -c)
	echo "pcap transfer types (count, type: 0x01 interrupt, 0x02 control, 0x03 bulk):"
	echo "$types"
	grep -q '0x01$' <<<"$types" && grep -q '0x03$' <<<"$types"
}

main() {
	local rc=0 t0
	need qemu-system-x86_64
	need fido2-token
	need ssh-keygen
	need pcscd
	need ykman
	need oathtool
	[[ -x $VKEY ]] || { echo "SKIP: no vkey binary at $VKEY"; exit 77; }
	if ! key_has_usbredir "$VKEY"; then
		echo "SKIP: this vkey has no 'serve --usbredir' yet"
		exit 77
	fi
	trap cleanup EXIT
	WORK=$(mktemp -d /tmp/vkey-guest-e2e.XXXXXX)
	chmod 755 "$WORK"

	# The guest sees fresh tmpfs on /tmp, /run, /root and /var/tmp: a source
	# tree there (a CI clone in /tmp) is hidden, so the guest side travels
	# in the work share.
	mkdir "$WORK/guest"
	cp "$SRC/tests/guest/in_guest.sh" "$SRC/tests/guest/pty_answer.py" "$WORK/guest/"

	key_start "$VKEY" "$WORK" --pcap "$WORK/usb.pcap" -v || { FAILED+=(vkey_start); exit 1; }
	t0=$(date +%s)
	timeout 1000 "$SRC/scripts/guest/run-guest" --controller "$CONTROLLER" \
		--usbredir "$KEY_SOCK" --work "$WORK" --timeout 900 \
		-- bash "$WORK/guest/in_guest.sh" || rc=$?
	echo "== guest on $CONTROLLER: exit $rc after $(($(date +%s) - t0)) s"
	((rc == 0)) || FAILED+=(guest)

	key_stop || { echo "vkey serve did not stop cleanly"; FAILED+=(vkey_stop); }
	key_log_clean || FAILED+=(sanitizer)
	check_pcap || FAILED+=(pcap)
	if ((${#FAILED[@]})); then
		echo "FAILED on $CONTROLLER: ${FAILED[*]}; vkey log tail:"
		tail -30 "$KEY_LOG"
		exit 1
	fi
	echo "guest e2e on $CONTROLLER: all checks passed"
}

main "$@"
