// SAML assertion hook: adds each entry of the settings' `attributes` as a single-valued `xs:string`
// attribute with an unspecified NameFormat. The same rule and decisions as rules/saml-attributes (Rust).
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

/** The settings' `attributes` object; anything else is a settings mistake. */
function attributesOf(settings) {
  const attributes = settings.attributes;
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    throw new Error('invalid rule settings: `attributes` must be an object');
  }
  return attributes;
}

// Settings without attributes are refused when the route loads, not in every call.
export const settings = {
  validateSettings(settings) {
    attributesOf(sdk.parseSettings(settings));
  },
};

export const saml = sdk.rule({
  evaluate(request) {
    const attributes = attributesOf(sdk.settings(request));
    const decision = sdk.noAssertionChange();
    for (const [name, value] of Object.entries(attributes)) {
      sdk.addAttribute(decision, name, typeof value === 'string' ? value : JSON.stringify(value));
    }
    return decision;
  },
});
