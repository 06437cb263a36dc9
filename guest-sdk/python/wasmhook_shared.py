"""Helpers every wasmhook rule written in Python may use, whatever its hook: settings, profile and
claim values (JSON), logging, giving up. The hook modules (`wasmhook_sdk` for registration,
`wasmhook_token`, `wasmhook_saml`) re-export them.

Only the interfaces every hook world has (`types`, `log`, `settings`) are used here, so this
module works in any rule.
"""

import json

from componentize_py_types import Err
from wit_world import exports as _exports
from wit_world.imports import log as _log
from wit_world.imports import types as _types


def settings(request) -> dict:
    """The route's settings, as a dict."""
    return json.loads(request.settings)


def parse_settings(settings: str) -> dict:
    """Settings as `validate_settings` receives them (JSON text), as a dict."""
    value = json.loads(settings)
    if not isinstance(value, dict):
        fail("the settings must be an object")
    return value


class AcceptAllSettings(_exports.Settings):
    """The settings check a rule gets unless its `app` module defines a class `Settings`: it
    accepts every settings. See `wasmhook_app`."""

    def validate_settings(self, settings: str) -> None:
        return None


def get(items: list, name: str):
    """The value (any JSON type) of the attribute or claim `name` in `items`, or None when absent."""
    for item in items:
        if item.name == name:
            return json.loads(item.value)
    return None


def email_domain(email) -> str | None:
    """The lowercased text after the last `@`; compare it for equality, never by substring."""
    if not isinstance(email, str):
        return None
    local, at, domain = email.strip().rpartition("@")
    return domain.lower() if at and local and domain else None


def pointer(*segments: str) -> str:
    """A JSON Pointer from `segments`, each escaped as RFC 6901 says (`~` → `~0`, `/` → `~1`):
    `pointer("claims", "http://x/role")` is `/claims/http:~1~1x~1role`."""
    return "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)


def hook_error(summary: str, causes=()):
    """An `error` with `summary` and optional causes."""
    return _types.HookError(error_summary=summary, error_causes=list(causes))


def fail(message: str):
    """Gives up: in `evaluate`, the server answers with the route's failure policy and logs
    `message`; in `validate_settings`, the settings are refused with `message` and the route does
    not load."""
    raise Err(message)


def log(message: str, level=_types.Level.INFO):
    """Writes to the server's log, tagged with the call. Never log secrets or personal data."""
    _log.log(level, message)
