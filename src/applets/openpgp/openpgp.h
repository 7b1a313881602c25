/* The OpenPGP card 3.4 applet (docs/OPENPGP.md). */
#ifndef VKEY_OPENPGP_H
#define VKEY_OPENPGP_H

#include "core/applet.h"

extern const struct applet_ops openpgp_applet;

#endif
