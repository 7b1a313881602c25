/* The PIV applet (docs/PIV.md). */
#ifndef VKEY_PIV_H
#define VKEY_PIV_H

#include "core/applet.h"

extern const struct applet_ops piv_applet;

#endif
