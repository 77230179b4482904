"""The version of impasto, in one place: the package and pyproject.toml read it from here."""

__version__ = "0.1.0"
