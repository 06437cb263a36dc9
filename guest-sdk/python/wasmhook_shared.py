"""Helpers every wasmhook rule written in Python may use, whatever its hook: settings, profile and
claim values (JSON), logging, giving up. The hook modules (`wasmhook_sdk` for registration,
`wasmhook_token`, `wasmhook_saml`) re-export them.

Only the interfaces every hook world has (`types`, `log`, `settings`) are used here, so this
module works in any rule.

An exception a rule's method raises (other than `fail`'s) reaches the server as the rule's `err`:
its type, message and where it was raised, on one line (see `describe_exception`). The hook modules
arrange that for every subclass of their hook's class (`report_exceptions`).
"""

import functools
import json
import re
import traceback

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


# Most frames, and most characters of the message, that `describe_exception` keeps.
_FRAMES = 3
_MESSAGE_CHARS = 500
# componentize-py puts each `-p` folder at `/0/`, `/1/`, …; the path below it is what the author knows.
_BUILD_PATH = re.compile(r"^/\d+/")


def describe_exception(exc: BaseException) -> str:
    """`exc` on one line: its type, its message and its innermost frames (file:line in function),
    innermost first and each joined to its caller by ` <- `:
    `KeyError: 'allowed_domains' at app.py:11 in evaluate <- app.py:20 in check`."""
    message = " ".join(str(exc).split())
    if len(message) > _MESSAGE_CHARS:
        message = message[:_MESSAGE_CHARS] + "…"
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    # The first frame is `report_exceptions`' own call of the rule's method.
    frames = traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__), lookup_lines=False)[1:][-_FRAMES:]
    where = " <- ".join(
        f"{_BUILD_PATH.sub('', frame.filename)}:{frame.lineno} in {frame.name}" for frame in reversed(frames)
    )
    return f"{text} at {where}" if where else text


def report_exceptions(hook_class):
    """Makes every method of `hook_class` (a hook's generated protocol, e.g.
    `wit_world.exports.Registration`) that a subclass defines return an exception as the rule's
    `err`, described by `describe_exception`, instead of trapping with a traceback on stderr.
    `fail(message)` (an `Err`) passes through unchanged."""
    methods = [name for name, value in vars(hook_class).items() if callable(value) and not name.startswith("_")]
    previous = hook_class.__dict__.get("__init_subclass__")

    def wrap(method):
        @functools.wraps(method)
        def reporting(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except Err:
                raise
            except Exception as exc:
                raise Err(describe_exception(exc)) from None

        reporting.__wasmhook_reporting__ = True
        return reporting

    def init_subclass(cls, **kwargs):
        if previous is not None:
            previous.__func__(cls, **kwargs)
        else:
            super(hook_class, cls).__init_subclass__(**kwargs)
        for name in methods:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__wasmhook_reporting__", False):
                setattr(cls, name, wrap(method))

    hook_class.__init_subclass__ = classmethod(init_subclass)
