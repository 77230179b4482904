"""`--manifest` rows as jobs, and `impasto batch` refusing bad input: one stderr line per problem.

Real files in tmp_path; no Ray is started (the CLI's execute and print_plan are replaced by stubs
that fail the test), except the one slow --dry-run, which calibrates with a few real steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from impasto.batch import read_manifest
from impasto.cli.app import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONTENT = EXAMPLES / "tubingen.jpg"


def _image(path: Path, size=(64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, "white").save(path)
    return path


def _read(path: Path, base: dict | None = None) -> tuple[list, list[str]]:
    problems: list[str] = []
    jobs = read_manifest(path, base=base or {}, preset="default", fmt="png", problems=problems)
    return jobs, problems


def _csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# read_manifest -------------------------------------------------------------------------------------


def test_csv_rows_become_jobs(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    manifest = _csv(
        folder / "rows.csv",
        "content,style,style_weights,size,seed,output,preset,Style-Weight",
        "photos/a.jpg,a.png;b.png,0.7;0.3,64,7,sub/a.png,classic,1e4",
        "b.jpg,c.png,,,,,,",
    )
    jobs, problems = _read(manifest, base={"size": 128, "iterations": 5})
    assert problems == [] and len(jobs) == 2
    first, second = jobs
    assert first.content == folder / "photos" / "a.jpg"
    assert first.styles == (folder / "a.png", folder / "b.png")
    assert first.output == Path("sub/a.png") and first.preset == "classic"
    assert first.options == {
        "size": 64,
        "seed": 7,
        "iterations": 5,
        "style_blend_weights": (0.7, 0.3),
        "style_weight": 1e4,
    }
    assert type(first.options["size"]) is int and type(first.options["seed"]) is int
    assert first.origin == f"{manifest}:2"
    # empty cells leave the base options and the command line's preset; the naming rule names it
    assert second.options == {"size": 128, "iterations": 5} and second.preset == "default"
    assert second.output == Path("b--c.png") and second.origin == f"{manifest}:3"


def test_jsonl_rows_become_jobs(tmp_path):
    rows = [
        {"content": "a.jpg", "style": ["s1.png", "s2.png"], "style_weights": [1, 3], "size": 96, "seed": 3},
        {"content": "b.jpg", "style": "s1.png;s2.png", "output": "b.webp", "preset": "subtle"},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows[:1]) + "\n\n" + json.dumps(rows[1]) + "\n")
    jobs, problems = _read(path)
    assert problems == [] and len(jobs) == 2
    assert jobs[0].styles == (tmp_path / "s1.png", tmp_path / "s2.png") and jobs[0].content == tmp_path / "a.jpg"
    assert jobs[0].options == {"size": 96, "seed": 3, "style_blend_weights": (1.0, 3.0)}
    assert jobs[0].output == Path("a--s1+s2.png")
    assert jobs[1].output == Path("b.webp") and jobs[1].preset == "subtle" and len(jobs[1].styles) == 2
    assert jobs[1].origin == f"{path}:3"  # the blank line 2 still counts


def test_unknown_column_is_one_problem_on_line_1(tmp_path):
    jobs, problems = _read(_csv(tmp_path / "m.csv", "content,style,x", "a.jpg,s.png,1"))
    assert jobs == [] and len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'm.csv'}:1: unknown column 'x'")


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("a.jpg,s.png,big,,", "column 'size': 'big' is not a whole number"),
        ("a.jpg,s.png,64.5,,", "column 'size': '64.5' is not a whole number"),
        ("a.jpg,s.png,,0.5;x,", "column 'style_weights': 'x' is not a number"),
        ("a.jpg,s.png,,,../up.png", "column 'output'"),
        ("a.jpg,s.png,,,/abs/up.png", "column 'output'"),
        (",s.png,,,", "column 'content' is empty"),
    ],
)
def test_bad_row_names_its_line(tmp_path, row, fragment):
    path = _csv(tmp_path / "m.csv", "content,style,size,style_weights,output", "ok.jpg,s.png,64,,", row)
    jobs, problems = _read(path)
    assert len(jobs) == 1 and jobs[0].content == tmp_path / "ok.jpg"
    assert len(problems) == 1 and problems[0].startswith(f"{path}:3: {fragment}"), problems


def test_unknown_preset_is_refused(tmp_path):
    path = _csv(tmp_path / "m.csv", "content,style,preset", "a.jpg,s.png,fast")
    jobs, problems = _read(path)
    assert jobs == [] and len(problems) == 1
    assert problems[0].startswith(f"{path}:2: column 'preset': unknown preset 'fast'")


def test_jsonl_bad_lines_are_numbered(tmp_path):
    path = tmp_path / "rows.jsonl"
    good = json.dumps({"content": "a.jpg", "style": "s.png"})
    path.write_text(f'{good}\n{{"content": "b.jpg",\n["a list"]\n{json.dumps({"content": "c.jpg", "bogus": 1})}\n')
    jobs, problems = _read(path)
    assert len(jobs) == 1 and len(problems) == 3, problems
    assert problems[0].startswith(f"{path}:2: not JSON")
    assert problems[1] == f"{path}:3: a row must be a JSON object"
    assert problems[2].startswith(f"{path}:4: unknown column 'bogus'")


def test_manifest_file_problems(tmp_path):
    assert _read(tmp_path / "m.txt")[1] == [f"manifest {tmp_path / 'm.txt'}: must be a .csv or .jsonl file"]
    assert "cannot read it" in _read(tmp_path / "gone.csv")[1][0]
    assert _read(_csv(tmp_path / "h.csv", "content,style"))[1] == [f"manifest {tmp_path / 'h.csv'}: no rows"]


def test_a_style_file_name_with_a_comma_stays_one_style(tmp_path):
    path = _csv(tmp_path / "m.csv", "content,style", 'a.jpg,"Monet, Water Lilies.jpg;b.png"')
    jobs, problems = _read(path)
    assert problems == [] and jobs[0].styles == (tmp_path / "Monet, Water Lilies.jpg", tmp_path / "b.png")


def test_an_output_with_an_unknown_extension_is_refused_before_running(tmp_path):
    from impasto.batch import check_jobs

    _image(tmp_path / "a.jpg")
    _image(tmp_path / "s.png")
    jobs, problems = _read(_csv(tmp_path / "m.csv", "content,style,output", "a.jpg,s.png,a.gif"))
    problems += check_jobs(jobs, tmp_path / "out", allow_huge=False)
    assert len(problems) == 1 and "a.gif" in problems[0]


# The CLI ------------------------------------------------------------------------------------------------


@pytest.fixture
def no_run(monkeypatch):
    """`impasto batch` past its checks would start Ray: here that fails the test instead."""

    def refuse(*args, **kwargs):
        raise AssertionError("the batch ran although its input was bad")

    monkeypatch.setattr("impasto.cli.batch.execute", refuse)
    monkeypatch.setattr("impasto.cli.batch.print_plan", refuse)


def _errors(result) -> list[str]:
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("impasto: error: ") for line in lines), result.stderr
    return lines


def test_a_style_then_a_bare_file_is_refused(tmp_path, no_run):
    a, b = _image(tmp_path / "a.png"), _image(tmp_path / "b.png")
    result = runner.invoke(app, ["batch", str(CONTENT), "--style", str(a), str(b), "-o", str(tmp_path / "out")])
    lines = _errors(result)
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert f"{b} comes after --style {a}" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_repeated_style_options_pass_the_guard(tmp_path):
    a, b = _image(tmp_path / "a.png"), _image(tmp_path / "b.png")
    argv = ["batch", str(CONTENT), "--style", str(a), "--style", str(b), "-o", str(tmp_path / "out")]
    result = runner.invoke(app, [*argv, "--size", "64", "--dry-run"])
    assert "comes after --style" not in result.stderr
    assert result.exit_code == 0, result.stderr
    assert "2 to run" in result.stdout and "tubingen--a.png" in result.stdout


def test_every_problem_at_once(tmp_path, no_run):
    _image(tmp_path / "a.jpg")
    _image(tmp_path / "s.png")
    manifest = _csv(
        tmp_path / "rows.csv",
        "content,style,size,preset,output",
        "a.jpg,s.png,64,,good.png",
        "a.jpg,s.png,big,,one.png",
        "a.jpg,s.png,64,fast,two.png",
        "gone.jpg,s.png,64,,three.png",
    )
    outdir = tmp_path / "no" / "out"
    result = runner.invoke(app, ["batch", "--manifest", str(manifest), "-o", str(outdir)])
    lines = _errors(result)
    assert result.exit_code == 2 and len(lines) == 4, result.stderr
    assert f"{manifest}:3: column 'size'" in lines[0] and f"{manifest}:4: column 'preset'" in lines[1]
    assert f"{manifest}:5: " in lines[2] and "gone.jpg: no such file" in lines[2]
    assert "parent folder does not exist" in lines[3]
    assert not (tmp_path / "no").exists()


def test_unknown_format_is_one_line(tmp_path, no_run):
    a = _image(tmp_path / "a.png")
    outdir = tmp_path / "out"
    result = runner.invoke(app, ["batch", str(CONTENT), "--style", str(a), "-o", str(outdir), "--format", "gif"])
    lines = _errors(result)
    assert result.exit_code == 2 and len(lines) == 1, result.stderr
    assert "--format gif" in lines[0]
    assert not outdir.exists() or not any(outdir.iterdir())


def test_bit_depth_16_in_jpeg_is_refused_before_running(tmp_path, no_run):
    a = _image(tmp_path / "a.png")
    argv = ["batch", str(CONTENT), "--style", str(a), "-o", str(tmp_path / "out"), "--format", "jpg"]
    result = runner.invoke(app, [*argv, "--bit-depth", "16"])
    assert result.exit_code == 2 and len(_errors(result)) == 1, result.stderr
