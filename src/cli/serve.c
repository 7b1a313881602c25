/* vkey serve: open one or more keys, attach each to its transports (vpcd,
 * usbredir) and its control socket, until SIGINT or SIGTERM. */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "transports/ctl.h"
#include "transports/usbip.h"
#include "transports/usbredir.h"
#include "transports/vpcd.h"
#include "usb/pcap.h"
#include "usb/usb.h"
#include "vkey/admin.h"
#include "vkey/vkey.h"

#define VPCD_DEFAULT "127.0.0.1:35963"
#define UP_TIMEOUT_MAX_S 600
/* usbmon device numbers are 7 bits; one per key is plenty below that. */
#define KEYS_MAX 32
#define USB_STRING_MAX 126 /* UTF-16 units in a string descriptor */

static const char serve_usage[] =
	"usage: vkey serve [-v|-vv] [--log-secrets] [--pcap FILE]\n"
	"                  [--state PATH [KEY OPTIONS]]...\n"
	"\n"
	"Run keys: create each state file on first use, lock it, attach the key\n"
	"to its transports. Each --state starts a key; the key options after it\n"
	"(and any before the first --state) apply to that key.\n"
	"\n"
	"  --state PATH         state file (default $XDG_DATA_HOME/vkey/default.db);\n"
	"                       its control socket is PATH.ctl\n"
	"key options:\n"
	"  --vpcd HOST:PORT     act as the card in pcscd's vpcd reader. A lone key\n"
	"                       with no transport gets " VPCD_DEFAULT ", the first\n"
	"                       reader of Debian's vsmartcard-vpcd\n"
	"  --usbredir ADDR      be a USB device for QEMU's usb-redir: listen on ADDR\n"
	"                       (a unix socket PATH, or HOST:PORT) for QEMU's\n"
	"                       -chardev socket,path=PATH (one guest at a time)\n"
	"  --usbredir-connect ADDR\n"
	"                       the same, connecting to a QEMU chardev that listens\n"
	"                       (server=on,wait=off); reconnects with back-off\n"
	"  --usbip ADDR         export the key over USB/IP for Linux's `usbip attach`:\n"
	"                       HOST:PORT, HOST (port 3240) or :PORT (127.0.0.1).\n"
	"                       Keys naming the same ADDR share one server; key N\n"
	"                       is bus id 1-N\n"
	"  --usb-vid HEX, --usb-pid HEX\n"
	"                       USB identity (default: pid.codes' VID for open-source\n"
	"                       projects and a test PID; see the last line)\n"
	"  --usb-manufacturer TEXT, --usb-product TEXT\n"
	"                       USB strings (the serial string is the key's serial)\n"
	"  --up POLICY          user presence: auto (approve), deny, or prompt\n"
	"                       (wait for `vkey touch`); default prompt\n"
	"  --up-timeout SECONDS how long prompt waits (default 15)\n"
	"  --seal passphrase|keyfile:PATH\n"
	"                       the state file is sealed (or is created sealed):\n"
	"                       passphrase from $VKEY_PASSPHRASE, the terminal or\n"
	"                       a line of stdin; see docs/SEALING.md\n"
	"global options:\n"
	"  -v, -vv              one log line per command; decoded commands\n"
	"  --log-secrets        also log command data (may contain secrets)\n"
	"  --pcap FILE          record every USB transfer of every key in Linux\n"
	"                       usbmon format (bus 1, key N is device N). The\n"
	"                       file (mode 0600) holds all data the host sent,\n"
	"                       secrets included: treat it like the state file\n"
	"\n"
	"A TCP --usbredir or --usbip address is bound as given: anyone who reaches\n"
	"it can use the key, so keep it on loopback. See docs/USB.md, docs/USBIP.md.\n";

struct key_opts {
	char state[PATH_MAX];
	const char *vpcd;
	const char *usbredir;
	const char *usbredir_connect;
	const char *usbip;
	char usbip_canon[96]; /* the address resolved: keys on it share a server */
	struct usb_ident ident;
	bool usb_option; /* any --usb-* given */
	enum vkey_up_policy up;
	unsigned up_timeout_s;
	const char *seal; /* --seal SPEC, or NULL */
	/* Given on the command line: else `vkey config`'s value counts. */
	bool up_given, up_timeout_given, vid_given, pid_given;
};

struct serve_opts {
	struct key_opts keys[KEYS_MAX];
	size_t n_keys;
	bool state_given; /* the first --state names keys[0] */
	const char *pcap;
	int verbose;
	int log_secrets;
};

/* What one key runs; torn down in reverse. */
struct key_run {
	struct vkey *key;
	struct ctl *ctl;
	struct vpcd *vpcd;
	struct usbredir *listen;
	struct usbredir *connect;
	char ctl_path[PATH_MAX];
	/* What the key runs with: its options over `vkey config`'s. */
	enum vkey_up_policy up;
	struct usb_ident ident;
	char manufacturer[USB_STRING_MAX + 1], product[USB_STRING_MAX + 1];
};

enum {
	OPT_STATE = 256,
	OPT_VPCD,
	OPT_USBREDIR,
	OPT_USBREDIR_CONNECT,
	OPT_USBIP,
	OPT_USB_VID,
	OPT_USB_PID,
	OPT_USB_MANUFACTURER,
	OPT_USB_PRODUCT,
	OPT_UP,
	OPT_UP_TIMEOUT,
	OPT_LOG_SECRETS,
	OPT_PCAP,
	OPT_SEAL,
};

static const struct option longopts[] = {
	{ "state", required_argument, NULL, OPT_STATE },
	{ "vpcd", required_argument, NULL, OPT_VPCD },
	{ "usbredir", required_argument, NULL, OPT_USBREDIR },
	{ "usbredir-connect", required_argument, NULL, OPT_USBREDIR_CONNECT },
	{ "usbip", required_argument, NULL, OPT_USBIP },
	{ "usb-vid", required_argument, NULL, OPT_USB_VID },
	{ "usb-pid", required_argument, NULL, OPT_USB_PID },
	{ "usb-manufacturer", required_argument, NULL, OPT_USB_MANUFACTURER },
	{ "usb-product", required_argument, NULL, OPT_USB_PRODUCT },
	{ "up", required_argument, NULL, OPT_UP },
	{ "up-timeout", required_argument, NULL, OPT_UP_TIMEOUT },
	{ "verbose", no_argument, NULL, 'v' },
	{ "log-secrets", no_argument, NULL, OPT_LOG_SECRETS },
	{ "pcap", required_argument, NULL, OPT_PCAP },
	{ "seal", required_argument, NULL, OPT_SEAL },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void print_usage(FILE *f)
{
	fputs(serve_usage, f);
	fprintf(f, "Default USB identity: %04x:%04x, \"%s\", \"%s\".\n",
		USB_VID_DEFAULT, USB_PID_DEFAULT, USB_MANUFACTURER_DEFAULT,
		USB_PRODUCT_DEFAULT);
}

static const char *up_name(enum vkey_up_policy p)
{
	return p == VKEY_UP_AUTO ? "auto" : p == VKEY_UP_DENY ? "deny" : "prompt";
}

static int parse_hostport(const char *s, char *host, size_t cap,
			  uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long p;

	if (colon == NULL || colon == s || (size_t)(colon - s) >= cap)
		return -1;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || p == 0 || p > 65535)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int parse_up(const char *s, enum vkey_up_policy *p)
{
	if (strcmp(s, "auto") == 0)
		*p = VKEY_UP_AUTO;
	else if (strcmp(s, "deny") == 0)
		*p = VKEY_UP_DENY;
	else if (strcmp(s, "prompt") == 0)
		*p = VKEY_UP_PROMPT;
	else
		return -1;
	return 0;
}

static int parse_up_timeout(const char *s, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v == 0 || v > UP_TIMEOUT_MAX_S)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* A USB ID: hex, "0x" optional, 0001..ffff. */
static int parse_usb_id(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 16);

	if (*s == '\0' || *s == '-' || *end != '\0' || v == 0 || v > 0xFFFF)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static void key_defaults(struct key_opts *k)
{
	memset(k, 0, sizeof(*k));
	k->up = VKEY_UP_PROMPT;
	k->up_timeout_s = 15;
	k->ident.vid = USB_VID_DEFAULT;
	k->ident.pid = USB_PID_DEFAULT;
}

/* Set a key's string option once; a second value is a mistake. */
static int set_once(const char **slot, const char *v, const char *opt,
		    size_t key)
{
	if (*slot != NULL) {
		fprintf(stderr, "vkey serve: %s given twice for key %zu\n", opt,
			key + 1);
		return 2;
	}
	*slot = v;
	return 0;
}

static int new_key(struct serve_opts *o, const char *state)
{
	struct key_opts *k;

	if (o->state_given) {
		if (o->n_keys == KEYS_MAX) {
			fprintf(stderr, "vkey serve: at most %d keys\n", KEYS_MAX);
			return 2;
		}
		key_defaults(&o->keys[o->n_keys++]);
	}
	o->state_given = true;
	k = &o->keys[o->n_keys - 1];
	if (strlen(state) >= sizeof(k->state) || state[0] == '\0') {
		fprintf(stderr, "vkey serve: bad --state '%s'\n", state);
		return 2;
	}
	snprintf(k->state, sizeof(k->state), "%s", state);
	return 0;
}

static int usb_string(const char **slot, const char *v, const char *opt,
		      size_t key)
{
	if (v[0] == '\0' || strlen(v) > USB_STRING_MAX) {
		fprintf(stderr, "vkey serve: %s takes 1..%d characters\n", opt,
			USB_STRING_MAX);
		return 2;
	}
	return set_once(slot, v, opt, key);
}

/* One key option for the current key. */
static int key_option(struct serve_opts *o, int c, const char *arg)
{
	size_t i = o->n_keys - 1;
	struct key_opts *k = &o->keys[i];

	switch (c) {
	case OPT_VPCD:
		return set_once(&k->vpcd, arg, "--vpcd", i);
	case OPT_USBREDIR:
		return set_once(&k->usbredir, arg, "--usbredir", i);
	case OPT_USBREDIR_CONNECT:
		return set_once(&k->usbredir_connect, arg, "--usbredir-connect", i);
	case OPT_USBIP:
		return set_once(&k->usbip, arg, "--usbip", i);
	case OPT_USB_VID:
	case OPT_USB_PID:
		k->usb_option = true;
		*(c == OPT_USB_VID ? &k->vid_given : &k->pid_given) = true;
		if (parse_usb_id(arg, c == OPT_USB_VID ? &k->ident.vid
							 : &k->ident.pid) != 0) {
			fprintf(stderr, "vkey serve: %s takes a hex ID 1..ffff, not '%s'\n",
				c == OPT_USB_VID ? "--usb-vid" : "--usb-pid", arg);
			return 2;
		}
		return 0;
	case OPT_USB_MANUFACTURER:
		k->usb_option = true;
		return usb_string(&k->ident.manufacturer, arg, "--usb-manufacturer", i);
	case OPT_USB_PRODUCT:
		k->usb_option = true;
		return usb_string(&k->ident.product, arg, "--usb-product", i);
	case OPT_UP:
		k->up_given = true;
		if (parse_up(arg, &k->up) == 0)
			return 0;
		fprintf(stderr, "vkey serve: --up takes auto, deny or prompt\n");
		return 2;
	case OPT_SEAL:
		return set_once(&k->seal, arg, "--seal", i);
	default: /* OPT_UP_TIMEOUT */
		k->up_timeout_given = true;
		if (parse_up_timeout(arg, &k->up_timeout_s) == 0)
			return 0;
		fprintf(stderr, "vkey serve: --up-timeout takes 1..%d seconds\n",
			UP_TIMEOUT_MAX_S);
		return 2;
	}
}

/* Returns 0, 1 for --help (done), 2 for a usage error. */
static int parse_args(int argc, char **argv, struct serve_opts *o)
{
	int c, r = 0;

	memset(o, 0, sizeof(*o));
	o->n_keys = 1;
	key_defaults(&o->keys[0]);
	while (r == 0 && (c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE:
			r = new_key(o, optarg);
			break;
		case 'v':
			o->verbose++;
			break;
		case OPT_LOG_SECRETS:
			o->log_secrets = 1;
			break;
		case OPT_PCAP:
			r = set_once(&o->pcap, optarg, "--pcap", 0);
			break;
		case 'h':
			print_usage(stdout);
			return 1;
		case '?':
			print_usage(stderr);
			return 2;
		default:
			r = key_option(o, c, optarg);
			break;
		}
	}
	if (r == 0 && optind != argc) {
		fprintf(stderr, "vkey serve: unexpected argument '%s'\n", argv[optind]);
		r = 2;
	}
	return r;
}

static bool has_usb(const struct key_opts *k)
{
	return k->usbredir != NULL || k->usbredir_connect != NULL ||
	       k->usbip != NULL;
}

static bool same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Two keys on one state file, one vpcd reader or one socket cannot work
 * (keys on one --usbip address share its server). */
static int check_pair(const struct key_opts *a, size_t i,
		      const struct key_opts *b, size_t j)
{
	const char *what = strcmp(a->state, b->state) == 0 ? "--state"
			   : same(a->vpcd, b->vpcd)          ? "--vpcd"
			   : same(a->usbredir, b->usbredir)  ? "--usbredir"
			   : same(a->usbredir_connect, b->usbredir_connect)
				   ? "--usbredir-connect"
				   : NULL;

	if (what == NULL)
		return 0;
	fprintf(stderr, "vkey serve: keys %zu and %zu have the same %s\n",
		i + 1, j + 1, what);
	return 2;
}

/* Addresses are checked before any key opens, so a typo costs nothing. */
static int check_addrs(struct key_opts *k)
{
	const char *redir[2] = { k->usbredir, k->usbredir_connect };
	char host[256], err[512];
	bool loopback = true;
	uint16_t port;

	if (k->vpcd != NULL &&
	    parse_hostport(k->vpcd, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "vkey serve: --vpcd takes HOST:PORT, not '%s'\n",
			k->vpcd);
		return 2;
	}
	for (size_t i = 0; i < 2; i++) {
		if (redir[i] != NULL &&
		    usbredir_check_addr(redir[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "vkey serve: %s\n", err);
			return 2;
		}
	}
	if (k->usbip != NULL &&
	    (usbip_check_addr(k->usbip, &loopback, err, sizeof(err)) != 0 ||
	     usbip_addr_canonical(k->usbip, k->usbip_canon,
				  sizeof(k->usbip_canon)) != 0)) {
		fprintf(stderr, "vkey serve: %s\n", err);
		return 2;
	}
	if (!loopback)
		fprintf(stderr, "vkey serve: warning: --usbip %s is reachable beyond "
			"this machine: anyone who reaches it can attach the key "
			"(docs/USBIP.md)\n", k->usbip);
	return 0;
}

/* Defaults and cross-checks once the whole line is read. */
static int check_opts(struct serve_opts *o)
{
	bool any_usb = false;

	if (!o->state_given &&
	    cli_default_state(o->keys[0].state, sizeof(o->keys[0].state)) != 0) {
		fprintf(stderr, "vkey serve: no --state and no $HOME for the default\n");
		return 2;
	}
	for (size_t i = 0; i < o->n_keys; i++) {
		struct key_opts *k = &o->keys[i];

		if (k->vpcd == NULL && !has_usb(k)) {
			if (o->n_keys > 1) {
				fprintf(stderr, "vkey serve: key %zu (%s) has no transport: "
					"give it --vpcd, --usbredir, --usbredir-connect or --usbip\n",
					i + 1, k->state);
				return 2;
			}
			k->vpcd = VPCD_DEFAULT; /* `vkey serve` alone, as ever */
		}
		if (k->usb_option && !has_usb(k)) {
			fprintf(stderr, "vkey serve: --usb-* options of key %zu (%s) need "
				"--usbredir, --usbredir-connect or --usbip\n", i + 1, k->state);
			return 2;
		}
		if (check_addrs(k) != 0)
			return 2;
		any_usb = any_usb || has_usb(k);
		for (size_t j = 0; j < i; j++)
			if (check_pair(&o->keys[j], j, k, i) != 0)
				return 2;
	}
	if (o->pcap != NULL && !any_usb) {
		fprintf(stderr, "vkey serve: --pcap records USB transfers, and no key "
			"has --usbredir, --usbredir-connect or --usbip\n");
		return 2;
	}
	return 0;
}

static int start_vpcd(struct key_run *kr, const struct key_opts *k)
{
	char host[256];
	uint16_t port;

	if (parse_hostport(k->vpcd, host, sizeof(host), &port) != 0) {
		fprintf(stderr, "vkey serve: --vpcd takes HOST:PORT, not '%s'\n",
			k->vpcd);
		return -1;
	}
	kr->vpcd = vpcd_start(kr->key, host, port);
	if (kr->vpcd == NULL)
		return -1;
	printf("vkey: card for pcscd's vpcd reader at %s:%u; user presence: %s\n",
	       host, port, up_name(kr->up));
	return 0;
}

static struct usbredir *start_usbredir(struct key_run *kr,
				       const char *addr, bool connecting,
				       struct usb_pcap *pcap, size_t index)
{
	struct usbredir_opts ro = {
		.addr = addr,
		.connect = connecting,
		.ident = &kr->ident,
		.pcap = pcap,
		.devnum = (uint8_t)(index + 1),
	};
	struct usbredir *r;
	char err[512];

	r = usbredir_start(kr->key, &ro, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "vkey serve: %s\n", err);
		return NULL;
	}
	printf("vkey: USB device %04x:%04x for QEMU usb-redir, %s %s; "
	       "user presence: %s\n", kr->ident.vid, kr->ident.pid,
	       connecting ? "connecting to" : "listening on", addr,
	       up_name(kr->up));
	return r;
}

/* `vkey config`'s user-presence settings where the command line gave
 * none. True when they change ko (start_key then applies them to the
 * open key with vkey_set_up). */
static bool config_up(struct key_run *kr, const struct key_opts *k,
		      struct vkey_options *ko)
{
	enum vkey_up_policy up = ko->up;
	unsigned timeout_s = 0;
	char v[32];

	if (!k->up_given && vkey_config_get(kr->key, "up", v, sizeof(v)) == 1)
		(void)parse_up(v, &up);
	if (!k->up_timeout_given &&
	    vkey_config_get(kr->key, "up-timeout", v, sizeof(v)) == 1)
		(void)parse_up_timeout(v, &timeout_s);
	kr->up = up;
	if (up == ko->up && (timeout_s == 0 ||
			     timeout_s * 1000 == ko->up_timeout_ms))
		return false;
	ko->up = up;
	if (timeout_s != 0)
		ko->up_timeout_ms = timeout_s * 1000;
	return true;
}

/* The USB identity: the command line's, else `vkey config`'s, else the
 * defaults (already in k->ident). */
static void config_usb(struct key_run *kr, const struct key_opts *k)
{
	char v[USB_STRING_MAX + 1];

	kr->ident = k->ident;
	if (!k->vid_given && vkey_config_get(kr->key, "usb-vid", v, sizeof(v)) == 1)
		(void)parse_usb_id(v, &kr->ident.vid);
	if (!k->pid_given && vkey_config_get(kr->key, "usb-pid", v, sizeof(v)) == 1)
		(void)parse_usb_id(v, &kr->ident.pid);
	if (k->ident.manufacturer == NULL &&
	    vkey_config_get(kr->key, "usb-manufacturer", kr->manufacturer,
			    sizeof(kr->manufacturer)) == 1)
		kr->ident.manufacturer = kr->manufacturer;
	if (k->ident.product == NULL &&
	    vkey_config_get(kr->key, "usb-product", kr->product,
			    sizeof(kr->product)) == 1)
		kr->ident.product = kr->product;
}

static int start_key(struct key_run *kr, const struct key_opts *k,
		     struct usb_pcap *pcap, size_t index)
{
	struct vkey_options ko;
	struct cli_seal seal = { 0 };
	char err[512];
	int r;

	if (ctl_default_path(k->state, kr->ctl_path, sizeof(kr->ctl_path)) != 0) {
		fprintf(stderr, "vkey serve: state path too long for its control socket: %s\n",
			k->state);
		return -1;
	}
	memset(&ko, 0, sizeof(ko));
	ko.state_path = k->state;
	ko.up = k->up;
	ko.up_timeout_ms = k->up_timeout_s * 1000;
	ko.ctl_path = kr->ctl_path;
	ko.serving = true;
	if (k->seal != NULL && cli_seal_read(k->seal, "VKEY_PASSPHRASE",
					     k->state, 0, &seal) != 0)
		return -1;
	ko.seal = k->seal != NULL ? &seal.seal : NULL;
	r = vkey_open(&kr->key, &ko, err, sizeof(err));
	if (r == 0 && config_up(kr, k, &ko))
		vkey_set_up(kr->key, ko.up, ko.up_timeout_ms);
	cli_seal_free(&seal);
	if (r != 0) {
		fprintf(stderr, "vkey serve: %s\n", err);
		return -1;
	}
	config_usb(kr, k);
	printf("vkey: key %u from %s\n", vkey_serial(kr->key), k->state);
	kr->ctl = ctl_start(kr->key, kr->ctl_path);
	if (kr->ctl == NULL)
		return -1;
	if (k->vpcd != NULL && start_vpcd(kr, k) != 0)
		return -1;
	if (k->usbredir != NULL &&
	    (kr->listen = start_usbredir(kr, k->usbredir, false, pcap,
					 index)) == NULL)
		return -1;
	if (k->usbredir_connect != NULL &&
	    (kr->connect = start_usbredir(kr, k->usbredir_connect, true,
					  pcap, index)) == NULL)
		return -1;
	printf("vkey: control socket %s (vkey touch/status/oath list --state %s)\n",
	       kr->ctl_path, k->state);
	return 0;
}

/* One USB/IP server per distinct --usbip address, exporting every key that
 * names it; key i is bus id 1-(i+1), its usbmon device number too. */
static int start_usbip(const struct serve_opts *o, const struct key_run *runs,
		       struct usb_pcap *pcap, struct usbip_server **servers,
		       size_t *n_servers)
{
	struct usbip_key keys[KEYS_MAX];
	char err[512], ids[KEYS_MAX * 24];

	for (size_t i = 0; i < o->n_keys; i++) {
		const char *addr = o->keys[i].usbip;
		const char *canon = o->keys[i].usbip_canon;
		size_t n = 0, used = 0;
		bool seen = false;

		for (size_t j = 0; j < i && addr != NULL; j++)
			seen = seen || (o->keys[j].usbip != NULL &&
					same(o->keys[j].usbip_canon, canon));
		if (addr == NULL || seen)
			continue;
		ids[0] = '\0';
		for (size_t j = i; j < o->n_keys; j++) {
			if (o->keys[j].usbip == NULL ||
			    !same(o->keys[j].usbip_canon, canon))
				continue;
			keys[n++] = (struct usbip_key){ runs[j].key,
							&runs[j].ident,
							(uint8_t)(j + 1) };
			used += (size_t)snprintf(ids + used, sizeof(ids) - used,
						 "%skey %zu as bus id 1-%zu",
						 n > 1 ? ", " : "", j + 1, j + 1);
		}
		servers[*n_servers] = usbip_start(addr, keys, n, pcap, err,
						  sizeof(err));
		if (servers[*n_servers] == NULL) {
			fprintf(stderr, "vkey serve: %s\n", err);
			return -1;
		}
		printf("vkey: USB/IP server on %s: %s (usbip attach -r HOST -b "
		       "BUSID)\n", usbip_server_addr(servers[*n_servers]), ids);
		(*n_servers)++;
	}
	return 0;
}

static void stop_key(struct key_run *kr)
{
	usbredir_stop(kr->connect);
	usbredir_stop(kr->listen);
	vpcd_stop(kr->vpcd);
	ctl_stop(kr->ctl);
	vkey_close(kr->key);
}

static int serve(const struct serve_opts *o, struct key_run *runs)
{
	struct usbip_server *servers[KEYS_MAX];
	size_t n_servers = 0;
	struct usb_pcap *pcap = NULL;
	char err[512];
	sigset_t sigs;
	size_t started = 0;
	int r = 1, sig;

	/* Signals go to sigwait below, not to the worker threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (o->pcap != NULL && (pcap = usb_pcap_open(o->pcap, err, sizeof(err))) == NULL) {
		fprintf(stderr, "vkey serve: %s\n", err);
		goto out;
	}
	for (; started < o->n_keys; started++)
		if (start_key(&runs[started], &o->keys[started], pcap, started) != 0) {
			started++; /* stop what it did start */
			goto out;
		}
	if (start_usbip(o, runs, pcap, servers, &n_servers) != 0)
		goto out;
	if (pcap != NULL)
		printf("vkey: recording USB transfers to %s\n", o->pcap);
	fflush(stdout);
	sigwait(&sigs, &sig);
	log_info("signal %d: stopping", sig);
	r = 0;
out:
	fflush(stdout);
	while (n_servers > 0)
		usbip_stop(servers[--n_servers]);
	while (started > 0)
		stop_key(&runs[--started]);
	if (pcap != NULL)
		usb_pcap_close(pcap);
	return r;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_opts *o = calloc(1, sizeof(*o));
	struct key_run *runs = calloc(KEYS_MAX, sizeof(*runs));
	int r = 1;

	if (o == NULL || runs == NULL) {
		fprintf(stderr, "vkey serve: out of memory\n");
		goto out;
	}
	r = parse_args(argc, argv, o);
	if (r == 0)
		r = check_opts(o);
	if (r != 0) {
		r = r == 1 ? 0 : r;
		goto out;
	}
	cli_apply_verbosity(o->verbose, o->log_secrets);
	r = serve(o, runs);
out:
	free(runs);
	free(o);
	return r;
}
