"""Outbound HTTP from a Python rule, on the routes that grant it (`allowed_outbound_hosts`), over
`wasmhook:rule/http-client`: one blocking call per request.

The server decides what a request may reach, not the rule: a route without a grant refuses every
request, a granted route reaches only its listed origins (a redirect is answered as it is), each
request must finish by the call's deadline, and requests per call and response bytes are capped.
Upstream API keys are added by the server (`outbound_credentials`): the rule never holds them.

A request that gets no response raises `HttpError`, whose message says what failed and, when the
server refused it, what to change; uncaught, it becomes the rule's `err`.
"""

import json

from componentize_py_types import Err
from wit_world.imports import http_client as _http_client


class HttpError(Exception):
    """A request got no response: refused by the server, or failed on the way."""


class Response:
    """The upstream's answer: `status`, `headers` (lower-case names and values, in order) and
    `body` (bytes)."""

    def __init__(self, status: int, headers: list, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str):
        """The first value of header `name` (case-insensitive), or None."""
        name = name.lower()
        return next((value for n, value in self.headers if n == name), None)

    def text(self) -> str:
        """The body as UTF-8 text (invalid bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body as JSON."""
        return json.loads(self.body)


def request(method: str, url: str, headers=(), body: bytes = b"") -> Response:
    """Sends one request with `method` to `url` (`https://host[:port]/path?query`) and reads the
    whole response."""
    outgoing = _http_client.Request(method=method.upper(), url=url, headers=list(headers), body=body)
    try:
        response = _http_client.send(outgoing)
    except Err as error:
        raise HttpError(error.value) from None
    return Response(response.status, response.headers, bytes(response.body))


def get(url: str, headers=()) -> Response:
    """`GET url`."""
    return request("GET", url, headers)


def post_json(url: str, value, headers=()) -> Response:
    """`POST url` with `value` as a JSON body."""
    headers = [("content-type", "application/json"), *headers]
    return request("POST", url, headers, json.dumps(value).encode())
