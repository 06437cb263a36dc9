"""Helpers for event hook rules written in Python (world `event-rule`), plus the shared ones of
`wasmhook_shared`.

A rule subclasses `wit_world.exports.Event` and acts on one System Log event in
`handle(self, request)`: returning (None) means done, the event leaves the queue; raising (or
`fail`) means not done, with a message for the operator (never secrets or personal data), and the
server tries again later. A rule runs at least once per event: make its effect idempotent (key
what it writes by `request.event.uuid`). `request.event.raw` is the whole event as JSON text.
"""

from wasmhook_shared import (  # noqa: F401
    AcceptAllSettings,
    fail,
    log,
    parse_settings,
    settings,
)
from wasmhook_shared import report_exceptions as _report_exceptions
from wit_world import exports as _exports

# An exception in the rule's methods becomes its `err`, with type, message and file:line.
_report_exceptions(_exports.Event)


def targets(event, kind: str) -> list:
    """The event's targets (`event.target`) of `kind`: `User`, `AppInstance`, `UserGroup`, …"""
    return [entity for entity in event.target if entity.kind == kind]
