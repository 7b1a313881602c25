/* One PC/SC session with a card for the applet benchmarks: connect,
 * extended-length APDUs, BER-TLV lookup in the answers. */
#include "card_pcsc.h"

#include <stdio.h>
#include <string.h>

int card_connect(struct card *c, const char *reader)
{
	SCARD_READERSTATE st = { .szReader = reader,
				 .dwCurrentState = SCARD_STATE_UNAWARE };
	DWORD proto = 0;

	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->ctx) !=
	    SCARD_S_SUCCESS) {
		fprintf(stderr, "no pcscd\n");
		return -1;
	}
	for (int i = 0; i < 100; i++) {
		if (SCardGetStatusChange(c->ctx, 100, &st, 1) ==
			    SCARD_S_SUCCESS &&
		    (st.dwEventState & SCARD_STATE_PRESENT))
			break;
		st.dwCurrentState = st.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
	}
	if (SCardConnect(c->ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1,
			 &c->h, &proto) != SCARD_S_SUCCESS) {
		fprintf(stderr, "SCardConnect(%s) failed\n", reader);
		return -1;
	}
	return 0;
}

void card_close(struct card *c)
{
	if (c->h)
		SCardDisconnect(c->h, SCARD_RESET_CARD);
	if (c->ctx)
		SCardReleaseContext(c->ctx);
	c->h = 0;
	c->ctx = 0;
}

int card_transmit(struct card *c, const uint8_t *apdu, size_t n,
		  struct card_resp *r)
{
	DWORD rl = sizeof r->p;
	LONG rc = SCardTransmit(c->h, SCARD_PCI_T1, apdu, (DWORD)n, NULL,
				r->p, &rl);

	if (rc != SCARD_S_SUCCESS) {
		fprintf(stderr, "SCardTransmit: %s\n", pcsc_stringify_error(rc));
		return -1;
	}
	if (rl < 2)
		return -1;
	r->len = rl - 2;
	return r->p[rl - 2] << 8 | r->p[rl - 1];
}

/* Build the extended-length command into a; returns its length. */
static size_t apdu_ext(uint8_t *a, uint8_t ins, uint8_t p1, uint8_t p2,
		       const uint8_t *data, size_t len, bool le)
{
	size_t n = 0;

	a[n++] = 0x00;
	a[n++] = ins;
	a[n++] = p1;
	a[n++] = p2;
	if (len == 0 && !le)
		return n; /* case 1 */
	a[n++] = 0x00; /* extended length marker */
	if (len > 0) {
		a[n++] = (uint8_t)(len >> 8);
		a[n++] = (uint8_t)len;
		memcpy(a + n, data, len);
		n += len;
	}
	if (le) { /* 00 00: up to 65536 bytes */
		a[n++] = 0x00;
		a[n++] = 0x00;
	}
	return n;
}

int card_call(struct card *c, uint8_t ins, uint8_t p1, uint8_t p2,
	      const uint8_t *data, size_t len, bool le, struct card_resp *r)
{
	uint8_t a[CARD_DATA_MAX + 9];

	if (len > CARD_DATA_MAX)
		return -1;
	return card_transmit(c, a, apdu_ext(a, ins, p1, p2, data, len, le), r);
}

int card_select(struct card *c, const uint8_t *aid, size_t aid_len,
		struct card_resp *r)
{
	uint8_t a[5 + 16 + 1] = { 0x00, 0xA4, 0x04, 0x00 };

	if (aid_len < 5 || aid_len > 16)
		return -1;
	a[4] = (uint8_t)aid_len;
	memcpy(a + 5, aid, aid_len);
	a[5 + aid_len] = 0x00;
	return card_transmit(c, a, 5 + aid_len + 1, r);
}

int card_expect_ok(const char *what, int sw)
{
	if (sw == 0x9000)
		return 0;
	fprintf(stderr, "%s: status %04X\n", what, sw & 0xFFFF);
	return -1;
}

const uint8_t *card_tlv_find(const uint8_t *p, size_t len, unsigned tag,
			     size_t *vlen)
{
	size_t i = 0;

	while (i < len) {
		unsigned t = p[i++];
		size_t l;

		if ((t & 0x1F) == 0x1F && i < len)
			t = t << 8 | p[i++];
		if (i >= len)
			return NULL;
		l = p[i++];
		if (l == 0x81 && i < len) {
			l = p[i++];
		} else if (l == 0x82 && i + 1 < len) {
			l = (size_t)p[i] << 8 | p[i + 1];
			i += 2;
		} else if (l > 0x80) {
			return NULL;
		}
		if (l > len - i)
			return NULL;
		if (t == tag) {
			*vlen = l;
			return p + i;
		}
		i += l;
	}
	return NULL;
}
