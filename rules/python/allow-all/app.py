"""Allows every registration, and defines no settings check: the SDK's default (accept any
settings) is what the tests see of it. With a `crash` setting it calls a helper that does not
exist, the typo every author makes once: the tests see how the exception reaches them. Never
deploy it."""

import wit_world.exports

import wasmhook_sdk as sdk


class Registration(wit_world.exports.Registration):
    def evaluate(self, request):
        if "crash" in sdk.settings(request):
            return sdk.allow_all()
        return sdk.allow()
