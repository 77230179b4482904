"""The driver's side without Ray: a finished result whose write fails is rescued, not lost."""

from __future__ import annotations

from pathlib import Path

from impasto.batch import Job, Settings, Status
from impasto.batch.engine import _Driver
from impasto.batch.record import Record


def test_a_result_that_cannot_be_written_goes_to_the_rescue_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("IMPASTO_CACHE", str(tmp_path / "cache"))
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "sub").write_text("a file where the output's folder should be")
    job = Job(tmp_path / "a.png", (tmp_path / "s.png",), Path("sub/a--s.png"), origin="a.png")
    status = Status(1)
    driver = _Driver(Record(outdir), Settings(), status, None, {})
    driver._write(job, "k" * 64, {"data": b"the painted picture", "attempt": 1})
    (result,) = status.results
    assert result.status == "failed" and "cannot write" in result.reason
    (rescued,) = (tmp_path / "cache" / "rescued").glob("a--s-*.png")
    assert f"saved to {rescued}" in result.reason and rescued.read_bytes() == b"the painted picture"
    assert not (outdir / "batch.jsonl").exists()  # not recorded as done: a rerun paints it again
