# shellcheck shell=bash
# Shared helpers for the guest harness (source from bash).
#
# Everything the harness downloads or builds lives in one cache directory
# that survives `make clean` and build-dir changes, so the Debian kernel is
# fetched once per machine, not once per test run.

GUEST_CACHE=${VKEY_GUEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/vkey-guest}
# shellcheck disable=SC2034 # used by the scripts that source this
GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

guest_log() { echo "vkey-guest: $*" >&2; }
guest_die() { guest_log "$*"; exit 1; }

# Serialize cache writers (two test runs, make demo and make check) on one
# lock; readers of a finished image need no lock because every artifact is
# written under a temporary name and renamed into place.
guest_cache_lock() {
	mkdir -p "$GUEST_CACHE"
	exec {GUEST_LOCK_FD}>"$GUEST_CACHE/.lock"
	flock -w 900 "$GUEST_LOCK_FD" || guest_die "cache $GUEST_CACHE stays locked"
}

guest_cache_unlock() {
	[[ -n ${GUEST_LOCK_FD:-} ]] && exec {GUEST_LOCK_FD}>&-
	GUEST_LOCK_FD=
}
