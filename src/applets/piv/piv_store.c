/* The PIV applet's records in the state file: data objects keyed by
 * their 3-byte id, named records for the PIN, PUK, management key and
 * keys; the factory state. */
#include <string.h>

#include "applets/piv/piv_priv.h"
#include "core/log.h"
#include "services/crypto.h"

static const char init_rec[] = "init";

/* Records a RESET keeps: the attestation key and certificate, so that
 * relying parties keep trusting the card. */
static const char attest_key_rec[] = "key.f9";

static void obj_key(uint32_t id, uint8_t k[3])
{
	k[0] = (uint8_t)(id >> 16);
	k[1] = (uint8_t)(id >> 8);
	k[2] = (uint8_t)id;
}

int piv_get_rec(struct piv *p, const char *name, uint8_t *buf, size_t cap,
		size_t *len)
{
	return store_get_into(p->st, PIV_NS, name, strlen(name), buf, cap,
			      len);
}

int piv_put_rec(struct piv *p, const char *name, const uint8_t *v,
		size_t len)
{
	return store_put(p->st, PIV_NS, name, strlen(name), v, len);
}

int piv_del_rec(struct piv *p, const char *name)
{
	int err = store_del(p->st, PIV_NS, name, strlen(name));

	return err == STORE_NOT_FOUND ? STORE_OK : err;
}

int piv_obj_get(struct piv *p, uint32_t id, uint8_t **val, size_t *len)
{
	uint8_t k[3];

	obj_key(id, k);
	return store_get(p->st, PIV_NS, k, sizeof(k), val, len);
}

int piv_obj_put(struct piv *p, uint32_t id, const uint8_t *v, size_t len)
{
	uint8_t k[3];

	obj_key(id, k);
	return store_put(p->st, PIV_NS, k, sizeof(k), v, len);
}

int piv_obj_del(struct piv *p, uint32_t id)
{
	uint8_t k[3];
	int err;

	obj_key(id, k);
	err = store_del(p->st, PIV_NS, k, sizeof(k));
	return err == STORE_NOT_FOUND ? STORE_OK : err;
}

int piv_read_initialized(struct piv *p)
{
	uint8_t v[1];
	size_t len;

	return piv_get_rec(p, init_rec, v, sizeof(v), &len);
}

/* Delete every record but the attestation key and its certificate
 * (in the caller's transaction). */
static int piv_clear(struct piv *p)
{
	static const uint8_t cert_k[3] = { (uint8_t)(PIV_OBJ_ATTEST >> 16),
					   (uint8_t)(PIV_OBJ_ATTEST >> 8),
					   (uint8_t)PIV_OBJ_ATTEST };
	const struct store_key keep[] = {
		{ attest_key_rec, sizeof(attest_key_rec) - 1 },
		{ cert_k, sizeof(cert_k) },
	};

	piv_key_forget(p, 0);
	return store_clear_keeping(p->st, PIV_NS, keep,
				   sizeof(keep) / sizeof(keep[0]));
}

/* Write the factory state (in the caller's transaction). */
static int piv_factory_init(struct piv *p)
{
	static const uint8_t one = 1;
	int err;

	err = piv_clear(p);
	if (err == STORE_OK)
		err = piv_pins_default(p, PIV_PW_TRIES, PIV_PW_TRIES);
	if (err == STORE_OK)
		err = piv_mgmt_default(p);
	if (err == STORE_OK)
		err = piv_attest_init(p);
	if (err == STORE_OK)
		err = piv_put_rec(p, init_rec, &one, 1);
	return err;
}

int piv_factory_reset(struct piv *p)
{
	int err = store_begin(p->st);

	if (err != STORE_OK)
		return err;
	err = piv_factory_init(p);
	if (err != STORE_OK) {
		store_rollback(p->st);
		log_error("piv: factory reset failed: %s", store_strerror(err));
	} else {
		err = store_commit(p->st);
	}
	piv_forget_access(p);
	p->touch_ms = 0;
	return err;
}
