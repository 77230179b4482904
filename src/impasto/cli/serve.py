"""`impasto serve` (edge): the web page on uvicorn, with its limits, data folder and token."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import socket
from pathlib import Path

import typer

from ..config import MIN_SIZE
from ..web.settings import MB, ServerSettings, default_data_dir
from .errors import EXIT_BAD_INPUT, fail

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ServerSettings)}  # defaults live in settings.py
_LOOPBACK_NAMES = ("localhost", "127.0.0.1")


@dataclasses.dataclass(frozen=True)
class Listening:
    """How the server presents itself on `host`: its token, the link to open, the Host names it answers."""

    token: str | None
    made_token: bool  # a random one, since the server is reachable beyond this machine
    url: str
    allowed_hosts: list[str] | None  # None: any (off loopback the token guards it)


def listening(host: str, port: int, token: str | None) -> Listening:
    loopback = is_loopback(host)
    made = not loopback and not token
    token = secrets.token_urlsafe(24) if made else token
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    return Listening(token, made, url, [*_LOOPBACK_NAMES, host] if loopback else None)


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a taken port is a one-line error rather than uvicorn's log
    lines later, and uvicorn serves on this very socket, so nothing can take the port between."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        fail(f"cannot listen on {host}:{port} ({err.strerror or err})")
    return sock


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on. Anything but loopback needs a token."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    data_dir: Path | None = typer.Option(
        None, help="Folder of jobs and results \\[default: the user cache folder, e.g. ~/.cache/impasto/web]."
    ),
    token: str | None = typer.Option(
        None,
        envvar="IMPASTO_TOKEN",
        help="Bearer token every API call needs "
        "(also from $IMPASTO_TOKEN). Off loopback, a random one is made if none is given.",
    ),
    max_upload_mb: float = typer.Option(
        _DEFAULTS["max_upload_bytes"] / MB, min=0.1, help="Upload limit per job, all images together, in MB."
    ),
    max_pixels: int = typer.Option(_DEFAULTS["max_pixels"], min=1, help="Pixel limit per input image."),
    max_size: int = typer.Option(_DEFAULTS["max_size"], min=MIN_SIZE, help="Largest result, long side in px."),
    max_queue: int = typer.Option(_DEFAULTS["max_queue"], min=1, help="Jobs that may wait in the queue."),
) -> None:
    """Serve the web page: upload a photo and paintings, watch it paint live, download the result.

    Needs the web extra: pip install 'impasto\\[web]'. The API's documentation is at /docs.
    """
    try:
        import uvicorn

        from ..web.app import create_app
    except ImportError as err:
        fail(f"impasto serve needs the web extra ({err.name} is missing): pip install 'impasto[web]'")
    from ..runtime import tune_allocator
    from .run import setup_logging

    setup_logging(quiet=False, debug=False)
    tune_allocator()
    where = listening(host, port, token)
    try:
        folder = (data_dir or default_data_dir()).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"data folder {folder} is not writable")
        settings = ServerSettings(
            data_dir=folder,
            max_upload_bytes=int(max_upload_mb * MB),
            max_pixels=max_pixels,
            max_size=max_size,
            max_queue=max_queue,
            token=where.token,
        )
    except OSError as err:
        fail(f"data folder {data_dir or default_data_dir()}: {err.strerror or err}")
    except ValueError as err:
        fail(str(err))
    with _bind(host, port) as sock:
        if where.allowed_hosts is None:
            typer.echo(
                f"impasto: warning: listening on {host}, beyond this machine: anyone who can reach it "
                "and has the token can run jobs"
                + (" (a random token was made; pass --token to choose one)" if where.made_token else ""),
                err=True,
            )
        typer.echo(f"impasto: serving on {where.url}  (data in {folder}; Ctrl-C stops)", err=True)
        app = create_app(settings, allowed_hosts=where.allowed_hosts)
        server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
        )
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn hands Ctrl-C back once it has shut down, as uvicorn.run takes it
            pass
    if not server.started:  # as uvicorn.run, which exits 1 when the server could not start
        raise typer.Exit(EXIT_BAD_INPUT)
