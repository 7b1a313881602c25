# shellcheck shell=bash
# Shared by scripts/qemu-canokey.sh and the canokey guest tests (source
# from bash): where the cached QEMU lives, which libcanokey-qemu a vkey
# build directory holds, and the environment QEMU needs to load it.
#
#   qemu_find_library BUILD_DIR   # sets CK_PC_DIR CK_PC CK_HEADER CK_LIBDIR
#                                 # CK_LIB CK_SONAME CK_SANITIZED
#   qemu_library_env              # sets QEMU_ENV=(NAME=VALUE...) for `env`

# shellcheck disable=SC2034 # used by the scripts that source this
QEMU_CACHE=${VKEY_QEMU_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/vkey-qemu}

qemu_log() { echo "vkey-qemu: $*" >&2; }
qemu_die() {
	qemu_log "error: $*"
	exit 1
}

# The library as QEMU's configure finds it: through the uninstalled
# pkg-config file meson writes into the build directory.
qemu_find_library() {
	local build=$1 d
	[[ -d $build ]] || qemu_die "no build directory $build"
	build=$(cd "$build" && pwd)
	CK_PC_DIR=$build/meson-uninstalled
	[[ -f $CK_PC_DIR/canokey-qemu-uninstalled.pc ]] ||
		qemu_die "no $CK_PC_DIR/canokey-qemu-uninstalled.pc: build vkey first (ninja -C $build)"
	CK_PC=$(PKG_CONFIG_PATH=$CK_PC_DIR pkg-config --path canokey-qemu 2>/dev/null) ||
		qemu_die "pkg-config does not find canokey-qemu in $CK_PC_DIR"
	CK_HEADER=
	for d in $(PKG_CONFIG_PATH=$CK_PC_DIR pkg-config --cflags-only-I canokey-qemu); do
		d=${d#-I}
		if [[ -f $d/canokey-qemu.h ]]; then
			CK_HEADER=$d/canokey-qemu.h
			break
		fi
	done
	[[ -n $CK_HEADER ]] || qemu_die "canokey-qemu.h is in none of $CK_PC's include directories"
	CK_LIBDIR=
	for d in $(PKG_CONFIG_PATH=$CK_PC_DIR pkg-config --libs-only-L canokey-qemu); do
		d=${d#-L}
		if [[ -e $d/libcanokey-qemu.so ]]; then
			CK_LIBDIR=$d
			break
		fi
	done
	[[ -n $CK_LIBDIR ]] ||
		qemu_die "libcanokey-qemu.so is in none of $CK_PC's library directories: build vkey first (ninja -C $build)"
	CK_LIB=$(readlink -f "$CK_LIBDIR/libcanokey-qemu.so")
	CK_SONAME=$(readelf -d "$CK_LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
	[[ -n $CK_SONAME ]] || qemu_die "$CK_LIB has no SONAME"
	[[ -e $CK_LIBDIR/$CK_SONAME ]] || qemu_die "no $CK_LIBDIR/$CK_SONAME (the SONAME link)"
	# An ASan/UBSan build of the library (make check's build-asan).
	CK_SANITIZED=0
	if readelf -d "$CK_LIB" | grep -Eq 'NEEDED.*\[lib(a|ub)san\.so'; then
		CK_SANITIZED=1
	fi
}

# QEMU links the library by SONAME only (no RUNPATH): LD_LIBRARY_PATH
# picks the one of the build under test. A sanitized library inside the
# uninstrumented QEMU needs its runtimes loaded first (LD_PRELOAD, ASan
# before UBSan); QEMU's own exit-time allocations are no leaks of ours.
qemu_library_env() {
	local asan ubsan
	QEMU_ENV=("LD_LIBRARY_PATH=$CK_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
	((CK_SANITIZED)) || return 0
	asan=$(ldd "$CK_LIB" | awk '$1 ~ /^libasan\.so/ { print $3; exit }')
	ubsan=$(ldd "$CK_LIB" | awk '$1 ~ /^libubsan\.so/ { print $3; exit }')
	[[ -n $asan || -n $ubsan ]] || qemu_die "$CK_LIB is sanitized but ldd finds no libasan/libubsan"
	QEMU_ENV+=("LD_PRELOAD=$asan${asan:+${ubsan:+:}}$ubsan"
		"ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:${VKEY_QEMU_ASAN_OPTIONS:-}"
		"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
}
