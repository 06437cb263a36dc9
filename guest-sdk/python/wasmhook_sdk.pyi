"""Type stubs for `wasmhook_sdk`: helpers for registration rules (world `registration-rule`), plus
the shared ones of `wasmhook_shared`. Generated `wit_world` types are `Any`."""

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

Flow: Any
"""`wit_world.exports.registration.Flow`: `SELF_SERVICE_REGISTRATION` or `PROGRESSIVE_PROFILE`."""

def submitted(request: Any) -> list[Any]:
    """The attributes being submitted: `user_profile` on registration, `user_profile_update` on progressive profiling."""

def allow() -> Any:
    """No change (a `registration.Decision` without commands): answered with 204."""

def deny(summary: str, *causes: Any) -> Any:
    """A denial: a DENY command and an `error` with `summary` and `causes` (see `field_error`)."""

def field_error(location: str, reason: str, summary: str) -> Any:
    """An error cause shown next to the form field at `location`, e.g. `data.userProfile.email`."""

def update_profile(decision: _Decision, **attributes: Any) -> _Decision:
    """Adds `com.okta.user.profile.update` with `attributes` (JSON values); self-service registration only."""

def update_progressive_profile(decision: _Decision, **attributes: Any) -> _Decision:
    """Adds `com.okta.user.progressive.profile.update` with `attributes`; progressive profiling only."""
