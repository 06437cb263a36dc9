"""Type stubs for `wasmhook_user_import`: helpers for user import hook rules (world
`user-import-rule`), plus the shared ones of `wasmhook_shared`. Generated `wit_world` types are
`Any`."""

from typing import Any, TypeVar

from wasmhook_shared import (
    AcceptAllSettings as AcceptAllSettings,
    fail as fail,
    get as get,
    hook_error as hook_error,
    log as log,
    parse_settings as parse_settings,
    settings as settings,
)

_Decision = TypeVar("_Decision")

def no_change() -> Any:
    """No change (a `user_import.Decision`): the import goes on as Okta planned (204)."""

def error(summary: str) -> Any:
    """Records this user's import as failed in Okta's System Log, with `summary`."""

def update_user(decision: _Decision, name: str, value: Any) -> _Decision:
    """Sets attribute `name` of the Okta user to `value` (any JSON value)."""

def update_app_user(decision: _Decision, name: str, value: Any) -> _Decision:
    """Sets attribute `name` of the app user to `value` (any JSON value)."""

def link_to(decision: _Decision, user_id: str) -> _Decision:
    """Links the app user to the existing Okta user `user_id` (LINK_USER)."""

def create_user(decision: _Decision) -> _Decision:
    """Creates a new Okta user, whatever the matching found (CREATE_USER)."""
