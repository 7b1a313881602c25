#!/bin/bash
# Fetch the Debian kernel the guests boot, once per machine, and print the
# directory holding it (vmlinuz, lib/modules/VER with a fresh modules.dep).
#
#   scripts/guest/fetch-kernel.sh          # prints e.g. ~/.cache/vkey-guest/linux-6.1.0-56-amd64
#
# The package is the one Debian's linux-image-amd64 currently depends on
# (override with VKEY_GUEST_KERNEL_PKG=linux-image-...-amd64). It comes
# through `apt-get download`, i.e. the machine's configured Debian mirror,
# and is unpacked with dpkg-deb: nothing is installed on the host.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

# A kernel already in the cache wins: a newer Debian kernel is no reason to
# download 100 MB again, and tests stay reproducible on one machine.
cached_kernel() {
	local d
	for d in "$GUEST_CACHE"/linux-*; do
		[[ -f $d/vmlinuz && -f $d/.complete ]] || continue
		if [[ -z ${VKEY_GUEST_KERNEL_PKG:-} ||
			${VKEY_GUEST_KERNEL_PKG#linux-image-} == "${d##*/linux-}" ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# Name of the versioned image package behind the linux-image-amd64 metapackage.
kernel_package() {
	local pkg
	if [[ -n ${VKEY_GUEST_KERNEL_PKG:-} ]]; then
		echo "$VKEY_GUEST_KERNEL_PKG"
		return
	fi
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	if [[ -z $pkg && $(id -u) == 0 ]]; then
		# Fresh machine without package lists yet.
		guest_log "apt-get update (no package lists for linux-image-amd64)"
		apt-get update -q >&2
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	fi
	[[ -n $pkg ]] || guest_die "cannot resolve linux-image-amd64 (run apt-get update)"
	echo "$pkg"
}

fetch() {
	local pkg ver tmp deb
	pkg=$(kernel_package)
	ver=${pkg#linux-image-}
	tmp=$(mktemp -d "$GUEST_CACHE/.fetch.XXXXXX")
	# shellcheck disable=SC2064 # expand now: tmp is local
	trap "rm -rf '$tmp'" EXIT

	guest_log "downloading $pkg (once; cached in $GUEST_CACHE)"
	(cd "$tmp" && timeout 900 apt-get download -q "$pkg" >&2) ||
		guest_die "apt-get download $pkg failed"
	deb=$(echo "$tmp"/*.deb)
	[[ -f $deb ]] || guest_die "no .deb after apt-get download $pkg"

	dpkg-deb -x "$deb" "$tmp/root"
	rm -f "$deb"
	# Debian generates modules.dep in postinst; do it here for the unpacked tree.
	depmod -b "$tmp/root" "$ver"

	mkdir -p "$tmp/out/lib"
	mv "$tmp/root/boot/vmlinuz-$ver" "$tmp/out/vmlinuz"
	mv "$tmp/root/boot/config-$ver" "$tmp/out/config"
	mv "$tmp/root/lib/modules" "$tmp/out/lib/modules"
	echo "$pkg" >"$tmp/out/package"
	touch "$tmp/out/.complete"
	rm -rf "$GUEST_CACHE/linux-$ver"
	mv "$tmp/out" "$GUEST_CACHE/linux-$ver"
	echo "$GUEST_CACHE/linux-$ver"
}

main() {
	command -v depmod >/dev/null || PATH=$PATH:/sbin:/usr/sbin
	command -v depmod >/dev/null || guest_die "depmod missing (Debian package kmod)"
	cached_kernel && return
	guest_cache_lock
	cached_kernel && return # another run fetched it while we waited
	fetch
}

main "$@"
