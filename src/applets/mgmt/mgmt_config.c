/* The management application's two data formats: the WRITE CONFIG
 * request (parsed into a struct, then its values checked) and the device
 * information READ CONFIG answers. Both are a length byte followed by
 * BER-TLVs with one-byte tags. */
#include <string.h>

#include "apdu/sw.h"
#include "applets/mgmt/mgmt_priv.h"

/* A field a WRITE CONFIG may carry, with the sizes its value may have. */
struct field {
	uint8_t tag;
	unsigned seen;
	uint8_t min, max;
};

static const struct field fields[] = {
	{ MGMT_TAG_USB_ENABLED, MGMT_SEEN_USB, 1, 2 },
	{ MGMT_TAG_AUTO_EJECT, MGMT_SEEN_AUTO_EJECT, 1, 2 },
	{ MGMT_TAG_CHALRESP, MGMT_SEEN_CHALRESP, 1, 1 },
	{ MGMT_TAG_DEVICE_FLAGS, MGMT_SEEN_FLAGS, 1, 1 },
	{ MGMT_TAG_CONFIG_LOCK, MGMT_SEEN_LOCK, MGMT_LOCK_CODE_LEN,
	  MGMT_LOCK_CODE_LEN },
	{ MGMT_TAG_UNLOCK, MGMT_SEEN_UNLOCK, MGMT_LOCK_CODE_LEN,
	  MGMT_LOCK_CODE_LEN },
	{ MGMT_TAG_REBOOT, MGMT_SEEN_REBOOT, 0, 0 },
	{ MGMT_TAG_NFC_ENABLED, MGMT_SEEN_NFC, 1, 2 },
};

static const struct field *field_of(uint16_t tag)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].tag == tag)
			return &fields[i];
	return NULL; /* unknown, or read-only (supported, serial, version) */
}

/* A big-endian integer of one or two bytes (the field's size checked). */
static uint16_t be_value(const struct rbuf *v)
{
	uint16_t x = 0;

	for (size_t i = 0; i < v->len; i++)
		x = (uint16_t)(x << 8 | v->p[i]);
	return x;
}

static void take(struct mgmt_write *w, const struct field *f,
		 const struct rbuf *v)
{
	switch (f->seen) {
	case MGMT_SEEN_USB:
		w->usb_enabled = be_value(v);
		break;
	case MGMT_SEEN_NFC:
		w->nfc_enabled = be_value(v);
		break;
	case MGMT_SEEN_AUTO_EJECT:
		w->auto_eject = be_value(v);
		break;
	case MGMT_SEEN_CHALRESP:
		w->chalresp = (uint8_t)be_value(v);
		break;
	case MGMT_SEEN_FLAGS:
		w->flags = (uint8_t)be_value(v);
		break;
	case MGMT_SEEN_LOCK:
		memcpy(w->lock, v->p, sizeof(w->lock));
		break;
	case MGMT_SEEN_UNLOCK:
		memcpy(w->unlock, v->p, sizeof(w->unlock));
		break;
	default: /* MGMT_SEEN_REBOOT: no value */
		break;
	}
}

unsigned mgmt_parse_write(const uint8_t *data, size_t len,
			  struct mgmt_write *w)
{
	struct rbuf r = rbuf_init(data, len);
	uint8_t n;

	memset(w, 0, sizeof(*w));
	if (rbuf_u8(&r, &n) != 0 || n != rbuf_left(&r))
		return SW_WRONG_LENGTH;
	while (rbuf_left(&r) > 0) {
		const struct field *f;
		struct rbuf v;
		uint16_t tag;

		if (rbuf_tlv(&r, &tag, &v) != 0)
			return SW_WRONG_DATA;
		f = field_of(tag);
		if (f == NULL || (w->seen & f->seen) != 0 || v.len < f->min ||
		    v.len > f->max)
			return SW_WRONG_DATA;
		take(w, f, &v);
		w->seen |= f->seen;
	}
	return 0;
}

unsigned mgmt_check_write(const struct mgmt_write *w)
{
	if ((w->seen & MGMT_SEEN_USB) != 0) {
		if ((w->usb_enabled & ~VKEY_APP_ALL) != 0)
			return SW_FUNC_NOT_SUPPORTED; /* OTP, HSM auth, ... */
		if (w->usb_enabled == 0)
			return SW_WRONG_DATA; /* nothing left but management */
	}
	/* No NFC radio; no touch eject, CCID auto-eject or OTP
	 * challenge-response: only "off" is accepted for those. */
	if ((w->seen & MGMT_SEEN_NFC) != 0 || w->auto_eject != 0 ||
	    w->chalresp != 0 || w->flags != 0)
		return SW_FUNC_NOT_SUPPORTED;
	return 0;
}

int mgmt_encode_info(const struct mgmt_info *info, struct wbuf *out)
{
	uint8_t body[64];
	struct wbuf b = wbuf_init(body, sizeof(body));
	const uint8_t supported[2] = { (uint8_t)(info->usb_supported >> 8),
				       (uint8_t)info->usb_supported };
	const uint8_t enabled[2] = { (uint8_t)(info->usb_enabled >> 8),
				     (uint8_t)info->usb_enabled };
	const uint8_t serial[4] = { (uint8_t)(info->serial >> 24),
				    (uint8_t)(info->serial >> 16),
				    (uint8_t)(info->serial >> 8),
				    (uint8_t)info->serial };
	const uint8_t form_factor = MGMT_FORM_FACTOR;
	const uint8_t version[3] = { MGMT_VERSION_MAJOR, MGMT_VERSION_MINOR,
				     MGMT_VERSION_PATCH };
	const uint8_t locked = info->locked ? 1 : 0;

	wbuf_tlv(&b, MGMT_TAG_USB_SUPPORTED, supported, sizeof(supported));
	wbuf_tlv(&b, MGMT_TAG_SERIAL, serial, sizeof(serial));
	wbuf_tlv(&b, MGMT_TAG_USB_ENABLED, enabled, sizeof(enabled));
	wbuf_tlv(&b, MGMT_TAG_FORM_FACTOR, &form_factor, 1);
	wbuf_tlv(&b, MGMT_TAG_VERSION, version, sizeof(version));
	wbuf_tlv(&b, MGMT_TAG_CONFIG_LOCK, &locked, 1);
	if (b.overflow)
		return -1;
	wbuf_u8(out, (uint8_t)b.len);
	wbuf_put(out, body, b.len);
	return out->overflow ? -1 : 0;
}
