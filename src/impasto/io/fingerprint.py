"""What a result depends on, as SHA-256 digests: the input files' bytes and the options.

A checkpoint is resumed, and a batch job skipped, only when these match: the same inputs (by
content, wherever they lie) and the same options.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def plain(value: Any) -> Any:
    """Options as JSON values: tuples as lists, paths as strings, dataclasses as dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def canonical(value: Any) -> str:
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"))


def fingerprint(input_digests: Iterable[str], options: Any) -> str:
    """One digest over the inputs' digests (in their order) and the options."""
    return sha256_bytes(canonical({"inputs": list(input_digests), "options": options}).encode())
