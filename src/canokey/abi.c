/* The six functions QEMU's hw/usb/canokey.c calls. Its ABI has no device
 * handle, so the device lives in the one file-scope pointer below: one
 * canokey device per QEMU process (more keys: vkey serve --usbredir).
 * QEMU calls under its big lock, one call at a time, but transmit()
 * re-enters data_in (and, on xhci, device_loop) before it returns. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canokey/ck.h"

/* The one global the ABI forces (STYLE.md 1); NULL until init. */
static struct ck *the_ck;

/* Every ABI call. A top-level one moves in_token (set by data_in) to
 * prev_in_token: QEMU calls device_loop right after data_in on an IN
 * token, and that device_loop needs to know. */
static struct ck *enter(void)
{
	if (the_ck == NULL)
		return NULL;
	if (++the_ck->depth == 1) {
		the_ck->prev_in_token = the_ck->in_token;
		the_ck->in_token = 0;
	}
	return the_ck;
}

static void leave(struct ck *c)
{
	c->depth--;
}

static bool nested(const struct ck *c)
{
	return c->depth > 1;
}

/* The log file is created 0600: with log_secrets it holds PINs. */
static int open_log(struct ck *c, const struct ck_config *cfg,
		    const char *file)
{
	int fd, err;

	log_set_level(cfg->level);
	log_set_secrets(cfg->secrets);
	if (cfg->log_file[0] == '\0')
		return 0;
	fd = open(cfg->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		  0600);
	c->log = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (c->log == NULL) {
		err = errno;
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "canokey-qemu: %s: cannot open the log file %s: %s\n",
			file, cfg->log_file, strerror(err));
		return -1;
	}
	log_set_file(c->log);
	return 0;
}

static int open_key(struct ck *c, const struct ck_config *cfg,
		    const char *file)
{
	/* getInfo says how long a CTAP message this transport carries, so
	 * clients size large-blob fragments to fit. */
	struct vkey_options o = { .state_path = file, .up = cfg->up,
				  .serving = true,
				  .ctap_msg_max = CK_HID_MSG_MAX };
	char err[256] = "";

	if (vkey_open(&c->key, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "canokey-qemu: %s: %s\n", file, err);
		return -1;
	}
	return 0;
}

static int open_dev(struct ck *c, const struct ck_config *cfg,
		    const char *file)
{
	struct usb_ident id = {
		.vid = cfg->vid,
		.pid = cfg->pid,
		.manufacturer = cfg->manufacturer[0] ? cfg->manufacturer : NULL,
		.product = cfg->product[0] ? cfg->product : NULL,
	};
	struct usb_dev_limits lim = { .ccid_msg_max = CK_CCID_MSG_MAX,
				      .no_zlp = true,
				      .ctaphid_msg_max = CK_HID_MSG_MAX };

	c->dev = usb_dev_new_limited(c->key, &id, &lim);
	if (c->dev == NULL) {
		fprintf(stderr, "canokey-qemu: %s: cannot create the USB device\n",
			file);
		return -1;
	}
	return 0;
}

/* Runs at exit, after QEMU's last call and before OpenSSL's own cleanup
 * (registered earlier, so it runs later): the key is closed cleanly. */
static void at_exit(void)
{
	if (the_ck != NULL && the_ck->depth == 0)
		ck_close();
}

int ck_open(void *qemu, const char *file)
{
	static bool exit_hook;
	struct ck_config cfg;
	struct ck *c = NULL;
	char err[PATH_MAX + 256];
	int r = -1;

	if (the_ck != NULL) {
		fprintf(stderr, "canokey-qemu: %s: one canokey device per "
			"process (%s has it); use vkey serve --usbredir for "
			"more keys\n", file, vkey_state_path(the_ck->key));
		return -1;
	}
	if (file == NULL || ck_config_load(&cfg, file, err, sizeof(err)) != 0) {
		fprintf(stderr, "canokey-qemu: %s\n",
			file == NULL ? "no state file" : err);
		return -1;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		fprintf(stderr, "canokey-qemu: %s: out of memory\n", file);
		return -1;
	}
	c->qemu = qemu;
	if (open_log(c, &cfg, file) != 0 || open_key(c, &cfg, file) != 0 ||
	    open_dev(c, &cfg, file) != 0)
		goto out;
	usb_dev_attach(c->dev); /* a CTAP power-up */
	ck_in_reset(c);
	ck_arm_out(c);
	log_info("canokey: %s: serial %u, USB %04x:%04x, user presence %s",
		 file, (unsigned)vkey_serial(c->key), cfg.vid, cfg.pid,
		 cfg.up == VKEY_UP_AUTO ? "auto" : "deny");
	the_ck = c;
	c = NULL; /* transferred */
	if (!exit_hook)
		exit_hook = atexit(at_exit) == 0;
	r = 0;
out:
	if (c != NULL) {
		usb_dev_free(c->dev);
		if (c->key != NULL)
			vkey_close(c->key);
		if (c->log != NULL) {
			log_set_file(NULL);
			fclose(c->log);
		}
		free(c);
	}
	return r;
}

void ck_close(void)
{
	struct ck *c = the_ck;

	if (c == NULL)
		return;
	the_ck = NULL;
	usb_dev_free(c->dev); /* joins the class workers */
	vkey_close(c->key);
	if (c->log != NULL) {
		log_set_file(NULL);
		fclose(c->log);
	}
	explicit_bzero(c, sizeof(*c));
	free(c);
}

/* --- the ABI ------------------------------------------------------------ */

int canokey_emu_init(void *key, const char *file)
{
	return ck_open(key, file);
}

void canokey_emu_reset(void)
{
	struct ck *c = enter();

	if (c == NULL)
		return;
	if (!nested(c)) {
		usb_dev_reset(c->dev); /* a CTAP power-up */
		ck_in_reset(c);
		ck_arm_out(c);
	}
	leave(c);
}

void canokey_emu_setup(int request, int value, int index, int length)
{
	struct ck *c = enter();

	if (c == NULL)
		return;
	if (!nested(c))
		ck_setup(c, request, value, index, length);
	leave(c);
}

void canokey_emu_data_out(uint8_t ep, uint8_t *data)
{
	struct ck *c = enter();

	if (c == NULL)
		return;
	if (nested(c) || ep >= CK_N_EPS)
		log_debug("canokey: data_out on ep %u ignored", ep);
	else if (ep == 0)
		ck_control_out(c, data);
	else
		ck_data_out(c, ep);
	leave(c);
}

/* Nested (from inside our transmit) it is QEMU saying the bytes were
 * taken into its buffer, or xhci's IN token starting: nothing to do. */
void canokey_emu_data_in(uint8_t ep)
{
	struct ck *c = enter();

	if (c == NULL)
		return;
	if (!nested(c) && ep < CK_N_EPS)
		ck_data_in(c, ep);
	leave(c);
}

/* Nested, it is an IN token that xhci runs inside our transmit. Right
 * after data_in on ep 1 it is part of QEMU's handling of that IN token:
 * nothing may be transmitted on ep 1 then (endpoint.c). */
void canokey_emu_device_loop(void)
{
	struct ck *c = enter();

	if (c == NULL)
		return;
	if (!nested(c) && c->prev_in_token != CANOKEY_EMU_EP_CTAPHID)
		ck_push(c);
	leave(c);
}
