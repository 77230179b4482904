"""The server's gate, an ASGI middleware in front of every request:
- a request body over the upload limit is refused with 413 before it is read (by its
  Content-Length) or as soon as it passes the limit (a chunked body);
- with a token, every /api/ call but the health check needs it: an `Authorization: Bearer` header,
  or the cookie that the page gets by opening `/?token=...` once;
- a POST or DELETE from another site's page (an Origin that is not this server) is refused, so
  that no web page the user visits can start or delete jobs here;
- on loopback, a Host header that names another host is refused (DNS rebinding: a page whose
  name resolves to 127.0.0.1 would otherwise be "same origin").
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

COOKIE = "impasto_token"
_FORM_SLACK = 64 * 1024  # the form's fields and multipart boundaries, beside the files
_OPEN = ("/api/health",)


async def _answer(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": data})


def host_name(host_header: str) -> str:
    """The host of a Host header, without its port: "[::1]:8000" -> "::1", "Example:80" -> "example"."""
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return canonical_host(host)


def canonical_host(host: str) -> str:
    """An IP address in its one spelling (0:0:0:0:0:0:0:1 -> ::1); a name, lower case."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()


def human_bytes(n: int) -> str:
    return f"{n / (1 << 20):.3g} MB" if n >= 1 << 20 else f"{n / 1024:.3g} KB"


class Guard:
    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        *,
        max_body: int,
        token: str | None,
        allowed_hosts: list[str] | None = None,
    ) -> None:
        self.app, self.max_body, self.token = app, max_body + _FORM_SLACK, token
        self.allowed_hosts = None if allowed_hosts is None else {canonical_host(h) for h in allowed_hosts}
        self.too_large = f"the upload is over this server's limit of {human_bytes(max_body)} per job"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path, method = scope["path"], scope["method"]
        if self.allowed_hosts is not None and host_name(headers.get("host", "")) not in self.allowed_hosts:
            return await _answer(send, 400, {"error": "this server answers only to its own address"})
        if method in ("POST", "PUT", "PATCH", "DELETE") and not _same_origin(headers):
            return await _answer(send, 403, {"error": "cross-site requests are refused"})
        if self.token and path.startswith("/api/") and path not in _OPEN and not self._authorized(headers):
            return await _answer(
                send,
                401,
                {
                    "error": "this server needs its token: open the link that "
                    "'impasto serve' printed, or send 'Authorization: Bearer <token>'"
                },
                [(b"www-authenticate", b"Bearer")],
            )
        given = parse_qs(scope.get("query_string", b"").decode()).get("token") if method == "GET" else None
        if self.token and given and hmac.compare_digest(given[0].encode(), self.token.encode()):
            # The page's link: keep the token in a cookie, and drop it from the address bar.
            cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
            return await _answer(
                send, 303, {"redirect": path}, [(b"location", path.encode()), (b"set-cookie", cookie.encode())]
            )
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await _answer(send, 413, {"error": self.too_large})
        received, cut = 0, False

        async def counted_receive() -> Message:
            nonlocal received, cut
            if cut:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:  # stop reading: the app sees a client gone
                cut = True
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not cut:  # the app's answer to a cut-off body gives way to the 413
                await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not cut:
                raise
        if cut:
            await _answer(send, 413, {"error": self.too_large})

    def _authorized(self, headers: dict[str, str]) -> bool:
        assert self.token is not None
        given = ""
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given = value.strip()
        else:
            for part in headers.get("cookie", "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    given = value
        return hmac.compare_digest(given.encode(), self.token.encode())


def _same_origin(headers: dict[str, str]) -> bool:
    """No Origin (curl, scripts) or an Origin naming this server's own host and port."""
    origin = headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()
