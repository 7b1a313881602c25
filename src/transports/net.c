/* Socket pieces shared by the TCP transports: see net.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "transports/net.h"

/* TCP keepalive: a peer gone without a FIN is noticed in about a minute. */
#define KEEPALIVE_IDLE_S 30
#define KEEPALIVE_INTVL_S 10
#define KEEPALIVE_CNT 3

int net_parse_unix(const char *s, const char *what, struct net_addr *a,
		   char *err, size_t errlen)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;

	if (strlen(s) >= sizeof un->sun_path) {
		snprintf(err, errlen, "%s socket path too long: %s", what, s);
		return -1;
	}
	memset(a, 0, sizeof *a);
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, s, strlen(s) + 1);
	a->len = (socklen_t)sizeof *un;
	a->is_unix = true;
	return 0;
}

/* Split s into host and port text; host may come out empty (":PORT") and
 * port NULL (no port given). */
static int split(const char *s, char *host, size_t cap, const char **port)
{
	const char *colon, *end;
	size_t hl;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -1;
		hl = (size_t)(end - s - 1);
		*port = end[1] == ':' ? end + 2 : NULL;
		s++;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return -1; /* a bare IPv6 address needs brackets */
		hl = colon != NULL ? (size_t)(colon - s) : strlen(s);
		*port = colon != NULL ? colon + 1 : NULL;
	}
	if (hl >= cap)
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	return 0;
}

static int parse_port(const char *p, bool any_port, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (p[0] < '0' || p[0] > '9')
		return -1;
	v = strtoul(p, &end, 10);
	if (*end != '\0' || v > 65535 || (v == 0 && !any_port))
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int net_parse_tcp(const char *s, const char *what, uint16_t default_port,
		  bool any_port, struct net_addr *a, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	const char *port_text;
	char host[256], port[8];
	uint16_t pn = default_port;
	int rc, r = -1;

	if (s[0] == '\0' || split(s, host, sizeof host, &port_text) != 0 ||
	    (port_text == NULL && default_port == 0) ||
	    (port_text != NULL && parse_port(port_text, any_port, &pn) != 0) ||
	    (host[0] == '\0' && default_port == 0)) {
		snprintf(err, errlen, "%s address '%s' is not %s (port %d-65535; "
			 "an IPv6 address in brackets)", what, s,
			 default_port ? "HOST:PORT, HOST or :PORT" : "HOST:PORT",
			 any_port ? 0 : 1);
		r = -2;
		goto out;
	}
	if (host[0] == '\0')
		snprintf(host, sizeof host, "127.0.0.1");
	snprintf(port, sizeof port, "%u", pn);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 || res == NULL || res->ai_addrlen > sizeof a->ss) {
		snprintf(err, errlen, "%s: cannot resolve %s: %s", what, host,
			 rc != 0 ? gai_strerror(rc) : "no address");
		goto out;
	}
	memset(a, 0, sizeof *a);
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	r = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	return r;
}

bool net_is_loopback(const struct net_addr *a)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET)
		return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	if (a->ss.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	return true;
}

void net_format(const struct net_addr *a, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->is_unix || a->ss.ss_family == AF_UNIX) {
		snprintf(buf, cap, "%s", ((const struct sockaddr_un *)&a->ss)->sun_path);
	} else if (a->ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
		snprintf(buf, cap, "%s:%u", host, ntohs(in4->sin_port));
	} else if (a->ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		snprintf(buf, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, cap, "?");
	}
}

int net_local_addr(int fd, struct net_addr *a)
{
	memset(a, 0, sizeof *a);
	a->len = sizeof a->ss;
	return getsockname(fd, (struct sockaddr *)&a->ss, &a->len) == 0 ? 0 : -1;
}

int net_peer_addr(int fd, struct net_addr *a)
{
	memset(a, 0, sizeof *a);
	a->len = sizeof a->ss;
	return getpeername(fd, (struct sockaddr *)&a->ss, &a->len) == 0 ? 0 : -1;
}

int net_listen_tcp(const struct net_addr *a, int backlog, const char *what,
		   char *err, size_t errlen)
{
	static const int one = 1;
	char name[300];
	int fd;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == 0 &&
		    listen(fd, backlog) == 0)
			return fd;
	}
	net_format(a, name, sizeof name);
	snprintf(err, errlen, "%s %s: %s", what, name, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

void net_tcp_options(int fd)
{
	static const int one = 1, idle = KEEPALIVE_IDLE_S;
	static const int intvl = KEEPALIVE_INTVL_S, cnt = KEEPALIVE_CNT;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
}

int net_recv(int fd, uint8_t *buf, size_t cap, const char *label)
{
	ssize_t n;

	do
		n = recv(fd, buf, cap, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return (int)n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0 && errno != ECONNRESET)
		log_info("%s: recv: %s", label, strerror(errno));
	return -1;
}

int net_send(int fd, const uint8_t *buf, size_t len, const char *label)
{
	ssize_t n;

	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return (int)n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0 && errno != EPIPE && errno != ECONNRESET)
		log_info("%s: send: %s", label, strerror(errno));
	return -1;
}

int64_t net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
