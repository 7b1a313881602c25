/* The persisted settings' records (vkey_config.c), for the core's own
 * files. */
#ifndef VKEY_CORE_CONFIG_H
#define VKEY_CORE_CONFIG_H

struct vkey;

/* Forget every setting (factory reset); the key's lock is held.
 * 0 or -1. */
int config_clear(struct vkey *key);

#endif
