/* Test applet for the dispatcher (see echo_applet.h). */
#include "echo_applet.h"

#include <stdlib.h>

#include "apdu/sw.h"

static const uint8_t echo_aid[] = { 0xF0, 0x76, 0x6B, 0x65, 0x79, 0x01, 0x02 };
static const uint8_t echo2_aid[] = { 0xF0, 0x76, 0x6B, 0x65, 0x79, 0x09 };

struct echo {
	int selected;
	int powered_off;
};

static int echo_create(struct vkey *key, void **state)
{
	(void)key;
	*state = calloc(1, sizeof(struct echo));
	return *state ? 0 : -1;
}

static void echo_destroy(void *state)
{
	free(state);
}

static unsigned echo_select(void *state, const struct apdu *cmd,
			    struct wbuf *w)
{
	(void)cmd;
	((struct echo *)state)->selected++;
	wbuf_put(w, "echo", 4);
	return SW_OK;
}

static unsigned echo_process(void *state, const struct apdu *cmd,
			     struct wbuf *w)
{
	size_t n = (size_t)(cmd->p1 << 8 | cmd->p2);

	(void)state;
	switch (cmd->ins) {
	case 0x01:
		for (size_t i = 0; i < n; i++)
			wbuf_u8(w, (uint8_t)i);
		return SW_OK;
	case 0x02:
		wbuf_put(w, cmd->data, cmd->lc);
		return SW_OK;
	case 0x03:
		return SW_WRONG_DATA;
	case 0x04:
		wbuf_put(w, "leak", 4);
		return SW_WRONG_DATA;
	case 0x05:
		wbuf_put(w, "warn", 4);
		return SW_VERIFY_FAIL(2);
	}
	return SW_INS_NOT_SUPPORTED;
}

static void echo_power_off(void *state)
{
	((struct echo *)state)->powered_off++;
}

const struct applet_ops echo_applet = {
	.name = "echo",
	.aid = echo_aid,
	.aid_len = sizeof(echo_aid),
	.create = echo_create,
	.destroy = echo_destroy,
	.select = echo_select,
	.process = echo_process,
	.power_off = echo_power_off,
};

const struct applet_ops echo2_applet = {
	.name = "echo2",
	.aid = echo2_aid,
	.aid_len = sizeof(echo2_aid),
	.send_remaining_ins = 0xA5,
	.create = echo_create,
	.destroy = echo_destroy,
	.select = echo_select,
	.process = echo_process,
	.power_off = echo_power_off,
};
