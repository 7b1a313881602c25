/* PIV data objects: GET DATA and PUT DATA over the containers of
 * SP 800-73-4 part 1 (and YubiKey's proprietary 5FFFxx range), the
 * built-in discovery object, and the read rule for the objects that
 * hold biometric or printed data. */
#include <string.h>

#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"
#include "services/crypto.h"

/* Discovery object: the PIV AID, and the PIN usage policy "PIV
 * application PIN only, no global PIN". */
static const uint8_t discovery[] = {
	0x7E, 0x12, 0x4F, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00,
	0x10, 0x00, 0x01, 0x00, 0x5F, 0x2F, 0x02, 0x40, 0x00,
};

static bool id_known(uint32_t id)
{
	return id == PIV_OBJ_BIO_GROUP ||
	       (id >= PIV_OBJ_CARD_AUTH && id <= PIV_OBJ_PAIRING) ||
	       (id >= PIV_OBJ_YK_ADMIN && id <= 0x5FFFFF);
}

/* Objects SP 800-73-4 puts behind the PIN (table 1: fingerprints,
 * facial image, printed information, iris). */
static bool id_needs_pin(uint32_t id)
{
	return id == PIV_OBJ_FINGERPRINTS || id == PIV_OBJ_FACIAL ||
	       id == PIV_OBJ_PRINTED || id == PIV_OBJ_IRIS;
}

/* Read the 5C tag list element: an id of one to three bytes. */
static int read_id(struct rbuf *in, uint32_t *id)
{
	struct rbuf v;
	uint16_t tag;
	uint8_t b;

	if (rbuf_tlv(in, &tag, &v) != 0 || tag != PIV_TAG_OBJ_ID ||
	    rbuf_left(&v) < 1 || rbuf_left(&v) > 3)
		return -1;
	*id = 0;
	while (rbuf_u8(&v, &b) == 0)
		*id = *id << 8 | b;
	return 0;
}

unsigned piv_get_data(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	struct rbuf in = rbuf_init(cmd->data, cmd->lc);
	uint8_t *val = NULL;
	size_t len = 0;
	uint32_t id;
	int err;

	if (cmd->p1 != 0x3F || cmd->p2 != 0xFF)
		return SW_WRONG_P1P2;
	if (read_id(&in, &id) != 0 || rbuf_left(&in) != 0)
		return SW_WRONG_DATA;
	if (id == PIV_OBJ_DISCOVERY) {
		wbuf_put(r, discovery, sizeof(discovery));
		return SW_OK;
	}
	if (!id_known(id))
		return SW_WRONG_DATA;
	if (id_needs_pin(id) && !p->pin_ok)
		return SW_SECURITY_STATUS;
	err = piv_obj_get(p, id, &val, &len);
	if (err == STORE_NOT_FOUND)
		return SW_FILE_NOT_FOUND;
	if (err != STORE_OK)
		return SW_MEMORY_FAILURE;
	wbuf_tlv(r, PIV_TAG_OBJ_DATA, val, len);
	store_free_value(val, len);
	return SW_OK;
}

unsigned piv_put_data(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	struct rbuf in = rbuf_init(cmd->data, cmd->lc), v;
	uint16_t tag;
	uint32_t id;
	int err;

	(void)r;
	if (cmd->p1 != 0x3F || cmd->p2 != 0xFF)
		return SW_WRONG_P1P2;
	if (!p->mgmt_ok)
		return SW_SECURITY_STATUS;
	if (read_id(&in, &id) != 0 || !id_known(id) ||
	    rbuf_tlv(&in, &tag, &v) != 0 || tag != PIV_TAG_OBJ_DATA ||
	    rbuf_left(&in) != 0)
		return SW_WRONG_DATA;
	if (rbuf_left(&v) > PIV_OBJ_MAX)
		return SW_NOT_ENOUGH_SPACE;
	if (rbuf_left(&v) == 0)
		err = piv_obj_del(p, id);
	else
		err = piv_obj_put(p, id, rbuf_cur(&v), rbuf_left(&v));
	return err == STORE_OK ? SW_OK : SW_MEMORY_FAILURE;
}
