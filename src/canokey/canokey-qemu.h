/* libcanokey-qemu: the ABI QEMU's `-device canokey` (hw/usb/canokey.c,
 * QEMU >= 7.1 built with --enable-canokey) links against, provided by
 * vkey. The library exports the six canokey_emu_* functions below; QEMU
 * provides the five callbacks (resolved from the QEMU executable when the
 * library is loaded). The ABI has no device handle: one such device per
 * process (use usb-redir, `vkey serve --usbredir`, for more). */
#ifndef CANOKEY_QEMU_H
#define CANOKEY_QEMU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Endpoint numbers (without the direction bit). */
#define CANOKEY_EMU_EP_WEBUSB 0 /* control endpoint */
#define CANOKEY_EMU_EP_CTAPHID 1
#define CANOKEY_EMU_EP_CCID 2

/* --- Library side: QEMU calls these. ---------------------------------- */

/* Open (create on first use) the vkey state file `file` and create the
 * device; `key` is QEMU's device state, handed back in every callback.
 * Returns 0, or -1 with a message on stderr. */
int canokey_emu_init(void *key, const char *file);
/* USB bus reset. */
void canokey_emu_reset(void);
/* Let the device make progress (transmit pending IN data). */
void canokey_emu_device_loop(void);
/* A SETUP packet: request = (bmRequestType << 8) | bRequest. */
void canokey_emu_setup(int request, int value, int index, int length);
/* OUT data arrived on ep: on ep 0 `data` is the control transfer's data
 * stage; on other endpoints data is NULL and the bytes are in the buffer
 * registered with canokey_emu_prepare_receive (count from
 * canokey_emu_get_rx_data_size). */
void canokey_emu_data_out(uint8_t ep, uint8_t *data);
/* The host asks for IN data on ep (the previous transmit was drained). */
void canokey_emu_data_in(uint8_t ep);

/* --- QEMU side: the library calls these. ------------------------------ */

int canokey_emu_stall_ep(void *key, uint8_t ep);
int canokey_emu_set_address(void *key, uint8_t addr);
int canokey_emu_prepare_receive(void *key, uint8_t ep, uint8_t *pbuf,
				uint16_t size);
int canokey_emu_transmit(void *key, uint8_t ep, const uint8_t *pbuf,
			 uint16_t size);
uint32_t canokey_emu_get_rx_data_size(void *key, uint8_t ep);

#ifdef __cplusplus
}
#endif

#endif
