"""Token hook: adds each entry of the settings' `access_claims` to the access token and each entry
of `identity_claims` to the ID token, only for the tokens the request carries. The same rule and
decisions as rules/token-claims (Rust)."""

import wit_world.exports

import wasmhook_token as sdk


def claims(settings, key):
    """The entries of the settings' object `key` (absent is empty); anything else is a settings mistake."""
    value = settings.get(key, {})
    if not isinstance(value, dict):
        sdk.fail(f"invalid rule settings: `{key}` must be an object of claims")
    return value.items()


class Settings(wit_world.exports.Settings):
    """Claims of the wrong shape are refused when the route loads, not in every call."""

    def validate_settings(self, settings):
        parsed = sdk.parse_settings(settings)
        claims(parsed, "access_claims")
        claims(parsed, "identity_claims")


class Token(wit_world.exports.Token):
    def evaluate(self, request):
        settings = sdk.settings(request)
        decision = sdk.no_change()
        if request.access is not None:
            for name, value in claims(settings, "access_claims"):
                sdk.add_access_claim(decision, name, value)
        if request.identity is not None:
            for name, value in claims(settings, "identity_claims"):
                sdk.add_identity_claim(decision, name, value)
        return decision
