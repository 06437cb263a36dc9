"""Type stubs for `wasmhook_event`: helpers for event hook rules (world `event-rule`), plus the
shared ones of `wasmhook_shared`. Generated `wit_world` types are `Any` (or, where a helper reads a
field, a small Protocol)."""

from typing import Iterable, Protocol, TypeVar

from wasmhook_shared import (
    AcceptAllSettings as AcceptAllSettings,
    fail as fail,
    log as log,
    parse_settings as parse_settings,
    settings as settings,
)

class _Entity(Protocol):
    """Who did something, or what it was done to (an `event.Entity`)."""

    @property
    def kind(self) -> str: ...

_E = TypeVar("_E", bound=_Entity)
_E_co = TypeVar("_E_co", bound=_Entity, covariant=True)

class _HasTargets(Protocol[_E_co]):
    """A System Log event (an `event.LogEvent`): its `target` entities."""

    @property
    def target(self) -> Iterable[_E_co]: ...

def targets(event: _HasTargets[_E], kind: str) -> list[_E]:
    """The event's targets (`event.target`) of `kind` (`User`, `AppInstance`, `UserGroup`, …), in order."""
