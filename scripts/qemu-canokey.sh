#!/bin/bash
# Build QEMU with its `-device canokey` linked against the libcanokey-qemu
# of a vkey build directory, from Debian's own qemu source package, and
# print the path of the resulting qemu-system-x86_64 (docs/CANOKEY.md).
#
#   scripts/qemu-canokey.sh BUILD_DIR
#
# Run the result with the library of the build under test and Debian's
# firmware:
#
#   LD_LIBRARY_PATH=BUILD_DIR/src/canokey QEMU -L /usr/share/qemu \
#       -L /usr/share/seabios ... -device canokey,file=STATE
#
# The build is cached outside the build directories, in $VKEY_QEMU_CACHE,
# else $XDG_CACHE_HOME/vkey-qemu, else ~/.cache/vkey-qemu, under a key
# made of
#   - the source version of the installed qemu-system-x86 package (an
#     upgrade of Debian's QEMU builds again, from the matching source),
#   - the library's ABI: the canokey-qemu.h QEMU compiles against and the
#     SONAME it links (a change of the library's code alone reuses the
#     build: QEMU has no RUNPATH and loads whatever libcanokey-qemu.so.0
#     LD_LIBRARY_PATH points at),
#   - this script's configure line.
# The source comes from deb.debian.org through a private apt sources list
# and lists directory in the cache (the machine's apt configuration is not
# touched; override the mirror with VKEY_QEMU_MIRROR). Concurrent runs
# serialize on a lock in the cache. The newest three builds are kept.
#
# Progress goes to stderr, the full log to CACHE/logs/KEY.log.
# Exit status 0 with the binary's path on stdout, 1 with a message.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/qemu/lib.sh"

# Only what the guests need: the x86_64 system emulator under TCG with
# its default devices (qemu-xhci, piix3-usb-uhci, virtio-9p, isa-debug-exit),
# canokey, user networking and virtfs; no tools, UIs, docs or firmware.
# libfdt comes from Debian (libfdt-dev): the dfsg tarball has no dtc.
CONFIGURE_FLAGS=(
	--without-default-features
	--target-list=x86_64-softmmu
	--enable-tcg
	--enable-canokey
	--enable-slirp
	--enable-virtfs --enable-attr --enable-cap-ng
	--enable-fdt=system
	--disable-docs
	--disable-install-blobs
	--disable-debug-info
	--disable-werror
)
# Bump when the recipe changes in a way the configure line does not show.
RECIPE=1
KEEP_BUILDS=3
MIRROR=${VKEY_QEMU_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${VKEY_QEMU_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
}

# The source version behind the installed emulator (1:7.2+dfsg-7+deb12u18
# for qemu-system-x86 1:7.2+dfsg-7+deb12u18+b3). Its -L firmware comes
# from the same install (qemu-system-data, seabios).
debian_qemu_version() {
	local status
	status=$(dpkg-query -W -f '${Status}' qemu-system-x86 2>/dev/null || true)
	[[ $status == "install ok installed" ]] ||
		qemu_die "qemu-system-x86 is not installed (scripts/deps.sh): its version picks the source, its firmware serves -L"
	dpkg-query -W -f '${source:Version}' qemu-system-x86
}

# QEMU compiles hw/usb/canokey.c against the header and links the
# SONAME: those, and the recipe, decide whether a cached QEMU still fits.
build_key() {
	local abi
	abi=$({
		cat "$CK_HEADER"
		echo "SONAME $CK_SONAME"
		echo "RECIPE $RECIPE ${CONFIGURE_FLAGS[*]}"
	} | sha256sum | cut -c1-16)
	KEY=qemu-${DEB_VERSION//:/_}-abi-$abi
	OUT=$QEMU_CACHE/$KEY
	BIN=$OUT/bin/qemu-system-x86_64
}

# The same apt the machine has, with every path that apt writes pointing
# into the cache: nothing under /etc/apt or /var/lib/apt changes.
apt_private() {
	local dir=$QEMU_CACHE/apt
	APT_OPTS=(-o "Dir::Etc::SourceList=$dir/sources.list"
		-o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$dir/lists"
		-o "Dir::Cache=$dir/cache")
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	local code
	# shellcheck disable=SC1091
	code=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	code=${code:-bookworm}
	# Point releases land in the main suite; between them, security and
	# stable updates carry newer QEMU sources.
	{
		echo "deb-src $MIRROR $code main"
		echo "deb-src $MIRROR $code-updates main"
		echo "deb-src $SECURITY_MIRROR $code-security main"
	} >"$dir/sources.list"
}

# Download the .dsc and its tarballs into CACHE/src/VERSION once.
fetch_source() {
	local srcdir=$QEMU_CACHE/src/${DEB_VERSION//:/_} tmp log=$LOG dscs
	dscs=("$srcdir"/qemu_*.dsc)
	DSC=${dscs[0]}
	[[ -f $DSC ]] && return 0
	apt_private
	qemu_log "fetching Debian's qemu $DEB_VERSION source (deb-src, once per version)"
	if ! timeout 600 apt-get "${APT_OPTS[@]}" update >>"$log" 2>&1; then
		tail -15 "$log" >&2
		qemu_die "apt-get update of the private deb-src list failed ($QEMU_CACHE/apt/sources.list; no network?)"
	fi
	tmp=$(mktemp -d "$QEMU_CACHE/.fetch.XXXXXX")
	if ! (cd "$tmp" && timeout 900 apt-get "${APT_OPTS[@]}" source --download-only \
		"qemu=$DEB_VERSION") >>"$log" 2>&1; then
		rm -rf "$tmp"
		tail -15 "$log" >&2
		qemu_die "apt-get source qemu=$DEB_VERSION failed: that source is not in $QEMU_CACHE/apt/sources.list's suites"
	fi
	rm -rf "$QEMU_CACHE/apt/lists" # 20 MB, wanted again only for another version
	mkdir -p "$QEMU_CACHE/src"
	rm -rf "$srcdir"
	mv "$tmp" "$srcdir"
	dscs=("$srcdir"/qemu_*.dsc)
	DSC=${dscs[0]}
	[[ -f $DSC ]] || qemu_die "apt-get source left no .dsc in $srcdir"
}

# The dfsg tarball drops the edk2 firmware QEMU's meson unpacks for
# x86_64: empty bzip2 files in their place (the guests boot with -kernel,
# and -L /usr/share/qemu has Debian's OVMF for anyone who wants it).
edk2_stubs() {
	local src=$1 f
	for f in $(grep -o "'edk2-[a-z0-9_-]*\.fd'" "$src/pc-bios/meson.build" | tr -d "'"); do
		[[ -e $src/pc-bios/$f.bz2 ]] || bzip2 -c </dev/null >"$src/pc-bios/$f.bz2"
	done
}

# ninja in the background, a progress line every 30 s.
run_ninja() {
	local dir=$1 pid i last rc=0
	timeout 3600 ninja -C "$dir" -j "$(nproc)" qemu-system-x86_64 >>"$LOG" 2>&1 &
	pid=$!
	for ((i = 0; i < 7200; i++)); do # 3600 s at most, like the timeout
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
		if ((i % 60 == 59)); then
			last=$(grep -o '^\[[0-9]*/[0-9]*\]' "$LOG" | tail -1 || true)
			qemu_log "  building ${last:-...} ($(($(date +%s) - T0)) s)"
		fi
	done
	wait "$pid" || rc=$?
	return "$rc"
}

fail_build() {
	tail -30 "$LOG" >&2
	qemu_die "$1 failed; full log: $LOG"
}

build() {
	local tmp=$QEMU_CACHE/.build-$KEY steps
	# Leftovers of a run that was killed (we hold the lock: none is live).
	rm -rf "$tmp" "$QEMU_CACHE"/.fetch.*
	mkdir -p "$tmp"
	fetch_source
	T0=$(date +%s)
	qemu_log "building QEMU $DEB_VERSION with --enable-canokey against $CK_PC"
	qemu_log "  (about 3 minutes on 2 cores; log: $LOG)"
	dpkg-source -x "$DSC" "$tmp/src" >>"$LOG" 2>&1 || fail_build "dpkg-source -x $DSC"
	edk2_stubs "$tmp/src"
	mkdir "$tmp/build"
	(cd "$tmp/build" && PKG_CONFIG_PATH=$CK_PC_DIR timeout 900 \
		../src/configure "${CONFIGURE_FLAGS[@]}") >>"$LOG" 2>&1 ||
		fail_build "configure"
	grep -q 'canokey-qemu found: YES' "$tmp/build/meson-logs/meson-log.txt" ||
		fail_build "finding canokey-qemu (configure)"
	steps=$(ninja -C "$tmp/build" -n qemu-system-x86_64 2>/dev/null | wc -l)
	qemu_log "  configured in $(($(date +%s) - T0)) s; $steps build steps"
	run_ninja "$tmp/build" || fail_build "ninja"
	# meson install drops the build-tree RUNPATH (the library's build
	# directory) that meson links into the uninstalled binary.
	meson install -C "$tmp/build" --no-rebuild --tags runtime \
		--destdir "$tmp/stage" >>"$LOG" 2>&1 || fail_build "meson install"
	mkdir -p "$tmp/out/bin"
	mv "$tmp/stage/usr/local/bin/qemu-system-x86_64" "$tmp/out/bin/"
	{
		echo "debian-source-version: $DEB_VERSION"
		echo "dsc: ${DSC##*/}"
		echo "header: $CK_HEADER"
		echo "header-sha256: $(sha256sum <"$CK_HEADER" | cut -d' ' -f1)"
		echo "soname: $CK_SONAME"
		echo "configure: ${CONFIGURE_FLAGS[*]}"
		echo "recipe: $RECIPE"
		echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - T0)) s on $(nproc) cores"
	} >"$tmp/out/info"
	rm -rf "$OUT"
	mv "$tmp/out" "$OUT"
	rm -rf "$tmp"
	qemu_log "built $BIN in $(($(date +%s) - T0)) s"
}

# Older builds (other Debian versions, other ABIs) beyond the newest few.
prune() {
	local d n=0
	# shellcheck disable=SC2045 # names are ours: qemu-VERSION-abi-HASH
	for d in $(ls -1dt "$QEMU_CACHE"/qemu-*-abi-* 2>/dev/null); do
		n=$((n + 1))
		((n > KEEP_BUILDS)) || continue
		qemu_log "removing old build ${d##*/}"
		rm -rf "$d" "$QEMU_CACHE/logs/${d##*/}.log"
	done
}

# The binary loads this build's library (by SONAME through
# LD_LIBRARY_PATH, nothing baked in) and has the canokey device.
verify() {
	local path out
	if readelf -d "$BIN" | grep -Eq '\((RPATH|RUNPATH)\)'; then
		qemu_die "$BIN has an RPATH/RUNPATH: it would not follow LD_LIBRARY_PATH's library"
	fi
	qemu_library_env
	path=$(env "${QEMU_ENV[@]}" ldd "$BIN" |
		awk -v so="$CK_SONAME" '$1 == so { print $3; exit }')
	[[ -n $path && $(readlink -f "$path") == "$CK_LIB" ]] ||
		qemu_die "$BIN loads ${path:-no $CK_SONAME} instead of $CK_LIB"
	out=$(env "${QEMU_ENV[@]}" timeout 60 "$BIN" -L /usr/share/qemu -device help 2>&1) ||
		{
			echo "$out" | tail -20 >&2
			qemu_die "$BIN does not start with $CK_LIB"
		}
	grep -q '^name "canokey"' <<<"$out" || qemu_die "$BIN has no canokey device"
	touch "$OUT" # newest first for prune
}

main() {
	(($# == 1)) || usage
	[[ $1 != -* ]] || usage
	qemu_find_library "$1"
	DEB_VERSION=$(debian_qemu_version)
	build_key
	mkdir -p "$QEMU_CACHE/logs"
	LOG=$QEMU_CACHE/logs/$KEY.log
	if [[ ! -x $BIN ]]; then
		exec {LOCK_FD}>"$QEMU_CACHE/.lock"
		if ! flock -n "$LOCK_FD"; then
			qemu_log "waiting for another run building in $QEMU_CACHE"
			flock -w 2400 "$LOCK_FD" || qemu_die "$QEMU_CACHE/.lock stays held"
		fi
		if [[ ! -x $BIN ]]; then
			: >"$LOG"
			build
			prune
		fi
		exec {LOCK_FD}>&-
	fi
	verify
	qemu_log "QEMU $DEB_VERSION with canokey: $BIN (library $CK_LIB)"
	echo "$BIN"
}

main "$@"
