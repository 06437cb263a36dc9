"""Helpers for token hook rules written in Python (world `token-rule`), plus the shared ones of
`wasmhook_shared`.

A rule subclasses `wit_world.exports.Token` and returns a decision from `no_change()`, patched with
`add_access_claim`, `add_identity_claim`, … Patch only tokens the request carries
(`request.access`, `request.identity`); the server refuses anything Okta would reject and answers
with the route's failure policy.
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
from wit_world.exports import token as _token
from wit_world.imports import types as _types

# An exception in the rule's methods becomes its `err`, with type, message and file:line.
_report_exceptions(_exports.Token)

_LIFETIME = "/token/lifetime/expiration"


def no_change():
    """No change: the tokens are minted as they are (answered with 204)."""
    return _token.Decision(identity_patch=[], access_patch=[], error=None, debug_context=None)


def error(summary: str):
    """Mints no token: the client receives `server_error` with `summary` as its description."""
    decision = no_change()
    decision.error = hook_error(summary)
    return decision


def _op(op, path: str, value=None, has_value=True):
    return _types.PatchOperation(op=op, path=path, value=json.dumps(value) if has_value else None)


def add_access_claim(decision, name: str, value):
    """Adds claim `name` (or replaces it, if it exists) in the access token."""
    decision.access_patch.append(_op(_types.PatchOp.ADD, pointer("claims", name), value))
    return decision


def add_identity_claim(decision, name: str, value):
    """Adds claim `name` (or replaces it, if it exists) in the ID token."""
    decision.identity_patch.append(_op(_types.PatchOp.ADD, pointer("claims", name), value))
    return decision


def replace_access_claim(decision, name: str, value):
    """Replaces the existing claim `name` of the access token."""
    decision.access_patch.append(_op(_types.PatchOp.REPLACE, pointer("claims", name), value))
    return decision


def replace_identity_claim(decision, name: str, value):
    """Replaces the existing claim `name` of the ID token."""
    decision.identity_patch.append(_op(_types.PatchOp.REPLACE, pointer("claims", name), value))
    return decision


def remove_access_claim(decision, name: str):
    """Removes the existing claim `name` from the access token."""
    decision.access_patch.append(_op(_types.PatchOp.REMOVE, pointer("claims", name), has_value=False))
    return decision


def remove_identity_claim(decision, name: str):
    """Removes the existing claim `name` from the ID token."""
    decision.identity_patch.append(_op(_types.PatchOp.REMOVE, pointer("claims", name), has_value=False))
    return decision


def access_lifetime(decision, seconds: int):
    """Sets how long the access token is valid (Okta accepts 300–86400 seconds)."""
    decision.access_patch.append(_op(_types.PatchOp.REPLACE, _LIFETIME, seconds))
    return decision


def identity_lifetime(decision, seconds: int):
    """Sets how long the ID token is valid (Okta accepts 300–86400 seconds)."""
    decision.identity_patch.append(_op(_types.PatchOp.REPLACE, _LIFETIME, seconds))
    return decision
