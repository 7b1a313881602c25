/* Control socket server and client (see ctl.h). Each connection gets a
 * short-lived thread, so a `touch` that waits never holds up `status`. */
#include "transports/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "vkey/admin.h"
#include "vkey/ndef.h"

/* A request fits one line; ndef-write carries a whole message in hex. */
#define CTL_LINE_MAX (64 + 2 * VKEY_NDEF_MSG_MAX)
#define CTL_REPLY_MAX 65536
#define CTL_CLIENTS_MAX 8
#define CTL_READ_MS 2000
#define CTL_TOUCH_DEFAULT_MS 15000
#define CTL_TOUCH_MAX_MS 600000

struct ctl {
	struct vkey *key;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	int wake[2];
	pthread_t thread;
	atomic_int clients;
};

struct client {
	struct ctl *ctl;
	int fd;
};

int ctl_default_path(const char *state, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s.ctl", state);

	if (n < 0 || (size_t)n >= cap ||
	    (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -1;
	return 0;
}

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Read one request line (bounded in size and time). */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	struct pollfd p = { fd, POLLIN, 0 };

	while (len + 1 < cap) {
		if (poll(&p, 1, CTL_READ_MS) <= 0)
			return -1;
		ssize_t n = recv(fd, buf + len, 1, 0);
		if (n <= 0)
			return -1;
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return 0;
		}
		len++;
	}
	return -1;
}

static int unhex(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(hex);

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char ch = hex[i];
		int d = ch >= '0' && ch <= '9'	 ? ch - '0'
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
						 : -1;
		if (d < 0)
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(d << 4);
		else
			out[i / 2] |= (uint8_t)d;
	}
	*len = n / 2;
	return 0;
}

/* ndef-read ("message HEX", "read-only yes|no"), ndef-write HEX,
 * ndef-clear, ndef-read-only: `vkey ndef` decodes and prints itself, so
 * the daemon and the direct path show the same text. */
static int handle_ndef(struct vkey *key, const char *verb, const char *arg,
		       char *reply, size_t cap)
{
	uint8_t *msg = malloc(VKEY_NDEF_MSG_MAX);
	size_t len = 0, n;
	bool ro = false;
	int r = VKEY_NDEF_FAILED;

	if (msg == NULL)
		goto out;
	if (strcmp(verb, "ndef-read") == 0) {
		r = vkey_ndef_read(key, msg, VKEY_NDEF_MSG_MAX, &len, &ro);
		if (r == VKEY_NDEF_OK) {
			n = (size_t)snprintf(reply, cap, "message ");
			for (size_t i = 0; i < len && n + 3 < cap; i++, n += 2)
				snprintf(reply + n, cap - n, "%02X", msg[i]);
			snprintf(reply + n, cap - n, "\nread-only %s\n",
				 ro ? "yes" : "no");
		}
	} else if (strcmp(verb, "ndef-write") == 0) {
		if (arg == NULL || unhex(arg, msg, VKEY_NDEF_MSG_MAX, &len) != 0)
			r = VKEY_NDEF_MALFORMED;
		else
			r = vkey_ndef_write(key, msg, len);
	} else if (strcmp(verb, "ndef-clear") == 0) {
		r = vkey_ndef_write(key, NULL, 0);
	} else if (strcmp(verb, "ndef-read-only") == 0) {
		r = vkey_ndef_set_read_only(key);
	} else {
		snprintf(reply, cap, "unknown request '%.32s'\n", verb);
		free(msg);
		return -1;
	}
out:
	if (r != VKEY_NDEF_OK)
		snprintf(reply, cap, "%s\n", vkey_ndef_strerror(r));
	free(msg);
	return r == VKEY_NDEF_OK ? 0 : -1;
}

/* export MODE.SECRET.PATH (secret and path in hex, MODE new or replace):
 * `vkey export` through the daemon, which holds the key open. The
 * backup's secret comes over this socket (0600, checked peers) and is
 * wiped from the request as soon as it is decoded. */
static int handle_export(struct vkey *key, char *arg, char *reply,
			 size_t cap)
{
	char *sec = arg != NULL ? strchr(arg, '.') : NULL;
	char *hpath = sec != NULL ? strchr(sec + 1, '.') : NULL;
	uint8_t *buf = malloc(CTL_LINE_MAX);
	char path[CTL_LINE_MAX / 2 + 1];
	size_t slen = 0, plen = 0;
	int r = -1;

	if (buf != NULL && hpath != NULL) {
		*sec++ = '\0';
		*hpath++ = '\0';
	}
	if (buf == NULL || hpath == NULL ||
	    (strcmp(arg, "new") != 0 && strcmp(arg, "replace") != 0) ||
	    unhex(hpath, (uint8_t *)path, sizeof(path) - 1, &plen) != 0 ||
	    plen == 0 || path[0] != '/' || memchr(path, 0, plen) != NULL ||
	    unhex(sec, buf, CTL_LINE_MAX, &slen) != 0 || slen == 0) {
		snprintf(reply, cap, "malformed export request\n");
	} else {
		struct vkey_seal to = { buf, slen };
		size_t n;

		path[plen] = '\0';
		r = vkey_export(key, path, &to, strcmp(arg, "replace") == 0,
				reply, cap - 1);
		n = strlen(reply);
		reply[n] = '\n';
		reply[n + 1] = '\0';
	}
	if (sec != NULL)
		explicit_bzero(sec, strlen(sec));
	if (buf != NULL) {
		explicit_bzero(buf, CTL_LINE_MAX);
		free(buf);
	}
	return r;
}

/* config SUB [NAME [VALUE]]: the value is the rest of the line, spaces
 * and all (a USB product string). */
static int handle_config(struct vkey *key, const char *sub, char *rest,
			 char *reply, size_t cap)
{
	char *value = NULL;

	if (rest != NULL) {
		value = strchr(rest, ' ');
		if (value != NULL)
			*value++ = '\0';
	}
	return vkey_config_run(key, sub, rest, value, reply, cap);
}

static void handle(struct ctl *c, int fd, char *req)
{
	char *reply = malloc(CTL_REPLY_MAX);
	char *save = NULL;
	const char *verb = strtok_r(req, " ", &save);
	const char *arg = strtok_r(NULL, " ", &save);
	int ok = -1;

	if (reply == NULL)
		return;
	reply[0] = '\0';
	if (verb == NULL) {
		snprintf(reply, CTL_REPLY_MAX, "empty request\n");
	} else if (strcmp(verb, "status") == 0) {
		ok = vkey_report_status(c->key, reply, CTL_REPLY_MAX) < 0 ? -1 : 0;
	} else if (strcmp(verb, "list") == 0 && arg != NULL) {
		ok = vkey_report_list(c->key, arg, reply, CTL_REPLY_MAX) < 0 ? -1 : 0;
	} else if (strcmp(verb, "fido-attestation") == 0 && arg != NULL) {
		ok = vkey_set_fido_attestation(c->key, arg);
		snprintf(reply, CTL_REPLY_MAX, ok == 0 ? "fido attestation: %s\n"
						       : "cannot set fido attestation to '%.16s'\n",
			 arg);
	} else if (strcmp(verb, "reset") == 0 && arg != NULL) {
		ok = vkey_reset_run(c->key, strcmp(arg, "all") == 0 ? NULL : arg,
				    reply, CTL_REPLY_MAX);
	} else if (strcmp(verb, "config") == 0 && arg != NULL) {
		ok = handle_config(c->key, arg, strtok_r(NULL, "", &save), reply,
				   CTL_REPLY_MAX);
	} else if (strncmp(verb, "ndef-", 5) == 0) {
		ok = handle_ndef(c->key, verb, arg, reply, CTL_REPLY_MAX);
	} else if (strcmp(verb, "export") == 0) {
		ok = handle_export(c->key, (char *)arg, reply, CTL_REPLY_MAX);
	} else if (strcmp(verb, "attestation") == 0) {
		ok = vkey_report_attestation(c->key, reply, CTL_REPLY_MAX) < 0 ? -1 : 0;
	} else if (strcmp(verb, "touch") == 0) {
		unsigned long ms = arg ? strtoul(arg, NULL, 10) : CTL_TOUCH_DEFAULT_MS;
		if (ms > CTL_TOUCH_MAX_MS)
			ms = CTL_TOUCH_MAX_MS;
		ok = vkey_touch(c->key, (unsigned)ms);
		snprintf(reply, CTL_REPLY_MAX, "%s\n",
			 ok == 0 ? "touch delivered"
				 : "no request for user presence arrived");
	} else {
		snprintf(reply, CTL_REPLY_MAX, "unknown request '%.32s'\n", verb);
	}
	send_all(fd, reply, strlen(reply));
	send_all(fd, ok == 0 ? "ok\n" : "error\n", ok == 0 ? 3 : 6);
	free(reply);
}

/* Only the daemon's own user and root may use the key: the socket file
 * is 0600 already, and the peer's credentials (taken by the kernel at
 * connect) are checked too, so a descriptor passed on or a socket made
 * reachable by mistake still lets nobody else in. */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    len != sizeof(cred)) {
		log_warn("control socket: no peer credentials (%s); refused",
			 strerror(errno));
		return false;
	}
	if (cred.uid == geteuid() || cred.uid == 0)
		return true;
	log_warn("control socket: peer uid %u (pid %ld) is neither uid %u "
		 "nor root; refused", (unsigned)cred.uid, (long)cred.pid,
		 (unsigned)geteuid());
	return false;
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	char req[CTL_LINE_MAX];

	/* The request is read first even from a peer refused, so that the
	 * refusal reaches it (closing on unread data would reset). */
	if (read_line(cl->fd, req, sizeof(req)) == 0) {
		if (peer_allowed(cl->fd))
			handle(cl->ctl, cl->fd, req);
		else
			send_all(cl->fd, "permission denied\nerror\n", 24);
	}
	explicit_bzero(req, sizeof(req)); /* an export carries its secret */
	close(cl->fd);
	atomic_fetch_sub(&cl->ctl->clients, 1);
	free(cl);
	return NULL;
}

static void serve_client(struct ctl *c, int fd)
{
	struct client *cl;
	pthread_t t;

	if (atomic_fetch_add(&c->clients, 1) >= CTL_CLIENTS_MAX)
		goto refuse;
	cl = malloc(sizeof(*cl));
	if (cl == NULL)
		goto refuse;
	cl->ctl = c;
	cl->fd = fd;
	if (pthread_create(&t, NULL, client_main, cl) != 0) {
		free(cl);
		goto refuse;
	}
	pthread_detach(t);
	return;
refuse:
	atomic_fetch_sub(&c->clients, 1);
	send_all(fd, "busy\nerror\n", 11);
	close(fd);
}

static void *accept_main(void *arg)
{
	struct ctl *c = arg;
	struct pollfd p[2] = { { c->fd, POLLIN, 0 }, { c->wake[0], POLLIN, 0 } };

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents != 0)
			break;
		if (p[0].revents & POLLIN) {
			int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				serve_client(c, fd);
		}
	}
	return NULL;
}

struct ctl *ctl_start(struct vkey *key, const char *path)
{
	struct ctl *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;
	mode_t old;

	if (c == NULL || make_addr(path, &sa) != 0) {
		log_error("control socket path too long: %s", path);
		free(c);
		return NULL;
	}
	c->key = key;
	c->wake[0] = c->wake[1] = -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* We hold the state file's lock, so a socket left here is stale. */
	unlink(path);
	old = umask(0177);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(c->fd, 8) != 0) {
		umask(old);
		log_error("control socket %s: %s", path, strerror(errno));
		goto fail;
	}
	umask(old);
	/* 0600 whatever the umask was when another thread changed it. */
	if (chmod(path, 0600) != 0) {
		log_error("control socket %s: %s", path, strerror(errno));
		goto fail;
	}
	if (pipe2(c->wake, O_CLOEXEC) != 0 ||
	    pthread_create(&c->thread, NULL, accept_main, c) != 0)
		goto fail;
	return c;
fail:
	if (c->fd >= 0)
		close(c->fd);
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	free(c);
	return NULL;
}

void ctl_stop(struct ctl *c)
{
	if (c == NULL)
		return;
	(void)!write(c->wake[1], "x", 1);
	pthread_join(c->thread, NULL);
	close(c->fd);
	close(c->wake[0]);
	close(c->wake[1]);
	unlink(c->path);
	/* Wait (bounded) for client threads that still use the key. */
	for (int i = 0; i < 200 && atomic_load(&c->clients) > 0; i++)
		usleep(10000);
	free(c);
}

/* Client side. */
int ctl_request(const char *path, const char *request, char *out,
		size_t cap, unsigned timeout_ms)
{
	struct sockaddr_un sa;
	struct pollfd p;
	size_t len = 0;
	int fd, r = -1;
	char *end;

	if (cap == 0 || make_addr(path, &sa) != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	send_all(fd, request, strlen(request));
	send_all(fd, "\n", 1);
	p.fd = fd;
	p.events = POLLIN;
	while (len + 1 < cap) {
		if (poll(&p, 1, (int)timeout_ms) <= 0)
			break;
		ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	/* The last line is the verdict. */
	if (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	end = strrchr(out, '\n');
	end = end ? end + 1 : out;
	r = strcmp(end, "ok") == 0 ? 0 : 1;
	*end = '\0';
	if (r == 1 && len == 0) {
		snprintf(out, cap, "no answer from the daemon\n");
	}
out:
	close(fd);
	return r;
}
