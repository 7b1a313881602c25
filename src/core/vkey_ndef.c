/* The owner's side of the NDEF tag (see vkey/ndef.h): the applet's
 * content reached under the key's lock, and the message builders and
 * text form shared by the CLI and the control socket. */
#include "vkey/ndef.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "applets/ndef/ndef.h"
#include "applets/ndef/ndef_msg.h"
#include "core/vkey_impl.h"

/* As long as a report waits for a command to finish (a command may be
 * waiting for a touch). */
#define NDEF_LOCK_MS 2000

const char *vkey_ndef_strerror(int status)
{
	switch (status) {
	case VKEY_NDEF_OK:
		return "ok";
	case VKEY_NDEF_READ_ONLY:
		return "the NDEF tag is read-only";
	case VKEY_NDEF_TOO_LONG:
		return "the NDEF message is too long for the tag";
	case VKEY_NDEF_MALFORMED:
		return "not a well-formed NDEF message";
	case VKEY_NDEF_DAMAGED:
		return "the stored NDEF tag is unreadable; reset the ndef "
		       "applet";
	case VKEY_NDEF_BUSY:
		return "the key is busy with a command, try again";
	case VKEY_NDEF_BAD_ARG:
		return "invalid URI, text or language";
	default:
		return "the NDEF tag could not be read or saved";
	}
}

/* The NDEF applet's state with the key's lock held, or NULL (status in
 * *err). */
static void *lock_ndef(struct vkey *key, int *err)
{
	struct dispatch_slot *s = dispatch_find(&key->dispatch, "ndef");
	struct timespec ts;

	if (s == NULL) {
		*err = VKEY_NDEF_FAILED;
		return NULL;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += NDEF_LOCK_MS / 1000;
	if (pthread_mutex_timedlock(&key->lock, &ts) != 0) {
		*err = VKEY_NDEF_BUSY;
		return NULL;
	}
	return s->state;
}

int vkey_ndef_read(struct vkey *key, uint8_t *buf, size_t cap, size_t *len,
		   bool *read_only)
{
	int err = VKEY_NDEF_FAILED;
	void *t;

	*len = 0;
	if (read_only != NULL)
		*read_only = false;
	t = lock_ndef(key, &err);
	if (t == NULL)
		return err;
	err = ndef_get_message(t, buf, cap, len, read_only);
	pthread_mutex_unlock(&key->lock);
	return err;
}

int vkey_ndef_write(struct vkey *key, const uint8_t *msg, size_t len)
{
	int err = VKEY_NDEF_FAILED;
	size_t n;
	void *t;

	if (len > VKEY_NDEF_MSG_MAX)
		return VKEY_NDEF_TOO_LONG;
	if (len > 0 && (msg == NULL || ndef_msg_parse(msg, len, NULL, 0, &n,
						      NULL, 0) != NDEF_OK))
		return VKEY_NDEF_MALFORMED;
	t = lock_ndef(key, &err);
	if (t == NULL)
		return err;
	err = ndef_set_message(t, msg, len);
	pthread_mutex_unlock(&key->lock);
	return err;
}

int vkey_ndef_set_read_only(struct vkey *key)
{
	int err = VKEY_NDEF_FAILED;
	void *t = lock_ndef(key, &err);

	if (t == NULL)
		return err;
	err = ndef_make_read_only(t);
	pthread_mutex_unlock(&key->lock);
	return err;
}

/* One record of TNF well-known with a one-letter type, as a message. */
static int one_record(char type, const uint8_t *payload, size_t n,
		      uint8_t *out, size_t cap, size_t *len)
{
	const uint8_t t = (uint8_t)type;
	struct ndef_record rec = { .tnf = NDEF_TNF_WELL_KNOWN,
				   .type = &t,
				   .type_len = 1,
				   .payload = payload,
				   .payload_len = n };
	struct wbuf w = wbuf_init(out, cap);

	if (ndef_msg_encode(&rec, 1, &w) != NDEF_OK)
		return VKEY_NDEF_TOO_LONG;
	*len = w.len;
	return VKEY_NDEF_OK;
}

/* Build a record's payload with fn into a buffer as large as the tag,
 * then the message around it. */
static int build(int (*fn)(const void *arg, struct wbuf *w), const void *arg,
		 char type, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t *payload = malloc(VKEY_NDEF_MSG_MAX);
	struct wbuf w = wbuf_init(payload, VKEY_NDEF_MSG_MAX);
	int err;

	*len = 0;
	if (payload == NULL)
		return VKEY_NDEF_FAILED;
	err = fn(arg, &w);
	if (err == NDEF_ERR_SPACE)
		err = VKEY_NDEF_TOO_LONG;
	else if (err != NDEF_OK)
		err = VKEY_NDEF_BAD_ARG;
	else
		err = one_record(type, payload, w.len, out,
				 cap < VKEY_NDEF_MSG_MAX ? cap
							 : VKEY_NDEF_MSG_MAX,
				 len);
	free(payload);
	return err;
}

static int uri_payload(const void *arg, struct wbuf *w)
{
	const char *uri = arg;

	return ndef_uri_payload(uri, strlen(uri), w);
}

int vkey_ndef_uri_message(const char *uri, uint8_t *out, size_t cap,
			  size_t *len)
{
	*len = 0;
	if (uri == NULL)
		return VKEY_NDEF_BAD_ARG;
	return build(uri_payload, uri, 'U', out, cap, len);
}

struct text_arg {
	const char *lang, *text;
};

static int text_payload(const void *arg, struct wbuf *w)
{
	const struct text_arg *a = arg;

	return ndef_text_payload(a->lang, (const uint8_t *)a->text,
				 strlen(a->text), w);
}

int vkey_ndef_text_message(const char *lang, const char *text, uint8_t *out,
			   size_t cap, size_t *len)
{
	struct text_arg a = { lang, text };

	*len = 0;
	if (lang == NULL || text == NULL)
		return VKEY_NDEF_BAD_ARG;
	return build(text_payload, &a, 'T', out, cap, len);
}

int vkey_ndef_format(const uint8_t *msg, size_t len, bool read_only,
		     char *out, size_t cap)
{
	struct wbuf w;

	if (cap == 0)
		return -1;
	w = wbuf_init((uint8_t *)out, cap - 1);
	if (ndef_show(msg, len, read_only, &w) != 0) {
		out[0] = '\0';
		return -1;
	}
	out[w.len] = '\0';
	return (int)w.len;
}
