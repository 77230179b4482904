"""`impasto stylize --resume` where `--precision auto` resolves otherwise than where the checkpoint
was made (another machine): the same options, so the run goes on, with one warning line; an
explicit `--precision` other than the checkpoint's is other options, refused as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from impasto import runtime
from impasto.cli.app import app
from impasto.io import checkpoint as checkpoint_io

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONTENT, STYLE = EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg"
OPTIONS = ["--size", "64", "--start-size", "64", "--iterations", "8", "--stop-tolerance", "0", "--seed", "5"]


def _stylize(out: Path, *args: str):
    return runner.invoke(app, ["stylize", str(CONTENT), str(STYLE), "-o", str(out), *OPTIONS, *args])


@pytest.mark.slow
@pytest.mark.bf16  # where auto resolves to bf16: the other precision to resume in
def test_a_checkpoint_of_another_machines_auto_resumes_with_one_warning_line(tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    with monkeypatch.context() as patch:  # "another machine": auto resolves to fp32, stopped at step 3
        patch.setattr(runtime, "bf16_native", lambda device: False)
        real_due, calls = checkpoint_io.Periodic.due, []

        def due(self) -> bool:
            calls.append(1)
            if len(calls) == 3:
                self.request_stop()
            return real_due(self)

        patch.setattr(checkpoint_io.Periodic, "due", due)
        stopped = _stylize(out, "--precision", "auto", "--checkpoint-every", "3600")
    assert stopped.exit_code == 130, stopped.stderr
    checkpoint = tmp_path / "out.png.ckpt"
    assert checkpoint_io.load(checkpoint)["dtype"] == "fp32"

    explicit = _stylize(out, "--precision", "bf16", "--resume")  # other options: refused as before
    assert explicit.exit_code == 2 and "made with other inputs or options" in explicit.stderr

    resumed = _stylize(out, "--precision", "auto", "--resume")  # here auto is bf16
    assert resumed.exit_code == 0, resumed.stderr
    warnings = [line for line in resumed.stderr.splitlines() if line.startswith("impasto: warning:")]
    line = "resuming in bf16 from a checkpoint made in fp32: the result will not be pixel-identical to an uninterrupted run"
    assert warnings == [f"impasto: warning: {line}"]
    assert out.exists() and not checkpoint.exists()
