"""Helpers for wasmhook rules written in Python and built with componentize-py.

The bindings (`wit_world`) are generated from `wit/` when the rule is built; this module only adds
the builders and accessors that make a rule read like its intent. A denial is a DENY command *and*
an `error`, which is what Okta needs to show field errors.
"""

import json

from componentize_py_types import Err
from wit_world.exports import registration as _registration
from wit_world.imports import log as _log
from wit_world.imports import types as _types

Flow = _registration.Flow


def settings(request) -> dict:
    """The route's settings, as a dict."""
    return json.loads(request.settings)


def submitted(request) -> list:
    """The attributes being submitted: `userProfile` on registration, `userProfileUpdate` on
    progressive profiling."""
    if request.flow == Flow.PROGRESSIVE_PROFILE:
        return request.user_profile_update
    return request.user_profile


def get(profile: list, name: str):
    """An attribute's value (any JSON type), or None when absent."""
    for attribute in profile:
        if attribute.name == name:
            return json.loads(attribute.value)
    return None


def email_domain(email) -> str | None:
    """The lowercased text after the last `@`; compare it for equality, never by substring."""
    if not isinstance(email, str):
        return None
    local, at, domain = email.strip().rpartition("@")
    return domain.lower() if at and local and domain else None


def allow():
    """No change: answered with 204."""
    return _registration.Decision(commands=[], error=None, debug_context=None)


def deny(summary: str, *causes):
    """A denial: a DENY command and an `error` with `causes` (see `field_error`)."""
    error = _types.HookError(error_summary=summary, error_causes=list(causes))
    return _registration.Decision(
        commands=[_registration.Command_Deny()], error=error, debug_context=None
    )


def field_error(location: str, reason: str, summary: str):
    """An error shown next to the form field at `location`, e.g. `data.userProfile.email`."""
    return _types.ErrorCause(
        error_summary=summary, reason=reason, location_type="body", location=location, domain="end-user"
    )


def update_profile(decision, **attributes):
    """Adds `com.okta.user.profile.update` (self-service registration only)."""
    values = [_types.Attribute(name=k, value=json.dumps(v)) for k, v in attributes.items()]
    decision.commands.append(_registration.Command_UpdateProfile(values))
    return decision


def update_progressive_profile(decision, **attributes):
    """Adds `com.okta.user.progressive.profile.update` (progressive profiling only)."""
    values = [_types.Attribute(name=k, value=json.dumps(v)) for k, v in attributes.items()]
    decision.commands.append(_registration.Command_UpdateProgressiveProfile(values))
    return decision


def fail(message: str):
    """Gives up: the server answers with the route's failure policy and logs `message`."""
    raise Err(message)


def log(message: str, level=_types.Level.INFO):
    """Writes to the server's log, tagged with the call. Never log secrets or personal data."""
    _log.log(level, message)
