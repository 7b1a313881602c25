/* vkey export / import: a whole key copied into a sealed backup file and
 * back into a new state file (docs/SEALING.md, "Backups and migration").
 * The store does the copying; this file adds the rules: a backup is
 * always sealed, and the messages both CLI paths print. */
#include "core/vkey_impl.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct store_seal to_store_seal(const struct vkey_seal *s)
{
	struct store_seal ss = { 0 };

	if (s != NULL) {
		ss.secret = s->secret;
		ss.len = s->len;
	}
	return ss;
}

int vkey_export(struct vkey *key, const char *path,
		const struct vkey_seal *to, bool replace, char *msg,
		size_t msglen)
{
	struct store_seal seal = to_store_seal(to);
	char err[1024];
	int r;

	if (key == NULL || path == NULL) {
		snprintf(msg, msglen, "export: no key or no backup file");
		return -1;
	}
	if (to == NULL || to->secret == NULL || to->len == 0) {
		snprintf(msg, msglen, "a backup is always sealed: give its "
			 "passphrase or key file");
		return -1;
	}
	/* Between commands, so that the copy sees no half-done one. */
	pthread_mutex_lock(&key->lock);
	r = store_copy_to(key->store, path, &seal,
			  replace ? STORE_COPY_REPLACE : 0, err, sizeof(err));
	pthread_mutex_unlock(&key->lock);
	if (r != STORE_OK) {
		if (r == STORE_EXISTS)
			snprintf(msg, msglen, "backup file %s exists; give "
				 "--force to replace it", path);
		else
			snprintf(msg, msglen, "export failed: %s", err);
		return -1;
	}
	snprintf(msg, msglen, "key %u exported to %s (sealed backup)",
		 store_serial(key->store), path);
	return 0;
}

int vkey_import(const char *path, const struct vkey_seal *from,
		const char *state, const struct vkey_seal *seal, bool replace,
		char *msg, size_t msglen)
{
	struct store_seal bs = to_store_seal(from), ns = to_store_seal(seal);
	struct store *src = NULL;
	char err[1024];
	int r = -1;

	if (path == NULL || state == NULL) {
		snprintf(msg, msglen, "import: no backup or no state file");
		return -1;
	}
	if (from == NULL || from->secret == NULL || from->len == 0) {
		snprintf(msg, msglen, "backup %s: give its passphrase or key "
			 "file", path);
		return -1;
	}
	if (from->len > STORE_SEAL_SECRET_MAX ||
	    (seal != NULL && seal->len > STORE_SEAL_SECRET_MAX)) {
		snprintf(msg, msglen, "a passphrase or key file is too long "
			 "(at most %d bytes)", STORE_SEAL_SECRET_MAX);
		return -1;
	}
	if (!replace && access(state, F_OK) == 0) {
		snprintf(msg, msglen, "state file %s exists; give --force to "
			 "replace it", state);
		return -1;
	}
	switch (store_open_readonly(&src, path, &bs, err, sizeof(err))) {
	case STORE_OK:
		break;
	case STORE_INVALID: /* given a secret, but not sealed */
		snprintf(msg, msglen, "%s is not a vkey backup (it is not "
			 "sealed; vkey export seals every backup)", path);
		goto out;
	case STORE_SEALED:
		snprintf(msg, msglen, "wrong passphrase or key file for "
			 "backup %s; nothing was written", path);
		goto out;
	default:
		snprintf(msg, msglen, "cannot read backup: %s", err);
		goto out;
	}
	switch (store_copy_to(src, state, seal != NULL ? &ns : NULL,
			      replace ? STORE_COPY_REPLACE : 0, err,
			      sizeof(err))) {
	case STORE_OK:
		snprintf(msg, msglen, "key %u imported from %s into %s (%s)",
			 store_serial(src), path, state,
			 seal != NULL ? "sealed" : "not sealed");
		r = 0;
		break;
	case STORE_EXISTS:
		snprintf(msg, msglen, "state file %s exists; give --force to "
			 "replace it", state);
		break;
	default:
		snprintf(msg, msglen, "import failed: %s", err);
		break;
	}
out:
	store_close(src);
	return r;
}
