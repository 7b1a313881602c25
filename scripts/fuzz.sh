#!/bin/sh
# Run every libFuzzer target of a -Dfuzz=true build for SECONDS each,
# starting from the seed corpus; new inputs go to a scratch directory.
set -eu
build=$1
seconds=$2
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/vkey-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
for exe in "$build"/fuzz/fuzz_*; do
	[ -f "$exe" ] && [ -x "$exe" ] || continue
	name=${exe##*/fuzz_}
	mkdir -p "$work/$name"
	echo "fuzz: $name for ${seconds}s"
	if ! "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 -artifact_prefix="$work/" \
		"$work/$name" "$src/fuzz/corpus/$name" >"$work/$name.log" 2>&1; then
		echo "fuzz: $name FAILED"; tail -40 "$work/$name.log"
		mkdir -p "$src/$build/fuzz-crashes"
		cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$src/$build/fuzz-crashes/" 2>/dev/null || true
		status=1
	else
		grep -E "^#[0-9]+.*DONE" "$work/$name.log" | tail -1 || true
	fi
done
exit $status
