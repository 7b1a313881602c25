/* A key on a fresh temporary state file, for the tests that drive an
 * applet through the public core API. */
#ifndef VKEY_CHECK_KEY_H
#define VKEY_CHECK_KEY_H

#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "vkey/vkey.h"

struct check_key {
	struct vkey *key;
	char dir[64];
	char path[128];
};

/* Open (again) k's state file; user presence "prompt" gives up after
 * 200 ms. Exits the test on failure. */
static inline struct vkey *check_key_open(struct check_key *k,
					  enum vkey_up_policy up)
{
	struct vkey_options opt = { .state_path = k->path,
				    .up = up,
				    .up_timeout_ms = 200 };
	char err[256];

	if (vkey_open(&k->key, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "vkey_open: %s\n", err);
		exit(1);
	}
	return k->key;
}

/* A new key in a new /tmp/vkey-NAME-XXXXXX folder. */
static inline struct vkey *check_key_begin(struct check_key *k,
					   const char *name,
					   enum vkey_up_policy up)
{
	snprintf(k->dir, sizeof(k->dir), "/tmp/vkey-%.16s-XXXXXX", name);
	if (mkdtemp(k->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(k->path, sizeof(k->path), "%s/state.vkey", k->dir);
	return check_key_open(k, up);
}

static inline struct vkey *check_key_reopen(struct check_key *k,
					    enum vkey_up_policy up)
{
	vkey_close(k->key);
	return check_key_open(k, up);
}

/* Close the key and remove its folder. */
static inline void check_key_end(struct check_key *k)
{
	vkey_close(k->key);
	k->key = NULL;
	check_rmtree(k->dir);
}

#endif
