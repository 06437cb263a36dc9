"""Type stubs for `wasmhook_shared`: the helpers every Python rule may use, whatever its hook.

The generated `wit_world` bindings exist only while componentize-py builds a rule, so their
classes are typed here as `Any` (or, where a helper reads a field, a small Protocol).
"""

from typing import Any, Iterable, NoReturn, Protocol

class _HasSettings(Protocol):
    """Any hook's request: its `settings` field is the route's settings as JSON text."""

    @property
    def settings(self) -> str: ...

class _NameValue(Protocol):
    """A profile attribute or a token claim: a name and its value as JSON text."""

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...

def settings(request: _HasSettings) -> dict[str, Any]:
    """The route's settings (`request.settings`), as a dict."""

def parse_settings(settings: str) -> dict[str, Any]:
    """Settings as `validate_settings` receives them (JSON text), as a dict; `fail`s unless an object."""

class AcceptAllSettings:
    """The settings check a rule gets unless `app.py` defines `Settings` (a `wit_world.exports.Settings`)."""

    def validate_settings(self, settings: str) -> None:
        """Accepts every settings."""

def get(items: Iterable[_NameValue], name: str) -> Any:
    """The parsed value (any JSON type) of the attribute or claim `name` in `items`, or None when absent."""

def email_domain(email: object) -> str | None:
    """The lowercased text after the last `@` (None for a non-string or no domain); compare it for equality."""

def pointer(*segments: str) -> str:
    """A JSON Pointer from `segments`, each escaped as RFC 6901 says: `pointer("claims", "http://x/role")`."""

def hook_error(summary: str, causes: Iterable[Any] = ()) -> Any:
    """An `error` (`wit_world.imports.types.HookError`) with `summary` and optional causes (`field_error`)."""

def fail(message: str) -> NoReturn:
    """Gives up (raises `Err(message)`): the failure policy in `evaluate`, a refusal in `validate_settings`."""

def log(message: str, level: Any = ...) -> None:
    """Writes to the server's log at `level` (a `wit_world.imports.types.Level`, INFO by default). No secrets."""

def describe_exception(exc: BaseException) -> str:
    """`exc` on one line: its type, message and innermost frames (`file:line in function`, joined by ` <- `)."""

def report_exceptions(hook_class: type) -> None:
    """Makes the methods every subclass of `hook_class` defines return an exception as the rule's `err`."""
