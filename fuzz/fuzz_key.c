/* Shared fuzz-harness support (see fuzz_key.h). */
#include "fuzz_key.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static struct vkey *key;
static char dir[96];
static char path[160];
static enum vkey_up_policy key_up;
static uint8_t resp[VKEY_APDU_MAX];
static size_t resp_len;
static pthread_mutex_t note_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t note_cv = PTHREAD_COND_INITIALIZER;
static unsigned notes;

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void cleanup(void)
{
	vkey_close(key);
	key = NULL;
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static struct vkey *open_at_path(void)
{
	struct vkey_options opt = { .up = key_up, .state_path = path };
	char err[256];

	if (vkey_open(&key, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		key = NULL;
	}
	return key;
}

/* A new folder for the state file: in /dev/shm when there is one, where
 * the store's fsyncs cost nothing (two to three times the inputs per
 * second for targets that write), else in /tmp. */
static int make_dir(const char *name)
{
	static const char *const bases[] = { "/dev/shm", "/tmp" };

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/vkey-fuzz-%.32s-XXXXXX",
			 bases[i], name);
		if (mkdtemp(dir) != NULL)
			return 0;
	}
	perror("fuzz: mkdtemp");
	return -1;
}

struct vkey *fuzz_key_open(const char *name, enum vkey_up_policy up)
{
	if (make_dir(name) != 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/state.vkey", dir);
	key_up = up;
	if (open_at_path() == NULL)
		return NULL;
	atexit(cleanup);
	return key;
}

struct vkey *fuzz_key_renew(void)
{
	vkey_close(key);
	key = NULL;
	/* the state file and whatever the store keeps beside it */
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	if (mkdir(dir, 0700) != 0) {
		perror("fuzz: mkdir");
		return NULL;
	}
	return open_at_path();
}

unsigned fuzz_apdu(const uint8_t *cmd, size_t n)
{
	resp_len = 0;
	if (key == NULL ||
	    vkey_apdu(key, cmd, n, resp, sizeof(resp), &resp_len) != 0 ||
	    resp_len < 2 || resp_len > sizeof(resp))
		abort();
	return (unsigned)(resp[resp_len - 2] << 8 | resp[resp_len - 1]);
}

const uint8_t *fuzz_last_response(size_t *len)
{
	*len = resp_len;
	return resp;
}

void fuzz_apdu_sequence(const uint8_t *data, size_t size, size_t max)
{
	fuzz_apdu_sequence_hooked(data, size, max, NULL);
}

void fuzz_apdu_sequence_hooked(const uint8_t *data, size_t size, size_t max,
			       fuzz_apdu_hook hook)
{
	size_t off = 1, count;

	if (size < 1)
		return;
	count = data[0] % (max + 1);
	for (size_t i = 0; i < count && size - off >= 2; i++) {
		size_t n = (size_t)(data[off] << 8 | data[off + 1]);
		uint8_t *cmd;

		off += 2;
		if (n > size - off)
			n = size - off;
		cmd = malloc(n ? n : 1);
		if (cmd == NULL)
			break;
		memcpy(cmd, data + off, n);
		if (hook == NULL || !hook(cmd, n))
			fuzz_apdu(cmd, n);
		free(cmd);
		off += n;
	}
}

void fuzz_notify(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&note_mu);
	notes++;
	pthread_cond_broadcast(&note_cv);
	pthread_mutex_unlock(&note_mu);
}

unsigned fuzz_notes(void)
{
	unsigned n;

	pthread_mutex_lock(&note_mu);
	n = notes;
	pthread_mutex_unlock(&note_mu);
	return n;
}

int fuzz_noted(unsigned seen, unsigned ms)
{
	struct timespec ts;
	int got;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&note_mu);
	while (notes == seen &&
	       pthread_cond_timedwait(&note_cv, &note_mu, &ts) == 0)
		;
	got = notes != seen;
	pthread_mutex_unlock(&note_mu);
	return got;
}
