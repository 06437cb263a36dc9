"""Token hook: adds each entry of the settings' `access_claims` to the access token and each entry
of `identity_claims` to the ID token, only for the tokens the request carries. The same rule and
decisions as rules/token-claims (Rust)."""

import wit_world.exports

import wasmhook_token as sdk


class Token(wit_world.exports.Token):
    def evaluate(self, request):
        settings = sdk.settings(request)
        decision = sdk.no_change()
        if request.access is not None:
            for name, value in settings.get("access_claims", {}).items():
                sdk.add_access_claim(decision, name, value)
        if request.identity is not None:
            for name, value in settings.get("identity_claims", {}).items():
                sdk.add_identity_claim(decision, name, value)
        return decision
