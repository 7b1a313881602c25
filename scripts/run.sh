#!/bin/sh
# make run: make sure the host's pcscd runs (its vpcd reader is where vkey
# plugs in), then run a key with the default state file in the foreground.
set -eu
vkey=$1
shift
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

pcscd_running() {
	pidof pcscd >/dev/null 2>&1
}

if ! pcscd_running; then
	echo "vkey: starting pcscd (the PC/SC daemon; vpcd is one of its readers)"
	if [ -d /run/systemd/system ]; then
		$SUDO systemctl start pcscd.service
	else
		$SUDO pcscd
	fi
	for _ in 1 2 3 4 5 6 7 8 9 10; do pcscd_running && break; sleep 0.2; done
fi

cat <<'MSG'
vkey: attach steps
  The key plays the card in pcscd's vpcd reader 'Virtual PCD 00 00'
  (127.0.0.1:35963). In another terminal:
    ykman --reader 'Virtual PCD 00 00' oath accounts list
    ykman --reader 'Virtual PCD 00 00' oath accounts add -o TOTP demo JBSWY3DPEHPK3PXP
    gpg --card-status      # OpenPGP card; scdaemon needs disable-ccid in
                           # ~/.gnupg/scdaemon.conf (then gpgconf --kill scdaemon)
    OPENSC_DRIVER=openpgp pkcs15-tool --list-keys  # OpenSC on the OpenPGP card
    yubico-piv-tool -r 'Virtual PCD' -a status    # PIV (PIN 123456)
    ykman --reader 'Virtual PCD 00 00' piv info
    pkcs11-tool --module opensc-pkcs11.so -O  # OpenSC (PIV by default)
    vkey status            # this key's state, through its control socket
    vkey touch             # approve a touch-required request
  As a USB security key instead (docs/USB.md, docs/USBIP.md, docs/CANOKEY.md):
    vkey serve --usbredir /run/user/$UID/vkey.sock   # QEMU's usb-redir
    vkey serve --usbip 127.0.0.1:3240                # then: modprobe vhci-hcd;
                                                     # usbip attach -r 127.0.0.1 -b 1-1
    make demo              # a QEMU guest with the key attached
  Stop the key with Ctrl-C.
MSG
exec "$vkey" serve -v "$@"
