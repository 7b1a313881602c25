/* struct vkey: one virtual key, owning its store, user-presence service
 * and applets. Every entry point is synchronous and serialized. */
#include "core/vkey_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apdu/sw.h"
#include "applets/fido/ctap.h"
#include "applets/fido/fido.h"
#include "applets/mgmt/mgmt.h"
#include "core/applet.h"
#include "core/key.h"
#include "core/log.h"
#include "vkey/admin.h"

#define UP_TIMEOUT_DEFAULT_MS 15000

/* The state file, sealed when opt says so (docs/SEALING.md). */
static int vkey_store_open(struct vkey *key, const struct vkey_options *opt,
			   char *err, size_t errlen)
{
	struct store_seal seal = { 0 };

	if (opt->seal != NULL) {
		seal.secret = opt->seal->secret;
		seal.len = opt->seal->len;
	}
	return store_open_sealed(&key->store, opt->state_path, opt->ctl_path,
				 opt->seal != NULL ? &seal : NULL, err,
				 errlen) == STORE_OK ? 0 : -1;
}

int vkey_reseal(struct vkey *key, const struct vkey_seal *next, char *err,
		size_t errlen)
{
	struct store_seal seal = { 0 };
	int r;

	if (next != NULL) {
		seal.secret = next->secret;
		seal.len = next->len;
	}
	pthread_mutex_lock(&key->lock);
	r = store_reseal(key->store, next != NULL ? &seal : NULL, err, errlen);
	pthread_mutex_unlock(&key->lock);
	return r == STORE_OK ? 0 : -1;
}

int vkey_sealed(const struct vkey *key)
{
	return store_is_sealed(key->store);
}

int vkey_open(struct vkey **out, const struct vkey_options *opt, char *err,
	      size_t errlen)
{
	struct vkey *key = NULL;
	unsigned timeout;
	int r = -1;

	*out = NULL;
	key = calloc(1, sizeof(*key));
	if (key == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	pthread_mutex_init(&key->lock, NULL);
	if (vkey_store_open(key, opt, err, errlen) != 0)
		goto out;
	timeout = opt->up_timeout_ms ? opt->up_timeout_ms
				     : UP_TIMEOUT_DEFAULT_MS;
	key->up = up_new(opt->up, timeout);
	if (key->up == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	key->ctap_msg_max = opt->ctap_msg_max >= VKEY_CTAP_MSG_MIN &&
					    opt->ctap_msg_max < VKEY_CTAP_MSG_MAX
				    ? opt->ctap_msg_max
				    : VKEY_CTAP_MSG_MAX;
	if (dispatch_init(&key->dispatch, key, applet_registry,
			  applet_registry_len) != 0) {
		snprintf(err, errlen, "%s: applets failed to start",
			 opt->state_path);
		goto out;
	}
	mgmt_attach(&key->dispatch); /* the persisted applet switches */
	key->powered = 1;
	key->serving = opt->serving;
	*out = key;
	key = NULL; /* transferred */
	r = 0;
out:
	vkey_close(key);
	return r;
}

void vkey_close(struct vkey *key)
{
	if (key == NULL)
		return;
	dispatch_free(&key->dispatch);
	up_free(key->up);
	store_close(key->store);
	pthread_mutex_destroy(&key->lock);
	free(key);
}

size_t vkey_ctap_msg_max(const struct vkey *key)
{
	return key->ctap_msg_max;
}

struct store *vkey_store(struct vkey *key)
{
	return key->store;
}

struct up *vkey_up(struct vkey *key)
{
	return key->up;
}

const char *vkey_state_path(const struct vkey *key)
{
	return store_path(key->store);
}

uint32_t vkey_serial(const struct vkey *key)
{
	return store_serial(key->store);
}

/* ISO/IEC 7816-3 ATR: direct convention, T=1 only, IFSC 254, then
 * compact-TLV historical bytes: card capabilities (full and partial DF
 * name selection, command chaining, extended Lc/Le) and "vkey" as the
 * card issuer's data. */
static const uint8_t atr_body[] = {
	0x3B, /* TS */
	0xFA, /* T0: TA1 TB1 TC1 TD1 present, 10 historical bytes */
	0x13, 0x00, 0x00,
	0x81, /* TD1: TD2 follows, T=1 */
	0x31, /* TD2: TA3 TB3 follow, T=1 */
	0xFE, /* TA3: IFSC 254 */
	0x15, /* TB3: BWI 1, CWI 5 */
	0x80, /* category: compact-TLV objects follow */
	0x73, 0xC0, 0x21, 0xC0, /* card capabilities */
	0x54, 'v', 'k', 'e', 'y', /* card issuer's data */
};

size_t vkey_atr(const struct vkey *key, uint8_t *buf, size_t cap)
{
	uint8_t tck = 0;

	(void)key;
	if (cap < sizeof(atr_body) + 1)
		return 0;
	memcpy(buf, atr_body, sizeof(atr_body));
	for (size_t i = 1; i < sizeof(atr_body); i++)
		tck ^= atr_body[i];
	buf[sizeof(atr_body)] = tck;
	return sizeof(atr_body) + 1;
}

void vkey_power_on(struct vkey *key)
{
	pthread_mutex_lock(&key->lock);
	if (!key->powered) {
		log_info("%s: power on", vkey_state_path(key));
		dispatch_power_on(&key->dispatch);
	}
	key->powered = 1;
	pthread_mutex_unlock(&key->lock);
}

void vkey_power_off(struct vkey *key)
{
	up_cancel(key->up);
	pthread_mutex_lock(&key->lock);
	dispatch_power_off(&key->dispatch);
	if (key->powered)
		log_info("%s: power off", vkey_state_path(key));
	key->powered = 0;
	pthread_mutex_unlock(&key->lock);
}

int vkey_apdu(struct vkey *key, const uint8_t *cmd, size_t cmd_len,
	      uint8_t *resp, size_t resp_cap, size_t *resp_len)
{
	if (resp_cap < 2)
		return -1;
	pthread_mutex_lock(&key->lock);
	if (!key->powered) /* a command implies the card is powered */
		dispatch_power_on(&key->dispatch);
	key->powered = 1;
	dispatch_apdu(&key->dispatch, cmd, cmd_len, resp, resp_cap, resp_len);
	pthread_mutex_unlock(&key->lock);
	return 0;
}

int vkey_touch(struct vkey *key, unsigned wait_ms)
{
	return up_touch(key->up, wait_ms);
}

void vkey_cancel(struct vkey *key)
{
	up_cancel(key->up);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The key's CTAP core; NULL when the FIDO applet is not installed. */
static struct ctap *key_ctap(struct vkey *key)
{
	struct dispatch_slot *s = dispatch_find(&key->dispatch, "fido");

	return s != NULL ? fido_ctap(s->state) : NULL;
}

/* Not under key->lock: a CTAP command may wait for a touch, and PC/SC
 * commands to other applets go on meanwhile. The ctap serializes its
 * own commands. */
size_t vkey_ctap_cbor(struct vkey *key, const uint8_t *req, size_t len,
		      uint8_t *resp, size_t cap, int (*tick)(void *arg),
		      void *arg)
{
	struct ctap_wait w = { tick, arg };
	struct ctap *c = key_ctap(key);
	double t0 = now_ms();
	size_t n;

	if (cap < 1)
		return 0;
	if (c == NULL || !vkey_applet_enabled(key, VKEY_APP_FIDO2)) {
		resp[0] = 0x01; /* CTAP1_ERR_INVALID_COMMAND: absent or off */
		return 1;
	}
	n = ctap_cbor(c, req, len, resp, cap, &w);
	/* One line per command, as the APDU path logs (names only). */
	log_info("fido: CTAP2 %s -> %s (%.3f ms)",
		 len > 0 ? ctap_command_name(req[0]) : "(empty)",
		 ctap_status_text(resp[0]), now_ms() - t0);
	return n;
}

/* U2F raw messages (FIDO U2F Raw Message Formats §3.1.3) always use the
 * extended encoding, and clients (python-fido2, libfido2) send a request
 * without data as CLA INS P1 P2 00 00 00 Le1 Le2: an Lc of zero, which
 * ISO 7816-4 does not allow but every U2F key accepts. */
static bool u2f_empty_extended(const uint8_t *req, size_t len)
{
	return len == 9 && req[4] == 0 && req[5] == 0 && req[6] == 0;
}

/* That request as the case 2E command it means. */
static int apdu_parse_u2f_empty(const uint8_t *req, struct apdu *cmd)
{
	uint8_t b[7];

	memcpy(b, req, 4);
	b[4] = 0;
	b[5] = req[7];
	b[6] = req[8];
	return apdu_parse(b, sizeof(b), cmd);
}

size_t vkey_ctap_msg(struct vkey *key, const uint8_t *req, size_t len,
		     uint8_t *resp, size_t cap, int (*tick)(void *arg),
		     void *arg)
{
	struct ctap_wait w = { tick, arg };
	struct ctap *c = key_ctap(key);
	double t0 = now_ms();
	struct wbuf out;
	struct apdu cmd;
	unsigned sw;

	if (cap < 2)
		return 0;
	out = wbuf_init(resp, cap - 2);
	sw = (unsigned)apdu_parse(req, len, &cmd);
	if (sw != 0 && u2f_empty_extended(req, len))
		sw = (unsigned)apdu_parse_u2f_empty(req, &cmd);
	if (sw == 0)
		sw = c != NULL && vkey_applet_enabled(key, VKEY_APP_U2F)
			     ? ctap_u2f(c, &cmd, &out, &w)
			     : SW_INS_NOT_SUPPORTED;
	if (out.overflow || (sw >= 0x6400 && sw < 0x7000))
		out.len = 0; /* errors carry no data */
	log_info("fido: U2F INS %02X -> %04X (%.3f ms)", len > 1 ? req[1] : 0,
		 sw, now_ms() - t0);
	resp[out.len] = (uint8_t)(sw >> 8);
	resp[out.len + 1] = (uint8_t)sw;
	return out.len + 2;
}

int vkey_set_fido_attestation(struct vkey *key, const char *mode)
{
	struct ctap *c = key_ctap(key);

	if (c == NULL || mode == NULL)
		return -1;
	if (strcmp(mode, "self") == 0)
		return ctap_set_self_attestation(c, true);
	if (strcmp(mode, "packed") == 0)
		return ctap_set_self_attestation(c, false);
	return -1;
}
