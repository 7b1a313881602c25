/* What applets may reach of their key: its services. */
#ifndef VKEY_KEY_H
#define VKEY_KEY_H

#include "services/store.h"
#include "services/up.h"
#include "vkey/vkey.h"

struct store *vkey_store(struct vkey *key);
struct up *vkey_up(struct vkey *key);

#endif
