"""User import hook: trims and lowercases the Okta user's attributes the settings name, and links
the app user to the Okta user the import matched when it matched exactly one. The same rule and
decisions as rules/user-import-normalise (Rust)."""

import wit_world.exports

import wasmhook_user_import as sdk


def names_of(settings):
    """The settings' `normalise` list; anything else is a settings mistake."""
    names = settings.get("normalise")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        sdk.fail("`normalise` must be a list of attribute names")
    return names


class Settings(wit_world.exports.Settings):
    """Settings without a list of attribute names are refused when the route loads."""

    def validate_settings(self, settings):
        names_of(sdk.parse_settings(settings))


class UserImport(wit_world.exports.UserImport):
    def evaluate(self, request):
        decision = sdk.no_change()
        for name in names_of(sdk.settings(request)):
            value = sdk.get(request.user_profile, name)
            if isinstance(value, str) and value.strip().lower() != value:
                sdk.update_user(decision, name, value.strip().lower())
        if len(request.matches) == 1:
            sdk.link_to(decision, request.matches[0])
        return decision
