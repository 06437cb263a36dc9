"""Self-service registration: allow only email addresses whose domain is exactly one of
`allowed_domains` (case-insensitive). The same rule and decisions as rules/email-domain (Rust)."""

import wit_world.exports

import wasmhook_sdk as sdk

SETTINGS_SHAPE = "`allowed_domains` must be a list of email domains (strings)"


class Settings(wit_world.exports.Settings):
    def validate_settings(self, settings):
        allowed = sdk.parse_settings(settings).get("allowed_domains")
        if not isinstance(allowed, list) or not all(isinstance(d, str) for d in allowed):
            sdk.fail(SETTINGS_SHAPE)


class Registration(wit_world.exports.Registration):
    def evaluate(self, request):
        allowed = sdk.settings(request)["allowed_domains"]
        if sdk.email_domain(sdk.get(sdk.submitted(request), "email")) in [d.lower() for d in allowed]:
            return sdk.allow()
        return sdk.deny(
            "Incorrect email address. Please contact your admin.",
            sdk.field_error(
                "data.userProfile.email",
                "INVALID_EMAIL_DOMAIN",
                f"Only emails from {', '.join(allowed)} can register.",
            ),
        )
