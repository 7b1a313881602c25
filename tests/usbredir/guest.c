/* The scripted usb-guest of guest.h: QEMU's role in usbredir, on the same
 * libusbredirparser QEMU's hw/usb/redirect.c uses. */
#include "guest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int g_read(void *priv, uint8_t *data, int count)
{
	struct guest *g = priv;
	ssize_t n = recv(g->fd, data, (size_t)count, MSG_DONTWAIT);

	if (n > 0)
		return (int)n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	g->eof = true;
	return -1;
}

static int g_write(void *priv, uint8_t *data, int count)
{
	struct guest *g = priv;
	ssize_t n = send(g->fd, data, (size_t)count, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n > 0 && g->tape != NULL)
		fwrite(data, 1, (size_t)n, g->tape);
	if (n > 0)
		return (int)n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	g->eof = true;
	return -1;
}

static void g_log(void *priv, int level, const char *msg)
{
	(void)priv;
	if (level <= usbredirparser_warning)
		fprintf(stderr, "guest parser: %s\n", msg);
}

static void add(struct guest *g, struct guest_pkt pk)
{
	if (g->n_pkts == GUEST_PKTS) {
		fprintf(stderr, "guest: packet queue full, dropping type %d\n",
			pk.type);
		free(pk.data);
		return;
	}
	g->pkts[g->n_pkts++] = pk;
}

static void g_hello(void *priv, struct usb_redir_hello_header *h)
{
	struct guest *g = priv;

	g->hello = true;
	snprintf(g->peer_version, sizeof g->peer_version, "%.63s", h->version);
}

static void g_device_connect(void *priv,
			     struct usb_redir_device_connect_header *dc)
{
	struct guest *g = priv;

	g->dc = *dc;
	g->connected = true;
}

static void g_device_disconnect(void *priv)
{
	struct guest *g = priv;

	g->connected = false;
}

static void g_interface_info(void *priv,
			     struct usb_redir_interface_info_header *i)
{
	struct guest *g = priv;

	g->ifs = *i;
	g->n_iface_info++;
}

static void g_ep_info(void *priv, struct usb_redir_ep_info_header *e)
{
	struct guest *g = priv;

	g->ep = *e;
	g->n_ep_info++;
}

static void g_config_status(void *priv, uint64_t id,
			    struct usb_redir_configuration_status_header *h)
{
	add(priv, (struct guest_pkt){ usb_redir_configuration_status, id, 0,
				      h->status, h->configuration, 0, NULL, 0 });
}

static void g_alt_status(void *priv, uint64_t id,
			 struct usb_redir_alt_setting_status_header *h)
{
	add(priv, (struct guest_pkt){ usb_redir_alt_setting_status, id,
				      h->interface, h->status, h->alt, 0, NULL,
				      0 });
}

static void g_int_status(void *priv, uint64_t id,
			 struct usb_redir_interrupt_receiving_status_header *h)
{
	add(priv, (struct guest_pkt){ usb_redir_interrupt_receiving_status, id,
				      h->endpoint, h->status, 0, 0, NULL, 0 });
}

static void g_iso_status(void *priv, uint64_t id,
			 struct usb_redir_iso_stream_status_header *h)
{
	add(priv, (struct guest_pkt){ usb_redir_iso_stream_status, id,
				      h->endpoint, h->status, 0, 0, NULL, 0 });
}

static void g_streams_status(void *priv, uint64_t id,
			     struct usb_redir_bulk_streams_status_header *h)
{
	add(priv, (struct guest_pkt){ usb_redir_bulk_streams_status, id, 0,
				      h->status, 0, 0, NULL, 0 });
}

static void g_bulk_recv_status(void *priv, uint64_t id,
			       struct usb_redir_bulk_receiving_status_header *h)
{
	add(priv, (struct guest_pkt){ usb_redir_bulk_receiving_status, id,
				      h->endpoint, h->status, 0, 0, NULL, 0 });
}

static void g_control(void *priv, uint64_t id,
		      struct usb_redir_control_packet_header *h, uint8_t *data,
		      int len)
{
	add(priv, (struct guest_pkt){ usb_redir_control_packet, id, h->endpoint,
				      h->status, 0, h->length, data, len });
}

static void g_bulk(void *priv, uint64_t id,
		   struct usb_redir_bulk_packet_header *h, uint8_t *data, int len)
{
	uint32_t l = h->length | (uint32_t)h->length_high << 16;

	add(priv, (struct guest_pkt){ usb_redir_bulk_packet, id, h->endpoint,
				      h->status, 0, l, data, len });
}

static void g_interrupt(void *priv, uint64_t id,
			struct usb_redir_interrupt_packet_header *h,
			uint8_t *data, int len)
{
	struct guest *g = priv;

	/* IN data pushed by the host, as QEMU buffers it; OUT completions
	 * are queued like any reply. */
	if ((h->endpoint & 0x80) && g->n_reports < GUEST_REPORTS &&
	    len <= 64 && h->status == usb_redir_success) {
		if (len > 0)
			memcpy(g->reports[g->n_reports], data, (size_t)len);
		g->report_len[g->n_reports++] = len;
		free(data);
		return;
	}
	add(priv, (struct guest_pkt){ usb_redir_interrupt_packet, id,
				      h->endpoint, h->status, 0, h->length,
				      data, len });
}

static void g_iso(void *priv, uint64_t id, struct usb_redir_iso_packet_header *h,
		  uint8_t *data, int len)
{
	(void)priv;
	(void)id;
	(void)h;
	(void)len;
	free(data);
}

static void g_buffered(void *priv, uint64_t id,
		       struct usb_redir_buffered_bulk_packet_header *h,
		       uint8_t *data, int len)
{
	(void)priv;
	(void)id;
	(void)h;
	(void)len;
	free(data);
}

static void g_filter_reject(void *priv)
{
	struct guest *g = priv;

	g->rejected_by_peer = true;
}

static void g_filter_filter(void *priv, struct usbredirfilter_rule *r, int n)
{
	(void)priv;
	(void)n;
	free(r);
}

static void g_disconnect_ack(void *priv)
{
	(void)priv;
}

static void set_callbacks(struct usbredirparser *p)
{
	p->log_func = g_log;
	p->read_func = g_read;
	p->write_func = g_write;
	p->hello_func = g_hello;
	p->device_connect_func = g_device_connect;
	p->device_disconnect_func = g_device_disconnect;
	p->interface_info_func = g_interface_info;
	p->ep_info_func = g_ep_info;
	p->configuration_status_func = g_config_status;
	p->alt_setting_status_func = g_alt_status;
	p->iso_stream_status_func = g_iso_status;
	p->interrupt_receiving_status_func = g_int_status;
	p->bulk_streams_status_func = g_streams_status;
	p->bulk_receiving_status_func = g_bulk_recv_status;
	p->control_packet_func = g_control;
	p->bulk_packet_func = g_bulk;
	p->iso_packet_func = g_iso;
	p->interrupt_packet_func = g_interrupt;
	p->buffered_bulk_packet_func = g_buffered;
	p->filter_reject_func = g_filter_reject;
	p->filter_filter_func = g_filter_filter;
	p->device_disconnect_ack_func = g_disconnect_ack;
}

struct guest *guest_adopt(int fd, FILE *tape)
{
	/* The capabilities QEMU 7.2's usb-redir announces. */
	static const int caps_on[] = {
		usb_redir_cap_connect_device_version,
		usb_redir_cap_filter,
		usb_redir_cap_ep_info_max_packet_size,
		usb_redir_cap_64bits_ids,
		usb_redir_cap_32bits_bulk_length,
		usb_redir_cap_bulk_receiving,
	};
	uint32_t caps[USB_REDIR_CAPS_SIZE] = { 0 };
	struct guest *g = calloc(1, sizeof *g);

	if (g == NULL) {
		close(fd);
		if (tape != NULL)
			fclose(tape);
		return NULL;
	}
	g->fd = fd;
	g->tape = tape;
	g->next_id = 1;
	g->p = usbredirparser_create();
	if (g->p == NULL) {
		guest_free(g);
		return NULL;
	}
	g->p->priv = g;
	set_callbacks(g->p);
	for (size_t i = 0; i < sizeof caps_on / sizeof caps_on[0]; i++)
		usbredirparser_caps_set_cap(caps, caps_on[i]);
	usbredirparser_init(g->p, "vkey test usb-guest", caps,
			    USB_REDIR_CAPS_SIZE, 0);
	usbredirparser_do_write(g->p);
	return g;
}

struct guest *guest_connect(const char *path, FILE *tape)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof un.sun_path)
		goto fail;
	memcpy(un.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&un, sizeof un) != 0)
		goto fail;
	return guest_adopt(fd, tape);
fail:
	if (fd >= 0)
		close(fd);
	if (tape != NULL)
		fclose(tape);
	return NULL;
}

struct guest *guest_connect_tcp(uint16_t port, FILE *tape)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&in, sizeof in) != 0) {
		if (fd >= 0)
			close(fd);
		if (tape != NULL)
			fclose(tape);
		return NULL;
	}
	return guest_adopt(fd, tape);
}

void guest_free(struct guest *g)
{
	if (g == NULL)
		return;
	for (int i = 0; i < g->n_pkts; i++)
		free(g->pkts[i].data);
	usbredirparser_destroy(g->p);
	close(g->fd);
	if (g->tape != NULL)
		fclose(g->tape);
	free(g);
}

int guest_poll(struct guest *g, int ms)
{
	struct pollfd p = { g->fd, POLLIN, 0 };

	if (g->eof)
		return -1;
	if (usbredirparser_has_data_to_write(g->p))
		p.events |= POLLOUT;
	if (poll(&p, 1, ms) > 0) {
		if (p.revents & (POLLIN | POLLHUP | POLLERR))
			usbredirparser_do_read(g->p);
		if (usbredirparser_has_data_to_write(g->p))
			usbredirparser_do_write(g->p);
	}
	return g->eof ? -1 : 0;
}

bool guest_wait_connect(struct guest *g, int ms)
{
	int64_t end = now_ms() + ms;

	while (!g->connected && now_ms() < end)
		if (guest_poll(g, 50) < 0)
			break;
	return g->connected;
}

bool guest_wait_eof(struct guest *g, int ms)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end)
		if (guest_poll(g, 50) < 0)
			return true;
	return false;
}

static int find(struct guest *g, int type, uint64_t id)
{
	for (int i = 0; i < g->n_pkts; i++)
		if (g->pkts[i].type == type && (id == ~UINT64_C(0) ||
						g->pkts[i].id == id))
			return i;
	return -1;
}

bool guest_take(struct guest *g, int type, uint64_t id, struct guest_pkt *out,
		int ms)
{
	int64_t end = now_ms() + ms;
	int i;

	while ((i = find(g, type, id)) < 0 && now_ms() < end)
		if (guest_poll(g, 20) < 0)
			break;
	if (i < 0)
		return false;
	*out = g->pkts[i];
	memmove(&g->pkts[i], &g->pkts[i + 1],
		(size_t)(g->n_pkts - i - 1) * sizeof g->pkts[0]);
	g->n_pkts--;
	return true;
}

static void flush(struct guest *g)
{
	usbredirparser_do_write(g->p);
}

int guest_control(struct guest *g, uint8_t reqtype, uint8_t req,
		  uint16_t value, uint16_t index, uint8_t *data, uint16_t len)
{
	struct usb_redir_control_packet_header h = {
		.endpoint = reqtype & 0x80,
		.request = req,
		.requesttype = reqtype,
		.value = value,
		.index = index,
		.length = len,
	};
	bool in = (reqtype & 0x80) != 0;
	uint64_t id = g->next_id++;
	struct guest_pkt pk;
	int r;

	usbredirparser_send_control_packet(g->p, id, &h, in ? NULL : data,
					   in ? 0 : len);
	flush(g);
	if (!guest_take(g, usb_redir_control_packet, id, &pk, GUEST_MS))
		return -100;
	if (pk.status != usb_redir_success)
		r = -1 - pk.status;
	else if (in && pk.data_len <= len)
		r = pk.data_len;
	else
		r = (int)pk.len;
	if (in && r > 0)
		memcpy(data, pk.data, (size_t)r);
	free(pk.data);
	return r;
}

uint64_t guest_bulk_send(struct guest *g, uint8_t ep, const uint8_t *data,
			 uint32_t len)
{
	struct usb_redir_bulk_packet_header h = {
		.endpoint = ep,
		.length = (uint16_t)len,
		.length_high = (uint16_t)(len >> 16),
	};
	uint64_t id = g->next_id++;
	bool in = (ep & 0x80) != 0;

	usbredirparser_send_bulk_packet(g->p, id, &h, in ? NULL : (uint8_t *)data,
					in ? 0 : (int)len);
	flush(g);
	return id;
}

int guest_bulk_wait(struct guest *g, uint64_t id, uint8_t *buf, uint32_t cap,
		    int ms)
{
	struct guest_pkt pk;
	int r;

	if (!guest_take(g, usb_redir_bulk_packet, id, &pk, ms))
		return -100;
	if (pk.status != usb_redir_success)
		r = -1 - pk.status;
	else if (pk.data_len > 0 && (uint32_t)pk.data_len <= cap)
		r = pk.data_len;
	else
		r = pk.data_len > 0 ? -50 : (int)pk.len;
	if (r > 0 && buf != NULL && pk.data != NULL)
		memcpy(buf, pk.data, (size_t)r);
	free(pk.data);
	return r;
}

int guest_interrupt_out(struct guest *g, uint8_t ep, const uint8_t *data,
			uint16_t len)
{
	struct usb_redir_interrupt_packet_header h = {
		.endpoint = ep,
		.length = len,
	};
	uint64_t id = g->next_id++;
	struct guest_pkt pk;
	int r;

	usbredirparser_send_interrupt_packet(g->p, id, &h, (uint8_t *)data, len);
	flush(g);
	if (!guest_take(g, usb_redir_interrupt_packet, id, &pk, GUEST_MS))
		return -100;
	r = pk.status == usb_redir_success ? (int)pk.len : -1 - pk.status;
	free(pk.data);
	return r;
}

int guest_interrupt_in(struct guest *g, uint8_t *buf, int ms)
{
	int64_t end = now_ms() + ms;
	int n;

	while (g->n_reports == 0 && now_ms() < end)
		if (guest_poll(g, 20) < 0)
			break;
	if (g->n_reports == 0)
		return -1;
	n = g->report_len[0];
	memcpy(buf, g->reports[0], (size_t)n);
	memmove(g->reports[0], g->reports[1],
		(size_t)(g->n_reports - 1) * sizeof g->reports[0]);
	memmove(g->report_len, g->report_len + 1,
		(size_t)(g->n_reports - 1) * sizeof g->report_len[0]);
	g->n_reports--;
	return n;
}

/* Wait for the status message answering id; its status, or -100. */
static int status_of(struct guest *g, int type, uint64_t id, uint8_t *extra)
{
	struct guest_pkt pk;

	if (!guest_take(g, type, id, &pk, GUEST_MS))
		return -100;
	if (extra != NULL)
		*extra = pk.extra;
	return pk.status;
}

int guest_set_config(struct guest *g, uint8_t cfg, uint8_t *out)
{
	struct usb_redir_set_configuration_header h = { cfg };
	uint64_t id = g->next_id++;

	usbredirparser_send_set_configuration(g->p, id, &h);
	flush(g);
	return status_of(g, usb_redir_configuration_status, id, out);
}

int guest_get_config(struct guest *g, uint8_t *out)
{
	uint64_t id = g->next_id++;

	usbredirparser_send_get_configuration(g->p, id);
	flush(g);
	return status_of(g, usb_redir_configuration_status, id, out);
}

int guest_set_alt(struct guest *g, uint8_t iface, uint8_t alt, uint8_t *out)
{
	struct usb_redir_set_alt_setting_header h = { iface, alt };
	uint64_t id = g->next_id++;

	usbredirparser_send_set_alt_setting(g->p, id, &h);
	flush(g);
	return status_of(g, usb_redir_alt_setting_status, id, out);
}

int guest_get_alt(struct guest *g, uint8_t iface, uint8_t *out)
{
	struct usb_redir_get_alt_setting_header h = { iface };
	uint64_t id = g->next_id++;

	usbredirparser_send_get_alt_setting(g->p, id, &h);
	flush(g);
	return status_of(g, usb_redir_alt_setting_status, id, out);
}

int guest_start_interrupt(struct guest *g, uint8_t ep)
{
	struct usb_redir_start_interrupt_receiving_header h = { ep };

	/* QEMU sends id 0 and matches the status by endpoint. */
	usbredirparser_send_start_interrupt_receiving(g->p, 0, &h);
	flush(g);
	return status_of(g, usb_redir_interrupt_receiving_status, 0, NULL);
}

void guest_cancel(struct guest *g, uint64_t id)
{
	usbredirparser_send_cancel_data_packet(g->p, id);
	flush(g);
}

void guest_reset(struct guest *g)
{
	usbredirparser_send_reset(g->p);
	flush(g);
}
