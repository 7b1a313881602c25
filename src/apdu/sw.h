/* ISO/IEC 7816-4 status words, named after the standard's meaning. */
#ifndef VKEY_SW_H
#define VKEY_SW_H

#define SW_OK                        0x9000
#define SW_BYTES_REMAINING(n)        (0x6100 | ((n) & 0xFF))
#define SW_WARNING_NVM_UNCHANGED     0x6200
#define SW_SELECTED_TERMINATED       0x6285
#define SW_VERIFY_FAIL(tries)        (0x63C0 | ((tries) & 0x0F))
#define SW_MEMORY_FAILURE            0x6581
#define SW_WRONG_LENGTH              0x6700
#define SW_LOGICAL_CHANNEL_UNSUP     0x6881
#define SW_SECURE_MESSAGING_UNSUP    0x6882
#define SW_LAST_COMMAND_EXPECTED     0x6883
#define SW_CHAINING_UNSUPPORTED      0x6884
#define SW_INCOMPATIBLE_FILE         0x6981
#define SW_SECURITY_STATUS           0x6982
#define SW_AUTH_BLOCKED              0x6983
#define SW_REF_DATA_UNUSABLE         0x6984
#define SW_CONDITIONS_NOT_SATISFIED  0x6985
#define SW_COMMAND_NOT_ALLOWED       0x6986
#define SW_WRONG_DATA                0x6A80
#define SW_FUNC_NOT_SUPPORTED        0x6A81
#define SW_FILE_NOT_FOUND            0x6A82
#define SW_RECORD_NOT_FOUND          0x6A83
#define SW_NOT_ENOUGH_SPACE          0x6A84
#define SW_WRONG_P1P2                0x6A86
#define SW_REF_DATA_NOT_FOUND        0x6A88
#define SW_WRONG_P1P2_NO_INFO        0x6B00
#define SW_WRONG_LE(n)               (0x6C00 | ((n) & 0xFF))
#define SW_INS_NOT_SUPPORTED         0x6D00
#define SW_CLA_NOT_SUPPORTED         0x6E00
#define SW_UNKNOWN                   0x6F00

/* Short text for a status word, for logs. */
const char *sw_text(unsigned sw);

/* The status word of a PIN check (verdict: an enum pin_verdict of
 * services/pin.h): 9000, 63Cx with x the tries left (at most 15, all the
 * nibble can say), 6983 when blocked, 6581 when the try counter could
 * not be saved. */
unsigned sw_of_pin_verdict(int verdict, unsigned left);

#endif
