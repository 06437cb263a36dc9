"""Allows every registration, and defines no settings check: the SDK's default (accept any
settings) is what the tests see of it. Never deploy it."""

import wit_world.exports

import wasmhook_sdk as sdk


class Registration(wit_world.exports.Registration):
    def evaluate(self, request):
        return sdk.allow()
