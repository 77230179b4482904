from pathlib import Path

import pytest

from impasto.runtime import available_devices, cache_dir, resolve_device


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("IMPASTO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "impasto"
    monkeypatch.setenv("IMPASTO_CACHE", "~/somewhere")
    assert cache_dir() == Path.home() / "somewhere"
    assert not (tmp_path / "xdg").exists()  # reported, never created


def test_devices():
    assert available_devices()["cpu"] is True and list(available_devices()) == ["cuda", "mps", "cpu"]
    with pytest.raises(ValueError, match="device must be one of auto, cuda, mps, cpu; got 'tpu'"):
        resolve_device("tpu")


def test_tune_allocator_applies_on_glibc():
    import platform

    from impasto.runtime import tune_allocator

    assert tune_allocator() is (platform.libc_ver()[0] == "glibc")


def test_the_web_data_folder_lives_in_the_same_cache_folder(monkeypatch, tmp_path):
    from impasto.web.settings import default_data_dir

    monkeypatch.setenv("IMPASTO_CACHE", str(tmp_path / "cache"))
    assert default_data_dir() == tmp_path / "cache" / "web"
    monkeypatch.delenv("IMPASTO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == cache_dir() / "web" == tmp_path / "xdg" / "impasto" / "web"
