"""Type stubs for `wasmhook_token`: helpers for token hook rules (world `token-rule`), plus the
shared ones of `wasmhook_shared`. Generated `wit_world` types are `Any`."""

from typing import Any, TypeVar

from wasmhook_shared import (
    AcceptAllSettings as AcceptAllSettings,
    email_domain as email_domain,
    fail as fail,
    get as get,
    hook_error as hook_error,
    log as log,
    parse_settings as parse_settings,
    pointer as pointer,
    settings as settings,
)

_Decision = TypeVar("_Decision")

def no_change() -> Any:
    """No change (a `token.Decision` without patches): the tokens are minted as they are (204)."""

def error(summary: str) -> Any:
    """Mints no token: the client receives `server_error` with `summary` as its description."""

def add_access_claim(decision: _Decision, name: str, value: Any) -> _Decision:
    """Adds claim `name` with `value` (any JSON value), or replaces it, in the access token."""

def add_identity_claim(decision: _Decision, name: str, value: Any) -> _Decision:
    """Adds claim `name` with `value` (any JSON value), or replaces it, in the ID token."""

def replace_access_claim(decision: _Decision, name: str, value: Any) -> _Decision:
    """Replaces the existing claim `name` of the access token."""

def replace_identity_claim(decision: _Decision, name: str, value: Any) -> _Decision:
    """Replaces the existing claim `name` of the ID token."""

def remove_access_claim(decision: _Decision, name: str) -> _Decision:
    """Removes the existing claim `name` from the access token."""

def remove_identity_claim(decision: _Decision, name: str) -> _Decision:
    """Removes the existing claim `name` from the ID token."""

def access_lifetime(decision: _Decision, seconds: int) -> _Decision:
    """Sets how long the access token is valid, in seconds (Okta accepts 300–86400)."""

def identity_lifetime(decision: _Decision, seconds: int) -> _Decision:
    """Sets how long the ID token is valid, in seconds (Okta accepts 300–86400)."""
