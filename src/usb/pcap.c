/* usbmon capture writer (see pcap.h): pcap records of link type 220,
 * each a 64-byte usbmon header as Linux's mon_bin writes it, then data. */
#include "usb/pcap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define PCAP_MAGIC 0xa1b2c3d4u
#define PCAP_VERSION_MAJOR 2
#define PCAP_VERSION_MINOR 4
#define LINKTYPE_USB_LINUX_MMAPPED 220
#define USBMON_HEADER_LEN 64
#define PCAP_DATA_MAX 65535u
#define PCAP_SNAPLEN (PCAP_DATA_MAX + USBMON_HEADER_LEN)

/* usbmon's xfer_type (Documentation/usb/usbmon.rst), not USB's
 * bmAttributes numbering. */
#define USBMON_ISO 0
#define USBMON_INTERRUPT 1
#define USBMON_CONTROL 2
#define USBMON_BULK 3

#define URB_DIR_IN 0x0200 /* in xfer_flags, as the kernel sets it */

/* pcap file header, host byte order (readers detect it by the magic). */
struct pcap_file_header {
	uint32_t magic;
	uint16_t version_major, version_minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};
_Static_assert(sizeof(struct pcap_file_header) == 24, "pcap header");

struct pcap_record_header {
	uint32_t ts_sec, ts_usec, incl_len, orig_len;
};
_Static_assert(sizeof(struct pcap_record_header) == 16, "pcap record");

/* struct usbmon_packet of usbmon.rst, host byte order. */
struct usbmon_packet {
	uint64_t id;
	uint8_t type;      /* 'S', 'C', 'E' */
	uint8_t xfer_type; /* USBMON_* */
	uint8_t epnum;     /* with the direction bit */
	uint8_t devnum;
	uint16_t busnum;
	char flag_setup; /* 0: setup[] is valid; '-' otherwise */
	char flag_data;  /* 0: data follows; '<' or '>': none by design */
	int64_t ts_sec;
	int32_t ts_usec;
	int32_t status;
	uint32_t length;  /* urb_len */
	uint32_t len_cap; /* bytes of data that follow */
	union {
		uint8_t setup[8];
		struct {
			int32_t error_count;
			int32_t numdesc;
		} iso;
	} s;
	int32_t interval;
	int32_t start_frame;
	uint32_t xfer_flags;
	uint32_t ndesc;
};
_Static_assert(sizeof(struct usbmon_packet) == USBMON_HEADER_LEN,
	       "usbmon mmapped header is 64 bytes");
_Static_assert(offsetof(struct usbmon_packet, busnum) == 12 &&
		       offsetof(struct usbmon_packet, ts_sec) == 16 &&
		       offsetof(struct usbmon_packet, length) == 32 &&
		       offsetof(struct usbmon_packet, s) == 40 &&
		       offsetof(struct usbmon_packet, interval) == 48 &&
		       offsetof(struct usbmon_packet, ndesc) == 60,
	       "usbmon field offsets");

struct usb_pcap {
	pthread_mutex_t lock;
	FILE *f;
	bool failed; /* a write failed: logged once, capture stopped */
};

static uint8_t usbmon_type(enum usb_xfer_type t)
{
	switch (t) {
	case USB_XFER_ISO:
		return USBMON_ISO;
	case USB_XFER_INTERRUPT:
		return USBMON_INTERRUPT;
	case USB_XFER_BULK:
		return USBMON_BULK;
	case USB_XFER_CONTROL:
	default:
		return USBMON_CONTROL;
	}
}

/* The SETUP packet as it crossed the bus (USB 2.0 §9.3). */
static void setup_bytes(const struct usb_setup *s, uint8_t b[8])
{
	b[0] = s->bmRequestType;
	b[1] = s->bRequest;
	b[2] = (uint8_t)s->wValue;
	b[3] = (uint8_t)(s->wValue >> 8);
	b[4] = (uint8_t)s->wIndex;
	b[5] = (uint8_t)(s->wIndex >> 8);
	b[6] = (uint8_t)s->wLength;
	b[7] = (uint8_t)(s->wLength >> 8);
}

/* mon_bin_event(): an IN submission carries no data ('<'), nor an OUT
 * completion ('>'); every other event has its data, maybe empty. */
static char data_flag(char event, bool in)
{
	if (in && event == 'S')
		return '<';
	if (!in && event == 'C')
		return '>';
	return 0;
}

static int write_all(struct usb_pcap *p, const void *b, size_t n)
{
	return n == 0 || fwrite(b, 1, n, p->f) == n ? 0 : -1;
}

struct usb_pcap *usb_pcap_open(const char *path, char *err, size_t errlen)
{
	struct pcap_file_header h = {
		PCAP_MAGIC,   PCAP_VERSION_MAJOR, PCAP_VERSION_MINOR, 0, 0,
		PCAP_SNAPLEN, LINKTYPE_USB_LINUX_MMAPPED
	};
	struct usb_pcap *p = calloc(1, sizeof(*p));
	int fd = -1;

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* No symlink following: a planted link must not make vkey truncate
	 * and fill another file with its traffic. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0 || fchmod(fd, 0600) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", path,
			 strerror(errno));
		goto fail;
	}
	p->f = fdopen(fd, "wb");
	if (p->f == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 strerror(errno));
		goto fail;
	}
	fd = -1; /* transferred */
	if (write_all(p, &h, sizeof(h)) != 0 || fflush(p->f) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&p->lock, NULL);
	return p;
fail:
	if (fd >= 0)
		close(fd);
	if (p != NULL && p->f != NULL)
		fclose(p->f);
	free(p);
	return NULL;
}

void usb_pcap_close(struct usb_pcap *p)
{
	if (p == NULL)
		return;
	fclose(p->f);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static void fill_packet(struct usbmon_packet *u, uint64_t id, char event,
			enum usb_xfer_type type, uint8_t ep, uint16_t bus,
			uint8_t devnum, const struct usb_setup *setup)
{
	bool in = (ep & 0x80) != 0;

	memset(u, 0, sizeof(*u));
	u->id = id;
	u->type = (uint8_t)event;
	u->xfer_type = usbmon_type(type);
	u->epnum = ep;
	u->devnum = devnum;
	u->busnum = bus;
	u->flag_setup = '-';
	if (setup != NULL && type == USB_XFER_CONTROL && event == 'S') {
		u->flag_setup = 0;
		setup_bytes(setup, u->s.setup);
	}
	u->flag_data = data_flag(event, in);
	u->xfer_flags = in ? URB_DIR_IN : 0;
}

void usb_pcap_event(struct usb_pcap *p, uint64_t id, char event,
		    enum usb_xfer_type type, uint8_t ep, uint16_t bus,
		    uint8_t devnum, const struct usb_setup *setup, int status,
		    uint32_t urb_len, const uint8_t *data, size_t data_len)
{
	struct usbmon_packet u;
	struct pcap_record_header r;
	struct timespec ts;

	if (p == NULL)
		return;
	if (data == NULL || data_flag(event, (ep & 0x80) != 0) != 0)
		data_len = 0;
	if (data_len > PCAP_DATA_MAX)
		data_len = PCAP_DATA_MAX;
	clock_gettime(CLOCK_REALTIME, &ts);
	fill_packet(&u, id, event, type, ep, bus, devnum, setup);
	u.ts_sec = ts.tv_sec;
	u.ts_usec = (int32_t)(ts.tv_nsec / 1000);
	u.status = status;
	u.length = urb_len;
	u.len_cap = (uint32_t)data_len;
	r.ts_sec = (uint32_t)ts.tv_sec;
	r.ts_usec = (uint32_t)u.ts_usec;
	r.incl_len = r.orig_len = (uint32_t)(sizeof(u) + data_len);

	pthread_mutex_lock(&p->lock);
	if (!p->failed &&
	    (write_all(p, &r, sizeof(r)) != 0 ||
	     write_all(p, &u, sizeof(u)) != 0 ||
	     write_all(p, data, data_len) != 0 || fflush(p->f) != 0)) {
		p->failed = true;
		log_error("pcap: write failed (%s); capture stopped",
			  strerror(errno));
	}
	pthread_mutex_unlock(&p->lock);
}
