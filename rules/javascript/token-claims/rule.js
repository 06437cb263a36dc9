// Token hook: adds each entry of the settings' `access_claims` to the access token and each entry of
// `identity_claims` to the ID token, only for the tokens the request carries. The same rule and
// decisions as rules/token-claims (Rust).
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

export const token = {
  evaluate(request) {
    const settings = sdk.settings(request);
    const decision = sdk.noTokenChange();
    if (request.access !== undefined) {
      for (const [name, value] of Object.entries(settings.access_claims ?? {})) sdk.addAccessClaim(decision, name, value);
    }
    if (request.identity !== undefined) {
      for (const [name, value] of Object.entries(settings.identity_claims ?? {})) sdk.addIdentityClaim(decision, name, value);
    }
    return decision;
  },
};
