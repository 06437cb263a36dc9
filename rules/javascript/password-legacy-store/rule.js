// Password import hook: asks the legacy identity store whether the password is right, with one
// POST of {"username": …, "password": …} as JSON to the settings' `verify_url`. 200 means it is;
// 401, 403 or 404 that it is not (or the user is unknown); anything else, or no answer, is an
// error, so the password stays unverified. The same rule and decisions as
// rules/password-legacy-store (Rust).
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

/** The settings' `verify_url`; anything else is a settings mistake. */
function verifyUrl(settings) {
  if (typeof settings.verify_url !== 'string') {
    throw new Error("`verify_url` must be the URL of the legacy store's check");
  }
  return settings.verify_url;
}

// Settings without a `verify_url` are refused when the route loads, not in every call.
export const settings = {
  validateSettings(settings) {
    verifyUrl(sdk.parseSettings(settings));
  },
};

export const passwordImport = sdk.rule({
  evaluate(request) {
    const url = verifyUrl(sdk.settings(request));
    const { username, password } = request.credential;
    const response = sdk.http.postJson(url, { username, password });
    if (response.status === 200) return sdk.verified();
    if ([401, 403, 404].includes(response.status)) return sdk.unverified();
    throw new Error(`the legacy store answered ${response.status}`);
  },
});
