/* Run the do-nothing vpcd card on its own (for pyscard measurements):
 * floor_card PORT serves 127.0.0.1:PORT until SIGTERM or SIGINT. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "floor_card.h"

int main(int argc, char **argv)
{
	struct floor_card *c;
	sigset_t set;
	unsigned long port;
	int sig = 0;

	if (argc != 2 || (port = strtoul(argv[1], NULL, 10)) == 0 ||
	    port > 0xFFFF) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	/* Block the signals first so the serving thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	c = floor_card_start((uint16_t)port);
	if (c == NULL)
		return 1;
	sigwait(&set, &sig);
	floor_card_stop(c);
	return 0;
}
