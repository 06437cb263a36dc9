"""Type stubs for `wasmhook_saml`: helpers for SAML assertion hook rules (world `saml-rule`), plus
the shared ones of `wasmhook_shared`. Generated `wit_world` types are `Any`."""

from typing import Any, Final, TypeVar

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

UNSPECIFIED: Final = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
"""`NameFormat` of an attribute whose name has no particular format."""

ADD: Any
"""`wit_world.imports.types.PatchOp.ADD`, for `patch`."""

REPLACE: Any
"""`wit_world.imports.types.PatchOp.REPLACE`, for `patch`."""

def no_change() -> Any:
    """No change (a `saml.Decision` without patches): the assertion is sent as it is (204)."""

def error(summary: str) -> Any:
    """Denies the SAML request: the user sees an error page with `summary`."""

def claim(request: Any, name: str) -> Any:
    """The attribute statement `name` of the assertion (a `saml.Claim`), or None."""

def add_attribute(
    decision: _Decision, name: str, *values: str, name_format: str = UNSPECIFIED, xsi_type: str = "xs:string"
) -> _Decision:
    """Adds attribute `name` with `values` (strings), by default `xs:string` with an unspecified NameFormat."""

def patch(decision: _Decision, op: Any, path: str, value: Any) -> _Decision:
    """Adds (`ADD`) or replaces (`REPLACE`) the member at `path` (a JSON Pointer, see `pointer`) with `value`."""
