// User import hook: trims and lowercases the Okta user's attributes the settings name, and links
// the app user to the Okta user the import matched when it matched exactly one. The same rule and
// decisions as rules/user-import-normalise (Rust).
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

/** The settings' `normalise` list; anything else is a settings mistake. */
function namesOf(settings) {
  const names = settings.normalise;
  if (!Array.isArray(names) || !names.every((name) => typeof name === 'string')) {
    throw new Error('`normalise` must be a list of attribute names');
  }
  return names;
}

// Settings without a list of attribute names are refused when the route loads.
export const settings = {
  validateSettings(settings) {
    namesOf(sdk.parseSettings(settings));
  },
};

export const userImport = sdk.rule({
  evaluate(request) {
    const decision = sdk.noImportChange();
    for (const name of namesOf(sdk.settings(request))) {
      const value = sdk.get(request.userProfile, name);
      if (typeof value === 'string' && value.trim().toLowerCase() !== value) {
        sdk.updateUser(decision, name, value.trim().toLowerCase());
      }
    }
    if (request.matches.length === 1) sdk.linkTo(decision, request.matches[0]);
    return decision;
  },
});
