/* The NDEF applet's entry points: state, SELECT, and the three commands
 * of the Type 4 Tag (SELECT FILE, READ BINARY, UPDATE BINARY) over the
 * capability container and the NDEF file. */
#include "applets/ndef/ndef.h"

#include <stdlib.h>
#include <string.h>

#include "apdu/sw.h"
#include "applets/ndef/ndef_priv.h"
#include "core/log.h"
#include "services/store.h"

/* T4T §5.4.2: the NDEF Tag Application, mapping version 2.0. */
static const uint8_t ndef_aid[] = { 0xD2, 0x76, 0x00, 0x00,
				    0x85, 0x01, 0x01 };

static int ndef_create(struct vkey *key, void **state)
{
	struct ndef *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	t->key = key;
	ndef_load(t);
	*state = t;
	return 0;
}

static void ndef_destroy(void *state)
{
	free(state); /* nothing secret: the tag is read by anyone */
}

static unsigned ndef_select(void *state, const struct apdu *cmd,
			    struct wbuf *resp)
{
	struct ndef *t = state;

	(void)cmd;
	(void)resp;
	t->selected = NDEF_SEL_NONE;
	return SW_OK;
}

static void ndef_deselect(void *state)
{
	struct ndef *t = state;

	t->selected = NDEF_SEL_NONE;
}

/* T4T §5.1, Table 4: CCLEN, mapping version, MLe, MLc, then the NDEF
 * File Control TLV: file id, maximum NDEF file size, read and write
 * access. */
static void build_cc(const struct ndef *t, uint8_t cc[NDEF_CC_LEN])
{
	struct wbuf w = wbuf_init(cc, NDEF_CC_LEN);

	wbuf_u16be(&w, NDEF_CC_LEN);
	wbuf_u8(&w, NDEF_MAPPING_2_0);
	wbuf_u16be(&w, NDEF_MLE);
	wbuf_u16be(&w, NDEF_MLC);
	wbuf_u8(&w, NDEF_TLV_FILE_CONTROL);
	wbuf_u8(&w, NDEF_TLV_FILE_CONTROL_LEN);
	wbuf_u16be(&w, NDEF_FID_NDEF);
	wbuf_u16be(&w, NDEF_FILE_SIZE);
	wbuf_u8(&w, NDEF_ACCESS_GRANTED);
	wbuf_u8(&w, t->read_only ? NDEF_ACCESS_NONE : NDEF_ACCESS_GRANTED);
}

/* SELECT by file identifier. A failed selection keeps the current file
 * (ISO/IEC 7816-4 §7.1.1). */
static unsigned select_file(struct ndef *t, const struct apdu *cmd)
{
	unsigned fid;

	if (cmd->p1 != NDEF_SELECT_BY_FID ||
	    (cmd->p2 != NDEF_SELECT_NO_FCI && cmd->p2 != NDEF_SELECT_FCI))
		return SW_WRONG_P1P2;
	if (cmd->lc != 2)
		return SW_WRONG_LENGTH;
	fid = (unsigned)cmd->data[0] << 8 | cmd->data[1];
	if (fid == NDEF_FID_CC)
		t->selected = NDEF_SEL_CC;
	else if (fid == NDEF_FID_NDEF)
		t->selected = NDEF_SEL_NDEF;
	else
		return SW_FILE_NOT_FOUND;
	return SW_OK;
}

static unsigned binary_offset(const struct apdu *cmd, size_t *off)
{
	if (cmd->p1 & NDEF_P1_SFI)
		return SW_FUNC_NOT_SUPPORTED; /* no short EF identifiers */
	*off = (size_t)cmd->p1 << 8 | cmd->p2;
	return SW_OK;
}

/* True when Le asked for "as much as there is" (ISO/IEC 7816-4 §5.1:
 * Le 00, or 0000 in the extended form). */
static bool ne_is_max(const struct apdu *cmd)
{
	return cmd->ne == (cmd->extended ? APDU_EXT_NE_MAX : APDU_SHORT_NE_MAX);
}

/* READ BINARY (T4T §5.4.5). An offset past the file is 6B00; a read that
 * runs past the end returns what there is, with 6282 unless Le asked
 * for the maximum. */
static unsigned read_binary(struct ndef *t, const struct apdu *cmd,
			    struct wbuf *resp)
{
	uint8_t cc[NDEF_CC_LEN];
	const uint8_t *file;
	size_t size, off, n;
	unsigned sw;

	if (t->selected == NDEF_SEL_NONE)
		return SW_COMMAND_NOT_ALLOWED;
	sw = binary_offset(cmd, &off);
	if (sw != SW_OK)
		return sw;
	if (cmd->lc != 0 || !cmd->le_present)
		return SW_WRONG_LENGTH;
	if (t->selected == NDEF_SEL_CC) {
		build_cc(t, cc);
		file = cc;
		size = sizeof(cc);
	} else {
		file = t->file;
		size = sizeof(t->file);
	}
	if (off >= size)
		return SW_WRONG_P1P2_NO_INFO;
	n = size - off < cmd->ne ? size - off : cmd->ne;
	wbuf_put(resp, file + off, n);
	if (n < cmd->ne && !ne_is_max(cmd))
		return NDEF_SW_END_OF_FILE;
	return SW_OK;
}

/* UPDATE BINARY (T4T §5.4.6) on the NDEF file. The new file is checked
 * (NLEN at most the maximum message) and persisted before it replaces
 * the one in memory: one store transaction per command, so a writer
 * torn off between its commands leaves exactly what it had written, and
 * the Type 4 write procedure (NLEN 0000, message, NLEN) never leaves a
 * stale length over a half-written message. */
static unsigned update_binary(struct ndef *t, const struct apdu *cmd)
{
	size_t off;
	unsigned sw;
	int err;

	if (t->selected == NDEF_SEL_NONE)
		return SW_COMMAND_NOT_ALLOWED;
	sw = binary_offset(cmd, &off);
	if (sw != SW_OK)
		return sw;
	if (t->selected == NDEF_SEL_CC || t->read_only)
		return SW_SECURITY_STATUS;
	if (t->damaged)
		return SW_MEMORY_FAILURE;
	if (cmd->lc == 0)
		return SW_WRONG_LENGTH;
	if (off >= sizeof(t->file))
		return SW_WRONG_P1P2_NO_INFO;
	if (cmd->lc > sizeof(t->file) - off)
		return SW_NOT_ENOUGH_SPACE;
	memcpy(t->next, t->file, sizeof(t->next));
	memcpy(t->next + off, cmd->data, cmd->lc);
	if (ndef_nlen(t->next) > NDEF_MSG_MAX)
		return SW_WRONG_DATA;
	err = ndef_save(t, t->next, t->read_only);
	if (err != STORE_OK) {
		log_error("ndef: cannot save the tag: %s", store_strerror(err));
		return ndef_store_sw(err);
	}
	memcpy(t->file, t->next, sizeof(t->file));
	return SW_OK;
}

static unsigned ndef_process(void *state, const struct apdu *cmd,
			     struct wbuf *resp)
{
	struct ndef *t = state;

	switch (cmd->ins) {
	case NDEF_INS_SELECT:
		return select_file(t, cmd);
	case NDEF_INS_READ_BINARY:
		return read_binary(t, cmd, resp);
	case NDEF_INS_UPDATE_BINARY:
		return update_binary(t, cmd);
	default:
		return SW_INS_NOT_SUPPORTED;
	}
}

static void ndef_power_off(void *state)
{
	struct ndef *t = state;

	t->selected = NDEF_SEL_NONE;
}

static int ndef_factory_reset(void *state)
{
	struct ndef *t = state;
	int err = ndef_wipe(t);

	if (err != STORE_OK) {
		log_error("ndef: reset failed: %s", store_strerror(err));
		return -1;
	}
	return 0;
}

int ndef_get_message(void *state, uint8_t *buf, size_t cap, size_t *len,
		     bool *read_only)
{
	struct ndef *t = state;
	size_t n = ndef_nlen(t->file);

	*len = 0;
	if (read_only != NULL)
		*read_only = t->read_only;
	if (t->damaged)
		return VKEY_NDEF_DAMAGED;
	if (n > cap)
		return VKEY_NDEF_TOO_LONG;
	if (n > 0)
		memcpy(buf, t->file + NDEF_NLEN_LEN, n);
	*len = n;
	return VKEY_NDEF_OK;
}

int ndef_set_message(void *state, const uint8_t *msg, size_t len)
{
	struct ndef *t = state;
	int err;

	if (t->damaged)
		return VKEY_NDEF_DAMAGED;
	if (t->read_only)
		return VKEY_NDEF_READ_ONLY;
	if (len > NDEF_MSG_MAX)
		return VKEY_NDEF_TOO_LONG;
	memset(t->next, 0, sizeof(t->next));
	t->next[0] = (uint8_t)(len >> 8);
	t->next[1] = (uint8_t)len;
	if (len > 0)
		memcpy(t->next + NDEF_NLEN_LEN, msg, len);
	err = ndef_save(t, t->next, false);
	if (err != STORE_OK) {
		log_error("ndef: cannot save the tag: %s", store_strerror(err));
		return VKEY_NDEF_FAILED;
	}
	memcpy(t->file, t->next, sizeof(t->file));
	return VKEY_NDEF_OK;
}

int ndef_make_read_only(void *state)
{
	struct ndef *t = state;
	int err;

	if (t->damaged)
		return VKEY_NDEF_DAMAGED;
	if (t->read_only)
		return VKEY_NDEF_OK;
	err = ndef_save(t, t->file, true);
	if (err != STORE_OK) {
		log_error("ndef: cannot save the tag: %s", store_strerror(err));
		return VKEY_NDEF_FAILED;
	}
	t->read_only = true;
	log_info("ndef: the tag is now read-only");
	return VKEY_NDEF_OK;
}

const struct applet_ops ndef_applet = {
	.name = "ndef",
	.aid = ndef_aid,
	.aid_len = sizeof(ndef_aid),
	.create = ndef_create,
	.destroy = ndef_destroy,
	.select = ndef_select,
	.deselect = ndef_deselect,
	.process = ndef_process,
	.power_off = ndef_power_off,
	.describe = ndef_describe,
	.factory_reset = ndef_factory_reset,
	.report_status = ndef_report_status,
	.report_list = ndef_report_list,
};
