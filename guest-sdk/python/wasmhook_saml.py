"""Helpers for SAML assertion hook rules written in Python (world `saml-rule`), plus the shared ones
of `wasmhook_shared`.

A rule subclasses `wit_world.exports.Saml` and returns a decision from `no_change()`, patched with
`add_attribute` or `patch`. The server refuses anything Okta would reject and answers with the
route's failure policy.
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
from wit_world.exports import saml as _saml
from wit_world.imports import types as _types

# An exception in the rule's methods becomes its `err`, with type, message and file:line.
_report_exceptions(_exports.Saml)

UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
ADD = _types.PatchOp.ADD
REPLACE = _types.PatchOp.REPLACE


def no_change():
    """No change: the assertion is sent as it is (answered with 204)."""
    return _saml.Decision(assertion_patch=[], error=None, debug_context=None)


def error(summary: str):
    """Denies the SAML request: the user sees an error page with `summary`."""
    decision = no_change()
    decision.error = hook_error(summary)
    return decision


def claim(request, name: str):
    """The attribute statement `name` of the assertion, or None."""
    return next((c for c in request.assertion.claims if c.name == name), None)


def add_attribute(decision, name: str, *values: str, name_format=UNSPECIFIED, xsi_type="xs:string"):
    """Adds attribute `name` with `values` (strings), by default `xs:string` with an unspecified
    NameFormat. A URI name is escaped in the path as RFC 6901 says."""
    attribute = {
        "attributes": {"NameFormat": name_format},
        "attributeValues": [{"attributes": {"xsi:type": xsi_type}, "value": v} for v in values],
    }
    return patch(decision, ADD, pointer("claims", name), attribute)


def patch(decision, op, path: str, value):
    """Adds (`ADD`) or replaces (`REPLACE`) the member at `path`, a JSON Pointer under `/subject/`,
    `/authentication/`, `/conditions/` or `/claims/` (see `pointer`)."""
    decision.assertion_patch.append(_types.PatchOperation(op=op, path=path, value=json.dumps(value)))
    return decision
