"""impasto.batch without Ray: inputs found (expand), outputs named (grid), jobs checked, the record.

Real files in tmp_path, no optimization run, no Ray started: each test takes milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from imagefiles import png_claiming_size
from PIL import Image

from impasto.batch import Job, check_jobs, check_outdir, duplicates, expand, grid
from impasto.batch.jobs import Source, output_name
from impasto.batch.record import LOCK, Record, input_digests, job_key, locked


def _image(path: Path, size=(64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, "white").save(path)
    return path


# expand: files, folders and globs -------------------------------------------------------------


def test_expand_file_folder_and_glob(tmp_path):
    one = _image(tmp_path / "one.png")
    folder = tmp_path / "photos"
    for name in ("b.jpg", "a.png", "c.webp"):
        _image(folder / name)
    (folder / "notes.txt").write_text("not an image")
    _image(folder / "sub" / "deep.png")
    problems: list[str] = []

    found = expand([str(one)], recursive=False, what="content", problems=problems)
    assert [s.path for s in found] == [one]

    found = expand([str(folder)], recursive=False, what="content", problems=problems)
    assert [s.path.name for s in found] == ["a.png", "b.jpg", "c.webp"]  # sorted, no .txt, no sub/
    assert all(s.root == folder for s in found)

    found = expand([str(folder)], recursive=True, what="content", problems=problems)
    assert [s.path.relative_to(folder).as_posix() for s in found] == ["a.png", "b.jpg", "c.webp", "sub/deep.png"]

    found = expand([str(folder / "*.*g")], recursive=False, what="style", problems=problems)
    assert [s.path.name for s in found] == ["a.png", "b.jpg"]
    assert problems == []


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [("gone.jpg", "no such file or folder"), ("empty", "no images in it"), ("nothing*.png", "matches no file")],
)
def test_expand_problem_names_the_spec(tmp_path, spec, fragment):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no pictures here")
    problems: list[str] = []
    assert expand([str(tmp_path / spec)], recursive=True, what="style", problems=problems) == []
    assert len(problems) == 1, problems
    assert str(tmp_path / spec) in problems[0] and fragment in problems[0]


# The naming rule -------------------------------------------------------------------------------


def test_grid_names_every_content_by_every_style(tmp_path):
    contents = [Source(tmp_path / "x.jpg", tmp_path), Source(tmp_path / "y.png", tmp_path)]
    styles = [Source(tmp_path / "s1.jpg", tmp_path), Source(tmp_path / "s2.png", tmp_path)]
    jobs = grid(contents, styles, fmt="webp", blend=False, keep_tree=False, options={"size": 64}, preset="subtle")
    names = [j.output.as_posix() for j in jobs]
    assert names == ["x--s1.webp", "x--s2.webp", "y--s1.webp", "y--s2.webp"]
    assert jobs[1].styles == (tmp_path / "s2.png",) and jobs[1].content == tmp_path / "x.jpg"
    assert all(j.options == {"size": 64} and j.preset == "subtle" for j in jobs)
    assert duplicates(jobs) == []

    blended = grid(contents, styles, fmt="png", blend=True, keep_tree=False, options={}, preset="default")
    assert [j.output.as_posix() for j in blended] == ["x--s1+s2.png", "y--s1+s2.png"]
    assert blended[0].styles == (tmp_path / "s1.jpg", tmp_path / "s2.png")


def test_keep_tree_mirrors_the_folders_and_without_it_they_collide(tmp_path):
    photos = tmp_path / "photos"
    _image(photos / "cats" / "x.jpg")
    _image(photos / "dogs" / "x.jpg")
    style = _image(tmp_path / "s.png")
    problems: list[str] = []
    contents = expand([str(photos)], recursive=True, what="content", problems=problems)
    styles = expand([str(style)], recursive=False, what="style", problems=problems)
    assert problems == []

    kept = grid(contents, styles, fmt="png", blend=False, keep_tree=True, options={}, preset="default")
    assert [j.output.as_posix() for j in kept] == ["cats/x--s.png", "dogs/x--s.png"]
    assert duplicates(kept) == []

    flat = grid(contents, styles, fmt="png", blend=False, keep_tree=False, options={}, preset="default")
    assert [j.output.as_posix() for j in flat] == ["x--s.png", "x--s.png"]
    clash = duplicates(flat)
    assert len(clash) == 1 and "x--s.png" in clash[0] and "--keep-tree" in clash[0]


def test_keep_tree_under_a_glob_is_relative_to_the_folder_before_the_wildcard(tmp_path):
    _image(tmp_path / "photos" / "cats" / "x.jpg")
    problems: list[str] = []
    found = expand([str(tmp_path / "photos" / "**" / "*.jpg")], recursive=True, what="content", problems=problems)
    assert problems == [] and len(found) == 1
    name = output_name(found[0], [Path("s.png")], "jpg", keep_tree=True)
    assert name.as_posix() == "cats/x--s.jpg"


# check_jobs and check_outdir: one line per problem, naming where it came from -------------------


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    (tmp / "empty.png").touch()
    (tmp / "notes.png").write_text("these are not pixels\n")
    return {
        "missing": tmp / "gone.png",
        "zero_bytes": tmp / "empty.png",
        "text": tmp / "notes.png",
        "tiny": _image(tmp / "tiny.png", (20, 20)),
        "bomb": png_claiming_size(tmp / "bomb.png", 20000, 20000),
    }


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("missing", "gone.png: no such file"),
        ("zero_bytes", "empty.png: the file is empty"),
        ("text", "notes.png: not an image Pillow can read"),
        ("tiny", "tiny.png: 20x20 px; VGG19 needs at least 32"),
        ("bomb", "bomb.png: over Pillow's pixel limit"),
    ],
)
def test_check_jobs_bad_input_is_one_line(tmp_path, case, fragment):
    style = _image(tmp_path / "style.png")
    job = Job(_bad_inputs(tmp_path)[case], (style,), Path("out.png"), origin="rows.csv:7")
    problems = check_jobs([job, job], tmp_path / "out", allow_huge=False)  # each header read once
    assert len(problems) == 1, problems
    assert problems[0].startswith("rows.csv:7: ") and fragment in problems[0]


def test_check_jobs_bad_options_and_good_job(tmp_path):
    content, style = _image(tmp_path / "c.png"), _image(tmp_path / "s.png")
    good = Job(content, (style,), Path("c--s.png"), {"size": 64}, origin="good")
    assert check_jobs([good], tmp_path / "out", allow_huge=False) == []
    small = Job(content, (style,), Path("c--s.png"), {"size": 16}, origin="row 3")
    problems = check_jobs([small], tmp_path / "out", allow_huge=False)
    assert len(problems) == 1 and problems[0].startswith("row 3: ") and "size must be >= 32" in problems[0]
    weights = Job(content, (style,), Path("c--s.png"), {"style_blend_weights": (0.5, 0.5)}, origin="row 4")
    assert len(check_jobs([weights], tmp_path / "out", allow_huge=False)) == 1
    onto_input = Job(content, (style,), Path("c.png"), origin="row 5")
    problems = check_jobs([onto_input], tmp_path, allow_huge=False)
    assert len(problems) == 1 and "is one of its inputs" in problems[0]


def test_check_outdir(tmp_path):
    problems = check_outdir(tmp_path / "no" / "out")
    assert len(problems) == 1 and "parent folder does not exist" in problems[0]
    assert not (tmp_path / "no").exists()
    assert check_outdir(tmp_path / "out") == [] and (tmp_path / "out").is_dir()
    assert list((tmp_path / "out").iterdir()) == []  # the write probe leaves nothing behind
    (tmp_path / "file").write_text("x")
    assert len(check_outdir(tmp_path / "file")) == 1


# The record: batch.jsonl, keys, the lock, temp files ---------------------------------------------


def _job(tmp: Path, **options) -> Job:
    return Job(tmp / "c.png", (tmp / "s.png",), Path("c--s.png"), options, origin="c.png")


def test_job_key_follows_options_and_input_bytes(tmp_path):
    _image(tmp_path / "c.png")
    _image(tmp_path / "s.png")
    job = _job(tmp_path, size=64, seed=1)
    key = job_key(job, input_digests([job]))
    assert key == job_key(_job(tmp_path, size=64, seed=1), input_digests([job]))  # nothing changed
    assert key != job_key(_job(tmp_path, size=64, seed=2), input_digests([job]))
    assert key != job_key(_job(tmp_path, size=64), input_digests([job]))
    other = Job(job.content, job.styles, job.output, job.options, preset="classic")
    assert key != job_key(other, input_digests([other]))
    Image.new("RGB", (64, 48), "black").save(tmp_path / "s.png")
    assert key != job_key(job, input_digests([job]))


def test_record_round_trip_ignores_a_torn_line(tmp_path):
    record = Record(tmp_path)
    assert record.entries() == {}
    record.append({"key": "k1", "output_sha256": "aa"})
    record.append({"key": "k2", "output_sha256": "bb"})
    record.append({"key": "k1", "output_sha256": "cc"})  # the last line of a key wins
    with open(record.path, "a", encoding="utf-8") as f:
        f.write('{"key": "k3", "output_sha2')  # a killed append
    entries = record.entries()
    assert set(entries) == {"k1", "k2"} and entries["k1"]["output_sha256"] == "cc"


def test_record_done_needs_the_recorded_output_bytes(tmp_path):
    from impasto.io.fingerprint import sha256_file

    record, output = Record(tmp_path), tmp_path / "c--s.png"
    _image(output)
    record.append({"key": "k", "output_sha256": sha256_file(output)})
    entries = record.entries()
    assert record.done("k", output, entries)
    assert not record.done("other", output, entries)
    Image.new("RGB", (64, 48), "red").save(output)
    assert not record.done("k", output, entries)
    output.unlink()
    assert not record.done("k", output, entries)


def test_locked_refuses_a_second_holder_in_this_process(tmp_path):
    with locked(tmp_path):
        assert (tmp_path / LOCK).read_text() == str(os.getpid())
        with pytest.raises(ValueError, match="another impasto batch") as err, locked(tmp_path):
            pass
        assert f"pid {os.getpid()}" in str(err.value)
    with locked(tmp_path):  # released at the end of the block
        pass


def test_locked_refuses_while_another_process_holds_it(tmp_path):
    holder = "import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
    holder += "fcntl.flock(fd, fcntl.LOCK_EX)\nos.write(fd, str(os.getpid()).encode())\nprint('held', flush=True)\n"
    holder += "sys.stdin.read()"
    args = [sys.executable, "-c", holder, str(tmp_path / LOCK)]
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as other:
        assert other.stdout.readline() == "held\n"
        with pytest.raises(ValueError, match=f"another impasto batch \\(pid {other.pid}\\)"), locked(tmp_path):
            pass
        other.stdin.close()
    with locked(tmp_path):  # the holder's death released it
        pass


def test_sweep_removes_temp_files_everywhere(tmp_path):
    (tmp_path / "sub" / ".impasto-checkpoints").mkdir(parents=True)
    temps = [tmp_path / ".impasto-abc.tmp", tmp_path / "sub" / ".impasto-x1.tmp"]
    temps.append(tmp_path / "sub" / ".impasto-checkpoints" / ".impasto-y.tmp")
    keep = [tmp_path / "x--s.png", tmp_path / "impasto-abc.tmp", tmp_path / ".impasto-abc.tmpx"]
    for path in temps + keep:
        path.write_bytes(b"x")
    assert Record(tmp_path).sweep() == 3
    assert not any(p.exists() for p in temps) and all(p.exists() for p in keep)
    assert Record(tmp_path).sweep() == 0
