#!/bin/bash
# Runs INSIDE the QEMU guest (started by guest_usbip.sh through run-guest
# --usbip-fwd --usbredir), cwd = the writable work share. Three vkey keys:
#   1-1 "vkey usbip"        exported by `vkey serve --usbip`, reached at
#                           10.0.2.100:3240 (the host's relay), --up auto
#   1-3 "vkey usbip touch"  on the same server, --up prompt: the host
#                           touches it 2.5 s after the guest asks, so a
#                           command waits long enough for CTAPHID keepalives
#                           and CCID time extensions
#   "vkey usbredir"         key 2, on QEMU's xhci by usb-redir (bench only)
# The guest's own USB/IP client (vhci-hcd, the usbip tool) imports the
# keys and unmodified clients drive them: in_guest.sh's FIDO, OpenSSH,
# pcscd + libccid, ykman and gpg checks, CCID under load (hundreds of
# APDUs, extended lengths), two imports at once, a second importer of a
# busy key refused, detach and attach again, a connection killed on the
# host that gives the key back, and a kernel log free of errors. Last, a
# getAssertion bench through USB/IP and usb-redir (bench.txt).
# Each check is a named step (in_guest.sh's step); a failed step does not
# stop the others. Prints "N passed, N failed", exits non-zero on failure.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/guest/in_guest.sh
. "$HERE/in_guest.sh"

SERVER=10.0.2.100 # guest_usbip.sh's relay (run-guest --usbip-fwd)
BUSID=1-1
BUSID_TOUCH=1-3
PRODUCT_USBIP="vkey usbip"
PRODUCT_TOUCH="vkey usbip touch"
PRODUCT_REDIR="vkey usbredir"
BENCH_N=${VKEY_BENCH_N:-50}
STRESS_N=${VKEY_STRESS_N:-300}
# Requests to guest_usbip.sh, which watches the work share for them.
KILL_REQ=usbip-kill.req   # kill the relays -> usbip-kill.ack
TOUCH_REQ=usbip-touch.req # touch key 1-3 in 2.5 s -> usbip-touch.ack

# attach_busid's results; key 1-1's and key 1-3's imports
ATT_SYSFS=''
ATT_DEV=''
ATT_PORT=''
USBIP_SYSFS=''
USBIP_PORT=''
TOUCH_SYSFS=''
TOUCH_DEV=''
TOUCH_PORT=''
TOUCH_READER=''
DMESG_BASE=0
CCID_ACCEPTED=0

# ---- the imported devices -----------------------------------------------

# usbip_sysfs_dev vhci|other PRODUCT: the sysfs directory of the USB
# device with that product string, under a vhci_hcd controller or not.
usbip_sysfs_dev() {
	local where=$1 product=$2 d p
	for d in /sys/bus/usb/devices/*; do
		[[ -f $d/product && $(<"$d/product") == "$product" ]] || continue
		p=$(readlink -f "$d")
		if [[ $p == */vhci_hcd.* ]]; then
			[[ $where == vhci ]] || continue
		else
			[[ $where == other ]] || continue
		fi
		echo "$p"
		return 0
	done
	return 1
}

# The /dev/hidrawN node whose device sits under the sysfs directory $1.
hidraw_under() {
	local h
	for h in /sys/class/hidraw/hidraw*; do
		[[ -e $h ]] || continue
		if [[ $(readlink -f "$h/device") == "$1"/* ]]; then
			echo "/dev/${h##*/}"
			return 0
		fi
	done
	return 1
}

# The vhci ports in use, one "PORT BUSID" line each (`usbip port`).
imported_ports() {
	timeout 20 usbip port 2>/dev/null | awk '
		/^Port [0-9]+: <Port in Use>/ { port = $2 + 0 }
		/-> usbip:\/\// && port != "" { n = split($NF, p, "/"); print port, p[n]; port = "" }'
}

usbip_list_has() { # BUSID...
	local b
	timeout 20 usbip list -r "$SERVER" >usbip-list.txt 2>&1
	cat usbip-list.txt
	for b in "$@"; do
		grep -Eq "^ +$b: .*\(1209:0001\)$" usbip-list.txt || return 1
	done
}

# attach_busid BUSID PRODUCT: usbip attach, then wait (bounded) for the
# kernel to enumerate the device and its hidraw node; sets ATT_SYSFS,
# ATT_DEV and ATT_PORT (its vhci port).
attach_busid() {
	local busid=$1 product=$2 i
	ATT_SYSFS='' ATT_DEV='' ATT_PORT=''
	timeout 30 usbip attach -r "$SERVER" -b "$busid" || {
		echo "usbip attach of $busid failed"
		return 1
	}
	for ((i = 0; i < 100; i++)); do # 20 s
		ATT_SYSFS=$(usbip_sysfs_dev vhci "$product") &&
			ATT_DEV=$(hidraw_under "$ATT_SYSFS") && break
		sleep 0.2
	done
	if [[ -z $ATT_DEV ]]; then
		ATT_SYSFS=
		echo "$busid: no hidraw node under a vhci port after 20 s; usbip port:"
		timeout 20 usbip port
		dmesg | tail -20
		return 1
	fi
	ATT_PORT=$(imported_ports | awk -v b="$busid" '$2 == b { print $1 }')
	echo "$busid attached on vhci port $ATT_PORT: $ATT_SYSFS, $ATT_DEV"
	[[ $ATT_PORT =~ ^[0-9]+$ ]]
}

# Key 1-1: sets USBIP_SYSFS, USBIP_PORT and DEV (in_guest.sh's device).
attach_key() {
	attach_busid "$BUSID" "$PRODUCT_USBIP" || return 1
	USBIP_SYSFS=$ATT_SYSFS USBIP_PORT=$ATT_PORT DEV=$ATT_DEV
}

# wait_released SYSFS BUSID: its vhci port is free again and its hidraw
# node gone.
wait_released() {
	local old=$1 busid=$2 i
	for ((i = 0; i < 100; i++)); do # 20 s
		if ! imported_ports | grep -q " $busid$" && ! hidraw_under "$old" >/dev/null; then
			echo "$busid: vhci port free, hidraw node gone"
			return 0
		fi
		sleep 0.2
	done
	echo "$busid still imported after 20 s:"
	timeout 20 usbip port
	return 1
}

# wait_host REQ: after writing the request file REQ (guest_usbip.sh
# watches for it), wait (30 s) for its .ack answer and print it.
wait_host() {
	local ack=${1%.req}.ack i
	for ((i = 0; i < 150; i++)); do # 30 s
		if [[ -f $ack ]]; then
			echo "host: $(<"$ack")"
			rm -f "$ack"
			return 0
		fi
		sleep 0.2
	done
	echo "host did not answer $1 in 30 s"
	return 1
}

# ---- pcscd --------------------------------------------------------------

# pcscd on the CCID interfaces present now (no udevd in the guest: it hears
# of no later device, so it is restarted after every attach).
start_pcscd() {
	if ((!CCID_ACCEPTED)); then
		ccid_accept_vkey || return 1
		CCID_ACCEPTED=1
	fi
	mkdir -p pcscd-conf
	pcscd -f -d -c "$PWD/pcscd-conf" >>pcscd.log 2>&1 &
	PCSCD_PID=$!
}

# reader_of SYSFS: waits (30 s) for pcscd's reader of that USB device (its
# name carries the device's serial) and prints the name.
reader_of() {
	local serial i names r
	serial=$(<"$1/serial") || return 1
	for ((i = 0; i < 60; i++)); do
		names=$(timeout 20 "$PY" -c '
from smartcard.System import readers
for r in readers(): print(r)' 2>/dev/null)
		r=$(grep -F "($serial)" <<<"$names" | head -1)
		[[ -n $r ]] && { echo "$r"; return 0; }
		sleep 0.5
	done
	echo "no reader with serial $serial after 30 s; readers: $names" >&2
	tail -40 pcscd.log >&2
	return 1
}

# One exchange: SELECT of the OATH application answers 90 00.
ccid_select_oath() {
	timeout 60 "$PY" - "$READER" <<'EOF'
import sys
from smartcard.System import readers
r = [x for x in readers() if str(x) == sys.argv[1]][0]
c = r.createConnection()
c.connect()
data, sw1, sw2 = c.transmit([0x00, 0xA4, 0x04, 0x00, 0x07,
                             0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01])
print("SELECT OATH: %d bytes, SW %02X%02X" % (len(data), sw1, sw2))
sys.exit(0 if (sw1, sw2) == (0x90, 0x00) else 1)
EOF
}

# ---- steps ------------------------------------------------------------

net_up() {
	local i
	DMESG_BASE=$(dmesg | wc -l)
	ls -d /sys/devices/platform/vhci_hcd.0 || return 1
	for ((i = 0; i < 50; i++)); do
		[[ -e /sys/class/net/eth0 ]] && break
		sleep 0.1
	done
	ip link set lo up &&
		ip addr add 10.0.2.15/24 dev eth0 &&
		ip link set eth0 up || return 1
	ip addr show eth0
}

# Keys 1 and 3 are exported; key 2 is usb-redir's.
usbip_list() {
	usbip_list_has "$BUSID" "$BUSID_TOUCH" && ! grep -q ' 1-2:' usbip-list.txt
}

usbip_attach() {
	attach_key || return 1
	[[ $(<"$USBIP_SYSFS/idVendor") == 1209 && $(<"$USBIP_SYSFS/idProduct") == 0001 ]]
}

usbip_port_shows() {
	timeout 20 usbip port | tee usbip-port.txt
	grep -q '(1209:0001)' usbip-port.txt &&
		grep -q "usbip://$SERVER:3240/$BUSID" usbip-port.txt
}

# ssh-keygen on the imported key (two FIDO keys are plugged in).
ssh_ed25519_sk_usbip() { ssh_key ed25519-sk id_ed25519_sk_usbip -O "device=$DEV"; }

# While key 1-1 is imported the server lists only what can be attached
# (1-3); a second `usbip attach` of 1-1 (it would take another vhci port)
# is refused, and the first import keeps working.
second_importer_refused() {
	local out rc=0
	usbip_list_has "$BUSID_TOUCH" || return 1
	! grep -q " $BUSID:" usbip-list.txt || { echo "imported 1-1 still listed"; return 1; }
	out=$(timeout 30 usbip attach -r "$SERVER" -b "$BUSID" 2>&1) || rc=$?
	echo "second attach: exit $rc: $out"
	((rc != 0)) || return 1
	imported_ports | tee ports.txt
	(($(grep -c " $BUSID$" ports.txt) == 1)) || return 1
	timeout 20 fido2-token -I "$DEV" | grep FIDO_2_0
}

pcscd_reader_usbip() {
	start_pcscd || return 1
	READER=$(reader_of "$USBIP_SYSFS") || return 1
	echo "$READER" >reader.txt
	echo "key 1-1's reader: $READER"
}

# CCID under load through pcscd and libccid on key 1-1: STRESS_N rounds of
# SELECT + OATH CALCULATE (each answer checked against HMAC-SHA1 here), a
# 3000-byte PIV object written and read back in single extended APDUs, and
# RSA key generation whose answers (> 256 bytes) need extended Le.
ccid_stress() {
	timeout 600 "$PY" - "$READER" "$STRESS_N" <<'EOF'
import hashlib, hmac, os, struct, sys, time
from smartcard.System import readers
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

reader, rounds = sys.argv[1], int(sys.argv[2])
conn = [x for x in readers() if str(x) == reader][0].createConnection()
conn.connect()

def tx(apdu, what):
    data, sw1, sw2 = conn.transmit(list(apdu))
    if (sw1, sw2) != (0x90, 0x00):
        sys.exit("%s: SW %02X%02X" % (what, sw1, sw2))
    return bytes(data)

def ext(cla, ins, p1, p2, data=b"", le=None):
    """An extended-length APDU (Lc on three bytes, Le on two or three)."""
    a = bytes([cla, ins, p1, p2])
    if data:
        a += b"\x00" + struct.pack(">H", len(data)) + data
    if le is not None:
        a += (b"" if data else b"\x00") + struct.pack(">H", le)
    return a

def tlv(tag, value):
    n = len(value)
    ln = bytes([n]) if n < 0x80 else (b"\x81" + bytes([n]) if n < 0x100 else b"\x82" + struct.pack(">H", n))
    return bytes([tag]) + ln + value

# -- OATH: a TOTP account of our own, then SELECT + CALCULATE rounds.
OATH_AID = bytes.fromhex("A0000005272101")
select_oath = bytes([0, 0xA4, 4, 0, len(OATH_AID)]) + OATH_AID
secret = os.urandom(20)
name = b"usbip-stress"
tx(select_oath, "SELECT OATH")
put = tlv(0x71, name) + tlv(0x73, bytes([0x21, 6]) + secret)
tx(bytes([0, 0x01, 0, 0, len(put)]) + put, "OATH PUT")
t0 = time.monotonic()
for i in range(rounds):
    tx(select_oath, "SELECT OATH #%d" % i)
    chal = os.urandom(8)
    body = tlv(0x71, name) + tlv(0x74, chal)
    r = tx(bytes([0, 0xA2, 0, 1, len(body)]) + body + b"\x00", "CALCULATE #%d" % i)
    mac = hmac.new(secret, chal, hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    want = bytes([mac[off] & 0x7F]) + mac[off + 1:off + 4]
    if r != b"\x76\x05\x06" + want:
        sys.exit("CALCULATE #%d: %s, wanted 760506%s" % (i, r.hex(), want.hex()))
dt = time.monotonic() - t0
print("%d SELECT + CALCULATE rounds: %.2f s, %.1f ms per APDU" % (rounds, dt, dt * 1000 / (2 * rounds)))
body = tlv(0x71, name)
tx(bytes([0, 0x02, 0, 0, len(body)]) + body, "OATH DELETE")

# -- PIV: the default 3DES management key, mutual authentication.
tx(bytes.fromhex("00A4040005A000000308"), "SELECT PIV")
key = bytes(range(1, 9)) * 3
des = Cipher(algorithms.TripleDES(key), modes.ECB())
r = tx(bytes.fromhex("0087039B047C028000"), "witness")
if r[:4] != bytes.fromhex("7C0A8008"):
    sys.exit("witness: " + r.hex())
d = des.decryptor()
witness = d.update(r[4:12]) + d.finalize()
chal = os.urandom(8)
body = tlv(0x7C, tlv(0x80, witness) + tlv(0x81, chal))
r = tx(bytes([0, 0x87, 3, 0x9B, len(body)]) + body, "mutual auth")
e = des.encryptor()
if r != bytes.fromhex("7C0A8208") + e.update(chal) + e.finalize():
    sys.exit("management key proof wrong: " + r.hex())
print("PIV management key authenticated")

# -- Extended lengths: 3000 bytes each way in one APDU.
blob = os.urandom(3000)
obj = bytes.fromhex("5C035FC105") + tlv(0x53, blob)
tx(ext(0, 0xDB, 0x3F, 0xFF, obj), "PUT DATA (extended Lc %d)" % len(obj))
r = tx(ext(0, 0xCB, 0x3F, 0xFF, bytes.fromhex("5C035FC105"), le=0), "GET DATA (extended Le)")
if r != tlv(0x53, blob):
    sys.exit("GET DATA: %d bytes back, not the %d written" % (len(r), len(blob)))
print("3000-byte object: PUT DATA in a %d-byte APDU, GET DATA a %d-byte answer, equal"
      % (len(obj) + 7, len(r)))

# -- GENERATE answers the public key: 7F49 { 81 <n> 82 <e> }.
for alg, bits, n in ((0x07, 2048, 3), (0x16, 4096, 1)):
    for i in range(n):
        t = time.monotonic()
        r = tx(ext(0, 0x47, 0, 0x9D, bytes([0xAC, 3, 0x80, 1, alg]), le=0),
               "GENERATE RSA-%d" % bits)
        ms = (time.monotonic() - t) * 1000
        if (not r.startswith(b"\x7F\x49") or
                r.find(b"\x81\x82" + struct.pack(">H", bits // 8)) < 0 or
                not r.endswith(b"\x82\x03\x01\x00\x01")):
            sys.exit("GENERATE RSA-%d: unexpected answer %s..." % (bits, r[:16].hex()))
        print("GENERATE RSA-%d #%d: %d-byte answer in %.0f ms" % (bits, i + 1, len(r), ms))
EOF
}

# Key 1-3 beside 1-1: two imports from one server at once.
touch_key_attach() {
	stop_pcscd
	attach_busid "$BUSID_TOUCH" "$PRODUCT_TOUCH" || return 1
	TOUCH_SYSFS=$ATT_SYSFS TOUCH_DEV=$ATT_DEV TOUCH_PORT=$ATT_PORT
	imported_ports | tee ports.txt
	(($(wc -l <ports.txt) == 2))
}

# fido2-cred -M on key 1-3 waits for the touch the host gives 2.5 s later:
# libfido2 reads CTAPHID keepalives meanwhile, the credential verifies.
fido_keepalive_touch() {
	local t ms
	{
		b64_sha "touch"
		echo "$RP"
		echo "touch-user"
		b64_rand 16
	} >touch.param
	echo "touch key 1-3 (FIDO)" >"$TOUCH_REQ"
	t=$(date +%s%N)
	timeout 30 fido2-cred -M -i touch.param -o touch.cred "$TOUCH_DEV" es256 || return 1
	ms=$((($(date +%s%N) - t) / 1000000))
	wait_host "$TOUCH_REQ" || return 1
	echo "makeCredential waited $ms ms for the touch"
	timeout 20 fido2-cred -V -i touch.cred -o touch.pub es256 || return 1
	((ms >= 1500))
}

# An OATH account that needs a touch: CALCULATE on key 1-3 waits for the
# host's touch 2.5 s later; the reader sends time extensions meanwhile
# (guest_usbip.sh finds them in the capture); the code checks out.
ccid_time_extension() {
	start_pcscd || return 1
	TOUCH_READER=$(reader_of "$TOUCH_SYSFS") || return 1
	echo "key 1-3's reader: $TOUCH_READER"
	timeout 120 "$PY" - "$TOUCH_READER" "$TOUCH_REQ" <<'EOF' || return 1
import hashlib, hmac, os, sys, time
from smartcard.System import readers

reader, req = sys.argv[1], sys.argv[2]
conn = [x for x in readers() if str(x) == reader][0].createConnection()
conn.connect()

def tx(apdu, what):
    data, sw1, sw2 = conn.transmit(list(apdu))
    if (sw1, sw2) != (0x90, 0x00):
        sys.exit("%s: SW %02X%02X" % (what, sw1, sw2))
    return bytes(data)

def tlv(tag, value):
    return bytes([tag, len(value)]) + value

aid = bytes.fromhex("A0000005272101")
tx(bytes([0, 0xA4, 4, 0, len(aid)]) + aid, "SELECT OATH")
secret, name = os.urandom(20), b"usbip-touch"
put = tlv(0x71, name) + tlv(0x73, bytes([0x21, 6]) + secret) + b"\x78\x02"
tx(bytes([0, 0x01, 0, 0, len(put)]) + put, "OATH PUT (touch)")
chal = os.urandom(8)
body = tlv(0x71, name) + tlv(0x74, chal)
with open(req, "w") as f:
    f.write("touch key 1-3 (OATH)\n")
t = time.monotonic()
r = tx(bytes([0, 0xA2, 0, 1, len(body)]) + body + b"\x00", "CALCULATE (touch)")
ms = (time.monotonic() - t) * 1000
mac = hmac.new(secret, chal, hashlib.sha1).digest()
off = mac[-1] & 0x0F
if r != b"\x76\x05\x06" + bytes([mac[off] & 0x7F]) + mac[off + 1:off + 4]:
    sys.exit("CALCULATE (touch): wrong code " + r.hex())
print("CALCULATE waited %.0f ms for the touch; code correct" % ms)
sys.exit(0 if ms >= 1500 else "answered too soon for a touch 2.5 s later")
EOF
	wait_host "$TOUCH_REQ" || return 1
	stop_pcscd
}

touch_key_detach() {
	stop_pcscd
	timeout 30 usbip detach -p "$TOUCH_PORT" || return 1
	wait_released "$TOUCH_SYSFS" "$BUSID_TOUCH" || return 1
	# Key 1-1 untouched by it.
	timeout 20 fido2-token -I "$DEV" | grep FIDO_2_0
}

usbip_detach_attach() {
	local old=$USBIP_SYSFS
	stop_pcscd
	timeout 30 usbip detach -p "$USBIP_PORT" || return 1
	wait_released "$old" "$BUSID" || return 1
	attach_key || return 1
	timeout 20 fido2-token -I "$DEV" | grep FIDO_2_0 || return 1
	start_pcscd || return 1
	READER=$(reader_of "$USBIP_SYSFS") || return 1
	ccid_select_oath || return 1
	stop_pcscd
}

# The host kills the relay carrying the import; the kernel sees the
# connection end and frees the port, the server offers the key again, and
# it imports again.
connection_killed() {
	local old=$USBIP_SYSFS i
	stop_pcscd
	echo "kill the relay of vhci port $USBIP_PORT" >"$KILL_REQ"
	wait_host "$KILL_REQ" >kill-ack.txt || { cat kill-ack.txt; return 1; }
	cat kill-ack.txt
	grep -q '^host: killed [0-9]' kill-ack.txt || return 1
	wait_released "$old" "$BUSID" || return 1
	for ((i = 0; i < 20; i++)); do # 10 s
		usbip_list_has "$BUSID" >/dev/null && break
		sleep 0.5
	done
	usbip_list_has "$BUSID" || { echo "key not offered again"; return 1; }
	attach_key || return 1
	timeout 20 fido2-token -I "$DEV" | grep FIDO_2_0
}

# getAssertion round trips from python-fido2 on one hidraw node; prints
# "MEDIAN P90" in ms.
assert_bench() {
	timeout 300 "$PY" - "$1" "$BENCH_N" <<'EOF'
import math, os, statistics, sys, time
from fido2.hid import open_device
from fido2.ctap2 import Ctap2

path, n = sys.argv[1], int(sys.argv[2])
ctap = Ctap2(open_device(path))
rp = {"id": "bench.vkey.test", "name": "bench"}
att = ctap.make_credential(os.urandom(32), rp, {"id": b"bench", "name": "bench"},
                           [{"type": "public-key", "alg": -7}])
cred = att.auth_data.credential_data
allow = [{"type": "public-key", "id": cred.credential_id}]
cdh = os.urandom(32)
a = ctap.get_assertion(rp["id"], cdh, allow)
a.verify(cdh, cred.public_key)  # raises when the signature is wrong
ms = []
for _ in range(n):
    t = time.perf_counter()
    a = ctap.get_assertion(rp["id"], os.urandom(32), allow)
    ms.append((time.perf_counter() - t) * 1000)
    assert a.credential["id"] == cred.credential_id
ms.sort()
print("%.2f %.2f" % (statistics.median(ms), ms[math.ceil(0.9 * n) - 1]))
EOF
}

bench_assert() {
	local redir_sysfs redir_dev a b a1 a2 b1 b2
	redir_sysfs=$(usbip_sysfs_dev other "$PRODUCT_REDIR") &&
		redir_dev=$(hidraw_under "$redir_sysfs") || {
		echo "no usb-redir key ($PRODUCT_REDIR) in the guest"
		return 1
	}
	echo "usbip: $DEV ($USBIP_SYSFS); usbredir: $redir_dev ($redir_sysfs)"
	a=$(assert_bench "$DEV") || return 1
	b=$(assert_bench "$redir_dev") || return 1
	read -r a1 a2 <<<"$a"
	read -r b1 b2 <<<"$b"
	echo "bench getAssertion usbip median $a1 ms p90 $a2 ms; usbredir median $b1 ms p90 $b2 ms (n=$BENCH_N, python-fido2 in a TCG guest)" |
		tee bench.txt
}

# No kernel error, warning or oops since net_up, and none of vhci-hcd's
# complaints about what the server sent (they log at info level: an
# answer to an unknown URB or unlink, a malformed header, a short read).
# Imports, detaches, unlinks answered -ECONNRESET and the killed
# connection log at info level only. One error line is expected: for
# every full-speed device vhci-hcd logs "vhci_device speed not set" when
# it resets the port (its port status code knows only low and high speed;
# any full-speed device, a YubiKey too, gives the same), so it is left out.
dmesg_clean() {
	local new vhci
	new=$(dmesg -r | tail -n +"$((DMESG_BASE + 1))" | grep -v 'vhci_device speed not set$')
	vhci=$(grep -Ei 'usbip|vhci' <<<"$new")
	echo "usbip/vhci kernel lines:"
	echo "$vhci"
	{
		grep -E '^<[0-3]>' <<<"$new"
		grep -Ei 'WARNING|BUG|Oops|Call Trace|general protection' <<<"$new"
		grep -Ei 'cannot find|already given back|invalid|pdu size|recv xbuf|unknown pdu|xmit failed|timed out|error' <<<"$vhci"
	} >dmesg-errors.txt
	if [[ -s dmesg-errors.txt ]]; then
		echo "kernel errors:"
		cat dmesg-errors.txt
		return 1
	fi
	echo "no kernel error since the network came up"
}

usbip_main() {
	mkdir -p steps
	log "guest up: $(uname -r), $(awk '{print $1}' /proc/uptime) s since boot"
	step net_up net_up
	step usbip_list usbip_list
	step usbip_attach usbip_attach
	if [[ -z $DEV ]]; then
		dmesg | tail -30
		log "done: $PASSED passed, $FAILED failed ${FAILED_NAMES[*]}"
		echo "$PASSED passed, $FAILED failed"
		return 1
	fi
	step usbip_port usbip_port_shows
	step fido2_token_L token_list
	step fido2_token_I token_info
	step cred_es256_hmac_secret cred_es256_hmac
	step ssh_ed25519_sk ssh_ed25519_sk_usbip
	step second_importer_refused second_importer_refused
	step pcscd_ccid_reader pcscd_reader_usbip
	step ykman_oath_totp oath_ykman
	step gpg_card_status gpg_card_status
	step ccid_stress ccid_stress
	step touch_key_attach touch_key_attach
	if [[ -n $TOUCH_DEV ]]; then
		step fido_keepalive_touch fido_keepalive_touch
		step ccid_time_extension ccid_time_extension
		step touch_key_detach touch_key_detach
	fi
	step usbip_detach_attach usbip_detach_attach
	step connection_killed connection_killed
	step bench_getassertion bench_assert
	stop_pcscd
	step dmesg_clean dmesg_clean
	[[ -f bench.txt ]] && log "$(<bench.txt)"
	log "done: $PASSED passed, $FAILED failed ${FAILED_NAMES[*]}"
	echo "$PASSED passed, $FAILED failed"
	((FAILED == 0))
}

usbip_main "$@"
