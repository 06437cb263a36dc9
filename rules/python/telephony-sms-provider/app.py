"""Telephony hook: sends the message Okta would send (`msgTemplate`, the code included) through an
SMS provider's HTTP API, with one POST of {"to": …, "channel": "sms" | "voice", "message": …} as
JSON to the settings' `send_url`. 200 or 201 with {"id": …} means it was sent, 202 that it will
be; anything else, or no answer, is an error, so Okta sends the code itself. The same rule and
decisions as rules/telephony-sms-provider (Rust)."""

import wit_world.exports

import wasmhook_http as http
import wasmhook_telephony as sdk


def checked(settings):
    """The settings' `send_url` and `provider`; anything else is a settings mistake."""
    send_url, provider = settings.get("send_url"), settings.get("provider")
    if not isinstance(send_url, str) or not isinstance(provider, str):
        sdk.fail("`send_url` must be the provider's URL and `provider` its name (strings)")
    return send_url, provider


class Settings(wit_world.exports.Settings):
    """Settings without a `send_url` and a `provider` are refused when the route loads."""

    def validate_settings(self, settings):
        checked(sdk.parse_settings(settings))


class Telephony(wit_world.exports.Telephony):
    def evaluate(self, request):
        send_url, provider = checked(sdk.settings(request))
        message = request.message_profile
        channel = "voice" if sdk.is_voice_call(request) else "sms"
        response = http.post_json(send_url, {"to": message.phone_number, "channel": channel, "message": message.msg_template})
        if response.status in (200, 201):
            return sdk.successful(provider, response.json()["id"])
        if response.status == 202:
            return sdk.pending(provider, response.json()["id"])
        sdk.fail(f"the SMS provider answered {response.status}")
