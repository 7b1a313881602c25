/* The NDEF applet's persisted form: one record holding the read-only
 * flag and the NDEF file, replaced whole by each change, so that the
 * file on disk is always one that a complete UPDATE BINARY left. */
#include "applets/ndef/ndef_priv.h"

#include <string.h>

#include "apdu/sw.h"
#include "core/key.h"
#include "core/log.h"

static const char rec_key[] = "tag";

unsigned ndef_store_sw(int err)
{
	switch (err) {
	case STORE_OK:
		return SW_OK;
	case STORE_FULL:
		return SW_NOT_ENOUGH_SPACE;
	default:
		return SW_MEMORY_FAILURE;
	}
}

static int decode(struct ndef *t, const uint8_t *rec, size_t len)
{
	size_t body;

	if (len < NDEF_REC_HDR || rec[0] != NDEF_REC_V1 ||
	    (rec[1] & ~NDEF_FLAG_READ_ONLY) != 0)
		return -1;
	body = len - NDEF_REC_HDR;
	if (body > NDEF_FILE_SIZE)
		return -1;
	memset(t->file, 0, sizeof(t->file));
	if (body > 0)
		memcpy(t->file, rec + NDEF_REC_HDR, body);
	if (ndef_nlen(t->file) > NDEF_MSG_MAX)
		return -1;
	t->read_only = (rec[1] & NDEF_FLAG_READ_ONLY) != 0;
	return 0;
}

void ndef_load(struct ndef *t)
{
	size_t len = 0;
	int err;

	memset(t->file, 0, sizeof(t->file));
	t->read_only = false;
	t->damaged = false;
	err = store_get_into(vkey_store(t->key), NDEF_NS, rec_key,
			     sizeof(rec_key) - 1, t->rec, sizeof(t->rec), &len);
	if (err == STORE_NOT_FOUND)
		return; /* factory state: an empty, writable tag */
	if (err == STORE_OK && decode(t, t->rec, len) == 0)
		return;
	log_error("ndef: the stored tag is unreadable (%s); it reads as "
		  "empty and refuses changes until the applet is reset",
		  err == STORE_OK ? "bad record" : store_strerror(err));
	memset(t->file, 0, sizeof(t->file));
	t->read_only = false;
	t->damaged = true;
}

/* Cut the file's trailing zeros: they read back as zeros anyway. */
static size_t used_len(const uint8_t *file)
{
	size_t n = NDEF_FILE_SIZE;

	while (n > 0 && file[n - 1] == 0)
		n--;
	return n;
}

int ndef_save(struct ndef *t, const uint8_t *file, bool read_only)
{
	size_t n = used_len(file);

	t->rec[0] = NDEF_REC_V1;
	t->rec[1] = read_only ? NDEF_FLAG_READ_ONLY : 0;
	memcpy(t->rec + NDEF_REC_HDR, file, n);
	return store_put(vkey_store(t->key), NDEF_NS, rec_key,
			 sizeof(rec_key) - 1, t->rec, NDEF_REC_HDR + n);
}

int ndef_wipe(struct ndef *t)
{
	int err = store_clear(vkey_store(t->key), NDEF_NS);

	if (err != STORE_OK)
		return err;
	memset(t->file, 0, sizeof(t->file));
	t->read_only = false;
	t->damaged = false;
	return STORE_OK;
}
