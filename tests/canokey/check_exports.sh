#!/bin/sh
# libcanokey-qemu exports exactly QEMU's six canokey_emu_* functions and
# carries the SONAME libcanokey-qemu.so.0 (docs/CANOKEY.md).
set -eu
lib=$1
want='canokey_emu_data_in
canokey_emu_data_out
canokey_emu_device_loop
canokey_emu_init
canokey_emu_reset
canokey_emu_setup'
got=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
if [ "$got" != "$want" ]; then
	echo "exported symbols differ:" >&2
	printf '%s\n' "$got" >&2
	exit 1
fi
undef=$(nm -D --undefined-only "$lib" | awk '{print $2}' | grep '^canokey_' | sort | tr '\n' ' ')
if [ "$undef" != "canokey_emu_get_rx_data_size canokey_emu_prepare_receive canokey_emu_set_address canokey_emu_stall_ep canokey_emu_transmit " ]; then
	echo "QEMU's callbacks are not the library's undefined symbols: $undef" >&2
	exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" != "libcanokey-qemu.so.0" ]; then
	echo "SONAME is '$soname'" >&2
	exit 1
fi
echo "ok: six functions exported, five callbacks undefined, SONAME $soname"
