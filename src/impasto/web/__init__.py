"""The web page (edge): `impasto serve`, a FastAPI app with a static page and a job queue.

Installed with the web extra: `pip install 'impasto[web]'`. May import api, config, io and runtime;
never cli. Nothing here is imported by the core.
"""
