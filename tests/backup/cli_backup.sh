#!/bin/sh
# vkey export / import from the command line: an export through the
# running daemon and one from the file give the same answer and the same
# key; imports (in clear, sealed, with a key file) keep the serial and
# the content; wrong secrets, existing files, a file a daemon holds and
# unusable secret specs are refused with nothing written.
set -u
VKEY=${VKEY:?set VKEY to the vkey binary}
dir=$(mktemp -d /tmp/vkey-backupcli-XXXXXX)
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
serve() { # STATE [ARGS]: a daemon on STATE, until stop
	s=$1; shift
	timeout 60 "$VKEY" serve --state "$s" --vpcd 127.0.0.1:1 "$@" \
		>"$dir/serve.log" 2>&1 &
	serve_pid=$!
	i=0
	while [ ! -S "$s.ctl" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	test -S "$s.ctl" || bad "daemon on $s started"
}
stop() {
	kill "$serve_pid"; wait "$serve_pid" 2>/dev/null; serve_pid=
}
serial_of() { # STATE [ARGS]: the serial vkey status reports
	s=$1; shift
	timeout 10 "$VKEY" status --state "$s" "$@" 2>/dev/null | sed -n 's/^serial: //p'
}
export VKEY_BACKUP_PASSPHRASE='backup pass'

# 1. A key with content, exported through its daemon.
serve "$state"
check "ndef set-uri through the daemon" \
	timeout 10 "$VKEY" ndef set-uri --state "$state" https://backup.example/kk
serial=$(serial_of "$state")
test -n "$serial" && ok "the key has a serial" || bad "the key has a serial"
check "export through the daemon" \
	timeout 30 "$VKEY" export "$dir/a.backup" --state "$state"
via_daemon=$(cat "$dir/out")
test "$via_daemon" = "key $serial exported to $dir/a.backup (sealed backup)" &&
	ok "daemon export names serial and file" || bad "daemon export said: $via_daemon"
test "$(stat -c %a "$dir/a.backup")" = 600 && ok "backup is 0600" || bad "backup is 0600"
refuse "export over an existing backup refused" "exists; give --force" \
	timeout 30 "$VKEY" export "$dir/a.backup" --state "$state"
check "export --force through the daemon" \
	timeout 30 "$VKEY" export "$dir/a.backup" --state "$state" --force
(cd "$dir" && timeout 30 "$VKEY" export rel.backup --state "$state") >"$dir/out" 2>&1
test -f "$dir/rel.backup" && ok "a relative path is the caller's, not the daemon's" ||
	bad "relative export path: $(cat "$dir/out")"
refuse "export onto the held state file refused" "already open\|in use" \
	timeout 30 "$VKEY" export "$state" --state "$state" --force
stop

# 2. The same export from the file: the same answer.
check "export from the file" \
	timeout 30 "$VKEY" export "$dir/b.backup" --state "$state"
direct=$(cat "$dir/out")
test "$direct" = "key $serial exported to $dir/b.backup (sealed backup)" &&
	ok "direct export gives the daemon's answer" || bad "direct export said: $direct"
grep -q "backup.example/kk" "$state" && ok "control: the NDEF message is in the unsealed file" ||
	bad "control: the NDEF message is in the unsealed file"
grep -q "backup.example/kk" "$dir/a.backup" "$dir/b.backup" &&
	bad "the NDEF message is in a backup in clear" ||
	ok "no NDEF bytes in clear in the backups"

# 3. Imports of both: same serial, same content.
check "import of the daemon's backup" \
	timeout 30 "$VKEY" import "$dir/a.backup" --state "$dir/new1.vkey"
grep -q "key $serial imported from $dir/a.backup into $dir/new1.vkey (not sealed)" \
	"$dir/out" && ok "import names serial and files" || bad "import said: $(cat "$dir/out")"
test "$(serial_of "$dir/new1.vkey")" = "$serial" && ok "same serial after import" ||
	bad "same serial after import"
timeout 10 "$VKEY" ndef get --state "$dir/new1.vkey" >"$dir/ndef1" 2>&1
grep -q "https://backup.example/kk" "$dir/ndef1" && ok "the NDEF message came along" ||
	bad "NDEF after import: $(cat "$dir/ndef1")"
VKEY_PASSPHRASE='new machine' check "sealed import of the direct backup" \
	timeout 30 "$VKEY" import "$dir/b.backup" --state "$dir/new2.vkey" --seal passphrase
grep -q "(sealed)" "$dir/out" && ok "the new file is sealed" || bad "sealed import said: $(cat "$dir/out")"
refuse "sealed import needs its passphrase" "is sealed" \
	timeout 10 "$VKEY" status --state "$dir/new2.vkey"
test "$(VKEY_PASSPHRASE='new machine' serial_of "$dir/new2.vkey" --seal passphrase)" = "$serial" &&
	ok "same serial in the sealed import" || bad "same serial in the sealed import"
timeout 10 "$VKEY" status --state "$dir/new1.vkey" | grep -v "^state\|^daemon" >"$dir/s1"
timeout 10 "$VKEY" status --state "$state" | grep -v "^state\|^daemon" >"$dir/s0"
test -s "$dir/s0" && cmp -s "$dir/s0" "$dir/s1" && ok "status of the import matches the original" ||
	{ bad "status of the import matches the original"; diff "$dir/s0" "$dir/s1"; }

# 4. Refusals, nothing written.
refuse "wrong backup passphrase" "wrong passphrase or key file for backup" env \
	VKEY_BACKUP_PASSPHRASE=nope timeout 30 "$VKEY" import "$dir/a.backup" --state "$dir/new3.vkey"
test ! -e "$dir/new3.vkey" && ok "nothing written after a wrong passphrase" ||
	bad "nothing written after a wrong passphrase"
refuse "import over an existing state file refused" "exists; give --force" \
	timeout 30 "$VKEY" import "$dir/a.backup" --state "$dir/new1.vkey"
refuse "an unsealed state file is no backup" "not a vkey backup" \
	timeout 30 "$VKEY" import "$state" --state "$dir/new4.vkey"
refuse "bad --to spec" "takes passphrase or keyfile" \
	timeout 10 "$VKEY" export "$dir/c.backup" --state "$state" --to secret
refuse "import takes --from, not --to" "usage" \
	timeout 10 "$VKEY" import "$dir/a.backup" --state "$dir/new4.vkey" --to passphrase
serve "$dir/new1.vkey"
refuse "import --force over a file a daemon holds refused" "in use by process" \
	timeout 30 "$VKEY" import "$dir/a.backup" --state "$dir/new1.vkey" --force
stop

# 5. Key files, and passphrases on standard input (backup's first).
head -c 48 /dev/urandom >"$dir/bk.key"
chmod 640 "$dir/bk.key"
refuse "group-readable backup key file refused" "chmod 600" \
	timeout 10 "$VKEY" export "$dir/k.backup" --state "$state" --to "keyfile:$dir/bk.key"
chmod 600 "$dir/bk.key"
serve "$state"
check "export to a key file through the daemon" \
	timeout 30 "$VKEY" export "$dir/k.backup" --state "$state" --to "keyfile:$dir/bk.key"
stop
check "import with --from keyfile" timeout 30 "$VKEY" import "$dir/k.backup" \
	--state "$dir/new5.vkey" --from "keyfile:$dir/bk.key"
test "$(serial_of "$dir/new5.vkey")" = "$serial" && ok "same serial via a key file" ||
	bad "same serial via a key file"
check "export a sealed file, both passphrases on stdin" sh -c \
	"printf 'line backup\nnew machine\n' | env -u VKEY_BACKUP_PASSPHRASE -u VKEY_PASSPHRASE \
	timeout 30 '$VKEY' export '$dir/s.backup' --state '$dir/new2.vkey' --seal passphrase"
check "import it with the stdin passphrase" sh -c \
	"echo 'line backup' | env -u VKEY_BACKUP_PASSPHRASE timeout 30 '$VKEY' import '$dir/s.backup' --state '$dir/new6.vkey'"
test "$(serial_of "$dir/new6.vkey")" = "$serial" && ok "same serial via stdin" ||
	bad "same serial via stdin"
for f in "$dir"/*.vkey "$dir"/*.backup; do
	test "$(stat -c %a "$f")" = 600 || bad "$f is not 0600"
done

echo "$fails failure(s)"
test "$fails" -eq 0
