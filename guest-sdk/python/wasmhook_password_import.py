"""Helpers for password import hook rules written in Python (world `password-import-rule`), plus
the shared ones of `wasmhook_shared`.

A rule subclasses `wit_world.exports.PasswordImport` and returns `verified()` or `unverified()`.
`request.credential.password` is the plaintext password: never log it or put it in the answer
(the server masks it in what the rule writes, and drops a `debug_context` that repeats it).
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
from wit_world.exports import password_import as _password_import

# An exception in the rule's methods becomes its `err`, with type, message and file:line.
_report_exceptions(_exports.PasswordImport)


def verified(debug_context=None):
    """`VERIFIED`: the password is right; Okta signs the user in and keeps it."""
    return _decision(_password_import.Verdict.VERIFIED, debug_context)


def unverified(debug_context=None):
    """`UNVERIFIED`: the password is wrong (or the user unknown); the sign-in fails."""
    return _decision(_password_import.Verdict.UNVERIFIED, debug_context)


def verified_if(right: bool, debug_context=None):
    """`verified()` when `right`, else `unverified()`."""
    return verified(debug_context) if right else unverified(debug_context)


def _decision(verdict, debug_context):
    context = None if debug_context is None else json.dumps(debug_context)
    return _password_import.Decision(verdict=verdict, debug_context=context)
