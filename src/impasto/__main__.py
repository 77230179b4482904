"""`python -m impasto` is the `impasto` command."""

from .cli import main

main()
