/* CCID messages (CCID 1.1 §6.1, §6.2): the checks every PC_to_RDR
 * message goes through, one handler per message type, the answers. */
#include <string.h>

#include "core/log.h"
#include "usb/ccid_priv.h"

/* Defaults mirroring vkey's ATR: TA1 0x13, LRC and direct convention,
 * TC1 0, TB3 0x15 (BWI 1, CWI 5), IFSC 254, NAD 0. */
const uint8_t ccid_t1_defaults[T1_PARAMS_LEN] = { 0x13, 0x10, 0x00, 0x15,
						  0x00, 0xFE, 0x00 };

/* The RDR_to_PC type that answers a PC_to_RDR type (§6.1, per message);
 * unknown types get a SlotStatus (§6.1: CMD_NOT_SUPPORTED). */
static uint8_t answer_type(uint8_t type)
{
	switch (type) {
	case PC_to_RDR_IccPowerOn:
	case PC_to_RDR_XfrBlock:
	case PC_to_RDR_Secure:
		return RDR_to_PC_DataBlock;
	case PC_to_RDR_GetParameters:
	case PC_to_RDR_ResetParameters:
	case PC_to_RDR_SetParameters:
		return RDR_to_PC_Parameters;
	case PC_to_RDR_Escape:
		return RDR_to_PC_Escape;
	case PC_to_RDR_SetDataRateAndClockFrequency:
		return RDR_to_PC_DataRateAndClockFrequency;
	default:
		return RDR_to_PC_SlotStatus;
	}
}

/* §6.2: header (type, dwLength, bSlot 0, bSeq, bStatus, bError, the
 * type's own byte) then data, into b (room for it all). */
size_t ccid_build_msg(uint8_t *b, uint8_t type, uint8_t seq,
		      uint8_t status, uint8_t error, uint8_t specific,
		      const uint8_t *data, size_t len)
{
	b[0] = type;
	ccid_le32(b + 1, (uint32_t)len);
	b[5] = 0; /* bSlot */
	b[6] = seq;
	b[7] = status;
	b[8] = error;
	b[9] = specific;
	if (len > 0)
		memcpy(b + CCID_HEADER_LEN, data, len);
	return CCID_HEADER_LEN + len;
}

void ccid_enqueue(struct ccid *c, uint8_t type, uint8_t seq,
		  uint8_t status, uint8_t error, uint8_t specific,
		  const uint8_t *data, size_t len)
{
	struct small_msg *m;

	if (c->q_count == QUEUE_LEN || CCID_HEADER_LEN + len > SMALL_MSG_MAX) {
		log_debug("ccid: response queue full, answer to seq %u dropped",
			 seq);
		return;
	}
	m = &c->queue[(c->q_head + c->q_count++) % QUEUE_LEN];
	m->len = ccid_build_msg(m->b, type, seq, status, error, specific, data,
				len);
}

/* A failed command: the answer type it expects, no data. */
void ccid_fail(struct ccid *c, const struct ccid_msg *m, uint8_t error)
{
	uint8_t icc = error == BAD_SLOT ? ICC_NOT_PRESENT : ccid_icc_status(c);

	log_debug("ccid: message %02x seq %u failed, bError %02x", m->type,
		  m->seq, error);
	ccid_enqueue(c, answer_type(m->type), m->seq, CMD_FAILED | icc, error,
		     0, NULL, 0);
}

void ccid_slot_status(struct ccid *c, const struct ccid_msg *m)
{
	ccid_enqueue(c, RDR_to_PC_SlotStatus, m->seq,
		     CMD_OK | ccid_icc_status(c), 0,
		     0 /* bClockStatus: running */, NULL, 0);
}

static void parameters(struct ccid *c, const struct ccid_msg *m)
{
	ccid_enqueue(c, RDR_to_PC_Parameters, m->seq,
		     CMD_OK | ccid_icc_status(c), 0, CCID_PROTOCOL_T1, c->t1,
		     sizeof(c->t1));
}

/* The next DataBlock of the response data (§6.2.1 bChainParameter).
 * With no_zlp a block whose message would end with a full packet keeps
 * its last byte for the next block (which is then at most 11 bytes). */
void ccid_emit_data(struct ccid *c)
{
	size_t left = c->rdata_len - c->rdata_off;
	size_t n = left < ccid_data_max(c) ? left : ccid_data_max(c);
	uint8_t chain;

	if (c->no_zlp && (CCID_HEADER_LEN + n) % USB_MAX_PACKET == 0)
		n--; /* n >= 54 here */
	if (c->rdata_off == 0)
		chain = n == left ? CHAIN_WHOLE : CHAIN_BEGIN;
	else
		chain = n == left ? CHAIN_END : CHAIN_MIDDLE;
	c->tx_len = ccid_build_msg(c->tx, RDR_to_PC_DataBlock, c->rdata_seq,
				   CMD_OK | ccid_icc_status(c), 0, chain,
				   c->rdata + c->rdata_off, n);
	c->tx_off = 0;
	c->rdata_off += n;
	c->rdata_due = false;
	c->rdata_await = c->rdata_off < c->rdata_len;
	if (!c->rdata_await) {
		explicit_bzero(c->rdata, c->rdata_len);
		c->rdata_len = c->rdata_off = 0;
	}
}

void ccid_drop_rdata(struct ccid *c)
{
	explicit_bzero(c->rdata, c->rdata_len);
	c->rdata_len = c->rdata_off = 0;
	c->rdata_due = c->rdata_await = false;
}

/* §6.1.1 */
static void on_power_on(struct ccid *c, const struct ccid_msg *m)
{
	if (m->specific[0] > 3) /* bPowerSelect: auto, 5 V, 3 V, 1.8 V */
		ccid_fail(c, m, BAD_BYTE7);
	else
		ccid_submit(c, m, JOB_POWER_ON);
}

/* §6.1.4; chaining per wLevelParameter at the extended APDU level. */
static void on_xfr_block(struct ccid *c, const struct ccid_msg *m)
{
	uint16_t level = (uint16_t)(m->specific[1] | m->specific[2] << 8);

	if (!c->powered) {
		ccid_fail(c, m, ICC_MUTE);
		return;
	}
	if (level == CHAIN_NEXT) {
		if (!c->rdata_await) {
			ccid_fail(c, m, BAD_WLEVELPARAMETER);
			return;
		}
		c->rdata_seq = m->seq;
		c->rdata_due = true;
		return;
	}
	if ((level == CHAIN_MIDDLE || level == CHAIN_END) != c->chaining ||
	    (level != CHAIN_WHOLE && level != CHAIN_BEGIN &&
	     level != CHAIN_MIDDLE && level != CHAIN_END)) {
		c->chaining = false;
		ccid_fail(c, m, BAD_WLEVELPARAMETER);
		return;
	}
	ccid_drop_rdata(c);
	if (level == CHAIN_WHOLE || level == CHAIN_BEGIN)
		c->apdu_len = 0;
	if (m->len > VKEY_APDU_MAX - c->apdu_len) {
		c->chaining = false;
		c->apdu_len = 0;
		ccid_fail(c, m, BAD_DWLENGTH);
		return;
	}
	memcpy(c->apdu + c->apdu_len, m->data, m->len);
	c->apdu_len += m->len;
	c->chaining = level == CHAIN_BEGIN || level == CHAIN_MIDDLE;
	if (c->chaining) /* §6.2.1: empty block, send the rest */
		ccid_enqueue(c, RDR_to_PC_DataBlock, m->seq,
			     CMD_OK | ccid_icc_status(c), 0, CHAIN_NEXT, NULL,
			     0);
	else
		ccid_submit(c, m, JOB_APDU);
}

/* §6.1.7: T=1 only; the values must be ones a T=1 card can use. */
static void on_set_parameters(struct ccid *c, const struct ccid_msg *m)
{
	if (m->specific[0] != CCID_PROTOCOL_T1) {
		ccid_fail(c, m, BAD_BYTE7);
		return;
	}
	if (m->len != T1_PARAMS_LEN) {
		ccid_fail(c, m, BAD_DWLENGTH);
		return;
	}
	if ((m->data[1] & 0xFE) != 0x10) { /* bmTCCKST1: LRC/CRC, direct */
		ccid_fail(c, m, BAD_PARAM(1));
		return;
	}
	if (m->data[5] == 0 || m->data[5] == 0xFF) { /* bIFSC */
		ccid_fail(c, m, BAD_PARAM(5));
		return;
	}
	if (m->data[6] != 0) { /* bNadValue: dwFeatures lacks 0x200 */
		ccid_fail(c, m, BAD_PARAM(6));
		return;
	}
	memcpy(c->t1, m->data, T1_PARAMS_LEN);
	parameters(c, m);
}

/* §6.1.9: only restarting the clock; it never stops (no 0x100 feature). */
static void on_icc_clock(struct ccid *c, const struct ccid_msg *m)
{
	if (m->specific[0] != 0)
		ccid_fail(c, m, BAD_BYTE7);
	else
		ccid_slot_status(c, m);
}

/* §6.1.14: one clock; a rate from the list, else the current one. */
static void on_set_rate(struct ccid *c, const struct ccid_msg *m)
{
	uint8_t b[8];
	uint32_t rate;

	if (m->len != sizeof(b)) {
		ccid_fail(c, m, BAD_DWLENGTH);
		return;
	}
	rate = (uint32_t)m->data[4] | (uint32_t)m->data[5] << 8 |
	       (uint32_t)m->data[6] << 16 | (uint32_t)m->data[7] << 24;
	if (rate == CCID_RATE_DEFAULT || rate == CCID_RATE_MAX)
		c->data_rate = rate;
	ccid_le32(b, CCID_CLOCK_KHZ);
	ccid_le32(b + 4, c->data_rate);
	ccid_enqueue(c, RDR_to_PC_DataRateAndClockFrequency, m->seq,
		     CMD_OK | ccid_icc_status(c), 0, 0, b, sizeof(b));
}

/* §6.1.13 with §5.3.1: the bulk half of an abort. Whether or not the
 * ABORT request came first, the slot ends up idle. */
static void on_abort(struct ccid *c, const struct ccid_msg *m)
{
	if (c->busy) {
		struct ccid_msg aborted = { .type = PC_to_RDR_XfrBlock,
					    .seq = c->busy_seq };
		ccid_abandon_job(c);
		ccid_fail(c, &aborted, CMD_ABORTED);
	}
	ccid_drop_rdata(c);
	c->chaining = false;
	c->abort_pending = false;
	ccid_slot_status(c, m);
}

static void dispatch_msg(struct ccid *c, const struct ccid_msg *m)
{
	switch (m->type) {
	case PC_to_RDR_IccPowerOn:
		on_power_on(c, m);
		break;
	case PC_to_RDR_IccPowerOff: /* §6.1.2 */
		ccid_submit(c, m, JOB_POWER_OFF);
		break;
	case PC_to_RDR_GetSlotStatus: /* §6.1.3 */
		ccid_slot_status(c, m);
		break;
	case PC_to_RDR_XfrBlock:
		on_xfr_block(c, m);
		break;
	case PC_to_RDR_GetParameters: /* §6.1.5 */
		parameters(c, m);
		break;
	case PC_to_RDR_ResetParameters: /* §6.1.6 */
		memcpy(c->t1, ccid_t1_defaults, sizeof(c->t1));
		parameters(c, m);
		break;
	case PC_to_RDR_SetParameters:
		on_set_parameters(c, m);
		break;
	case PC_to_RDR_IccClock:
		on_icc_clock(c, m);
		break;
	case PC_to_RDR_SetDataRateAndClockFrequency:
		on_set_rate(c, m);
		break;
	case PC_to_RDR_Abort:
		on_abort(c, m);
		break;
	case PC_to_RDR_T0APDU:   /* T=0 only; the card is T=1 */
	case PC_to_RDR_Escape:   /* no vendor commands */
	case PC_to_RDR_Secure:   /* bPINSupport 0: no PIN pad */
	case PC_to_RDR_Mechanical: /* dwMechanical 0 */
	default:
		ccid_fail(c, m, CMD_NOT_SUPPORTED);
		break;
	}
}

/* Checks every message goes through before its handler. */
void ccid_handle_msg(struct ccid *c, const struct ccid_msg *m)
{
	log_debug("ccid: message %02x seq %u, %u bytes", m->type, m->seq,
		  (unsigned)m->len);
	if (m->slot != 0) {
		ccid_fail(c, m, BAD_SLOT);
		return;
	}
	if (m->type == PC_to_RDR_Abort) {
		on_abort(c, m);
		return;
	}
	if (c->abort_pending) { /* §5.3.1: until PC_to_RDR_Abort comes */
		ccid_fail(c, m, CMD_ABORTED);
		return;
	}
	if (c->busy) { /* bMaxCCIDBusySlots 1 and one slot */
		ccid_fail(c, m, CMD_SLOT_BUSY);
		return;
	}
	dispatch_msg(c, m);
}
