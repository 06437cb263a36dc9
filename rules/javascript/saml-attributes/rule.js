// SAML assertion hook: adds each entry of the settings' `attributes` as a single-valued `xs:string`
// attribute with an unspecified NameFormat. The same rule and decisions as rules/saml-attributes (Rust).
import * as sdk from '../../../guest-sdk/javascript/wasmhook.js';

export const saml = sdk.rule({
  evaluate(request) {
    const attributes = sdk.settings(request).attributes;
    if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
      throw new Error('invalid rule settings: `attributes` must be an object');
    }
    const decision = sdk.noAssertionChange();
    for (const [name, value] of Object.entries(attributes)) {
      sdk.addAttribute(decision, name, typeof value === 'string' ? value : JSON.stringify(value));
    }
    return decision;
  },
});
