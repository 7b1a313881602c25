/* The signature counter: one per key, strictly increasing, also across a
 * crash. The store holds a high-water mark that every value handed out
 * stays below; values come from memory and the mark moves a block ahead
 * only when a block is used up, so an assertion costs no fsync. After a
 * crash the counter resumes at the mark, skipping at most one block. */
#include "applets/fido/ctap_cred.h"

#include <string.h>

#define COUNTER_BLOCK 1024u

static const char mark_key[] = "counter";

static int mark_read(struct ctap *c, uint32_t *mark)
{
	uint8_t *val = NULL;
	size_t val_len = 0;
	int err = store_get(c->store, NS_META, mark_key, strlen(mark_key), &val,
			    &val_len);

	*mark = 0;
	if (err == STORE_NOT_FOUND)
		return STORE_OK;
	if (err == STORE_OK && val_len == 4)
		*mark = (uint32_t)val[0] << 24 | (uint32_t)val[1] << 16 |
			(uint32_t)val[2] << 8 | val[3];
	else if (err == STORE_OK)
		err = STORE_CORRUPT;
	store_free_value(val, val_len);
	return err;
}

void counter_init(struct ctap *c)
{
	/* Nothing is reserved yet: the first value reads the mark. */
	c->cred->ctr_next = 0;
	c->cred->ctr_limit = 0;
}

/* Re-read the mark (another instance of this key may have moved it),
 * continue from at least there and record the end of a new block. */
static uint8_t reserve(struct ctap *c)
{
	struct ctap_cred_ctx *x = c->cred;
	uint32_t mark, next, limit;
	uint8_t buf[4];

	if (mark_read(c, &mark) != STORE_OK)
		return CTAP2_ERR_PROCESSING;
	next = x->ctr_next > mark ? x->ctr_next : mark;
	if (next == 0)
		next = 1; /* 0 means "no counter" to relying parties */
	limit = next <= UINT32_MAX - COUNTER_BLOCK ? next + COUNTER_BLOCK
						    : UINT32_MAX;
	buf[0] = (uint8_t)(limit >> 24);
	buf[1] = (uint8_t)(limit >> 16);
	buf[2] = (uint8_t)(limit >> 8);
	buf[3] = (uint8_t)limit;
	if (store_put(c->store, NS_META, mark_key, strlen(mark_key), buf,
		      sizeof(buf)) != STORE_OK)
		return CTAP2_ERR_PROCESSING;
	x->ctr_next = next;
	x->ctr_limit = limit;
	return CTAP2_OK;
}

uint8_t counter_take(struct ctap *c, uint32_t *v)
{
	struct ctap_cred_ctx *x = c->cred;
	uint8_t r;

	if (x->ctr_next >= x->ctr_limit) {
		/* The counter saturates at its last value rather than wrap. */
		if (x->ctr_limit == UINT32_MAX && x->ctr_next == UINT32_MAX) {
			*v = UINT32_MAX;
			return CTAP2_OK;
		}
		r = reserve(c);
		if (r != CTAP2_OK)
			return r;
	}
	*v = x->ctr_next++;
	return CTAP2_OK;
}

/* For U2F, whose message has no error for this: 0 when the store cannot
 * record a new block (a relying party treats 0 as "no counter"). */
uint32_t ctap_counter_next(struct ctap *c)
{
	uint32_t v = 0;

	if (counter_take(c, &v) != CTAP2_OK)
		return 0;
	return v;
}
