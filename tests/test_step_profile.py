"""benchmarks/step_profile.py: its grouping of ATen ops still matches what this torch runs."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import step_profile


@pytest.mark.slow  # a real optimization of six steps under the profiler
def test_every_kind_of_work_is_found_and_the_floors_follow_from_it(monkeypatch):
    import torch

    profilers = []  # the one profile_steps makes, kept for its calls per op
    profile = torch.profiler.profile

    def kept(*args, **kwargs):
        profilers.append(profile(*args, **kwargs))
        return profilers[-1]

    monkeypatch.setattr(torch.profiler, "profile", kept)
    totals, step, steps = step_profile.profile_steps(64, iterations=6, warmup=3)
    assert steps == 3 and step > 0
    # Each named kind must catch its ops: a renamed op would fall into "everything else" and the
    # floors would be wrong without a sign.
    for kind in step_profile.KINDS:
        if kind != "fills":  # zeroed buffers depend on the allocator's mood, not on the model
            assert totals[kind] > 0, kind
    # Counted in calls, not in time (which kind is slower depends on the CPU: AMX convolutions are
    # much faster): every convolution the model ran went through a kernel of each convolution kind,
    # so none of them hides in "everything else".
    calls = {event.key: event.count for event in profilers[0].key_averages()}
    convolutions = calls["aten::convolution"]  # the one entry of every conv2d, forward

    def caught(kind: str) -> int:
        return sum(calls.get(op, 0) for op in step_profile.KINDS[kind])

    assert convolutions > 0 and caught("convolutions, forward") == convolutions
    assert caught("convolutions, backward") >= convolutions
    # The report's figures are the totals': one row per kind, shares that add up, and the floors.
    text = step_profile.report(totals, step, steps, 64, pastiche_step=2.0)
    profiled = sum(totals.values())
    assert f"{profiled * 1e3:.0f} ms inside ATen ops, per step over {steps} profiled steps" in text
    for kind, seconds in totals.items():
        assert f"| {kind} | {seconds * 1e3:.1f} | {100 * seconds / profiled:.1f} % |" in text
    shares = [float(line.split("|")[3].strip(" %")) for line in text.splitlines() if line.endswith(" % |")]
    assert len(shares) == len(totals) and sum(shares) == pytest.approx(100, abs=0.1 * len(shares))
    conv = sum(totals[k] for k in step_profile.CONV_KINDS)
    assert f"| now (profiled) | {profiled:.3f} | {profiled / 2.0:.3f} |" in text
    assert f"| the convolutions | {conv:.3f} | {conv / 2.0:.3f} |" in text
    gram = conv + totals[step_profile.GRAM_KIND]
    assert f"| the convolutions and the fp32 Gram sums | {gram:.3f} | {gram / 2.0:.3f} |" in text


def test_warmup_below_three_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        step_profile.main(["--warmup", "2"])
    assert exit_info.value.code == 2
    assert "--warmup must be at least 3" in capsys.readouterr().err


def test_a_bench_json_without_pastiche_is_refused_in_one_line(tmp_path, capsys):
    bench = tmp_path / "bench.json"
    bench.write_text('{"peak": {}, "engine": [], "pastiche": null}')  # what speed.py --no-pastiche writes
    with pytest.raises(SystemExit) as exit_info:
        step_profile.main(["--bench", str(bench)])
    assert exit_info.value.code == 2
    assert f"{bench} has no side-by-side pastiche figures; give --pastiche-step" in capsys.readouterr().err
