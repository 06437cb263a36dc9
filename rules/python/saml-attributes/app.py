"""SAML assertion hook: adds each entry of the settings' `attributes` as a single-valued `xs:string`
attribute with an unspecified NameFormat. The same rule and decisions as rules/saml-attributes
(Rust)."""

import json

import wit_world.exports

import wasmhook_saml as sdk


def attributes_of(settings):
    """The settings' `attributes` object; anything else is a settings mistake."""
    attributes = settings.get("attributes")
    if not isinstance(attributes, dict):
        sdk.fail("invalid rule settings: `attributes` must be an object")
    return attributes


class Settings(wit_world.exports.Settings):
    """Settings without attributes are refused when the route loads, not in every call."""

    def validate_settings(self, settings):
        attributes_of(sdk.parse_settings(settings))


class Saml(wit_world.exports.Saml):
    def evaluate(self, request):
        attributes = attributes_of(sdk.settings(request))
        decision = sdk.no_change()
        for name, value in attributes.items():
            text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            sdk.add_attribute(decision, name, text)
        return decision
