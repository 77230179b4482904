"""`impasto serve` (cli/serve.py): where it listens, its token and host names, its one-line refusals,
and a core that never imports the web framework."""

import pytest
from typer.testing import CliRunner

from impasto.cli.serve import is_loopback, listening


def test_where_the_server_listens_decides_its_token_link_and_host_names():
    local = listening("127.0.0.1", 8000, None)
    assert (local.token, local.made_token, local.url) == (None, False, "http://127.0.0.1:8000/")
    assert local.allowed_hosts == ["localhost", "127.0.0.1", "127.0.0.1"]
    six = listening("::1", 8080, "chosen-token")
    assert six.url == "http://[::1]:8080/?token=chosen-token" and "::1" in six.allowed_hosts
    assert listening("127.0.0.2", 80, None).allowed_hosts[-1] == "127.0.0.2"
    wide = listening("0.0.0.0", 8000, None)
    assert wide.made_token and len(wide.token) >= 32 and wide.allowed_hosts is None
    assert wide.url == f"http://0.0.0.0:8000/?token={wide.token}"
    assert listening("0.0.0.0", 8000, None).token != wide.token  # random each time
    assert listening("::", 8000, "chosen-token").url == "http://[::]:8000/?token=chosen-token"
    assert not is_loopback("192.168.1.5") and is_loopback("127.8.8.8") and not is_loopback("example.com")


def test_serve_refuses_bad_settings_in_one_line(tmp_path):
    import socket

    from impasto.cli.app import app

    runner = CliRunner()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.output
    assert len(result.output.strip().splitlines()) == 1  # one line, and no "serving on"
    result = runner.invoke(app, ["serve", "--data-dir", str(tmp_path / "file"), "--max-size", "16"])
    assert result.exit_code == 2 and "--max-size" in result.output


def test_serve_without_the_web_extra_says_how_to_install_it(tmp_path, monkeypatch):
    import sys

    from impasto.cli.app import app

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the web extra were not installed
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "impasto: error: impasto serve needs the web extra (uvicorn is missing): pip install 'impasto[web]'"
    )


@pytest.mark.slow  # a subprocess that imports torch
def test_the_core_never_imports_the_web_framework():
    import subprocess
    import sys

    code = (
        "import sys, impasto.api, impasto.cli.app; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'starlette', 'uvicorn') or m == 'impasto.web.app'); print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
