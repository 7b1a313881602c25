/* The applets every key installs, in SELECT priority order. */
#include "core/applet.h"

#include "applets/fido/fido.h"
#include "applets/ndef/ndef.h"
#include "applets/mgmt/mgmt.h"
#include "applets/oath/oath.h"
#include "applets/openpgp/openpgp.h"
#include "applets/piv/piv.h"

const struct applet_ops *const applet_registry[] = {
	&oath_applet,
	&fido_applet,
	&openpgp_applet,
	&piv_applet,
	&ndef_applet,
	&mgmt_applet, /* last: a partial AID A000000527 stays OATH's */
};

const size_t applet_registry_len =
	sizeof(applet_registry) / sizeof(applet_registry[0]);
