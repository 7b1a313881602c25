/* The pinUvAuthParam steps that makeCredential and getAssertion share
 * (CTAP 2.1 §6.1.2 steps 1, 2, 11, 14; §6.2.2 steps 1, 2, 6, 9), on the
 * PIN side's token API. */
#include "applets/fido/ctap_cred.h"

static bool protocol_ok(uint64_t p)
{
	return p == 1 || p == 2;
}

uint8_t cred_auth_precheck(struct ctap *c, const struct cred_auth *a,
			   const char *rp_id, const struct ctap_wait *w)
{
	uint8_t r;

	if (a->param == NULL)
		return CTAP2_OK;
	/* Step 1: a zero-length pinUvAuthParam asks "is there a PIN?" after
	 * a touch (platforms use it to select among several keys). */
	if (a->param_len == 0) {
		r = ctap_presence_for(c, "choose this key for", rp_id, w);
		if (r == CTAP2_ERR_KEEPALIVE_CANCEL)
			return r;
		if (r != CTAP2_OK)
			return CTAP2_ERR_OPERATION_DENIED;
		return ctap_pin_is_set(c) ? CTAP2_ERR_PIN_INVALID
					  : CTAP2_ERR_PIN_NOT_SET;
	}
	/* Step 2. */
	if (!a->has_protocol)
		return CTAP2_ERR_MISSING_PARAMETER;
	if (!protocol_ok(a->protocol))
		return CTAP1_ERR_INVALID_PARAMETER;
	return CTAP2_OK;
}

uint8_t cred_auth_verify(struct ctap *c, const struct cred_auth *a,
			 const uint8_t cdh[CRED_CDH_LEN], uint8_t perm,
			 const char *rp_id)
{
	uint8_t r = ctap_pin_verify_param(c, a->protocol, cdh, CRED_CDH_LEN,
					  a->param, a->param_len);

	if (r != CTAP2_OK)
		return r;
	/* The permission, then the RP ID (an unbound token becomes bound). */
	return ctap_pin_check_permission(c, perm, rp_id);
}

uint8_t cred_auth_presence(struct ctap *c, bool have_token, const char *verb,
			   const char *rp_id, const struct ctap_wait *w)
{
	uint8_t r = CTAP2_OK;

	/* A token obtained with a touch stands for this request's touch
	 * once (getUserPresentFlagValue). */
	if (!(have_token && ctap_pin_token_up(c)))
		r = ctap_presence_for(c, verb, rp_id, w);
	if (r != CTAP2_OK)
		return r;
	/* clearUserPresentFlag, clearUserVerifiedFlag,
	 * clearPinUvAuthTokenPermissionsExceptLbw. */
	ctap_pin_token_clear_up(c);
	ctap_pin_token_used(c);
	return CTAP2_OK;
}
