"""Helpers for telephony hook rules written in Python (world `telephony-rule`), plus the shared
ones of `wasmhook_shared`.

A rule subclasses `wit_world.exports.Telephony`, sends `request.message_profile` through its
provider (see `wasmhook_http`) and returns `successful(provider, transaction_id)`, `pending(…)` or
`failed(…)`. `request.message_profile.otp_code` is the one-time code (`msg_template` holds it
too): never log it or put it in the answer. Raising (or `fail`) makes Okta send the code itself.
"""

import json

from wasmhook_shared import (  # noqa: F401
    AcceptAllSettings,
    fail,
    log,
    parse_settings,
    settings,
)
from wasmhook_shared import report_exceptions as _report_exceptions
from wit_world import exports as _exports
from wit_world.exports import telephony as _telephony

# An exception in the rule's methods becomes its `err`, with type, message and file:line.
_report_exceptions(_exports.Telephony)


def is_voice_call(request) -> bool:
    """Whether the code goes by voice call rather than SMS."""
    return request.message_profile.delivery_channel.lower() == "voice call"


def successful(provider: str, transaction_id: str, metadata=None, debug_context=None):
    """`SUCCESSFUL`: `provider` sent the message, which it knows as `transaction_id`."""
    return _decision(_telephony.Status.SUCCESSFUL, provider, transaction_id, metadata, debug_context)


def pending(provider: str, transaction_id: str, metadata=None, debug_context=None):
    """`PENDING`: `provider` accepted the message and will send it."""
    return _decision(_telephony.Status.PENDING, provider, transaction_id, metadata, debug_context)


def failed(provider: str, transaction_id: str, metadata=None, debug_context=None):
    """`FAILED`: `provider` could not send the message."""
    return _decision(_telephony.Status.FAILED, provider, transaction_id, metadata, debug_context)


def _decision(status, provider, transaction_id, metadata, debug_context):
    context = None if debug_context is None else json.dumps(debug_context)
    return _telephony.Decision(
        status=status,
        provider=provider,
        transaction_id=transaction_id,
        transaction_metadata=metadata,
        debug_context=context,
    )
