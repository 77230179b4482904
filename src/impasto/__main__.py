"""`python -m impasto` is the `impasto` command."""

from .cli.app import main

main()
