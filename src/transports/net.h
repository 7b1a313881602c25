/* Socket pieces the TCP transports (usbredir, USB/IP) share: address
 * parsing, loopback checks, listening sockets, non-blocking send and recv
 * with the transports' conventions. */
#ifndef VKEY_NET_H
#define VKEY_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool is_unix;
};

/* HOST:PORT or [V6]:PORT, resolved once. With default_port != 0 also HOST
 * or [V6] alone (that port) and :PORT (127.0.0.1). Port 0 (the kernel
 * picks one) only when any_port. what names the option in err. Returns 0, -2 when s is not
 * such an address (err says why), -1 when it does not resolve. */
int net_parse_tcp(const char *s, const char *what, uint16_t default_port,
		  bool any_port, struct net_addr *a, char *err, size_t errlen);
/* A unix socket path. */
int net_parse_unix(const char *s, const char *what, struct net_addr *a,
		   char *err, size_t errlen);
/* True for 127/8, ::1 and unix sockets. */
bool net_is_loopback(const struct net_addr *a);
/* "HOST:PORT" ("[V6]:PORT") of a numeric address. */
void net_format(const struct net_addr *a, char *buf, size_t cap);
/* The address a socket is bound to, or its peer's. 0 or -1. */
int net_local_addr(int fd, struct net_addr *a);
int net_peer_addr(int fd, struct net_addr *a);

/* A non-blocking, close-on-exec listening TCP socket (SO_REUSEADDR), or
 * -1 with a sentence in err. */
int net_listen_tcp(const struct net_addr *a, int backlog, const char *what,
		   char *err, size_t errlen);
/* TCP_NODELAY (every report is a small write the host waits for) and
 * keepalives (a peer that vanished without a FIN is noticed). */
void net_tcp_options(int fd);

/* Bytes moved (> 0), 0 when the socket would block, -1 when the peer is
 * gone (errors other than a reset logged with label). */
int net_recv(int fd, uint8_t *buf, size_t cap, const char *label);
int net_send(int fd, const uint8_t *buf, size_t len, const char *label);

int64_t net_now_ms(void);

#endif
