"""Type stubs for `wasmhook_http`: outbound HTTP from a Python rule, on the routes that grant it."""

from typing import Any, Iterable

class HttpError(Exception):
    """A request got no response: refused by the server (the message says what to change), or failed on the way."""

class Response:
    """The upstream's answer: `status`, `headers` (lower-case names and values, in order) and `body` (bytes)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
    def text(self) -> str:
        """The body as UTF-8 text (invalid bytes replaced)."""
    def json(self) -> Any:
        """The body as JSON."""

def request(method: str, url: str, headers: Iterable[tuple[str, str]] = ..., body: bytes = ...) -> Response:
    """Sends one request with `method` to `url` and reads the whole response; raises `HttpError`."""

def get(url: str, headers: Iterable[tuple[str, str]] = ...) -> Response:
    """`GET url`."""

def post_json(url: str, value: Any, headers: Iterable[tuple[str, str]] = ...) -> Response:
    """`POST url` with `value` as a JSON body."""
