/* Public API of the vkey core: one struct vkey per virtual key.
 * Transports and tools call only what is declared here. */
#ifndef VKEY_VKEY_H
#define VKEY_VKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vkey;

/* User-presence policy: how a request for a touch is answered. */
enum vkey_up_policy {
	VKEY_UP_AUTO = 0, /* approve at once */
	VKEY_UP_DENY,     /* refuse at once */
	VKEY_UP_PROMPT,   /* wait (bounded) for `vkey touch` */
};

/* The owner's secret for a state file sealed at rest (docs/SEALING.md):
 * a passphrase or a key file's bytes. */
struct vkey_seal {
	const uint8_t *secret;
	size_t len;
};

struct vkey_options {
	const char *state_path;      /* state file; created on first use */
	enum vkey_up_policy up;      /* user-presence policy */
	unsigned up_timeout_ms;      /* bound for VKEY_UP_PROMPT; 0 = default */
	const char *ctl_path;        /* control socket to announce in the lock, or NULL */
	bool serving;                /* opened by a daemon (vs. a one-shot tool) */
	/* Largest CTAP message the transport carries (getInfo's maxMsgSize);
	 * 0: CTAPHID's 7609. Between 512 and 7609 bytes, else 7609. */
	size_t ctap_msg_max;
	/* Secret of a sealed state file, or to seal a new one; NULL: the
	 * file is not sealed. */
	const struct vkey_seal *seal;
};

/* Largest APDU (command or response) the core accepts or produces. */
#define VKEY_APDU_MAX (65536 + 16)

/* Open (create on first use) the key's state file, take its lock and
 * install the applets. On failure returns -1 and writes a sentence to err. */
int vkey_open(struct vkey **out, const struct vkey_options *opt, char *err,
	      size_t errlen);
void vkey_close(struct vkey *key);

/* Answer to reset for a contact interface: T=1, vkey's historical bytes. */
size_t vkey_atr(const struct vkey *key, uint8_t *buf, size_t cap);

/* Power events (PC/SC power on/off/reset, USB attach). */
void vkey_power_on(struct vkey *key);
void vkey_power_off(struct vkey *key);

/* Process one command APDU; writes the response APDU (data + SW1 SW2).
 * Thread-safe: calls on one key are serialized. Returns 0, or -1 when
 * resp_cap is too small for any answer (never happens with VKEY_APDU_MAX). */
int vkey_apdu(struct vkey *key, const uint8_t *cmd, size_t cmd_len,
	      uint8_t *resp, size_t resp_cap, size_t *resp_len);

/* CTAP over a transport that carries CTAP natively (CTAPHID).
 * vkey_ctap_cbor: req = CTAP2 command byte + CBOR; resp gets the status
 * byte + CBOR. vkey_ctap_msg: req = a CTAP1/U2F message (ISO 7816-4
 * APDU); resp gets response data + SW1 SW2. tick(arg), if not NULL, is
 * called about every 100 ms while the command waits for user presence
 * (keepalives); a non-zero return cancels it. Both return the response
 * length (0 only when cap is too small for any answer). Safe to call
 * from any thread; CTAP commands of one key run one at a time. */
size_t vkey_ctap_cbor(struct vkey *key, const uint8_t *req, size_t len,
		      uint8_t *resp, size_t cap, int (*tick)(void *arg),
		      void *arg);
size_t vkey_ctap_msg(struct vkey *key, const uint8_t *req, size_t len,
		     uint8_t *resp, size_t cap, int (*tick)(void *arg),
		     void *arg);

/* FIDO attestation for new credentials: "packed" (under the key's own
 * CA, the default) or "self". Persisted. Returns 0, or -1 (bad mode, no
 * FIDO applet, store error). */
int vkey_set_fido_attestation(struct vkey *key, const char *mode);

/* Approve the oldest pending (or next, within wait_ms) user-presence
 * request. Returns 0 when a request was approved, -1 if none came. */
int vkey_touch(struct vkey *key, unsigned wait_ms);

/* Cancel a pending user-presence wait (transport CANCEL). */
void vkey_cancel(struct vkey *key);

/* Human-readable reports shared by the CLI and the control socket, so the
 * direct and daemon paths give the same answers. Return bytes written
 * (truncated at cap, always NUL-terminated) or -1 on error. */
int vkey_report_status(struct vkey *key, char *out, size_t cap);
/* `vkey <applet> list` for the applet named (oath, fido, openpgp). */
int vkey_report_list(struct vkey *key, const char *applet, char *out,
		     size_t cap);
int vkey_report_oath_list(struct vkey *key, char *out, size_t cap);
int vkey_report_fido_list(struct vkey *key, char *out, size_t cap);
/* PEM certificates of the attestation CAs a relying party should trust. */
int vkey_report_attestation(struct vkey *key, char *out, size_t cap);

/* Seal the key's state file under next (adding sealing or changing the
 * secret), or remove the sealing (next NULL). Every secret is rewritten
 * in one transaction and no old value stays in the file. Returns 0, or
 * -1 with a sentence in err (nothing changed). */
int vkey_reseal(struct vkey *key, const struct vkey_seal *next, char *err,
		size_t errlen);
/* 1 when the key's state file is sealed. */
int vkey_sealed(const struct vkey *key);

/* Backups (docs/SEALING.md, "Backups and migration"): a backup is a
 * state file sealed under its own secret, holding the key's serial,
 * device secret and every record. vkey_export writes one of key at path
 * (replace: over an existing file, never one a daemon holds);
 * vkey_import opens the backup at path with from (a backup that is not
 * sealed is refused) and writes a new state file at state, sealed under
 * seal or in clear (seal NULL). Both return 0 or -1 and put a one-line
 * sentence (the outcome, naming the files; no newline) in msg. */
int vkey_export(struct vkey *key, const char *path,
		const struct vkey_seal *to, bool replace, char *msg,
		size_t msglen);
int vkey_import(const char *path, const struct vkey_seal *from,
		const char *state, const struct vkey_seal *seal, bool replace,
		char *msg, size_t msglen);

const char *vkey_state_path(const struct vkey *key);
uint32_t vkey_serial(const struct vkey *key);

#endif
