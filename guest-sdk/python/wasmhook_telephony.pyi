"""Type stubs for `wasmhook_telephony`: helpers for telephony hook rules (world `telephony-rule`),
plus the shared ones of `wasmhook_shared`. Generated `wit_world` types are `Any`."""

from typing import Any

from wasmhook_shared import (
    AcceptAllSettings as AcceptAllSettings,
    fail as fail,
    log as log,
    parse_settings as parse_settings,
    settings as settings,
)

def is_voice_call(request: Any) -> bool:
    """Whether the code goes by voice call rather than SMS."""

def successful(
    provider: str, transaction_id: str, metadata: str | None = None, debug_context: dict[str, Any] | None = None
) -> Any:
    """`SUCCESSFUL` (a `telephony.Decision`): `provider` sent the message, known as `transaction_id`."""

def pending(
    provider: str, transaction_id: str, metadata: str | None = None, debug_context: dict[str, Any] | None = None
) -> Any:
    """`PENDING`: `provider` accepted the message and will send it."""

def failed(
    provider: str, transaction_id: str, metadata: str | None = None, debug_context: dict[str, Any] | None = None
) -> Any:
    """`FAILED`: `provider` could not send the message."""
