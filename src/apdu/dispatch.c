/* APDU dispatcher (see dispatch.h). Applets see one complete command at
 * a time and may answer up to APPLET_RESP_MAX bytes; this layer turns
 * that into what ISO/IEC 7816-4 clients expect. */
#include "apdu/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apdu/sw.h"
#include "core/log.h"
#include "services/crypto.h"

#define INS_SELECT 0xA4
#define INS_GET_RESPONSE 0xC0
#define SELECT_BY_DF_NAME 0x04
#define AID_MIN 5 /* a registered application provider identifier */
#define AID_MAX 16

struct answer {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

int dispatch_init(struct dispatch *d, struct vkey *key,
		  const struct applet_ops *const *ops, size_t n_ops)
{
	memset(d, 0, sizeof(*d));
	d->selected = -1;
	d->slots = calloc(n_ops ? n_ops : 1, sizeof(*d->slots));
	d->chain = malloc(DISPATCH_CHAIN_MAX);
	d->pending = malloc(APPLET_RESP_MAX);
	d->resp = malloc(APPLET_RESP_MAX);
	if (d->slots == NULL || d->chain == NULL || d->pending == NULL ||
	    d->resp == NULL)
		goto fail;
	for (size_t i = 0; i < n_ops; i++) {
		d->slots[i].ops = ops[i];
		d->slots[i].enabled = true;
		if (ops[i]->create(key, &d->slots[i].state) != 0) {
			log_error("applet %s failed to start", ops[i]->name);
			goto fail;
		}
		d->n_slots = i + 1;
	}
	return 0;
fail:
	dispatch_free(d);
	return -1;
}

static void wipe_free(uint8_t *p, size_t n)
{
	if (p != NULL)
		crypto_wipe(p, n); /* responses may hold codes or key material */
	free(p);
}

void dispatch_free(struct dispatch *d)
{
	for (size_t i = 0; i < d->n_slots; i++)
		d->slots[i].ops->destroy(d->slots[i].state);
	free(d->slots);
	wipe_free(d->chain, DISPATCH_CHAIN_MAX);
	wipe_free(d->pending, APPLET_RESP_MAX);
	wipe_free(d->resp, APPLET_RESP_MAX);
	memset(d, 0, sizeof(*d));
	d->selected = -1;
}

static void drop_pending(struct dispatch *d)
{
	if (d->pending_len > 0)
		crypto_wipe(d->pending, d->pending_len);
	d->pending_len = d->pending_off = 0;
}

static void drop_chain(struct dispatch *d)
{
	if (d->chain_len > 0)
		crypto_wipe(d->chain, d->chain_len);
	d->chain_len = 0;
	d->chain_active = 0;
}

static void deselect(struct dispatch *d)
{
	if (d->selected >= 0) {
		struct dispatch_slot *s = &d->slots[d->selected];
		if (s->ops->deselect != NULL)
			s->ops->deselect(s->state);
	}
	d->selected = -1;
}

void dispatch_power_off(struct dispatch *d)
{
	deselect(d);
	drop_pending(d);
	drop_chain(d);
	for (size_t i = 0; i < d->n_slots; i++)
		if (d->slots[i].ops->power_off != NULL)
			d->slots[i].ops->power_off(d->slots[i].state);
}

void dispatch_power_on(struct dispatch *d)
{
	for (size_t i = 0; i < d->n_slots; i++)
		if (d->slots[i].ops->power_on != NULL)
			d->slots[i].ops->power_on(d->slots[i].state);
}

struct dispatch_slot *dispatch_find(struct dispatch *d, const char *name)
{
	for (size_t i = 0; i < d->n_slots; i++)
		if (strcmp(d->slots[i].ops->name, name) == 0)
			return &d->slots[i];
	return NULL;
}

void dispatch_set_enabled(struct dispatch *d, struct dispatch_slot *s,
			  bool on)
{
	s->enabled = on;
	if (!on && d->selected >= 0 && &d->slots[d->selected] == s) {
		deselect(d);
		drop_pending(d);
		drop_chain(d);
	}
}

void dispatch_set_admit(struct dispatch_slot *s, dispatch_admit_fn fn,
			void *arg)
{
	s->admit = fn;
	s->admit_arg = arg;
}

/* Write data then SW; the caller guarantees room for the SW. */
static void answer(struct answer *a, const uint8_t *data, size_t n,
		   unsigned sw)
{
	if (n > a->cap - 2)
		n = a->cap - 2;
	if (n > 0)
		memcpy(a->buf, data, n);
	a->buf[n] = (uint8_t)(sw >> 8);
	a->buf[n + 1] = (uint8_t)sw;
	a->len = n + 2;
}

/* Send up to ne bytes of the pending response, announcing what is left. */
static void send_pending(struct dispatch *d, size_t ne, struct answer *a)
{
	size_t left = d->pending_len - d->pending_off;
	size_t n = left < ne ? left : ne;
	const uint8_t *p = d->pending + d->pending_off;
	unsigned sw;

	d->pending_off += n;
	left -= n;
	sw = left == 0 ? d->pending_sw
		       : SW_BYTES_REMAINING(left > 255 ? 0 : left);
	answer(a, p, n, sw);
	if (left == 0)
		drop_pending(d);
}

/* ISO 7816-4 §5.4.1 class byte. Returns 0 when the class is accepted. */
static unsigned check_class(uint8_t cla)
{
	if (cla == 0xFF)
		return SW_CLA_NOT_SUPPORTED;
	if ((cla & 0xE0) == 0x00 || (cla & 0xE0) == 0x80) {
		/* First interindustry class, or a proprietary class built the
		 * same way (CTAP's 80/90): channel in b1-b2, SM in b3-b4. */
		if ((cla & 0x03) != 0)
			return SW_LOGICAL_CHANNEL_UNSUP;
		if ((cla & 0x0C) != 0 && (cla & 0x80) == 0)
			return SW_SECURE_MESSAGING_UNSUP;
		return 0;
	}
	if ((cla & 0xC0) == 0x40)
		return SW_LOGICAL_CHANNEL_UNSUP; /* further interindustry */
	return SW_CLA_NOT_SUPPORTED;
}

static int aid_matches(const struct applet_ops *ops, const uint8_t *aid,
		       size_t len)
{
	size_t n = len < ops->aid_len ? len : ops->aid_len;

	/* Partial selection (a prefix of our AID) or a full AID that extends
	 * ours with version and serial (OpenPGP, PIV). */
	return n >= AID_MIN && memcmp(ops->aid, aid, n) == 0;
}

static unsigned do_select(struct dispatch *d, const struct apdu *cmd,
			  struct wbuf *w)
{
	unsigned sw;
	int found = -1;

	if (cmd->p1 != SELECT_BY_DF_NAME)
		return 0; /* not ours: the selected applet handles files */
	if ((cmd->p2 & 0x03) != 0)
		return SW_WRONG_P1P2; /* only "first or only occurrence" */
	if (cmd->lc < AID_MIN || cmd->lc > AID_MAX)
		return SW_FILE_NOT_FOUND;
	/* A switched-off applet is not there at all: a partial AID may then
	 * select the next applet it matches, as it would on a card without
	 * it. */
	for (size_t i = 0; i < d->n_slots && found < 0; i++)
		if (d->slots[i].enabled &&
		    aid_matches(d->slots[i].ops, cmd->data, cmd->lc))
			found = (int)i;
	if (found < 0)
		return SW_FILE_NOT_FOUND;
	if (found != d->selected)
		deselect(d);
	sw = d->slots[found].ops->select(d->slots[found].state, cmd, w);
	/* A terminated application stays selected so that ACTIVATE FILE
	 * can reach it. */
	d->selected = sw == SW_OK || sw == SW_SELECTED_TERMINATED ? found
								  : -1;
	return sw;
}

/* Gather a chained command. Returns 0 when cmd is complete (possibly
 * rewritten to point at the gathered data), or a SW to answer now. */
static unsigned gather_chain(struct dispatch *d, struct apdu *cmd)
{
	int more = apdu_chained(cmd);

	if (d->chain_active &&
	    (cmd->ins != d->chain_ins || cmd->p1 != d->chain_p1 ||
	     cmd->p2 != d->chain_p2 ||
	     (cmd->cla & 0xEF) != (d->chain_cla & 0xEF)))
		drop_chain(d); /* a different command abandons the chain */
	if (!d->chain_active && !more)
		return 0;
	if (cmd->lc > DISPATCH_CHAIN_MAX - d->chain_len) {
		drop_chain(d);
		return SW_WRONG_LENGTH;
	}
	if (!d->chain_active) {
		d->chain_active = 1;
		d->chain_cla = cmd->cla;
		d->chain_ins = cmd->ins;
		d->chain_p1 = cmd->p1;
		d->chain_p2 = cmd->p2;
	}
	if (cmd->lc > 0)
		memcpy(d->chain + d->chain_len, cmd->data, cmd->lc);
	d->chain_len += cmd->lc;
	if (more)
		return SW_OK;
	cmd->cla = (uint8_t)(cmd->cla & 0xEF);
	cmd->data = d->chain;
	cmd->lc = d->chain_len;
	/* The last APDU's form decides Ne: a chain of short APDUs without
	 * Le takes 256 bytes, the rest through GET RESPONSE. */
	d->chain_active = 0; /* data stays until the command has run */
	return 0;
}

static int is_get_response(const struct dispatch *d, const struct apdu *cmd)
{
	uint8_t alt = 0;

	if (d->selected >= 0)
		alt = d->slots[d->selected].ops->send_remaining_ins;
	return (cmd->cla & 0x80) == 0 &&
	       (cmd->ins == INS_GET_RESPONSE || (alt != 0 && cmd->ins == alt));
}

static void log_command(const struct dispatch *d, const struct apdu *cmd,
			unsigned sw, size_t out_len, double ms)
{
	const struct applet_ops *ops =
		d->selected >= 0 ? d->slots[d->selected].ops : NULL;
	char desc[160] = "";

	if (!log_enabled(LOG_INFO))
		return;
	if (ops != NULL && ops->poll_ins != 0 && cmd->ins == ops->poll_ins &&
	    !log_enabled(LOG_DEBUG))
		return;
	if (cmd->ins == INS_SELECT && cmd->p1 == SELECT_BY_DF_NAME &&
	    (cmd->cla & 0x80) == 0) {
		/* AIDs are public: name what was asked for. */
		int n = snprintf(desc, sizeof(desc), "SELECT ");
		for (size_t i = 0; i < cmd->lc && i < AID_MAX; i++)
			n += snprintf(desc + n, sizeof(desc) - (size_t)n,
				      "%02X", cmd->data[i]);
	} else if (ops != NULL && ops->describe != NULL) {
		ops->describe(cmd, desc, sizeof(desc));
	}
	if (desc[0] == '\0')
		snprintf(desc, sizeof(desc), "INS %02X", cmd->ins);
	if (!log_enabled(LOG_DEBUG)) {
		log_info("%s: %s -> %04X (%.3f ms)", ops ? ops->name : "-",
			 desc, sw, ms);
		return;
	}
	log_debug("%s: %s CLA=%02X INS=%02X P1=%02X P2=%02X Lc=%zu Ne=%zu%s "
		  "-> %zu bytes, SW=%04X %s (%.3f ms)",
		  ops ? ops->name : "-", desc, cmd->cla, cmd->ins, cmd->p1,
		  cmd->p2, cmd->lc, cmd->le_present ? cmd->ne : 0,
		  cmd->extended ? " ext" : "", out_len, sw, sw_text(sw), ms);
	if (log_secrets()) {
		char hex[2 * 64 + 1];
		size_t n = cmd->lc < 64 ? cmd->lc : 64;
		for (size_t i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02X", cmd->data[i]);
		hex[2 * n] = '\0';
		log_debug("  data%s: %s", cmd->lc > 64 ? " (first 64)" : "",
			  hex);
	}
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Run a complete command: SELECT here, anything else in the applet. */
static void run_command(struct dispatch *d, const struct apdu *cmd,
			struct answer *a)
{
	struct wbuf w = wbuf_init(d->resp, APPLET_RESP_MAX);
	unsigned sw = 0;
	double t0 = now_ms();

	if (d->selected >= 0 && !d->slots[d->selected].enabled)
		deselect(d); /* however it came to be selected */
	if (cmd->ins == INS_SELECT && (cmd->cla & 0x80) == 0)
		sw = do_select(d, cmd, &w);
	if (sw == 0) {
		if (d->selected < 0) {
			sw = SW_INS_NOT_SUPPORTED; /* no application selected */
		} else {
			struct dispatch_slot *s = &d->slots[d->selected];
			if (s->admit != NULL)
				sw = s->admit(s->admit_arg, cmd);
			if (sw == 0)
				sw = s->ops->process(s->state, cmd, &w);
		}
	}
	if (w.overflow) {
		log_error("applet response overflowed its buffer");
		w.len = 0;
		sw = SW_UNKNOWN;
	}
	if (sw >= 0x6400 && sw < 0x7000) {
		/* Errors carry no data: never leak half an answer. */
		crypto_wipe(d->resp, w.len);
		w.len = 0;
	}
	log_command(d, cmd, sw, w.len, now_ms() - t0);
	if (sw == SW_OK && w.len > apdu_ne_or_default(cmd)) {
		memcpy(d->pending, d->resp, w.len);
		d->pending_len = w.len;
		d->pending_off = 0;
		d->pending_sw = sw;
		send_pending(d, apdu_ne_or_default(cmd), a);
	} else {
		answer(a, d->resp, w.len, sw);
	}
	crypto_wipe(d->resp, w.len);
}

void dispatch_apdu(struct dispatch *d, const uint8_t *buf, size_t len,
		   uint8_t *resp, size_t resp_cap, size_t *resp_len)
{
	struct answer a = { resp, resp_cap, 0 };
	struct apdu cmd;
	unsigned sw;

	sw = (unsigned)apdu_parse(buf, len, &cmd);
	if (sw == 0)
		sw = check_class(cmd.cla);
	if (sw != 0) {
		drop_chain(d);
		answer(&a, NULL, 0, sw);
		goto out;
	}
	if (is_get_response(d, &cmd)) {
		if (d->pending_len == 0)
			answer(&a, NULL, 0, SW_CONDITIONS_NOT_SATISFIED);
		else if (cmd.p1 != 0 || cmd.p2 != 0)
			answer(&a, NULL, 0, SW_WRONG_P1P2);
		else
			send_pending(d, apdu_ne_or_default(&cmd), &a);
		goto out;
	}
	drop_pending(d);
	sw = gather_chain(d, &cmd);
	if (sw != 0) {
		answer(&a, NULL, 0, sw);
		goto out;
	}
	run_command(d, &cmd, &a);
	if (cmd.data == d->chain)
		drop_chain(d);
out:
	*resp_len = a.len;
}
