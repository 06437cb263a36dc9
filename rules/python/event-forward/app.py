"""Event hook: forwards each event it is given (route it the events to forward, e.g.
`event_type = "user.lifecycle.deactivate"`) to an HTTP endpoint, with one POST of
{"uuid", "eventType", "published", "attempt", "users": [{"id", "login"}]} as JSON to the settings'
`forward_url`. Any 2xx is done; any other answer, or none, is an error, so the server tries again
later. The endpoint should treat a repeated `uuid` as done: the server runs a rule at least once
per event. The same rule and outcomes as rules/event-forward (Rust)."""

import wit_world.exports

import wasmhook_event as sdk
import wasmhook_http as http


def forward_url(settings):
    """The settings' `forward_url`; anything else is a settings mistake."""
    url = settings.get("forward_url")
    if not isinstance(url, str):
        sdk.fail("`forward_url` must be the URL to forward events to")
    return url


class Settings(wit_world.exports.Settings):
    """Settings without a `forward_url` are refused when the route loads, not for every event."""

    def validate_settings(self, settings):
        forward_url(sdk.parse_settings(settings))


class Event(wit_world.exports.Event):
    def handle(self, request):
        url = forward_url(sdk.settings(request))
        event = request.event
        users = [{"id": user.id, "login": user.alternate_id} for user in sdk.targets(event, "User")]
        response = http.post_json(
            url,
            {
                "uuid": event.uuid,
                "eventType": event.event_type,
                "published": event.published,
                "attempt": request.attempt,
                "users": users,
            },
        )
        if not 200 <= response.status <= 299:
            sdk.fail(f"the endpoint answered {response.status}")
