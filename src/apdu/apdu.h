/* ISO/IEC 7816-4 command APDU: parsed form, parser and the dispatcher
 * state (chaining, GET RESPONSE, selected applet). */
#ifndef VKEY_APDU_H
#define VKEY_APDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APDU_SHORT_NE_MAX 256u
#define APDU_EXT_NE_MAX 65536u

/* A parsed command. data points into the caller's buffer (or the
 * dispatcher's chaining buffer) and is valid for the call only. */
struct apdu {
	uint8_t cla;
	uint8_t ins;
	uint8_t p1;
	uint8_t p2;
	const uint8_t *data;
	size_t lc;       /* Nc: length of data */
	size_t ne;       /* Ne: bytes the client accepts; 0 when Le absent */
	bool le_present;
	bool extended;   /* extended-length encoding was used */
};

/* Parse one command APDU (all four cases, short and extended). Returns 0,
 * or a status word (SW_WRONG_LENGTH) for malformed input. */
int apdu_parse(const uint8_t *buf, size_t len, struct apdu *out);

/* True when CLA has the command-chaining bit: interindustry classes, and
 * proprietary classes built like them (CTAP chains CLA 80 as 90). */
static inline bool apdu_chained(const struct apdu *a)
{
	return ((a->cla & 0xE0) == 0x00 || (a->cla & 0xE0) == 0x80) &&
	       (a->cla & 0x10) != 0;
}

/* Largest response the client can take without chaining. */
static inline size_t apdu_ne_or_default(const struct apdu *a)
{
	if (a->le_present)
		return a->ne;
	return a->extended ? APDU_EXT_NE_MAX : APDU_SHORT_NE_MAX;
}

#endif
