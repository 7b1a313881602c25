#!/bin/bash
# Build (once per kernel and init version) the guests' initramfs and print
# its path: busybox-static, the init script beside this file, and the
# kernel modules the harness needs with their dependencies, in load order.
#
#   scripts/guest/build-initramfs.sh KERNEL_DIR
set -euo pipefail

. "$(dirname "$0")/lib.sh"

# What the guest needs: virtio-9p for the host root and the work share, the
# two USB host controllers the tests use (qemu-xhci, piix3-usb-uhci; uhci's
# softdep pulls in ehci), and HID with hidraw (built into hid.ko in
# Debian's config) for CTAPHID. CCID needs no driver: pcscd reaches it
# through usbfs. vhci-hcd (with usbip-core) is USB/IP's client side and
# virtio_net the NIC it reaches the host through (run-guest --usbip-fwd);
# both load in every guest, but without a NIC or an `usbip attach` they
# stay idle.
MODULES="virtio_pci 9pnet_virtio 9p xhci_pci uhci_hcd usbhid hid_generic vhci-hcd virtio_net"

BUSYBOX=${VKEY_GUEST_BUSYBOX:-/bin/busybox}

# Module files for $MODULES with dependencies first, each once, resolved by
# kmod from the kernel's modules.dep / modules.softdep.
module_files() {
	local kdir=$1 ver=$2 m
	for m in $MODULES; do
		modprobe -d "$kdir" -S "$ver" --show-depends "$m" ||
			guest_die "module $m not found for $ver"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# A digest of everything the image is made of, so a changed init script or
# module list gives a new image instead of a stale cached one.
image_digest() {
	local ver=$1
	{
		echo "$ver $MODULES"
		cat "$GUEST_DIR/init" "$0"
		sha256sum "$BUSYBOX"
	} | sha256sum | cut -c1-12
}

build() {
	local kdir=$1 ver=$2 out=$3 tmp f n=0
	tmp=$(mktemp -d "$GUEST_CACHE/.initramfs.XXXXXX")
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT

	mkdir -p "$tmp/root"/{bin,dev,proc,sys,newroot,modules}
	cp "$BUSYBOX" "$tmp/root/bin/busybox"
	cp "$GUEST_DIR/init" "$tmp/root/init"
	chmod 755 "$tmp/root/init" "$tmp/root/bin/busybox"
	while read -r f; do
		n=$((n + 1))
		cp "$f" "$tmp/root/modules/"
		basename "$f" >>"$tmp/root/modules/order"
	done < <(module_files "$kdir" "$ver")
	((n > 0)) || guest_die "no modules resolved"

	(cd "$tmp/root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -6 >"$tmp/initramfs.gz"
	mv "$tmp/initramfs.gz" "$out"
	guest_log "built $out ($n modules)"
}

main() {
	local kdir=${1:?usage: build-initramfs.sh KERNEL_DIR} ver out
	command -v modprobe >/dev/null || PATH=$PATH:/sbin:/usr/sbin
	command -v cpio >/dev/null || guest_die "cpio missing (Debian package cpio)"
	[[ -x $BUSYBOX ]] || guest_die "$BUSYBOX missing (Debian package busybox-static)"
	if ldd "$BUSYBOX" >/dev/null 2>&1; then
		guest_die "$BUSYBOX is dynamically linked: install busybox-static"
	fi
	ver=$(basename "$(ls -d "$kdir"/lib/modules/*/)")
	out="$GUEST_CACHE/initramfs-$ver-$(image_digest "$ver").gz"
	[[ -f $out ]] && { echo "$out"; return; }
	guest_cache_lock
	[[ -f $out ]] || build "$kdir" "$ver" "$out"
	echo "$out"
}

main "$@"
