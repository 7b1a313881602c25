#!/bin/bash
# vkey's USB/IP server driven by a Linux kernel's own client: `vkey serve`
# exports keys 1 and 3 with --usbip on one loopback port (key 3 with --up
# prompt) and attaches key 2 by usb-redir; one QEMU guest (qemu-xhci, user
# network with restrict=on) reaches the USB/IP port only through
# run-guest's relay and runs in_guest_usbip.sh there: vhci-hcd and the
# usbip tool import the keys, the client checks of in_guest.sh run on key
# 1, CCID under load, two imports at once, a second importer refused,
# detach and attach again, a connection killed on the host, the kernel log
# clean, a getAssertion bench through USB/IP and usb-redir (bench.txt).
# Meanwhile this script answers the guest's requests (files in the work
# share): kill the relays (the guest's TCP connections), or touch key 3
# 2.5 s from now. Afterwards: vkey stops cleanly on SIGTERM, its log has
# no sanitizer report, and its --pcap capture decodes in tshark with
# interrupt and bulk transfers of device 1 and CTAPHID keepalives and CCID
# time extensions of device 3 (sent while it waited for the touch). The
# work directory is kept when something failed, or always with
# VKEY_GUEST_KEEP=1.
set -euo pipefail

SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
VKEY=${VKEY:-$SRC/build/vkey}
WORK=
PORT=
HELPER_PID=
FAILED=()

. "$SRC/scripts/guest/key.sh"

need() {
	command -v "$1" >/dev/null || { echo "SKIP: $1 not installed (scripts/deps.sh)"; exit 77; }
}

cleanup() {
	stop_helper
	key_stop >/dev/null 2>&1 || true
	if [[ -n $WORK ]]; then
		if ((${#FAILED[@]})) || [[ ${VKEY_GUEST_KEEP:-0} != 0 ]]; then
			echo "kept $WORK for inspection (vkey.log, steps/*.log, usb.pcap)"
		else
			rm -rf "$WORK"
		fi
	fi
}

# The relays alive now: PIDs run-guest's relay recorded that are socat
# processes connected to our port (a PID reused by anything else is left
# alone).
relay_pids() {
	local pid
	[[ -f $WORK/.usbip-relay.pids ]] || return 0
	while read -r pid; do
		[[ $pid =~ ^[0-9]+$ ]] || continue
		tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" |
			grep -q "^socat STDIO TCP:127.0.0.1:$PORT,nodelay " && echo "$pid"
	done <"$WORK/.usbip-relay.pids"
	return 0
}

# In the background while the guest runs (bounded): answer the guest's
# requests. usbip-kill.req: kill the relays alive (usbip-kill.ack names
# them). usbip-touch.req: touch key 3 in 2.5 s (usbip-touch.ack).
host_helper() {
	local deadline=$((SECONDS + 600)) pids rc
	while ((SECONDS < deadline)); do
		if [[ -f $WORK/usbip-kill.req ]]; then
			pids=$(relay_pids | tr '\n' ' ')
			# shellcheck disable=SC2086 # one PID per word
			[[ -z $pids ]] || kill $pids 2>/dev/null || true
			echo "host helper: killed relays ${pids:-(none alive)}"
			rm -f "$WORK/usbip-kill.req"
			answer usbip-kill "killed ${pids:-none}"
		fi
		if [[ -f $WORK/usbip-touch.req ]]; then
			rm -f "$WORK/usbip-touch.req"
			sleep 2.5
			rc=0
			timeout 20 "$VKEY" touch --state "$WORK/touch.db" --timeout 10 || rc=$?
			echo "host helper: touched key 3 (exit $rc)"
			answer usbip-touch "touched (exit $rc)"
		fi
		sleep 0.2
	done
}

answer() { # NAME TEXT: NAME.ack in the work share, whole or not at all
	echo "$2" >"$WORK/.$1.tmp"
	mv "$WORK/.$1.tmp" "$WORK/$1.ack"
}

stop_helper() {
	[[ -n $HELPER_PID ]] || return 0
	kill "$HELPER_PID" 2>/dev/null || true
	wait "$HELPER_PID" 2>/dev/null || true
	HELPER_PID=
}

# usb.capdata or, where tshark's HID dissector took the report, usbhid.data,
# as plain hex: one line per transfer of the display filter $1.
pcap_data() {
	timeout 120 tshark -r "$WORK/usb.pcap" -Y "$1" -T fields \
		-e usb.capdata -e usbhid.data 2>/dev/null | tr -d ':\t'
}

# tshark's view of the capture: device 1 (key 1-1) with interrupt
# (CTAPHID) and bulk (CCID) transfers; device 3 (key 1-3, which waited for
# touches) with CTAPHID KEEPALIVE reports (command byte 0xBB after the
# channel id) and CCID time extensions (RDR_to_PC_DataBlock with
# bmCommandStatus 2).
check_pcap() {
	local pcap=$WORK/usb.pcap types ka te
	[[ -s $pcap ]] || { echo "no capture at $pcap"; return 1; }
	types=$(timeout 120 tshark -r "$pcap" -Y 'usb.device_address == 1' \
		-T fields -e usb.transfer_type 2>/dev/null | sort | uniq -c)
	echo "device 1 transfer types (count, type: 0x01 interrupt, 0x02 control, 0x03 bulk):"
	echo "$types"
	ka=$(pcap_data 'usb.device_address == 3 && usb.transfer_type == 0x01 && usb.endpoint_address.direction == 1' |
		grep -c '^[0-9a-f]\{8\}bb') || true
	te=$(timeout 120 tshark -r "$pcap" \
		-Y 'usb.device_address == 3 && usbccid.bMessageType == 0x80 && usbccid.bStatus.bmCommandStatus == 2' \
		-T fields -e frame.number 2>/dev/null | wc -l)
	echo "device 3: $ka CTAPHID keepalives, $te CCID time extensions"
	grep -q '0x01$' <<<"$types" && grep -q '0x03$' <<<"$types" && ((ka > 0 && te > 0))
}

main() {
	local rc=0 t0
	need qemu-system-x86_64
	need fido2-token
	need ssh-keygen
	need pcscd
	need ykman
	need usbip
	need socat
	need tshark
	[[ -x $VKEY ]] || { echo "SKIP: no vkey binary at $VKEY"; exit 77; }
	if ! key_has_usbip "$VKEY"; then
		echo "SKIP: this vkey has no 'serve --usbip' yet"
		exit 77
	fi
	trap cleanup EXIT
	WORK=$(mktemp -d /tmp/vkey-guest-usbip.XXXXXX)
	chmod 755 "$WORK"
	mkdir "$WORK/guest"
	cp "$SRC/tests/guest/in_guest.sh" "$SRC/tests/guest/in_guest_usbip.sh" \
		"$SRC/tests/guest/pty_answer.py" "$WORK/guest/"

	# Keys 1 and 3: USB/IP, one server (bus ids 1-1 and 1-3, usbmon devices
	# 1 and 3); key 2: usb-redir. The product strings tell them apart.
	key_serve "$VKEY" "$WORK/vkey.log" -v --pcap "$WORK/usb.pcap" \
		--state "$WORK/usbip.db" --usbip 127.0.0.1:0 --up auto \
		--usb-product "vkey usbip" \
		--state "$WORK/redir.db" --usbredir "$WORK/redir.sock" --up auto \
		--usb-product "vkey usbredir" \
		--state "$WORK/touch.db" --usbip 127.0.0.1:0 --up prompt \
		--up-timeout 20 --usb-product "vkey usbip touch"
	key_wait_socket "$WORK/redir.sock" && PORT=$(key_usbip_port) ||
		{ FAILED+=(vkey_start); exit 1; }
	echo "vkey serve: USB/IP on 127.0.0.1:$PORT, usb-redir on $WORK/redir.sock"

	host_helper &
	HELPER_PID=$!
	t0=$(date +%s)
	timeout 460 "$SRC/scripts/guest/run-guest" --controller xhci \
		--usbip-fwd "$PORT" --usbredir "$WORK/redir.sock" \
		--work "$WORK" --timeout 420 \
		-- bash "$WORK/guest/in_guest_usbip.sh" || rc=$?
	echo "== guest: exit $rc after $(($(date +%s) - t0)) s"
	((rc == 0)) || FAILED+=(guest)
	stop_helper
	[[ -f $WORK/bench.txt ]] && cat "$WORK/bench.txt"

	key_stop || { echo "vkey serve did not stop cleanly"; FAILED+=(vkey_stop); }
	key_log_clean || FAILED+=(sanitizer)
	check_pcap || FAILED+=(pcap)
	if ((${#FAILED[@]})); then
		echo "FAILED: ${FAILED[*]}; vkey log tail:"
		tail -30 "$KEY_LOG"
		exit 1
	fi
	echo "guest usbip: all checks passed"
}

main "$@"
