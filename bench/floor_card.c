/* The floor for PC/SC benchmarks: a do-nothing vpcd card (9000 to every
 * APDU) with the same socket options as vkey's vpcd transport. */
#include "floor_card.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct floor_card {
	int fd;
	pthread_t thread;
};

/* T=1, no historical bytes: 3B 80 80 01 01 (TCK 01). */
static const uint8_t floor_atr[] = { 0x3B, 0x80, 0x80, 0x01, 0x01 };

/* Exactly len bytes; QUICKACK re-armed first (see src/transports/vpcd.c). */
static int recv_exact(int fd, uint8_t *buf, size_t len)
{
	static const int one = 1;
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
		n = recv(fd, buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int send_msg(int fd, const uint8_t *p, size_t len)
{
	uint8_t buf[2 + 64];

	if (len > sizeof buf - 2)
		return -1;
	buf[0] = (uint8_t)(len >> 8);
	buf[1] = (uint8_t)len;
	memcpy(buf + 2, p, len);
	return send(fd, buf, len + 2, MSG_NOSIGNAL) == (ssize_t)(len + 2) ? 0 : -1;
}

static void *floor_thread(void *arg)
{
	static const uint8_t sw_ok[] = { 0x90, 0x00 };
	struct floor_card *c = arg;
	uint8_t hdr[2], msg[0xFFFF];

	for (;;) {
		size_t len;
		int r = 0;

		if (recv_exact(c->fd, hdr, sizeof hdr) != 0)
			break;
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (len == 0 || recv_exact(c->fd, msg, len) != 0)
			break;
		if (len == 1 && msg[0] == 4)
			r = send_msg(c->fd, floor_atr, sizeof floor_atr);
		else if (len > 1)
			r = send_msg(c->fd, sw_ok, sizeof sw_ok);
		if (r != 0)
			break;
	}
	return NULL;
}

/* pcscd may still be starting: retry for a few seconds. */
static int connect_retry(uint16_t port)
{
	static const int one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	int i, fd = -1;

	for (i = 0; i < 50; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			break;
		close(fd);
		fd = -1;
		nanosleep(&pause, NULL);
	}
	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

struct floor_card *floor_card_start(uint16_t port)
{
	struct floor_card *c = calloc(1, sizeof *c), *ret = NULL;

	if (c == NULL)
		goto out;
	c->fd = connect_retry(port);
	if (c->fd < 0) {
		fprintf(stderr, "floor card: cannot connect to 127.0.0.1:%u\n",
			port);
		goto out;
	}
	if (pthread_create(&c->thread, NULL, floor_thread, c) != 0)
		goto out;
	ret = c;
	c = NULL; /* transferred */
out:
	if (c != NULL && c->fd >= 0)
		close(c->fd);
	free(c);
	return ret;
}

void floor_card_stop(struct floor_card *c)
{
	if (c == NULL)
		return;
	/* shutdown wakes the thread's blocking recv. */
	shutdown(c->fd, SHUT_RDWR);
	pthread_join(c->thread, NULL);
	close(c->fd);
	free(c);
}
