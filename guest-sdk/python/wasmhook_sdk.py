"""Helpers for registration rules written in Python and built with componentize-py (world
`registration-rule`), plus the shared ones of `wasmhook_shared`.

The bindings (`wit_world`) are generated from `wit/` when the rule is built; this module only adds
the builders and accessors that make a rule read like its intent. A denial is a DENY command *and*
an `error`, which is what Okta needs to show field errors.
"""

import json

from wasmhook_shared import (  # noqa: F401
    AcceptAllSettings,
    email_domain,
    fail,
    get,
    hook_error,
    log,
    parse_settings,
    pointer,
    settings,
)
from wasmhook_shared import report_exceptions as _report_exceptions
from wit_world import exports as _exports
from wit_world.exports import registration as _registration
from wit_world.imports import types as _types

# An exception in the rule's methods becomes its `err`, with type, message and file:line.
_report_exceptions(_exports.Registration)

Flow = _registration.Flow


def submitted(request) -> list:
    """The attributes being submitted: `userProfile` on registration, `userProfileUpdate` on
    progressive profiling."""
    if request.flow == Flow.PROGRESSIVE_PROFILE:
        return request.user_profile_update
    return request.user_profile


def allow():
    """No change: answered with 204."""
    return _registration.Decision(commands=[], error=None, debug_context=None)


def deny(summary: str, *causes):
    """A denial: a DENY command and an `error` with `causes` (see `field_error`)."""
    return _registration.Decision(
        commands=[_registration.Command_Deny()], error=hook_error(summary, causes), debug_context=None
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
