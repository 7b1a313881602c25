/* The FIDO applet: CTAP 2.1 §11.3 (ISO 7816 binding: NFCCTAP_MSG,
 * NFCCTAP_GETRESPONSE) and U2F raw messages, on top of the CTAP core. */
#include "applets/fido/fido.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apdu/sw.h"
#include "applets/fido/ctap_priv.h"
#include "core/key.h"
#include "core/log.h"
#include "services/crypto.h"
#include "services/up.h"

/* CTAP 2.1 §11.3 framing. */
#define CLA_ISO 0x00
#define CLA_CTAP 0x80
#define CLA_CHAIN_BIT 0x10
#define INS_NFCCTAP_MSG 0x10
#define INS_NFCCTAP_GETRESPONSE 0x11
#define NFCCTAP_P1_GETRESPONSE 0x80 /* client supports NFCCTAP_GETRESPONSE */
#define SW_CTAP_UPDATE 0x9100       /* still working; data: keepalive status */
#define STATUS_PROCESSING 0x01      /* keepalive statuses, as in CTAPHID */
#define STATUS_UPNEEDED 0x02

/* An NFCCTAP_MSG answers itself when done within FIRST_WAIT_MS (or at
 * once when a touch is needed); each NFCCTAP_GETRESPONSE is held up to
 * POLL_WAIT_MS, so a client that polls without pause (python-fido2
 * 0.9.1) asks ten times a second, not thousands. */
#define FIRST_WAIT_MS 100
#define POLL_WAIT_MS 100
#define SLICE_MS 5

static const uint8_t fido_aid[] = { 0xA0, 0x00, 0x00, 0x06,
				    0x47, 0x2F, 0x00, 0x01 };

/* An NFCCTAP_MSG running on its own thread, so that the binding keeps
 * answering 9100 updates while the command waits for a touch. */
struct fido_job {
	struct ctap *ctap;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* broadcast when done */
	bool done;         /* under mu */
	atomic_bool cancel;
	uint8_t *req;
	size_t req_len;
	uint8_t *rsp; /* APPLET_RESP_MAX bytes */
	size_t rsp_len;
};

struct fido {
	struct ctap *ctap;
	struct up *up;
	/* The command in flight, or NULL. While it runs, the struct ctap is
	 * the job's: every other entry point first abandons or collects it. */
	struct fido_job *job;
};

static const struct ctap_wait no_ticks = { NULL, NULL };

/* ---- timing helpers ---- */

static struct timespec deadline_in(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* ---- the job: one CTAP2 request on a worker thread ---- */

static int job_tick(void *arg)
{
	struct fido_job *j = arg;

	return atomic_load(&j->cancel) ? 1 : 0;
}

static void *job_main(void *arg)
{
	struct fido_job *j = arg;
	struct ctap_wait w = { job_tick, j };
	size_t n;

	n = ctap_cbor(j->ctap, j->req, j->req_len, j->rsp, APPLET_RESP_MAX, &w);
	pthread_mutex_lock(&j->mu);
	j->rsp_len = n;
	j->done = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* Free a job whose thread has ended or never started. Requests and
 * responses may hold PIN material: wiped. */
static void job_release(struct fido_job *j)
{
	if (j == NULL)
		return;
	if (j->req != NULL)
		crypto_wipe(j->req, j->req_len);
	if (j->rsp != NULL)
		crypto_wipe(j->rsp, APPLET_RESP_MAX);
	free(j->req);
	free(j->rsp);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

static struct fido_job *job_alloc(struct ctap *c, const uint8_t *req,
				  size_t len)
{
	struct fido_job *j = calloc(1, sizeof(*j));
	pthread_condattr_t ca;

	if (j == NULL)
		return NULL;
	j->ctap = c;
	atomic_init(&j->cancel, false);
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	j->req = malloc(len);
	j->rsp = malloc(APPLET_RESP_MAX);
	if (j->req == NULL || j->rsp == NULL) {
		job_release(j);
		return NULL;
	}
	memcpy(j->req, req, len);
	j->req_len = len;
	return j;
}

static int job_start(struct fido *f, const uint8_t *req, size_t len)
{
	struct fido_job *j = job_alloc(f->ctap, req, len);
	int r = -1;

	if (j == NULL)
		goto out;
	if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
		log_warn("fido: cannot start a worker; running the command "
			 "without 9100 updates");
		goto out;
	}
	f->job = j;
	j = NULL; /* transferred */
	r = 0;
out:
	job_release(j);
	return r;
}

/* Wait up to ms for the job to finish; with until_touch, also stop as
 * soon as it waits for user presence. True when it is done. */
static bool job_wait(struct fido *f, unsigned ms, bool until_touch)
{
	struct fido_job *j = f->job;
	struct timespec end = deadline_in(ms), now, slice;
	bool done;

	pthread_mutex_lock(&j->mu);
	while (!j->done) {
		if (until_touch && up_pending(f->up, NULL, 0))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!before(&now, &end))
			break;
		slice = until_touch ? deadline_in(SLICE_MS) : end;
		if (before(&end, &slice))
			slice = end;
		pthread_cond_timedwait(&j->cv, &j->mu, &slice);
	}
	done = j->done;
	pthread_mutex_unlock(&j->mu);
	return done;
}

static void job_join(struct fido *f)
{
	pthread_join(f->job->thread, NULL);
	job_release(f->job);
	f->job = NULL;
}

/* Stop the command in flight, if any, and drop its answer: the client
 * moved on (another command, SELECT, power off). A touch wait ends at
 * once (or at its next tick); anything else runs to its end. */
static void job_abandon(struct fido *f)
{
	if (f->job == NULL)
		return;
	atomic_store(&f->job->cancel, true);
	up_cancel(f->up);
	job_join(f);
	log_info("fido: command in flight abandoned");
}

/* The job's answer if it finishes within ms, else a 9100 update whose
 * data byte says whether it waits for a touch. */
static unsigned job_answer(struct fido *f, unsigned ms, bool until_touch,
			   struct wbuf *resp)
{
	unsigned sw = SW_CTAP_UPDATE;

	if (job_wait(f, ms, until_touch)) {
		wbuf_put(resp, f->job->rsp, f->job->rsp_len);
		job_join(f);
		sw = SW_OK;
		goto out;
	}
	wbuf_u8(resp, up_pending(f->up, NULL, 0) ? STATUS_UPNEEDED
						  : STATUS_PROCESSING);
out:
	return sw;
}

/* ---- NFCCTAP_MSG and NFCCTAP_GETRESPONSE ---- */

/* Run one request in the calling thread, straight into resp. */
static void run_sync(struct fido *f, const uint8_t *req, size_t len,
		     struct wbuf *resp)
{
	size_t room = wbuf_room(resp);
	size_t n = ctap_cbor(f->ctap, req, len, resp->p + resp->len, room,
			     &no_ticks);

	if (n > room)
		resp->overflow = true;
	else
		resp->len += n;
}

/* A touch can take time only under the prompt policy; auto and deny
 * answer at once, so commands there never need a worker. */
static bool touch_may_wait(const struct fido *f)
{
	return up_policy(f->up) == VKEY_UP_PROMPT;
}

/* CTAP 2.1 §11.3: data = command byte + CBOR; answer = status byte +
 * CBOR, always with 9000 (the CTAP status travels in the data). */
static unsigned nfcctap_msg(struct fido *f, const struct apdu *cmd,
			    struct wbuf *resp)
{
	const uint8_t *req = cmd->data;
	size_t len = cmd->lc;
	unsigned sw = SW_WRONG_P1P2;

	if (cmd->p2 != 0 ||
	    (cmd->p1 != 0 && cmd->p1 != NFCCTAP_P1_GETRESPONSE))
		goto out;
	sw = SW_WRONG_LENGTH;
	if (len == 0)
		goto out;
	sw = SW_OK;
	if (len > CTAP_MAX_MSG)
		wbuf_u8(resp, CTAP2_ERR_REQUEST_TOO_LARGE);
	else if (cmd->p1 == NFCCTAP_P1_GETRESPONSE && touch_may_wait(f) &&
		 job_start(f, req, len) == 0)
		sw = job_answer(f, FIRST_WAIT_MS, true, resp);
	else
		run_sync(f, req, len, resp);
out:
	return sw;
}

static unsigned nfcctap_get_response(struct fido *f, const struct apdu *cmd,
				     struct wbuf *resp)
{
	if (f->job == NULL)
		return SW_CONDITIONS_NOT_SATISFIED; /* nothing in flight */
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	return job_answer(f, POLL_WAIT_MS, false, resp);
}

/* Route on class and INS; U2F's own INS values live in u2f.c. */
static unsigned fido_process(void *state, const struct apdu *cmd,
			     struct wbuf *resp)
{
	struct fido *f = state;
	bool ctap_class = (cmd->cla & ~CLA_CHAIN_BIT) == CLA_CTAP;
	unsigned sw;

	if (ctap_class && cmd->ins == INS_NFCCTAP_GETRESPONSE) {
		sw = nfcctap_get_response(f, cmd, resp);
		goto out;
	}
	job_abandon(f); /* any other command supersedes the one in flight */
	if (cmd->cla == CLA_ISO)
		sw = ctap_u2f(f->ctap, cmd, resp, &no_ticks);
	else if (!ctap_class)
		sw = SW_CLA_NOT_SUPPORTED;
	else if (cmd->ins != INS_NFCCTAP_MSG)
		sw = SW_INS_NOT_SUPPORTED;
	else
		sw = nfcctap_msg(f, cmd, resp);
out:
	return sw;
}

/* ---- applet operations ---- */

static void fido_destroy(void *state)
{
	struct fido *f = state;

	if (f == NULL)
		return;
	job_abandon(f);
	if (f->ctap != NULL)
		ctap_destroy(f->ctap);
	free(f);
}

static int fido_create(struct vkey *key, void **state)
{
	struct fido *f = calloc(1, sizeof(*f));
	int r = -1;

	if (f == NULL)
		goto out;
	f->up = vkey_up(key);
	if (ctap_create(key, &f->ctap) != 0) {
		log_error("fido: cannot load the CTAP state");
		goto out;
	}
	*state = f;
	f = NULL; /* transferred */
	r = 0;
out:
	fido_destroy(f);
	return r;
}

/* CTAP 2.1 §11.3 (applet selection): "U2F_V2" for an authenticator that
 * also speaks U2F (clients then probe CTAP2 with getInfo), "FIDO_2_0"
 * for CTAP2 only: with alwaysUv on, or U2F switched off by the management
 * application. */
static unsigned fido_select(void *state, const struct apdu *cmd,
			    struct wbuf *resp)
{
	static const char u2f_and_ctap2[] = "U2F_V2", ctap2_only[] = "FIDO_2_0";
	struct fido *f = state;

	(void)cmd;
	job_abandon(f);
	if (!ctap_u2f_on(f->ctap))
		wbuf_put(resp, ctap2_only, sizeof(ctap2_only) - 1);
	else
		wbuf_put(resp, u2f_and_ctap2, sizeof(u2f_and_ctap2) - 1);
	return SW_OK;
}

static void fido_forget(void *state)
{
	struct fido *f = state;

	job_abandon(f);
}

static void fido_power_on(void *state)
{
	struct fido *f = state;

	job_abandon(f);
	ctap_power_up(f->ctap);
}

/* Command names only: requests carry PINs, hashes and challenges. */
static void fido_describe(const struct apdu *cmd, char *out, size_t cap)
{
	const char *what = NULL;

	if ((cmd->cla & ~CLA_CHAIN_BIT) == CLA_CTAP) {
		if (cmd->ins == INS_NFCCTAP_GETRESPONSE)
			what = "NFCCTAP_GETRESPONSE";
		else if (cmd->ins == INS_NFCCTAP_MSG && cmd->lc > 0) {
			snprintf(out, cap, "CTAP2 %s",
				 ctap_command_name(cmd->data[0]));
			return;
		}
	} else if (cmd->cla == CLA_ISO) {
		if (cmd->ins == 0x01)
			what = "U2F REGISTER";
		else if (cmd->ins == 0x02 && cmd->p1 == 0x07)
			what = "U2F AUTHENTICATE check-only";
		else if (cmd->ins == 0x02)
			what = "U2F AUTHENTICATE";
		else if (cmd->ins == 0x03)
			what = "U2F VERSION";
	}
	if (what != NULL)
		snprintf(out, cap, "%s", what);
}

static int fido_factory_reset(void *state)
{
	struct fido *f = state;

	fido_forget(f);
	return ctap_factory_reset(f->ctap);
}

/* Reports come from the control socket's thread; a command on the
 * worker owns the CTAP state until it ends. */
static int busy_line(const struct fido *f, struct wbuf *out)
{
	static const char busy[] = "fido: busy with a command\n";

	if (f->job == NULL)
		return 0;
	wbuf_put(out, busy, sizeof(busy) - 1);
	return 1;
}

static int fido_report_status(void *state, struct wbuf *out)
{
	struct fido *f = state;

	if (busy_line(f, out))
		return 0;
	return ctap_report_status(f->ctap, out);
}

static int fido_report_list(void *state, struct wbuf *out)
{
	struct fido *f = state;

	if (busy_line(f, out))
		return 0;
	return ctap_report_list(f->ctap, out);
}

struct ctap *fido_ctap(void *state)
{
	return ((struct fido *)state)->ctap;
}

/* The per-key attestation CA in PEM, for relying parties under test. */
static int fido_report_attestation(void *state, struct wbuf *out)
{
	struct fido *f = state;
	uint8_t *der = NULL;
	size_t der_len = 0;
	char *pem = NULL;
	int r = -1;

	if (ctap_attestation_ca(f->ctap, &der, &der_len) != 0)
		goto out;
	pem = crypto_x509_pem(der, der_len);
	if (pem == NULL)
		goto out;
	r = wbuf_put(out, pem, strlen(pem));
out:
	free(pem);
	free(der);
	return r;
}

const struct applet_ops fido_applet = {
	.name = "fido",
	.aid = fido_aid,
	.aid_len = sizeof(fido_aid),
	.send_remaining_ins = 0,
	.poll_ins = INS_NFCCTAP_GETRESPONSE,
	.create = fido_create,
	.destroy = fido_destroy,
	.select = fido_select,
	.deselect = fido_forget,
	.process = fido_process,
	.power_off = fido_forget,
	.power_on = fido_power_on,
	.describe = fido_describe,
	.factory_reset = fido_factory_reset,
	.report_status = fido_report_status,
	.report_list = fido_report_list,
	.report_attestation = fido_report_attestation,
};
