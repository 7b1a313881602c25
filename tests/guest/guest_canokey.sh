#!/bin/bash
# End to end in a QEMU guest through QEMU's own `-device canokey`: a QEMU
# built from Debian's source package with --enable-canokey
# (scripts/qemu-canokey.sh, cached per machine) loads this build's
# libcanokey-qemu through LD_LIBRARY_PATH, the device sits on the USB
# controller named by $1 (xhci or uhci), and in_guest.sh runs the same
# client checks as for usb-redir (fido2-tools, ssh-keygen -sk, pcscd +
# libccid with ykman OATH and gpg --card-status). Meanwhile `vkey serve`
# on the same state file must be refused by the lock QEMU's process holds.
# Afterwards: the state file is a plain vkey state file (`vkey status`
# opens it and shows the serial gpg saw in the guest), QEMU's pcap=
# capture decodes in tshark with interrupt and bulk transfers, and no
# ASan/UBSan report (the ASan build's library runs inside the
# uninstrumented QEMU with its runtimes preloaded). The work directory is
# kept when something failed, or always with VKEY_GUEST_KEEP=1; QEMU's
# canokey_* trace events go to its qemu-trace.log with VKEY_GUEST_TRACE=1.
set -euo pipefail

CONTROLLER=${1:?usage: guest_canokey.sh xhci|uhci}
SRC=${VKEY_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD_ROOT=${VKEY_BUILD_ROOT:-$SRC/build}
VKEY=${VKEY:-$BUILD_ROOT/vkey}
WORK=
STATE=
GUEST_PID=
FAILED=()

. "$SRC/scripts/qemu/lib.sh"

need() {
	command -v "$1" >/dev/null || { echo "SKIP: $1 not installed (scripts/deps.sh)"; exit 77; }
}

cleanup() {
	if [[ -n $GUEST_PID ]] && kill -0 "$GUEST_PID" 2>/dev/null; then
		kill "$GUEST_PID" 2>/dev/null || true
		wait "$GUEST_PID" 2>/dev/null || true
	fi
	if [[ -n $WORK ]]; then
		if ((${#FAILED[@]})) || [[ ${VKEY_GUEST_KEEP:-0} != 0 ]]; then
			echo "kept $WORK for inspection (qemu.stderr, canokey.log, steps/*.log, usb.pcap)"
		else
			rm -rf "$WORK"
		fi
	fi
}

# While the guest runs its checks, the state file belongs to QEMU:
# `vkey serve` on it must stop at once, naming QEMU's process.
check_lock_refuses_serve() {
	local i out rc=0 pid exe
	for ((i = 0; i < 600; i++)); do # 300 s: boot and the first step
		[[ -d $WORK/steps ]] && break
		kill -0 "$GUEST_PID" 2>/dev/null || { echo "lock check: the guest ended before its checks began"; return 1; }
		sleep 0.5
	done
	[[ -d $WORK/steps ]] || { echo "lock check: the guest's checks never began"; return 1; }
	out=$(timeout 15 "$VKEY" serve --state "$STATE" --usbredir "$WORK/lock-check.sock" \
		--up auto 2>&1) || rc=$?
	echo "vkey serve on the state file QEMU holds: exit $rc: $out"
	((rc != 0 && rc != 124)) || { echo "lock check: vkey serve was not refused"; return 1; }
	pid=$(sed -n 's/.*is in use by process \([0-9]*\).*/\1/p' <<<"$out")
	[[ -n $pid ]] || { echo "lock check: the refusal names no process"; return 1; }
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	echo "the holder, process $pid, is $exe"
	[[ $exe == "$(readlink -f "$QEMU")" ]]
}

# The same file `vkey serve` uses: vkey status opens it once QEMU let go,
# and its serial is the one gpg read from the card in the guest.
check_state_file() {
	local out serial gpg_serial
	out=$(timeout 30 "$VKEY" status --state "$STATE" 2>&1) || {
		echo "vkey status --state $STATE failed: $out"
		return 1
	}
	echo "$out"
	serial=$(awk '$1 == "serial:" && $2 ~ /^[0-9]+$/ { printf "%08X", $2; exit }' <<<"$out")
	[[ -n $serial ]] || { echo "vkey status shows no serial"; return 1; }
	gpg_serial=$(sed -n 's/^Serial number ....: \([0-9A-F]*\)$/\1/p' "$WORK/gpg-card-status.txt" 2>/dev/null || true)
	echo "serial: vkey status $serial, gpg in the guest ${gpg_serial:-(none)}"
	[[ $serial == "$gpg_serial" ]]
}

# QEMU's capture decodes in tshark: the configuration descriptor in it
# names the CTAPHID endpoints interrupt and the CCID endpoints bulk, and
# data moved on both kinds. (QEMU 7.2's canokey device never sets QEMU's
# own endpoint types, so the capture's per-packet transfer type field is
# not usable: tshark shows "Unknown" there. docs/CANOKEY.md.)
check_pcap() {
	local pcap=$WORK/usb.pcap eps counts
	[[ -s $pcap ]] || { echo "no capture at $pcap"; return 1; }
	eps=$(timeout 120 tshark -r "$pcap" -Y 'usb.bDescriptorType == 0x05' \
		-T fields -e usb.bEndpointAddress -e usb.bmAttributes.transfer 2>/dev/null |
		head -1)
	echo "endpoints (address list, transfer type list: 0x03 interrupt, 0x02 bulk): $eps"
	[[ -n $eps ]] || { echo "no configuration descriptor in the capture"; return 1; }
	# Completed URBs with data, per endpoint: IN completions, OUT submissions.
	counts=$(timeout 120 tshark -r "$pcap" -Y 'usb.data_len > 0' -T fields \
		-e usb.endpoint_address -e usb.urb_type 2>/dev/null | sort | uniq -c)
	echo "data URBs (count, endpoint, S submit / C complete):"
	echo "$counts"
	awk -v eps="$eps" '
		BEGIN {
			split(eps, f, "\t"); n = split(f[1], a, ","); split(f[2], t, ",")
			for (i = 1; i <= n; i++) type[a[i]] = t[i]
		}
		$2 in type && (($2 ~ /^0x8/ && $3 == "\047C\047") || ($2 !~ /^0x8/ && $3 == "\047S\047")) {
			seen[type[$2] "/" ($2 ~ /^0x8/ ? "in" : "out")] += $1
		}
		END {
			ok = 1
			split("0x03/in 0x03/out 0x02/in 0x02/out", want, " ")
			for (i = 1; i <= 4; i++) {
				printf "%s: %d data packets\n", want[i], seen[want[i]]
				if (!seen[want[i]]) ok = 0
			}
			exit !ok
		}' <<<"$counts"
}

check_no_sanitizer_report() {
	local f pat='AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:'
	for f in "$WORK/qemu.stderr" "$WORK/canokey.log"; do
		[[ -f $f ]] || continue
		if grep -Eq "$pat" "$f"; then
			echo "sanitizer report in $f:"
			grep -E -A30 "$pat" "$f" | head -80
			return 1
		fi
	done
	return 0
}

main() {
	local rc=0 t0 args e
	need fido2-token
	need ssh-keygen
	need pcscd
	need ykman
	need oathtool
	need gpg
	need tshark
	need pkg-config
	[[ -x $VKEY ]] || { echo "SKIP: no vkey binary at $VKEY"; exit 77; }
	if [[ ! -f $BUILD_ROOT/meson-uninstalled/canokey-qemu-uninstalled.pc ]]; then
		echo "SKIP: $BUILD_ROOT has no libcanokey-qemu"
		exit 77
	fi
	trap cleanup EXIT

	t0=$(date +%s)
	QEMU=$("$SRC/scripts/qemu-canokey.sh" "$BUILD_ROOT") || {
		FAILED+=(qemu_build)
		echo "FAILED: scripts/qemu-canokey.sh $BUILD_ROOT"
		exit 1
	}
	echo "== QEMU with canokey ready after $(($(date +%s) - t0)) s: $QEMU"
	qemu_find_library "$BUILD_ROOT"
	qemu_library_env
	((CK_SANITIZED)) && echo "== sanitized library: QEMU runs with ${QEMU_ENV[1]}"

	WORK=$(mktemp -d /tmp/vkey-guest-canokey.XXXXXX)
	chmod 755 "$WORK"
	STATE=$WORK/key.db
	# The guest sees fresh tmpfs on /tmp: its side travels in the work share.
	mkdir "$WORK/guest"
	cp "$SRC/tests/guest/in_guest.sh" "$SRC/tests/guest/pty_answer.py" "$WORK/guest/"

	# The library's settings (docs/CANOKEY.md): touch approved at once,
	# decoded commands into canokey.log.
	QEMU_ENV+=(VKEY_CANOKEY_UP=auto "VKEY_CANOKEY_LOG_LEVEL=${VKEY_CANOKEY_LOG_LEVEL:-info}"
		"VKEY_CANOKEY_LOG_FILE=$WORK/canokey.log")
	args=(--qemu "$QEMU" -L /usr/share/qemu -L /usr/share/seabios
		--controller "$CONTROLLER" --canokey "$STATE" --canokey-pcap "$WORK/usb.pcap"
		--work "$WORK" --timeout 900)
	for e in "${QEMU_ENV[@]}"; do
		args+=(--qemu-env "$e")
	done
	if [[ ${VKEY_GUEST_TRACE:-0} != 0 ]]; then
		args+=(--qemu-arg -trace --qemu-arg "enable=canokey_*,file=$WORK/qemu-trace.log")
	fi

	t0=$(date +%s)
	timeout 1000 "$SRC/scripts/guest/run-guest" "${args[@]}" \
		-- bash "$WORK/guest/in_guest.sh" 2>"$WORK/qemu.stderr" &
	GUEST_PID=$!
	check_lock_refuses_serve || FAILED+=(lock)
	wait "$GUEST_PID" || rc=$?
	GUEST_PID=
	echo "== guest on $CONTROLLER through -device canokey: exit $rc after $(($(date +%s) - t0)) s"
	if [[ -s $WORK/qemu.stderr ]]; then
		echo "QEMU's and run-guest's stderr:"
		head -c 20000 "$WORK/qemu.stderr"
	fi
	((rc == 0)) || FAILED+=(guest)

	check_state_file || FAILED+=(state_file)
	check_pcap || FAILED+=(pcap)
	check_no_sanitizer_report || FAILED+=(sanitizer)
	if ((${#FAILED[@]})); then
		echo "FAILED on $CONTROLLER: ${FAILED[*]}; canokey.log tail:"
		tail -30 "$WORK/canokey.log" 2>/dev/null || true
		exit 1
	fi
	echo "guest canokey on $CONTROLLER: all checks passed"
}

main "$@"
