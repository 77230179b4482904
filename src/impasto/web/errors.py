"""The API's error answers, all `{"error": "one line"}`: their OpenAPI entries and the handlers that write them."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorBody(BaseModel):
    error: str  # one line


_WHY = {
    400: "Malformed request",
    401: "The server's token is missing or wrong",
    403: "A cross-site request",
    404: "No such job, sample or file",
    409: "Not in a state that allows it",
    413: "Over the upload limit",
    422: "A bad image or option",
    429: "The queue is full",
    503: "The server cannot take it now",
}


def errors(*codes: int) -> dict:
    """OpenAPI entries of the error answers a route gives, all `{"error": "one line"}`."""
    return {code: {"model": ErrorBody, "description": _WHY[code]} for code in (401, *codes)}


def shown(text: str) -> str:
    """A request's text, quoted in an error: printable and short, so the message stays one line."""
    text = "".join(c for c in text if c.isprintable())
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
    return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, status_code=422)
