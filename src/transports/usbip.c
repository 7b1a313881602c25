/* The USB/IP server: one listening TCP socket, one thread, any number of
 * connections in one poll loop. Sockets are non-blocking and each
 * connection has its own bounded output queue, so a slow or silent client
 * holds up nobody else; the device models' workers do the key's work, this
 * thread only moves bytes (usbip_conn.c speaks the protocol). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "transports/net.h"
#include "transports/usbip.h"
#include "transports/usbip_wire.h"

#define KEYS_MAX 127
#define CLIENTS_MAX 32
/* A connection that has not imported a device must finish its request in
 * this time (the usbip tool sends it at once). */
#define OP_TIMEOUT_MS 10000
/* A client with output queued that takes nothing for this long stopped
 * reading: it is dropped and its device offered again. */
#define STALL_MS 10000
#define TICK_MS 500
#define ADDR_MAX 80 /* "[IPv6]:port" */
#define LABEL_MAX (2 * ADDR_MAX + 32)

/* Bus events of one device run on its own thread, in order: a key busy
 * with a long command delays only its own device (usbip.h). */
#define BUS_QUEUE 64

struct bus_item {
	struct usb_dev *dev;
	uint8_t devnum;
	enum usbip_bus_event ev;
};

struct bus_worker {
	struct usbip_server *s;
	uint8_t devnum;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct bus_item q[BUS_QUEUE];
	size_t head, n;
	bool stop;
};

struct client {
	int fd;
	struct usbip_conn *c;
	int64_t opened_ms;
	int64_t last_write_ms;
	char label[LABEL_MAX];
};

struct usbip_server {
	char addr[ADDR_MAX];
	char label[LABEL_MAX];
	int listen_fd;
	int stop_fd; /* eventfd: the thread must leave */
	int wake_fd; /* eventfd: a device has IN data */
	struct usbip_table *table;
	struct usb_dev *devs[KEYS_MAX];
	struct bus_worker *workers[KEYS_MAX];
	size_t n_devs;
	struct client *clients[CLIENTS_MAX];
	size_t n_clients;
	pthread_t thread;
	bool running;
};

int usbip_check_addr(const char *addr, bool *loopback, char *err,
		     size_t errlen)
{
	struct net_addr a;

	if (net_parse_tcp(addr, "usbip", USBIP_PORT_DEFAULT, true, &a, err,
			  errlen) != 0)
		return -1;
	if (loopback != NULL)
		*loopback = net_is_loopback(&a);
	return 0;
}

int usbip_addr_canonical(const char *addr, char *out, size_t cap)
{
	struct net_addr a;
	char err[256];

	if (net_parse_tcp(addr, "usbip", USBIP_PORT_DEFAULT, true, &a, err,
			  sizeof err) != 0)
		return -1;
	net_format(&a, out, cap);
	return 0;
}

/* --- one client -------------------------------------------------------- */

static int client_read(void *arg, uint8_t *buf, size_t cap)
{
	struct client *cl = arg;

	return net_recv(cl->fd, buf, cap, cl->label);
}

static int client_write(void *arg, const uint8_t *buf, size_t len)
{
	struct client *cl = arg;
	int n = net_send(cl->fd, buf, len, cl->label);

	if (n > 0)
		cl->last_write_ms = net_now_ms();
	return n;
}

static void client_close(struct client *cl)
{
	usbip_conn_free(cl->c); /* detaches an imported device */
	close(cl->fd);
	free(cl);
}

/* Full: the oldest connection that has not imported a device makes room
 * (idle connections cannot lock importers out). */
static bool evict_idle(struct usbip_server *s)
{
	size_t oldest = CLIENTS_MAX;

	for (size_t i = 0; i < s->n_clients; i++)
		if (usbip_conn_devnum(s->clients[i]->c) == 0 &&
		    (oldest == CLIENTS_MAX ||
		     s->clients[i]->opened_ms < s->clients[oldest]->opened_ms))
			oldest = i;
	if (oldest == CLIENTS_MAX)
		return false;
	log_info("%s: %d connections open; closing the oldest idle one",
		 s->clients[oldest]->label, CLIENTS_MAX);
	client_close(s->clients[oldest]);
	s->clients[oldest] = s->clients[--s->n_clients];
	return true;
}

static void accept_clients(struct usbip_server *s)
{
	for (;;) {
		struct usbip_io io = { client_read, client_write, NULL };
		struct net_addr peer;
		char pname[ADDR_MAX];
		struct client *cl;
		int fd = accept4(s->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("%s: accept: %s", s->label, strerror(errno));
			return;
		}
		if (s->n_clients == CLIENTS_MAX && !evict_idle(s)) {
			log_warn("%s: %d connections open; refusing another",
				 s->label, CLIENTS_MAX);
			close(fd);
			continue;
		}
		cl = calloc(1, sizeof *cl);
		if (cl == NULL) {
			close(fd);
			continue;
		}
		net_tcp_options(fd);
		cl->fd = fd;
		cl->opened_ms = cl->last_write_ms = net_now_ms();
		if (net_peer_addr(fd, &peer) == 0)
			net_format(&peer, pname, sizeof pname);
		else
			snprintf(pname, sizeof pname, "?");
		snprintf(cl->label, sizeof cl->label, "%s (peer %s)", s->addr, pname);
		io.arg = cl;
		cl->c = usbip_conn_new(s->table, &io, cl->label);
		if (cl->c == NULL) {
			close(fd);
			free(cl);
			continue;
		}
		snprintf(cl->label, sizeof cl->label, "usbip %s (peer %s)",
			 s->addr, pname);
		log_debug("%s: connected", cl->label);
		s->clients[s->n_clients++] = cl;
	}
}

/* Timeouts: a request never finished, or a client that stopped reading. */
static bool client_expired(const struct client *cl, int64_t now)
{
	if (usbip_conn_devnum(cl->c) == 0 &&
	    now - cl->opened_ms > OP_TIMEOUT_MS) {
		log_info("%s: no complete request in %d s; closing", cl->label,
			 OP_TIMEOUT_MS / 1000);
		return true;
	}
	if (usbip_conn_queued(cl->c) > 0 && now - cl->last_write_ms > STALL_MS) {
		log_warn("%s: the client stopped reading; dropping the "
			 "connection", cl->label);
		return true;
	}
	return false;
}

/* Read, answer, write; false when the connection is over. Twice: input
 * left unparsed while the output queue was full is taken up as soon as a
 * write made room, without waiting for more bytes from the peer. */
static bool client_serve(struct client *cl, short revents, int64_t now)
{
	enum usbip_status st = USBIP_OK;

	if ((revents & (POLLERR | POLLHUP)) && !(revents & POLLIN))
		st = USBIP_CLOSED;
	for (int i = 0; i < 2 && st == USBIP_OK; i++) {
		if (usbip_conn_wants_input(cl->c))
			st = usbip_conn_read(cl->c);
		if (st == USBIP_OK) {
			usbip_conn_pump(cl->c);
			st = usbip_conn_write(cl->c);
		}
	}
	if (st == USBIP_ERROR)
		log_info("%s: closing after a protocol error", cl->label);
	return st == USBIP_OK && !client_expired(cl, now);
}

/* --- the thread ------------------------------------------------------------ */

static void drain(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof v);
}

static void serve_round(struct usbip_server *s)
{
	struct pollfd p[3 + CLIENTS_MAX];
	struct client *polled[CLIENTS_MAX];
	size_t n = s->n_clients, kept = 0;
	int64_t now;
	int rc, timeout = TICK_MS;

	p[0] = (struct pollfd){ s->stop_fd, POLLIN, 0 };
	p[1] = (struct pollfd){ s->wake_fd, POLLIN, 0 };
	p[2] = (struct pollfd){ s->listen_fd, POLLIN, 0 };
	for (size_t i = 0; i < n; i++) {
		struct client *cl = s->clients[i];
		short ev = usbip_conn_wants_input(cl->c) ? POLLIN : 0;

		if (usbip_conn_queued(cl->c) > 0)
			ev |= POLLOUT;
		polled[i] = cl;
		p[3 + i] = (struct pollfd){ cl->fd, ev, 0 };
	}
	for (size_t i = 0; i < n; i++) {
		int t = usbip_conn_timeout_ms(s->clients[i]->c);

		if (t >= 0 && t < timeout)
			timeout = t;
	}
	do
		rc = poll(p, 3 + n, timeout);
	while (rc < 0 && errno == EINTR);
	if (p[0].revents) {
		s->running = false;
		return;
	}
	if (p[1].revents)
		drain(s->wake_fd);
	now = net_now_ms();
	for (size_t i = 0; i < n; i++) {
		if (client_serve(polled[i], p[3 + i].revents, now))
			s->clients[kept++] = polled[i];
		else
			client_close(polled[i]);
	}
	s->n_clients = kept;
	if (p[2].revents)
		accept_clients(s);
}

static void *usbip_thread(void *arg)
{
	struct usbip_server *s = arg;

	while (s->running)
		serve_round(s);
	return NULL;
}

/* A device's notify: any thread, so only poke the eventfd. */
static void wake(void *arg)
{
	struct usbip_server *s = arg;
	static const uint64_t one = 1;

	(void)!write(s->wake_fd, &one, sizeof one);
}

/* --- bus events ------------------------------------------------------------ */

static void *bus_thread(void *arg)
{
	struct bus_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct bus_item it;

		while (w->n == 0 && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->n == 0)
			break; /* stopping, and every queued event has run */
		it = w->q[w->head];
		w->head = (w->head + 1) % BUS_QUEUE;
		w->n--;
		pthread_mutex_unlock(&w->lock);
		usbip_bus_run(it.dev, it.ev);
		usbip_table_bus_done(w->s->table, it.devnum);
		wake(w->s); /* the device's connection may go on */
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void bus_queue(void *arg, struct usb_dev *dev, uint8_t devnum,
		      enum usbip_bus_event ev)
{
	struct usbip_server *s = arg;
	struct bus_worker *w = NULL;

	for (size_t i = 0; i < s->n_devs && w == NULL; i++)
		if (s->workers[i]->devnum == devnum)
			w = s->workers[i];
	pthread_mutex_lock(&w->lock);
	if (w->n == BUS_QUEUE) { /* usbip_conn bounds imports: never */
		pthread_mutex_unlock(&w->lock);
		log_error("%s: bus event queue of 1-%u full; running it now",
			  s->label, devnum);
		usbip_bus_run(dev, ev);
		usbip_table_bus_done(s->table, devnum);
		return;
	}
	w->q[(w->head + w->n) % BUS_QUEUE] = (struct bus_item){ dev, devnum, ev };
	w->n++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static struct bus_worker *worker_new(struct usbip_server *s, uint8_t devnum)
{
	struct bus_worker *w = calloc(1, sizeof *w);

	if (w == NULL)
		return NULL;
	w->s = s;
	w->devnum = devnum;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, bus_thread, w) != 0) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		free(w);
		return NULL;
	}
	return w;
}

/* Runs what is queued (the detaches of closed connections), then ends. */
static void worker_free(struct bus_worker *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

/* --- start and stop ----------------------------------------------------------- */

static void destroy(struct usbip_server *s)
{
	while (s->n_clients > 0)
		client_close(s->clients[--s->n_clients]);
	for (size_t i = 0; i < s->n_devs; i++)
		worker_free(s->workers[i]);
	for (size_t i = 0; i < s->n_devs; i++) {
		usb_dev_set_notify(s->devs[i], NULL, NULL);
		usb_dev_free(s->devs[i]);
	}
	usbip_table_free(s->table);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s);
}

static int add_keys(struct usbip_server *s, const struct usbip_key *keys,
		    size_t n_keys, struct usb_pcap *pcap, char *err,
		    size_t errlen)
{
	if (n_keys == 0 || n_keys > KEYS_MAX) {
		snprintf(err, errlen, "usbip: 1..%d keys per server", KEYS_MAX);
		return -1;
	}
	for (size_t i = 0; i < n_keys; i++) {
		struct usb_dev *d = usb_dev_new(keys[i].key, keys[i].ident);

		if (d == NULL) {
			snprintf(err, errlen, "usbip: cannot create the USB device");
			return -1;
		}
		s->workers[s->n_devs] = worker_new(s, keys[i].devnum);
		s->devs[s->n_devs++] = d;
		if (s->workers[s->n_devs - 1] == NULL) {
			snprintf(err, errlen, "usbip: cannot start a thread");
			return -1;
		}
		if (usbip_table_add(s->table, d, keys[i].devnum, pcap) != 0) {
			snprintf(err, errlen, "usbip: bad or repeated device "
				 "number %u", keys[i].devnum);
			return -1;
		}
		usb_dev_set_notify(d, wake, s);
	}
	usbip_table_set_bus(s->table,
			    &(struct usbip_bus){ bus_queue, s });
	return 0;
}

static int setup(struct usbip_server *s, const char *addr,
		 const struct usbip_key *keys, size_t n_keys,
		 struct usb_pcap *pcap, char *err, size_t errlen)
{
	struct net_addr a, bound;
	int rc;

	if (net_parse_tcp(addr, "usbip", USBIP_PORT_DEFAULT, true, &a, err,
			  errlen) != 0)
		return -1;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->table = usbip_table_new();
	if (s->stop_fd < 0 || s->wake_fd < 0 || s->table == NULL) {
		snprintf(err, errlen, "usbip: %s", strerror(errno));
		return -1;
	}
	s->listen_fd = net_listen_tcp(&a, 16, "usbip", err, errlen);
	if (s->listen_fd < 0)
		return -1;
	if (net_local_addr(s->listen_fd, &bound) != 0)
		bound = a;
	net_format(&bound, s->addr, sizeof s->addr);
	snprintf(s->label, sizeof s->label, "usbip %s", s->addr);
	if (!net_is_loopback(&bound))
		log_warn("%s: listening beyond loopback: anyone who reaches "
			 "this address can attach the keys", s->label);
	if (add_keys(s, keys, n_keys, pcap, err, errlen) != 0)
		return -1;
	s->running = true;
	rc = pthread_create(&s->thread, NULL, usbip_thread, s);
	if (rc != 0) {
		s->running = false;
		snprintf(err, errlen, "usbip: cannot start thread: %s",
			 strerror(rc));
		return -1;
	}
	return 0;
}

struct usbip_server *usbip_start(const char *addr, const struct usbip_key *keys,
				 size_t n_keys, struct usb_pcap *pcap,
				 char *err, size_t errlen)
{
	struct usbip_server *s = calloc(1, sizeof *s), *ret = NULL;

	if (s == NULL) {
		snprintf(err, errlen, "usbip: out of memory");
		return NULL;
	}
	s->listen_fd = s->stop_fd = s->wake_fd = -1;
	if (setup(s, addr, keys, n_keys, pcap, err, errlen) != 0)
		goto out;
	log_info("%s: exporting %zu device%s", s->label, n_keys,
		 n_keys == 1 ? "" : "s");
	ret = s;
	s = NULL; /* transferred */
out:
	if (s != NULL)
		destroy(s);
	return ret;
}

void usbip_stop(struct usbip_server *s)
{
	static const uint64_t one = 1;

	if (s == NULL)
		return;
	if (write(s->stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
		log_warn("%s: cannot signal stop: %s", s->label, strerror(errno));
	pthread_join(s->thread, NULL);
	destroy(s);
}

const char *usbip_server_addr(const struct usbip_server *s)
{
	return s->addr;
}
