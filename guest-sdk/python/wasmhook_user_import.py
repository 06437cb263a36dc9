"""Helpers for user import hook rules written in Python (world `user-import-rule`), plus the shared
ones of `wasmhook_shared`.

A rule subclasses `wit_world.exports.UserImport` and returns a decision from `no_change()`,
changed with `update_user`, `update_app_user`, `link_to` or `create_user`. The server refuses
`LINK_USER` without a user to link to, as Okta would.
"""

import json

from wasmhook_shared import (  # noqa: F401
    AcceptAllSettings,
    fail,
    get,
    hook_error,
    log,
    parse_settings,
    settings,
)
from wasmhook_shared import report_exceptions as _report_exceptions
from wit_world import exports as _exports
from wit_world.exports import user_import as _user_import
from wit_world.imports import types as _types

# An exception in the rule's methods becomes its `err`, with type, message and file:line.
_report_exceptions(_exports.UserImport)


def no_change():
    """No change: the import goes on as Okta planned (answered with 204)."""
    return _user_import.Decision(
        app_user_profile_update=[],
        user_profile_update=[],
        action=None,
        link_user_id=None,
        error=None,
        debug_context=None,
    )


def error(summary: str):
    """Records this user's import as failed in Okta's System Log, with `summary`."""
    decision = no_change()
    decision.error = hook_error(summary)
    return decision


def update_user(decision, name: str, value):
    """Sets attribute `name` of the Okta user to `value` (any JSON value)."""
    decision.user_profile_update.append(_types.Attribute(name=name, value=json.dumps(value)))
    return decision


def update_app_user(decision, name: str, value):
    """Sets attribute `name` of the app user to `value` (any JSON value)."""
    decision.app_user_profile_update.append(_types.Attribute(name=name, value=json.dumps(value)))
    return decision


def link_to(decision, user_id: str):
    """Links the app user to the existing Okta user `user_id` (LINK_USER)."""
    decision.action = _user_import.ImportResult.LINK_USER
    decision.link_user_id = user_id
    return decision


def create_user(decision):
    """Creates a new Okta user, whatever the matching found (CREATE_USER)."""
    decision.action = _user_import.ImportResult.CREATE_USER
    decision.link_user_id = None
    return decision
