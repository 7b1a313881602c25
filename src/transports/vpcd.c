/* vpcd transport: one thread per key connects to vsmartcard's vpcd reader
 * driver (inside pcscd) over TCP and plays the card behind it. */
#include "transports/vpcd.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

/* vpcd wire format: 2-byte big-endian length, then the payload. A payload
 * of one byte is a control; anything longer is a command APDU. */
#define VPCD_HDR_LEN 2
#define VPCD_MSG_MAX 0xFFFF
#define VPCD_CTRL_LEN 1
#define VPCD_CTRL_OFF 0
#define VPCD_CTRL_ON 1
#define VPCD_CTRL_RESET 2
#define VPCD_CTRL_ATR 4

#define ATR_MAX 33 /* ISO 7816-3 §8.2.1: at most 32 bytes after TS */

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 1000

/* Outcome of one socket step: the caller stops, retries or drops. */
enum io {
	IO_OK = 0,
	IO_STOP,   /* vpcd_stop was called */
	IO_CLOSED, /* peer closed the connection */
	IO_ERR,    /* socket error or protocol violation (already logged) */
};

struct vpcd {
	struct vkey *key;
	char name[96]; /* "host:port" for logs */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int stop_fd; /* eventfd: readable once vpcd_stop wants the thread out */
	pthread_t thread;
	atomic_int connected;
	atomic_bool stopping; /* set with stop_fd, checked between messages */
	bool powered;
	int last_errno; /* last connect failure, so repeats log at debug */
	uint8_t cmd[VPCD_MSG_MAX];
	/* Length prefix and response side by side, so a reply is one send. */
	uint8_t reply[VPCD_HDR_LEN + VKEY_APDU_MAX];
};

/* Wait until fd is ready for events, or stop is requested.
 * timeout_ms < 0 waits for ever. Returns IO_OK, IO_STOP or IO_ERR. */
static enum io wait_fd(struct vpcd *v, int fd, short events, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = v->stop_fd, .events = POLLIN },
		{ .fd = fd, .events = events },
	};
	nfds_t n = fd >= 0 ? 2 : 1;
	enum io r = IO_ERR;
	int rc;

	do
		rc = poll(p, n, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		log_warn("vpcd %s: poll: %s", v->name, strerror(errno));
		goto out;
	}
	if (p[0].revents) {
		r = IO_STOP;
		goto out;
	}
	/* A timeout with no fd is the back-off sleep finishing normally. */
	r = IO_OK;
out:
	return r;
}

/* Read exactly len bytes. TCP_QUICKACK is re-armed before every read:
 * pcscd's vpcd sends the length and the payload in two writes, and with a
 * delayed ACK here its Nagle timer costs ~40 ms per APDU. The socket is
 * non-blocking: poll (which also watches for stop) only when nothing is
 * there yet, so a busy connection pays one syscall less per read. */
static enum io recv_exact(struct vpcd *v, int fd, uint8_t *buf, size_t len)
{
	static const int one = 1;
	size_t got = 0;
	enum io r = IO_OK;

	while (got < len) {
		ssize_t n;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
		n = recv(fd, buf + got, len - got, 0);
		if (n == 0) {
			r = IO_CLOSED;
			goto out;
		}
		if (n < 0 && errno == EAGAIN) {
			r = wait_fd(v, fd, POLLIN, -1);
			if (r != IO_OK)
				goto out;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_warn("vpcd %s: recv: %s", v->name, strerror(errno));
			r = IO_ERR;
			goto out;
		}
		got += (size_t)n;
	}
out:
	return r;
}

/* Send a whole buffer; in practice one send() call, since the socket
 * buffer holds any reply, but a short send is finished rather than lost. */
static enum io send_all(struct vpcd *v, int fd, const uint8_t *buf, size_t len)
{
	size_t sent = 0;
	enum io r = IO_OK;

	while (sent < len) {
		ssize_t n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			r = wait_fd(v, fd, POLLOUT, -1);
			if (r != IO_OK)
				goto out;
			continue;
		}
		if (n < 0) {
			log_warn("vpcd %s: send: %s", v->name, strerror(errno));
			r = IO_ERR;
			goto out;
		}
		sent += (size_t)n;
	}
out:
	return r;
}

/* Prefix the payload already in v->reply[2..] with its length and send. */
static enum io send_reply(struct vpcd *v, int fd, size_t payload_len)
{
	v->reply[0] = (uint8_t)(payload_len >> 8);
	v->reply[1] = (uint8_t)payload_len;
	return send_all(v, fd, v->reply, VPCD_HDR_LEN + payload_len);
}

static void power_off(struct vpcd *v)
{
	if (v->powered)
		vkey_power_off(v->key);
	v->powered = false;
}

static void power_on(struct vpcd *v)
{
	vkey_power_on(v->key);
	v->powered = true;
}

static enum io handle_control(struct vpcd *v, int fd, uint8_t ctrl)
{
	enum io r = IO_OK;
	size_t n;

	switch (ctrl) {
	case VPCD_CTRL_OFF:
		log_debug("vpcd %s: power off", v->name);
		power_off(v);
		break;
	case VPCD_CTRL_ON:
		log_debug("vpcd %s: power on", v->name);
		power_on(v);
		break;
	case VPCD_CTRL_RESET:
		log_debug("vpcd %s: reset", v->name);
		power_off(v);
		power_on(v);
		break;
	case VPCD_CTRL_ATR:
		/* pcscd polls the ATR to check presence: no log line here. */
		n = vkey_atr(v->key, v->reply + VPCD_HDR_LEN, ATR_MAX);
		r = send_reply(v, fd, n);
		break;
	default:
		/* No reply: vpcd expects one only for the ATR. */
		log_warn("vpcd %s: unknown control 0x%02x ignored", v->name, ctrl);
		break;
	}
	return r;
}

static enum io handle_apdu(struct vpcd *v, int fd, size_t len)
{
	static const uint8_t sw_unknown[] = { 0x6F, 0x00 };
	uint8_t *resp = v->reply + VPCD_HDR_LEN;
	size_t rlen = 0;

	if (vkey_apdu(v->key, v->cmd, len, resp, VKEY_APDU_MAX, &rlen) != 0 ||
	    rlen > VPCD_MSG_MAX) {
		/* The wire cannot carry more than 65535 bytes: say so instead
		 * of sending a truncated response. */
		log_warn("vpcd %s: response of %zu bytes does not fit vpcd",
			 v->name, rlen);
		memcpy(resp, sw_unknown, sizeof sw_unknown);
		rlen = sizeof sw_unknown;
	}
	return send_reply(v, fd, rlen);
}

/* Read one message and act on it. */
static enum io serve_one(struct vpcd *v, int fd)
{
	uint8_t hdr[VPCD_HDR_LEN];
	size_t len;
	enum io r;

	r = recv_exact(v, fd, hdr, sizeof hdr);
	if (r != IO_OK)
		goto out;
	len = (size_t)hdr[0] << 8 | hdr[1];
	if (len == 0 || len > sizeof v->cmd || len > VKEY_APDU_MAX) {
		log_warn("vpcd %s: protocol error: message length %zu, "
			 "dropping the connection", v->name, len);
		r = IO_ERR;
		goto out;
	}
	r = recv_exact(v, fd, v->cmd, len);
	if (r != IO_OK)
		goto out;
	if (len == VPCD_CTRL_LEN)
		r = handle_control(v, fd, v->cmd[0]);
	else
		r = handle_apdu(v, fd, len);
out:
	return r;
}

static void set_sockopts(int fd)
{
	static const int one = 1;

	/* Replies go out at once (no Nagle), ACKs too (see recv_exact). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

/* The first failure of a kind is worth an info line; the same failure
 * every back-off period is not. */
static void log_connect_failure(struct vpcd *v, int err)
{
	enum log_level lvl = err == v->last_errno ? LOG_DEBUG : LOG_INFO;

	vlog(lvl, "vpcd %s: cannot connect (%s), retrying", v->name,
	     strerror(err));
	v->last_errno = err;
}

/* Connect without blocking past a stop request.
 * Returns IO_OK with *out set, IO_STOP, or IO_ERR (retry later). */
static enum io connect_once(struct vpcd *v, int *out)
{
	int fd = -1, err = 0;
	socklen_t elen = sizeof err;
	enum io r = IO_ERR;

	fd = socket(v->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&v->addr, v->addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto out;
		}
		r = wait_fd(v, fd, POLLOUT, -1);
		if (r != IO_OK)
			goto out;
		r = IO_ERR;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			err = errno;
		if (err != 0)
			goto out;
	}
	set_sockopts(fd);
	*out = fd;
	fd = -1; /* transferred */
	r = IO_OK;
out:
	if (r == IO_ERR && err != 0)
		log_connect_failure(v, err);
	if (fd >= 0)
		close(fd);
	return r;
}

/* Serve one connection until it drops or stop is requested; *talked says
 * whether any message was exchanged (the peer was a live vpcd). */
static enum io serve_connection(struct vpcd *v, int fd, bool *talked)
{
	enum io r;

	v->last_errno = 0;
	atomic_store(&v->connected, 1);
	log_info("vpcd %s: connected", v->name);
	while ((r = serve_one(v, fd)) == IO_OK) {
		*talked = true;
		/* Busy traffic may never make recv wait, hence never poll. */
		if (atomic_load(&v->stopping)) {
			r = IO_STOP;
			break;
		}
	}
	atomic_store(&v->connected, 0);
	/* A dropped reader is a card pulled out: the next session starts cold. */
	power_off(v);
	if (r != IO_STOP)
		log_info("vpcd %s: disconnected (%s)", v->name,
			 r == IO_CLOSED ? "closed by pcscd" : "error");
	return r;
}

static void *vpcd_thread(void *arg)
{
	struct vpcd *v = arg;
	int backoff = 0;
	enum io r = IO_OK;

	while (r != IO_STOP) {
		bool talked = false;
		int fd = -1;

		if (backoff > 0 && wait_fd(v, -1, 0, backoff) == IO_STOP)
			break;
		r = connect_once(v, &fd);
		if (r == IO_OK) {
			r = serve_connection(v, fd, &talked);
			close(fd);
		}
		/* Grow the pause only while nothing useful happens. */
		if (talked)
			backoff = BACKOFF_MIN_MS;
		else if (backoff < BACKOFF_MAX_MS)
			backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
		if (backoff > BACKOFF_MAX_MS)
			backoff = BACKOFF_MAX_MS;
	}
	return NULL;
}

/* Resolve host:port once, at start, so a typo fails the command line. */
static int resolve(struct vpcd *v, const char *host, uint16_t port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char serv[8];
	int rc, r = -1;

	snprintf(serv, sizeof serv, "%u", port);
	rc = getaddrinfo(host, serv, &hints, &res);
	if (rc != 0 || res == NULL || res->ai_addrlen > sizeof v->addr) {
		log_error("vpcd: cannot resolve %s: %s", host,
			  rc ? gai_strerror(rc) : "no address");
		goto out;
	}
	memcpy(&v->addr, res->ai_addr, res->ai_addrlen);
	v->addrlen = res->ai_addrlen;
	r = 0;
out:
	if (res)
		freeaddrinfo(res);
	return r;
}

struct vpcd *vpcd_start(struct vkey *key, const char *host, uint16_t port)
{
	struct vpcd *v = NULL, *ret = NULL;
	int rc;

	v = calloc(1, sizeof *v);
	if (v == NULL) {
		log_error("vpcd: out of memory");
		goto out;
	}
	v->key = key;
	v->stop_fd = -1;
	atomic_init(&v->connected, 0);
	atomic_init(&v->stopping, false);
	snprintf(v->name, sizeof v->name, "%s:%u", host, port);
	if (resolve(v, host, port) != 0)
		goto out;
	v->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->stop_fd < 0) {
		log_error("vpcd: eventfd: %s", strerror(errno));
		goto out;
	}
	rc = pthread_create(&v->thread, NULL, vpcd_thread, v);
	if (rc != 0) {
		log_error("vpcd: cannot start thread: %s", strerror(rc));
		goto out;
	}
	ret = v;
	v = NULL; /* transferred */
out:
	if (v != NULL) {
		if (v->stop_fd >= 0)
			close(v->stop_fd);
		free(v);
	}
	return ret;
}

void vpcd_stop(struct vpcd *v)
{
	static const uint64_t one = 1;

	if (v == NULL)
		return;
	atomic_store(&v->stopping, true);
	/* The thread may sit in a user-presence wait inside vkey_apdu (up to
	 * --up-timeout): cancel it rather than make stop wait that long. */
	vkey_cancel(v->key);
	if (write(v->stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
		log_warn("vpcd %s: cannot signal stop: %s", v->name,
			 strerror(errno));
	pthread_join(v->thread, NULL);
	close(v->stop_fd);
	free(v);
}

int vpcd_connected(const struct vpcd *v)
{
	return v != NULL && atomic_load(&v->connected);
}
