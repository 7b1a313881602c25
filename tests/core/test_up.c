/* User-presence service: each policy, touch from another thread,
 * cancellation, timeout. */
#include <pthread.h>
#include <unistd.h>

#include "../check.h"
#include "services/up.h"

static void auto_approves_and_deny_refuses(void)
{
	struct up *a = up_new(VKEY_UP_AUTO, 1000);
	struct up *d = up_new(VKEY_UP_DENY, 1000);

	CHECK_EQ(up_request(a, "test", NULL, NULL), UP_APPROVED);
	CHECK_EQ(up_request(d, "test", NULL, NULL), UP_DENIED);
	up_free(a);
	up_free(d);
}

static void *toucher(void *arg)
{
	long r = up_touch(arg, 3000);
	return (void *)r;
}

static void prompt_waits_for_touch(void)
{
	struct up *up = up_new(VKEY_UP_PROMPT, 5000);
	pthread_t t;
	void *tr;

	/* The touch may come before the request: it waits for one. */
	pthread_create(&t, NULL, toucher, up);
	usleep(50000);
	CHECK_EQ(up_request(up, "test", NULL, NULL), UP_APPROVED);
	pthread_join(t, &tr);
	CHECK_EQ((long)tr, 0);
	up_free(up);
}

static void prompt_times_out(void)
{
	struct up *up = up_new(VKEY_UP_PROMPT, 200);

	CHECK_EQ(up_request(up, "test", NULL, NULL), UP_TIMEOUT);
	CHECK(!up_pending(up, NULL, 0));
	up_free(up);
}

static void touch_without_request_fails(void)
{
	struct up *up = up_new(VKEY_UP_PROMPT, 200);

	CHECK_EQ(up_touch(up, 100), -1);
	up_free(up);
}

static int ticks;

static int tick_cancel_after_three(void *arg)
{
	(void)arg;
	return ++ticks >= 3;
}

static void tick_runs_and_cancels(void)
{
	struct up *up = up_new(VKEY_UP_PROMPT, 5000);

	ticks = 0;
	CHECK_EQ(up_request(up, "test", tick_cancel_after_three, NULL),
		 UP_CANCELLED);
	CHECK_EQ(ticks, 3);
	up_free(up);
}

static void *canceller(void *arg)
{
	char what[32];
	for (int i = 0; i < 100 && !up_pending(arg, what, sizeof(what)); i++)
		usleep(10000);
	up_cancel(arg);
	return NULL;
}

static void cancel_ends_wait(void)
{
	struct up *up = up_new(VKEY_UP_PROMPT, 5000);
	pthread_t t;

	pthread_create(&t, NULL, canceller, up);
	CHECK_EQ(up_request(up, "cancel me", NULL, NULL), UP_CANCELLED);
	pthread_join(t, NULL);
	up_free(up);
}

int main(void)
{
	RUN(auto_approves_and_deny_refuses);
	RUN(prompt_waits_for_touch);
	RUN(prompt_times_out);
	RUN(touch_without_request_fails);
	RUN(tick_runs_and_cancels);
	RUN(cancel_ends_wait);
	return CHECK_DONE();
}
