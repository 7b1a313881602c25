/* Status words as text, for logs and tools. */
#include "apdu/sw.h"

#include "services/pin.h"

const char *sw_text(unsigned sw)
{
	if ((sw & 0xFF00) == 0x6100)
		return "more data available";
	if ((sw & 0xFFF0) == 0x63C0)
		return "verification failed";
	if ((sw & 0xFF00) == 0x6C00)
		return "wrong Le";
	switch (sw) {
	case SW_OK: return "success";
	case SW_WARNING_NVM_UNCHANGED: return "warning, state unchanged";
	case SW_SELECTED_TERMINATED: return "selected file in termination state";
	case SW_MEMORY_FAILURE: return "memory failure";
	case SW_WRONG_LENGTH: return "wrong length";
	case SW_LOGICAL_CHANNEL_UNSUP: return "logical channel not supported";
	case SW_SECURE_MESSAGING_UNSUP: return "secure messaging not supported";
	case SW_LAST_COMMAND_EXPECTED: return "last command of chain expected";
	case SW_CHAINING_UNSUPPORTED: return "command chaining not supported";
	case SW_INCOMPATIBLE_FILE: return "incompatible with file structure";
	case SW_SECURITY_STATUS: return "security status not satisfied";
	case SW_AUTH_BLOCKED: return "authentication method blocked";
	case SW_REF_DATA_UNUSABLE: return "reference data not usable";
	case SW_CONDITIONS_NOT_SATISFIED: return "conditions of use not satisfied";
	case SW_COMMAND_NOT_ALLOWED: return "command not allowed";
	case SW_WRONG_DATA: return "incorrect data";
	case SW_FUNC_NOT_SUPPORTED: return "function not supported";
	case SW_FILE_NOT_FOUND: return "file or application not found";
	case SW_RECORD_NOT_FOUND: return "record not found";
	case SW_NOT_ENOUGH_SPACE: return "not enough memory space";
	case SW_WRONG_P1P2: return "incorrect P1 P2";
	case SW_REF_DATA_NOT_FOUND: return "referenced data not found";
	case SW_WRONG_P1P2_NO_INFO: return "wrong parameters P1 P2";
	case SW_INS_NOT_SUPPORTED: return "INS not supported";
	case SW_CLA_NOT_SUPPORTED: return "CLA not supported";
	case SW_UNKNOWN: return "no precise diagnosis";
	}
	return "unknown status";
}

unsigned sw_of_pin_verdict(int verdict, unsigned left)
{
	switch (verdict) {
	case PIN_MATCH:
		return SW_OK;
	case PIN_WRONG:
		return SW_VERIFY_FAIL(left > 15 ? 15 : left);
	case PIN_BLOCKED:
		return SW_AUTH_BLOCKED;
	default:
		return SW_MEMORY_FAILURE;
	}
}
