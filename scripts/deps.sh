#!/bin/sh
# Install the Debian packages vkey needs to build, test and run, skipping
# those already present. Safe to run any number of times.
# The last group is what scripts/qemu-canokey.sh needs to build QEMU with
# --enable-canokey from Debian's source package (x86_64 system emulator,
# slirp and virtfs only).
set -eu

PACKAGES="
build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
libssl-dev libsqlite3-dev libpcsclite-dev libcbor-dev libusbredirparser-dev
pcscd vsmartcard-vpcd pcsc-tools python3-pyscard yubikey-manager oathtool
python3-fido2 python3-cryptography
sqlite3 procps
qemu-system-x86 busybox-static cpio kmod fido2-tools libfido2-dev libccid
opensc openssh-client tshark usbip socat
gnupg gpg-agent scdaemon
yubico-piv-tool
dpkg-dev xz-utils bzip2 libglib2.0-dev libpixman-1-dev libslirp-dev
libcap-ng-dev libattr1-dev libfdt-dev
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "vkey: installing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "vkey: need root or sudo to install:$missing" >&2; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
