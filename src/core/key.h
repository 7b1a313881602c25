/* What applets may reach of their key: its services. */
#ifndef VKEY_KEY_H
#define VKEY_KEY_H

#include "services/store.h"
#include "services/up.h"
#include "vkey/vkey.h"

struct store *vkey_store(struct vkey *key);
struct up *vkey_up(struct vkey *key);
/* getInfo's maxMsgSize for this key's transport (vkey_options). */
#define VKEY_CTAP_MSG_MIN 512
#define VKEY_CTAP_MSG_MAX 7609
size_t vkey_ctap_msg_max(const struct vkey *key);

#endif
