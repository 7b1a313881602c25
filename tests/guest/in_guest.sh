#!/bin/bash
# Runs INSIDE the QEMU guest (started by guest_e2e.sh through run-guest),
# in the host's root mounted read-only, cwd = the writable work share.
# One vkey key is attached by usb-redir; unmodified clients drive it:
#   libfido2's fido2-token / fido2-cred / fido2-assert over hidraw,
#   OpenSSH's ssh-keygen (ed25519-sk, ecdsa-sk, resident keys, -Y sign),
#   pcscd + libccid over usbfs, ykman OATH and gpg --card-status through
#   that reader.
# Each check is a named step; a failed step does not stop the others.
# Prints "N passed, N failed" and exits non-zero when anything failed.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3 # Debian's fido2/pyscard/ykman import only under it
PIN=vkey-guest-1234
TOTP_SECRET=JBSWY3DPEHPK3PXP
RP=vkey.test
VID=0x1209
PID=0x0001

DEV=
READER=
PCSCD_PID=
PASSED=0
FAILED=0
FAILED_NAMES=()
T0=$(date +%s%N)

log() { echo "[guest $(elapsed)] $*"; }
elapsed() { printf '%6.2fs' "$(($(date +%s%N) - T0))e-9"; }

# step NAME FUNCTION: run one check with its output in NAME.log, print the
# log's tail only when it failed.
step() {
	local name=$1 fn=$2 t rc=0
	t=$(date +%s%N)
	"$fn" >"steps/$name.log" 2>&1 || rc=$?
	local ms=$((($(date +%s%N) - t) / 1000000))
	if ((rc == 0)); then
		PASSED=$((PASSED + 1))
		log "ok   $name (${ms} ms)"
	else
		FAILED=$((FAILED + 1))
		FAILED_NAMES+=("$name")
		log "FAIL $name (exit $rc, ${ms} ms); last lines of steps/$name.log:"
		tail -n 25 "steps/$name.log" | sed 's/^/    | /'
	fi
	return 0
}

# Answer PIN prompts typed on a pty (readpassphrase flushes piped input).
with_pin() {
	timeout 120 "$PY" "$HERE/pty_answer.py" --timeout 100 \
		--answer 'PIN[^\n]*: ?$' "$PIN" -- "$@"
}

# One base64 line each (fido2-tools read newline-separated fields).
b64_rand() { head -c "${1:-32}" /dev/urandom | base64 -w0; echo; }
b64_sha() { printf '%s' "$1" | openssl sha256 -binary | base64 -w0; echo; }

# ---- FIDO over hidraw: libfido2's tools -------------------------------

# The key's hidraw node shows up once the kernel enumerated the device.
wait_device() {
	local i line
	for ((i = 0; i < 60; i++)); do
		line=$(timeout 10 fido2-token -L 2>/dev/null | grep -i "vendor=$VID, product=$PID" | head -1)
		if [[ -n $line ]]; then
			DEV=${line%%:*}
			echo "found $DEV: $line"
			return 0
		fi
		sleep 0.5
	done
	echo "no FIDO device $VID:$PID after 30 s; USB devices:"
	grep -H . /sys/bus/usb/devices/*/{idVendor,idProduct,product} 2>/dev/null
	ls -l /dev/hidraw* 2>&1
	dmesg | tail -30
	return 1
}

token_list() {
	timeout 20 fido2-token -L | tee token-L.txt
	grep -q "^$DEV: vendor=$VID, product=$PID" token-L.txt
}

token_info() {
	timeout 20 fido2-token -I "$DEV" | tee token-I.txt
	grep -q 'FIDO_2_0' token-I.txt &&
		grep -q 'hmac-secret' token-I.txt &&
		grep -Eq 'aaguid: [0-9a-f]{32}' token-I.txt
}

# make_cred OUT TYPE FLAGS...: fido2-cred -M then -V; OUT.pub gets the key.
make_cred() {
	local out=$1 type=$2
	shift 2
	{
		b64_sha "make $out"
		echo "$RP"
		echo "guest-user-$out"
		b64_rand 16
	} >"$out.param"
	with_pin fido2-cred -M "$@" -i "$out.param" -o "$out.cred" "$DEV" "$type" || return 1
	local vflags=()
	[[ " $* " == *" -h "* ]] && vflags+=(-h)
	timeout 20 fido2-cred -V "${vflags[@]}" -i "$out.cred" -o "$out.pub" "$type" || return 1
	grep -q 'BEGIN PUBLIC KEY' "$out.pub"
}

# get_assert CRED TYPE SALT FLAGS...: fido2-assert -G, then -V against the
# credential's public key; prints the hmac secret (if any) on fd 3.
get_assert() {
	local c=$1 type=$2 salt=$3
	shift 3
	{
		b64_sha "assert $c $RANDOM"
		echo "$RP"
		[[ " $* " == *" -r "* ]] || sed -n 1p "$c.pub" # credential id
		[[ -n $salt ]] && echo "$salt"
	} >"$c.aparam"
	with_pin fido2-assert -G -p "$@" -i "$c.aparam" -o "$c.assert" "$DEV" "$type" || return 1
	local vflags=(-p)
	[[ -n $salt ]] && vflags+=(-h)
	head -4 "$c.assert" | timeout 20 fido2-assert -V "${vflags[@]}" <(sed -n '2,$p' "$c.pub") "$type" || return 1
	echo "assertion verified against $c.pub"
}

hmac_of() { # the hmac secret: last line of the -G output with -h
	tail -1 "$1.assert"
}

cred_es256_hmac() {
	local salt1 salt2 s1 s1b s2
	salt1=$(b64_rand 32)
	salt2=$(b64_rand 32)
	make_cred c1 es256 -h || return 1
	get_assert c1 es256 "$salt1" -h && s1=$(hmac_of c1) || return 1
	get_assert c1 es256 "$salt1" -h && s1b=$(hmac_of c1) || return 1
	get_assert c1 es256 "$salt2" -h && s2=$(hmac_of c1) || return 1
	echo "hmac-secret: salt1 -> $s1, again -> $s1b, salt2 -> $s2"
	[[ -n $s1 && $s1 == "$s1b" && $s1 != "$s2" ]] &&
		(($(echo "$s1" | base64 -d | wc -c) == 32))
}

cred_eddsa() {
	make_cred c2 eddsa && get_assert c2 eddsa ""
}

set_pin() {
	with_pin fido2-token -S "$DEV" || return 1
	timeout 20 fido2-token -I "$DEV" | tee token-I-pin.txt
	grep -Eq 'clientPin(,|$)' token-I-pin.txt
}

# A discoverable credential made with the PIN: fido2-cred asks for it.
cred_resident_pin() {
	make_cred c3 es256 -r -h || return 1
	get_assert c3 es256 "$(b64_rand 32)" -r -h || return 1
	with_pin fido2-token -L -r "$DEV" | tee rps.txt
	grep -q "$RP" rps.txt
}

# ---- OpenSSH security keys --------------------------------------------

ssh_sign_verify() {
	local key=$1 principal="guest@vkey"
	echo "signed from the guest $RANDOM" >"$key.msg"
	timeout 60 ssh-keygen -Y sign -f "$key" -n file "$key.msg" </dev/null || return 1
	printf '%s namespaces="file" %s\n' "$principal" "$(cat "$key.pub")" >"$key.allowed"
	timeout 30 ssh-keygen -Y verify -f "$key.allowed" -I "$principal" \
		-n file -s "$key.msg.sig" <"$key.msg" || return 1
	# A tampered message must not verify.
	echo tampered >>"$key.msg"
	! timeout 30 ssh-keygen -Y verify -f "$key.allowed" -I "$principal" \
		-n file -s "$key.msg.sig" <"$key.msg"
}

ssh_key() { # ssh_key TYPE FILE [ssh-keygen options]
	local type=$1 f=$2
	shift 2
	rm -f "$f" "$f.pub"
	with_pin ssh-keygen -q -t "$type" -N '' -f "$f" -C "vkey guest $type" "$@" || return 1
	grep -q "^sk-" "$f.pub" && ssh_sign_verify "$f"
}

ssh_ed25519_sk() { ssh_key ed25519-sk id_ed25519_sk; }
ssh_ecdsa_sk() { ssh_key ecdsa-sk id_ecdsa_sk; }
ssh_ed25519_sk_resident() { ssh_key ed25519-sk id_ed25519_sk_res -O resident -O application=ssh:vkey-guest; }
ssh_ecdsa_sk_resident() { ssh_key ecdsa-sk id_ecdsa_sk_res -O resident -O application=ssh:vkey-guest2; }

# ssh-keygen -K downloads the resident keys again (with the PIN).
# (a subshell: steps share the script's cwd)
ssh_download_resident() (
	mkdir -p sshk && cd sshk || exit 1
	with_pin ssh-keygen -K -N '' || exit 1
	ls -l
	ls id_ed25519_sk_rk_vkey-guest id_ecdsa_sk_rk_vkey-guest2 >/dev/null
)

# ---- CCID: pcscd + libccid, ykman OATH --------------------------------

# pcscd hands a USB device to libccid only when the VID/PID pair is listed
# in libccid's Info.plist (pcsc-lite's "class driver" is a fallback among
# listed pairs, not a match on interface class 0x0B), and Debian 12's
# libccid 1.5.2 does not list 1209:0001. A user adds it to
# /etc/libccid_Info.plist (Debian's conffile behind the bundle's
# Info.plist); here a patched copy is bind-mounted over it in the guest.
ccid_accept_vkey() {
	"$PY" - /etc/libccid_Info.plist ccid_Info.plist <<'EOF'
import plistlib, sys
with open(sys.argv[1], "rb") as f:
    d = plistlib.load(f)
d["ifdVendorID"].append("0x1209")
d["ifdProductID"].append("0x0001")
d["ifdFriendlyName"].append("vkey")
with open(sys.argv[2], "wb") as f:
    plistlib.dump(d, f)
EOF
	mount --bind ccid_Info.plist /etc/libccid_Info.plist
}

pcscd_reader() {
	local i names
	ccid_accept_vkey || return 1
	# usbfs is ready once the device enumerated (wait_device ran first).
	# An empty reader.conf directory: the host's vpcd entry (serial
	# readers 'Virtual PCD 00 0x') has nothing to do in the guest.
	mkdir -p pcscd-conf
	pcscd -f -d -c "$PWD/pcscd-conf" >pcscd.log 2>&1 &
	PCSCD_PID=$!
	for ((i = 0; i < 60; i++)); do
		names=$(timeout 20 "$PY" -c '
from smartcard.System import readers
for r in readers(): print(r)' 2>/dev/null)
		READER=$(grep -i vkey <<<"$names" | head -1)
		[[ -z $READER ]] && READER=$(grep -v 'Virtual PCD' <<<"$names" | head -1)
		if [[ -n $READER ]]; then
			echo "readers: $names"
			echo "$READER" >reader.txt
			timeout 30 opensc-tool -l 2>&1 || true
			return 0
		fi
		sleep 0.5
	done
	echo "no reader after 30 s"
	tail -40 pcscd.log
	return 1
}

yk() { timeout 120 ykman --reader "$READER" "$@" </dev/null; }

oath_ykman() {
	local s t0 t1 out code want
	[[ -n $READER ]] || { echo "no reader"; return 1; }
	yk oath accounts add -f -o TOTP guest-totp "$TOTP_SECRET" || return 1
	yk oath accounts list | tee oath-list.txt
	grep -q '^guest-totp$' oath-list.txt || return 1
	for ((s = 0; s < 3; s++)); do # retry when a 30 s step boundary passed
		t0=$(date +%s)
		out=$(yk oath accounts code guest-totp) || return 1
		t1=$(date +%s)
		((t0 / 30 == t1 / 30)) && break
	done
	code=$(awk '{ print $NF }' <<<"$out")
	want=$(oathtool --totp -b "$TOTP_SECRET" --now "@$t0")
	echo "ykman: $out; oathtool: $want"
	[[ $code == "$want" ]]
}

# ---- OpenPGP: gpg's scdaemon through the same pcscd --------------------

# (a subshell: GNUPGHOME stays with this step). GnuPG's home is on the
# guest's tmpfs: gpg-agent's sockets cannot live on the 9p work share.
gpg_card_status() (
	[[ -n $READER ]] || { echo "no reader"; exit 1; }
	GNUPGHOME=$(mktemp -d /tmp/gnupg.XXXXXX) || exit 1
	export GNUPGHOME
	{
		echo disable-ccid
		echo "pcsc-driver /usr/lib/x86_64-linux-gnu/libpcsclite.so.1"
		echo "reader-port $READER"
	} >"$GNUPGHOME/scdaemon.conf"
	rc=0
	timeout 120 gpg --batch --no-tty --card-status </dev/null >gpg-card-status.txt 2>&1 || rc=$?
	timeout 20 gpgconf --kill all
	cat gpg-card-status.txt
	((rc == 0)) &&
		grep -q '^Application ID ...: D276000124010304' gpg-card-status.txt &&
		grep -q '^Version ..........: 3.4$' gpg-card-status.txt &&
		grep -Eq '^Serial number ....: [0-9A-F]{8}$' gpg-card-status.txt
)

stop_pcscd() {
	[[ -n $PCSCD_PID ]] || return 0
	kill "$PCSCD_PID" 2>/dev/null
	wait "$PCSCD_PID" 2>/dev/null
	PCSCD_PID=
}

main() {
	mkdir -p steps
	log "guest up: $(uname -r), $(awk '{print $1}' /proc/uptime) s since boot"
	step wait_device wait_device
	if [[ -z $DEV ]]; then
		echo "0 passed, 1 failed"
		return 1
	fi
	step fido2_token_L token_list
	step fido2_token_I token_info
	step cred_es256_hmac_secret cred_es256_hmac
	step cred_eddsa cred_eddsa
	step ssh_ed25519_sk ssh_ed25519_sk
	step ssh_ecdsa_sk ssh_ecdsa_sk
	step fido2_token_S_pin set_pin
	step cred_resident_pin cred_resident_pin
	step ssh_ed25519_sk_resident ssh_ed25519_sk_resident
	step ssh_ecdsa_sk_resident ssh_ecdsa_sk_resident
	step ssh_keygen_K ssh_download_resident
	step pcscd_ccid_reader pcscd_reader
	step ykman_oath_totp oath_ykman
	step gpg_card_status gpg_card_status
	stop_pcscd
	log "done: $PASSED passed, $FAILED failed ${FAILED_NAMES[*]}"
	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0))
}

# in_guest_usbip.sh sources this file for its steps and helpers; run as a
# script, it runs every check.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	main "$@"
fi
