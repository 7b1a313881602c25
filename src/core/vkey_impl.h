/* struct vkey itself: shared by the core's own files only. */
#ifndef VKEY_VKEY_IMPL_H
#define VKEY_VKEY_IMPL_H

#include <pthread.h>

#include "apdu/dispatch.h"
#include "services/store.h"
#include "services/up.h"
#include "vkey/vkey.h"

struct vkey {
	struct store *store;
	struct up *up;
	struct dispatch dispatch;
	pthread_mutex_t lock; /* serializes commands and reports */
	int powered;
	bool serving;
	size_t ctap_msg_max;
};

#endif
