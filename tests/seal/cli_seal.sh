#!/bin/sh
# vkey seal / unseal / serve --seal / status --seal: a key created sealed
# by the daemon, read directly with the passphrase, refused without it or
# with a wrong one (file unchanged), its passphrase changed, the sealing
# removed and added again with a key file (refused while group-readable).
set -u
VKEY=${VKEY:?set VKEY to the vkey binary}
dir=$(mktemp -d /tmp/vkey-sealcli-XXXXXX)
state=$dir/key.vkey
fails=0
serve_pid=
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fails=$((fails + 1)); }
check() { # NAME CMD...: CMD must succeed
	name=$1; shift
	if "$@" >"$dir/out" 2>&1; then ok "$name"; else bad "$name"; cat "$dir/out"; fi
}
refuse() { # NAME PATTERN CMD...: CMD must fail, saying PATTERN
	name=$1; pat=$2; shift 2
	if "$@" >"$dir/out" 2>&1; then bad "$name (succeeded)"
	elif grep -q -- "$pat" "$dir/out"; then ok "$name"
	else bad "$name (said: $(cat "$dir/out"))"; fi
}
hash() { sha256sum "$state" | cut -d' ' -f1; }

# 1. The daemon creates the key sealed; status through its socket.
VKEY_PASSPHRASE='first pass' timeout 30 "$VKEY" serve --state "$state" \
	--seal passphrase --vpcd 127.0.0.1:1 >"$dir/serve.log" 2>&1 &
serve_pid=$!
i=0
while [ ! -S "$state.ctl" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "serve --seal passphrase creates a sealed key" test -S "$state.ctl"
check "status through the daemon" timeout 10 "$VKEY" status --state "$state"
grep -q "^serial: " "$dir/out" && ok "status shows the serial" || bad "status shows the serial"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null; serve_pid=
test "$(stat -c %a "$state")" = 600 && ok "state file is 0600" || bad "state file is 0600"
refuse "serve without --seal is refused" "is sealed" \
	timeout 10 "$VKEY" serve --state "$state" --vpcd 127.0.0.1:1

# 2. Direct opens.
h0=$(hash)
VKEY_PASSPHRASE='first pass' check "status --seal passphrase (env)" \
	timeout 10 "$VKEY" status --state "$state" --seal passphrase
grep -q "daemon: none" "$dir/out" && ok "direct path answered" || bad "direct path answered"
check "status --seal passphrase (stdin line)" sh -c \
	"echo 'first pass' | timeout 10 '$VKEY' status --state '$state' --seal passphrase"
refuse "wrong passphrase" "wrong passphrase or key file" env \
	VKEY_PASSPHRASE=nope timeout 10 "$VKEY" status --state "$state" --seal passphrase
refuse "no --seal names the option" "--seal passphrase|keyfile:PATH" \
	timeout 10 "$VKEY" status --state "$state"
refuse "bad --seal spec" "takes passphrase or keyfile" \
	timeout 10 "$VKEY" status --state "$state" --seal secret
test "$(hash)" = "$h0" && ok "refusals left the file unchanged" || bad "refusals left the file unchanged"

# 3. Change the passphrase (current first, new second on stdin).
check "seal --old changes the passphrase" sh -c \
	"printf 'first pass\nsecond pass\n' | timeout 20 '$VKEY' seal --state '$state' --old passphrase --seal passphrase"
refuse "old passphrase no longer opens" "wrong passphrase" env \
	VKEY_PASSPHRASE='first pass' timeout 10 "$VKEY" status --state "$state" --seal passphrase
VKEY_PASSPHRASE='second pass' check "new passphrase opens" \
	timeout 10 "$VKEY" status --state "$state" --seal passphrase

# 4. Remove the sealing, add it back with a key file.
VKEY_PASSPHRASE='second pass' check "unseal" \
	timeout 20 "$VKEY" unseal --state "$state" --seal passphrase
check "status without --seal after unseal" timeout 10 "$VKEY" status --state "$state"
head -c 64 /dev/urandom >"$dir/key.bin"
chmod 640 "$dir/key.bin"
refuse "group-readable key file refused" "chmod 600" \
	timeout 20 "$VKEY" seal --state "$state" --seal "keyfile:$dir/key.bin"
chmod 600 "$dir/key.bin"
check "seal with a key file" timeout 20 "$VKEY" seal --state "$state" \
	--seal "keyfile:$dir/key.bin"
check "status --seal keyfile" timeout 10 "$VKEY" status --state "$state" \
	--seal "keyfile:$dir/key.bin"
head -c 64 /dev/urandom >"$dir/other.bin"; chmod 600 "$dir/other.bin"
refuse "another key file refused" "wrong passphrase or key file" \
	timeout 10 "$VKEY" status --state "$state" --seal "keyfile:$dir/other.bin"
refuse "seal without --old on a sealed file" "is sealed" env \
	VKEY_NEW_PASSPHRASE=x timeout 20 "$VKEY" seal --state "$state" --seal passphrase
VKEY_NEW_PASSPHRASE='third pass' check "keyfile to passphrase" \
	timeout 20 "$VKEY" seal --state "$state" --old "keyfile:$dir/key.bin" --seal passphrase
VKEY_PASSPHRASE='third pass' check "opens with the third passphrase" \
	timeout 10 "$VKEY" status --state "$state" --seal passphrase
for f in "$state" "$state-wal" "$state-journal"; do
	[ -e "$f" ] || continue
	if grep -q -a "third pass" "$f"; then bad "passphrase absent from $f"; else ok "passphrase absent from $f"; fi
done

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
