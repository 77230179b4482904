"""runtime.py: devices, precision, the allocator and the cache folder."""

import os
from pathlib import Path

import pytest
import torch

from impasto import runtime
from impasto.runtime import available_devices, bf16_native, cache_dir, resolve_device, resolve_precision

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


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


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_picks_the_first_available_device_in_the_order_cuda_mps_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(runtime, "available_devices", lambda: {"cuda": cuda, "mps": mps, "cpu": True})
    assert resolve_device("auto") == torch.device(expected)
    for name, present in (("cuda", cuda), ("mps", mps)):
        if present:
            assert resolve_device(name) == torch.device(name)
        else:
            with pytest.raises(ValueError, match=f"'{name}' is not available"):
                resolve_device(name)
    assert resolve_device("cpu") == torch.device("cpu")


def test_auto_is_this_machines_first_available_device():
    first = next(name for name, present in available_devices().items() if present)
    assert resolve_device("auto") == torch.device(first)
    assert available_devices()["cuda"] == torch.cuda.is_available()


def test_the_api_resolves_devices_with_the_runtime():
    from impasto import api

    assert api.resolve_device is resolve_device


@pytest.mark.parametrize("device", DEVICES)
def test_auto_precision_follows_the_hardware(device):
    dev = torch.device(device)
    if device == "cuda":
        native = torch.cuda.get_device_capability(dev)[0] >= 8
    else:  # read the CPU's flags here, independently of runtime.py
        try:
            flags = Path("/proc/cpuinfo").read_text().split()
        except OSError:
            flags = []
        cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "ALL"
        below_bf16 = cap.upper() in (
            "SSE41",
            "AVX",
            "AVX2",
            "AVX2_VNNI",
            "AVX2_VNNI_2",
            "AVX512_CORE",
            "AVX512_CORE_VNNI",
        )
        native = ("avx512_bf16" in flags or "amx_bf16" in flags) and not below_bf16
    assert bf16_native(dev) is native
    assert resolve_precision("auto", dev) == (torch.bfloat16 if native else torch.float32)
    assert resolve_precision("fp32", dev) == torch.float32 and resolve_precision("bf16", dev) == torch.bfloat16
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16; got 'fp8'"):
        resolve_precision("fp8", dev)


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


@pytest.mark.parametrize(
    ("variable", "cap", "native_if_the_cpu_has_bf16"),
    [
        ("ONEDNN_MAX_CPU_ISA", "AVX2", False),
        ("ONEDNN_MAX_CPU_ISA", "avx512_core", False),
        ("DNNL_MAX_CPU_ISA", "AVX512_CORE_VNNI", False),
        ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16", True),
        ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX", True),
        ("ONEDNN_MAX_CPU_ISA", "ALL", True),
        ("ONEDNN_MAX_CPU_ISA", "not-an-isa", True),  # oneDNN ignores it: the CPU's best
    ],
)
def test_auto_precision_follows_the_instruction_set_onednn_may_use(
    monkeypatch, variable, cap, native_if_the_cpu_has_bf16
):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv(variable, cap)
    cpu = torch.device("cpu")
    for flags, has_bf16 in (({"avx512f", "avx512_bf16"}, True), ({"amx_bf16"}, True), ({"avx2", "avx512f"}, False)):
        monkeypatch.setattr(runtime, "_cpu_flags", lambda flags=flags: flags)
        expected = has_bf16 and native_if_the_cpu_has_bf16
        assert runtime.bf16_native(cpu) is expected, (flags, cap)
        assert runtime.resolve_precision("auto", cpu) == (torch.bfloat16 if expected else torch.float32)
