"""Password import hook: asks the legacy identity store whether the password is right, with one
POST of {"username": …, "password": …} as JSON to the settings' `verify_url`. 200 means it is;
401, 403 or 404 that it is not (or the user is unknown); anything else, or no answer, is an
error, so the password stays unverified. The same rule and decisions as
rules/password-legacy-store (Rust)."""

import wit_world.exports

import wasmhook_http as http
import wasmhook_password_import as sdk


def verify_url(settings):
    """The settings' `verify_url`; anything else is a settings mistake."""
    url = settings.get("verify_url")
    if not isinstance(url, str):
        sdk.fail("`verify_url` must be the URL of the legacy store's check")
    return url


class Settings(wit_world.exports.Settings):
    """Settings without a `verify_url` are refused when the route loads, not in every call."""

    def validate_settings(self, settings):
        verify_url(sdk.parse_settings(settings))


class PasswordImport(wit_world.exports.PasswordImport):
    def evaluate(self, request):
        url = verify_url(sdk.settings(request))
        credential = request.credential
        response = http.post_json(url, {"username": credential.username, "password": credential.password})
        if response.status == 200:
            return sdk.verified()
        if response.status in (401, 403, 404):
            return sdk.unverified()
        sdk.fail(f"the legacy store answered {response.status}")
