"""SAML assertion hook: adds each entry of the settings' `attributes` as a single-valued `xs:string`
attribute with an unspecified NameFormat. The same rule and decisions as rules/saml-attributes
(Rust)."""

import json

import wit_world.exports

import wasmhook_saml as sdk


class Saml(wit_world.exports.Saml):
    def evaluate(self, request):
        attributes = sdk.settings(request).get("attributes")
        if not isinstance(attributes, dict):
            sdk.fail("invalid rule settings: `attributes` must be an object")
        decision = sdk.no_change()
        for name, value in attributes.items():
            text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            sdk.add_attribute(decision, name, text)
        return decision
