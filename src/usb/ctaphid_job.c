/* CTAPHID's threads: a worker runs the MSG/CBOR request (which may wait for
 * a touch); a timer sends its KEEPALIVEs and times out stalled messages. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "usb/ctaphid.h"
#include "vkey/vkey.h"

/* A tick within this long means the core is waiting for a touch (it
 * ticks every 100 ms, only then). */
#define UP_TICK_FRESH_MS 500
#define U2F_HEADER_LEN 4 /* CLA INS P1 P2 */

bool hid_job_busy(const struct hid *h)
{
	return h->job.state != JOB_IDLE;
}

bool hid_job_owner(const struct hid *h, uint32_t cid)
{
	return h->job.state != JOB_IDLE && !h->job.abandoned &&
	       h->job.cid == cid;
}

void hid_job_start(struct hid *h, const struct hid_chan *ch)
{
	struct hid_job *j = &h->job;

	if (hid_job_busy(h)) {
		hid_error(h, ch->cid, ERR_CHANNEL_BUSY);
		return;
	}
	if (ch->want < (ch->cmd == CTAPHID_MSG ? U2F_HEADER_LEN : 1)) {
		hid_error(h, ch->cid, ERR_INVALID_LEN);
		return;
	}
	memcpy(j->req, ch->msg, ch->want);
	j->req_len = ch->want;
	j->cmd = ch->cmd;
	j->cid = ch->cid;
	j->cancel = j->abandoned = false;
	j->last_tick_ms = 0;
	j->next_keepalive_ms = hid_now_ms() + CTAPHID_KEEPALIVE_MS;
	j->state = JOB_QUEUED;
	pthread_cond_signal(&h->work_cv);
	pthread_cond_signal(&h->timer_cv);
}

void hid_job_cancel(struct hid *h, uint32_t cid)
{
	if (hid_job_owner(h, cid))
		h->job.cancel = true;
}

void hid_job_abandon(struct hid *h, uint32_t cid)
{
	struct hid_job *j = &h->job;

	if (j->state == JOB_IDLE ||
	    (cid != CTAPHID_RESERVED_CID && j->cid != cid))
		return;
	if (j->state == JOB_QUEUED) {
		explicit_bzero(j->req, j->req_len);
		j->state = JOB_IDLE;
		return;
	}
	j->abandoned = true; /* the worker drops the answer */
}

/* ---- the worker ---- */

/* Called by the core about every 100 ms while it waits for a touch; a
 * non-zero return ends the wait. */
static int job_tick(void *arg)
{
	struct hid *h = arg;
	int stop;

	pthread_mutex_lock(&h->mu);
	h->job.last_tick_ms = hid_now_ms();
	stop = h->job.cancel || h->job.abandoned || h->stop;
	pthread_mutex_unlock(&h->mu);
	return stop;
}

/* Without the lock: while RUNNING, req and rsp are the worker's. The
 * answer stays within the transport's limit (answer_max, set before the
 * threads ever run a job). */
static size_t job_run(struct hid *h, uint8_t cmd, size_t len)
{
	struct hid_job *j = &h->job;
	size_t cap = h->answer_max < sizeof(j->rsp) ? h->answer_max
						    : sizeof(j->rsp);

	if (cmd == CTAPHID_CBOR) /* §11.2.9.1.2 */
		return vkey_ctap_cbor(h->key, j->req, len, j->rsp, cap,
				      job_tick, h);
	return vkey_ctap_msg(h->key, j->req, len, j->rsp, cap, /* §11.2.9.1.1 */
			     job_tick, h);
}

static void job_finish(struct hid *h, size_t n)
{
	struct hid_job *j = &h->job;

	if (j->abandoned)
		log_debug("ctaphid: channel %08" PRIx32 ": answer dropped",
			  j->cid);
	else if (n == 0)
		hid_error(h, j->cid, ERR_OTHER);
	else
		(void)hid_send(h, j->cid, j->cmd, j->rsp, n);
	explicit_bzero(j->req, j->req_len);
	explicit_bzero(j->rsp, n);
	j->req_len = 0;
	j->cancel = j->abandoned = false;
	j->state = JOB_IDLE;
}

static void *worker_main(void *arg)
{
	struct hid *h = arg;
	uint8_t cmd;
	size_t len, n;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->stop && h->job.state != JOB_QUEUED)
			pthread_cond_wait(&h->work_cv, &h->mu);
		if (h->stop)
			break;
		h->job.state = JOB_RUNNING;
		cmd = h->job.cmd;
		len = h->job.req_len;
		pthread_mutex_unlock(&h->mu);
		n = job_run(h, cmd, len);
		pthread_mutex_lock(&h->mu);
		job_finish(h, n);
		hid_unlock(h);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* ---- the timer ---- */

/* §11.2.9.1.7: while a request runs, a KEEPALIVE every 100 ms: UPNEEDED
 * while the core waits for a touch (it ticks only then), PROCESSING
 * otherwise. Returns when the next one is due. */
static uint64_t keepalive(struct hid *h, uint64_t now)
{
	struct hid_job *j = &h->job;
	uint8_t status;

	if (j->state == JOB_IDLE || j->abandoned)
		return UINT64_MAX;
	if (now < j->next_keepalive_ms)
		return j->next_keepalive_ms;
	status = j->last_tick_ms != 0 &&
			 now - j->last_tick_ms <= UP_TICK_FRESH_MS
		 ? STATUS_UPNEEDED
		 : STATUS_PROCESSING;
	/* a host that is not reading needs only one */
	if (!hid_queue_has(h, j->cid, CTAPHID_KEEPALIVE))
		(void)hid_send(h, j->cid, CTAPHID_KEEPALIVE, &status, 1);
	j->next_keepalive_ms = now + CTAPHID_KEEPALIVE_MS;
	return j->next_keepalive_ms;
}

static struct timespec abs_ms(uint64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000u);
	ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
	return ts;
}

static void *timer_main(void *arg)
{
	struct hid *h = arg;
	uint64_t now, wake, t;

	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		now = hid_now_ms();
		wake = keepalive(h, now);
		t = hid_rx_timeouts(h, now);
		if (t < wake)
			wake = t;
		if (h->kick) {
			hid_unlock(h);
			pthread_mutex_lock(&h->mu);
			continue;
		}
		if (wake == UINT64_MAX) {
			pthread_cond_wait(&h->timer_cv, &h->mu);
		} else {
			struct timespec ts = abs_ms(wake);

			pthread_cond_timedwait(&h->timer_cv, &h->mu, &ts);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* ---- life cycle ---- */

static int cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	int r;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* hid_now_ms */
	r = pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
	return r;
}

static void stop_threads(struct hid *h)
{
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	hid_job_abandon(h, CTAPHID_RESERVED_CID);
	pthread_cond_broadcast(&h->work_cv);
	pthread_cond_broadcast(&h->timer_cv);
	pthread_mutex_unlock(&h->mu);
}

int hid_job_init(struct hid *h)
{
	int r = -1;
	bool worker = false;

	pthread_mutex_init(&h->mu, NULL);
	cond_init(&h->work_cv);
	cond_init(&h->timer_cv);
	if (pthread_create(&h->worker, NULL, worker_main, h) != 0)
		goto out;
	worker = true;
	if (pthread_create(&h->timer, NULL, timer_main, h) != 0)
		goto out;
	r = 0;
out:
	if (r != 0) {
		log_error("ctaphid: cannot start threads");
		stop_threads(h);
		if (worker)
			pthread_join(h->worker, NULL);
		pthread_cond_destroy(&h->timer_cv);
		pthread_cond_destroy(&h->work_cv);
		pthread_mutex_destroy(&h->mu);
	}
	return r;
}

/* Ends a running request at its next tick (a touch wait) or when the
 * core returns. */
void hid_job_fini(struct hid *h)
{
	stop_threads(h);
	pthread_join(h->worker, NULL);
	pthread_join(h->timer, NULL);
	pthread_cond_destroy(&h->timer_cv);
	pthread_cond_destroy(&h->work_cv);
	pthread_mutex_destroy(&h->mu);
}
