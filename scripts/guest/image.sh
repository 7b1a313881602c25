#!/bin/bash
# Make sure the guest image exists (kernel fetched once, initramfs built
# once per kernel/init version) and say where it is. `make guest-image`.
set -euo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
kdir=$("$dir/fetch-kernel.sh")
initrd=$("$dir/build-initramfs.sh" "$kdir")
echo "guest kernel:    $kdir/vmlinuz ($(cat "$kdir/package"))"
echo "guest initramfs: $initrd"
