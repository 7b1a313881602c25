/* The OpenPGP applet's records in the state file: simple DOs keyed by
 * their tag, named records for keys, PINs and the counter; the factory
 * state; the AID; the signature counter. */
#include <string.h>

#include "applets/openpgp/pgp_priv.h"
#include "core/key.h"
#include "services/crypto.h"

/* Compact-TLV card capabilities: chaining, extended Lc/Le, extended
 * length information; life cycle 05 (operational). */
const uint8_t pgp_hist_bytes[8] = { 0x00, 0x73, 0x00, 0x00,
				    0xE0, 0x05, 0x90, 0x00 };

static const char init_rec[] = "init";
static const char ctr_rec[] = "counter";

static int get_into(struct pgp *p, const void *k, size_t k_len, uint8_t *buf,
		    size_t cap, size_t *len)
{
	return store_get_into(p->st, PGP_NS, k, k_len, buf, cap, len);
}

static void tag_key(uint16_t tag, uint8_t k[2])
{
	k[0] = (uint8_t)(tag >> 8);
	k[1] = (uint8_t)tag;
}

int pgp_get_do(struct pgp *p, uint16_t tag, uint8_t *buf, size_t cap,
	       size_t *len)
{
	uint8_t k[2];

	tag_key(tag, k);
	return get_into(p, k, sizeof(k), buf, cap, len);
}

int pgp_put_do(struct pgp *p, uint16_t tag, const uint8_t *v, size_t len)
{
	uint8_t k[2];

	tag_key(tag, k);
	return store_put(p->st, PGP_NS, k, sizeof(k), v, len);
}

int pgp_del_do(struct pgp *p, uint16_t tag)
{
	uint8_t k[2];
	int err;

	tag_key(tag, k);
	err = store_del(p->st, PGP_NS, k, sizeof(k));
	return err == STORE_NOT_FOUND ? STORE_OK : err;
}

int pgp_get_rec(struct pgp *p, const char *name, uint8_t *buf, size_t cap,
		size_t *len)
{
	return get_into(p, name, strlen(name), buf, cap, len);
}

int pgp_put_rec(struct pgp *p, const char *name, const uint8_t *v,
		size_t len)
{
	return store_put(p->st, PGP_NS, name, strlen(name), v, len);
}

int pgp_del_rec(struct pgp *p, const char *name)
{
	int err = store_del(p->st, PGP_NS, name, strlen(name));

	return err == STORE_NOT_FOUND ? STORE_OK : err;
}

int pgp_read_initialized(struct pgp *p)
{
	uint8_t v[1];
	size_t len;

	return pgp_get_rec(p, init_rec, v, sizeof(v), &len);
}

/* Records that outlive a factory reset: the attestation CA, so that
 * relying parties keep trusting the card. */
static const struct store_key kept[] = { { "att.key", 7 },
					 { "att.cert", 8 } };

int pgp_clear(struct pgp *p)
{
	pgp_key_forget(p, -1);
	return store_clear_keeping(p->st, PGP_NS, kept,
				   sizeof(kept) / sizeof(kept[0]));
}

/* Everything not written here reads as its default (pgp_data.c). */
int pgp_factory_init(struct pgp *p)
{
	static const uint8_t one = 1;
	int err;

	err = pgp_clear(p);
	if (err == STORE_OK)
		err = pgp_pin_set(p, PGP_PW1, (const uint8_t *)"123456", 6);
	if (err == STORE_OK)
		err = pgp_pin_set(p, PGP_PW3, (const uint8_t *)"12345678", 8);
	if (err == STORE_OK)
		err = pgp_put_rec(p, init_rec, &one, 1);
	/* Re-read the counter from the store next time: the caller's
	 * transaction may still roll back. */
	p->sig_loaded = false;
	return err;
}

void pgp_aid(struct pgp *p, uint8_t aid[16])
{
	static const uint8_t head[] = { 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01,
					0x03, 0x04, 0xFF, 0x00 };
	uint32_t serial = store_serial(p->st);

	memcpy(aid, head, sizeof(head));
	aid[10] = (uint8_t)(serial >> 24);
	aid[11] = (uint8_t)(serial >> 16);
	aid[12] = (uint8_t)(serial >> 8);
	aid[13] = (uint8_t)serial;
	aid[14] = 0;
	aid[15] = 0;
}

/* The counter record holds the exact count at the last flush and a
 * high-water mark: signatures below the mark cost no write, and after a
 * crash the count resumes at the mark, so it never goes back. */
#define COUNTER_BLOCK 64u
#define COUNTER_MAX 0xFFFFFFu /* three bytes in DO 93 */

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static void put_be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static int counter_write(struct pgp *p, uint32_t count, uint32_t mark)
{
	uint8_t rec[8];

	put_be32(rec, count);
	put_be32(rec + 4, mark);
	return pgp_put_rec(p, ctr_rec, rec, sizeof(rec));
}

static int counter_load(struct pgp *p)
{
	uint8_t rec[8];
	size_t len = 0;
	int err;

	if (p->sig_loaded)
		return STORE_OK;
	err = pgp_get_rec(p, ctr_rec, rec, sizeof(rec), &len);
	if (err == STORE_NOT_FOUND) {
		p->sig_count = p->sig_mark = 0;
	} else if (err != STORE_OK) {
		return err;
	} else if (len != sizeof(rec)) {
		return STORE_CORRUPT;
	} else {
		/* A mark above the count means the last run did not flush:
		 * resume at the mark. */
		p->sig_mark = be32(rec + 4);
		p->sig_count = p->sig_mark > be32(rec) ? p->sig_mark
						       : be32(rec);
	}
	p->sig_loaded = true;
	return STORE_OK;
}

int pgp_counter_get(struct pgp *p, uint32_t *value)
{
	int err = counter_load(p);

	*value = p->sig_count;
	return err;
}

int pgp_counter_bump(struct pgp *p)
{
	int err = counter_load(p);

	if (err != STORE_OK)
		return err;
	if (p->sig_count >= COUNTER_MAX)
		return STORE_OK; /* saturates */
	if (p->sig_count + 1 > p->sig_mark) {
		uint32_t mark = p->sig_count + COUNTER_BLOCK;

		if (mark > COUNTER_MAX)
			mark = COUNTER_MAX;
		err = counter_write(p, p->sig_count, mark);
		if (err != STORE_OK)
			return err;
		p->sig_mark = mark;
	}
	p->sig_count++;
	return STORE_OK;
}

/* Written in the caller's transaction; memory follows the store on the
 * next read, whether it commits or rolls back. */
int pgp_counter_reset(struct pgp *p)
{
	p->sig_loaded = false;
	return counter_write(p, 0, 0);
}

void pgp_counter_flush(struct pgp *p)
{
	if (!p->sig_loaded || p->sig_count == p->sig_mark)
		return;
	if (counter_write(p, p->sig_count, p->sig_count) == STORE_OK)
		p->sig_mark = p->sig_count;
}
