/* The CCID worker: APDUs and power changes run on it because they may
 * wait on the key (a touch, another transport's command); meanwhile a
 * ticker offers the host a time extension (CCID 1.1 §6.2.6). */
#include <string.h>

#include "usb/ccid_priv.h"
#include "vkey/vkey.h"

static struct timespec after_ms(struct timespec t, long ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static bool reached(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

void ccid_submit(struct ccid *c, const struct ccid_msg *m,
		 enum job_kind kind)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (kind != JOB_APDU) { /* a power change ends any chain */
		ccid_drop_rdata(c);
		explicit_bzero(c->apdu, c->apdu_len);
		c->apdu_len = 0;
		c->chaining = false;
	}
	c->job_kind = kind;
	c->job_reset = c->powered;
	c->job_queued = true;
	c->busy = true;
	c->busy_seq = m->seq;
	c->te_pending = false;
	c->te_next = after_ms(now, TIME_EXTENSION_MS);
	pthread_cond_broadcast(&c->cond);
}

/* Runs without the lock; returns the response length in wresp. */
static size_t run_job(struct ccid *c, enum job_kind kind, bool reset,
		      size_t len)
{
	size_t n = 0;

	switch (kind) {
	case JOB_APDU:
		if (vkey_apdu(c->key, c->wcmd, len, c->wresp, VKEY_APDU_MAX,
			      &n) != 0)
			n = 0;
		break;
	case JOB_POWER_ON:
		if (reset)
			vkey_power_off(c->key);
		vkey_power_on(c->key);
		n = vkey_atr(c->key, c->wresp, VKEY_APDU_MAX);
		break;
	case JOB_POWER_OFF:
		vkey_power_off(c->key);
		break;
	}
	return n;
}

/* Under the lock: the job's answer replaces the time extensions. */
static void finish_job(struct ccid *c, enum job_kind kind, size_t n)
{
	struct ccid_msg m = { .seq = c->busy_seq };

	c->busy = false;
	c->te_pending = false;
	if (kind == JOB_POWER_OFF) {
		c->powered = false;
		ccid_slot_status(c, &m);
		return;
	}
	if (kind == JOB_POWER_ON)
		c->powered = n > 0;
	if (n == 0) {
		m.type = PC_to_RDR_XfrBlock;
		ccid_fail(c, &m, kind == JOB_POWER_ON ? ICC_MUTE : HW_ERROR);
		return;
	}
	ccid_drop_rdata(c);
	memcpy(c->rdata, c->wresp, n);
	c->rdata_len = n;
	c->rdata_seq = c->busy_seq;
	c->rdata_due = true;
}

void *ccid_worker_main(void *arg)
{
	struct ccid *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && !c->job_queued)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->stop)
			break;
		enum job_kind kind = c->job_kind;
		bool reset = c->job_reset;
		size_t len = c->apdu_len, n;
		uint64_t gen = c->gen;

		memcpy(c->wcmd, c->apdu, len);
		explicit_bzero(c->apdu, len);
		c->apdu_len = 0;
		c->job_queued = false;
		pthread_mutex_unlock(&c->lock);

		n = run_job(c, kind, reset, len);
		explicit_bzero(c->wcmd, len);

		pthread_mutex_lock(&c->lock);
		if (gen == c->gen) /* else abandoned by ABORT or a reset */
			finish_job(c, kind, n);
		explicit_bzero(c->wresp, n);
		pthread_mutex_unlock(&c->lock);
		ccid_notify(c);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Offers a time extension every TIME_EXTENSION_MS while a job runs. */
void *ccid_ticker_main(void *arg)
{
	struct ccid *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		if (!c->busy) {
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		struct timespec due = c->te_next;
		if (!reached(&due)) {
			pthread_cond_timedwait(&c->cond, &c->lock, &due);
			continue;
		}
		c->te_pending = true;
		c->te_next = after_ms(due, TIME_EXTENSION_MS);
		pthread_mutex_unlock(&c->lock);
		ccid_notify(c);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Forget the job in flight: its answer, when it comes, is dropped. */
void ccid_abandon_job(struct ccid *c)
{
	if (c->busy)
		vkey_cancel(c->key); /* a touch wait ends now */
	c->gen++;
	c->busy = false;
	c->job_queued = false;
	c->te_pending = false;
	explicit_bzero(c->apdu, c->apdu_len);
	c->apdu_len = 0;
	c->chaining = false;
}
