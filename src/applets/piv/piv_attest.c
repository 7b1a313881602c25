/* PIV attestation (YubiKey's ATTEST, INS F9): the attestation key in
 * slot F9 certifies that a slot's key was generated on this card, in a
 * certificate carrying Yubico's extensions. The F9 key and its
 * self-signed certificate (object 5FFF01) are made at first use and kept
 * across RESET; an imported F9 key with its certificate becomes the
 * issuer (docs/PIV.md, Attestation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/sw.h"
#include "core/log.h"
#include "applets/piv/piv_priv.h"
#include "services/crypto.h"

/* Yubico's attestation extensions (Yubico's PIV attestation notes):
 * firmware version, serial number, PIN and touch policy, form factor.
 * Each extnValue holds the raw bytes, the serial a DER INTEGER. */
#define OID_YK_FIRMWARE "1.3.6.1.4.1.41482.3.3"
#define OID_YK_SERIAL "1.3.6.1.4.1.41482.3.7"
#define OID_YK_POLICY "1.3.6.1.4.1.41482.3.8"
#define OID_YK_FORM "1.3.6.1.4.1.41482.3.9"
#define YK_FORM_USB_A_KEYCHAIN 0x01
#define YK_EXT_COUNT 4

#define ATTEST_CN "vkey PIV Attestation"
#define ATTEST_O "vkey"
#define ATTEST_DAYS (20u * 365u + 5u) /* twenty years, leap days too */

/* The certificate container (SP 800-73-4 part 1, appendix A). */
#define TAG_CERT 0x70
#define TAG_CERT_INFO 0x71
#define TAG_EDC 0xFE
#define CERT_INFO_UNCOMPRESSED 0x00
#define CONTAINER_OVERHEAD 9 /* 70 82 LL LL, 71 01 00, FE 00 */

#define DER_INTEGER 0x02
#define DER_U32_MAX 7 /* 02 05 00 xx xx xx xx */

/* A random positive, non-zero certificate serial number. */
static int serial_random(uint64_t *serial)
{
	if (crypto_random(serial, sizeof(*serial)) != 0)
		return -1;
	*serial >>= 1;
	if (*serial == 0)
		*serial = 1;
	return 0;
}

/* DER INTEGER of v in its shortest form (a leading zero byte when the
 * top bit is set). Returns the length written. */
static size_t der_u32(uint32_t v, uint8_t out[DER_U32_MAX])
{
	uint8_t be[5] = { 0, (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			  (uint8_t)(v >> 8), (uint8_t)v };
	size_t skip = 0;

	while (skip < 4 && be[skip] == 0 && be[skip + 1] < 0x80)
		skip++;
	out[0] = DER_INTEGER;
	out[1] = (uint8_t)(sizeof(be) - skip);
	memcpy(out + 2, be + skip, sizeof(be) - skip);
	return 2 + sizeof(be) - skip;
}

/* The signing key of an F9 key record (X25519 is refused by crypto). */
static void issuer_of(const struct piv_key *k, struct crypto_issuer *is)
{
	memset(is, 0, sizeof(*is));
	if (piv_alg_is_rsa(k->alg)) {
		is->rsa = &k->rsa;
		return;
	}
	is->curve = piv_alg_curve(k->alg);
	is->priv = k->ec_priv;
	is->priv_len = k->ec_priv_len;
}

/* ---- The attestation certificate in 5FFF01 ------------------------- */

struct f9_cert {
	uint8_t *obj; /* the stored object (store_free_value) */
	size_t obj_len;
	const uint8_t *der; /* the certificate inside it */
	size_t der_len;
};

/* The certificate of a container 70 <cert> [71 <info>] [FE <edc>]; a
 * compressed certificate (info 01) cannot be used. */
static int container_cert(const uint8_t *obj, size_t len,
			  const uint8_t **der, size_t *der_len)
{
	struct rbuf in = rbuf_init(obj, len), v;
	uint8_t info = CERT_INFO_UNCOMPRESSED;
	uint16_t tag;

	*der = NULL;
	while (rbuf_left(&in) > 0) {
		if (rbuf_tlv(&in, &tag, &v) != 0)
			return -1;
		if (tag == TAG_CERT) {
			if (*der != NULL || rbuf_left(&v) == 0)
				return -1;
			*der = rbuf_cur(&v);
			*der_len = rbuf_left(&v);
		} else if (tag == TAG_CERT_INFO &&
			   (rbuf_left(&v) != 1 || rbuf_u8(&v, &info) != 0)) {
			return -1;
		}
	}
	return *der != NULL && info == CERT_INFO_UNCOMPRESSED ? 0 : -1;
}

static void f9_cert_free(struct f9_cert *c)
{
	if (c->obj != NULL)
		store_free_value(c->obj, c->obj_len);
	memset(c, 0, sizeof(*c));
}

/* STORE_OK, STORE_NOT_FOUND, STORE_CORRUPT for an object that is not
 * an uncompressed certificate container, or a store error. */
static int f9_cert_load(struct piv *p, struct f9_cert *c)
{
	int err;

	memset(c, 0, sizeof(*c));
	err = piv_obj_get(p, PIV_OBJ_ATTEST, &c->obj, &c->obj_len);
	if (err != STORE_OK) {
		c->obj = NULL;
		return err;
	}
	if (container_cert(c->obj, c->obj_len, &c->der, &c->der_len) != 0) {
		f9_cert_free(c);
		return STORE_CORRUPT;
	}
	return STORE_OK;
}

static int f9_cert_put(struct piv *p, const uint8_t *der, size_t der_len)
{
	static const uint8_t tail[] = { TAG_CERT_INFO, 1,
					CERT_INFO_UNCOMPRESSED, TAG_EDC, 0 };
	size_t cap = der_len + CONTAINER_OVERHEAD;
	uint8_t *obj = malloc(cap);
	struct wbuf w;
	int err = STORE_IO;

	if (obj == NULL)
		return STORE_IO;
	w = wbuf_init(obj, cap);
	wbuf_tlv(&w, TAG_CERT, der, der_len);
	wbuf_put(&w, tail, sizeof(tail));
	if (!w.overflow)
		err = piv_obj_put(p, PIV_OBJ_ATTEST, obj, w.len);
	free(obj);
	return err;
}

/* ---- Factory state --------------------------------------------------- */

/* A P-256 key in F9 with its self-signed CA certificate in 5FFF01. */
static int f9_make(struct piv *p)
{
	struct piv_key k = { .alg = PIV_ALG_P256,
			     .pin_policy = PIV_PIN_NEVER,
			     .touch_policy = PIV_TOUCH_NEVER,
			     .origin = PIV_ORIGIN_GENERATED,
			     .ec_priv_len = sizeof(k.ec_priv),
			     .ec_pub_len = sizeof(k.ec_pub) };
	struct crypto_cert_req req = { .o = ATTEST_O, .cn = ATTEST_CN,
				       .is_ca = 1, .days = ATTEST_DAYS };
	struct crypto_issuer is;
	uint8_t *spki = NULL, *der = NULL;
	size_t spki_len = 0, der_len = 0;
	int err = STORE_IO;

	if (crypto_pk_ec_generate(PK_P256, k.ec_priv, &k.ec_priv_len,
				  k.ec_pub, &k.ec_pub_len) != 0 ||
	    serial_random(&req.serial) != 0)
		goto out;
	issuer_of(&k, &is);
	if (piv_key_spki(&k, &spki, &spki_len) != 0 ||
	    crypto_x509_issue_by(&req, spki, spki_len, &is, NULL, 0, &der,
				 &der_len) != 0)
		goto out;
	err = piv_key_save(p, PIV_SLOT_ATTEST, &k);
	if (err == STORE_OK)
		err = f9_cert_put(p, der, der_len);
out:
	piv_key_wipe(&k);
	free(spki);
	free(der);
	return err;
}

int piv_attest_init(struct piv *p)
{
	struct piv_key k;
	int err;

	memset(&k, 0, sizeof(k));
	err = piv_key_load(p, PIV_SLOT_ATTEST, &k);
	piv_key_wipe(&k);
	/* A record that was read but does not parse can never sign again:
	 * the factory state the user asked for gets a new attestation key
	 * (a read error still fails, so it never replaces a good key). */
	if (err == STORE_CORRUPT)
		log_error("piv: the attestation key record is damaged: making "
			  "a new attestation key");
	if (err == STORE_NOT_FOUND || err == STORE_CORRUPT)
		return f9_make(p);
	return err; /* present (kept with its certificate), or unreadable */
}

/* ---- ATTEST ---------------------------------------------------------- */

/* Yubico's four extensions for the key k of a card with this serial. */
struct yk_exts {
	uint8_t firmware[3];
	uint8_t serial[DER_U32_MAX];
	uint8_t policy[2];
	uint8_t form[1];
	struct crypto_cert_ext ext[YK_EXT_COUNT];
};

static void yk_exts_fill(struct yk_exts *x, uint32_t serial,
			 const struct piv_key *k)
{
	size_t serial_len = der_u32(serial, x->serial);

	x->firmware[0] = PIV_VERSION_MAJOR;
	x->firmware[1] = PIV_VERSION_MINOR;
	x->firmware[2] = PIV_VERSION_PATCH;
	x->policy[0] = k->pin_policy;
	x->policy[1] = k->touch_policy;
	x->form[0] = YK_FORM_USB_A_KEYCHAIN;
	x->ext[0] = (struct crypto_cert_ext){ OID_YK_FIRMWARE, x->firmware,
					      sizeof(x->firmware) };
	x->ext[1] = (struct crypto_cert_ext){ OID_YK_SERIAL, x->serial,
					      serial_len };
	x->ext[2] = (struct crypto_cert_ext){ OID_YK_POLICY, x->policy,
					      sizeof(x->policy) };
	x->ext[3] = (struct crypto_cert_ext){ OID_YK_FORM, x->form,
					      sizeof(x->form) };
}

/* The key to attest: 6A88 for an empty slot, 6A80 for an imported key
 * (nothing to attest). */
static unsigned subject_load(struct piv *p, uint8_t slot, struct piv_key *k)
{
	int err = piv_key_load(p, slot, k);

	if (err == STORE_NOT_FOUND)
		return SW_REF_DATA_NOT_FOUND;
	if (err != STORE_OK)
		return SW_MEMORY_FAILURE;
	return k->origin == PIV_ORIGIN_GENERATED ? SW_OK : SW_WRONG_DATA;
}

/* The F9 key and its certificate: 6985 when either is missing or the
 * object holds no usable certificate, 6581 for a damaged key record. */
static unsigned issuer_load(struct piv *p, struct piv_key *f9,
			    struct f9_cert *ca)
{
	int err = piv_key_load(p, PIV_SLOT_ATTEST, f9);

	if (err == STORE_NOT_FOUND)
		return SW_CONDITIONS_NOT_SATISFIED;
	if (err != STORE_OK)
		return SW_MEMORY_FAILURE; /* unreadable or damaged */
	err = f9_cert_load(p, ca);
	/* No container, or none with a usable certificate. */
	if (err == STORE_NOT_FOUND || err == STORE_CORRUPT)
		return SW_CONDITIONS_NOT_SATISFIED;
	return err == STORE_OK ? SW_OK : SW_MEMORY_FAILURE;
}

/* The certificate of k under f9, issued by the subject of ca, with the
 * issuer's validity. */
static unsigned leaf_issue(struct piv *p, uint8_t slot,
			   const struct piv_key *k, const struct piv_key *f9,
			   const struct f9_cert *ca, struct wbuf *r)
{
	char cn[sizeof(ATTEST_CN) + 3];
	struct yk_exts x;
	struct crypto_cert_req req = { .cn = cn, .issuer_validity = 1,
				       .ext = x.ext, .n_ext = YK_EXT_COUNT };
	struct crypto_issuer is;
	uint8_t *spki = NULL, *der = NULL;
	size_t spki_len = 0, der_len = 0;
	unsigned sw = SW_UNKNOWN;

	snprintf(cn, sizeof(cn), "%s %02x", ATTEST_CN, slot);
	yk_exts_fill(&x, store_serial(p->st), k);
	issuer_of(f9, &is);
	if (serial_random(&req.serial) != 0 ||
	    piv_key_spki(k, &spki, &spki_len) != 0 ||
	    crypto_x509_issue_by(&req, spki, spki_len, &is, ca->der,
				 ca->der_len, &der, &der_len) != 0)
		goto out;
	wbuf_put(r, der, der_len);
	sw = SW_OK;
out:
	free(spki);
	free(der);
	return sw;
}

/* ATTEST 00 F9 <slot> 00: the DER certificate alone. */
unsigned piv_attest(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	struct piv_key k, f9;
	struct f9_cert ca = { 0 };
	unsigned sw;

	if (cmd->p2 != 0x00 || cmd->p1 == PIV_SLOT_ATTEST ||
	    piv_slot_index(cmd->p1) < 0)
		return SW_WRONG_P1P2;
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	memset(&k, 0, sizeof(k));
	memset(&f9, 0, sizeof(f9));
	sw = subject_load(p, cmd->p1, &k);
	if (sw == SW_OK)
		sw = issuer_load(p, &f9, &ca);
	if (sw == SW_OK)
		sw = leaf_issue(p, cmd->p1, &k, &f9, &ca, r);
	f9_cert_free(&ca);
	piv_key_wipe(&f9);
	piv_key_wipe(&k);
	return sw;
}

/* `vkey attestation export`: the F9 certificate in PEM, nothing when
 * the object was deleted. */
int piv_report_attestation(void *state, struct wbuf *out)
{
	struct piv *p = state;
	struct f9_cert c;
	char *pem = NULL;
	int err = f9_cert_load(p, &c), r = -1;

	if (err == STORE_NOT_FOUND)
		return 0;
	if (err != STORE_OK)
		return -1;
	pem = crypto_x509_pem(c.der, c.der_len);
	if (pem != NULL)
		r = wbuf_put(out, pem, strlen(pem));
	free(pem);
	f9_cert_free(&c);
	return r;
}
