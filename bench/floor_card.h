/* The floor for PC/SC benchmarks: a do-nothing vpcd card that answers 9000
 * to every APDU, so pcscd + vpcd overhead can be measured on its own. */
#ifndef VKEY_BENCH_FLOOR_CARD_H
#define VKEY_BENCH_FLOOR_CARD_H

#include <stdint.h>

struct floor_card;

/* Connect to vpcd at 127.0.0.1:port and serve from a thread. NULL on error. */
struct floor_card *floor_card_start(uint16_t port);
void floor_card_stop(struct floor_card *c);

#endif
