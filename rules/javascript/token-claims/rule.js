// Token hook: adds each entry of the settings' `access_claims` to the access token and each entry of
// `identity_claims` to the ID token, only for the tokens the request carries. The same rule and
// decisions as rules/token-claims (Rust).
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

/** The entries of the settings' object `key` (absent is empty); anything else is a settings mistake. */
function claims(settings, key) {
  const value = settings[key] ?? {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`invalid rule settings: \`${key}\` must be an object of claims`);
  }
  return Object.entries(value);
}

// Claims of the wrong shape are refused when the route loads, not in every call.
export const settings = {
  validateSettings(settings) {
    const parsed = sdk.parseSettings(settings);
    claims(parsed, 'access_claims');
    claims(parsed, 'identity_claims');
  },
};

export const token = sdk.rule({
  evaluate(request) {
    const settings = sdk.settings(request);
    const decision = sdk.noTokenChange();
    if (request.access != null) {
      for (const [name, value] of claims(settings, 'access_claims')) sdk.addAccessClaim(decision, name, value);
    }
    if (request.identity != null) {
      for (const [name, value] of claims(settings, 'identity_claims')) sdk.addIdentityClaim(decision, name, value);
    }
    return decision;
  },
});
