"""`impasto layers` (edge): the VGG19 layer names that losses can use."""

from __future__ import annotations

import typer

from ..nst.layers import LAYER_NAMES


def layers() -> None:
    """List the VGG19 layer names that losses can use."""
    typer.echo("\n".join(LAYER_NAMES))
