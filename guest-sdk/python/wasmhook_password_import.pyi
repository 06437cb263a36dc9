"""Type stubs for `wasmhook_password_import`: helpers for password import hook rules (world
`password-import-rule`), plus the shared ones of `wasmhook_shared`. Generated `wit_world` types
are `Any`."""

from typing import Any

from wasmhook_shared import (
    AcceptAllSettings as AcceptAllSettings,
    fail as fail,
    log as log,
    parse_settings as parse_settings,
    settings as settings,
)

def verified(debug_context: dict[str, Any] | None = None) -> Any:
    """`VERIFIED` (a `password_import.Decision`): the password is right; Okta keeps it."""

def unverified(debug_context: dict[str, Any] | None = None) -> Any:
    """`UNVERIFIED`: the password is wrong (or the user unknown); the sign-in fails."""

def verified_if(right: bool, debug_context: dict[str, Any] | None = None) -> Any:
    """`verified()` when `right`, else `unverified()`."""
